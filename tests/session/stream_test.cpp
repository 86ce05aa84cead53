// Session::stream() / stream_values(): a result read in chunks through a server-side cursor. Rows
// read back equal the table; chunk boundaries; an error in the middle of the result; a stream
// abandoned half-way; other statements refused while a stream is open; tracked objects are the
// session's objects, and only those the caller keeps or changes stay tracked after their chunk.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;

namespace {

// `n` users with ids 1..n and emails user<id>@example.com, inserted directly.
void insert_users(test::SessionFixture& fx, int n) {
  fx.db.conn().exec(
      "INSERT INTO users (email) SELECT 'user' || g || '@example.com' "
      "FROM generate_series(1, $1) g ORDER BY g",
      n);
}

// What the server holds, for comparison: count, sum of ids, sum of email lengths.
struct Checksum {
  std::int64_t rows = 0;
  std::int64_t ids = 0;
  std::int64_t email_chars = 0;
  void add(std::int32_t id, const std::string& email) {
    ++rows;
    ids += id;
    email_chars += static_cast<std::int64_t>(email.size());
  }
  bool operator==(const Checksum&) const = default;
};

Checksum server_checksum(test::SessionFixture& fx) {
  Checksum c;
  auto r = fx.db.conn().execute(
      "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(length(email)), 0) FROM users");
  c.rows = r.value<std::int64_t>(0, 0);
  c.ids = r.value<std::int64_t>(0, 1);
  c.email_chars = r.value<std::int64_t>(0, 2);
  return c;
}

// Statement texts the engine's hooks saw, in order.
struct SeenSql {
  std::shared_ptr<std::vector<std::string>> texts = std::make_shared<std::vector<std::string>>();
  EngineOptions options() const {
    EngineOptions o;
    auto out = texts;
    o.hooks.before_statement = [out](const StatementEvent& e) { out->emplace_back(e.sql); };
    return o;
  }
};

}  // namespace

TEST_CASE("stream() declares a cursor over the select's SQL, values as bind parameters",
          "[session][stream]") {
  SeenSql seen;
  test::SessionFixture fx(seen.options());
  insert_users(fx, 3);
  auto s = fx.session();
  std::vector<std::string> emails;
  for (const auto& email :
       s.stream(select(col<&User::email>).where(col < &User::id >> 1).order_by(col<&User::id>),
                {.chunk_rows = 2}))
    emails.push_back(email);
  CHECK(emails == std::vector<std::string>{"user2@example.com", "user3@example.com"});
  REQUIRE(seen.texts->size() == 5);
  CHECK((*seen.texts)[0] == "BEGIN");
  CHECK((*seen.texts)[1] ==
        "DECLARE \"pgorm_stream_1\" NO SCROLL CURSOR FOR SELECT \"users\".\"email\" FROM "
        "\"users\" WHERE (\"users\".\"id\" > $1) ORDER BY \"users\".\"id\"");
  CHECK((*seen.texts)[2] == "FETCH FORWARD 2 FROM \"pgorm_stream_1\"");
  CHECK((*seen.texts)[3] == "FETCH FORWARD 2 FROM \"pgorm_stream_1\"");
  CHECK((*seen.texts)[4] == "COMMIT");  // the stream began the transaction: it ends it
  CHECK_FALSE(s.in_transaction());
}

TEST_CASE("stream_values() reads back every row of the table in chunks", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 2500);
  auto s = fx.session();
  Checksum read;
  std::int32_t previous = 0;
  bool ordered = true;
  auto rows = s.stream_values(select<User>().order_by(col<&User::id>), {.chunk_rows = 1000});
  for (const User& u : rows) {
    read.add(u.id, u.email);
    ordered = ordered && u.id > previous;
    previous = u.id;
  }
  CHECK(read == server_checksum(fx));
  CHECK(read.rows == 2500);
  CHECK(ordered);
  CHECK(rows.rows_read() == 2500);
  // Untracked: nothing entered the identity map.
  auto statements = s.statements_executed();
  auto u1 = s.get<User>(1);
  REQUIRE(u1);
  CHECK(s.statements_executed() == statements + 1);
}

TEST_CASE("stream() of columns gives tuples", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 25);
  auto s = fx.session();
  Checksum read;
  for (const auto& [id, email] :
       s.stream(select(col<&User::id>, col<&User::email>), {.chunk_rows = 7}))
    read.add(id, email);
  CHECK(read == server_checksum(fx));
}

TEST_CASE("stream() chunk boundaries: no row, exactly one chunk, one row more",
          "[session][stream]") {
  auto rows_and_fetches = [](int rows) {
    SeenSql seen;
    test::SessionFixture fx(seen.options());
    insert_users(fx, rows);
    auto s = fx.session();
    Checksum read;
    for (const User& u : s.stream_values(select<User>(), {.chunk_rows = 10}))
      read.add(u.id, u.email);
    CHECK(read == server_checksum(fx));
    CHECK_FALSE(s.in_transaction());
    std::int64_t fetches = 0;
    for (const auto& t : *seen.texts) fetches += t.rfind("FETCH", 0) == 0 ? 1 : 0;
    return std::pair{read.rows, fetches};
  };
  // A short chunk ends the stream; a full one needs one more FETCH to learn it was the last.
  CHECK(rows_and_fetches(0) == std::pair<std::int64_t, std::int64_t>{0, 1});
  CHECK(rows_and_fetches(10) == std::pair<std::int64_t, std::int64_t>{10, 2});
  CHECK(rows_and_fetches(11) == std::pair<std::int64_t, std::int64_t>{11, 2});
  CHECK(rows_and_fetches(20) == std::pair<std::int64_t, std::int64_t>{20, 3});
}

TEST_CASE("an error in the middle of the result is thrown from the iteration, not a short result",
          "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 3000);
  auto s = fx.session();
  // Row 2,501 divides by zero: the FETCH of the third chunk fails on the server.
  auto q = select(col<&User::id>, expr<std::int32_t>("1 / ({} - {})", col<&User::id>, 2501))
               .order_by(col<&User::id>);
  std::int64_t seen = 0;
  try {
    for (const auto& row : s.stream(q, {.chunk_rows = 1000})) {
      (void)row;
      ++seen;
    }
    FAIL("expected DataError");
  } catch (const DataError& e) {
    CHECK(e.sqlstate() == "22012");
  }
  CHECK(seen == 2000);
  // The transaction the stream began is rolled back: the session is usable.
  CHECK_FALSE(s.in_transaction());
  CHECK(s.count(select<User>()) == 3000);
  auto added = test::new_user(s, "after@example.com");
  s.commit();
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM users WHERE email = 'after@example.com'") == 1);
}

TEST_CASE("an error in the middle of a stream inside the caller's transaction aborts it",
          "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 30);
  auto s = fx.session();
  auto tx = s.begin();
  test::new_user(s, "inside@example.com");
  s.flush();
  auto q = select(expr<std::int32_t>("1 / ({} - {})", col<&User::id>, 15)).order_by(col<&User::id>);
  CHECK_THROWS_AS(
      [&] {
        for (auto v : s.stream(q, {.chunk_rows = 10})) (void)v;
      }(),
      DataError);
  CHECK(s.in_transaction());
  CHECK_THROWS_AS(tx.commit(), TransactionRolledBack);
  CHECK(fx.db.scalar<std::int64_t>(
            "SELECT count(*) FROM users WHERE email = 'inside@example.com'") == 0);
}

TEST_CASE("a dropped connection in the middle of a stream throws Disconnect", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 100);
  auto s = fx.session();
  std::int64_t seen = 0;
  try {
    for (const User& u : s.stream_values(select<User>(), {.chunk_rows = 10})) {
      (void)u;
      if (++seen == 15)
        fx.db.conn().exec("SELECT pg_terminate_backend($1)", s.connection().backend_pid());
    }
    FAIL("expected Disconnect");
  } catch (const Disconnect&) {
  }
  CHECK(seen == 20);  // the second chunk was read before the backend went
  CHECK_FALSE(s.in_transaction());
  CHECK(s.count(select<User>()) == 100);  // a new connection
}

TEST_CASE("a stream abandoned half-way leaves the session usable", "[session][stream]") {
  SeenSql seen;
  test::SessionFixture fx(seen.options());
  insert_users(fx, 100);
  auto s = fx.session();

  SECTION("outside a transaction: the transaction the stream began is committed") {
    {
      auto rows = s.stream_values(select<User>(), {.chunk_rows = 10});
      int n = 0;
      for (const User& u : rows) {
        (void)u;
        if (++n == 15) break;
      }
      CHECK(s.in_transaction());
    }
    CHECK(seen.texts->back() == "COMMIT");
    CHECK_FALSE(s.in_transaction());
    test::new_user(s, "later@example.com");
    s.commit();
    CHECK(fx.count("users") == 101);
  }

  SECTION("inside the caller's transaction: the cursor is closed, the transaction goes on") {
    auto tx = s.begin();
    test::new_user(s, "first@example.com");
    s.flush();
    {
      auto rows = s.stream(select<User>(), {.chunk_rows = 10});
      auto it = rows.begin();
      CHECK((*it)->id > 0);
    }
    CHECK(seen.texts->back() == "CLOSE \"pgorm_stream_1\"");
    CHECK(s.in_transaction());
    test::new_user(s, "second@example.com");
    tx.commit();
    CHECK(fx.count("users") == 102);
  }
}

TEST_CASE("any other statement while a stream is open throws StreamOpen and writes nothing",
          "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 30);
  auto s = fx.session();
  auto pending = test::new_user(s, "pending@example.com");
  int n = 0;
  for (const User& u :
       s.stream_values(select<User>().order_by(col<&User::id>), {.chunk_rows = 10})) {
    (void)u;
    if (++n != 5) continue;
    CHECK_THROWS_AS(s.flush(), StreamOpen);
    CHECK_THROWS_AS(s.commit(), StreamOpen);
    CHECK_THROWS_AS(s.get<User>(29), StreamOpen);
    CHECK_THROWS_AS(s.count(select<User>()), StreamOpen);
    CHECK_THROWS_AS(s.execute_sql("DELETE FROM users"), StreamOpen);
    CHECK_THROWS_AS(s.begin_nested(), StreamOpen);
    CHECK_THROWS_AS(s.begin(), StreamOpen);
    CHECK_THROWS_AS(s.stream_values(select<User>()), StreamOpen);
    try {
      s.execute_sql("DELETE FROM users");
    } catch (const StreamOpen& e) {
      CHECK(std::string(e.what()).find("a stream of this session is open") != std::string::npos);
    }
  }
  CHECK(n == 30);
  CHECK(fx.count("users") == 30);
  // Once the stream is over, the session works again, and what was pending is written.
  s.commit();
  CHECK(fx.count("users") == 31);
  CHECK(pending->id > 0);
}

TEST_CASE("Savepoint::commit() refused by an open stream keeps nothing of the savepoint",
          "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 30);
  auto s = fx.session();
  test::new_user(s, "kept@example.com");
  s.flush();
  {
    auto sp = s.begin_nested();
    test::new_user(s, "nested@example.com");
    auto rows = s.stream_values(select<User>().order_by(col<&User::id>), {.chunk_rows = 10});
    auto it = rows.begin();
    REQUIRE(it != rows.end());
    CHECK_THROWS_AS(sp.commit(), StreamOpen);
  }  // the stream ends, then the savepoint, still open, rolls back to itself
  s.commit();
  const auto named = [&](std::string_view email) {
    return fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE email = $1", email);
  };
  CHECK(named("kept@example.com") == 1);
  CHECK(named("nested@example.com") == 0);
  CHECK(fx.count("users") == 31);
}

TEST_CASE("rollback() ends an open stream; reading on then throws", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 30);
  auto s = fx.session();
  auto rows = s.stream_values(select<User>(), {.chunk_rows = 10});
  auto it = rows.begin();
  s.rollback();
  CHECK_FALSE(s.in_transaction());
  for (int i = 0; i < 9; ++i) ++it;  // the rest of the first chunk is in memory
  CHECK_THROWS_AS(++it, InterfaceError);
  CHECK(s.count(select<User>()) == 30);
}

TEST_CASE("tracked stream objects are the session's objects while the stream holds them",
          "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 50);
  auto s = fx.session();
  auto loaded_before = s.get<User>(7);  // already tracked: the stream gives this object
  REQUIRE(loaded_before);
  std::shared_ptr<User> kept;
  std::weak_ptr<User> dropped;
  std::shared_ptr<User> seventh;
  Checksum read;
  for (const auto& u : s.stream(select<User>().order_by(col<&User::id>), {.chunk_rows = 10})) {
    read.add(u->id, u->email);
    auto statements = s.statements_executed();
    CHECK(s.get<User>(u->id) == u);  // from the identity map, no statement
    CHECK(s.statements_executed() == statements);
    CHECK(s.contains(u));
    if (u->id == 3) kept = u;
    if (u->id == 4) dropped = u;
    if (u->id == 5) u->email = "changed@example.com";  // changed, not kept
    if (u->id == 7) seventh = u;
  }
  CHECK(read == server_checksum(fx));
  CHECK(seventh == loaded_before);
  CHECK(s.contains(loaded_before));
  CHECK(s.contains(kept));
  // Nobody held user 4 and it had no change: it left the session and was freed.
  CHECK(dropped.expired());
  // The changed object stayed tracked and is written at commit.
  s.commit();
  CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = 5") == "changed@example.com");
  CHECK(kept->email == "user3@example.com");
}

TEST_CASE("stream() refuses relationship loading and chunks of zero rows", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 3);
  auto s = fx.session();
  CHECK_THROWS_AS(s.stream(select<User>().options(selectin(&User::todos))), ProgrammingError);
  CHECK_THROWS_AS(s.stream_values(select<User>(), {.chunk_rows = 0}), ProgrammingError);
  CHECK_FALSE(s.in_transaction());
  CHECK(s.count(select<User>()) == 3);
}

TEST_CASE("the session's timeout applies to each FETCH of a stream", "[session][stream]") {
  test::SessionFixture fx;
  insert_users(fx, 20);
  auto s = fx.session();
  s.set_timeout(std::chrono::milliseconds(300));
  // Rows after the tenth take 0.2 s each: the second FETCH runs past the timeout, the first not.
  auto q =
      select(col<&User::id>,
             expr<bool>(
                 "CASE WHEN {} > {} THEN (SELECT true FROM pg_sleep(0.2 + 0 * {})) ELSE true END",
                 col<&User::id>, 10, col<&User::id>))
          .order_by(col<&User::id>);
  std::int64_t seen = 0;
  CHECK_THROWS_AS(
      [&] {
        for (const auto& row : s.stream(q, {.chunk_rows = 10})) {
          (void)row;
          ++seen;
        }
      }(),
      DeadlineExceeded);
  CHECK(seen == 10);
  CHECK_FALSE(s.in_transaction());
  CHECK(s.count(select<User>()) == 20);
}
