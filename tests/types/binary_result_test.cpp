// Binary results: selects of models whose columns all read PostgreSQL's binary format are read in
// binary. The values here are written by the server from SQL literals (not by pgorm's encoders)
// and read back both ways: in binary through the session, and as text through a connection.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/db.hpp"
#include "support/models.hpp"

using namespace pgorm;
using namespace testmodels;
using namespace std::chrono;

namespace binarytest {

// Every type pgorm reads in binary, NULL-able twins included.
struct Scalars : Model<Scalars, BigIntKey, TableName<"scalars">> {
  std::int16_t small = 0;
  std::int32_t normal = 0;
  std::int64_t big = 0;
  bool flag = false;
  float single = 0;
  double real = 0;
  std::string text;
  std::string short_text;
  Bytes blob;
  Timestamp at{};
  LocalTimestamp local_at{};
  Date day{year{2000}, month{1}, std::chrono::day{1}};
  Uuid token;
  TodoStatus status = TodoStatus::pending;
  std::optional<std::int64_t> maybe_big;
  std::optional<std::string> maybe_text;
  std::optional<Timestamp> maybe_at;
  std::optional<Uuid> maybe_token;
  static constexpr auto columns =
      pgorm::columns(column<&Scalars::small>(), column<&Scalars::normal>(), column<&Scalars::big>(),
                     column<&Scalars::flag>(), column<&Scalars::single>(), column<&Scalars::real>(),
                     column<&Scalars::text>(pgorm::text), column<&Scalars::short_text>(varchar(5)),
                     column<&Scalars::blob>(), column<&Scalars::at>(), column<&Scalars::local_at>(),
                     column<&Scalars::day>(), column<&Scalars::token>(), column<&Scalars::status>(),
                     column<&Scalars::maybe_big>(), column<&Scalars::maybe_text>(),
                     column<&Scalars::maybe_at>(), column<&Scalars::maybe_token>());
};

// A string column declared jsonb: its binary form is not its text, so the model reads text.
struct Document : Model<Document, TableName<"documents">> {
  std::string body;
  static constexpr auto columns = pgorm::columns(column<&Document::body>(sql_type("jsonb")));
};

// Declares an integer where the table (created by hand below) has numeric.
struct Drift : Model<Drift, TableName<"drifts">> {
  std::int32_t n = 0;
  static constexpr auto columns = pgorm::columns(column<&Drift::n>());
};

// Declares what the table (created by hand below) holds as other, compatible types.
struct Widened : Model<Widened, TableName<"widened">> {
  double d = 0;            // integer
  Timestamp at{};          // date
  std::string token;       // uuid
  double r = 0;            // real
  std::int32_t n = 0;      // bigint
  std::int64_t label = 0;  // text
  static constexpr auto columns =
      pgorm::columns(column<&Widened::d>(), column<&Widened::at>(), column<&Widened::token>(),
                     column<&Widened::r>(), column<&Widened::n>(), column<&Widened::label>());
};

struct RealValue : Model<RealValue, TableName<"real_values">> {
  double r = 0;
  static constexpr auto columns = pgorm::columns(column<&RealValue::r>(sql_type("real")));
};

}  // namespace binarytest

using binarytest::Document;
using binarytest::Drift;
using binarytest::RealValue;
using binarytest::Scalars;
using binarytest::Widened;

namespace {

// Three rows of edge values, written by the server from literals.
void insert_edges(test::TestSchema& db) {
  db.conn().exec(R"(INSERT INTO scalars (id, small, normal, big, flag, single, real, text,
      short_text, blob, at, local_at, day, token, status, maybe_big, maybe_text, maybe_at,
      maybe_token) VALUES
    (1, -32768, -2147483648, -9223372036854775808, true, 'NaN', '-Infinity', '', 'abcde',
     '\x00ff00', 'infinity', '-infinity', 'infinity', '00000000-0000-0000-0000-000000000000',
     'archived', NULL, NULL, NULL, NULL),
    (2, 32767, 2147483647, 9223372036854775807, false, 'Infinity', 'NaN', 'héllo ✓ "q"',
     'x', '\x', '2000-01-01 00:00:00+00', '1999-12-31 23:59:59.999999', '2000-01-01',
     'ffffffff-ffff-ffff-ffff-ffffffffffff', 'pending', 0, '', '1970-01-01 00:00:00+00',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (3, 0, -1, 1, true, '-3.4028235e38', '2.2250738585072014e-308', 'x', '',
     '\x7f80', '4713-01-01 00:00:00+00 BC', '294247-01-10 04:00:54.775806', '4713-01-01 BC',
     '00000000-0000-0000-0000-000000000001', 'completed', -1, 'NULL',
     '2024-02-29 12:34:56.000001+00', NULL))");
}

std::vector<Scalars> read_as_text(test::TestSchema& db) {
  return db.conn().query<Scalars>(sql::select_all<Scalars>() + " ORDER BY id");
}

}  // namespace

TEST_CASE("a model is read in binary when every column reads binary", "[unit]") {
  CHECK(detail::binary_rows<Scalars>());
  CHECK(detail::binary_rows<Todo>());
  CHECK_FALSE(detail::binary_rows<Sample>());    // numeric, json and arrays read text
  CHECK_FALSE(detail::binary_rows<Document>());  // std::string declared jsonb
  CHECK(detail::rows_statement(select<Scalars>()).params.binary_results());
  CHECK_FALSE(detail::rows_statement(select<Sample>()).params.binary_results());
  CHECK_FALSE(detail::rows_statement(select(col<&Scalars::big>)).params.binary_results());
  // Joined loading adds another model's columns: text.
  CHECK(detail::rows_statement(select<Todo>()).params.binary_results());
  CHECK_FALSE(
      detail::rows_statement(select<Todo>().options(joined(&Todo::user))).params.binary_results());
  CHECK(type_traits<std::string>::binary_declared("VARCHAR(40)"));
  CHECK(type_traits<Timestamp>::binary_declared("timestamp(3) with time zone"));
  CHECK_FALSE(type_traits<std::string>::binary_declared("citext"));
  CHECK_FALSE(type_traits<std::int64_t>::binary_declared("numeric(20,0)"));
}

TEST_CASE("binary results decode edge values as text results do", "[types][binary]") {
  test::TestSchema db;
  Metadata::of<Scalars>().create_all(db.conn());
  insert_edges(db);
  Engine engine(db.conninfo());
  Session s(engine);
  auto rows = s.values(select<Scalars>().order_by(col<&Scalars::id>));
  auto text = read_as_text(db);
  REQUIRE(rows.size() == 3);
  REQUIRE(text.size() == 3);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(equal_columns(rows[i], text[i]));  // a NaN equals a NaN here
  }

  // Values known without pgorm's decoders.
  const Scalars& a = rows[0];
  CHECK(a.small == std::numeric_limits<std::int16_t>::min());
  CHECK(a.normal == std::numeric_limits<std::int32_t>::min());
  CHECK(a.big == std::numeric_limits<std::int64_t>::min());
  CHECK(a.flag);
  CHECK(std::isnan(a.single));
  CHECK(a.real == -std::numeric_limits<double>::infinity());
  CHECK(a.text.empty());
  CHECK(a.short_text == "abcde");
  CHECK(a.blob == Bytes{std::byte{0}, std::byte{0xff}, std::byte{0}});
  CHECK(a.at == Timestamp::max());
  CHECK(a.local_at == LocalTimestamp::min());
  CHECK(a.day == year::max() / December / 31);
  CHECK(a.token.is_nil());
  CHECK(a.status == TodoStatus::archived);
  CHECK_FALSE(a.maybe_big.has_value());
  CHECK_FALSE(a.maybe_text.has_value());
  CHECK_FALSE(a.maybe_at.has_value());
  CHECK_FALSE(a.maybe_token.has_value());

  const Scalars& b = rows[1];
  CHECK(b.small == std::numeric_limits<std::int16_t>::max());
  CHECK(b.normal == std::numeric_limits<std::int32_t>::max());
  CHECK(b.big == std::numeric_limits<std::int64_t>::max());
  CHECK_FALSE(b.flag);
  CHECK(b.single == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(b.real));
  CHECK(b.text == "héllo ✓ \"q\"");
  CHECK(b.blob.empty());
  CHECK(b.at.time_since_epoch() == seconds{946684800});  // PostgreSQL's binary epoch
  CHECK(b.local_at.time_since_epoch() == seconds{946684800} - microseconds{1});
  CHECK(b.day == year{2000} / January / 1);
  CHECK(b.token == Uuid::parse("ffffffff-ffff-ffff-ffff-ffffffffffff"));
  CHECK(b.maybe_big == 0);
  CHECK(b.maybe_text == "");
  CHECK(b.maybe_at == Timestamp{});
  CHECK(b.maybe_token == Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));

  const Scalars& c = rows[2];
  CHECK(c.single == -3.4028235e38f);
  CHECK(c.real == std::numeric_limits<double>::min());
  CHECK(c.blob == Bytes{std::byte{0x7f}, std::byte{0x80}});
  // 4713 BC is astronomical year -4712; 2440588 days before 1970 is 4714-11-24 BC.
  CHECK(c.at.time_since_epoch() == seconds{-210866803200 + 38 * 86400});
  CHECK(c.day == year{-4712} / January / 1);
  // The last microsecond std::chrono::microseconds holds (its maximum stands for infinity).
  CHECK(c.local_at.time_since_epoch().count() == std::numeric_limits<std::int64_t>::max() - 1);
  CHECK(c.maybe_text == "NULL");
  CHECK(c.maybe_at == Timestamp{sys_days{year{2024} / 2 / 29} + hours{12} + minutes{34} +
                                seconds{56} + microseconds{1}});
}

TEST_CASE("a timestamp beyond std::chrono's range is refused in binary as in text",
          "[types][binary]") {
  test::TestSchema db;
  Metadata::of<Scalars>().create_all(db.conn());
  db.conn().exec(
      "INSERT INTO scalars (id, small, normal, big, flag, single, real, text, short_text, blob, "
      "at, local_at, day, token, status) VALUES (1, 0, 0, 0, false, 0, 0, '', '', '\\x', "
      "'294276-12-31 23:59:59+00', 'epoch', 'epoch', gen_random_uuid(), 'pending')");
  Engine engine(db.conninfo());
  Session s(engine);
  try {
    s.values(select<Scalars>());
    FAIL("an out-of-range timestamp was read");
  } catch (const DataError& e) {
    CHECK(e.column() == "at");
  }
  REQUIRE_THROWS_AS(read_as_text(db), DataError);
}

TEST_CASE("tracked loads, get() and refresh() read binary results", "[session][binary]") {
  test::TestSchema db;
  Metadata::of<Scalars>().create_all(db.conn());
  insert_edges(db);
  auto text = read_as_text(db);
  Engine engine(db.conninfo());
  Session s(engine);
  auto objects = s.execute(select<Scalars>().order_by(col<&Scalars::id>));
  REQUIRE(objects.size() == 3);
  for (std::size_t i = 0; i < objects.size(); ++i) CHECK(equal_columns(*objects[i], text[i]));
  // The loaded state is the snapshot: a commit writes nothing.
  s.commit();
  auto unchanged = read_as_text(db);
  for (std::size_t i = 0; i < objects.size(); ++i) CHECK(equal_columns(unchanged[i], text[i]));

  Session other(engine);
  auto third = other.get<Scalars>(std::int64_t{3});
  REQUIRE(third != nullptr);
  CHECK(equal_columns(*third, text[2]));
  third->text = "changed";
  third->maybe_at.reset();
  other.refresh(third);
  CHECK(equal_columns(*third, text[2]));

  // A change made after a binary load is written, and reads back the same both ways.
  objects[1]->real = 0.1;
  objects[1]->maybe_text = "now set";
  s.commit();
  auto again = read_as_text(db);
  CHECK(again[1].real == 0.1);
  CHECK(again[1].maybe_text == "now set");
  CHECK(equal_columns(again[0], text[0]));
  CHECK(equal_columns(again[2], text[2]));
}

TEST_CASE("a server column of another type than declared is read through its text form",
          "[types][binary]") {
  test::TestSchema db;
  db.conn().exec(
      "CREATE TABLE widened (id serial PRIMARY KEY, d integer NOT NULL, at date NOT NULL, "
      "token uuid NOT NULL, r real NOT NULL, n bigint NOT NULL, label text NOT NULL)");
  db.conn().exec(
      "INSERT INTO widened (d, at, token, r, n, label) VALUES (5, '2024-02-29', "
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 0.1, 7, '12')");
  REQUIRE(detail::binary_rows<Widened>());
  Engine engine(db.conninfo());
  Session s(engine);
  auto rows = s.values(select<Widened>());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].d == 5.0);
  CHECK(rows[0].at == Timestamp{sys_days{year{2024} / 2 / 29}});
  CHECK(rows[0].token == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(rows[0].r == 0.1);  // the real's shortest decimal, as text gives, not the widened float
  CHECK(rows[0].n == 7);
  CHECK(rows[0].label == 12);
  // A double declared real is read as text.
  CHECK_FALSE(detail::binary_rows<RealValue>());
}

TEST_CASE("a column of a type pgorm cannot read in binary is a DataError naming it",
          "[types][binary]") {
  test::TestSchema db;
  db.conn().exec("CREATE TABLE drifts (id serial PRIMARY KEY, n numeric NOT NULL)");
  db.conn().exec("INSERT INTO drifts (n) VALUES (12)");
  {
    Engine engine(db.conninfo());
    Session s(engine);
    try {
      s.values(select<Drift>());
      FAIL("a numeric column was read from a binary result");
    } catch (const DataError& e) {
      CHECK(e.column() == "n");
      CHECK_THAT(std::string(e.what()), Catch::Contains("OID 1700") && Catch::Contains("integer") &&
                                            Catch::Contains("binary_results"));
    }
    REQUIRE_THROWS_AS(s.execute(select<Drift>()), DataError);
    REQUIRE_THROWS_AS(s.get<Drift>(1), DataError);
  }
  // Results as text (EngineOptions::binary_results = false) read it as text always did.
  EngineOptions options;
  options.binary_results = false;
  Engine engine(db.conninfo(), options);
  Session s(engine);
  auto rows = s.values(select<Drift>());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].n == 12);
  CHECK(s.get<Drift>(1)->n == 12);
}

TEST_CASE("a connection returns binary results when the parameters ask for them", "[binary]") {
  test::TestSchema db;
  for (bool prepared : {true, false}) {
    CAPTURE(prepared);
    Params p;
    p.add(std::int64_t{-5});
    p.set_binary_results(true);
    const std::string sql = "SELECT $1::bigint AS n, '2000-01-01 00:00:01+00'::timestamptz AS at";
    Result r = prepared ? db.conn().execute_prepared(sql, p) : db.conn().execute(sql, p);
    REQUIRE(r.binary());
    CHECK(r.get(0, 0).size() == 8);
    CHECK(r.value<std::int64_t>(0, 0) == -5);
    CHECK(r.value<Timestamp>(0, 1).time_since_epoch() == seconds{946684801});
    p.set_binary_results(false);
    Result t = prepared ? db.conn().execute_prepared(sql, p) : db.conn().execute(sql, p);
    CHECK_FALSE(t.binary());
    CHECK(t.get(0, 0) == "-5");
  }
}

namespace binarytest {
// A type of the user's with a binary reader, and one without (read as text).
struct Cents {
  std::int64_t value = 0;
  friend bool operator==(const Cents&, const Cents&) = default;
};
struct Label {
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};
}  // namespace binarytest

template <>
struct pgorm::type_traits<binarytest::Cents> {
  static std::string sql_type() { return "bigint"; }
  static void encode(const binarytest::Cents& v, std::string& out) {
    pgorm::type_traits<std::int64_t>::encode(v.value, out);
  }
  static void decode(std::string_view text, binarytest::Cents& out) {
    pgorm::type_traits<std::int64_t>::decode(text, out.value);
  }
  static bool decode_binary(std::string_view bytes, unsigned type, binarytest::Cents& out) {
    return pgorm::type_traits<std::int64_t>::decode_binary(bytes, type, out.value);
  }
  static bool binary_declared(std::string_view sql_type) {
    return pgorm::type_traits<std::int64_t>::binary_declared(sql_type);
  }
};
template <>
struct pgorm::type_traits<binarytest::Label> {
  static std::string sql_type() { return "text"; }
  static void encode(const binarytest::Label& v, std::string& out) { out.append(v.value); }
  static void decode(std::string_view text, binarytest::Label& out) { out.value.assign(text); }
};

namespace binarytest {
struct Priced : Model<Priced, TableName<"priced">> {
  Cents price;
  std::optional<Cents> discount;
  static constexpr auto columns =
      pgorm::columns(column<&Priced::price>(), column<&Priced::discount>());
};
struct Labelled : Model<Labelled, TableName<"labelled">> {
  Label label;
  static constexpr auto columns = pgorm::columns(column<&Labelled::label>());
};
}  // namespace binarytest

TEST_CASE("a user's type with a binary reader is read in binary, one without as text",
          "[types][binary]") {
  using binarytest::Labelled;
  using binarytest::Priced;
  CHECK(detail::binary_rows<Priced>());
  CHECK_FALSE(detail::binary_rows<Labelled>());
  test::TestSchema db;
  Metadata::of<Priced, Labelled>().create_all(db.conn());
  db.conn().exec("INSERT INTO priced (price, discount) VALUES (-9000000000, NULL), (5, 2)");
  db.conn().exec("INSERT INTO labelled (label) VALUES ('x y')");
  Engine engine(db.conninfo());
  Session s(engine);
  auto prices = s.values(select<Priced>().order_by(col<&Priced::id>));
  REQUIRE(prices.size() == 2);
  CHECK(prices[0].price.value == -9'000'000'000);
  CHECK_FALSE(prices[0].discount.has_value());
  CHECK(prices[1].discount == binarytest::Cents{2});
  auto labels = s.values(select<Labelled>());
  REQUIRE(labels.size() == 1);
  CHECK(labels[0].label.value == "x y");
}

TEST_CASE("the flush reads the RETURNING rows of inserts and updates in binary",
          "[session][binary]") {
  test::TestSchema db;
  Metadata::of<Scalars>().create_all(db.conn());
  // The server changes what it stores, so the objects hold it only if the rows are read back.
  db.conn().exec(R"(CREATE FUNCTION scalars_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.big := NEW.big + 1;
      NEW.blob := '\x00ff00';
      NEW.maybe_at := '2024-02-29 12:34:56.000001+00';
      NEW.maybe_token := 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
      NEW.status := 'completed';
      RETURN NEW;
    END $$)");
  db.conn().exec(
      "CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON scalars FOR EACH ROW "
      "EXECUTE FUNCTION scalars_touch()");
  Engine engine(db.conninfo());
  Session s(engine);
  std::vector<Scalars> values(3);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i].id = static_cast<std::int64_t>(i) + 1;
    values[i].big = std::numeric_limits<std::int64_t>::max() - 10;
    values[i].text = "héllo ✓";
    values[i].at = Timestamp{seconds{946684800}};
  }
  auto one = s.add(values[0]);
  s.commit();  // one INSERT ... RETURNING
  auto many = s.add_all(std::vector<Scalars>{values[1], values[2]});
  s.commit();  // several rows in one statement
  auto text = read_as_text(db);
  REQUIRE(text.size() == 3);
  const Timestamp touched{sys_days{year{2024} / 2 / 29} + hours{12} + minutes{34} + seconds{56} +
                          microseconds{1}};
  for (const auto* object : {one.get(), many[0].get(), many[1].get()}) {
    CAPTURE(object->id);
    CHECK(object->big == std::numeric_limits<std::int64_t>::max() - 9);
    CHECK(object->blob == Bytes{std::byte{0}, std::byte{0xff}, std::byte{0}});
    CHECK(object->maybe_at == touched);
    CHECK(object->maybe_token == Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    CHECK(object->status == TodoStatus::completed);
    CHECK(equal_columns(*object, text[static_cast<std::size_t>(object->id - 1)]));
  }
  // An UPDATE's RETURNING row too: the trigger adds one again.
  one->text = "changed";
  s.commit();
  CHECK(one->big == std::numeric_limits<std::int64_t>::max() - 8);
  CHECK(equal_columns(*one, read_as_text(db)[0]));
}

TEST_CASE("an insert whose RETURNING row cannot be read in binary fails after COMMIT, saying so",
          "[types][binary][failure]") {
  test::TestSchema db;
  db.conn().exec("CREATE TABLE drifts (id serial PRIMARY KEY, n numeric NOT NULL)");
  {
    Engine engine(db.conninfo());
    Session s(engine);
    Drift d;
    d.n = 7;
    auto object = s.add(std::move(d));
    try {
      s.commit();
      FAIL("a numeric column was written back from a binary result");
    } catch (const InterfaceError& e) {
      CHECK(e.column() == "n");
      CHECK_THAT(std::string(e.what()), Catch::Contains("was committed") &&
                                            Catch::Contains("OID 1700") &&
                                            Catch::Contains("binary_results"));
    }
    CHECK_FALSE(s.in_transaction());
    CHECK(engine.pool().stats().checked_out == 0);
  }
  // The row was committed: the error says so, and it is there.
  CHECK(db.scalar<std::int64_t>("SELECT count(*) FROM drifts WHERE n = 7") == 1);

  // Results as text write the row back as before.
  EngineOptions options;
  options.binary_results = false;
  Engine engine(db.conninfo(), options);
  Session s(engine);
  Drift d;
  d.n = 8;
  auto object = s.add(std::move(d));
  s.commit();
  CHECK(object->id > 0);
  CHECK(db.scalar<std::int64_t>("SELECT id FROM drifts WHERE n = 8") == object->id);
}
