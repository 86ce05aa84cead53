// Row sources: derived tables from any select, LATERAL selects and unnest() of arrays, in FROM, in
// joins, in UPDATE ... FROM and DELETE ... USING: the SQL they render and the rows the server
// returns or changes for it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace rowsource_models {

struct Post : pgorm::Model<Post> {
  std::string title;
  std::vector<std::string> tags;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Post::title>(), pgorm::column<&Post::tags>());
};

}  // namespace rowsource_models

using rowsource_models::Post;

namespace {

using Strings = std::vector<std::string>;

// alice: 3 live todos and a soft-deleted one; bob: 1; carol: none.
struct Seeded : test::SessionFixture {
  std::int32_t alice, bob, carol;
  std::vector<std::int32_t> alices;
  Seeded() {
    alice = insert_user("alice@example.com");
    bob = insert_user("bob@example.com");
    carol = insert_user("carol@example.com");
    for (const char* title : {"a1", "a2", "a3", "a-deleted"})
      alices.push_back(db.scalar<std::int32_t>(
          "INSERT INTO todos (title, user_id) VALUES ($1, $2) RETURNING id", title, alice));
    db.conn().exec("INSERT INTO todos (title, user_id) VALUES ('b1', $1)", bob);
    db.conn().exec("UPDATE todos SET deleted_at = now() WHERE title = 'a-deleted'");
  }
};

auto todo_counts() {
  return derived<"counts", "user_id", "n">(
      select(col<&Todo::user_id>, count()).group_by(col<&Todo::user_id>));
}
using Counts = decltype(todo_counts());

}  // namespace

// ---- derived tables ----

TEST_CASE("a derived table renders its select with the column names, parameters in order",
          "[unit][query]") {
  auto counts = derived<"counts", "user_id", "n">(select(col<&Todo::user_id>, count())
                                                      .where(col<&Todo::title> != "x")
                                                      .group_by(col<&Todo::user_id>));
  auto q = select(col<&User::email>, Counts::col<"n">)
               .where(col<&User::email> != "y")
               .join(counts, Counts::col<"user_id"> == col<&User::id>)
               .where(Counts::col<"n"> > std::int64_t{1});
  auto st = q.statement();
  CHECK(st.sql ==
        "SELECT \"users\".\"email\", \"counts\".\"n\" FROM \"users\" JOIN (SELECT "
        "\"todos\".\"user_id\", count(*) FROM \"todos\" WHERE \"todos\".\"deleted_at\" IS NULL "
        "AND (\"todos\".\"title\" <> $1) GROUP BY \"todos\".\"user_id\") AS "
        "\"counts\"(\"user_id\", \"n\") ON (\"counts\".\"user_id\" = \"users\".\"id\") WHERE "
        "(\"users\".\"email\" <> $2) AND (\"counts\".\"n\" > $3)");
  REQUIRE(st.params.size() == 3);
  STATIC_REQUIRE(std::is_same_v<decltype(q)::row_type, std::tuple<std::string, std::int64_t>>);
  STATIC_REQUIRE(std::is_same_v<Counts::row_type, std::tuple<std::int32_t, std::int64_t>>);
}

TEST_CASE("a derived table joins, outer-joins and is selected from on the server", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto counts = todo_counts();
  // Soft-deleted todos are left out inside the derived table: alice has 3.
  auto joined = s.execute(select(col<&User::email>, Counts::col<"n">)
                              .join(counts, Counts::col<"user_id"> == col<&User::id>)
                              .order_by(col<&User::email>));
  CHECK(joined == std::vector<std::tuple<std::string, std::int64_t>>{{"alice@example.com", 3},
                                                                     {"bob@example.com", 1}});
  // LEFT OUTER JOIN: carol stays, her count NULL.
  auto outer = s.execute(select(col<&User::email>, nullable(Counts::col<"n">))
                             .outer_join(counts, Counts::col<"user_id"> == col<&User::id>)
                             .order_by(col<&User::email>));
  CHECK(outer == std::vector<std::tuple<std::string, std::optional<std::int64_t>>>{
                     {"alice@example.com", 3}, {"bob@example.com", 1}, {"carol@example.com", {}}});
  // Every column of the source, filtered and ordered by its columns.
  auto busy = s.execute(
      select_from(counts).where(Counts::col<"n"> >= std::int64_t{2}).order_by(Counts::col<"n">));
  CHECK(busy == std::vector<std::tuple<std::int32_t, std::int64_t>>{{fx.alice, 3}});
  // Aggregates over a derived table's columns: the average number of todos per user with todos.
  auto avg_of = s.execute(select(max(Counts::col<"n">), count()).from(counts));
  REQUIRE(avg_of.size() == 1);
  CHECK(std::get<0>(avg_of[0]) == std::int64_t{3});
  CHECK(std::get<1>(avg_of[0]) == 2);
  // Tracked objects of a model joined to a derived table: the users with more than one todo.
  auto users = s.execute(select<User>().join(
      counts, Counts::col<"user_id"> == col<&User::id> && Counts::col<"n"> > std::int64_t{1}));
  REQUIRE(users.size() == 1);
  CHECK(users[0]->email == "alice@example.com");
}

TEST_CASE("a derived table of one column reads single values, window functions included",
          "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto ranked = derived<"ranked", "title", "pos">(
      select(col<&Todo::title>,
             row_number().over(partition_by(col<&Todo::user_id>).order_by(col<&Todo::id>))));
  using Ranked = decltype(ranked);
  // The first todo of each user: a filter on a window function needs the derived table.
  auto firsts = s.execute(select(Ranked::col<"title">)
                              .from(ranked)
                              .where(Ranked::col<"pos"> == std::int64_t{1})
                              .order_by(Ranked::col<"title">));
  CHECK(firsts == Strings{"a1", "b1"});
  auto titles =
      derived<"t", "title">(select(col<&Todo::title>).where(col<&Todo::user_id> == fx.bob));
  CHECK(s.execute(select_from(titles)) == Strings{"b1"});
}

// ---- LATERAL ----

TEST_CASE("a lateral select runs per row of the query before it", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto latest = lateral<"latest", "title">(select(col<&Todo::title>)
                                               .correlate<User>()
                                               .where(col<&Todo::user_id> == col<&User::id>)
                                               .order_by(col<&Todo::id>.desc())
                                               .limit(2));
  using Latest = decltype(latest);
  auto q = select(col<&User::email>, Latest::col<"title">)
               .join(latest)
               .order_by(col<&User::email>, Latest::col<"title">);
  CHECK(q.statement().sql ==
        "SELECT \"users\".\"email\", \"latest\".\"title\" FROM \"users\" CROSS JOIN LATERAL "
        "(SELECT \"todos\".\"title\" FROM \"todos\" WHERE \"todos\".\"deleted_at\" IS NULL AND "
        "(\"todos\".\"user_id\" = \"users\".\"id\") ORDER BY \"todos\".\"id\" DESC LIMIT $1) AS "
        "\"latest\"(\"title\") ORDER BY \"users\".\"email\", \"latest\".\"title\"");
  CHECK(s.execute(q) ==
        std::vector<std::tuple<std::string, std::string>>{
            {"alice@example.com", "a2"}, {"alice@example.com", "a3"}, {"bob@example.com", "b1"}});
  // LEFT JOIN LATERAL ... ON true keeps users without rows.
  auto with_carol = s.execute(select(col<&User::email>, nullable(Latest::col<"title">))
                                  .outer_join(latest)
                                  .where(col<&User::id> == fx.carol));
  CHECK(with_carol == std::vector<std::tuple<std::string, std::optional<std::string>>>{
                          {"carol@example.com", std::nullopt}});
}

// ---- unnest ----

TEST_CASE("unnest renders one typed array parameter per column", "[unit][query]") {
  std::vector<std::int32_t> ids{1, 2};
  Strings names{"x", "y"};
  auto v = unnest<"v", "id", "title">(ids, names);
  using V = decltype(v);
  STATIC_REQUIRE(std::is_same_v<V::row_type, std::tuple<std::int32_t, std::string>>);
  auto st = select_from(v).statement();
  CHECK(st.sql ==
        "SELECT \"v\".\"id\", \"v\".\"title\" FROM unnest($1::integer[], $2::text[]) AS "
        "\"v\"(\"id\", \"title\")");
  CHECK(st.params.size() == 2);
  auto u = update<Todo>()
               .from(v)
               .set(col<&Todo::title>, V::col<"title">)
               .where(col<&Todo::id> == V::col<"id">);
  CHECK(u.statement().sql ==
        "UPDATE \"todos\" SET \"title\" = \"v\".\"title\", \"updated_at\" = now() FROM "
        "unnest($1::integer[], $2::text[]) AS \"v\"(\"id\", \"title\") WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND "
        "(\"todos\".\"id\" = \"v\".\"id\")");
}

TEST_CASE("unnest of values reads rows, joins a table and carries NULL elements", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto v =
      unnest<"v", "n", "label">(std::vector<std::int64_t>{3, 1, 2},
                                std::vector<std::optional<std::string>>{"c", std::nullopt, "b"});
  using V = decltype(v);
  CHECK(s.execute(select_from(v).order_by(V::col<"n">)) ==
        std::vector<std::tuple<std::int64_t, std::optional<std::string>>>{
            {1, std::nullopt}, {2, "b"}, {3, "c"}});
  // The todos whose ids are in a list, in the list's order (WITH ORDINALITY aside, by a second
  // array of positions).
  auto wanted = unnest<"w", "id", "pos">(std::vector<std::int32_t>{fx.alices[2], fx.alices[0]},
                                         std::vector<std::int32_t>{1, 2});
  using W = decltype(wanted);
  auto todos = s.execute(
      select<Todo>().join(wanted, W::col<"id"> == col<&Todo::id>).order_by(W::col<"pos">));
  REQUIRE(todos.size() == 2);
  CHECK(todos[0]->title == "a3");
  CHECK(todos[1]->title == "a1");
  // An empty array: no rows.
  CHECK(s.execute(select_from(unnest<"e", "x">(std::vector<std::int32_t>{}))).empty());
}

TEST_CASE("update().from(unnest) changes many rows, each to its own value, in one statement",
          "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto v = unnest<"v", "id", "title">(
      std::vector<std::int32_t>{fx.alices[0], fx.alices[1], fx.alices[3]},
      Strings{"first", "second", "deleted one"});
  using V = decltype(v);
  // The soft-deleted todo (alices[3]) is not a match.
  CHECK(s.execute(update<Todo>()
                      .from(v)
                      .set(col<&Todo::title>, V::col<"title">)
                      .where(col<&Todo::id> == V::col<"id">)) == 2);
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", fx.alices[0]) ==
        "first");
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", fx.alices[1]) ==
        "second");
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", fx.alices[2]) == "a3");
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", fx.alices[3]) ==
        "a-deleted");
}

TEST_CASE("delete_().using_(unnest) removes the listed rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto v = unnest<"v", "email">(Strings{"bob@example.com", "nobody@example.com"});
  using V = decltype(v);
  CHECK(s.execute(delete_<User>().using_(v).where(col<&User::email> == V::col<"email">)) == 1);
  s.commit();
  CHECK(fx.count("users") == 2);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = 'bob@example.com'") ==
        0);
}

TEST_CASE("unnest of arrays of different lengths is refused before anything is sent", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto make = [&] {
    return unnest<"v", "id", "title">(std::vector<std::int32_t>{fx.alices[0], fx.alices[1]},
                                      Strings{"only one"});
  };
  CHECK_THROWS_AS(make(), InterfaceError);
  CHECK_THROWS_WITH(make(), Catch::Matchers::Contains("unnest \"v\"") &&
                                Catch::Matchers::Contains("different lengths (2 and 1)"));
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE title = 'only one'") == 0);
}

TEST_CASE("unnest of an array column gives each row's elements (a lateral join)", "[query]") {
  test::TestSchema db;
  Metadata::of<Post>().create_all(db.conn());
  db.conn().execute_script(
      "INSERT INTO posts (title, tags) VALUES ('pg', '{db,sql}'), ('cpp', '{c++}'), "
      "('none', '{}')");
  Engine engine(db.conninfo());
  Session s(engine);
  auto tags = unnest<"t", "tag">(col<&Post::tags>);
  using T = decltype(tags);
  auto q = select(col<&Post::title>, T::col<"tag">).join(tags).order_by(T::col<"tag">);
  CHECK(q.statement().sql ==
        "SELECT \"posts\".\"title\", \"t\".\"tag\" FROM \"posts\" CROSS JOIN "
        "unnest(\"posts\".\"tags\") AS \"t\"(\"tag\") ORDER BY \"t\".\"tag\"");
  CHECK(s.execute(q) == std::vector<std::tuple<std::string, std::string>>{
                            {"cpp", "c++"}, {"pg", "db"}, {"pg", "sql"}});
  // Tag counts: a group over the unnested column.
  auto per_tag = s.execute(select(T::col<"tag">, count())
                               .from<Post>()
                               .join(tags)
                               .where(T::col<"tag"> != "c++")
                               .group_by(T::col<"tag">)
                               .order_by(T::col<"tag">));
  CHECK(per_tag == std::vector<std::tuple<std::string, std::int64_t>>{{"db", 1}, {"sql", 1}});
}

TEST_CASE("a subquery correlates with a row source of the enclosing query", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto v =
      unnest<"v", "email">(Strings{"alice@example.com", "carol@example.com", "nobody@example.com"});
  using V = decltype(v);
  // The listed emails of users with a live todo: carol has none, nobody is no user.
  auto q = select(V::col<"email">)
               .from(v)
               .where(exists(select<Todo>().join<User>().correlate<V>().where(col<&User::email> ==
                                                                              V::col<"email">)))
               .order_by(V::col<"email">);
  CHECK(s.execute(q) == Strings{"alice@example.com"});
}

TEST_CASE("a set operation of selects from models is a derived table", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto titles = derived<"t", "title">(
      union_all(select(col<&Todo::title>).where(col<&Todo::user_id> == fx.bob),
                select(col<&Todo::title>).where(col<&Todo::title> == "a1")));
  using Titles = decltype(titles);
  CHECK(s.execute(select_from(titles).order_by(Titles::col<"title">)) == Strings{"a1", "b1"});
}
