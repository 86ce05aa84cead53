// Subqueries (IN, EXISTS, scalar, ANY/ALL, correlated), set operations, aliases and the outer
// joins: the SQL they render and the rows the server returns for it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace subquery_models {

// A self-reference without a relationship: each employee's manager.
struct Employee : pgorm::Model<Employee> {
  std::string name;
  std::optional<std::int32_t> manager_id;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Employee::name>(), pgorm::column<&Employee::manager_id>());
};

}  // namespace subquery_models

using subquery_models::Employee;
using Manager = aliased<Employee, "manager">;

namespace {

// alice: 4 live todos (2 completed) and a soft-deleted one; bob: 1 archived; carol: none;
// dave: only a soft-deleted one.
struct Seeded : test::SessionFixture {
  std::int32_t alice, bob, carol, dave;
  Seeded() {
    alice = insert_user("alice@example.com");
    bob = insert_user("bob@example.com");
    carol = insert_user("carol@example.com");
    dave = insert_user("dave@example.com");
    insert_todo(alice, "Buy milk");
    insert_todo(alice, "Buy MILK chocolate", "completed");
    insert_todo(alice, "Write report", "completed");
    insert_todo(alice, "Call mom");
    auto deleted = insert_todo(alice, "Old milk");
    insert_todo(bob, "Walk dog", "archived");
    auto daves = insert_todo(dave, "Hidden", "completed");
    db.conn().exec("UPDATE todos SET deleted_at = now() WHERE id IN ($1, $2)", deleted, daves);
  }
};

using Strings = std::vector<std::string>;

Strings sorted(Strings v) {
  std::sort(v.begin(), v.end());
  return v;
}

template <class Rows>
Strings emails(const Rows& users) {
  Strings out;
  for (const auto& u : users) out.push_back(u->email);
  return sorted(out);
}

template <class Rows>
Strings titles(const Rows& todos) {
  Strings out;
  for (const auto& t : todos) out.push_back(t->title);
  return out;
}

}  // namespace

// ---- IN / NOT IN ----

TEST_CASE("in(select) renders the subquery inline with its parameters numbered in order",
          "[unit][query]") {
  auto q = select<User>()
               .where(col<&User::email> != "x@example.com")
               .where(col<&User::id>.in(
                   select(col<&Todo::user_id>).where(col<&Todo::status> == TodoStatus::completed)))
               .limit(5);
  auto st = q.statement();
  CHECK(st.sql ==
        "SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"created_at\", "
        "\"users\".\"updated_at\" FROM \"users\" WHERE (\"users\".\"email\" <> $1) AND "
        "(\"users\".\"id\" IN (SELECT \"todos\".\"user_id\" FROM \"todos\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"status\" = $2))) LIMIT $3");
  REQUIRE(st.params.size() == 3);
  CHECK(std::string(st.params.value(1)) == "completed");
  CHECK(std::string(st.params.value(2)) == "5");
  auto not_in = select<User>().where(col<&User::id>.not_in(select(col<&Todo::user_id>)));
  CHECK(not_in.statement().sql.find("(\"users\".\"id\" NOT IN (SELECT \"todos\".\"user_id\" FROM "
                                    "\"todos\" WHERE \"todos\".\"deleted_at\" IS NULL))") !=
        std::string::npos);
}

TEST_CASE("in(select) and not_in(select) filter on the server, soft-deleted rows left out",
          "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(emails(s.execute(select<User>().where(col<&User::id>.in(select(col<&Todo::user_id>))))) ==
        Strings{"alice@example.com", "bob@example.com"});
  CHECK(
      emails(s.execute(select<User>().where(col<&User::id>.not_in(select(col<&Todo::user_id>))))) ==
      Strings{"carol@example.com", "dave@example.com"});
  // with_deleted() inside the subquery brings dave's deleted todo back.
  CHECK(emails(s.execute(select<User>().where(
            col<&User::id>.in(select(col<&Todo::user_id>)
                                  .with_deleted()
                                  .where(col<&Todo::status> == TodoStatus::completed))))) ==
        Strings{"alice@example.com", "dave@example.com"});
}

// ---- EXISTS, correlated ----

TEST_CASE("a correlated EXISTS refers to the outer query's table", "[unit][query]") {
  auto q = select<User>().where(
      exists(select<Todo>().correlate<User>().where(col<&Todo::user_id> == col<&User::id>)));
  CHECK(q.statement().sql ==
        "SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"created_at\", "
        "\"users\".\"updated_at\" FROM \"users\" WHERE (EXISTS (SELECT \"todos\".\"id\", "
        "\"todos\".\"title\", \"todos\".\"description\", \"todos\".\"status\", "
        "\"todos\".\"user_id\", \"todos\".\"created_at\", \"todos\".\"updated_at\", "
        "\"todos\".\"deleted_at\" FROM \"todos\" WHERE \"todos\".\"deleted_at\" IS NULL AND "
        "(\"todos\".\"user_id\" = \"users\".\"id\")))");
  // The expression carries User: it needs an outer query over users.
  using E = decltype(exists(
      select<Todo>().correlate<User>().where(col<&Todo::user_id> == col<&User::id>)));
  STATIC_REQUIRE(std::is_same_v<query::models_of_t<E>, query::type_list<User>>);
  STATIC_REQUIRE(
      std::is_same_v<query::models_of_t<decltype(exists(select<Todo>()))>, query::type_list<>>);
}

TEST_CASE("exists and not_exists with correlated subqueries select the matching rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto completed_of_user = select(col<&Todo::id>)
                               .correlate<User>()
                               .where(col<&Todo::user_id> == col<&User::id> &&
                                      col<&Todo::status> == TodoStatus::completed);
  // dave's completed todo is soft-deleted: the filter applies inside the subquery.
  CHECK(emails(s.execute(select<User>().where(exists(completed_of_user)))) ==
        Strings{"alice@example.com"});
  CHECK(emails(s.execute(select<User>().where(not_exists(completed_of_user)))) ==
        Strings{"bob@example.com", "carol@example.com", "dave@example.com"});
  // Uncorrelated: true for every row or for none.
  CHECK(s.count(select<User>().where(
            exists(select<Todo>().where(col<&Todo::title> == "Walk dog")))) == 4);
  CHECK(s.count(select<User>().where(exists(select<Todo>().where(col<&Todo::title> == "none")))) ==
        0);
  // A correlated subquery inside a joined query: the outer model may be the joined one.
  CHECK(s.count(select<Todo>().join<User>().where(not_exists(
            select<ApiKey>().correlate<User>().where(col<&ApiKey::user_id> == col<&User::id>)))) ==
        5);
}

// ---- scalar subqueries ----

TEST_CASE("a scalar subquery renders as a parenthesized select", "[unit][query]") {
  auto q = select(col<&User::email>, scalar(select(count()).from<Todo>().correlate<User>().where(
                                         col<&Todo::user_id> == col<&User::id>)));
  CHECK(q.statement().sql ==
        "SELECT \"users\".\"email\", (SELECT count(*) FROM \"todos\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"user_id\" = \"users\".\"id\")) FROM "
        "\"users\"");
  using Row = decltype(q)::row_type;
  STATIC_REQUIRE(std::is_same_v<Row, std::tuple<std::string, std::optional<std::int64_t>>>);
}

TEST_CASE("scalar subqueries in the select list and in WHERE read back values", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto counts = s.values(
      select(col<&User::email>, scalar(select(count()).from<Todo>().correlate<User>().where(
                                    col<&Todo::user_id> == col<&User::id>)))
          .order_by(col<&User::email>));
  using Row = std::tuple<std::string, std::optional<std::int64_t>>;
  CHECK(counts == std::vector<Row>{{"alice@example.com", 4},
                                   {"bob@example.com", 1},
                                   {"carol@example.com", 0},
                                   {"dave@example.com", 0}});
  // max() over no rows is NULL: an empty optional.
  auto latest =
      s.values(select(col<&User::email>, scalar(select(max(col<&Todo::title>))
                                                    .correlate<User>()
                                                    .where(col<&Todo::user_id> == col<&User::id>)))
                   .order_by(col<&User::email>));
  using Latest = std::tuple<std::string, std::optional<std::string>>;
  CHECK(latest == std::vector<Latest>{{"alice@example.com", "Write report"},
                                      {"bob@example.com", "Walk dog"},
                                      {"carol@example.com", std::nullopt},
                                      {"dave@example.com", std::nullopt}});
  // In WHERE: the todo with the highest live id.
  CHECK(titles(s.execute(select<Todo>().where(
            col<&Todo::id> == scalar(select(max(col<&Todo::id>)))))) == Strings{"Walk dog"});
  // More than one row: the server refuses the statement.
  try {
    s.values(select(col<&User::email>, scalar(select(col<&Todo::title>))));
    FAIL("a scalar subquery of several rows ran");
  } catch (const DatabaseError& e) {
    CHECK(e.sqlstate() == "21000");
  }
  s.rollback();
  // Correlated in WHERE: the users with more than one live todo.
  CHECK(emails(s.execute(
            select<User>().where(scalar(select(count()).from<Todo>().correlate<User>().where(
                                     col<&Todo::user_id> == col<&User::id>)) > std::int64_t{1}))) ==
        Strings{"alice@example.com"});
}

// ---- ANY / ALL ----

TEST_CASE("any() and all() compare with every row of a subquery", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto q = select<Todo>().where(
      col<&Todo::user_id> == any(select(col<&User::id>).where(col<&User::email>.startswith("a"))));
  CHECK(q.statement().sql.find("(\"todos\".\"user_id\" = ANY (SELECT \"users\".\"id\" FROM "
                               "\"users\" WHERE (\"users\".\"email\" LIKE $1)))") !=
        std::string::npos);
  CHECK(sorted(titles(s.execute(q))) ==
        Strings{"Buy MILK chocolate", "Buy milk", "Call mom", "Write report"});
  // >= ALL: the todos whose id is not below any of alice's.
  auto alice_ids = select(col<&Todo::id>).where(col<&Todo::user_id> == fx.alice);
  CHECK(sorted(titles(s.execute(select<Todo>().where(col<&Todo::id> >= all(alice_ids))))) ==
        Strings{"Call mom", "Walk dog"});
  // ALL over no rows holds.
  CHECK(s.count(select<Todo>().where(
            col<&Todo::id> > all(select(col<&Todo::id>).where(col<&Todo::user_id> == fx.carol)))) ==
        5);
}

// ---- set operations ----

TEST_CASE("set operations render both selects and apply ORDER BY and LIMIT to the whole",
          "[unit][query]") {
  auto q = union_(select(col<&Todo::title>).where(col<&Todo::status> == TodoStatus::completed),
                  select(col<&User::email>))
               .order_by(col<&Todo::title>.desc())
               .limit(3);
  auto st = q.statement();
  CHECK(st.sql ==
        "SELECT * FROM ((SELECT \"todos\".\"title\" FROM \"todos\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"status\" = $1)) UNION (SELECT "
        "\"users\".\"email\" FROM \"users\")) AS \"todos\" ORDER BY \"todos\".\"title\" DESC "
        "LIMIT $2");
  REQUIRE(st.params.size() == 2);
  CHECK(std::string(st.params.value(1)) == "3");
  auto sql = [](auto q) { return q.statement().sql; };
  auto a = select(col<&User::id>);
  auto b = select(col<&Todo::user_id>);
  CHECK(sql(union_all(a, b)).find(") UNION ALL (") != std::string::npos);
  CHECK(sql(intersect(a, b)).find(") INTERSECT (") != std::string::npos);
  CHECK(sql(intersect_all(a, b)).find(") INTERSECT ALL (") != std::string::npos);
  CHECK(sql(except_(a, b)).find(") EXCEPT (") != std::string::npos);
  CHECK(sql(except_all(a, b)).find(") EXCEPT ALL (") != std::string::npos);
}

TEST_CASE("set operations run like selects: values and tracked objects", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto completed = select<Todo>().where(col<&Todo::status> == TodoStatus::completed);
  auto archived = select<Todo>().where(col<&Todo::status> == TodoStatus::archived);
  auto both = s.execute(union_(completed, archived).order_by(col<&Todo::title>));
  CHECK(titles(both) == Strings{"Buy MILK chocolate", "Walk dog", "Write report"});
  // The objects are the session's: the same object for the same row.
  auto again = s.execute(archived);
  REQUIRE(again.size() == 1);
  CHECK(again[0].get() == both[1].get());
  CHECK(titles(s.execute(
            union_(completed, archived).order_by(col<&Todo::title>).offset(1).limit(1))) ==
        Strings{"Walk dog"});

  auto user_ids = select(col<&User::id>);
  auto todo_owners = select(col<&Todo::user_id>);
  CHECK(s.values(
            union_all(todo_owners,
                      select(col<&Todo::user_id>).where(col<&Todo::status> == TodoStatus::archived))
                .order_by(col<&Todo::user_id>)) ==
        std::vector<std::int32_t>{fx.alice, fx.alice, fx.alice, fx.alice, fx.bob, fx.bob});
  CHECK(s.values(union_(todo_owners, todo_owners).order_by(col<&Todo::user_id>)) ==
        std::vector<std::int32_t>{fx.alice, fx.bob});
  CHECK(s.values(intersect(user_ids, todo_owners).order_by(col<&User::id>)) ==
        std::vector<std::int32_t>{fx.alice, fx.bob});
  CHECK(s.values(except_(user_ids, todo_owners).order_by(col<&User::id>)) ==
        std::vector<std::int32_t>{fx.carol, fx.dave});
  CHECK(s.values(except_all(todo_owners, user_ids).order_by(col<&Todo::user_id>)) ==
        std::vector<std::int32_t>{fx.alice, fx.alice, fx.alice});
  CHECK(s.values(intersect_all(todo_owners, todo_owners)).size() == 5);
  // A set operation is a select: it nests in another one.
  CHECK(s.scalar(select(count()).from<User>().where(
            col<&User::id>.in(except_(user_ids, todo_owners)))) == 2);
  // Tuples of the same types.
  using Pair = std::tuple<std::string, std::int32_t>;
  CHECK(s.values(union_(select(col<&User::email>, col<&User::id>).where(col<&User::id> == fx.bob),
                        select(col<&Todo::title>, col<&Todo::user_id>)
                            .where(col<&Todo::title> == "Call mom"))
                     .order_by(col<&User::id>)) ==
        std::vector<Pair>{{"Call mom", fx.alice}, {"bob@example.com", fx.bob}});
}

// ---- aliases and joins ----

TEST_CASE("an aliased model joins its own table under another name", "[unit][query]") {
  auto q = select(col<&Employee::name>, nullable(Manager::col<&Employee::name>))
               .outer_join<Manager>(col<&Employee::manager_id> == Manager::col<&Employee::id>)
               .where(Manager::col<&Employee::name> != "x");
  CHECK(q.statement().sql ==
        "SELECT \"employees\".\"name\", \"manager\".\"name\" FROM \"employees\" LEFT OUTER JOIN "
        "\"employees\" AS \"manager\" ON (\"employees\".\"manager_id\" = \"manager\".\"id\") "
        "WHERE (\"manager\".\"name\" <> $1)");
  // Soft-delete filters name the alias.
  using Parent = aliased<Category, "parent">;
  auto c = select<Category>().join<Parent>(col<&Category::parent_id> == Parent::col<&Category::id>);
  // A foreign-key join after an alias follows the table itself, not the alias.
  CHECK(c.join<TodoCategory>().statement().sql.find(
            "JOIN \"todo_categories\" ON \"todo_categories\".\"category_id\" = "
            "\"categories\".\"id\"") != std::string::npos);
  CHECK(c.statement().sql.find(
            "FROM \"categories\" JOIN \"categories\" AS \"parent\" ON "
            "(\"categories\".\"parent_id\" = \"parent\".\"id\") WHERE "
            "\"categories\".\"deleted_at\" IS NULL AND \"parent\".\"deleted_at\" IS NULL") !=
        std::string::npos);
}

TEST_CASE("a self-join reads employees with their manager's name", "[query]") {
  test::TestSchema db;
  Metadata::of<Employee>().create_all(db.conn());
  db.conn().execute_script(
      "INSERT INTO employees (name, manager_id) VALUES ('Ada', NULL);"
      "INSERT INTO employees (name, manager_id) SELECT 'Bea', id FROM employees WHERE name = 'Ada';"
      "INSERT INTO employees (name, manager_id) SELECT 'Cy', id FROM employees WHERE name = "
      "'Bea';");
  Engine engine(db.conninfo());
  Session s(engine);
  using Row = std::tuple<std::string, std::optional<std::string>>;
  CHECK(s.values(select(col<&Employee::name>, nullable(Manager::col<&Employee::name>))
                     .outer_join<Manager>(col<&Employee::manager_id> == Manager::col<&Employee::id>)
                     .order_by(col<&Employee::name>)) ==
        std::vector<Row>{{"Ada", std::nullopt}, {"Bea", "Ada"}, {"Cy", "Bea"}});
  // Inner join: only those with a manager; the alias in WHERE and ORDER BY.
  using Grand = aliased<Employee, "grand">;
  auto chain =
      s.values(select(col<&Employee::name>, Grand::col<&Employee::name>)
                   .join<Manager>(col<&Employee::manager_id> == Manager::col<&Employee::id>)
                   .join<Grand>(Manager::col<&Employee::manager_id> == Grand::col<&Employee::id>)
                   .where(Manager::col<&Employee::name> == "Bea"));
  CHECK(chain == std::vector<std::tuple<std::string, std::string>>{{"Cy", "Ada"}});
  // Employees objects, filtered by their manager's name.
  auto under_ada =
      s.execute(select<Employee>()
                    .join<Manager>(col<&Employee::manager_id> == Manager::col<&Employee::id>)
                    .where(Manager::col<&Employee::name> == "Ada"));
  REQUIRE(under_ada.size() == 1);
  CHECK(under_ada[0]->name == "Bea");
}

TEST_CASE("right and full joins keep unmatched rows; soft-delete filters keep working", "[query]") {
  Seeded fx;
  auto s = fx.session();
  auto right = select(nullable(col<&User::email>), col<&Todo::title>)
                   .right_join<Todo>(col<&Todo::user_id> == col<&User::id> &&
                                     col<&User::email>.startswith("bob"));
  CHECK(right.statement().sql ==
        "SELECT \"users\".\"email\", \"todos\".\"title\" FROM \"users\" RIGHT OUTER JOIN "
        "\"todos\" ON ((\"todos\".\"user_id\" = \"users\".\"id\") AND (\"users\".\"email\" LIKE "
        "$1)) WHERE \"todos\".\"deleted_at\" IS NULL");
  using Row = std::tuple<std::optional<std::string>, std::string>;
  auto rows = s.values(right);
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return std::get<1>(a) < std::get<1>(b); });
  CHECK(rows == std::vector<Row>{{std::nullopt, "Buy MILK chocolate"},
                                 {std::nullopt, "Buy milk"},
                                 {std::nullopt, "Call mom"},
                                 {"bob@example.com", "Walk dog"},
                                 {std::nullopt, "Write report"}});
  // FULL: users without a completed todo and todos not completed both stay; dave's deleted
  // completed todo shows up on neither side.
  auto full = select(nullable(col<&User::email>), nullable(col<&Todo::title>))
                  .full_join<Todo>(col<&Todo::user_id> == col<&User::id> &&
                                   col<&Todo::status> == TodoStatus::completed);
  CHECK(full.statement().sql.find(
            "FULL OUTER JOIN \"todos\" ON ((\"todos\".\"user_id\" = \"users\".\"id\") AND "
            "(\"todos\".\"status\" = $1)) AND \"todos\".\"deleted_at\" IS NULL WHERE "
            "\"todos\".\"deleted_at\" IS NULL") != std::string::npos);
  using Pair = std::tuple<std::optional<std::string>, std::optional<std::string>>;
  auto all_rows = s.values(full);
  std::sort(all_rows.begin(), all_rows.end());
  CHECK(all_rows == std::vector<Pair>{{std::nullopt, "Buy milk"},
                                      {std::nullopt, "Call mom"},
                                      {std::nullopt, "Walk dog"},
                                      {"alice@example.com", "Buy MILK chocolate"},
                                      {"alice@example.com", "Write report"},
                                      {"bob@example.com", std::nullopt},
                                      {"carol@example.com", std::nullopt},
                                      {"dave@example.com", std::nullopt}});
  // A RIGHT join after a soft-delete table: its filter moves into the ON, so the joined rows
  // without a live partner stay (users right-joined to todos: alice's deleted todo gives no row,
  // every user stays).
  auto users_of_todos = select(nullable(col<&Todo::title>), col<&User::email>)
                            .right_join<User>(col<&Todo::user_id> == col<&User::id>)
                            .where(col<&User::email> == "dave@example.com");
  CHECK(users_of_todos.statement().sql.find("ON (\"todos\".\"user_id\" = \"users\".\"id\") AND "
                                            "\"todos\".\"deleted_at\" IS NULL WHERE "
                                            "\"todos\".\"deleted_at\" IS NULL") !=
        std::string::npos);
  CHECK(s.values(users_of_todos) ==
        std::vector<std::tuple<std::optional<std::string>, std::string>>{
            {std::nullopt, "dave@example.com"}});
}

// ---- UPDATE ... FROM, DELETE ... USING ----

TEST_CASE("update().from() and delete_().using_() render the other tables with their filters",
          "[unit][query]") {
  auto up = update<Todo>()
                .from<User>()
                .set(col<&Todo::status>, TodoStatus::archived)
                .where(col<&Todo::user_id> == col<&User::id> && col<&User::email> == "b@x")
                .statement();
  CHECK(up.sql ==
        "UPDATE \"todos\" SET \"status\" = $1, \"updated_at\" = now() FROM \"users\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND ((\"todos\".\"user_id\" = \"users\".\"id\") AND "
        "(\"users\".\"email\" = $2))");
  // A soft-delete source is filtered too.
  auto from_todos = update<User>()
                        .from<Todo>()
                        .set(col<&User::email>, col<&Todo::title>)
                        .where(col<&Todo::user_id> == col<&User::id>)
                        .statement();
  CHECK(from_todos.sql ==
        "UPDATE \"users\" SET \"email\" = \"todos\".\"title\", \"updated_at\" = now() FROM "
        "\"todos\" WHERE \"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"user_id\" = "
        "\"users\".\"id\")");
  auto del = delete_<Employee>()
                 .using_<Manager>()
                 .where(col<&Employee::manager_id> == Manager::col<&Employee::id> &&
                        Manager::col<&Employee::name> == "Ada")
                 .statement();
  CHECK(del.sql ==
        "DELETE FROM \"employees\" USING \"employees\" AS \"manager\" WHERE "
        "((\"employees\".\"manager_id\" = \"manager\".\"id\") AND (\"manager\".\"name\" = $1))");
  // A soft delete is an UPDATE: USING becomes FROM.
  auto soft = delete_<Todo>().using_<User>().where(col<&Todo::user_id> == col<&User::id>);
  CHECK(soft.statement().sql ==
        "UPDATE \"todos\" SET \"deleted_at\" = now() FROM \"users\" WHERE "
        "\"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"user_id\" = \"users\".\"id\")");
  CHECK(soft.hard().statement().sql ==
        "DELETE FROM \"todos\" USING \"users\" WHERE (\"todos\".\"user_id\" = \"users\".\"id\")");
}

TEST_CASE("update().from() changes rows by another table's values", "[query]") {
  Seeded fx;
  auto s = fx.session();
  CHECK(s.execute(update<Todo>()
                      .from<User>()
                      .set(col<&Todo::status>, TodoStatus::archived)
                      .where(col<&Todo::user_id> == col<&User::id> &&
                             col<&User::email> == "alice@example.com")) == 4);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE status = 'archived' AND deleted_at IS NULL") == 5);
  // The soft-deleted todo was left alone.
  CHECK(fx.db.scalar<std::string>("SELECT status::text FROM todos WHERE title = 'Old milk'") ==
        "pending");
  // Values of the other table, and RETURNING.
  auto renamed =
      s.execute(update<Todo>()
                    .from<User>()
                    .set(col<&Todo::title>, col<&User::email>)
                    .where(col<&Todo::user_id> == col<&User::id> && col<&User::id> == fx.bob)
                    .returning());
  s.commit();
  REQUIRE(renamed.size() == 1);
  CHECK(renamed[0].title == "bob@example.com");
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE title = 'bob@example.com'") ==
        1);
}

TEST_CASE("delete_().using_() removes rows matched in another table", "[query]") {
  Seeded fx;
  auto s = fx.session();
  // Users with a live completed todo: alice only (dave's is soft-deleted, so not a match).
  CHECK(s.execute(delete_<User>().using_<Todo>().where(col<&Todo::user_id> == col<&User::id> &&
                                                       col<&Todo::status> ==
                                                           TodoStatus::completed)) == 1);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM users WHERE email = 'alice@example.com'") == 0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = 'dave@example.com'") ==
        1);
  // Soft delete through USING: bob's todo gets deleted_at.
  CHECK(s.execute(delete_<Todo>().using_<User>().where(
            col<&Todo::user_id> == col<&User::id> && col<&User::email> == "bob@example.com")) == 1);
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM todos WHERE title = 'Walk dog' AND deleted_at IS NOT NULL") == 1);
  // A self-join through an alias.
  Metadata::of<Employee>().create_all(fx.db.conn());
  fx.db.conn().execute_script(
      "INSERT INTO employees (name) VALUES ('Ada');"
      "INSERT INTO employees (name, manager_id) SELECT 'Bea', id FROM employees WHERE name = 'Ada';"
      "INSERT INTO employees (name, manager_id) SELECT 'Cy', id FROM employees WHERE name = "
      "'Bea';");
  CHECK(s.execute(delete_<Employee>().using_<Manager>().where(
            col<&Employee::manager_id> == Manager::col<&Employee::id> &&
            Manager::col<&Employee::name> == "Ada")) == 1);
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT string_agg(name, ',' ORDER BY name) FROM employees") ==
        "Ada,Cy");
}

// ---- WITH queries ----

namespace {
using Tree = cte_name<Category, "tree">;

std::int32_t add_category(test::TestSchema& db, std::string_view name,
                          std::optional<std::int32_t> parent) {
  return db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING id", name,
      std::string("slug-") + std::string(name), parent);
}

auto subtree_of(std::int32_t root) {
  return recursive_cte<Tree>(
      select<Category>().where(col<&Category::id> == root),
      select<Category>().join<Tree>(col<&Category::parent_id> == Tree::col<&Category::id>));
}
}  // namespace

TEST_CASE("WITH RECURSIVE renders the anchor, the step and the select from the WITH query",
          "[unit][query]") {
  auto st = select_from<Tree>().with(subtree_of(7)).order_by(col<&Category::name>).statement();
  CHECK(st.sql.rfind("WITH RECURSIVE \"tree\" AS ((SELECT \"categories\".\"id\", ", 0) == 0);
  CHECK(st.sql.find("FROM \"categories\" WHERE \"categories\".\"deleted_at\" IS NULL AND "
                    "(\"categories\".\"id\" = $1)) UNION ALL (SELECT ") != std::string::npos);
  CHECK(st.sql.find("FROM \"categories\" JOIN \"tree\" ON (\"categories\".\"parent_id\" = "
                    "\"tree\".\"id\") WHERE \"categories\".\"deleted_at\" IS NULL)) SELECT ") !=
        std::string::npos);
  // The outer select reads the WITH query under the model's table name, without a second filter.
  CHECK(st.sql.find("FROM \"tree\" AS \"categories\" ORDER BY \"categories\".\"name\"") !=
        std::string::npos);
  REQUIRE(st.params.size() == 1);
  CHECK(std::string(st.params.value(0)) == "7");
  using Busy = cte_name<User, "busy">;
  auto q = select(col<&Todo::title>)
               .with(cte<Busy>(select<User>().where(col<&User::email> == "a@x")))
               .join<Busy>(col<&Todo::user_id> == Busy::col<&User::id>)
               .where(col<&Todo::title> != "t");
  CHECK(q.statement().sql ==
        "WITH \"busy\" AS (SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"created_at\", "
        "\"users\".\"updated_at\" FROM \"users\" WHERE (\"users\".\"email\" = $1)) SELECT "
        "\"todos\".\"title\" FROM \"todos\" JOIN \"busy\" ON (\"todos\".\"user_id\" = "
        "\"busy\".\"id\") WHERE \"todos\".\"deleted_at\" IS NULL AND (\"todos\".\"title\" <> $2)");
}

TEST_CASE("a recursive WITH query walks a category tree and reads back objects", "[query]") {
  test::SessionFixture fx;
  auto root = add_category(fx.db, "Root", std::nullopt);
  auto a = add_category(fx.db, "A", root);
  auto b = add_category(fx.db, "B", root);
  add_category(fx.db, "A1", a);
  auto a2 = add_category(fx.db, "A2", a);
  add_category(fx.db, "A2x", a2);
  auto gone = add_category(fx.db, "Gone", b);
  add_category(fx.db, "Under gone", gone);
  add_category(fx.db, "Other", std::nullopt);
  fx.db.conn().exec("UPDATE categories SET deleted_at = now() WHERE id = $1", gone);
  auto s = fx.session();

  auto all = s.execute(select_from<Tree>().with(subtree_of(root)).order_by(col<&Category::name>));
  Strings names;
  for (const auto& c : all) names.push_back(c->name);
  // "Gone" is soft-deleted: the walk neither returns it nor goes below it.
  CHECK(names == Strings{"A", "A1", "A2", "A2x", "B", "Root"});
  // The objects are the session's, with their columns.
  auto a2_again = s.get<Category>(a2);
  REQUIRE(a2_again);
  CHECK(std::find(all.begin(), all.end(), a2_again) != all.end());
  CHECK(a2_again->parent_id == a);

  // From a subtree root, with a condition and a count on the WITH query.
  CHECK(s.count(select_from<Tree>().with(subtree_of(a))) == 4);
  auto below_a2 =
      s.values(select_from<Tree>().with(subtree_of(a)).where(col<&Category::parent_id> == a2));
  REQUIRE(below_a2.size() == 1);
  CHECK(below_a2[0].name == "A2x");
  // Joined in an ordinary select: categories whose parent is in A's subtree.
  CHECK(sorted(s.values(select(col<&Category::name>)
                            .with(subtree_of(a))
                            .join<Tree>(col<&Category::parent_id> == Tree::col<&Category::id>))) ==
        Strings{"A1", "A2", "A2x"});
}

TEST_CASE("a WITH query joined to a select filters by its rows", "[query]") {
  Seeded fx;
  auto s = fx.session();
  using Busy = cte_name<User, "busy">;
  auto busy = cte<Busy>(
      select<User>().where(exists(select(col<&Todo::id>)
                                      .correlate<User>()
                                      .where(col<&Todo::user_id> == col<&User::id> &&
                                             col<&Todo::status> == TodoStatus::completed))));
  CHECK(sorted(s.values(select(col<&Todo::title>)
                            .with(busy)
                            .join<Busy>(col<&Todo::user_id> == Busy::col<&User::id>))) ==
        Strings{"Buy MILK chocolate", "Buy milk", "Call mom", "Write report"});
  using Objects = std::vector<std::shared_ptr<User>>;
  Objects busy_users = s.execute(select_from<Busy>().with(busy));
  CHECK(emails(busy_users) == Strings{"alice@example.com"});
}
