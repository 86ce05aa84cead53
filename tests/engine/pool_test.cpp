// Pool behaviour checked against the server: limits under contention, timeouts, overflow, dead
// connections, pool invalidation, recycling, reset on return, dispose and checkout order.
// Connections are counted in pg_stat_activity by the engine's application_name (each test has its
// own).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/server_view.hpp"
#include "support/db.hpp"
#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace std::chrono_literals;

namespace {

template <class T>
void raise_to(std::atomic<T>& maximum, T value) {
  T seen = maximum.load();
  while (seen < value && !maximum.compare_exchange_weak(seen, value)) {
  }
}

EngineOptions sized(const test::TestSchema& db, std::size_t pool_size, std::size_t max_overflow) {
  EngineOptions options = test::named_after(db);
  options.pool_size = pool_size;
  options.max_overflow = max_overflow;
  return options;
}

}  // namespace

// Distinct pids over the whole run may exceed the limit when overflow connections are closed on
// return and opened again later; what must hold is the number in use at any one moment.
TEST_CASE("pool_size + max_overflow bounds the connections in use however many threads ask",
          "[engine][concurrency]") {
  auto [pool_size, max_overflow] = GENERATE(std::pair<std::size_t, std::size_t>{2, 2},
                                            std::pair<std::size_t, std::size_t>{4, 0});
  test::TestSchema db;
  EngineOptions options = sized(db, pool_size, max_overflow);
  options.pool_timeout = 20s;
  Engine engine(db.conninfo(), options);
  constexpr int kThreads = 8;
  constexpr int kCheckoutsEach = 50;
  const std::size_t limit = pool_size + max_overflow;

  std::atomic<std::size_t> max_checked_out{0};
  std::atomic<int> failures{0};
  std::mutex pids_mutex;
  std::set<int> held;  // server pids of the connections held right now
  std::size_t max_held = 0;
  int shared = 0;  // a pid held by two threads at once: one connection handed out twice
  std::set<int> all_pids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCheckoutsEach; ++i) {
        try {
          auto connection = engine.connect();
          raise_to(max_checked_out, engine.pool().stats().checked_out);
          int pid = test::server_pid(*connection);
          {
            std::lock_guard lock(pids_mutex);
            if (!held.insert(pid).second) ++shared;
            max_held = std::max(max_held, held.size());
            all_pids.insert(pid);
          }
          std::this_thread::sleep_for(500us);
          std::lock_guard lock(pids_mutex);
          held.erase(pid);
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  CHECK(failures == 0);
  CHECK(shared == 0);
  CHECK(max_held <= limit);
  CHECK(max_checked_out <= limit);
  PoolStats stats = engine.pool().stats();
  CHECK(stats.waits > 0);  // the threads did compete for connections
  CHECK(stats.checkouts == kThreads * kCheckoutsEach);
  CHECK(stats.checked_out == 0);
  CHECK(all_pids.size() <= stats.created);
  if (max_overflow == 0) CHECK(all_pids.size() <= limit);  // nothing was ever closed
  CHECK(stats.open <= pool_size);  // overflow connections were closed on return
  CHECK(stats.idle == stats.open);
  CHECK(test::settled_connections_named(db, db.name(), stats.open) ==
        static_cast<std::int64_t>(stats.open));
}

TEST_CASE("checkout gives up with PoolTimeout after pool_timeout when all connections are in use",
          "[engine][concurrency]") {
  test::TestSchema db;
  EngineOptions options = sized(db, 1, 1);
  options.pool_timeout = 200ms;
  Engine engine(db.conninfo(), options);
  auto first = engine.connect();
  auto second = engine.connect();
  CHECK(test::connections_named(db, db.name()) == 2);

  std::string message;
  auto start = std::chrono::steady_clock::now();
  try {
    engine.connect();
    FAIL("checkout did not time out");
  } catch (const PoolTimeout& e) {
    message = e.what();
  }
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 200ms);
  CHECK(waited < 2s);
  CHECK_THAT(message, Catch::Contains("2 of 2 connections checked out") &&
                          Catch::Contains("pool_size 1 + max_overflow 1") &&
                          Catch::Contains("200 ms"));
  PoolStats stats = engine.pool().stats();
  CHECK(stats.timeouts == 1);
  CHECK(stats.waits == 1);
  CHECK(stats.checked_out == 2);
  // The two held connections are unharmed.
  CHECK(test::server_pid(*first) != test::server_pid(*second));
}

TEST_CASE("returning a connection hands it to a thread waiting for one", "[engine][concurrency]") {
  test::TestSchema db;
  EngineOptions options = sized(db, 1, 0);
  options.pool_timeout = 10s;
  Engine engine(db.conninfo(), options);
  auto held = engine.connect();
  int pid = test::server_pid(*held);

  std::atomic<int> waiter_pid{0};
  std::thread waiter([&] {
    try {
      auto connection = engine.connect();
      waiter_pid = test::server_pid(*connection);
    } catch (...) {
      waiter_pid = -1;
    }
  });
  auto give_up = std::chrono::steady_clock::now() + 5s;
  while (engine.pool().stats().waits == 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  CHECK(engine.pool().stats().waits == 1);
  held.release();
  waiter.join();

  CHECK(waiter_pid == pid);
  CHECK(engine.pool().stats().created == 1);
  CHECK(engine.pool().stats().timeouts == 0);
}

TEST_CASE("overflow connections are closed when they are returned", "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), sized(db, 1, 2));
  {
    auto a = engine.connect();
    auto b = engine.connect();
    auto c = engine.connect();
    CHECK(test::connections_named(db, db.name()) == 3);
    PoolStats stats = engine.pool().stats();
    CHECK(stats.open == 3);
    CHECK(stats.overflow == 2);
    CHECK(stats.checked_out == 3);
  }
  CHECK(test::settled_connections_named(db, db.name(), 1) == 1);
  PoolStats stats = engine.pool().stats();
  CHECK(stats.open == 1);
  CHECK(stats.idle == 1);
  CHECK(stats.overflow == 0);
}

TEST_CASE("pre_ping silently replaces a connection the server has killed", "[engine]") {
  test::TestSchema db;
  EngineOptions options = sized(db, 1, 0);
  options.pool_pre_ping = true;
  Engine engine(db.conninfo(), options);
  int first = 0;
  {
    auto connection = engine.connect();
    first = test::server_pid(*connection);
  }
  test::kill_backend(db, first);

  auto connection = engine.connect();
  int second = test::server_pid(*connection);
  CHECK(second != first);
  CHECK(second == connection->backend_pid());
  PoolStats stats = engine.pool().stats();
  CHECK(stats.invalidated == 1);
  CHECK(stats.created == 2);
  CHECK(stats.open == 1);
}

TEST_CASE("without pre_ping a killed connection raises Disconnect once and is then discarded",
          "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), sized(db, 1, 0));
  int first = 0;
  {
    auto connection = engine.connect();
    first = test::server_pid(*connection);
  }
  test::kill_backend(db, first);
  {
    auto connection = engine.connect();
    CHECK(connection->backend_pid() == first);  // the dead one: nothing checked it
    CHECK_THROWS_AS(connection->exec("SELECT 1"), Disconnect);
    CHECK(connection->is_broken());
  }
  PoolStats stats = engine.pool().stats();
  CHECK(stats.invalidated == 1);
  CHECK(stats.open == 0);

  auto connection = engine.connect();
  int second = test::server_pid(*connection);
  CHECK(second != first);
  CHECK(engine.pool().stats().created == 2);
}

TEST_CASE("an invalidated connection is closed instead of returned", "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), sized(db, 2, 0));
  int pid = 0;
  {
    auto connection = engine.connect();
    pid = test::server_pid(*connection);
    connection.invalidate();
  }
  CHECK(test::eventually<std::int64_t>(
            db, 0, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 0);
  PoolStats stats = engine.pool().stats();
  CHECK(stats.invalidated == 1);
  CHECK(stats.open == 0);
}

TEST_CASE("pool_recycle replaces a connection older than the limit at checkout", "[engine]") {
  test::TestSchema db;
  EngineOptions options = sized(db, 1, 0);
  options.pool_recycle = 50ms;
  Engine engine(db.conninfo(), options);
  int first = 0;
  {
    auto connection = engine.connect();
    first = test::server_pid(*connection);
  }
  {
    auto young = engine.connect();
    CHECK(test::server_pid(*young) == first);
  }
  std::this_thread::sleep_for(80ms);

  auto connection = engine.connect();
  CHECK(test::server_pid(*connection) != first);
  CHECK(engine.pool().stats().recycled == 1);
  CHECK(engine.pool().stats().invalidated == 0);
  CHECK(test::eventually<std::int64_t>(
            db, 0, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first) == 0);
}

TEST_CASE("a connection returned inside a transaction is rolled back", "[engine]") {
  test::TestSchema db;
  db.conn().execute_script("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)");
  Engine engine(db.conninfo(), sized(db, 1, 0));
  int pid = 0;
  {
    auto connection = engine.connect();
    pid = test::server_pid(*connection);
    connection->execute("BEGIN");
    connection->exec("INSERT INTO notes (body) VALUES ($1)", "draft");
    CHECK(connection->transaction_status() == TransactionStatus::in_transaction);
  }
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM notes") == 0);
  CHECK(db.scalar<std::string>("SELECT state FROM pg_stat_activity WHERE pid = $1", pid) == "idle");

  auto connection = engine.connect();
  CHECK(connection->backend_pid() == pid);  // kept, not replaced
  CHECK(connection->transaction_status() == TransactionStatus::idle);
  CHECK(connection->exec("SELECT count(*) FROM notes").value<std::int64_t>(0, 0) == 0);
}

TEST_CASE(
    "dispose closes idle connections, closes checked-out ones on return, and the pool "
    "keeps working",
    "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), sized(db, 2, 0));
  std::set<int> old_pids;
  {
    auto a = engine.connect();
    auto b = engine.connect();
    old_pids = {test::server_pid(*a), test::server_pid(*b)};
  }
  CHECK(engine.pool().stats().idle == 2);
  auto held = engine.connect();

  engine.dispose();
  CHECK(test::settled_connections_named(db, db.name(), 1) == 1);
  CHECK(engine.pool().stats().idle == 0);
  CHECK(test::server_pid(*held) != 0);  // the checked-out one still works until returned

  held.release();
  CHECK(test::settled_connections_named(db, db.name(), 0) == 0);
  CHECK(engine.pool().stats().open == 0);

  auto fresh = engine.connect();
  CHECK(old_pids.count(test::server_pid(*fresh)) == 0);
  CHECK(engine.pool().stats().created == 3);
}

TEST_CASE("lifo reuses the most recently returned connection, fifo the longest idle", "[engine]") {
  auto order = GENERATE(PoolOptions::Order::lifo, PoolOptions::Order::fifo);
  test::TestSchema db;
  EngineOptions options = sized(db, 2, 0);
  options.pool_order = order;
  Engine engine(db.conninfo(), options);
  auto a = engine.connect();
  auto b = engine.connect();
  int pid_a = test::server_pid(*a);
  int pid_b = test::server_pid(*b);
  a.release();
  b.release();

  auto next = engine.connect();
  CHECK(test::server_pid(*next) == (order == PoolOptions::Order::lifo ? pid_b : pid_a));
}

TEST_CASE("a connection checked out of a pool that is gone is closed on return", "[engine]") {
  test::TestSchema db;
  std::string conninfo =
      Url::parse(db.conninfo()).set_param("application_name", db.name()).conninfo();
  PooledConnection survivor;
  int pid = 0;
  {
    Pool pool([&] { return std::make_unique<Connection>(conninfo); });
    survivor = pool.checkout();
    pid = test::server_pid(*survivor);
  }
  CHECK(test::server_pid(*survivor) == pid);  // still usable while held
  survivor.release();
  CHECK_FALSE(survivor);
  CHECK_THROWS_AS(survivor.get(), InterfaceError);
  CHECK(test::settled_connections_named(db, db.name(), 0) == 0);
}

TEST_CASE("a connection that cannot be opened frees its slot", "[engine]") {
  test::TestSchema db;
  std::string conninfo =
      Url::parse(db.conninfo()).set_param("application_name", db.name()).conninfo();
  int attempts = 0;
  PoolOptions options;
  options.pool_size = 1;
  options.max_overflow = 0;
  options.pool_timeout = 100ms;
  Pool pool(
      [&]() -> std::unique_ptr<Connection> {
        if (++attempts == 1) return std::make_unique<Connection>("host=localhost port=1");
        return std::make_unique<Connection>(conninfo);
      },
      options);

  CHECK_THROWS_AS(pool.checkout(), Disconnect);
  CHECK(pool.stats().open == 0);
  CHECK(pool.stats().checked_out == 0);

  auto connection = pool.checkout();  // not a PoolTimeout: the failed attempt gave its slot back
  CHECK(test::server_pid(*connection) > 0);
  CHECK(test::connections_named(db, db.name()) == 1);
}

// A server restart, as the pool sees it: every backend of the pool is terminated at once. The
// first session meets a dead connection; its Disconnect invalidates the two idle connections
// opened before it, so the next sessions get a new connection instead of failing too.
TEST_CASE("after a server restart only the first request fails, not one per pooled connection",
          "[engine]") {
  test::TestSchema db;
  test::session_models().create_all(db.conn());
  auto uid = db.scalar<std::int32_t>(
      "INSERT INTO users (email) VALUES ('restart@example.com') RETURNING id");
  EngineOptions options = sized(db, 3, 0);
  options.pool_pre_ping = false;
  Engine engine(db.conninfo(), options);
  std::vector<int> pids;
  {
    auto a = engine.connect();
    auto b = engine.connect();
    auto c = engine.connect();
    for (auto* held : {&a, &b, &c}) pids.push_back(test::server_pid(**held));
  }
  REQUIRE(engine.pool().stats().idle == 3);
  for (int pid : pids) test::kill_backend(db, pid);

  std::vector<std::string> outcomes;
  for (int i = 0; i < 3; ++i) {
    try {
      Session s(engine);
      auto user = s.get<testmodels::User>(uid);
      outcomes.push_back(user ? user->email : "no user");
    } catch (const Disconnect&) {
      outcomes.push_back("Disconnect");
    }
  }
  CHECK(outcomes ==
        std::vector<std::string>{"Disconnect", "restart@example.com", "restart@example.com"});
  PoolStats stats = engine.pool().stats();
  CHECK(stats.pool_invalidations == 1);
  CHECK(stats.invalidated == 3);  // the broken one, then the two stale idle ones at checkout
  CHECK(stats.created == 4);      // the third session reused the one the second opened
  CHECK(stats.open == 1);
  CHECK(test::settled_connections_named(db, db.name(), 1) == 1);
}

TEST_CASE("a connection checked out before a pool invalidation is closed when returned",
          "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), sized(db, 2, 0));
  auto healthy = engine.connect();
  int healthy_pid = test::server_pid(*healthy);
  {
    auto broken = engine.connect();
    test::kill_backend(db, test::server_pid(*broken));
    CHECK_THROWS_AS(broken->exec("SELECT 1"), Disconnect);
  }
  CHECK(engine.pool().stats().pool_invalidations == 1);
  CHECK(test::server_pid(*healthy) == healthy_pid);  // still usable while held
  healthy.release();
  PoolStats stats = engine.pool().stats();
  CHECK(stats.invalidated == 2);
  CHECK(stats.open == 0);
  CHECK(test::eventually<std::int64_t>(
            db, 0, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", healthy_pid) == 0);

  // A connection opened after the invalidation is kept and reused.
  int fresh_pid = 0;
  {
    auto fresh = engine.connect();
    fresh_pid = test::server_pid(*fresh);
  }
  auto again = engine.connect();
  CHECK(test::server_pid(*again) == fresh_pid);
  CHECK(engine.pool().stats().created == 3);
}
