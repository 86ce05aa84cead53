// The sync connection's prepared-statement cache: what stays prepared on the server.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;

namespace {

std::int64_t prepared_on_server(Connection& c, const std::string& where = "true") {
  return c.execute("SELECT count(*) FROM pg_prepared_statements WHERE " + where)
      .value<std::int64_t>(0, 0);
}

Params one_int(std::int32_t v) {
  Params p;
  p.add(v);
  return p;
}

}  // namespace

TEST_CASE("a statement whose first execution fails stays prepared once and is reused",
          "[engine][prepared]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Connection& c = s.connection();
  const std::string sql = "SELECT 10 / $1::int";
  CHECK_THROWS_AS(c.execute_prepared(sql, one_int(0)), DataError);  // division by zero
  CHECK(c.prepared_count() == 1);
  CHECK(prepared_on_server(c) == 1);
  CHECK_THROWS_AS(c.execute_prepared(sql, one_int(0)), DataError);
  CHECK(prepared_on_server(c) == 1);  // the same statement, not a new one
  CHECK(c.execute_prepared(sql, one_int(2)).value<int>(0, 0) == 5);
  CHECK(prepared_on_server(c) == 1);
  CHECK(c.prepared_count() == 1);
}

TEST_CASE("the prepared statement cache keeps at most 512 statements, least recently used out",
          "[engine][prepared]") {
  test::SessionFixture fx;
  auto s = fx.session();
  Connection& c = s.connection();
  auto text = [](int i) { return fmt::format("SELECT {} + $1::int", i); };
  c.execute_prepared(text(0), one_int(1));  // the one kept in use
  for (int i = 1; i <= 511; ++i) c.execute_prepared(text(i), one_int(1));
  CHECK(prepared_on_server(c) == 512);
  c.execute_prepared(text(0), one_int(1));  // 0 is now the most recently used
  int last = 0;
  for (int i = 512; i < 530; ++i) last = c.execute_prepared(text(i), one_int(1)).value<int>(0, 0);
  CHECK(last == 530);
  CHECK(c.prepared_count() == 512);
  CHECK(prepared_on_server(c) == 512);
  CHECK(prepared_on_server(c, "statement = 'SELECT 0 + $1::int'") == 1);
  CHECK(prepared_on_server(c, "statement = 'SELECT 1 + $1::int'") == 0);
  CHECK(prepared_on_server(c, "statement = 'SELECT 18 + $1::int'") == 0);
  CHECK(prepared_on_server(c, "statement = 'SELECT 19 + $1::int'") == 1);
  // An evicted statement is prepared again when it comes back.
  CHECK(c.execute_prepared(text(1), one_int(1)).value<int>(0, 0) == 2);
  CHECK(prepared_on_server(c, "statement = 'SELECT 1 + $1::int'") == 1);
  CHECK(prepared_on_server(c) == 512);
}
