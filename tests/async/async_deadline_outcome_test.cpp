// What a pipeline reports when its deadline passes while it is on the server: the outcomes when
// they are known (the work completed and only its results were late, or a statement failed on its
// own), DeadlineExceeded when the cancel stopped it, and an unknown outcome only when the
// connection had to be discarded.
#include <catch2/catch.hpp>

#include <string>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace std::chrono_literals;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// A table of the test's own schema (dropped with it), and plain AsyncConnections on that schema.
struct OutcomeFixture {
  test::TestSchema db;
  asio::io_context io;

  OutcomeFixture() {
    db.conn().execute_script("CREATE TABLE deadline_rows (id integer PRIMARY KEY, note text)");
  }
  std::shared_ptr<AsyncConnection> open(const std::string& conninfo,
                                        std::chrono::milliseconds cancel_grace) {
    AsyncConnectionOptions options;
    options.cancel_grace = cancel_grace;
    return test::run(io, AsyncConnection::open(io.get_executor(), conninfo, options));
  }
  // Rows with this id that the server committed, read on a connection of its own.
  std::int64_t committed(int id) {
    return db.scalar<std::int64_t>("SELECT count(*) FROM deadline_rows WHERE id = $1", id);
  }
  std::string note(int id) {
    return db.scalar<std::string>("SELECT note FROM deadline_rows WHERE id = $1", id);
  }
};

// BEGIN; INSERT (id, note); COMMIT as one segment.
std::vector<PipelineStatement> insert_and_commit(int id, std::string note) {
  Params params;
  params.add(id);
  params.add(std::string_view(note));
  std::vector<PipelineStatement> statements;
  statements.push_back({"BEGIN", {}, false});
  statements.push_back({"INSERT INTO deadline_rows (id, note) VALUES ($1, $2)", params});
  statements.push_back({"COMMIT", {}, false});
  return statements;
}

struct Attempt {
  std::vector<StatementOutcome> outcomes;
  bool deadline_exceeded = false;
  std::string message;
  Clock::duration elapsed{};
};

Attempt attempt(asio::io_context& io, const std::shared_ptr<AsyncConnection>& conn,
                std::vector<PipelineStatement> statements, std::chrono::milliseconds timeout) {
  Attempt a;
  auto start = Clock::now();
  test::run(io, [&]() -> awaitable<void> {
    try {
      a.outcomes = co_await conn->pipeline(std::move(statements), Clock::now() + timeout);
    } catch (const DeadlineExceeded& e) {
      a.deadline_exceeded = true;
      a.message = e.what();
    }
  }());
  a.elapsed = Clock::now() - start;
  return a;
}

std::int64_t count_on(asio::io_context& io, const std::shared_ptr<AsyncConnection>& conn) {
  return test::run(io, [&]() -> awaitable<std::int64_t> {
    auto result = co_await conn->execute("SELECT count(*) FROM deadline_rows");
    co_return result.value<std::int64_t>(0, 0);
  }());
}

}  // namespace

TEST_CASE("async: a COMMIT whose results arrive after the deadline returns success",
          "[async][deadline]") {
  OutcomeFixture fx;
  test::FreezableProxy proxy;
  auto conn = fx.open(proxy.conninfo(fx.db.conninfo()), 2s);
  proxy.delay_replies(400ms);  // the server commits at once; its answer is 400 ms late

  auto a = attempt(fx.io, conn, insert_and_commit(1, "late answer"), 200ms);

  CHECK_FALSE(a.deadline_exceeded);
  CHECK(a.message.empty());
  REQUIRE(a.outcomes.size() == 3);
  for (auto& outcome : a.outcomes) CHECK(outcome.ok());
  CHECK(a.outcomes[1].get().affected_rows() == 1);
  CHECK(conn->cancels_sent() == 1);
  CHECK(a.elapsed >= 400ms);  // it waited for the late results instead of giving up
  CHECK(a.elapsed < 2s);
  // Committed exactly once, and the drained connection is still good.
  CHECK(fx.committed(1) == 1);
  CHECK(conn->is_usable());
  proxy.delay_replies(0ms);
  CHECK(count_on(fx.io, conn) == 1);
}

TEST_CASE("async: a COMMIT cancelled on the server throws DeadlineExceeded and did not commit",
          "[async][deadline]") {
  OutcomeFixture fx;
  // COMMIT runs the deferred trigger, which sleeps: the cancel arrives while COMMIT runs.
  fx.db.conn().execute_script(R"(
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON deadline_rows
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
  )");
  auto conn = fx.open(fx.db.conninfo(), 2s);

  auto a = attempt(fx.io, conn, insert_and_commit(2, "cancelled"), 200ms);

  CHECK(a.deadline_exceeded);
  CHECK_THAT(a.message, Catch::Contains("cancelled on the server"));
  CHECK(a.elapsed >= 200ms);
  CHECK(a.elapsed < 1500ms);  // the cancel stopped the 2 s sleep
  CHECK(fx.committed(2) == 0);
  // Drained: the connection is reusable, outside any transaction (the failed COMMIT ended it).
  CHECK(conn->is_usable());
  CHECK(count_on(fx.io, conn) == 0);
}

TEST_CASE("async: a statement's own error that came before the cancel is reported, not hidden",
          "[async][deadline]") {
  OutcomeFixture fx;
  fx.db.conn().exec("INSERT INTO deadline_rows (id, note) VALUES (3, 'first')");
  test::FreezableProxy proxy;
  auto conn = fx.open(proxy.conninfo(fx.db.conninfo()), 2s);
  proxy.delay_replies(400ms);

  auto a = attempt(fx.io, conn, insert_and_commit(3, "duplicate"), 200ms);

  CHECK_FALSE(a.deadline_exceeded);
  REQUIRE(a.outcomes.size() == 3);
  CHECK(a.outcomes[0].ok());
  bool unique = false, commit_reports_it = false;
  try {
    a.outcomes[1].get();
  } catch (const UniqueViolation&) {
    unique = true;
  }
  try {
    a.outcomes[2].get();
  } catch (const UniqueViolation&) {
    commit_reports_it = true;  // the skipped COMMIT reports the root cause
  }
  CHECK(unique);
  CHECK(commit_reports_it);
  CHECK(fx.committed(3) == 1);
  CHECK(fx.note(3) == "first");
  // The failed transaction is still open on the drained connection: roll it back and reuse it.
  CHECK(conn->is_usable());
  proxy.delay_replies(0ms);
  test::run(fx.io, [&]() -> awaitable<void> { co_await conn->execute("ROLLBACK"); }());
  CHECK(count_on(fx.io, conn) == 1);
}

TEST_CASE("async: results still missing after cancel_grace make the outcome unknown",
          "[async][deadline]") {
  OutcomeFixture fx;
  test::FreezableProxy proxy;
  auto conn = fx.open(proxy.conninfo(fx.db.conninfo()), 100ms);
  proxy.delay_replies(400ms);

  auto a = attempt(fx.io, conn, insert_and_commit(4, "in doubt"), 100ms);

  CHECK(a.deadline_exceeded);
  CHECK_THAT(a.message, Catch::Contains("discarded") && Catch::Contains("unknown"));
  CHECK(a.elapsed < 100ms + 100ms + 250ms);  // deadline + cancel_grace + slack
  CHECK_FALSE(conn->is_usable());
  // Why it must say "unknown" and not "cancelled": the server did commit.
  CHECK(fx.committed(4) == 1);
}

TEST_CASE("async: a frozen network discards the connection and leaves the outcome unknown",
          "[async][deadline]") {
  OutcomeFixture fx;
  test::FreezableProxy proxy;
  auto conn = fx.open(proxy.conninfo(fx.db.conninfo()), 150ms);
  proxy.freeze();

  auto a = attempt(fx.io, conn, insert_and_commit(5, "frozen"), 200ms);

  CHECK(a.deadline_exceeded);
  CHECK_THAT(a.message, Catch::Contains("discarded") && Catch::Contains("unknown"));
  CHECK(a.elapsed >= 200ms);
  CHECK(a.elapsed < 200ms + 150ms + 300ms);  // deadline + cancel_grace + slack
  CHECK_FALSE(conn->is_usable());
  bool closed = test::run(fx.io, test::throws_as<Disconnect>(conn->execute("SELECT 1")));
  CHECK(closed);
  // The frozen proxy never passed the statements on.
  CHECK(fx.committed(5) == 0);
}
