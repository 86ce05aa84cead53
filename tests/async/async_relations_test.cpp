// Relationship loading through AsyncSession: the same options and the same loading code as
// Session (selectin, joined, load()), read back from the server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

namespace {

// users x todos_each todos, inserted directly; returns the todo ids of each user, from the server.
std::map<std::int32_t, std::vector<std::int32_t>> seed(test::AsyncFixture& fx, int users,
                                                       int todos_each) {
  fx.insert_users_with_todos(users, todos_each);
  std::map<std::int32_t, std::vector<std::int32_t>> out;
  for (auto [user, todo] : fx.db.conn().query<std::tuple<std::int32_t, std::int32_t>>(
           "SELECT user_id, id FROM todos ORDER BY user_id, id"))
    out[user].push_back(todo);
  return out;
}

}  // namespace

TEST_CASE("async: selectin loads users with their todos in two statements", "[async][relations]") {
  test::AsyncFixture fx;
  auto expected = seed(fx, 30, 4);
  auto s = fx.session();
  std::vector<std::shared_ptr<User>> users;
  std::uint64_t statements = 0;
  fx.run([&]() -> awaitable<void> {
    auto before = s.statements_executed();
    users =
        co_await s.execute(select<User>().order_by(col<&User::id>).options(selectin(&User::todos)));
    statements = s.statements_executed() - before;
  }());
  CHECK(statements == 2);
  REQUIRE(users.size() == 30);
  CHECK(test::todo_ids_by_user(users) == expected);
  for (const auto& u : users)
    for (const auto& t : u->todos) CHECK(t->user.get() == u);  // back_populates filled
}

TEST_CASE("async: joined loads a collection and a many-to-one in the same statement",
          "[async][relations]") {
  test::AsyncFixture fx;
  auto expected = seed(fx, 12, 3);
  auto s = fx.session();
  std::vector<std::shared_ptr<User>> users;
  std::vector<std::shared_ptr<Todo>> todos;
  std::uint64_t statements = 0;
  fx.run([&]() -> awaitable<void> {
    auto before = s.statements_executed();
    users = co_await s.execute(
        select<User>().order_by(col<&User::id>).limit(10).options(joined(&User::todos)));
    todos =
        co_await s.execute(select<Todo>().order_by(col<&Todo::id>).options(joined(&Todo::user)));
    statements = s.statements_executed() - before;
  }());
  CHECK(statements == 2);
  REQUIRE(users.size() == 10);  // LIMIT counts users, not joined rows; each user once
  auto by_user = test::todo_ids_by_user(users);
  for (const auto& [user, ids] : by_user) CHECK(ids == expected.at(user));
  REQUIRE(todos.size() == 36);
  for (const auto& t : todos) {
    REQUIRE(t->user);
    CHECK(t->user->id == t->user_id);
  }
  // The identity map: the joined user of a todo is the object the first query loaded.
  std::size_t shared = 0;
  for (const auto& t : todos)
    for (const auto& u : users)
      if (u->id == t->user_id) {
        CHECK(t->user.get() == u);
        ++shared;
      }
  CHECK(shared == 30);
}

TEST_CASE("async: a nested path and load() send one statement per level", "[async][relations]") {
  test::AsyncFixture fx;
  seed(fx, 2, 2);
  fx.db.conn().exec("INSERT INTO categories (name, slug) VALUES ('a', 'a-slug')");
  fx.db.conn().exec(
      "INSERT INTO todo_categories (todo_id, category_id) SELECT id, (SELECT id FROM categories) "
      "FROM todos");
  auto s = fx.session();
  std::vector<std::shared_ptr<User>> users;
  std::vector<std::shared_ptr<Todo>> todos;
  std::uint64_t path_statements = 0, load_statements = 0;
  fx.run([&]() -> awaitable<void> {
    auto before = s.statements_executed();
    users = co_await s.execute(select<User>().options(selectin(&User::todos, &Todo::categories)));
    path_statements = s.statements_executed() - before;
    todos = co_await s.execute(select<Todo>().order_by(col<&Todo::id>));
    s.expire_all();
    before = s.statements_executed();
    co_await s.load(todos, &Todo::user);
    load_statements = s.statements_executed() - before;
  }());
  CHECK(path_statements == 3);
  REQUIRE(users.size() == 2);
  for (const auto& u : users) {
    REQUIRE(u->todos.size() == 2);
    for (const auto& t : u->todos) {
      REQUIRE(t->categories.size() == 1);
      CHECK((*t->categories.begin())->slug == "a-slug");
    }
  }
  CHECK(load_statements == 1);
  REQUIRE(todos.size() == 4);
  for (const auto& t : todos) {
    REQUIRE(t->user);
    CHECK(t->user->id == t->user_id);
  }
}

TEST_CASE("async: first and one_or_none load relationships too; owners without keys send nothing",
          "[async][relations]") {
  test::AsyncFixture fx;
  auto expected = seed(fx, 3, 2);
  fx.db.conn().exec("INSERT INTO users (email) VALUES ('lonely@example.com')");
  auto s = fx.session();
  std::shared_ptr<User> first, lonely;
  std::shared_ptr<User> none;
  std::uint64_t empty_statements = 0;
  fx.run([&]() -> awaitable<void> {
    first = co_await s.first(
        select<User>().order_by(col<&User::id>).options(selectin(&User::todos, &Todo::categories)));
    lonely = co_await s.one_or_none(select<User>()
                                        .where(col<&User::email> == "lonely@example.com")
                                        .options(selectin(&User::todos, &Todo::categories)));
    auto before = s.statements_executed();
    // No owner: one statement for the (empty) page, none for its relationships.
    auto nobody = co_await s.execute(select<User>()
                                         .where(col<&User::email> == "nobody@example.com")
                                         .options(selectin(&User::todos, &Todo::categories)));
    empty_statements = s.statements_executed() - before;
    if (!nobody.empty()) none = nobody.front();
  }());
  REQUIRE(first);
  std::vector<std::int32_t> ids;
  for (const auto& t : first->todos) ids.push_back(t->id);
  CHECK(ids == expected.at(first->id));
  REQUIRE(lonely);
  CHECK(lonely->todos.size() == 0);  // loaded, and empty
  CHECK(empty_statements == 1);
  CHECK(!none);
}

TEST_CASE("async: a relationship that was not loaded is an error, never a query",
          "[async][relations]") {
  test::AsyncFixture fx;
  seed(fx, 1, 1);
  auto s = fx.session();
  std::shared_ptr<User> user;
  std::uint64_t statements = 0;
  fx.run([&]() -> awaitable<void> {
    user = co_await s.first(select<User>());
    statements = s.statements_executed();
  }());
  REQUIRE(user);
  CHECK_THROWS_AS(user->todos.size(), NotLoaded);
  CHECK(s.statements_executed() == statements);
}
