// Engine: connections reach the server configured as EngineOptions say (application_name,
// statement_timeout, prepared statements), and nothing it prints shows the password.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

#include "engine/server_view.hpp"
#include "support/db.hpp"

using namespace pgorm;
using namespace std::chrono_literals;

TEST_CASE("a connection from an engine reaches the database its URL names", "[engine]") {
  test::TestSchema db;
  Engine engine = create_engine(db.conninfo(), test::named_after(db));
  auto connection = engine.connect();
  CHECK(connection->exec("SELECT current_database()").value<std::string>(0, 0) ==
        db.scalar<std::string>("SELECT current_database()"));
  // The URL's own options (here the test schema's search_path) reach the session too.
  CHECK(connection->exec("SELECT current_schema()").value<std::string>(0, 0) == db.name());
}

TEST_CASE("the engine's application_name shows in pg_stat_activity", "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), test::named_after(db));
  auto connection = engine.connect();
  int pid = test::server_pid(*connection);
  CHECK(db.scalar<std::string>("SELECT application_name FROM pg_stat_activity WHERE pid = $1",
                               pid) == db.name());
}

TEST_CASE("statement_timeout from EngineOptions cancels a long statement with QueryCanceled",
          "[engine]") {
  test::TestSchema db;
  EngineOptions options = test::named_after(db);
  options.statement_timeout = 100ms;
  Engine engine(db.conninfo(), options);
  auto connection = engine.connect();
  CHECK(connection->exec("SHOW statement_timeout").value<std::string>(0, 0) == "100ms");

  auto start = std::chrono::steady_clock::now();
  try {
    connection->exec("SELECT pg_sleep(5)");
    FAIL("pg_sleep(5) was not canceled");
  } catch (const QueryCanceled& e) {
    CHECK(e.sqlstate() == "57014");
  }
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  // The session survives the cancel, with the URL's options still in place.
  CHECK(connection->exec("SELECT current_schema()").value<std::string>(0, 0) == db.name());
}

TEST_CASE("with prepared statements off, execute_prepared sends unnamed statements", "[engine]") {
  test::TestSchema db;
  Params params;
  params.add(41);

  EngineOptions off = test::named_after(db);
  off.prepared_statements = false;
  Engine unprepared(db.conninfo(), off);
  auto plain = unprepared.connect();
  CHECK_FALSE(plain->prepared_statements());
  CHECK(plain->execute_prepared("SELECT $1::int + 1", params).value<int>(0, 0) == 42);
  CHECK(plain->prepared_count() == 0);
  CHECK(plain->exec("SELECT count(*) FROM pg_prepared_statements").value<std::int64_t>(0, 0) == 0);

  // The default, for contrast: the statement is prepared once on the server.
  Engine prepared(db.conninfo(), test::named_after(db));
  auto cached = prepared.connect();
  CHECK(cached->execute_prepared("SELECT $1::int + 1", params).value<int>(0, 0) == 42);
  CHECK(cached->prepared_count() == 1);
  CHECK(cached->exec("SELECT count(*) FROM pg_prepared_statements").value<std::int64_t>(0, 0) == 1);
}

TEST_CASE("copies of an engine share one pool", "[engine]") {
  test::TestSchema db;
  Engine engine(db.conninfo(), test::named_after(db));
  Engine copy = engine;
  int pid = 0;
  {
    auto connection = copy.connect();
    pid = test::server_pid(*connection);
  }
  auto again = engine.connect();
  CHECK(test::server_pid(*again) == pid);
  CHECK(&copy.pool() == &engine.pool());
  CHECK(engine.pool().stats().created == 1);
}

TEST_CASE("to_string shows the redacted URL and the pool sizes, never the password",
          "[engine][unit]") {
  EngineOptions options;
  options.pool_size = 3;
  options.max_overflow = 1;
  Engine engine("postgresql://alice:s3cr3t%25ZZ@db.invalid:5432/shop?sslmode=require", options);
  CHECK(engine.to_string() ==
        "Engine(postgresql://alice:***@db.invalid:5432/shop?sslmode=require, pool_size=3, "
        "max_overflow=1)");
  CHECK(engine.url().has_password());
  CHECK(engine.pool().stats().open == 0);  // an engine connects only when asked to
}

TEST_CASE("a bad URL fails when the engine is made, without the password", "[engine][unit]") {
  try {
    create_engine("postgresql://alice:s3cr3t%ZZ@db:5432/shop");
    FAIL("no ConfigurationError");
  } catch (const ConfigurationError& e) {
    CHECK_THAT(e.what(), Catch::Contains("bad percent-encoding in password"));
    CHECK_THAT(e.what(), !Catch::Contains("s3cr3t"));
  }
}

TEST_CASE("Engine::from_env connects where DATABASE_URL or the PG* variables point", "[engine]") {
  test::TestSchema db;
  Engine engine = Engine::from_env(test::named_after(db));
  CHECK(engine.url().redacted() == Url::parse(test::base_conninfo()).redacted());
  auto connection = engine.connect();
  CHECK(connection->exec("SELECT current_database()").value<std::string>(0, 0) ==
        db.scalar<std::string>("SELECT current_database()"));
}
