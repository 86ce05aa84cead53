// Many rows at once. Session::execute(insert<T>().values(rows)) without RETURNING sends them with
// COPY ... FROM STDIN, and a flush of many new objects of a table sends one INSERT ... SELECT *
// FROM unnest(...) RETURNING. The rows read back must be exactly those an INSERT ... VALUES
// writes, for every mapped type and for the characters the formats escape, and a failing row
// fails the whole statement.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "support/session_fixture.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono;

namespace {

// Row i of a set that covers every column and the characters COPY escapes.
Sample tricky_sample(int i) {
  Sample s;
  s.small = static_cast<std::int16_t>(i % 2 ? -32768 : 32767);
  s.normal = i;
  s.big = i % 3 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
  s.flag = i % 2 == 0;
  s.single = 1.5f * static_cast<float>(i);
  s.real = 0.1 * i;
  s.text = fmt::format("row {}\ttab\nnewline\rreturn\\backslash \\N \\t ✓", i);
  s.short_text = "a\tb\\";
  s.amount = Decimal(fmt::format("{}.0123456789", i));
  s.blob = {std::byte{0}, std::byte{'\t'}, std::byte{'\\'}, std::byte{'\n'}, std::byte{0xff}};
  s.at = sys_days{year{2024} / 2 / 29} + microseconds{i};
  s.local_at = local_days{year{1999} / 12 / 31} + hours{12};
  s.day = year{2024} / 2 / 29;
  s.token = Uuid::v7();
  s.status = TodoStatus::completed;
  s.doc = Json{R"({"tab": "a\tb", "nl": "x\ny", "back": "\\", "n": null})"};
  s.numbers = {i, -i};
  s.words = {"with\ttab", "new\nline", "back\\slash", "\\N", "NULL", "", "{brace}", "\"q\""};
  s.sparse = {std::nullopt, i};
  s.statuses = {TodoStatus::archived};
  if (i % 2) {
    s.maybe_int = i;
    s.maybe_text = "\\N";  // the text, not NULL
    s.maybe_at = sys_days{year{1970} / 1 / 1};
    s.maybe_token = Uuid::v7();
    s.maybe_status = TodoStatus::pending;
  }
  return s;
}

}  // namespace

using test::any_starts_with;
using test::recording;

TEST_CASE("COPY text for many rows: the columns not left to defaults, delimiters escaped",
          "[query][copy]") {
  std::vector<User> users(2);
  users[0].email = "tab\there";
  users[1].email = "back\\slash\nline\rreturn";
  auto copy = insert<User>().values(users).copy_in();
  REQUIRE(copy);
  // id, created_at and updated_at are left to the server.
  CHECK(copy->sql == R"(COPY "users" ("email") FROM STDIN)");
  CHECK(copy->data == "tab\\there\nback\\\\slash\\nline\\rreturn\n");

  // Rows that leave different columns to their defaults, RETURNING, ON CONFLICT: no COPY.
  users[1].id = 7;
  CHECK_FALSE(insert<User>().values(users).copy_in());
  users[1].id = 0;
  CHECK_FALSE(insert<User>().values(users).on_conflict<&User::email>().do_nothing().copy_in());
  CHECK(insert<User>().values(users).copy_in());
}

TEST_CASE("insert().values() of many rows is one COPY and writes what INSERT ... VALUES writes",
          "[session][copy]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Engine engine(db.conninfo());
  constexpr int kRows = 150;
  std::vector<Sample> rows;
  for (int i = 0; i < kRows; ++i) rows.push_back(tricky_sample(i));

  // The same rows through INSERT ... VALUES (ids 1..kRows), then through the session (COPY).
  auto values = insert<Sample>().values(rows).statement();
  REQUIRE(values.sql.rfind("INSERT INTO", 0) == 0);
  db.conn().execute(values.sql, values.params);
  Session s(engine);
  auto statements = s.statements_executed();
  CHECK(s.execute(insert<Sample>().values(rows)) == kRows);
  CHECK(s.statements_executed() - statements == 3);  // BEGIN, the table check, COPY
  s.commit();

  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples") == 2 * kRows);
  // Every column of every COPY row equals its INSERT twin, compared by the server.
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples a JOIN samples b ON b.id = a.id + $1 "
                                "WHERE to_jsonb(a) - 'id' IS DISTINCT FROM to_jsonb(b) - 'id'",
                                kRows) == 0);
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples b JOIN samples a ON b.id = a.id + $1",
                                kRows) == kRows);
  // And what the escapes stand for came through.
  auto back = db.conn().query<Sample>(sql::select_all<Sample>() + " WHERE id = $1",
                                      std::int64_t{kRows + 2});
  REQUIRE(back.size() == 1);
  const Sample expected = tricky_sample(1);
  CHECK(back[0].text == expected.text);
  CHECK(back[0].short_text == expected.short_text);
  CHECK(back[0].blob == expected.blob);
  CHECK(back[0].words == expected.words);
  CHECK(back[0].maybe_text == std::optional<std::string>("\\N"));
  CHECK(back[0].doc.text.find("a\\tb") != std::string::npos);
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples WHERE id > $1 AND maybe_text IS NULL",
                                std::int64_t{kRows}) == kRows / 2);
}

TEST_CASE("a table with an INSERT rule gets an INSERT, not a COPY that would skip the rule",
          "[session][copy]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  fx.db.conn().execute_script(
      "CREATE TABLE user_audit (email text); "
      "CREATE RULE audit_users AS ON INSERT TO users DO ALSO "
      "INSERT INTO user_audit VALUES (NEW.email)");
  std::vector<User> users(120);
  for (std::size_t i = 0; i < users.size(); ++i)
    users[i].email = fmt::format("audited{}@example.com", i);
  auto s = fx.session();
  CHECK(s.execute(insert<User>().values(users)) == 120);
  s.commit();
  CHECK_FALSE(any_starts_with(sent, "COPY"));
  CHECK(fx.count("users") == 120);
  CHECK(fx.count("user_audit") == 120);
}

TEST_CASE("a row that fails the COPY fails all of it, with the constraint named",
          "[session][copy]") {
  test::SessionFixture fx;
  std::vector<User> users(120);
  for (std::size_t i = 0; i < users.size(); ++i)
    users[i].email = fmt::format("user{}@example.com", i);
  users[119].email = users[3].email;
  auto s = fx.session();
  try {
    s.execute(insert<User>().values(users));
    FAIL("expected UniqueViolation");
  } catch (const UniqueViolation& e) {
    CHECK(e.sqlstate() == "23505");
    CHECK(e.table() == "users");
    CHECK_FALSE(e.constraint().empty());
    CHECK(e.statement().rfind("COPY \"users\"", 0) == 0);
  }
  s.rollback();
  CHECK(fx.count("users") == 0);
  // The session goes on.
  users[119].email = "last@example.com";
  CHECK(s.execute(insert<User>().values(users)) == 120);
  s.commit();
  CHECK(fx.count("users") == 120);
}

// ---- the flush: many new objects of a table in one INSERT ... SELECT * FROM unnest(...) ----


TEST_CASE("add_all of many objects is one INSERT from unnest, rows written back in order",
          "[session][copy]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  auto owner = fx.insert_user("owner@example.com");
  const std::vector<std::string> titles = {"plain", "quote\"d", "back\\slash", "{brace}", "NULL",
                                           "",      "comma,here", "tab\there", "ünïcode ✓"};
  std::vector<Todo> batch(45);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].title = titles[i % titles.size()] + " " + std::to_string(i);
    if (i % 3) batch[i].description = i % 2 ? "NULL" : "\"quoted\" and \\";
    batch[i].status = i % 2 ? TodoStatus::completed : TodoStatus::archived;
    batch[i].user_id = owner;
  }
  auto s = fx.session();
  auto added = s.add_all(batch);
  auto statements = s.statements_executed();
  s.commit();
  CHECK(s.statements_executed() - statements == 1);  // alone, in autocommit
  CHECK(any_starts_with(sent, "INSERT INTO \"todos\" (\"title\""));
  REQUIRE(std::count_if(sent.begin(), sent.end(), [](const std::string& q) {
            return q.find("SELECT * FROM unnest(") != std::string::npos;
          }) == 1);
  CHECK(fx.count("todos") == 45);
  // Each object got its own row's key and server defaults: read back by the key it got.
  auto s2 = fx.session();
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto& t = added[i];
    REQUIRE(t->id > 0);
    auto row = s2.get<Todo>(t->id);
    REQUIRE(row);
    CHECK(row->title == batch[i].title);
    CHECK(row->description == batch[i].description);
    CHECK(row->status == batch[i].status);
    CHECK(row->created_at == t->created_at);
    CHECK(t->created_at != Timestamp{});
  }
}

TEST_CASE("more objects than one unnest INSERT carries: split in order, each written back",
          "[session][copy]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  auto owner = fx.insert_user("owner@example.com");
  std::vector<Todo> batch(20002);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].title = "split " + std::to_string(i);
    batch[i].user_id = owner;
  }
  auto s = fx.session();
  auto added = s.add_all(batch);
  s.commit();
  // 10,000 + 10,000 + 2, each statement the same prepared text.
  CHECK(std::count_if(sent.begin(), sent.end(), [](const std::string& q) {
          return q.find("SELECT * FROM unnest(") != std::string::npos;
        }) == 3);
  REQUIRE(fx.count("todos") == 20002);
  std::map<std::int32_t, std::string> by_id;
  for (auto& [id, title] :
       fx.db.conn().query<std::tuple<std::int32_t, std::string>>("SELECT id, title FROM todos"))
    by_id[id] = title;
  REQUIRE(added.size() == batch.size());
  std::size_t matched = 0;
  for (std::size_t i = 0; i < added.size(); ++i) {
    auto it = by_id.find(added[i]->id);
    if (it != by_id.end() && it->second == batch[i].title) ++matched;
    if (i > 0 && added[i]->id <= added[i - 1]->id) FAIL("keys out of order at " << i);
  }
  CHECK(matched == added.size());  // every object holds the key of its own row
}

TEST_CASE("a string too long for its varchar(n) fails the many-object INSERT as it fails one",
          "[session][copy]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  auto s = fx.session();
  std::vector<User> users(2);
  users[0].email = "short@example.com";
  users[1].email = std::string(300, 'x');  // users.email is varchar(255)
  s.add_all(users);
  try {
    s.commit();
    FAIL("expected DataError");
  } catch (const DataError& e) {
    CHECK(e.sqlstate() == "22001");
  }
  CHECK(any_starts_with(sent, "INSERT INTO \"users\" (\"email\") SELECT * FROM unnest("));
  CHECK(fx.count("users") == 0);
}

TEST_CASE("objects that differ in what they leave to defaults, or with array columns, use VALUES",
          "[session][copy]") {
  std::vector<std::string> sent;
  test::SessionFixture fx(recording(sent));
  auto s = fx.session();
  SECTION("explicit keys on every object: the key is sent as an integer array") {
    std::vector<User> users(3);
    for (int i = 0; i < 3; ++i) {
      users[i].id = 100 + i;
      users[i].email = fmt::format("explicit{}@example.com", i);
    }
    s.add_all(users);
    s.commit();
    CHECK(any_starts_with(sent, "INSERT INTO \"users\" (\"id\""));
    CHECK(fx.db.scalar<std::int64_t>("SELECT count(*) FROM users WHERE id BETWEEN 100 AND 102 "
                                     "AND email LIKE 'explicit%'") == 3);
  }
  SECTION("one explicit key among serial ones: VALUES with DEFAULT") {
    std::vector<User> users(3);
    for (int i = 0; i < 3; ++i) users[i].email = fmt::format("mixed{}@example.com", i);
    users[1].id = 500;
    auto added = s.add_all(users);
    s.commit();
    CHECK(std::none_of(sent.begin(), sent.end(), [](const std::string& q) {
      return q.find("unnest(") != std::string::npos;
    }));
    CHECK(added[1]->id == 500);
    for (const auto& u : added)
      CHECK(fx.db.scalar<std::string>("SELECT email FROM users WHERE id = $1", u->id) == u->email);
  }
}

TEST_CASE("a model with array columns is flushed with VALUES, arrays intact", "[session][copy]") {
  std::vector<std::string> sent;
  EngineOptions options = recording(sent);
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Engine engine(db.conninfo(), options);
  Session s(engine);
  std::vector<Sample> rows;
  for (int i = 0; i < 3; ++i) rows.push_back(tricky_sample(i));
  auto added = s.add_all(rows);
  s.commit();
  CHECK(std::none_of(sent.begin(), sent.end(),
                     [](const std::string& q) { return q.find("unnest(") != std::string::npos; }));
  for (std::size_t i = 0; i < added.size(); ++i) {
    auto back = db.conn().query<Sample>(sql::select_all<Sample>() + " WHERE id = $1", added[i]->id);
    REQUIRE(back.size() == 1);
    CHECK(back[0].words == rows[i].words);
    CHECK(back[0].text == rows[i].text);
  }
}
