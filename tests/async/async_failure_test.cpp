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

TEST_CASE("async: a stale UPDATE is the error reported when a later statement of its batch fails",
          "[async][session][failure]") {
  // Mirrors the sync case: the UPDATE of a todo deleted elsewhere and the association row that
  // tags it share a pipeline segment; the association row fails its foreign key after the
  // UPDATE matched no row.
  test::AsyncFixture fx;
  auto uid = fx.insert_user("stale@example.com");
  auto tid = fx.insert_todo(uid, "deleted elsewhere");
  auto cid = fx.db.scalar<std::int32_t>(
      "INSERT INTO categories (name, slug) VALUES ('home', 'h') RETURNING id");
  auto s = fx.session();
  bool stale = false;
  std::string table;
  fx.run([&]() -> awaitable<void> {
    auto todos = co_await s.execute(
        select<Todo>().where(col<&Todo::id> == tid).options(selectin(&Todo::categories)));
    auto category = co_await s.get<Category>(cid);
    fx.db.conn().exec("DELETE FROM todos WHERE id = $1", tid);
    todos.at(0)->title = "changed";
    todos.at(0)->categories.add(category);
    try {
      co_await s.commit();
    } catch (const StaleDataError& e) {
      stale = true;
      table = e.table();
    }
  }());
  CHECK(stale);
  CHECK(table == "todos");
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("todos") == 0);
  CHECK(fx.count("todo_categories") == 0);
}
