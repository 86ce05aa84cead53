// Statements sent outside BEGIN run in an implicit transaction that the server commits after
// their results, at the protocol's Sync. A deferred constraint checked there can still fail it:
// every way a Connection sends statements must then throw that error, never report the success
// of a statement whose transaction was rolled back. Each case reads back what was stored.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;

namespace {

constexpr std::string_view kOrphan =
    "INSERT INTO todos (title, user_id) VALUES ($1, 999999) RETURNING id";

}  // namespace

TEST_CASE("a deferred constraint failing at an implicit commit is thrown by every send path",
          "[engine][failure]") {
  test::SessionFixture fx;
  fx.redefine_todo_user_fk("DEFERRABLE INITIALLY DEFERRED");
  Connection c(fx.db.conninfo());
  REQUIRE(c.prepared_statements());
  Params orphan;
  orphan.add("orphan");

  SECTION("execute(): unnamed") {
    CHECK_THROWS_AS(c.execute(kOrphan, orphan), ForeignKeyViolation);
  }
  SECTION("execute_prepared(): the first execution, pipelined with its Parse, then the next") {
    CHECK_THROWS_AS(c.execute_prepared(kOrphan, orphan), ForeignKeyViolation);
    CHECK(c.prepared_count() == 1);
    CHECK_THROWS_AS(c.execute_prepared(kOrphan, orphan), ForeignKeyViolation);
  }
  SECTION("execute_pipeline(): statements sharing one Sync") {
    Params titled;
    titled.add("first");
    const std::string valid = fmt::format(
        "INSERT INTO todos (title, user_id) VALUES ($1, {}) RETURNING id",
        fx.insert_user("owner@example.com"));
    std::vector<Result> completed;
    CHECK_THROWS_AS(c.execute_pipeline({{valid, &titled}, {kOrphan, &orphan}}, completed),
                    ForeignKeyViolation);
  }
  SECTION("exec(): the typed shorthand") {
    CHECK_THROWS_AS(c.exec(kOrphan, std::string_view("orphan")), ForeignKeyViolation);
  }
  CHECK(fx.count("todos") == 0);
  // The connection goes on.
  CHECK(c.exec("SELECT 1").value<int>(0, 0) == 1);
  CHECK(c.transaction_status() == TransactionStatus::idle);
}
