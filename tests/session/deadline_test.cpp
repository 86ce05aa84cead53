// Session::set_timeout / EngineOptions::default_timeout: a sync call that runs past its deadline
// is cancelled on the server. It returns normally when what it sent completed anyway, throws
// DeadlineExceeded when it certainly did not take effect, and TransactionInDoubt when nobody can
// know whether COMMIT committed. A frozen peer fails the call within timeout + cancel_grace. Each
// case reads back what the server holds.
#include <catch2/catch.hpp>

#include <chrono>

#include "async/async_support.hpp"  // test::FreezableProxy
#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

using test::new_user;

namespace {

using Clock = std::chrono::steady_clock;

// An engine that reaches the test server through a proxy the test can slow down or freeze.
struct Proxied {
  test::SessionFixture fx;
  test::FreezableProxy proxy;
  Engine engine;
  explicit Proxied(std::chrono::milliseconds cancel_grace, bool pre_ping = false)
      : engine(proxy.conninfo(fx.db.conninfo()), options(cancel_grace, pre_ping)) {}
  static EngineOptions options(std::chrono::milliseconds cancel_grace, bool pre_ping) {
    EngineOptions o;
    o.cancel_grace = cancel_grace;
    o.pool_pre_ping = pre_ping;
    o.pool_timeout = 300ms;
    o.connect_timeout = 1s;
    return o;
  }
  std::int64_t users(std::string_view email) {
    return fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = $1", email);
  }
};

}  // namespace

TEST_CASE("a statement still running at the session's timeout is cancelled: DeadlineExceeded",
          "[session][deadline]") {
  test::SessionFixture fx;
  auto s = fx.session();
  s.set_timeout(200ms);
  new_user(s, "slow@example.com");
  s.flush();
  auto t0 = Clock::now();
  try {
    s.execute_sql("SELECT pg_sleep(5)");
    FAIL("expected DeadlineExceeded");
  } catch (const DeadlineExceeded& e) {
    CHECK(e.sqlstate() == "57014");
    CHECK(std::string(e.what()).find("cancelled") != std::string::npos);
  }
  CHECK(Clock::now() - t0 < 2s);
  // The transaction is aborted: COMMIT says so, and nothing of it is stored.
  CHECK_THROWS_AS(s.commit(), TransactionRolledBack);
  CHECK(fx.count("users") == 0);
  // The connection was not lost: the session goes on.
  s.set_timeout(std::nullopt);
  new_user(s, "after@example.com");
  s.commit();
  CHECK(fx.count("users") == 1);
}

TEST_CASE("the engine's default_timeout applies to every session, and a session may lift it",
          "[session][deadline]") {
  EngineOptions o;
  o.default_timeout = 200ms;
  test::SessionFixture fx(o);
  auto s = fx.session();
  REQUIRE(s.timeout() == std::optional<std::chrono::milliseconds>(200ms));
  CHECK_THROWS_AS(s.query<std::string>("SELECT pg_sleep(1)::text"), DeadlineExceeded);
  s.rollback();
  s.set_timeout(std::nullopt);
  CHECK(s.query<std::string>("SELECT pg_sleep(0.3)::text").size() == 1);
}

TEST_CASE("COMMIT cancelled in a slow deferred trigger throws DeadlineExceeded, nothing committed",
          "[session][deadline]") {
  test::SessionFixture fx;
  test::add_slow_commit_trigger(fx.db.conn());
  auto s = fx.session();
  s.set_timeout(500ms);
  new_user(s, "deferred@example.com");
  try {
    s.commit();
    FAIL("expected DeadlineExceeded");
  } catch (const TransactionInDoubt&) {
    FAIL("the server answered the cancel: the outcome is known");
  } catch (const DeadlineExceeded& e) {
    CHECK(std::string(e.what()).find("nothing of it was committed") != std::string::npos);
  }
  CHECK_FALSE(s.in_transaction());
  CHECK(fx.count("users") == 0);
  // Retrying on DeadlineExceeded (with time enough) commits once.
  s.set_timeout(10s);
  new_user(s, "deferred@example.com");
  s.commit();
  CHECK(fx.count("users") == 1);
}

TEST_CASE("COMMIT that succeeded with a late answer returns normally", "[session][deadline]") {
  Proxied p(2s);
  Session s(p.engine);
  auto user = new_user(s, "late@example.com");
  s.flush();  // at full speed
  p.proxy.delay_replies(400ms);
  s.set_timeout(200ms);
  s.commit();  // answered 400 ms late; the cancel finds nothing to cancel
  p.proxy.delay_replies(0ms);
  CHECK(user->id != 0);
  CHECK(p.users("late@example.com") == 1);
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE(
    "a call whose deadline passed before it could send throws DeadlineExceeded, sends nothing",
    "[session][deadline]") {
  Proxied p(2s);
  Session s(p.engine);
  auto known = new_user(s, "first@example.com");
  s.commit();  // at full speed
  known->email = "changed@example.com";
  new_user(s, "second@example.com");
  s.set_timeout(200ms);
  // COMMIT waits for the UPDATE's row count (a stale row must fail the flush first), and the
  // flush's answers come late: the deadline passes before COMMIT can be sent, so it is not, and
  // the flush's transaction is rolled back.
  p.proxy.delay_replies(300ms);
  try {
    s.commit();
    FAIL("expected DeadlineExceeded");
  } catch (const TransactionInDoubt&) {
    FAIL("COMMIT was never sent: the outcome is known");
  } catch (const DeadlineExceeded&) {
  }
  p.proxy.delay_replies(0ms);
  CHECK(p.users("first@example.com") == 1);
  CHECK(p.users("changed@example.com") == 0);
  CHECK(p.users("second@example.com") == 0);
}

TEST_CASE("a frozen peer fails a sync call within timeout + cancel_grace",
          "[session][deadline]"
          "[concurrency]") {
  Proxied p(300ms);
  SECTION("a query: DeadlineExceeded, the connection discarded") {
    Session s(p.engine);
    CHECK(s.count(select<User>()) == 0);  // connected at full speed
    s.set_timeout(200ms);
    p.proxy.freeze();
    auto t0 = Clock::now();
    try {
      s.count(select<User>());
      FAIL("expected DeadlineExceeded");
    } catch (const DeadlineExceeded& e) {
      CHECK(std::string(e.what()).find("outcome of the statement is unknown") != std::string::npos);
    }
    CHECK(Clock::now() - t0 < 1500ms);
    CHECK(p.engine.pool().stats().invalidated >= 1);
  }
  SECTION("COMMIT: TransactionInDoubt") {
    Session s(p.engine);
    new_user(s, "frozen@example.com");
    s.flush();
    s.set_timeout(200ms);
    p.proxy.freeze();
    auto t0 = Clock::now();
    CHECK_THROWS_AS(s.commit(), TransactionInDoubt);
    CHECK(Clock::now() - t0 < 1500ms);
    CHECK_FALSE(s.in_transaction());
  }
  SECTION("pool_pre_ping of a pooled connection is bounded by pool_timeout") {
    Proxied pinged(300ms, true);
    {
      Session s(pinged.engine);
      CHECK(s.count(select<User>()) == 0);
    }
    pinged.proxy.freeze();
    auto t0 = Clock::now();
    // The ping is cut after pool_timeout + cancel_grace; the new connection the pool then opens
    // through the frozen proxy gives up after connect_timeout (libpq waits at least 2 s).
    Session s(pinged.engine);
    CHECK_THROWS_AS(s.count(select<User>()), OperationalError);
    CHECK(Clock::now() - t0 < 5s);
  }
}
