// How AsyncSession behaves when the server refused a statement of its transaction (mirrors
// tests/session/failure_test.cpp).
#include <catch2/catch.hpp>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

using test::new_user;

TEST_CASE("async: commit of a transaction that a caught error aborted throws TransactionRolledBack",
          "[async][session][failure]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  std::int64_t inserted = 0;
  bool not_null = false;
  bool rolled_back = false;
  bool open_after = true;
  fx.run([&]() -> awaitable<void> {
    inserted = co_await s.execute_sql("INSERT INTO users (email) VALUES ($1)", "good@example.com");
    not_null = co_await test::throws_as<NotNullViolation>(
        s.execute_sql("INSERT INTO users (email) VALUES (NULL)"));
    rolled_back = co_await test::throws_as<TransactionRolledBack>(s.commit());
    open_after = s.in_transaction();
  }());
  CHECK(inserted == 1);
  CHECK(not_null);
  CHECK(rolled_back);
  CHECK_FALSE(open_after);
  CHECK(fx.count("users") == 0);

  new_user(s, "after@example.com");
  fx.run([&]() -> awaitable<void> { co_await s.commit(); }());
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"after@example.com"});
}

// AsyncSession does not run relationship cascades or association writes yet: a flush that would
// need them is refused before anything is sent, instead of dropping the change.

TEST_CASE("async: a new child reached only through a collection is refused, not dropped",
          "[async][session][failure]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  User u;
  u.email = "parent@example.com";
  auto user = s.add(std::move(u));
  auto todo = std::make_shared<Todo>();
  todo->title = "reached through user->todos";
  user->todos.add(todo);
  std::string message;
  fx.run([&]() -> awaitable<void> {
    try {
      co_await s.commit();
    } catch (const NotSupportedError& e) {
      message = e.what();
    }
  }());
  CHECK_THAT(message, Catch::Contains("users.todos"));
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);
}

TEST_CASE("async: a soft delete whose cascade would soft-delete children is refused",
          "[async][session][failure]") {
  // Category::children cascades deletes; a soft delete is an UPDATE, which the database's
  // ON DELETE never sees, so only the session's cascade could reach the children.
  test::AsyncFixture fx;
  auto root = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('root', 'r') RETURNING id");
  fx.db.conn().exec("INSERT INTO categories (name, slug, parent_id) VALUES ('leaf', 'l', $1)",
                    root);
  auto s = fx.session();
  bool refused = false;
  fx.run([&]() -> awaitable<void> {
    auto category = co_await s.get<Category>(root);
    s.remove(category);
    refused = co_await test::throws_as<NotSupportedError>(s.commit());
  }());
  CHECK(refused);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM categories WHERE deleted_at IS NULL") ==
        2);
}

TEST_CASE("async: a hard delete the database cascades goes through", "[async][session]") {
  // todos.user_id is declared ON DELETE CASCADE: the database removes the children.
  test::AsyncFixture fx;
  auto uid = fx.insert_user("owner@example.com");
  fx.insert_todo(uid, "goes with its user");
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    s.remove(co_await s.get<User>(uid));
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 0);
  CHECK(fx.count("todos") == 0);
}

TEST_CASE("async: a many-to-many member added in memory is refused, not dropped",
          "[async][session][failure]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("tags@example.com");
  auto tid = fx.insert_todo(uid, "tagged");
  fx.db.conn().exec("INSERT INTO categories (name, slug) VALUES ('home', 'h')");
  auto s = fx.session();
  bool refused = false;
  fx.run([&]() -> awaitable<void> {
    auto todos = co_await s.execute(
        select<Todo>().where(col<&Todo::id> == tid).options(selectin(&Todo::categories)));
    auto categories = co_await s.execute(select<Category>());
    todos.at(0)->categories.add(categories.at(0));
    refused = co_await test::throws_as<NotSupportedError>(s.commit());
  }());
  CHECK(refused);
  CHECK(fx.count("todo_categories") == 0);
}

TEST_CASE("async: a stale row fails the commit before anything of it is committed",
          "[async][session][failure]") {
  // COMMIT must not ride with the UPDATEs whose row counts decide whether the flush failed.
  test::AsyncFixture fx;
  auto kept = fx.insert_user("kept@example.com");
  auto gone = fx.insert_user("gone@example.com");
  auto s = fx.session();
  bool stale = false;
  fx.run([&]() -> awaitable<void> {
    auto a = co_await s.get<User>(kept);
    auto b = co_await s.get<User>(gone);
    fx.db.conn().exec("DELETE FROM users WHERE id = $1", gone);
    a->email = "changed@example.com";
    b->email = "lost@example.com";
    stale = co_await test::throws_as<StaleDataError>(s.commit());
  }());
  CHECK(stale);
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"kept@example.com"});
}
