// Expressions, functions, aggregates with FILTER, DISTINCT ON and window functions: the SQL they
// render and what the server returns for them on a small data set.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "support/db.hpp"

using namespace pgorm;

namespace fntest {

enum class Side { home, away };

struct Play : Model<Play> {
  std::string player;
  std::string team;
  std::int32_t points = 0;
  std::optional<std::int32_t> bonus;
  std::int16_t fouls = 0;
  double ratio = 0;
  bool won = false;
  std::optional<std::string> note;
  Timestamp played_at{};
  static constexpr auto columns =
      pgorm::columns(column<&Play::player>(), column<&Play::team>(), column<&Play::points>(),
                     column<&Play::bonus>(), column<&Play::fouls>(), column<&Play::ratio>(),
                     column<&Play::won>(), column<&Play::note>(), column<&Play::played_at>());
};

// Five plays in two teams; bonus and note are NULL in some rows.
struct Plays {
  test::TestSchema db;
  Engine engine;
  Plays() : engine(make()) {}
  Engine make() {
    Metadata::of<Play>().create_all(db.conn());
    db.conn().execute_script(R"sql(
      INSERT INTO plays (player, team, points, bonus, fouls, ratio, won, note, played_at) VALUES
        ('ann', 'red', 10, 2, 1, 0.5, true, 'mvp', '2026-01-05 10:30:00+00'),
        ('bob', 'red', 7, NULL, 3, 0.25, false, NULL, '2026-01-05 12:00:00+00'),
        ('cat', 'red', 7, 1, 0, 1.5, true, NULL, '2026-02-10 08:00:00+00'),
        ('dan', 'blue', 3, NULL, 2, 0.0, false, 'late', '2026-02-11 09:15:00+00'),
        ('eve', 'blue', 12, 5, 4, 2.0, true, NULL, '2026-03-01 23:59:00+00');
    )sql");
    return Engine(db.conninfo());
  }
  Session session() { return Session(engine); }
};

}  // namespace fntest

using fntest::Play;
using fntest::Plays;

namespace {
using Strings = std::vector<std::string>;
}  // namespace

// ---- arithmetic ----

TEST_CASE("arithmetic renders with typed bind parameters", "[unit][query]") {
  auto q = select(col<&Play::points> + col<&Play::points> * 2, col<&Play::ratio> / 2.0,
                  col<&Play::points> % 3);
  CHECK(q.statement().sql ==
        "SELECT (\"plays\".\"points\" + (\"plays\".\"points\" * $1::integer)), "
        "(\"plays\".\"ratio\" / $2::double precision), (\"plays\".\"points\" % $3::integer) "
        "FROM \"plays\"");
  REQUIRE(q.statement().params.size() == 3);
  CHECK(std::string(q.statement().params.value(0)) == "2");
  // A value on the left.
  CHECK(select(100 - col<&Play::points>).statement().sql ==
        "SELECT ($1::integer - \"plays\".\"points\") FROM \"plays\"");
}

TEST_CASE("arithmetic computes on the server, NULL where an operand is NULL", "[query]") {
  Plays fx;
  auto s = fx.session();
  using Row = std::tuple<std::int32_t, std::optional<std::int32_t>, double, std::int32_t>;
  auto rows = s.values(select(col<&Play::points> * 2 + 1, col<&Play::points> + col<&Play::bonus>,
                              col<&Play::ratio> * 4.0, col<&Play::points> % 4)
                           .order_by(col<&Play::player>));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == Row{21, 12, 2.0, 2});
  CHECK(rows[1] == Row{15, std::nullopt, 1.0, 3});
  CHECK(rows[3] == Row{7, std::nullopt, 0.0, 3});
  // Integer division truncates; an int literal against a smallint column is checked, not refused.
  CHECK(s.values(select(col<&Play::points> / 4).order_by(col<&Play::player>)) ==
        std::vector<std::int32_t>{2, 1, 1, 0, 3});
  CHECK(s.values(select(col<&Play::fouls> + 1).order_by(col<&Play::player>)) ==
        std::vector<std::int16_t>{2, 4, 1, 3, 5});
  // In WHERE.
  CHECK(s.count(select<Play>().where(col<&Play::points> - cast<std::int32_t>(col<&Play::fouls>) >
                                     5)) == 3);
  // In UPDATE ... SET: points = points + bonus, a NULL bonus counted as 0.
  s.execute(update<Play>()
                .set(col<&Play::points>, col<&Play::points> + coalesce(col<&Play::bonus>, 0))
                .all_rows());
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT sum(points) FROM plays") == 39 + 8);
}

TEST_CASE("a value that does not fit the expression's type is refused before the query",
          "[query]") {
  Plays fx;
  auto s = fx.session();
  CHECK_THROWS_AS(s.execute(update<Play>()
                                .set(col<&Play::points>, col<&Play::points> + 1)
                                .where(col<&Play::fouls> + 100000 > col<&Play::fouls>)),
                  DataError);
  CHECK(fx.db.scalar<std::int64_t>("SELECT sum(points) FROM plays") == 39);
}

TEST_CASE("division by zero is a DataError from the server", "[query]") {
  Plays fx;
  auto s = fx.session();
  CHECK_THROWS_AS(s.values(select(col<&Play::points> / 0)), DataError);
}

// ---- text, coalesce, nullif, cast ----

TEST_CASE("concat, coalesce, nullif and cast render as function calls", "[unit][query]") {
  CHECK(select(concat(col<&Play::player>, "@", col<&Play::team>)).statement().sql ==
        "SELECT concat(\"plays\".\"player\", $1::text, \"plays\".\"team\") FROM \"plays\"");
  CHECK(select(coalesce(col<&Play::bonus>, 0)).statement().sql ==
        "SELECT coalesce(\"plays\".\"bonus\", $1::integer) FROM \"plays\"");
  CHECK(select(nullif(col<&Play::note>, "")).statement().sql ==
        "SELECT nullif(\"plays\".\"note\", $1::text) FROM \"plays\"");
  CHECK(select(cast<std::int64_t>(col<&Play::points>), cast<std::string>(col<&Play::ratio>))
            .statement()
            .sql ==
        "SELECT CAST(\"plays\".\"points\" AS bigint), CAST(\"plays\".\"ratio\" AS "
        "text) FROM \"plays\"");
  // Result types: non-optional when a fallback cannot be NULL.
  STATIC_REQUIRE(
      std::is_same_v<decltype(select(coalesce(col<&Play::bonus>, 0)))::row_type, std::int32_t>);
  STATIC_REQUIRE(
      std::is_same_v<decltype(select(coalesce(col<&Play::bonus>, col<&Play::bonus>)))::row_type,
                     std::optional<std::int32_t>>);
  STATIC_REQUIRE(std::is_same_v<decltype(select(nullif(col<&Play::points>, 0)))::row_type,
                                std::optional<std::int32_t>>);
  STATIC_REQUIRE(std::is_same_v<decltype(select(cast<double>(col<&Play::bonus>)))::row_type,
                                std::optional<double>>);
}

TEST_CASE("concat, coalesce, nullif and cast return the server's values", "[query]") {
  Plays fx;
  auto s = fx.session();
  CHECK(
      s.values(
          select(concat(col<&Play::player>, "/", col<&Play::note>)).order_by(col<&Play::player>)) ==
      Strings{"ann/mvp", "bob/", "cat/", "dan/late", "eve/"});
  CHECK(s.values(select(coalesce(col<&Play::bonus>, -1)).order_by(col<&Play::player>)) ==
        std::vector<std::int32_t>{2, -1, 1, -1, 5});
  CHECK(
      s.values(select(coalesce(col<&Play::note>, col<&Play::team>)).order_by(col<&Play::player>)) ==
      Strings{"mvp", "red", "red", "late", "blue"});
  CHECK(s.values(select(nullif(col<&Play::points>, 7)).order_by(col<&Play::player>)) ==
        std::vector<std::optional<std::int32_t>>{10, std::nullopt, std::nullopt, 3, 12});
  CHECK(s.values(select(cast<std::string>(col<&Play::points>)).order_by(col<&Play::player>)) ==
        Strings{"10", "7", "7", "3", "12"});
  CHECK(s.values(select(cast<std::int64_t>(col<&Play::bonus>)).order_by(col<&Play::player>)) ==
        std::vector<std::optional<std::int64_t>>{2, std::nullopt, 1, std::nullopt, 5});
  CHECK(s.count(select<Play>().where(coalesce(col<&Play::bonus>, 0) >= 2)) == 2);
}

// ---- CASE ----

TEST_CASE("case_when renders CASE WHEN with typed values", "[unit][query]") {
  auto q = select(case_when(col<&Play::points> >= 10, "high")
                      .when(col<&Play::points> >= 5, "mid")
                      .else_("low"));
  CHECK(q.statement().sql ==
        "SELECT CASE WHEN (\"plays\".\"points\" >= $1) THEN $2::text WHEN (\"plays\".\"points\" "
        ">= $3) THEN $4::text ELSE $5::text END FROM \"plays\"");
  STATIC_REQUIRE(std::is_same_v<decltype(q)::row_type, std::string>);
  STATIC_REQUIRE(
      std::is_same_v<decltype(select(case_when(col<&Play::won>, col<&Play::points>)))::row_type,
                     std::optional<std::int32_t>>);
}

TEST_CASE("case_when picks the first matching branch, NULL without else_", "[query]") {
  Plays fx;
  auto s = fx.session();
  CHECK(s.values(select(case_when(col<&Play::points> >= 10, "high")
                            .when(col<&Play::points> >= 5, "mid")
                            .else_("low"))
                     .order_by(col<&Play::player>)) ==
        Strings{"high", "mid", "mid", "low", "high"});
  CHECK(s.values(
            select(case_when(col<&Play::won>, col<&Play::points>)).order_by(col<&Play::player>)) ==
        std::vector<std::optional<std::int32_t>>{10, std::nullopt, 7, std::nullopt, 12});
  // A branch that may be NULL makes the result optional even with else_.
  CHECK(s.values(select(case_when(col<&Play::won>, col<&Play::bonus>).else_(0))
                     .order_by(col<&Play::player>)) ==
        std::vector<std::optional<std::int32_t>>{2, 0, 1, 0, 5});
}

// ---- functions ----

TEST_CASE("func calls a named function with bound arguments", "[unit][query]") {
  auto q = select(func<std::string>("initcap", col<&Play::player>),
                  func<std::optional<std::string>>("pg_catalog.left", col<&Play::note>, 2));
  CHECK(q.statement().sql ==
        "SELECT initcap(\"plays\".\"player\"), pg_catalog.left(\"plays\".\"note\", $1::integer) "
        "FROM \"plays\"");
  STATIC_REQUIRE(
      std::is_same_v<decltype(q)::row_type, std::tuple<std::string, std::optional<std::string>>>);
}

TEST_CASE("func refuses a name that is not an identifier", "[query]") {
  Plays fx;
  auto s = fx.session();
  CHECK_THROWS_AS(
      s.values(select(func<std::int32_t>("abs(1); DROP TABLE plays; --", col<&Play::points>))),
      ProgrammingError);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM plays") == 5);
  CHECK_THROWS_AS(func<std::int32_t>("a.b.c", col<&Play::points>), ProgrammingError);
  CHECK_THROWS_AS(func<std::int32_t>("\"abs\"", col<&Play::points>), ProgrammingError);
  CHECK_THROWS_AS(func<std::int32_t>("", col<&Play::points>), ProgrammingError);
  CHECK_THROWS_AS(func<std::int32_t>("1abs", col<&Play::points>), ProgrammingError);
  CHECK_NOTHROW(func<std::int32_t>("pg_catalog.abs", col<&Play::points>));
}

TEST_CASE("text, time and comparison functions return typed values", "[query]") {
  Plays fx;
  auto s = fx.session();
  auto by_player = [](auto q) { return q.order_by(col<&Play::player>); };
  CHECK(s.values(by_player(select(upper(col<&Play::player>)))) ==
        Strings{"ANN", "BOB", "CAT", "DAN", "EVE"});
  CHECK(s.values(by_player(select(lower(concat(col<&Play::team>, "X"))))) ==
        Strings{"redx", "redx", "redx", "bluex", "bluex"});
  CHECK(s.values(by_player(select(length(col<&Play::note>)))) ==
        std::vector<std::optional<std::int32_t>>{3, std::nullopt, std::nullopt, 4, std::nullopt});
  CHECK(s.values(by_player(select(func<std::string>("initcap", col<&Play::player>)))) ==
        Strings{"Ann", "Bob", "Cat", "Dan", "Eve"});
  CHECK(s.values(by_player(select(func<std::int32_t>("abs", 0 - col<&Play::points>)))) ==
        std::vector<std::int32_t>{10, 7, 7, 3, 12});
  CHECK(s.values(by_player(select(greatest(col<&Play::points>, 8)))) ==
        std::vector<std::int32_t>{10, 8, 8, 8, 12});
  CHECK(s.values(by_player(select(least(col<&Play::bonus>, col<&Play::bonus>)))) ==
        std::vector<std::optional<std::int32_t>>{2, std::nullopt, 1, std::nullopt, 5});
  // greatest ignores NULLs: one non-NULL argument is enough.
  CHECK(s.values(by_player(select(greatest(col<&Play::bonus>, col<&Play::points>)))) ==
        std::vector<std::int32_t>{10, 7, 7, 3, 12});

  auto months = s.values(by_player(select(extract(DatePart::month, col<&Play::played_at>))));
  REQUIRE(months.size() == 5);
  CHECK(months[0].to_double() == 1.0);
  CHECK(months[4].to_double() == 3.0);
  auto days = s.values(by_player(select(date_trunc(DatePart::day, col<&Play::played_at>))));
  REQUIRE(days.size() == 5);
  CHECK(days[0] == days[1]);  // both on 2026-01-05
  CHECK(days[0] != days[2]);
  CHECK(s.count(select<Play>().where(date_trunc(DatePart::month, col<&Play::played_at>) ==
                                         date_trunc(DatePart::month, col<&Play::played_at>) &&
                                     col<&Play::played_at> < sql_now())) == 5);
  CHECK(select(date_trunc(DatePart::day, col<&Play::played_at>), sql_now()).statement().sql ==
        "SELECT date_trunc('day', \"plays\".\"played_at\"), now() FROM \"plays\"");
  CHECK(select(extract(DatePart::year, col<&Play::played_at>)).statement().sql ==
        "SELECT EXTRACT(year FROM \"plays\".\"played_at\") FROM \"plays\"");
}

// ---- aggregates, FILTER, DISTINCT ON ----

TEST_CASE("aggregates take FILTER and ORDER BY inside the call", "[unit][query]") {
  auto q = select(col<&Play::team>, count().filter(col<&Play::won> == true),
                  string_agg(col<&Play::player>, ", ").order_by(col<&Play::player>.desc()))
               .group_by(col<&Play::team>);
  CHECK(q.statement().sql ==
        "SELECT \"plays\".\"team\", count(*) FILTER (WHERE (\"plays\".\"won\" = $1)), "
        "string_agg(\"plays\".\"player\", $2::text ORDER BY \"plays\".\"player\" DESC) FROM "
        "\"plays\" GROUP BY \"plays\".\"team\"");
  CHECK(
      select(sum(col<&Play::points>).filter(col<&Play::won> == true).filter(col<&Play::fouls> > 0))
          .statement()
          .sql ==
      "SELECT sum(\"plays\".\"points\") FILTER (WHERE (\"plays\".\"won\" = $1) AND "
      "(\"plays\".\"fouls\" > $2)) FROM \"plays\"");
  CHECK(select(col<&Play::team>)
            .distinct_on(col<&Play::team>)
            .order_by(col<&Play::team>, col<&Play::points>.desc())
            .statement()
            .sql ==
        "SELECT DISTINCT ON (\"plays\".\"team\") \"plays\".\"team\" FROM \"plays\" "
        "ORDER BY \"plays\".\"team\", \"plays\".\"points\" DESC");
}

TEST_CASE("group_by with filtered and collecting aggregates reads each group", "[query]") {
  Plays fx;
  auto s = fx.session();
  using Row = std::tuple<std::string, std::int64_t, std::int64_t, std::optional<std::int64_t>,
                         std::optional<std::string>, std::optional<bool>, std::optional<bool>,
                         std::optional<std::vector<std::int32_t>>>;
  auto rows = s.values(select(col<&Play::team>, count(), count().filter(col<&Play::won> == true),
                              sum(col<&Play::points>).filter(col<&Play::won> == false),
                              string_agg(col<&Play::player>, ",").order_by(col<&Play::player>),
                              bool_and(col<&Play::won>), bool_or(col<&Play::won>),
                              array_agg(col<&Play::points>).order_by(col<&Play::points>.desc()))
                           .group_by(col<&Play::team>)
                           .having(count().filter(col<&Play::won> == true) >= 1)
                           .order_by(col<&Play::team>));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == Row{"blue", 2, 1, 3, "dan,eve", false, true, std::vector<std::int32_t>{12, 3}});
  CHECK(rows[1] ==
        Row{"red", 3, 2, 7, "ann,bob,cat", false, true, std::vector<std::int32_t>{10, 7, 7}});
  // Over no rows: count is 0, the others NULL.
  auto none = s.values(select(count().filter(col<&Play::points> > 100),
                              sum(col<&Play::points>).filter(col<&Play::points> > 100),
                              array_agg(col<&Play::bonus>).filter(col<&Play::points> > 100)));
  REQUIRE(none.size() == 1);
  CHECK(std::get<0>(none[0]) == 0);
  CHECK_FALSE(std::get<1>(none[0]).has_value());
  CHECK_FALSE(std::get<2>(none[0]).has_value());
  // array_agg of a nullable column keeps the NULLs as empty optionals.
  auto bonuses = s.scalar(select(array_agg(col<&Play::bonus>).order_by(col<&Play::player>)));
  REQUIRE(bonuses.has_value());
  CHECK(*bonuses == std::vector<std::optional<std::int32_t>>{2, std::nullopt, 1, std::nullopt, 5});
}

TEST_CASE("distinct_on keeps the first row of each group in ORDER BY order", "[query]") {
  Plays fx;
  auto s = fx.session();
  auto best = s.values(select(col<&Play::team>, col<&Play::player>)
                           .distinct_on(col<&Play::team>)
                           .order_by(col<&Play::team>, col<&Play::points>.desc()));
  CHECK(best == std::vector<std::tuple<std::string, std::string>>{{"blue", "eve"}, {"red", "ann"}});
  // count() counts the distinct rows, not all of them.
  CHECK(s.count(select(col<&Play::team>).distinct_on(col<&Play::team>)) == 2);
}

// ---- window functions ----

TEST_CASE("window functions render OVER clauses", "[unit][query]") {
  auto q = select(
      col<&Play::player>,
      row_number().over(partition_by(col<&Play::team>).order_by(col<&Play::points>.desc())),
      sum(col<&Play::points>).over(), lag(col<&Play::points>, 2).over(order_by(col<&Play::id>)));
  CHECK(q.statement().sql ==
        "SELECT \"plays\".\"player\", row_number() OVER (PARTITION BY \"plays\".\"team\" ORDER BY "
        "\"plays\".\"points\" DESC), sum(\"plays\".\"points\") OVER (), lag(\"plays\".\"points\", "
        "$1::integer) OVER (ORDER BY \"plays\".\"id\") FROM \"plays\"");
  STATIC_REQUIRE(std::is_same_v<decltype(q)::row_type,
                                std::tuple<std::string, std::int64_t, std::optional<std::int64_t>,
                                           std::optional<std::int32_t>>>);
}

TEST_CASE("window functions number, rank and look around rows of each partition", "[query]") {
  Plays fx;
  auto s = fx.session();
  using Row =
      std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t, std::optional<std::int32_t>,
                 std::optional<std::int32_t>, std::optional<std::int64_t>, std::int64_t>;
  auto by_points = partition_by(col<&Play::team>).order_by(col<&Play::points>.desc());
  auto rows =
      s.values(select(col<&Play::player>, row_number().over(by_points), rank().over(by_points),
                      dense_rank().over(by_points), lag(col<&Play::points>).over(by_points),
                      lead(col<&Play::points>, 2).over(by_points),
                      sum(col<&Play::points>).over(partition_by(col<&Play::team>)),
                      count().filter(col<&Play::won> == true).over())
                   .order_by(col<&Play::team>, col<&Play::points>.desc(), col<&Play::player>));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == Row{"eve", 1, 1, 1, std::nullopt, std::nullopt, 15, 3});
  CHECK(rows[1] == Row{"dan", 2, 2, 2, 12, std::nullopt, 15, 3});
  CHECK(rows[2] == Row{"ann", 1, 1, 1, std::nullopt, 7, 24, 3});
  CHECK(std::get<2>(rows[3]) == 2);  // bob and cat tie on 7 points: rank 2, 2
  CHECK(std::get<2>(rows[4]) == 2);
  CHECK(std::get<3>(rows[4]) == 2);
  CHECK(std::get<4>(rows[3]) == std::optional<std::int32_t>(10));
  CHECK(std::get<5>(rows[3]) == std::nullopt);
  // A running total: sum over ORDER BY.
  CHECK(s.values(select(sum(col<&Play::points>).over(order_by(col<&Play::player>)))
                     .order_by(col<&Play::player>)) ==
        std::vector<std::optional<std::int64_t>>{10, 17, 24, 27, 39});
}
