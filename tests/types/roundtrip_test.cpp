#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/db.hpp"
#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono;

namespace {

// Inserts the object and reads it back with a separate SELECT.
Sample store_and_load(test::TestSchema& db, const Sample& s) {
  Sample inserted = test::insert_returning(db.conn(), s);
  auto loaded = db.conn().query<Sample>(sql::select_all<Sample>() + " WHERE id = $1", inserted.id);
  REQUIRE(loaded.size() == 1);
  return loaded[0];
}

Sample minimal() {
  Sample s;
  s.amount = Decimal("0");
  return s;
}

std::int64_t sample_count(test::TestSchema& db) {
  return db.scalar<std::int64_t>("SELECT count(*) FROM samples");
}

}  // namespace

TEST_CASE("every mapped type round-trips through the server", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample s;
  s.small = -12345;
  s.normal = 123456789;
  s.big = -9'000'000'000'000'000'000;
  s.flag = true;
  s.single = 1.5f;
  s.real = 0.1;
  s.text = "héllo wörld ✓ \"quoted\" 'single' \\back\\slash";
  s.short_text = "abcde";
  s.amount = Decimal("12345678901234567890.0123456789");
  s.blob = {std::byte{0}, std::byte{1}, std::byte{0x7f}, std::byte{0x80}, std::byte{0xff}};
  s.at = sys_days{year{2024} / 2 / 29} + hours{23} + minutes{59} + seconds{58} + microseconds{123456};
  s.local_at = local_days{year{1999} / 12 / 31} + hours{12} + microseconds{1};
  s.day = year{2024} / 2 / 29;
  s.token = Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  s.status = TodoStatus::completed;
  s.doc = Json{R"({"a": [1, 2, {"b": null}], "s": "x\"y"})"};
  s.numbers = {1, -2, 2147483647};
  s.words = {"plain", "with space", "comma,here", "{brace}", "\"quote\"", "back\\slash", "", "NULL",
             "ünïcode"};
  s.sparse = {1, std::nullopt, -3};
  s.statuses = {TodoStatus::archived, TodoStatus::pending};
  s.maybe_int = 42;
  s.maybe_text = "";
  s.maybe_at = sys_days{year{1970} / 1 / 1};
  s.maybe_token = Uuid::v7();
  s.maybe_status = TodoStatus::archived;

  Sample back = store_and_load(db, s);
  CHECK(back.id > 0);
  CHECK(back.small == s.small);
  CHECK(back.normal == s.normal);
  CHECK(back.big == s.big);
  CHECK(back.flag);
  CHECK(back.single == 1.5f);
  CHECK(back.real == 0.1);
  CHECK(back.text == s.text);
  CHECK(back.short_text == "abcde");
  CHECK(back.amount.str() == "12345678901234567890.0123456789");
  CHECK(back.blob == s.blob);
  CHECK(back.at == s.at);
  CHECK(back.local_at == s.local_at);
  CHECK(back.day == s.day);
  CHECK(back.token == s.token);
  CHECK(back.status == TodoStatus::completed);
  CHECK(back.numbers == s.numbers);
  CHECK(back.words == s.words);
  CHECK(back.sparse == s.sparse);
  CHECK(back.statuses == s.statuses);
  CHECK(back.maybe_int == 42);
  CHECK(back.maybe_text == std::optional<std::string>(""));
  CHECK(back.maybe_at == s.maybe_at);
  CHECK(back.maybe_token == s.maybe_token);
  CHECK(back.maybe_status == TodoStatus::archived);
  // jsonb is normalized by the server: compare as JSON, on the server.
  CHECK(db.scalar<bool>("SELECT doc = $1::jsonb FROM samples WHERE id = $2", s.doc, back.id));
  CHECK(db.scalar<std::string>("SELECT doc->>'s' FROM samples WHERE id = $1", back.id) == "x\"y");
}

TEST_CASE("NULLs come back as empty optionals", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample back = store_and_load(db, minimal());
  CHECK_FALSE(back.maybe_int);
  CHECK_FALSE(back.maybe_text);
  CHECK_FALSE(back.maybe_at);
  CHECK_FALSE(back.maybe_token);
  CHECK_FALSE(back.maybe_status);
  CHECK(db.scalar<bool>("SELECT maybe_text IS NULL AND maybe_int IS NULL FROM samples"));
}

TEST_CASE("integer limits round-trip", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  for (bool low : {true, false}) {
    Sample s = minimal();
    s.small = low ? std::numeric_limits<std::int16_t>::min() : std::numeric_limits<std::int16_t>::max();
    s.normal = low ? std::numeric_limits<std::int32_t>::min() : std::numeric_limits<std::int32_t>::max();
    s.big = low ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
    Sample back = store_and_load(db, s);
    CHECK(back.small == s.small);
    CHECK(back.normal == s.normal);
    CHECK(back.big == s.big);
  }
  CHECK(db.scalar<std::int64_t>("SELECT max(big) FROM samples") ==
        std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("NaN and infinities round-trip for floating point", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample s = minimal();
  s.real = std::numeric_limits<double>::quiet_NaN();
  s.single = -std::numeric_limits<float>::infinity();
  Sample back = store_and_load(db, s);
  CHECK(std::isnan(back.real));
  CHECK(std::isinf(back.single));
  CHECK(back.single < 0);
  CHECK(db.scalar<bool>("SELECT real = 'NaN'::float8 AND single = '-Infinity'::float4 FROM samples"));
  s.real = std::numeric_limits<double>::infinity();
  s.single = std::numeric_limits<float>::denorm_min();
  back = store_and_load(db, s);
  CHECK(back.real == std::numeric_limits<double>::infinity());
  CHECK(back.single == std::numeric_limits<float>::denorm_min());
  s.real = 1.0 / 3.0;
  CHECK(store_and_load(db, s).real == 1.0 / 3.0);
}

TEST_CASE("timestamps keep microseconds before 1970 and far in the future", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  std::vector<Timestamp> instants = {
      Timestamp(microseconds{-1}),                                       // 1969-12-31 23:59:59.999999
      sys_days{year{1900} / 1 / 1} + microseconds{1},
      sys_days{year{-100} / 3 / 1} + hours{6},                           // 101 BC
      sys_days{year{9999} / 12 / 31} + hours{23} + minutes{59} + seconds{59} + microseconds{999999},
      sys_days{year{32767} / 6 / 15},
      Timestamp(microseconds{9'000'000'000'000'000'000}),  // about 287,000 AD
  };
  for (const auto& at : instants) {
    Sample s = minimal();
    s.at = at;
    s.local_at = LocalTimestamp(at.time_since_epoch());
    Sample back = store_and_load(db, s);
    CHECK(back.at == at);
    CHECK(back.local_at == s.local_at);
  }
  // The server agrees on what was stored: -1 microsecond is the last instant of 1969 in UTC.
  CHECK(db.scalar<std::string>(
            "SELECT to_char(min(at) FILTER (WHERE at > '1950-01-01'), "
            "'YYYY-MM-DD HH24:MI:SS.US') FROM samples") == "1969-12-31 23:59:59.999999");
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples WHERE at < '0001-01-01'") == 1);
}

TEST_CASE("dates before the common era and far future dates round-trip", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  for (Date d : {Date{year{-43} / 3 / 15}, Date{year{1} / 1 / 1}, Date{year{9999} / 12 / 31}}) {
    Sample s = minimal();
    s.day = d;
    CHECK(store_and_load(db, s).day == d);
  }
  CHECK(db.scalar<std::string>("SELECT day::text AS shown FROM samples ORDER BY day LIMIT 1") ==
        "0044-03-15 BC");
}

TEST_CASE("the extreme C++ time points are PostgreSQL's infinities", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample s = minimal();
  s.at = Timestamp::max();
  s.day = Date{year::max() / December / 31};
  Sample back = store_and_load(db, s);
  CHECK(back.at == Timestamp::max());
  CHECK(back.day == s.day);
  CHECK(db.scalar<bool>("SELECT at = 'infinity'::timestamptz AND day = 'infinity'::date FROM samples"));
  s.at = Timestamp::min();
  s.day = Date{year::min() / January / 1};
  back = store_and_load(db, s);
  CHECK(back.at == Timestamp::min());
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM samples WHERE at = '-infinity'") == 1);
}

TEST_CASE("a text value with a NUL byte is refused before anything is written", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample s = minimal();
  s.text = std::string("before\0after", 12);
  CHECK_THROWS_AS(test::insert_returning(db.conn(), s), DataError);
  CHECK(sample_count(db) == 0);
}

TEST_CASE("a string longer than varchar(N) is a DataError naming the SQLSTATE", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  Sample s = minimal();
  s.short_text = "toolong";
  auto st = insert<Sample>().value(s).statement();
  try {
    db.conn().execute(st.sql, st.params);
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK(e.sqlstate() == "22001");
    CHECK(std::string(e.what()).find("character varying(5)") != std::string::npos);
    CHECK(e.statement() == st.sql);
    CHECK(std::string(e.what()).find("toolong") == std::string::npos);  // values are not echoed
  }
  CHECK(sample_count(db) == 0);
}

TEST_CASE("an enum label the C++ enum does not know is a DataError on read", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  store_and_load(db, minimal());
  db.conn().execute("ALTER TYPE todo_status ADD VALUE 'blocked'");
  db.conn().execute("UPDATE samples SET status = 'blocked'");
  try {
    db.conn().query<Sample>(sql::select_all<Sample>());
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK(e.column() == "status");
    CHECK(std::string(e.what()).find("blocked") != std::string::npos);
  }
}

TEST_CASE("an invalid enum label sent to the server is a DataError", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  CHECK_THROWS_AS(db.conn().exec("SELECT $1::todo_status", "nope"), DataError);
}

TEST_CASE("NULL read into a non-optional member is a DataError naming the column", "[types]") {
  test::TestSchema db;
  try {
    db.conn().query<std::tuple<std::int32_t>>("SELECT NULL::integer AS n");
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    CHECK(e.column() == "n");
  }
}

TEST_CASE("injection strings are stored and read back verbatim", "[types]") {
  test::TestSchema db;
  Metadata::of<Sample>().create_all(db.conn());
  for (std::string evil : {"'; DROP TABLE samples; --", "\\'; SELECT 1; --", "$1", "\"samples\"",
                           "Robert'); DROP TABLE students;--", "💥\u202e"}) {
    Sample s = minimal();
    s.text = evil;
    s.words = {evil, evil};
    Sample back = store_and_load(db, s);
    CHECK(back.text == evil);
    CHECK(back.words == s.words);
  }
  CHECK(sample_count(db) == 6);
}
