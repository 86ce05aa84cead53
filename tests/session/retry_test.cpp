// run_in_transaction: retries under SERIALIZABLE against the server, and a backoff that stays
// within max_backoff however many attempts fail.
#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

TEST_CASE("the retry backoff doubles from backoff and never exceeds max_backoff",
          "[unit][session]") {
  RetryOptions options;
  options.backoff = 10ms;
  options.max_backoff = 1000ms;
  CHECK(detail::retry_backoff(options, 1, 0.0) == 10ms);
  CHECK(detail::retry_backoff(options, 2, 0.0) == 20ms);
  CHECK(detail::retry_backoff(options, 3, 0.0) == 40ms);
  CHECK(detail::retry_backoff(options, 3, 1.0) == 80ms);  // jitter adds up to as much again
  CHECK(detail::retry_backoff(options, 7, 0.0) == 640ms);
  CHECK(detail::retry_backoff(options, 7, 1.0) == 1000ms);
  // Past 31 attempts a shift of an int would overflow; the cap holds instead.
  CHECK(detail::retry_backoff(options, 40, 0.0) == 1000ms);
  CHECK(detail::retry_backoff(options, 40, 1.0) == 1000ms);
  CHECK(detail::retry_backoff(options, 64, 0.5) == 1000ms);
  CHECK(detail::retry_backoff(options, std::numeric_limits<int>::max(), 1.0) == 1000ms);

  options.backoff = std::chrono::milliseconds::max();  // no overflow in the jitter either
  options.max_backoff = std::chrono::milliseconds::max();
  CHECK(detail::retry_backoff(options, 40, 1.0) == std::chrono::milliseconds::max());
  options.max_backoff = 5ms;
  CHECK(detail::retry_backoff(options, 1, 0.0) == 5ms);
  options.backoff = 0ms;
  CHECK(detail::retry_backoff(options, std::numeric_limits<int>::max(), 1.0) == 0ms);
  options.backoff = -3ms;
  CHECK(detail::retry_backoff(options, 2, 1.0) == 0ms);
}

// Write skew: each transaction archives one of two pending todos when it sees at least two
// pending, so that one stays pending. Under SERIALIZABLE the second transaction to commit fails
// with a serialization failure; its retry sees the other's write and leaves its todo alone.
TEST_CASE("a serialization failure under SERIALIZABLE is retried until the work succeeds",
          "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("skew@example.com");
  auto first = fx.insert_todo(uid, "first");
  auto second = fx.insert_todo(uid, "second");
  auto pending = [](Session& s) {
    return s.count(select<Todo>().where(col<&Todo::status> == TodoStatus::pending));
  };
  auto archive = [](Session& s, std::int32_t id) {
    s.execute(
        update<Todo>().set(col<&Todo::status>, TodoStatus::archived).where(col<&Todo::id> == id));
  };

  SessionFactory factory(fx.engine);
  RetryOptions options;
  options.attempts = 3;
  options.backoff = 1ms;
  options.isolation = IsolationLevel::serializable;
  int attempts = 0;
  std::string isolation;
  bool archived = run_in_transaction(
      factory,
      [&](Session& s) {
        ++attempts;
        isolation = s.query<std::string>("SHOW transaction_isolation").at(0);
        if (pending(s) < 2) return false;
        if (attempts == 1) {
          // Another session does the same between this one's read and its write, and commits.
          Session other = factory();
          auto scope = other.begin(IsolationLevel::serializable);
          REQUIRE(pending(other) == 2);
          archive(other, first);
          scope.commit();
        }
        archive(s, second);
        return true;
      },
      options);

  CHECK(attempts == 2);
  CHECK(isolation == "serializable");
  CHECK_FALSE(archived);  // the retry saw the other session's write
  CHECK(fx.db.scalar<std::string>("SELECT status::text FROM todos WHERE id = $1", first) ==
        "archived");
  CHECK(fx.db.scalar<std::string>("SELECT status::text FROM todos WHERE id = $1", second) ==
        "pending");
}

TEST_CASE("the last serialization failure propagates once the attempts are used up", "[session]") {
  test::SessionFixture fx;
  auto uid = fx.insert_user("conflict@example.com");
  auto todo = fx.insert_todo(uid, "contended");
  SessionFactory factory(fx.engine);
  RetryOptions options;
  options.attempts = 2;
  options.backoff = 1ms;
  options.isolation = IsolationLevel::repeatable_read;
  int attempts = 0;
  // Every attempt reads the row, then another session changes it before this one writes it.
  CHECK_THROWS_AS(
      run_in_transaction(
          factory,
          [&](Session& s) {
            ++attempts;
            REQUIRE(s.count(select<Todo>().where(col<&Todo::id> == todo)) == 1);
            fx.db.conn().exec("UPDATE todos SET title = $1 WHERE id = $2",
                              "changed " + std::to_string(attempts), todo);
            s.execute(update<Todo>().set(col<&Todo::title>, "mine").where(col<&Todo::id> == todo));
          },
          options),
      SerializationFailure);
  CHECK(attempts == 2);
  CHECK(fx.db.scalar<std::string>("SELECT title FROM todos WHERE id = $1", todo) == "changed 2");
}
