// AsyncSession and AsyncConnection behave as their sync counterparts in the details: root causes
// instead of skipped-statement errors, bulk inserts split at 65,535 parameters, the parameter
// limit of raw SQL, and the bounded prepared-statement cache.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace testmodels;
using asio::awaitable;

namespace {

AsyncEngineOptions one_connection() {
  AsyncEngineOptions options;
  options.pool_size = 1;
  options.max_overflow = 0;
  return options;
}

// `count` bind parameters (refused before anything is sent).
Params many_parameters(std::size_t count) {
  Params params;
  for (std::size_t i = 0; i < count; ++i) params.add(std::int32_t{1});
  return params;
}

}  // namespace

TEST_CASE("async: a statement whose BEGIN failed on a terminated connection throws Disconnect",
          "[async][parity]") {
  test::AsyncFixture fx(one_connection());
  auto s = fx.session();
  int pid = 0;
  fx.run([&]() -> awaitable<void> {
    pid = (co_await s.query<int>("SELECT pg_backend_pid()")).at(0);
    co_await s.close();  // the connection goes back to the pool, idle
  }());
  REQUIRE(pid != 0);
  // Another connection ends the session's backend and waits until it is gone.
  REQUIRE(fx.db.scalar<bool>("SELECT pg_terminate_backend($1, 5000)", pid));

  bool disconnect = false;
  std::string sqlstate;
  std::int64_t inserted = 0;
  fx.run([&]() -> awaitable<void> {
    try {
      // BEGIN rides in front of the INSERT; BEGIN meets the dead connection.
      co_await s.execute_sql("INSERT INTO users (email) VALUES ('lost@example.com')");
    } catch (const Disconnect& e) {
      disconnect = true;
      sqlstate = e.sqlstate();
    } catch (...) {
    }
    // Retrying on Disconnect works: the next call gets a new connection.
    inserted = co_await s.execute_sql("INSERT INTO users (email) VALUES ('retry@example.com')");
    co_await s.commit();
  }());
  CHECK(disconnect);
  CHECK(!sqlstate.empty());
  CHECK((sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0));
  CHECK(inserted == 1);
  CHECK(fx.db.conn().query<std::string>("SELECT email FROM users") ==
        std::vector<std::string>{"retry@example.com"});
}

TEST_CASE("async: statements skipped after a failed one report that failure's class and SQLSTATE",
          "[async][parity]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  bool first_ok = false;
  std::string failed_state, skipped_state;
  bool skipped_not_null = false;
  fx.run([&]() -> awaitable<void> {
    co_await s.begin();
    std::vector<PipelineStatement> statements;
    statements.push_back({"INSERT INTO users (email) VALUES ('one@example.com')", {}, false});
    statements.push_back({"INSERT INTO users (email) VALUES (NULL)", {}, true});
    statements.push_back({"INSERT INTO users (email) VALUES ('three@example.com')", {}, true});
    auto outcomes = co_await s.run_batch(std::move(statements), true, std::nullopt);
    first_ok = outcomes.at(0).ok();
    try {
      outcomes.at(1).get();
    } catch (const Error& e) {
      failed_state = e.sqlstate();
    }
    try {
      outcomes.at(2).get();
    } catch (const NotNullViolation& e) {
      skipped_not_null = true;
      skipped_state = e.sqlstate();
    } catch (...) {
    }
    co_await s.rollback();
  }());
  CHECK(first_ok);
  CHECK(failed_state == "23502");
  CHECK(skipped_not_null);
  CHECK(skipped_state == "23502");
  CHECK(fx.count("users") == 0);
}

TEST_CASE("async: a bulk insert over 65,535 parameters is split into several statements",
          "[async][parity]") {
  test::AsyncFixture fx;
  auto s = fx.session();
  std::vector<User> rows(20000);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].email = fmt::format("u{}@example.com", i);
  auto statement = insert<User>().values(rows);
  REQUIRE(statement.statements().size() == 2);
  std::int64_t affected = 0;
  std::size_t returned = 0;
  fx.run([&]() -> awaitable<void> {
    affected = co_await s.execute(statement);
    co_await s.commit();
    std::vector<User> more(20000);
    for (std::size_t i = 0; i < more.size(); ++i) more[i].email = fmt::format("v{}@example.com", i);
    auto with_rows = insert<User>().values(more).returning();
    returned = (co_await s.execute(with_rows)).size();
    co_await s.commit();
  }());
  CHECK(affected == 20000);
  CHECK(returned == 20000);
  CHECK(fx.count("users") == 40000);
}

TEST_CASE("raw SQL with more than 65,535 parameters throws ProgrammingError in both sessions",
          "[async][parity]") {
  test::AsyncFixture fx;
  std::string sql = "SELECT $1::int";
  Params params = many_parameters(65536);

  std::string sync_message;
  bool sync_programming = false;
  auto sync_session = fx.SessionFixture::session();
  try {
    sync_session.run_sql(sql, params, false);
  } catch (const ProgrammingError& e) {
    sync_programming = true;
    sync_message = e.what();
  }
  bool sync_prepared = false;
  try {
    fx.db.conn().execute_prepared(sql, params);
  } catch (const ProgrammingError&) {
    sync_prepared = true;
  }

  auto s = fx.session();
  bool async_programming = false;
  std::string async_message;
  fx.run([&]() -> awaitable<void> {
    query::Statement statement{sql, many_parameters(65536)};  // named: see PLATFORM.md (GCC 12)
    try {
      co_await s.run(std::move(statement), false, std::nullopt);
    } catch (const ProgrammingError& e) {
      async_programming = true;
      async_message = e.what();
    } catch (...) {
    }
  }());
  CHECK(sync_programming);
  CHECK(sync_prepared);
  CHECK(async_programming);
  CHECK(sync_message.find("65535") != std::string::npos);
  CHECK(async_message.find("65535") != std::string::npos);
  // Nothing reached the server: the connection is still usable.
  CHECK(fx.db.scalar<std::int64_t>("SELECT 1") == 1);
}

TEST_CASE("async: the prepared statement cache keeps at most 512 statements, least recent out",
          "[async][parity]") {
  test::AsyncFixture fx;
  std::int64_t on_server = -1;
  std::int64_t kept = -1, evicted = -1;
  int last_value = 0;
  fx.run([&]() -> awaitable<void> {
    auto c = co_await AsyncConnection::open(fx.io.get_executor(), fx.db.conninfo());
    auto text = [](int i) { return fmt::format("SELECT {} + $1::int", i); };
    auto run = [&](int i) -> awaitable<int> {
      std::vector<PipelineStatement> one;
      Params p;
      p.add(std::int32_t{1});
      one.push_back({text(i), std::move(p), true});
      auto outcomes = co_await c->pipeline(std::move(one));
      co_return outcomes.at(0).get().value<int>(0, 0);
    };
    co_await run(0);                                 // the one kept in use
    for (int i = 1; i <= 511; ++i) co_await run(i);  // the cache is full
    co_await run(0);                                 // 0 is now the most recently used
    for (int i = 512; i < 530; ++i) last_value = co_await run(i);  // evicts 1..18
    auto count = [&](std::string where) -> awaitable<std::int64_t> {
      Result r = co_await c->execute("SELECT count(*) FROM pg_prepared_statements WHERE " + where);
      co_return r.value<std::int64_t>(0, 0);
    };
    on_server = co_await count("true");
    kept = co_await count("statement = 'SELECT 0 + $1::int'");
    evicted = co_await count("statement = 'SELECT 1 + $1::int'");
    c->close();
  }());
  CHECK(last_value == 530);
  CHECK(on_server == 512);
  CHECK(kept == 1);
  CHECK(evicted == 0);
}
