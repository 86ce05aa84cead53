// Connection::execute_pipeline() runs statements with parameters as named prepared statements,
// prepared once per connection in a segment ahead of the statements. A statement that fails to
// parse is reported as the pipeline's error, and its segment's statements take no effect.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;

namespace {
constexpr std::string_view kBad = "INSERT INTO no_such_table (title) VALUES ($1)";
}  // namespace

TEST_CASE("execute_pipeline() prepares a statement with parameters once per connection",
          "[engine]") {
  test::SessionFixture fx;
  Connection c(fx.db.conninfo());
  REQUIRE(c.prepared_statements());
  const std::string insert =
      fmt::format("INSERT INTO todos (title, user_id) VALUES ($1, {}) RETURNING title",
                  fx.insert_user("owner@example.com"));
  Params one, two, three, empty;
  one.add("one");
  two.add("two");
  three.add("three");
  auto first = c.execute_pipeline({{insert, &one}, {insert, &two}, {"SELECT 1", &empty}});
  REQUIRE(first.size() == 3);
  CHECK(first[0].value<std::string>(0, 0) == "one");
  CHECK(first[1].value<std::string>(0, 0) == "two");
  CHECK(c.prepared_count() == 1);  // the INSERT once; the statement without parameters unnamed
  auto second = c.execute_pipeline({{insert, &three}, {"SELECT 2", &empty}});
  REQUIRE(second.size() == 2);
  CHECK(second[0].value<std::string>(0, 0) == "three");
  CHECK(c.prepared_count() == 1);
  CHECK(fx.count("todos") == 3);
}

TEST_CASE("a pipelined statement that fails to parse is the error, and its segment is undone",
          "[engine][failure]") {
  test::SessionFixture fx;
  Connection c(fx.db.conninfo());
  const std::string insert = fmt::format("INSERT INTO todos (title, user_id) VALUES ($1, {})",
                                         fx.insert_user("owner@example.com"));
  Params one, two, three;
  one.add("one");
  two.add("two");
  three.add("three");

  SECTION("outside BEGIN: the implicit transaction rolls back") {
    try {
      c.execute_pipeline({{insert, &one}, {kBad, &two}, {insert, &three}});
      FAIL("a statement on a missing table ran");
    } catch (const DatabaseError& e) {
      CHECK(e.sqlstate() == "42P01");
      CHECK(e.statement() == kBad);
    }
    CHECK(c.transaction_status() == TransactionStatus::idle);
  }
  SECTION("inside BEGIN: the transaction is failed") {
    c.execute("BEGIN");
    CHECK_THROWS_AS(c.execute_pipeline({{insert, &one}, {kBad, &two}, {insert, &three}}),
                    DatabaseError);
    CHECK(c.transaction_status() == TransactionStatus::in_error);
    c.execute("ROLLBACK");
  }
  CHECK(fx.count("todos") == 0);
  CHECK(c.prepared_count() == 1);  // the INSERT was prepared; the bad text was not
  // The connection goes on, and the prepared INSERT is reused.
  auto again = c.execute_pipeline({{insert, &one}, {insert, &two}});
  CHECK(again.size() == 2);
  CHECK(fx.count("todos") == 2);
  CHECK(c.prepared_count() == 1);
}
