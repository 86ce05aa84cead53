// The async pool under load, deadlines and cancellation, and a frozen network.
#include <catch2/catch.hpp>

#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "async/async_support.hpp"
#include "engine/server_view.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {
// Statements still running on the server whose text contains `tag` (tests run in parallel, so
// each one looks for a statement of its own).
std::int64_t running(test::TestSchema& db, std::string_view tag) {
  return db.scalar<std::int64_t>(fmt::format(
      "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{}%' AND "
      "pid <> pg_backend_pid()",
      tag));
}
}  // namespace

TEST_CASE("async: pg_sleep(10) with a 100 ms deadline is cancelled on the server", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  auto start = Clock::now();
  std::string sqlstate;
  fx.run([&]() -> awaitable<void> {
    co_await s.get<User>(1);  // warm connection
    try {
      co_await s.query<std::string>("SELECT pg_sleep(10)::text /* cancelled-read */",
                                    Timeout{100ms});
    } catch (const DeadlineExceeded& e) {
      sqlstate = e.sqlstate();
    }
  }());
  auto elapsed = Clock::now() - start;
  CHECK(sqlstate == "57014");
  CHECK(elapsed < 1s);
  CHECK(elapsed >= 100ms);
  CHECK(running(fx.db, "cancelled-read") == 0);
  // Raw SQL runs inside the session's transaction, which the cancel failed: roll it back. The
  // connection was drained to a clean state and goes back to the pool, not discarded.
  fx.run([&]() -> awaitable<void> {
    co_await s.rollback();
    auto answer = co_await s.query<std::int32_t>("SELECT 41 + 1");
    CHECK(answer == std::vector<std::int32_t>{42});
  }());
  CHECK(fx.async_engine.pool().stats().invalidated == 0);
  CHECK(fx.async_engine.pool().stats().created == 1);
}

TEST_CASE("async: a deadline inside a transaction leaves it failed until rollback", "[async]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    User u;
    u.email = "deadline@example.com";
    s.add(u);
    co_await s.flush();
    bool timed_out = co_await test::throws_as<DeadlineExceeded>(
        s.execute_sql("SELECT pg_sleep(10) /* cancelled-in-transaction */", Timeout{50ms}));
    CHECK(timed_out);
    co_await s.rollback();
    User v;
    v.email = "kept@example.com";
    s.add(v);
    co_await s.commit();
  }());
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"kept@example.com"});
  CHECK(running(fx.db, "cancelled-in-transaction") == 0);
}

TEST_CASE("async: a frozen network cannot hold a caller past its deadline", "[async]") {
  test::FreezableProxy proxy;
  test::AsyncFixture fx;
  AsyncEngineOptions options;
  options.cancel_grace = 200ms;
  AsyncEngine through_proxy(fx.io, proxy.conninfo(fx.db.conninfo()), options);
  AsyncSession s(through_proxy);
  fx.run([&]() -> awaitable<void> {
    auto one = co_await s.query<std::int32_t>("SELECT 1");
    CHECK(one == std::vector<std::int32_t>{1});
  }());
  proxy.freeze();
  auto start = Clock::now();
  bool timed_out = false;
  fx.run([&]() -> awaitable<void> {
    try {
      co_await s.query<std::int32_t>("SELECT 2", Timeout{300ms});
    } catch (const DeadlineExceeded&) {
      timed_out = true;
    }
  }());
  auto elapsed = Clock::now() - start;
  CHECK(timed_out);
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 300ms + 200ms + 300ms);  // deadline + cancel_grace + slack
  // The connection could not be drained: it was discarded, never reused.
  auto stats = through_proxy.pool().stats();
  CHECK(stats.open == 0);
  CHECK(stats.invalidated == 1);
  // A new connection through the frozen proxy cannot be opened either: the connect deadline holds.
  start = Clock::now();
  CHECK_THROWS_AS(fx.run([&]() -> awaitable<void> {
    co_await s.query<std::int32_t>("SELECT 3", Timeout{200ms});
  }()),
                  DeadlineExceeded);
  CHECK(Clock::now() - start < 1s);
}

TEST_CASE("async: a connection broken by the server fails with Disconnect, pre-ping replaces it",
          "[async]") {
  AsyncEngineOptions options;
  options.pool_pre_ping = true;
  options.application_name = "pgorm-prepinged";
  test::AsyncFixture fx(options);
  auto pid = [&] {
    auto s = fx.session();
    return fx.run([&]() -> awaitable<std::int32_t> {
      auto rows = co_await s.query<std::int32_t>("SELECT pg_backend_pid()");
      co_await s.close();
      co_return rows.front();
    }());
  }();
  fx.db.conn().exec("SELECT pg_terminate_backend($1)", pid);
  auto s = fx.session();
  auto other = fx.run([&]() -> awaitable<std::int32_t> {
    auto rows = co_await s.query<std::int32_t>("SELECT pg_backend_pid()");
    co_return rows.front();
  }());
  CHECK(other != pid);
  CHECK(fx.async_engine.pool().stats().invalidated == 1);
}

// A server restart, as the pool sees it: every backend of the pool is terminated at once. The
// first session meets a dead connection; its Disconnect invalidates the two idle connections
// opened before it, so the next sessions get a new connection instead of failing too.
TEST_CASE(
    "async: after a server restart only the first request fails, not one per pooled "
    "connection",
    "[async]") {
  AsyncEngineOptions options;
  options.pool_size = 3;
  options.max_overflow = 0;
  options.pool_pre_ping = false;
  test::AsyncFixture fx(options);
  auto uid = fx.insert_user("restart@example.com");
  auto pids = fx.run([&]() -> awaitable<std::vector<int>> {
    auto a = co_await fx.async_engine.connect();
    auto b = co_await fx.async_engine.connect();
    auto c = co_await fx.async_engine.connect();
    co_return std::vector<int>{a->backend_pid(), b->backend_pid(), c->backend_pid()};
  }());
  REQUIRE(fx.async_engine.pool().stats().idle == 3);
  for (int pid : pids) test::kill_backend(fx.db, pid);

  std::vector<std::string> outcomes;
  for (int i = 0; i < 3; ++i) {
    auto s = fx.session();
    outcomes.push_back(fx.run([&]() -> awaitable<std::string> {
      try {
        auto user = co_await s.get<User>(uid);
        co_return user ? user->email : "no user";
      } catch (const Disconnect&) {
      }
      co_return "Disconnect";
    }()));
  }
  CHECK(outcomes ==
        std::vector<std::string>{"Disconnect", "restart@example.com", "restart@example.com"});
  auto stats = fx.async_engine.pool().stats();
  CHECK(stats.pool_invalidations == 1);
  CHECK(stats.invalidated == 3);  // the broken one, then the two stale idle ones at checkout
  CHECK(stats.created == 4);      // the third session reused the one the second opened
  CHECK(stats.open == 1);
}

TEST_CASE("async: checkout waits without blocking the event loop and times out", "[async]") {
  AsyncEngineOptions options;
  options.pool_size = 1;
  options.max_overflow = 0;
  options.pool_timeout = 150ms;
  test::AsyncFixture fx(options);
  int ticks = 0;
  fx.run([&]() -> awaitable<void> {
    auto held = co_await fx.async_engine.connect();
    // A timer on the same thread keeps firing while the checkout below waits.
    asio::co_spawn(
        fx.io,
        [&]() -> awaitable<void> {
          asio::steady_timer t(fx.io);
          for (int i = 0; i < 5; ++i) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
            ++ticks;
          }
        },
        asio::detached);
    auto start = Clock::now();
    bool pool_timeout = co_await test::throws_as<PoolTimeout>(fx.async_engine.connect());
    CHECK(pool_timeout);
    CHECK(Clock::now() - start >= 150ms);
    bool deadline =
        co_await test::throws_as<DeadlineExceeded>(fx.async_engine.connect(Clock::now() + 20ms));
    CHECK(deadline);
  }());
  CHECK(ticks == 5);
  auto stats = fx.async_engine.pool().stats();
  CHECK(stats.timeouts == 1);
  CHECK(stats.open == 1);
}

TEST_CASE("async: 1000 concurrent coroutines on a pool of 5 all complete within its limits",
          "[async][concurrency]") {
  AsyncEngineOptions options;
  options.pool_size = 5;
  options.max_overflow = 0;
  options.application_name = "pgorm-async-load";
  test::AsyncFixture fx(options);
  constexpr int kWorkers = 1000;
  std::atomic<int> done{0}, failed{0};
  std::atomic<std::size_t> most_open{0};
  auto worker = [&](int i) -> awaitable<void> {
    try {
      AsyncSession s(fx.async_engine);
      User u;
      u.email = fmt::format("load{}@example.com", i);
      s.add(u);
      co_await s.commit();
      auto found = co_await s.count(select<User>().where(col<&User::email> == u.email));
      if (found != 1) throw std::runtime_error("row not found");
      co_await s.close();
      std::size_t open = fx.async_engine.pool().stats().open;
      std::size_t seen = most_open.load();
      while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
      }
      ++done;
    } catch (...) {
      ++failed;
    }
  };
  for (int i = 0; i < kWorkers; ++i)
    asio::co_spawn(asio::make_strand(fx.io), worker(i), asio::detached);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { fx.io.run(); });
  // Meanwhile, the server never sees more than 5 of the pool's connections.
  std::int64_t most_backends = 0;
  while (done + failed < kWorkers) {
    most_backends = std::max(
        most_backends, fx.db.scalar<std::int64_t>("SELECT count(*) FROM pg_stat_activity WHERE "
                                                  "application_name = 'pgorm-async-load'"));
    std::this_thread::sleep_for(5ms);
  }
  for (auto& t : threads) t.join();
  CHECK(done == kWorkers);
  CHECK(failed == 0);
  CHECK(most_open <= 5);
  CHECK(most_backends <= 5);
  CHECK(fx.count("users") == kWorkers);
  auto stats = fx.async_engine.pool().stats();
  CHECK(stats.created <= 5);
  CHECK(stats.checked_out == 0);
  CHECK(stats.checkouts >= kWorkers);
}

TEST_CASE("async: calls gathered on one session share its connection and one round trip",
          "[async]") {
  test::AsyncFixture fx;
  for (int i = 0; i < 50; ++i) fx.insert_user(fmt::format("g{}@example.com", i));
  auto s = fx.session();
  auto ids = fx.db.conn().query<std::int32_t>("SELECT id FROM users ORDER BY id");
  std::uint64_t before = 0;
  fx.run([&]() -> awaitable<void> {
    co_await s.count(select<User>());  // check the connection out first
    before = s.round_trips();
    auto [a, b, c, d] = co_await gather(s.get<User>(ids[0]), s.get<User>(ids[1]),
                                        s.get<User>(ids[2]), s.count(select<User>()));
    CHECK(a->email == "g0@example.com");
    CHECK(d == 50);
    (void)b;
    (void)c;
  }());
  CHECK(s.round_trips() - before == 1);
}
