// AsyncSession::commit(Timeout{...}) when the deadline passes: it returns normally when COMMIT
// succeeded, throws DeadlineExceeded only when nothing was committed, and TransactionInDoubt when
// nobody can know. Each case reads back what the server committed.
#include <catch2/catch.hpp>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// An engine that reaches the test server through a proxy the test can slow down or freeze.
struct ProxiedFixture : test::AsyncFixture {
  test::FreezableProxy proxy;
  AsyncEngine proxied;
  explicit ProxiedFixture(std::chrono::milliseconds cancel_grace)
      : proxied(io, proxy.conninfo(db.conninfo()), options(cancel_grace)) {}
  static AsyncEngineOptions options(std::chrono::milliseconds cancel_grace) {
    AsyncEngineOptions o;
    o.cancel_grace = cancel_grace;
    return o;
  }
};

struct Outcome {
  bool returned = false;
  bool deadline_exceeded = false;
  bool in_doubt = false;
  std::string message;
};

awaitable<void> commit_into(AsyncSession& s, std::chrono::milliseconds timeout, Outcome& out) {
  try {
    co_await s.commit(Timeout{timeout});
    out.returned = true;
  } catch (const TransactionInDoubt& e) {
    out.in_doubt = true;
    out.message = e.what();
  } catch (const DeadlineExceeded& e) {
    out.deadline_exceeded = true;
    out.message = e.what();
  }
}

}  // namespace

TEST_CASE("async commit: COMMIT that succeeded with a late answer returns normally",
          "[async][deadline][session]") {
  ProxiedFixture fx(2s);
  AsyncSession s(fx.proxied);
  Outcome out;
  std::shared_ptr<User> user;
  fx.run([&]() -> awaitable<void> {
    co_await s.begin();  // connected at full speed
    fx.proxy.delay_replies(400ms);
    user = test::new_user(s, "late-answer@example.com");
    co_await commit_into(s, 200ms, out);  // INSERT and COMMIT in one segment, answered late
    fx.proxy.delay_replies(0ms);
  }());
  CHECK(out.returned);
  CHECK_FALSE(out.deadline_exceeded);
  CHECK_FALSE(out.in_doubt);
  CHECK(user->id != 0);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = $1",
                                   "late-answer@example.com") == 1);
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("async commit: COMMIT cancelled on the server throws DeadlineExceeded, nothing committed",
          "[async][deadline][session]") {
  test::AsyncFixture fx;
  test::add_slow_commit_trigger(fx.db.conn());
  auto s = fx.session();
  Outcome out;
  fx.run([&]() -> awaitable<void> {
    test::new_user(s, "cancelled@example.com");
    co_await commit_into(s, 200ms, out);
  }());
  CHECK(out.deadline_exceeded);
  CHECK_THAT(out.message, Catch::Contains("nothing of it was committed"));
  CHECK(fx.count("users") == 0);
  // Retrying is safe: the session goes on, and the retry commits once.
  fx.db.conn().execute_script("DROP TRIGGER slow_commit ON users");
  fx.run([&]() -> awaitable<void> {
    test::new_user(s, "cancelled@example.com");
    co_await s.commit();
  }());
  CHECK(fx.count("users") == 1);
}

TEST_CASE("async commit: a deadline during the flush's UPDATE throws DeadlineExceeded",
          "[async][deadline][session]") {
  test::AsyncFixture fx;
  auto uid = fx.insert_user("before@example.com");
  fx.db.conn().execute_script(R"sql(
    CREATE FUNCTION slow_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;
    CREATE TRIGGER slow_update BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION slow_update();
  )sql");
  auto s = fx.session();
  Outcome out;
  fx.run([&]() -> awaitable<void> {
    auto user = co_await s.get<User>(uid);
    user->email = "after@example.com";
    test::new_user(s, "also-not@example.com");
    co_await commit_into(s, 200ms, out);
  }());
  CHECK(out.deadline_exceeded);
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"before@example.com"});
}

TEST_CASE("async commit: a network frozen during COMMIT gives TransactionInDoubt",
          "[async][deadline][session]") {
  ProxiedFixture fx(150ms);
  AsyncSession s(fx.proxied);
  Outcome out;
  fx.run([&]() -> awaitable<void> {
    co_await s.begin();
    test::new_user(s, "unknown@example.com");
    fx.proxy.freeze();
    co_await commit_into(s, 200ms, out);
  }());
  CHECK(out.in_doubt);
  CHECK_FALSE(out.deadline_exceeded);
  CHECK_THAT(out.message, Catch::Contains("may or may not have been committed"));
  CHECK_FALSE(s.in_transaction());
  // The frozen proxy never passed COMMIT on: here the answer, read on a connection of its own, is
  // "not committed"; the session could not know that.
  CHECK(fx.count("users") == 0);
}
