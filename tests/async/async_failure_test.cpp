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
