// Defaults that keep a transaction pooler from producing wrong rows: statement names no other
// client uses, rows without their model's key refused, protocol errors not taken for a broken
// connection. Against the real server (the pooler itself is exercised by the deployment tests).
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "async/async_support.hpp"
#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {
std::vector<std::string> prepared_names(Connection& c) {
  return c.query<std::string>("SELECT name::text FROM pg_prepared_statements ORDER BY name");
}
}  // namespace

TEST_CASE("prepared statement names are unique across connections of a process",
          "[engine][prepared][pooler]") {
  test::SessionFixture fx;
  auto a = fx.session();
  auto b = fx.session();
  Connection& ca = a.connection();
  Connection& cb = b.connection();
  const std::string sql = "SELECT $1::int + 1";
  Params p;
  p.add(std::int32_t{41});
  CHECK(ca.execute_prepared(sql, p).value<int>(0, 0) == 42);
  CHECK(cb.execute_prepared(sql, p).value<int>(0, 0) == 42);
  auto on_a = prepared_names(ca);
  auto on_b = prepared_names(cb);
  REQUIRE(on_a.size() == 1);
  REQUIRE(on_b.size() == 1);
  // The same text on two connections is prepared under two names: a pooler that hands one
  // client's server connection to the other can only make the name missing, never another's.
  CHECK(on_a.front() != on_b.front());
  const std::regex shape("pgorm_[0-9a-f]{12}_[0-9]+");
  CHECK(std::regex_match(on_a.front(), shape));
  CHECK(std::regex_match(on_b.front(), shape));
  // One per-process tag: only the counter differs.
  CHECK(on_a.front().substr(0, 19) == on_b.front().substr(0, 19));
}

TEST_CASE("async connections name their statements from the same process-wide sequence",
          "[engine][prepared][pooler][async]") {
  test::AsyncFixture fx;
  Session sync_session(fx.engine);
  Connection& sync = sync_session.connection();
  Params p;
  p.add(std::int32_t{1});
  CHECK(sync.execute_prepared("SELECT $1::int * 2", p).value<int>(0, 0) == 2);
  std::vector<std::string> async_names;
  fx.run([&]() -> asio::awaitable<void> {
    auto s = fx.session();
    co_await s.begin();       // one connection for both statements
    co_await s.get<User>(1);  // prepared
    async_names = co_await s.query<std::string>(
        "SELECT name::text FROM pg_prepared_statements ORDER BY name");
    co_await s.close();
  }());
  auto sync_names = prepared_names(sync);
  REQUIRE(sync_names.size() == 1);
  REQUIRE_FALSE(async_names.empty());
  const std::regex shape("pgorm_[0-9a-f]{12}_[0-9]+");
  for (const auto& name : async_names) {
    CHECK(std::regex_match(name, shape));
    CHECK(name != sync_names.front());
    CHECK(name.substr(0, 19) == sync_names.front().substr(0, 19));
  }
}

TEST_CASE("a result without the model's primary key is refused, not read as id 0",
          "[engine][pooler]") {
  test::SessionFixture fx;
  fx.insert_user("keyless@example.com");
  auto s = fx.session();
  std::string message;
  std::vector<User> rows;
  try {
    rows = s.connection().query<User>("SELECT email, created_at, updated_at FROM users");
  } catch (const InterfaceError& e) {
    message = e.what();
    CHECK(e.info().table == "users");
    CHECK(e.info().column == "id");
  }
  CHECK(rows.empty());
  CHECK_THAT(message, Catch::Contains("no column \"id\"") && Catch::Contains("\"users\"") &&
                          Catch::Contains("email"));
  // The session's query<T> refuses it the same way.
  CHECK_THROWS_AS(s.query<User>("SELECT email FROM users"), InterfaceError);
}

TEST_CASE("a protocol violation on a live connection is not a Disconnect", "[engine][pooler]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Connection& c = s.connection();
  Params extra;
  extra.add(std::int32_t{1});
  // A Bind with a parameter the statement does not take: the server answers 08P01 and goes on.
  bool operational = false;
  bool disconnect = false;
  std::string sqlstate;
  try {
    c.execute("SELECT 1", extra);
  } catch (const Disconnect&) {
    disconnect = true;
  } catch (const OperationalError& e) {
    operational = true;
    sqlstate = e.info().sqlstate;
  }
  CHECK(operational);
  CHECK_FALSE(disconnect);
  CHECK(sqlstate == "08P01");
  CHECK_FALSE(c.is_broken());
  CHECK(c.execute("SELECT 2").value<int>(0, 0) == 2);
}
