// INSERT ... ON CONFLICT beyond a plain target: ON CONSTRAINT, a partial unique index's predicate,
// DO UPDATE SET with expressions over EXCLUDED and a WHERE, and RETURNING some columns.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "async/async_support.hpp"
#include "support/db.hpp"

using namespace pgorm;

namespace upserttest {

// A named counter: upserts add to n.
struct Counter : Model<Counter> {
  std::string name;
  std::int64_t n = 0;
  bool locked = false;
  static constexpr auto columns = pgorm::columns(column<&Counter::name>(unique),
                                                 column<&Counter::n>(), column<&Counter::locked>());
};

// A slug is unique among active slots only: a partial unique index.
struct Slot : Model<Slot> {
  std::string slug;
  bool active = true;
  std::string owner;
  static constexpr auto columns =
      pgorm::columns(column<&Slot::slug>(), column<&Slot::active>(), column<&Slot::owner>());
  static constexpr auto table_args = pgorm::table_args(unique_index_on<&Slot::slug>("active"));
};

// One rating per (user, item): a declared two-column unique constraint.
struct Rating : Model<Rating> {
  std::int32_t user_id = 0;
  std::int32_t item_id = 0;
  std::int32_t stars = 0;
  static constexpr auto columns = pgorm::columns(
      column<&Rating::user_id>(), column<&Rating::item_id>(), column<&Rating::stars>());
  static constexpr auto table_args =
      pgorm::table_args(unique_constraint<&Rating::user_id, &Rating::item_id>());
};

struct Upserts {
  test::TestSchema db;
  Engine engine;
  Upserts() : engine(make()) {}
  Engine make() {
    Metadata::of<Counter, Slot, Rating>().create_all(db.conn());
    return Engine(db.conninfo());
  }
  Session session() { return Session(engine); }
};

Counter counter(std::string name, std::int64_t n, bool locked = false) {
  Counter c;
  c.name = std::move(name);
  c.n = n;
  c.locked = locked;
  return c;
}
Slot slot(std::string slug, bool active, std::string owner) {
  Slot s;
  s.slug = std::move(slug);
  s.active = active;
  s.owner = std::move(owner);
  return s;
}
Rating rating(std::int32_t user, std::int32_t item, std::int32_t stars) {
  Rating r;
  r.user_id = user;
  r.item_id = item;
  r.stars = stars;
  return r;
}

}  // namespace upserttest

using namespace upserttest;

namespace {
using Counts = std::vector<std::tuple<std::string, std::int64_t>>;
Counts counts(test::TestSchema& db) {
  return db.conn().query<std::tuple<std::string, std::int64_t>>(
      "SELECT name, n FROM counters ORDER BY name");
}
}  // namespace

TEST_CASE("on_conflict_on_constraint renders ON CONFLICT ON CONSTRAINT", "[unit][query][upsert]") {
  auto st = insert<Counter>()
                .value(counter("a", 1))
                .on_conflict_on_constraint("uq_counters_name")
                .do_update<&Counter::n>()
                .statement();
  CHECK(st.sql ==
        "INSERT INTO \"counters\" (\"id\", \"name\", \"n\", \"locked\") VALUES (DEFAULT, $1, $2, "
        "$3) ON CONFLICT ON CONSTRAINT \"uq_counters_name\" DO UPDATE SET \"n\" = EXCLUDED.\"n\"");
  CHECK(st.params.size() == 3);
  // The typed form finds the declared constraint's name.
  const std::string name = "uq_ratings_user_id_item_id";
  CHECK(insert<Rating>()
            .value(rating(1, 2, 3))
            .on_conflict_on_constraint<&Rating::user_id, &Rating::item_id>()
            .do_nothing()
            .statement()
            .sql.ends_with(" ON CONFLICT ON CONSTRAINT \"" + name + "\" DO NOTHING"));
  CHECK_THROWS_AS(
      insert<Rating>().value(rating(1, 2, 3)).on_conflict_on_constraint<&Rating::stars>(),
      ProgrammingError);
}

TEST_CASE("upsert WHERE clauses and EXCLUDED render with bind parameters",
          "[unit][query][upsert]") {
  auto target = insert<Slot>()
                    .value(slot("home", true, "ann"))
                    .on_conflict<&Slot::slug>()
                    .where(col<&Slot::active> == true)
                    .do_update<&Slot::owner>()
                    .statement();
  CHECK(target.sql.ends_with(
      " ON CONFLICT (\"slug\") WHERE (\"slots\".\"active\" = $4) DO UPDATE SET \"owner\" = "
      "EXCLUDED.\"owner\""));
  REQUIRE(target.params.size() == 4);
  CHECK(std::string(target.params.value(3)) == "t");

  auto add = insert<Counter>()
                 .value(counter("a", 5))
                 .on_conflict<&Counter::name>()
                 .do_update_set(col<&Counter::n>, col<&Counter::n> + excluded<&Counter::n>)
                 .do_update_set(col<&Counter::locked>, false)
                 .where(col<&Counter::locked> == false && excluded<&Counter::n> > 0)
                 .statement();
  CHECK(add.sql.ends_with(
      " ON CONFLICT (\"name\") DO UPDATE SET \"n\" = (\"counters\".\"n\" + EXCLUDED.\"n\"), "
      "\"locked\" = $4 WHERE ((\"counters\".\"locked\" = $5) AND (EXCLUDED.\"n\" > $6))"));
  REQUIRE(add.params.size() == 6);
  CHECK(std::string(add.params.value(5)) == "0");

  // do_update<...>() and do_update_set() combine, in call order.
  CHECK(insert<Counter>()
            .value(counter("a", 5))
            .on_conflict<&Counter::name>()
            .do_update<&Counter::locked>()
            .do_update_set(col<&Counter::n>, excluded<&Counter::n> * 2)
            .statement()
            .sql.ends_with(" DO UPDATE SET \"locked\" = EXCLUDED.\"locked\", \"n\" = "
                           "(EXCLUDED.\"n\" * $4::bigint)"));
  // A conflict target with no action is a mistake, not a plain insert.
  CHECK_THROWS_AS(
      insert<Counter>().value(counter("a", 5)).on_conflict<&Counter::name>().statement(),
      ProgrammingError);
}

TEST_CASE("returning(col...) renders only those columns", "[unit][query][upsert]") {
  auto one = insert<Counter>().value(counter("a", 1)).returning(col<&Counter::id>);
  static_assert(std::is_same_v<decltype(one)::row_type, std::int32_t>);
  CHECK(one.statement().sql.ends_with(") RETURNING \"id\""));
  auto two = insert<Counter>()
                 .value(counter("a", 1))
                 .on_conflict<&Counter::name>()
                 .do_nothing()
                 .returning(col<&Counter::id>, col<&Counter::n>);
  static_assert(std::is_same_v<decltype(two)::row_type, std::tuple<std::int32_t, std::int64_t>>);
  CHECK(
      two.statement().sql.ends_with(" ON CONFLICT (\"name\") DO NOTHING RETURNING \"id\", \"n\""));
}

TEST_CASE("ON CONFLICT ON CONSTRAINT updates the conflicting row on the server",
          "[query][upsert]") {
  Upserts fx;
  auto s = fx.session();
  s.execute(insert<Rating>().values(std::vector{rating(1, 10, 3), rating(2, 10, 4)}));
  auto changed = s.execute(insert<Rating>()
                               .values(std::vector{rating(1, 10, 5), rating(3, 10, 1)})
                               .on_conflict_on_constraint<&Rating::user_id, &Rating::item_id>()
                               .do_update<&Rating::stars>());
  CHECK(changed == 2);
  CHECK(s.execute(insert<Rating>()
                      .value(rating(2, 10, 1))
                      .on_conflict_on_constraint("uq_ratings_user_id_item_id")
                      .do_nothing()) == 0);
  s.commit();
  using Row = std::tuple<std::int32_t, std::int32_t>;
  CHECK(fx.db.conn().query<Row>("SELECT user_id, stars FROM ratings ORDER BY user_id") ==
        std::vector<Row>{{1, 5}, {2, 4}, {3, 1}});
}

TEST_CASE("an upsert on a partial unique index names its predicate", "[query][upsert]") {
  Upserts fx;
  auto s = fx.session();
  s.execute(insert<Slot>().values(std::vector{slot("home", true, "ann"), slot("home", false, "old"),
                                              slot("blog", false, "x")}));
  auto upsert = insert<Slot>()
                    .values(std::vector{slot("home", true, "bob"), slot("blog", true, "cat")})
                    .on_conflict<&Slot::slug>()
                    .where(col<&Slot::active> == true)
                    .do_update<&Slot::owner>();
  CHECK(s.execute(upsert) == 2);
  s.commit();
  using Row = std::tuple<std::string, bool, std::string>;
  auto rows = fx.db.conn().query<Row>("SELECT slug, active, owner FROM slots ORDER BY 1, 2, 3");
  // The active "home" changed hands; the inactive one is not covered by the index and stays.
  CHECK(rows == std::vector<Row>{{"blog", false, "x"},
                                 {"blog", true, "cat"},
                                 {"home", false, "old"},
                                 {"home", true, "bob"}});
  // Without the predicate PostgreSQL finds no unique index to infer the target from.
  auto s2 = fx.session();
  CHECK_THROWS_AS(s2.execute(insert<Slot>()
                                 .value(slot("home", true, "dan"))
                                 .on_conflict<&Slot::slug>()
                                 .do_update<&Slot::owner>()),
                  DatabaseError);
}

TEST_CASE("a counter is incremented through excluded, and update WHERE skips rows",
          "[query][upsert]") {
  Upserts fx;
  auto s = fx.session();
  s.execute(insert<Counter>().values(std::vector{counter("hits", 10), counter("frozen", 7, true)}));
  auto bump = [](std::vector<Counter> rows) {
    return insert<Counter>()
        .values(rows)
        .on_conflict<&Counter::name>()
        .do_update_set(col<&Counter::n>, col<&Counter::n> + excluded<&Counter::n>)
        .where(col<&Counter::locked> == false);
  };
  // hits: updated; frozen: conflicts but the WHERE skips it; fresh: inserted.
  CHECK(s.execute(bump({counter("hits", 5), counter("frozen", 100), counter("fresh", 2)})) == 2);
  CHECK(s.execute(bump({counter("hits", 1)})) == 1);
  s.commit();
  CHECK(counts(fx.db) == Counts{{"fresh", 2}, {"frozen", 7}, {"hits", 16}});
  CHECK(fx.db.scalar<bool>("SELECT locked FROM counters WHERE name = 'frozen'"));

  // The WHERE may read EXCLUDED too: only increases are taken.
  auto s2 = fx.session();
  auto keep_max = [](Counter c) {
    return insert<Counter>().value(c).on_conflict<&Counter::name>().do_update<&Counter::n>().where(
        excluded<&Counter::n> > col<&Counter::n>);
  };
  CHECK(s2.execute(keep_max(counter("hits", 3))) == 0);
  CHECK(s2.execute(keep_max(counter("fresh", 40))) == 1);
  s2.commit();
  CHECK(counts(fx.db) == Counts{{"fresh", 40}, {"frozen", 7}, {"hits", 16}});
}

TEST_CASE("returning(col...) reads back values and tuples of the affected rows",
          "[query][upsert]") {
  Upserts fx;
  auto s = fx.session();
  std::vector<std::int32_t> ids =
      s.execute(insert<Counter>()
                    .values(std::vector{counter("a", 1), counter("b", 2)})
                    .returning(col<&Counter::id>));
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] > 0);
  CHECK(ids[1] > ids[0]);
  std::vector<std::tuple<std::string, std::int64_t>> after =
      s.execute(insert<Counter>()
                    .values(std::vector{counter("b", 10), counter("c", 3)})
                    .on_conflict<&Counter::name>()
                    .do_update_set(col<&Counter::n>, col<&Counter::n> + excluded<&Counter::n>)
                    .returning(col<&Counter::name>, col<&Counter::n>));
  CHECK(after == std::vector<std::tuple<std::string, std::int64_t>>{{"b", 12}, {"c", 3}});
  // DO NOTHING returns nothing for the skipped row.
  auto none = s.execute(insert<Counter>()
                            .value(counter("a", 9))
                            .on_conflict<&Counter::name>()
                            .do_nothing()
                            .returning(col<&Counter::n>));
  CHECK(none.empty());
  s.commit();
  CHECK(counts(fx.db) == Counts{{"a", 1}, {"b", 12}, {"c", 3}});
}

namespace {
using NameCounts = std::vector<std::tuple<std::string, std::int64_t>>;
asio::awaitable<NameCounts> async_upsert(AsyncEngine& engine) {
  AsyncSession s(engine);
  co_await s.execute(insert<Counter>().value(counter("a", 1)));
  std::vector<Counter> batch{counter("a", 4), counter("z", 1)};
  auto statement = insert<Counter>()
                       .values(batch)
                       .on_conflict<&Counter::name>()
                       .do_update_set(col<&Counter::n>, col<&Counter::n> + excluded<&Counter::n>)
                       .returning(col<&Counter::name>, col<&Counter::n>);
  NameCounts rows = co_await s.execute(statement);
  co_await s.commit();
  co_return rows;
}
}  // namespace

TEST_CASE("AsyncSession executes an upsert returning some columns", "[query][upsert][async]") {
  Upserts fx;
  asio::io_context io;
  AsyncEngine engine(io, fx.db.conninfo());
  auto got = test::run(io, async_upsert(engine));
  CHECK(got == NameCounts{{"a", 5}, {"z", 1}});
  CHECK(counts(fx.db) == Counts{{"a", 5}, {"z", 1}});
}

TEST_CASE("a conflict target without an action throws and writes nothing", "[query][upsert]") {
  Upserts fx;
  auto s = fx.session();
  s.execute(insert<Counter>().value(counter("a", 1)));
  CHECK_THROWS_AS(s.execute(insert<Counter>().value(counter("b", 2)).on_conflict<&Counter::name>()),
                  ProgrammingError);
  CHECK_THROWS_AS(s.execute(insert<Counter>()
                                .value(counter("c", 3))
                                .on_conflict_on_constraint("uq_counters_name")
                                .returning(col<&Counter::id>)),
                  ProgrammingError);
  s.commit();
  CHECK(counts(fx.db) == Counts{{"a", 1}});
}
