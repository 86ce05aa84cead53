// The engine hooks on the async engine: the same events as the sync engine (tests/engine/
// hooks_test.cpp), read against what the server reports.
#include <catch2/catch.hpp>

#include <mutex>
#include <stdexcept>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

namespace {

// What the hooks saw, copied out of the events (which live only during the call).
struct Seen {
  struct Statement {
    std::string sql;
    std::size_t parameters = 0;
    std::uint64_t connection = 0;
    int pid = 0;
    std::uint64_t session = 0;
    std::uint64_t number = 0;
    std::int64_t rows = -1;
    std::string error;
    bool after = false;
  };
  std::mutex mutex;
  std::vector<Statement> statements;
  std::vector<std::string>
      connections;  // "connect 3", "checkout 3", "checkin 3", "invalidate 3: why"

  void add(const StatementEvent& e, bool after) {
    std::lock_guard lock(mutex);
    statements.push_back({std::string(e.sql), e.parameter_count, e.connection_id, e.backend_pid,
                          e.session_id, e.statement_number, e.rows, e.error ? e.error->what() : "",
                          after});
  }
  void add(std::string_view what, const ConnectionEvent& e) {
    std::lock_guard lock(mutex);
    connections.push_back(
        fmt::format("{} {}{}{}", what, e.connection_id, e.reason.empty() ? "" : ": ", e.reason));
  }
  std::vector<Statement> after_events() {
    std::lock_guard lock(mutex);
    std::vector<Statement> out;
    for (const auto& s : statements)
      if (s.after) out.push_back(s);
    return out;
  }
};

EngineOptions observed(Seen& seen) {
  EngineOptions o;
  o.hooks.before_statement = [&seen](const StatementEvent& e) { seen.add(e, false); };
  o.hooks.after_statement = [&seen](const StatementEvent& e) { seen.add(e, true); };
  o.hooks.on_connect = [&seen](const ConnectionEvent& e) { seen.add("connect", e); };
  o.hooks.on_checkout = [&seen](const ConnectionEvent& e) { seen.add("checkout", e); };
  o.hooks.on_checkin = [&seen](const ConnectionEvent& e) { seen.add("checkin", e); };
  o.hooks.on_invalidate = [&seen](const ConnectionEvent& e) { seen.add("invalidate", e); };
  return o;
}

}  // namespace

TEST_CASE("async: statement hooks see each statement once, with rows, session and server pid",
          "[async][hooks]") {
  Seen seen;
  test::AsyncFixture fx(observed(seen));
  fx.insert_users_with_todos(3, 0);
  auto s = fx.session();
  std::int32_t pid = 0;
  std::vector<std::string> emails;
  fx.run([&]() -> awaitable<void> {
    auto users = co_await s.execute(select<User>().order_by(col<&User::id>));
    for (auto& u : users) emails.push_back(u->email);
    for (auto& u : users) u->email += ".changed";
    co_await s.commit();
    auto pids = co_await s.query<std::int32_t>("SELECT pg_backend_pid()");
    pid = pids.at(0);
    co_await s.commit();
  }());
  REQUIRE(emails.size() == 3);
  auto after = seen.after_events();
  {
    std::lock_guard lock(seen.mutex);
    // Every before has its after.
    CHECK(seen.statements.size() == 2 * after.size());
  }
  REQUIRE_FALSE(after.empty());
  int selects = 0, updates = 0;
  std::uint64_t last_number = 0;
  for (const auto& e : after) {
    CHECK(e.session == s.id());
    CHECK(e.pid == pid);
    CHECK(e.error.empty());
    CHECK(e.number > last_number);  // one connection: its counter only grows
    last_number = e.number;
    if (e.sql.find("SELECT") == 0 && e.sql.find("\"users\"") != std::string::npos) {
      ++selects;
      CHECK(e.rows == 3);
    }
    if (e.sql.find("UPDATE \"users\"") == 0) {
      // The three users change the same column: one UPDATE ... FROM unnest of two arrays.
      ++updates;
      CHECK(e.rows == 3);
      CHECK(e.parameters == 2);
    }
  }
  CHECK(selects == 1);
  CHECK(updates == 1);
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email LIKE '%.changed'") == 3);
  std::lock_guard lock(seen.mutex);
  REQUIRE(seen.connections.size() >= 2);
  CHECK(seen.connections[0].rfind("connect ", 0) == 0);
  CHECK(seen.connections[1].rfind("checkout ", 0) == 0);
}

TEST_CASE("async: a failed statement and the ones skipped after it reach after_statement",
          "[async][hooks]") {
  Seen seen;
  test::AsyncFixture fx(observed(seen));
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  bool unique = false;
  fx.run([&]() -> awaitable<void> {
    test::new_user(s, "taken@example.com");
    test::new_user(s, "free@example.com");
    unique = co_await test::throws_as<UniqueViolation>(s.commit());
  }());
  CHECK(unique);
  CHECK(fx.count("users") == 1);
  auto after = seen.after_events();
  int failed = 0;
  for (const auto& e : after)
    if (e.error.find("duplicate key") != std::string::npos) ++failed;
  CHECK(failed >= 1);
  std::lock_guard lock(seen.mutex);
  CHECK(seen.statements.size() == 2 * after.size());
}

TEST_CASE("async: throwing hooks do not change what a session does", "[async][hooks]") {
  EngineOptions o;
  auto boom = [](const auto&) { throw std::runtime_error("hook failure"); };
  o.hooks.before_statement = boom;
  o.hooks.after_statement = boom;
  o.hooks.on_connect = boom;
  o.hooks.on_checkout = boom;
  o.hooks.on_checkin = boom;
  o.hooks.on_invalidate = boom;
  test::AsyncFixture fx(o);
  auto s = fx.session();
  fx.run([&]() -> awaitable<void> {
    test::new_user(s, "kept@example.com");
    co_await s.commit();
    co_await s.close();
  }());
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"kept@example.com"});
  CHECK(fx.async_engine.hook_failures() > 0);
}

TEST_CASE("async: an invalidated connection is reported with its reason", "[async][hooks]") {
  Seen seen;
  test::AsyncFixture fx(observed(seen));
  fx.run([&]() -> awaitable<void> {
    auto c = co_await fx.async_engine.connect();
    c.invalidate();
  }());
  // The return runs on the connection's strand.
  fx.run([&]() -> awaitable<void> { co_return; }());
  std::lock_guard lock(seen.mutex);
  bool reported = false;
  for (const auto& line : seen.connections)
    reported = reported || line.find("invalidated by its user") != std::string::npos;
  CHECK(reported);
  CHECK(fx.async_engine.pool().stats().invalidated == 1);
}

TEST_CASE("async: dispose() reports the connections it closes", "[async][hooks]") {
  Seen seen;
  test::AsyncFixture fx(observed(seen));
  fx.run([&]() -> awaitable<void> {
    auto idle = co_await fx.async_engine.connect();
    auto held = co_await fx.async_engine.connect();
    idle.release();
    fx.async_engine.dispose();  // the idle one now, the held one when it comes back
    held.release();
  }());
  fx.run([&]() -> awaitable<void> { co_return; }());
  std::lock_guard lock(seen.mutex);
  int disposed = 0;
  for (const auto& line : seen.connections)
    if (line.find("closed by dispose()") != std::string::npos) ++disposed;
  CHECK(disposed == 2);
}
