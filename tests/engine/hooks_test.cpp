// The engine's observability hooks (EngineHooks, echo, PoolStats::waiting / wait_time) checked
// against the server: what each hook receives for the statements of a session, a failing flush,
// the life of pooled connections, hooks that throw, echo's redaction, and waits for a connection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/server_view.hpp"
#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono_literals;

using test::new_user;

namespace {

// A StatementEvent copied out of the hook (its views and pointers are valid during the call only).
struct StatementSeen {
  std::string sql;
  std::size_t parameter_count = 0;
  std::vector<std::optional<std::string>> parameters;
  std::uint64_t connection_id = 0;
  int backend_pid = 0;
  std::uint64_t session_id = 0;
  std::uint64_t statement_number = 0;
  std::chrono::nanoseconds duration{0};
  std::int64_t rows = -1;
  std::string error;  // the error's class ("" on success)
  std::string error_message;
};

struct ConnectionSeen {
  std::uint64_t connection_id = 0;
  int backend_pid = 0;
  std::string reason;
};

// The most derived pgorm error class among those these tests provoke.
std::string error_class(const std::exception* e) {
  if (e == nullptr) return "";
  if (dynamic_cast<const UniqueViolation*>(e)) return "UniqueViolation";
  if (dynamic_cast<const Disconnect*>(e)) return "Disconnect";
  if (dynamic_cast<const InterfaceError*>(e)) return "InterfaceError";
  if (dynamic_cast<const Error*>(e)) return "Error";
  return "not a pgorm::Error";
}

StatementSeen copy_of(const StatementEvent& e) {
  StatementSeen s;
  s.sql = std::string(e.sql);
  s.parameter_count = e.parameter_count;
  for (std::size_t i = 0; e.parameter_values && i < e.parameter_count; ++i)
    s.parameters.push_back(e.parameter_values[i] ? std::optional<std::string>(e.parameter_values[i])
                                                 : std::nullopt);
  s.connection_id = e.connection_id;
  s.backend_pid = e.backend_pid;
  s.session_id = e.session_id;
  s.statement_number = e.statement_number;
  s.duration = e.duration;
  s.rows = e.rows;
  s.error = error_class(e.error);
  if (e.error) s.error_message = e.error->what();
  return s;
}

// Hooks that record everything they are told, thread-safely.
class Recorder {
 public:
  EngineHooks hooks() {
    EngineHooks h;
    h.on_connect = [this](const ConnectionEvent& e) { record(connects_, e); };
    h.on_checkout = [this](const ConnectionEvent& e) { record(checkouts_, e); };
    h.on_checkin = [this](const ConnectionEvent& e) { record(checkins_, e); };
    h.on_invalidate = [this](const ConnectionEvent& e) { record(invalidates_, e); };
    h.before_statement = [this](const StatementEvent& e) { record(before_, e); };
    h.after_statement = [this](const StatementEvent& e) { record(after_, e); };
    return h;
  }
  std::vector<StatementSeen> before() const { return copy(before_); }
  std::vector<StatementSeen> after() const { return copy(after_); }
  std::vector<ConnectionSeen> connects() const { return copy(connects_); }
  std::vector<ConnectionSeen> checkouts() const { return copy(checkouts_); }
  std::vector<ConnectionSeen> checkins() const { return copy(checkins_); }
  std::vector<ConnectionSeen> invalidates() const { return copy(invalidates_); }

 private:
  void record(std::vector<StatementSeen>& to, const StatementEvent& e) {
    StatementSeen seen = copy_of(e);
    std::lock_guard lock(mutex_);
    to.push_back(std::move(seen));
  }
  void record(std::vector<ConnectionSeen>& to, const ConnectionEvent& e) {
    std::lock_guard lock(mutex_);
    to.push_back({e.connection_id, e.backend_pid, std::string(e.reason)});
  }
  template <class T>
  std::vector<T> copy(const std::vector<T>& from) const {
    std::lock_guard lock(mutex_);
    return from;
  }
  mutable std::mutex mutex_;
  std::vector<StatementSeen> before_, after_;
  std::vector<ConnectionSeen> connects_, checkouts_, checkins_, invalidates_;
};

EngineOptions with_hooks(Recorder& recorder) {
  EngineOptions options;
  options.hooks = recorder.hooks();
  return options;
}

// Every before_statement has exactly one after_statement for the same statement, and nothing else.
void check_paired(const std::vector<StatementSeen>& before,
                  const std::vector<StatementSeen>& after) {
  CHECK(before.size() == after.size());
  std::map<std::pair<std::uint64_t, std::uint64_t>, const StatementSeen*> afters;
  for (const auto& a : after) {
    INFO("after_statement of " << a.sql);
    CHECK(afters.emplace(std::pair(a.connection_id, a.statement_number), &a).second);
  }
  for (const auto& b : before) {
    INFO("before_statement of " << b.sql);
    auto it = afters.find({b.connection_id, b.statement_number});
    REQUIRE(it != afters.end());
    CHECK(it->second->sql == b.sql);
    CHECK(it->second->parameter_count == b.parameter_count);
    CHECK(it->second->session_id == b.session_id);
    CHECK(it->second->backend_pid == b.backend_pid);
  }
}

const StatementSeen& find_sql(const std::vector<StatementSeen>& events, std::string_view prefix) {
  auto it = std::find_if(events.begin(), events.end(),
                         [&](const StatementSeen& e) { return e.sql.rfind(prefix, 0) == 0; });
  INFO("a statement starting with " << prefix);
  REQUIRE(it != events.end());
  return *it;
}

// Polls `done` every millisecond for up to 10 s; returns its last answer.
template <class F>
bool poll_until(F done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

// ---- statements ----

TEST_CASE("statement hooks see each statement of a session once before and once after, as sent",
          "[hooks]") {
  Recorder seen;
  test::SessionFixture fx(with_hooks(seen));
  auto alice = fx.insert_user("alice@example.com");
  fx.insert_user("bob@example.com");
  fx.insert_user("carol@example.com");
  fx.insert_todo(alice, "one");
  fx.insert_todo(alice, "two");

  auto s = fx.session();
  auto users_query =
      select<User>().where(col<&User::email> != "nobody@example.com").order_by(col<&User::id>);
  auto users = s.execute(users_query);
  REQUIRE(users.size() == 3);
  auto rename =
      update<Todo>().set(col<&Todo::title>, "renamed").where(col<&Todo::user_id> == alice);
  CHECK(s.execute(rename) == 2);
  users[1]->email = "robert@example.com";
  s.flush();
  const int pid = s.query<int>("SELECT pg_backend_pid()").at(0);
  s.commit();

  auto before = seen.before();
  auto after = seen.after();
  check_paired(before, after);

  const auto& selected = find_sql(after, users_query.statement().sql);
  CHECK(selected.sql == users_query.statement().sql);
  CHECK(selected.parameter_count == users_query.statement().params.size());
  CHECK(selected.rows == 3);
  CHECK(find_sql(before, users_query.statement().sql).parameters ==
        std::vector<std::optional<std::string>>{"nobody@example.com"});
  const auto& renamed = find_sql(after, rename.statement().sql);
  CHECK(renamed.parameter_count == rename.statement().params.size());
  CHECK(renamed.rows == 2);
  const auto& flushed = find_sql(after, "UPDATE \"users\"");
  CHECK(flushed.parameter_count >= 2);  // the new email and the key at least
  CHECK(flushed.rows == 1);
  CHECK(find_sql(after, "BEGIN").error.empty());
  CHECK(find_sql(after, "COMMIT").rows == -1);

  // One connection, whose server process is the one the server reports, numbering its statements.
  const auto checkouts = seen.checkouts();
  REQUIRE(checkouts.size() == 1);
  CHECK(checkouts[0].backend_pid == pid);
  std::uint64_t last_number = 0;
  for (const auto& a : after) {
    INFO(a.sql);
    CHECK(a.session_id == s.id());
    CHECK(a.connection_id == checkouts[0].connection_id);
    CHECK(a.backend_pid == pid);
    CHECK(a.statement_number > last_number);
    CHECK(a.duration.count() > 0);
    CHECK(a.error.empty());
    last_number = a.statement_number;
  }
  CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM todos WHERE title = 'renamed'") == 2);
  CHECK(fx.db.scalar<std::int32_t>("SELECT id FROM users WHERE email = 'robert@example.com'") ==
        users[1]->id);

  // Another session: another id, and the same pooled connection goes on counting.
  auto other = fx.session();
  CHECK(other.id() != s.id());
  other.execute(select<User>());
  auto later = seen.after();
  REQUIRE(later.size() == after.size() + 1);
  CHECK(later.back().session_id == other.id());
  CHECK(later.back().connection_id == checkouts[0].connection_id);
  CHECK(later.back().statement_number > last_number);
  CHECK(later.back().rows == 3);
  check_paired(seen.before(), later);
}

TEST_CASE("a failing statement is reported with its typed error", "[hooks]") {
  Recorder seen;
  test::SessionFixture fx(with_hooks(seen));
  fx.insert_user("taken@example.com");
  auto s = fx.session();
  CHECK_THROWS_AS(s.execute_sql("INSERT INTO users (email) VALUES ($1)", "taken@example.com"),
                  UniqueViolation);
  auto after = seen.after();
  const auto& failed = find_sql(after, "INSERT INTO users");
  CHECK(failed.error == "UniqueViolation");
  CHECK(failed.error_message.find("uq_users_email") != std::string::npos);
  CHECK(failed.rows == -1);
  CHECK(failed.duration.count() > 0);
  check_paired(seen.before(), after);
}

TEST_CASE("statements of a flush pipeline skipped after a failure are reported as not executed",
          "[hooks]") {
  Recorder seen;
  test::SessionFixture fx(with_hooks(seen));
  fx.insert_user("taken@example.com");
  auto other_id = fx.insert_user("other@example.com");
  auto s = fx.session();
  auto other = s.get<User>(other_id);
  REQUIRE(other);
  other->email = "renamed@example.com";
  new_user(s, "taken@example.com");
  // One batch: the INSERT (which fails) and then the UPDATE.
  CHECK_THROWS_AS(s.commit(), UniqueViolation);

  auto before = seen.before();
  auto after = seen.after();
  check_paired(before, after);
  const auto& inserted = find_sql(after, "INSERT INTO \"users\"");
  CHECK(inserted.error == "UniqueViolation");
  CHECK(inserted.session_id == s.id());
  const auto& skipped = find_sql(after, "UPDATE \"users\"");
  CHECK(skipped.error == "InterfaceError");
  CHECK(skipped.error_message.find("not executed") != std::string::npos);
  CHECK(skipped.rows == -1);
  CHECK(skipped.connection_id == inserted.connection_id);
  CHECK(skipped.statement_number == inserted.statement_number + 1);  // pipelined together
  CHECK(find_sql(after, "ROLLBACK").error.empty());
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", other_id) ==
        "other@example.com");
  CHECK(fx.count("users") == 2);
}

// ---- connections ----

TEST_CASE("connection hooks report each new connection once and every checkout and checkin",
          "[hooks]") {
  Recorder seen;
  test::TestSchema db;
  EngineOptions options = test::named_after(db);
  options.hooks = seen.hooks();
  options.pool_size = 2;
  options.max_overflow = 0;
  test::SessionFixture fx(options);

  int first_pid = 0;
  {
    auto s = fx.session();
    first_pid = s.query<int>("SELECT pg_backend_pid()").at(0);
  }
  REQUIRE(seen.connects().size() == 1);
  CHECK(seen.connects()[0].backend_pid == first_pid);
  CHECK(seen.checkouts().size() == 1);
  CHECK(seen.checkins().size() == 1);
  const auto first_id = seen.connects()[0].connection_id;
  CHECK(seen.checkins()[0].connection_id == first_id);

  {
    auto s = fx.session();
    CHECK(s.query<int>("SELECT pg_backend_pid()").at(0) == first_pid);  // reused, not reopened
  }
  CHECK(seen.connects().size() == 1);
  CHECK(seen.checkouts().size() == 2);
  CHECK(seen.checkins().size() == 2);

  {
    auto a = fx.session();
    auto b = fx.session();
    int pid_a = a.query<int>("SELECT pg_backend_pid()").at(0);
    int pid_b = b.query<int>("SELECT pg_backend_pid()").at(0);
    CHECK(pid_a != pid_b);
    auto connects = seen.connects();
    REQUIRE(connects.size() == 2);
    CHECK(connects[1].connection_id != first_id);
    CHECK(connects[1].backend_pid == (pid_a == first_pid ? pid_b : pid_a));
    CHECK(seen.checkouts().size() == 4);
    CHECK(seen.checkins().size() == 2);
  }
  CHECK(seen.checkins().size() == 4);
  CHECK(seen.invalidates().empty());
  CHECK(test::connections_named(fx.db, db.name()) == 2);
}

TEST_CASE("on_invalidate names why a pooled connection is discarded", "[hooks]") {
  Recorder seen;
  test::TestSchema db;
  EngineOptions options = test::named_after(db);
  options.hooks = seen.hooks();

  SECTION("invalidated by its user") {
    Engine engine(db.conninfo(), options);
    auto c = engine.connect();
    const auto id = c->id();
    const int pid = test::server_pid(*c);
    c.invalidate();
    c.release();
    auto invalidated = seen.invalidates();
    REQUIRE(invalidated.size() == 1);
    CHECK(invalidated[0].connection_id == id);
    CHECK(invalidated[0].backend_pid == pid);
    CHECK_FALSE(invalidated[0].reason.empty());
    CHECK(engine.pool().stats().invalidated == 1);
    CHECK(test::settled_connections_named(db, db.name(), 0) == 0);
  }

  SECTION("made stale by dispose(), idle or checked out") {
    Engine engine(db.conninfo(), options);
    auto held = engine.connect();
    auto idle = engine.connect();
    const auto held_id = held->id();
    const auto idle_id = idle->id();
    idle.release();
    engine.dispose();
    held.release();
    auto invalidated = seen.invalidates();
    REQUIRE(invalidated.size() == 2);
    CHECK(invalidated[0].connection_id == idle_id);
    CHECK(invalidated[1].connection_id == held_id);
    CHECK_FALSE(invalidated[0].reason.empty());
    CHECK_FALSE(invalidated[1].reason.empty());
    CHECK(test::settled_connections_named(db, db.name(), 0) == 0);
  }

  SECTION("its backend was terminated while idle, found by the pre-ping") {
    options.pool_pre_ping = true;
    Engine engine(db.conninfo(), options);
    auto c = engine.connect();
    const auto id = c->id();
    const int pid = test::server_pid(*c);
    c.release();
    test::kill_backend(db, pid);
    auto fresh = engine.connect();
    CHECK(test::server_pid(*fresh) != pid);
    auto invalidated = seen.invalidates();
    REQUIRE(invalidated.size() == 1);
    CHECK(invalidated[0].connection_id == id);
    CHECK(invalidated[0].reason.find("pre-ping") != std::string::npos);
    REQUIRE(seen.connects().size() == 2);
    CHECK(seen.connects()[1].connection_id == fresh->id());
    // The failed ping was a statement too, reported with the disconnect.
    const auto after = seen.after();
    const auto& ping = find_sql(after, "SELECT 1");
    CHECK(ping.connection_id == id);
    CHECK(ping.error == "Disconnect");
    check_paired(seen.before(), seen.after());
  }

  SECTION("its backend was terminated while a session used it") {
    test::SessionFixture fx(options);
    auto s = fx.session();
    const int pid = s.query<int>("SELECT pg_backend_pid()").at(0);
    const auto id = seen.checkouts().at(0).connection_id;
    test::kill_backend(fx.db, pid);
    CHECK_THROWS_AS(s.query<int>("SELECT 1"), Disconnect);
    auto invalidated = seen.invalidates();
    REQUIRE(invalidated.size() == 1);
    CHECK(invalidated[0].connection_id == id);
    CHECK_FALSE(invalidated[0].reason.empty());
    CHECK(find_sql(seen.after(), "SELECT 1").error == "Disconnect");
    check_paired(seen.before(), seen.after());
  }
}

// ---- hooks that fail ----

TEST_CASE("hooks that throw are counted and change nothing", "[hooks]") {
  std::atomic<std::uint64_t> calls{0};
  auto connection_hook = [&calls](const ConnectionEvent&) {
    ++calls;
    throw std::runtime_error("connection hook failed");
  };
  auto statement_hook = [&calls](const StatementEvent&) {
    ++calls;
    throw std::runtime_error("statement hook failed");
  };
  EngineOptions options;
  options.hooks = {connection_hook, connection_hook, connection_hook,
                   connection_hook, statement_hook,  statement_hook};
  test::SessionFixture fx(options);
  std::int32_t id = 0;
  {
    auto s = fx.session();
    auto user = new_user(s, "thrown@example.com");
    s.commit();
    id = user->id;
    CHECK(id > 0);
    CHECK(s.execute(select<User>().where(col<&User::id> == id)).size() == 1);
    s.commit();
  }
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", id) ==
        "thrown@example.com");
  // connect, then checkout, INSERT (alone, in autocommit), checkin, checkout, SELECT, checkin.
  CHECK(calls.load() >= 1 + 2 * (1 + 2 + 1));
  CHECK(fx.engine.hook_failures() == calls.load());
  auto stats = fx.engine.pool().stats();
  CHECK(stats.created == 1);
  CHECK(stats.idle == 1);
  CHECK(stats.checked_out == 0);
  CHECK(stats.invalidated == 0);
}

// ---- echo ----

TEST_CASE("echo logs statements and shows parameters only when asked to", "[hooks]") {
  const std::string secret = "s3cret-7f41c2";
  std::mutex mutex;
  std::vector<std::string> lines;
  EngineOptions options;
  options.echo_sink = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    lines.emplace_back(line);
  };
  auto contains = [&](std::string_view text) {
    std::lock_guard lock(mutex);
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  };

  SECTION("statements: values redacted") {
    options.echo = Echo::statements;
    test::SessionFixture fx(options);
    auto s = fx.session();
    CHECK(s.query<std::string>("SELECT $1::text", secret).at(0) == secret);
    new_user(s, secret + "@example.com");
    s.commit();
    CHECK(contains("SELECT $1::text"));
    CHECK(contains("INSERT INTO \"users\""));
    CHECK(contains("$1=<redacted>"));
    CHECK_FALSE(contains(secret));
    CHECK(fx.count("users") == 1);
  }

  SECTION("statements_and_parameters: values shown") {
    options.echo = Echo::statements_and_parameters;
    test::SessionFixture fx(options);
    auto s = fx.session();
    CHECK(s.query<std::string>("SELECT $1::text", secret).at(0) == secret);
    CHECK(contains("SELECT $1::text"));
    CHECK(contains("$1='" + secret + "'"));
    CHECK_FALSE(contains("<redacted>"));
  }
}

// ---- waiting for a connection ----

TEST_CASE("pool stats count checkouts waiting for a connection and the time they waited",
          "[hooks]") {
  test::TestSchema db;
  EngineOptions options;
  options.pool_size = 1;
  options.max_overflow = 0;

  SECTION("a wait that ends with a connection") {
    options.pool_timeout = 10s;
    Engine engine(db.conninfo(), options);
    auto held = engine.connect();
    std::exception_ptr failure;
    std::thread waiter([&] {
      try {
        auto c = engine.connect();
        c->execute("SELECT 1");
      } catch (...) {
        failure = std::current_exception();
      }
    });
    CHECK(poll_until([&] { return engine.pool().stats().waiting == 1; }));
    auto during = engine.pool().stats();
    CHECK(during.waits == 1);
    CHECK(during.checked_out == 1);
    held.release();
    waiter.join();
    if (failure) std::rethrow_exception(failure);
    auto stats = engine.pool().stats();
    CHECK(stats.waiting == 0);
    CHECK(stats.waits == 1);
    CHECK(stats.wait_time > during.wait_time);  // the wait counts once it ended
    CHECK(stats.checkouts == 2);
    CHECK(stats.timeouts == 0);
  }

  SECTION("a wait that ends with PoolTimeout") {
    options.pool_timeout = 20ms;
    Engine engine(db.conninfo(), options);
    auto held = engine.connect();
    CHECK_THROWS_AS(engine.connect(), PoolTimeout);
    auto stats = engine.pool().stats();
    CHECK(stats.waiting == 0);
    CHECK(stats.waits == 1);
    CHECK(stats.timeouts == 1);
    CHECK(stats.wait_time.count() > 0);
    CHECK(stats.checkouts == 1);
  }
}
