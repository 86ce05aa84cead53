// EngineOptions::pooler = Pooler::transaction, against the server itself: what pgorm sends when a
// transaction pooler is in front (no startup options, only tracked settings, statement_timeout per
// transaction, unnamed statements), read back from the server.
#include <catch2/catch.hpp>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

EngineOptions transaction_mode() {
  EngineOptions o;
  o.pooler = Pooler::transaction;
  o.statement_timeout = 1234ms;
  return o;
}

AsyncEngineOptions async_transaction_mode() {
  AsyncEngineOptions o;
  o.pooler = Pooler::transaction;
  o.statement_timeout = 1234ms;
  return o;
}

std::int64_t prepared_count(Session& s) {
  return s.query<std::int64_t>("SELECT count(*) FROM pg_prepared_statements").at(0);
}

}  // namespace

TEST_CASE("transaction pooler mode: settings through SET, statement_timeout per transaction",
          "[engine][pooler]") {
  Engine engine(test::base_conninfo(), transaction_mode());
  {
    auto c = engine.connect();
    // Nothing in the startup packet: outside a transaction the server's default applies.
    CHECK(c->execute("SHOW statement_timeout").get(0, 0) == "0");
    CHECK(c->execute("SHOW DateStyle").get(0, 0) == "ISO, YMD");
    CHECK(c->execute("SHOW TimeZone").get(0, 0) == "UTC");
    // Not tracked by PgBouncer, so not set (it would leak to other clients).
    CHECK(c->execute("SHOW IntervalStyle").get(0, 0) != "iso_8601");
  }
  Session s(engine);
  // Session::query runs inside the transaction: BEGIN carried SET LOCAL statement_timeout.
  CHECK(s.query<std::string>("SHOW statement_timeout").at(0) == "1234ms");
  CHECK_THROWS_AS(s.execute_sql("SELECT pg_sleep(3)"), QueryCanceled);
  s.rollback();
  // Unnamed statements: nothing stays prepared on the server connection.
  CHECK(s.query<std::int32_t>("SELECT $1::int + 1", 1).at(0) == 2);
  CHECK(s.query<std::int32_t>("SELECT $1::int + 1", 2).at(0) == 3);
  CHECK(prepared_count(s) == 0);
  s.commit();
}

TEST_CASE("transaction pooler mode keeps named statements only when asked", "[engine][pooler]") {
  auto o = transaction_mode();
  o.pooler_prepared_statements = true;
  Engine engine(test::base_conninfo(), o);
  Session s(engine);
  CHECK(s.query<std::int32_t>("SELECT $1::int + 1", 1).at(0) == 2);
  CHECK(prepared_count(s) >= 1);
  s.commit();
}

TEST_CASE("transaction pooler mode refuses a URL with startup options", "[engine][pooler]") {
  auto url = Url::parse(test::base_conninfo());
  url.set_param("options", "-c work_mem=64MB");
  std::string message;
  try {
    Engine engine(url, transaction_mode());
  } catch (const ConfigurationError& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains("options") && Catch::Contains("transaction"));
}

TEST_CASE("async transaction pooler mode: settings through SET, statement_timeout per transaction",
          "[async][pooler]") {
  asio::io_context io;
  AsyncEngine engine(io, test::base_conninfo(), async_transaction_mode());
  AsyncSession s(engine);
  std::string timeout_in_transaction;
  std::string timezone;
  std::string datestyle;
  bool cancelled = false;
  std::int64_t prepared = -1;
  test::run(io, [&]() -> awaitable<void> {
    timeout_in_transaction = (co_await s.query<std::string>("SHOW statement_timeout")).at(0);
    timezone = (co_await s.query<std::string>("SHOW TimeZone")).at(0);
    datestyle = (co_await s.query<std::string>("SHOW DateStyle")).at(0);
    cancelled = co_await test::throws_as<QueryCanceled>(s.execute_sql("SELECT pg_sleep(3)"));
    co_await s.rollback();
    co_await s.query<std::int32_t>("SELECT $1::int + 1", 1);
    prepared =
        (co_await s.query<std::int64_t>("SELECT count(*) FROM pg_prepared_statements")).at(0);
    co_await s.close();
  }());
  CHECK(timeout_in_transaction == "1234ms");
  CHECK(timezone == "UTC");
  CHECK(datestyle == "ISO, YMD");
  CHECK(cancelled);
  CHECK(prepared == 0);
}
