// Unit tests of the PostgreSQL text-format codecs. Every expected value here was worked out by
// hand (or from well-known constants such as the Unix time of 0001-01-01), never copied from the
// codecs' own output.
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "pgorm/errors.hpp"
#include "pgorm/types/array.hpp"
#include "pgorm/types/bytea.hpp"
#include "pgorm/types/enum.hpp"
#include "pgorm/types/json.hpp"
#include "pgorm/types/numeric.hpp"
#include "pgorm/types/scalar.hpp"
#include "pgorm/types/timestamp.hpp"
#include "pgorm/types/uuid.hpp"

namespace {

using namespace std::string_literals;
using pgorm::DataError;
using std::chrono::microseconds;

template <class T>
std::string encode(const T& value) {
  std::string out;
  pgorm::type_traits<T>::encode(value, out);
  return out;
}

template <class T>
T decode(std::string_view text) {
  T value{};
  pgorm::type_traits<T>::decode(text, value);
  return value;
}

template <class T>
T round_trip(const T& value) {
  return decode<T>(encode(value));
}

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}
std::uint32_t bits(float v) {
  return std::bit_cast<std::uint32_t>(v);
}

// Microseconds since 1970-01-01 00:00:00 UTC.
constexpr microseconds at(std::int64_t seconds, std::int64_t micros = 0) {
  return microseconds{seconds * 1'000'000 + micros};
}

std::string encode_ts(microseconds since_epoch, bool with_zone) {
  std::string out;
  pgorm::detail::encode_timestamp(since_epoch, with_zone, out);
  return out;
}

}  // namespace

// Named apart from the fixtures in tests/support so that the two never meet in one program.
namespace codec_test {
enum class TodoStatus { pending, done, archived };
}  // namespace codec_test
using codec_test::TodoStatus;

template <>
struct pgorm::enum_traits<TodoStatus> {
  static constexpr std::string_view type_name = "todo_status";
  static constexpr std::array values{std::pair{TodoStatus::pending, "pending"},
                                     std::pair{TodoStatus::done, "done"},
                                     std::pair{TodoStatus::archived, "archived"}};
};

// ---------------------------------------------------------------------------------------------
// Integers

TEST_CASE("integers encode as plain decimal text", "[unit]") {
  CHECK(encode(std::int16_t{0}) == "0");
  CHECK(encode(std::int16_t{-32768}) == "-32768");
  CHECK(encode(std::int16_t{32767}) == "32767");
  CHECK(encode(std::int32_t{-2147483647 - 1}) == "-2147483648");
  CHECK(encode(std::int32_t{2147483647}) == "2147483647");
  CHECK(encode(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  CHECK(encode(std::numeric_limits<std::int64_t>::max()) == "9223372036854775807");
  std::string out = "x=";
  pgorm::detail::encode_int(42, out);
  CHECK(out == "x=42");
}

TEST_CASE("integers round-trip at the limits of every width", "[unit]") {
  for (std::int16_t v : {std::numeric_limits<std::int16_t>::min(), std::int16_t{-1},
                         std::int16_t{0}, std::numeric_limits<std::int16_t>::max()})
    CHECK(round_trip(v) == v);
  for (std::int32_t v :
       {std::numeric_limits<std::int32_t>::min(), -1, 0, std::numeric_limits<std::int32_t>::max()})
    CHECK(round_trip(v) == v);
  for (std::int64_t v : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
                         std::int64_t{0}, std::numeric_limits<std::int64_t>::max()})
    CHECK(round_trip(v) == v);
}

TEST_CASE("integers decode from decimal text with an optional sign", "[unit]") {
  CHECK(decode<std::int32_t>("123") == 123);
  CHECK(decode<std::int32_t>("-123") == -123);
  CHECK(decode<std::int32_t>("+123") == 123);
  CHECK(decode<std::int32_t>("007") == 7);
  CHECK(decode<std::int16_t>("-32768") == -32768);
  CHECK(decode<std::int64_t>("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
  // 18 digits are read directly, 19 by the checked path.
  CHECK(decode<std::int64_t>("999999999999999999") == 999'999'999'999'999'999);
  CHECK(decode<std::int64_t>("-99999999999999999") == -99'999'999'999'999'999);
  CHECK(decode<std::int64_t>("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(decode<std::int32_t>("-2147483648") == std::numeric_limits<std::int32_t>::min());
  CHECK(decode<std::int32_t>("-0") == 0);
}

TEST_CASE("integers that are not whole decimal numbers are rejected", "[unit]") {
  for (std::string_view bad :
       {"", "abc", "12a", " 12", "12 ", "1.5", "0x10", "--1", "+", "-", "+-1", "1e3", "١٢"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<std::int32_t>(bad), DataError);
  }
  REQUIRE_THROWS_WITH(decode<std::int32_t>("abc"), "invalid integer value 'abc'");
}

TEST_CASE("integers outside the column type's range are rejected", "[unit]") {
  REQUIRE_THROWS_AS(decode<std::int16_t>("32768"), DataError);
  REQUIRE_THROWS_AS(decode<std::int16_t>("-32769"), DataError);
  REQUIRE_THROWS_AS(decode<std::int32_t>("2147483648"), DataError);
  REQUIRE_THROWS_AS(decode<std::int32_t>("-2147483649"), DataError);
  REQUIRE_THROWS_AS(decode<std::int64_t>("9223372036854775808"), DataError);
  REQUIRE_THROWS_AS(decode<std::int64_t>("-9223372036854775809"), DataError);
  REQUIRE_THROWS_AS(decode<std::int64_t>("99999999999999999999999"), DataError);
  REQUIRE_THROWS_WITH(decode<std::int16_t>("99999"), "value 99999 out of range for smallint");
  REQUIRE_THROWS_WITH(decode<std::int64_t>("9223372036854775808"),
                      Catch::Contains("out of range for bigint"));
}

TEST_CASE("a DataError from a codec is a DatabaseError and a pgorm::Error", "[unit]") {
  REQUIRE_THROWS_AS(decode<std::int32_t>("x"), pgorm::DatabaseError);
  REQUIRE_THROWS_AS(decode<std::int32_t>("x"), pgorm::Error);
}

// ---------------------------------------------------------------------------------------------
// Booleans

TEST_CASE("booleans encode as t and f", "[unit]") {
  CHECK(encode(true) == "t");
  CHECK(encode(false) == "f");
  CHECK(round_trip(true));
  CHECK_FALSE(round_trip(false));
}

TEST_CASE("booleans decode from t, true, f and false", "[unit]") {
  CHECK(decode<bool>("t"));
  CHECK(decode<bool>("true"));
  CHECK(decode<bool>("TRUE"));
  CHECK_FALSE(decode<bool>("f"));
  CHECK_FALSE(decode<bool>("false"));
  CHECK_FALSE(decode<bool>("False"));
}

TEST_CASE("booleans reject any other text", "[unit]") {
  for (std::string_view bad : {"", "yes", "no", "1", "0", "tru", "truee", " t", "t "}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<bool>(bad), DataError);
  }
}

// ---------------------------------------------------------------------------------------------
// Floating point

TEST_CASE("doubles encode in the shortest form that round-trips", "[unit]") {
  CHECK(encode(1.5) == "1.5");
  CHECK(encode(0.1) == "0.1");
  CHECK(encode(0.1 + 0.2) == "0.30000000000000004");
  CHECK(encode(-2.0) == "-2");
  CHECK(encode(0.0) == "0");
  CHECK(encode(-0.0) == "-0");
  CHECK(encode(1e100) == "1e+100");
  CHECK(encode(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(encode(std::numeric_limits<double>::denorm_min()) == "5e-324");
}

TEST_CASE("doubles encode NaN and the infinities with PostgreSQL's spellings", "[unit]") {
  CHECK(encode(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(encode(std::numeric_limits<double>::infinity()) == "Infinity");
  CHECK(encode(-std::numeric_limits<double>::infinity()) == "-Infinity");
}

TEST_CASE("doubles round-trip bit for bit, including -0 and denormals", "[unit]") {
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.1,
                           1.0 / 3.0,
                           3.141592653589793,
                           1e300,
                           -1e-300,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::denorm_min(),
                           -std::numeric_limits<double>::denorm_min(),
                           2.2250738585072009e-308,  // the largest denormal
                           std::numeric_limits<double>::epsilon(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (double v : values) {
    CAPTURE(v);
    CHECK(bits(round_trip(v)) == bits(v));
  }
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN())));
  std::mt19937_64 random(20240301);
  for (int i = 0; i < 2000; ++i) {
    const double v = std::bit_cast<double>(random());
    if (std::isnan(v)) continue;
    CAPTURE(v);
    CHECK(bits(round_trip(v)) == bits(v));
  }
}

TEST_CASE("doubles decode every spelling of NaN and infinity PostgreSQL accepts", "[unit]") {
  for (std::string_view nan : {"NaN", "nan", "NAN"}) CHECK(std::isnan(decode<double>(nan)));
  const double inf = std::numeric_limits<double>::infinity();
  for (std::string_view text : {"Infinity", "infinity", "+Infinity", "inf", "+INF"})
    CHECK(decode<double>(text) == inf);
  for (std::string_view text : {"-Infinity", "-infinity", "-inf", "-Inf"})
    CHECK(decode<double>(text) == -inf);
}

TEST_CASE("doubles decode plain, signed and exponent notation", "[unit]") {
  CHECK(decode<double>("1e3") == 1000.0);
  CHECK(decode<double>("1E-2") == 0.01);
  CHECK(decode<double>("+1.5") == 1.5);
  CHECK(decode<double>("-0.25") == -0.25);
  CHECK(decode<double>(".5") == 0.5);
  CHECK(decode<double>("5.") == 5.0);
  CHECK(std::signbit(decode<double>("-0")));
  CHECK(decode<double>("4.9406564584124654e-324") == std::numeric_limits<double>::denorm_min());
}

TEST_CASE("doubles reject garbage and values beyond the double range", "[unit]") {
  for (std::string_view bad :
       {"", "abc", "1.5x", " 1", "1 ", "--1", "+-1", "1e", "1e+", ".", "nan(1)", "-nan", "0x1p3",
        "Infinityx", "1,5", "1e400", "-1e400", "1e-400"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<double>(bad), DataError);
  }
  REQUIRE_THROWS_WITH(decode<double>("1e400"), Catch::Contains("out of range"));
}

TEST_CASE("floats encode in the shortest form that round-trips as a float", "[unit]") {
  CHECK(encode(1.5f) == "1.5");
  CHECK(encode(0.1f) == "0.1");
  CHECK(encode(-0.0f) == "-0");
  CHECK(encode(std::numeric_limits<float>::max()) == "3.4028235e+38");
  CHECK(encode(std::numeric_limits<float>::denorm_min()) == "1e-45");
  CHECK(encode(std::numeric_limits<float>::quiet_NaN()) == "NaN");
  CHECK(encode(std::numeric_limits<float>::infinity()) == "Infinity");
  CHECK(encode(-std::numeric_limits<float>::infinity()) == "-Infinity");
}

TEST_CASE("floats round-trip bit for bit", "[unit]") {
  for (float v : {0.0f, -0.0f, 0.1f, 1.0f / 3.0f, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                  -std::numeric_limits<float>::infinity()}) {
    CAPTURE(v);
    CHECK(bits(round_trip(v)) == bits(v));
  }
  CHECK(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("floats decode special values and reject values beyond the float range", "[unit]") {
  CHECK(std::isnan(decode<float>("NaN")));
  CHECK(decode<float>("-Infinity") == -std::numeric_limits<float>::infinity());
  CHECK(decode<float>("2.5") == 2.5f);
  for (std::string_view bad : {"3.5e38", "-3.5e38", "1e-46", "abc", ""}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<float>(bad), DataError);
  }
}

// ---------------------------------------------------------------------------------------------
// Text and JSON

TEST_CASE("text is sent as is and read back as is", "[unit]") {
  const std::string text = "héllo, 'wörld' \"\\ \t\n ✓";
  CHECK(encode(text) == text);
  CHECK(decode<std::string>(text) == text);
  CHECK(encode(std::string{}).empty());
}

TEST_CASE("text holding a NUL byte is rejected before it reaches PostgreSQL", "[unit]") {
  const std::string with_nul = "abc\0def"s;
  REQUIRE_THROWS_AS(pgorm::detail::check_no_nul(with_nul), DataError);
  REQUIRE_THROWS_WITH(pgorm::detail::check_no_nul(with_nul),
                      "text value contains a NUL byte, which PostgreSQL text cannot store");
  REQUIRE_THROWS_AS(encode(with_nul), DataError);
  REQUIRE_THROWS_AS(encode("\0"s), DataError);
  REQUIRE_NOTHROW(pgorm::detail::check_no_nul("no nul here"));
}

TEST_CASE("json text is sent as is and read back as is", "[unit]") {
  const pgorm::Json doc{R"({"a": [1, 2, "ü"]})"};
  CHECK(encode(doc) == R"({"a": [1, 2, "ü"]})");
  CHECK(decode<pgorm::Json>(R"([true, null])").text == "[true, null]");
  CHECK(round_trip(doc) == doc);
  CHECK(encode(pgorm::Json{}) == "null");
}

TEST_CASE("json holding a NUL byte is rejected", "[unit]") {
  REQUIRE_THROWS_AS(encode(pgorm::Json{"\"a\0b\""s}), DataError);
}

// ---------------------------------------------------------------------------------------------
// Decimal

TEST_CASE("decimals keep the text they were given", "[unit]") {
  for (std::string_view text : {"0", "-12.3400", "+7", ".5", "5.", "1e3", "1E-3", "-2.5e+10",
                                "000123.4500", "NaN", "Infinity", "-Infinity", "+Infinity",
                                "123456789012345678901234567890.123456789012345678901234567890"}) {
    CAPTURE(text);
    CHECK(pgorm::Decimal(text).str() == text);
    CHECK(encode(pgorm::Decimal(text)) == text);
    CHECK(decode<pgorm::Decimal>(text).str() == text);
  }
  CHECK(pgorm::Decimal().str() == "0");
}

TEST_CASE("decimals reject text that is not a number", "[unit]") {
  for (std::string_view bad : {"",      " ",         " 1",   "1 ",    "abc", "1.2.3", "1e",   "e5",
                               ".",     "+",         "-",    "1e+",   "--1", "+-1",   "0x10", "1,5",
                               "1_000", "Inf inity", "NaNx", "1e5.5", "..5", "1..",   "١"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(pgorm::Decimal(bad), DataError);
    REQUIRE_THROWS_AS(decode<pgorm::Decimal>(bad), DataError);
  }
}

TEST_CASE("decimals compare equal when their values are equal", "[unit]") {
  using pgorm::Decimal;
  CHECK(Decimal("1.50") == Decimal("1.5"));
  CHECK(Decimal("-0") == Decimal("0"));
  CHECK(Decimal("-0.000") == Decimal("0"));
  CHECK(Decimal("0e10") == Decimal("0.0"));
  CHECK(Decimal("1e3") == Decimal("1000"));
  CHECK(Decimal("1.000E3") == Decimal("1000.000"));
  CHECK(Decimal("12.5e-1") == Decimal("1.25"));
  CHECK(Decimal("0.00125e3") == Decimal("1.25"));
  CHECK(Decimal("0012") == Decimal("12"));
  CHECK(Decimal("+12") == Decimal("12"));
  CHECK(Decimal(".5") == Decimal("0.5"));
  CHECK(Decimal("5.") == Decimal("5"));
  CHECK(Decimal("-1.5") == Decimal("-15e-1"));
  CHECK(Decimal("NaN") == Decimal("NaN"));
  CHECK(Decimal("Infinity") == Decimal("+Infinity"));
  CHECK(Decimal("-Infinity") == Decimal("-Infinity"));
}

TEST_CASE("decimals compare unequal when their values differ", "[unit]") {
  using pgorm::Decimal;
  CHECK_FALSE(Decimal("1.5") == Decimal("1.51"));
  CHECK_FALSE(Decimal("1") == Decimal("-1"));
  CHECK_FALSE(Decimal("100") == Decimal("1"));
  CHECK_FALSE(Decimal("0.01") == Decimal("0.1"));
  CHECK_FALSE(Decimal("1e3") == Decimal("1e4"));
  CHECK_FALSE(Decimal("10") == Decimal("0.1e1"));  // 0.1e1 is 1
  CHECK_FALSE(Decimal("NaN") == Decimal("0"));
  CHECK_FALSE(Decimal("Infinity") == Decimal("-Infinity"));
  CHECK_FALSE(Decimal("Infinity") == Decimal("99999999999999999999"));
  CHECK_FALSE(Decimal("-0.1") == Decimal("0.1"));
  CHECK(Decimal("1") != Decimal("2"));
}

TEST_CASE("decimals convert to the nearest double", "[unit]") {
  CHECK(pgorm::Decimal("1.5").to_double() == 1.5);
  CHECK(pgorm::Decimal("-0.25").to_double() == -0.25);
  CHECK(pgorm::Decimal("1e3").to_double() == 1000.0);
  CHECK(pgorm::Decimal("+7").to_double() == 7.0);
  CHECK(pgorm::Decimal(".5").to_double() == 0.5);
  CHECK(pgorm::Decimal("5.").to_double() == 5.0);
  CHECK(pgorm::Decimal("0.1").to_double() == 0.1);
  CHECK(std::isnan(pgorm::Decimal("NaN").to_double()));
  CHECK(pgorm::Decimal("Infinity").to_double() == std::numeric_limits<double>::infinity());
  CHECK(pgorm::Decimal("-Infinity").to_double() == -std::numeric_limits<double>::infinity());
}

TEST_CASE("decimals too large for a double refuse to convert", "[unit]") {
  REQUIRE_THROWS_AS(pgorm::Decimal("1e400").to_double(), DataError);
}

// ---------------------------------------------------------------------------------------------
// bytea

TEST_CASE("bytea encodes as backslash x and lower-case hex", "[unit]") {
  CHECK(encode(pgorm::Bytes{}) == "\\x");
  CHECK(encode(pgorm::Bytes{std::byte{0x00}, std::byte{0x0a}, std::byte{0xff}}) == "\\x000aff");
  CHECK(encode(pgorm::Bytes{std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}}) ==
        R"(\xdeadbeef)");
}

TEST_CASE("bytea round-trips all 256 byte values", "[unit]") {
  pgorm::Bytes all;
  std::string expected = "\\x";
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<std::byte>(i));
    expected += fmt::format("{:02x}", i);
  }
  CHECK(encode(all) == expected);
  CHECK(round_trip(all) == all);
  pgorm::Bytes reversed(all.rbegin(), all.rend());
  CHECK(round_trip(reversed) == reversed);
}

TEST_CASE("bytea decodes upper- and lower-case hex", "[unit]") {
  const pgorm::Bytes expected{std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}};
  CHECK(decode<pgorm::Bytes>(R"(\xDEADBEEF)") == expected);
  CHECK(decode<pgorm::Bytes>(R"(\xdeadBEEF)") == expected);
  CHECK(decode<pgorm::Bytes>(R"(\x)").empty());
}

TEST_CASE("bytea decoding replaces what the target held", "[unit]") {
  pgorm::Bytes out{std::byte{1}, std::byte{2}};
  pgorm::detail::decode_bytea(R"(\x03)", out);
  CHECK(out == pgorm::Bytes{std::byte{3}});
}

TEST_CASE("bytea decodes the legacy escape format", "[unit]") {
  const pgorm::Bytes expected{std::byte{'a'},  std::byte{'b'},  std::byte{'\\'}, std::byte{0x01},
                              std::byte{0xff}, std::byte{0x00}, std::byte{'c'}};
  CHECK(decode<pgorm::Bytes>(R"(ab\\\001\377\000c)") == expected);
  CHECK(decode<pgorm::Bytes>("") == pgorm::Bytes{});
  CHECK(decode<pgorm::Bytes>("hi") == pgorm::Bytes{std::byte{'h'}, std::byte{'i'}});
}

TEST_CASE("bytea rejects odd-length hex, bad digits and bad escapes", "[unit]") {
  for (std::string_view bad : {R"(\x0)", R"(\xabc)", R"(\xzz)", R"(\x0g)", R"(\x 0a)", R"(\)",
                               R"(a\)", R"(\9)", R"(\400)", R"(\01)", R"(\0a1)", R"(\X0a)"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<pgorm::Bytes>(bad), DataError);
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamps

namespace {

// Hand-computed pairs of ISO text (as PostgreSQL prints timestamptz with TimeZone=UTC) and
// microseconds since the Unix epoch.
struct KnownInstant {
  std::string_view text;
  microseconds since_epoch;
};

constexpr KnownInstant kKnownInstants[] = {
    {"1970-01-01 00:00:00+00", at(0)},
    {"1970-01-01 00:00:00.000001+00", at(0, 1)},
    {"1969-12-31 23:59:59.999999+00", at(0, -1)},
    {"1969-12-31 00:00:00+00", at(-86400)},
    // 2024-01-01 is 1704067200; March 1 is 31 + 29 days later; 12:34:56 is 45296 s.
    {"2024-03-01 12:34:56+00", at(1709296496)},
    {"2024-03-01 12:34:56.5+00", at(1709296496, 500000)},
    {"2024-03-01 12:34:56.123456+00", at(1709296496, 123456)},
    {"2024-03-01 12:34:56.00012+00", at(1709296496, 120)},
    {"2024-02-29 00:00:00+00", at(1709251200 - 86400)},
    {"2000-01-01 00:00:00+00", at(946684800)},
    {"2000-02-29 00:00:00+00", at(946684800 + 59 * 86400)},
    {"1900-01-01 00:00:00+00", at(-2208988800)},
    {"0001-01-01 00:00:00+00", at(-62135596800)},
    {"0001-12-31 23:59:59+00 BC", at(-62135596801)},
    // 1 BC (astronomical year 0) is a leap year: 366 days before 0001-01-01.
    {"0001-01-01 00:00:00+00 BC", at(-62167219200)},
    // 44 BC is astronomical -43; 43 years (10 of them leap) to year 0, then 73 days into March.
    {"0044-03-15 12:00:00+00 BC", at(-63517824000 + 43200)},
    // Julian day 0, the first day PostgreSQL accepts: 2440588 days before 1970.
    {"4714-11-24 00:00:00+00 BC", at(-210866803200)},
    {"4713-01-01 00:00:00+00 BC", at(-210866803200 + 38 * 86400)},
    {"9999-12-31 23:59:59+00", at(253402300799)},
    {"10000-01-01 00:00:00+00", at(253402300800)},
    // The last and first microseconds std::chrono::microseconds can hold (the extremes
    // themselves stand for infinity and -infinity).
    {"294247-01-10 04:00:54.775806+00", microseconds{std::numeric_limits<std::int64_t>::max() - 1}},
    {"290309-12-21 19:59:05.224193+00 BC",
     microseconds{std::numeric_limits<std::int64_t>::min() + 1}},
};

}  // namespace

TEST_CASE("timestamps encode as PostgreSQL's ISO text", "[unit]") {
  for (const auto& known : kKnownInstants) {
    CAPTURE(known.text);
    CHECK(encode_ts(known.since_epoch, true) == known.text);
  }
}

TEST_CASE("timestamps decode PostgreSQL's ISO text", "[unit]") {
  for (const auto& known : kKnownInstants) {
    CAPTURE(known.text);
    CHECK(pgorm::detail::decode_timestamp(known.text) == known.since_epoch);
  }
}

TEST_CASE("timestamps without time zone have no offset suffix", "[unit]") {
  CHECK(encode_ts(at(1709296496, 500000), false) == "2024-03-01 12:34:56.5");
  CHECK(encode_ts(at(-62135596801), false) == "0001-12-31 23:59:59 BC");
  CHECK(pgorm::detail::decode_timestamp("2024-03-01 12:34:56.5") == at(1709296496, 500000));
  CHECK(pgorm::detail::decode_timestamp("0001-12-31 23:59:59 BC") == at(-62135596801));
  CHECK(encode(pgorm::LocalTimestamp{at(0)}) == "1970-01-01 00:00:00");
  CHECK(decode<pgorm::LocalTimestamp>("1970-01-02 00:00:00") == pgorm::LocalTimestamp{at(86400)});
}

TEST_CASE("timestamp type traits map std::chrono time points", "[unit]") {
  CHECK(encode(pgorm::Timestamp{at(946684800)}) == "2000-01-01 00:00:00+00");
  CHECK(decode<pgorm::Timestamp>("2000-01-01 00:00:00+00") == pgorm::Timestamp{at(946684800)});
  CHECK(pgorm::type_traits<pgorm::Timestamp>::sql_type() == "timestamp with time zone");
  CHECK(pgorm::type_traits<pgorm::LocalTimestamp>::sql_type() == "timestamp without time zone");
}

TEST_CASE("timestamps round-trip with microsecond precision", "[unit]") {
  std::mt19937_64 random(42);
  // Spread over the whole range, and concentrated around today and around 1970.
  for (int i = 0; i < 3000; ++i) {
    std::int64_t count = static_cast<std::int64_t>(random());
    if (i % 3 == 1)
      count = 1'700'000'000'000'000 + static_cast<std::int64_t>(random() % 10'000'000'000'000);
    if (i % 3 == 2) count = static_cast<std::int64_t>(random() % 200'000'000'000) - 100'000'000'000;
    if (count == std::numeric_limits<std::int64_t>::max() ||
        count == std::numeric_limits<std::int64_t>::min())
      continue;
    const microseconds value{count};
    CAPTURE(count);
    CHECK(pgorm::detail::decode_timestamp(encode_ts(value, true)) == value);
    CHECK(pgorm::detail::decode_timestamp(encode_ts(value, false)) == value);
  }
  const auto now = pgorm::now();
  CHECK(round_trip(now) == now);
}

// Most values take the fast path for "YYYY-MM-DD HH:MM:SS[.ffffff][+00]"; whatever it does not
// take must still be read, or refused, exactly as the general parser does.
TEST_CASE("timestamps near the common form decode or fail as PostgreSQL's rules say", "[unit]") {
  using pgorm::detail::decode_timestamp;
  const std::int64_t march1 = 1709251200;  // 2024-03-01 00:00:00 UTC
  CHECK(decode_timestamp("2024-03-01 24:00:00+00") == at(march1 + 86400));
  CHECK(decode_timestamp("2024-03-01 23:59:60+00") == at(march1 + 86400));
  CHECK(decode_timestamp("2024-03-01 12:00:00+05:30") == at(march1 + 12 * 3600 - 5 * 3600 - 1800));
  CHECK(decode_timestamp("2024-03-01 12:00:00-01") == at(march1 + 13 * 3600));
  CHECK(decode_timestamp("2024-03-01T12:00:00+00") == at(march1 + 12 * 3600));
  CHECK(decode_timestamp("2024-03-01") == at(march1));
  CHECK(decode_timestamp("2024-02-29 00:00:00") == at(march1 - 86400));
  CHECK(decode_timestamp("2000-02-29 23:59:59.999999+00") == at(951868799, 999999));
  for (std::string_view bad :
       {"2023-02-29 00:00:00+00", "1900-02-29 00:00:00+00", "2024-04-31 00:00:00+00",
        "2024-13-01 00:00:00+00", "2024-00-10 00:00:00+00", "2024-03-00 00:00:00+00",
        "0000-01-01 00:00:00+00", "2024-03-01 25:00:00+00", "2024-03-01 12:60:00+00",
        "2024-03-01 12:34:56.1234567+00", "2024-03-01 12:34:56.+00", "2024-03-01 12:34:5x+00",
        "2024-03-01 12:34:56+00 ", "2024-03-01 12:34:56+0", "2024-03-01 12:34:56Z",
        "2024-03-01 1:34:56+00", "+024-03-01 12:34:56+00"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(decode_timestamp(bad), DataError);
  }
}

TEST_CASE("timestamps map infinity to the extreme microsecond values", "[unit]") {
  CHECK(encode_ts(microseconds::max(), true) == "infinity");
  CHECK(encode_ts(microseconds::min(), true) == "-infinity");
  CHECK(encode_ts(microseconds::max(), false) == "infinity");
  CHECK(pgorm::detail::decode_timestamp("infinity") == microseconds::max());
  CHECK(pgorm::detail::decode_timestamp("-infinity") == microseconds::min());
  CHECK(round_trip(pgorm::Timestamp::max()) == pgorm::Timestamp::max());
  CHECK(round_trip(pgorm::Timestamp::min()) == pgorm::Timestamp::min());
}

TEST_CASE("timestamps apply the UTC offset they carry", "[unit]") {
  using pgorm::detail::decode_timestamp;
  CHECK(decode_timestamp("2024-03-01 12:34:56+05:30") == at(1709296496 - 19800));
  CHECK(decode_timestamp("2024-03-01 12:34:56-08") == at(1709296496 + 28800));
  CHECK(decode_timestamp("2024-03-01 12:34:56+00:00:00") == at(1709296496));
  CHECK(decode_timestamp("2024-03-01 12:34:56.25-00:30") == at(1709296496 + 1800, 250000));
  // Local mean time offsets carry seconds: 7*3600 + 52*60 + 58 = 28378.
  CHECK(decode_timestamp("1970-01-01 00:00:00-07:52:58") == at(28378));
  // An offset can move the instant to the previous day: 02:00+05 is 21:00 UTC the day before.
  CHECK(decode_timestamp("2024-03-01 02:00:00+05") == at(1709251200 + 7200 - 18000));
  CHECK(decode_timestamp("0001-01-01 00:00:00+01 BC") == at(-62167219200 - 3600));
}

TEST_CASE("timestamps accept the other ISO forms PostgreSQL reads", "[unit]") {
  using pgorm::detail::decode_timestamp;
  CHECK(decode_timestamp("2024-03-01T12:34:56") == at(1709296496));
  CHECK(decode_timestamp("2024-03-01") == at(1709251200));
  CHECK(decode_timestamp("2024-02-29 24:00:00") == at(1709251200));
  CHECK(decode_timestamp("0044-03-15 BC") == at(-63517824000));
  CHECK(decode_timestamp("2024-03-01 12:34:56.1") == at(1709296496, 100000));
  CHECK(decode_timestamp("+infinity") == microseconds::max());
  CHECK(decode_timestamp("Infinity") == microseconds::max());
}

TEST_CASE("timestamps beyond the microsecond range are rejected", "[unit]") {
  using pgorm::detail::decode_timestamp;
  // PostgreSQL's own maximum lies beyond what 64-bit microseconds since 1970 can hold.
  REQUIRE_THROWS_AS(decode_timestamp("294276-12-31 23:59:59.999999+00"), DataError);
  // These two are the values reserved for infinity and -infinity.
  REQUIRE_THROWS_AS(decode_timestamp("294247-01-10 04:00:54.775807+00"), DataError);
  REQUIRE_THROWS_AS(decode_timestamp("290309-12-21 19:59:05.224192+00 BC"), DataError);
  REQUIRE_THROWS_AS(decode_timestamp("294247-01-10 04:00:54.775806-01"), DataError);
  REQUIRE_THROWS_AS(decode_timestamp("999999999-01-01 00:00:00"), DataError);
}

TEST_CASE("timestamps reject malformed text and name it in the error", "[unit]") {
  using pgorm::detail::decode_timestamp;
  for (std::string_view bad : {"",
                               "now",
                               "infinityx",
                               "2024-3-1",
                               "24-03-01",
                               "2024-03-01 12:34",
                               "2024-03-01 12:34:5",
                               "2024-03-01 25:00:00",
                               "2024-03-01 24:00:01",
                               "2024-03-01 12:60:00",
                               "2024-03-01 12:00:61",
                               "2024-13-01 00:00:00",
                               "2024-00-10",
                               "2024-02-30 00:00:00",
                               "2023-02-29",
                               "1900-02-29",
                               "0000-01-01 00:00:00",
                               "2024-03-01 12:34:56.1234567",
                               "2024-03-01 12:34:56.",
                               "2024-03-01 12:34:56+",
                               "2024-03-01 12:34:56+5",
                               "2024-03-01 12:34:56 +00",
                               "2024-03-01 12:34:56+16",
                               "2024-03-01 12:34:56+05:60",
                               "2024-03-01 12:34:56+00 BC BC",
                               "2024-03-01 12:34:56Z",
                               "2024-03-01  12:34:56",
                               " 2024-03-01",
                               "2024-03-01 ",
                               "-2024-03-01",
                               "2024/03/01",
                               "2024-03-01 12:34:56 AD"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode_timestamp(bad), DataError);
  }
  REQUIRE_THROWS_WITH(decode_timestamp("2024-13-01"), Catch::Contains("'2024-13-01'"));
  REQUIRE_THROWS_WITH(decode_timestamp("garbage"), Catch::Contains("'garbage'"));
}

// ---------------------------------------------------------------------------------------------
// Dates

TEST_CASE("dates encode as ISO text with a BC suffix before year 1", "[unit]") {
  using namespace std::chrono;
  CHECK(encode(pgorm::Date{2024y / March / 1}) == "2024-03-01");
  CHECK(encode(pgorm::Date{1y / January / 1}) == "0001-01-01");
  CHECK(encode(pgorm::Date{0y / December / 31}) == "0001-12-31 BC");
  CHECK(encode(pgorm::Date{year{-4712} / January / 1}) == "4713-01-01 BC");
  CHECK(encode(pgorm::Date{12345y / June / 7}) == "12345-06-07");
}

TEST_CASE("dates decode ISO text with an optional BC suffix", "[unit]") {
  using namespace std::chrono;
  CHECK(decode<pgorm::Date>("2024-03-01") == pgorm::Date{2024y / March / 1});
  CHECK(decode<pgorm::Date>("2000-02-29") == pgorm::Date{2000y / February / 29});
  CHECK(decode<pgorm::Date>("0001-12-31 BC") == pgorm::Date{0y / December / 31});
  CHECK(decode<pgorm::Date>("0001-02-29 BC") == pgorm::Date{0y / February / 29});
  CHECK(decode<pgorm::Date>("4714-11-24 BC") == pgorm::Date{year{-4713} / November / 24});
  CHECK(decode<pgorm::Date>("12345-06-07") == pgorm::Date{12345y / June / 7});
}

TEST_CASE("dates round-trip across the years std::chrono can hold", "[unit]") {
  using namespace std::chrono;
  for (int y = -32766; y <= 32766; y += 997) {
    for (const pgorm::Date d :
         {pgorm::Date{year{y} / January / 1}, pgorm::Date{year{y} / February / last},
          pgorm::Date{year{y} / December / 31}}) {
      CAPTURE(y);
      CHECK(round_trip(d) == d);
    }
  }
}

TEST_CASE(
    "dates map infinity to the last day of year max and -infinity to the first day of "
    "year min",
    "[unit]") {
  using namespace std::chrono;
  CHECK(encode(pgorm::Date{year::max() / December / 31}) == "infinity");
  CHECK(encode(pgorm::Date{year::min() / January / 1}) == "-infinity");
  CHECK(decode<pgorm::Date>("infinity") == pgorm::Date{year::max() / December / 31});
  CHECK(decode<pgorm::Date>("-infinity") == pgorm::Date{year::min() / January / 1});
}

TEST_CASE("dates reject malformed text and dates std::chrono cannot hold", "[unit]") {
  for (std::string_view bad : {"", "2023-02-29", "2024-04-31", "0000-01-01", "2024-03-01 12:00:00",
                               "2024/03/01", "24-03-01", "2024-3-01", "40000-01-01",
                               "40000-01-01 BC", "32767-12-31", "2024-03-01 BC BC", "today"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<pgorm::Date>(bad), DataError);
  }
}

TEST_CASE("dates that do not exist refuse to encode", "[unit]") {
  using namespace std::chrono;
  REQUIRE_THROWS_AS(encode(pgorm::Date{2023y / February / 29}), DataError);
  REQUIRE_THROWS_AS(encode(pgorm::Date{2024y / month{13} / 1}), DataError);
}

// ---------------------------------------------------------------------------------------------
// UUID

TEST_CASE("uuids parse the canonical form and print it in lower case", "[unit]") {
  const std::array<std::uint8_t, 16> expected{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                                              0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
  const auto id = pgorm::Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(id.bytes() == expected);
  CHECK(id.str() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(id.version() == 4);
  CHECK(pgorm::Uuid(expected) == id);
  CHECK(encode(id) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(decode<pgorm::Uuid>("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") == id);
}

TEST_CASE("uuids parse every form PostgreSQL accepts", "[unit]") {
  const auto id = pgorm::Uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  for (std::string_view text :
       {"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}"}) {
    CAPTURE(text);
    CHECK(pgorm::Uuid::parse(text) == id);
  }
}

TEST_CASE("uuids reject malformed text", "[unit]") {
  for (std::string_view bad :
       {"", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
        "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
        "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "{}", "{", " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99 9c0b 4ef8 bb6d 6bb9bd380a11", "{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(pgorm::Uuid::parse(bad), DataError);
  }
}

TEST_CASE("the default uuid is the nil uuid", "[unit]") {
  const pgorm::Uuid nil;
  CHECK(nil.is_nil());
  CHECK(nil.str() == "00000000-0000-0000-0000-000000000000");
  CHECK(pgorm::Uuid::parse("00000000-0000-0000-0000-000000000000") == nil);
  CHECK(pgorm::Uuid::parse("ffffffff-ffff-ffff-ffff-ffffffffffff").str() ==
        "ffffffff-ffff-ffff-ffff-ffffffffffff");
  CHECK_FALSE(pgorm::Uuid::parse("00000000-0000-0000-0000-000000000001").is_nil());
}

TEST_CASE("uuids order by their bytes", "[unit]") {
  CHECK(pgorm::Uuid::parse("00000000-0000-0000-0000-000000000001") <
        pgorm::Uuid::parse("00000000-0000-0000-0000-000000000002"));
  CHECK(pgorm::Uuid::parse("01000000-0000-0000-0000-000000000000") >
        pgorm::Uuid::parse("00ffffff-ffff-ffff-ffff-ffffffffffff"));
}

TEST_CASE("version 4 uuids carry the version and variant bits and random bits elsewhere",
          "[unit]") {
  std::array<std::uint8_t, 16> seen_ones{};
  std::array<std::uint8_t, 16> seen_zeros{};
  pgorm::Uuid previous;
  for (int i = 0; i < 200; ++i) {
    const auto id = pgorm::Uuid::v4();
    CHECK(id.version() == 4);
    CHECK((id.bytes()[6] & 0xf0) == 0x40);
    CHECK((id.bytes()[8] & 0xc0) == 0x80);
    CHECK(id != previous);
    CHECK(pgorm::Uuid::parse(id.str()) == id);
    for (std::size_t b = 0; b < 16; ++b) {
      seen_ones[b] |= id.bytes()[b];
      seen_zeros[b] |= static_cast<std::uint8_t>(~id.bytes()[b]);
    }
    previous = id;
  }
  // Every bit that is not fixed by the version or variant took both values in 200 draws.
  for (std::size_t b = 0; b < 16; ++b) {
    CAPTURE(b);
    const std::uint8_t fixed = b == 6 ? 0xf0 : b == 8 ? 0xc0 : 0x00;
    CHECK((seen_ones[b] | fixed) == 0xff);
    CHECK((seen_zeros[b] | fixed) == 0xff);
  }
}

TEST_CASE("version 7 uuids start with the Unix time in milliseconds", "[unit]") {
  using namespace std::chrono;
  const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const auto id = pgorm::Uuid::v7();
  const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::int64_t millis = 0;
  for (std::size_t i = 0; i < 6; ++i) millis = millis * 256 + id.bytes()[i];
  CHECK(id.version() == 7);
  CHECK((id.bytes()[6] & 0xf0) == 0x70);
  CHECK((id.bytes()[8] & 0xc0) == 0x80);
  // The generator may run up to a millisecond ahead when it keeps ids monotonic.
  CHECK(millis >= before);
  CHECK(millis <= after + 1);
}

TEST_CASE("version 7 uuids increase strictly within a thread, even within a millisecond",
          "[unit]") {
  auto previous = pgorm::Uuid::v7();
  for (int i = 0; i < 20000; ++i) {
    const auto id = pgorm::Uuid::v7();
    REQUIRE(previous < id);
    REQUIRE(previous.str() < id.str());  // the text form sorts the same way
    REQUIRE(id.version() == 7);
    REQUIRE((id.bytes()[8] & 0xc0) == 0x80);
    previous = id;
  }
}

// ---------------------------------------------------------------------------------------------
// Enums

TEST_CASE("enums encode and decode their PostgreSQL labels", "[unit]") {
  CHECK(encode(TodoStatus::pending) == "pending");
  CHECK(encode(TodoStatus::archived) == "archived");
  CHECK(decode<TodoStatus>("done") == TodoStatus::done);
  CHECK(round_trip(TodoStatus::archived) == TodoStatus::archived);
  CHECK(pgorm::type_traits<TodoStatus>::sql_type() == "\"todo_status\"");
  CHECK(pgorm::enum_label(TodoStatus::done) == "done");
  CHECK(pgorm::enum_type_info<TodoStatus>() ==
        pgorm::EnumTypeInfo{"todo_status", {"pending", "done", "archived"}});
}

TEST_CASE("enums reject unknown labels with PostgreSQL's message", "[unit]") {
  REQUIRE_THROWS_AS(decode<TodoStatus>("xyz"), DataError);
  REQUIRE_THROWS_WITH(decode<TodoStatus>("xyz"), "invalid input value for enum todo_status: 'xyz'");
  REQUIRE_THROWS_AS(decode<TodoStatus>("Pending"), DataError);
  REQUIRE_THROWS_AS(decode<TodoStatus>(""), DataError);
}

TEST_CASE("enum values without a label refuse to encode", "[unit]") {
  REQUIRE_THROWS_AS(encode(static_cast<TodoStatus>(42)), DataError);
  REQUIRE_THROWS_WITH(encode(static_cast<TodoStatus>(42)),
                      Catch::Contains("42") && Catch::Contains("todo_status"));
}

// ---------------------------------------------------------------------------------------------
// Arrays

TEST_CASE("arrays encode every element double-quoted", "[unit]") {
  CHECK(encode(std::vector<std::int32_t>{}) == "{}");
  CHECK(encode(std::vector<std::int32_t>{1, -2, 3}) == R"({"1","-2","3"})");
  CHECK(encode(std::vector<bool>{true, false}) == R"({"t","f"})");
  CHECK(pgorm::type_traits<std::vector<std::int32_t>>::sql_type() == "integer[]");
}

TEST_CASE("arrays escape quotes and backslashes and keep everything else literal", "[unit]") {
  const std::vector<std::string> values{"a b",  "c\"d", "e\\f",  "g,h", "{i}",
                                        "NULL", "",     "ünï ✓", " x ", "\\\"\\"};
  CHECK(encode(values) == R"({"a b","c\"d","e\\f","g,h","{i}","NULL","","ünï ✓"," x ","\\\"\\"})");
  CHECK(round_trip(values) == values);
  std::string out;
  pgorm::detail::append_array_element(out, "say \"hi\"\\");
  CHECK(out == R"("say \"hi\"\\")");
}

TEST_CASE("arrays encode missing optionals as NULL", "[unit]") {
  const std::vector<std::optional<std::string>> values{"x", std::nullopt, "NULL", ""};
  CHECK(encode(values) == R"({"x",NULL,"NULL",""})");
  CHECK(round_trip(values) == values);
  const std::vector<std::optional<std::int64_t>> numbers{std::nullopt, 5};
  CHECK(encode(numbers) == R"({NULL,"5"})");
  CHECK(round_trip(numbers) == numbers);
}

TEST_CASE("arrays round-trip elements of every scalar type", "[unit]") {
  using namespace std::chrono;
  const std::vector<double> doubles{1.5, -0.0, std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::denorm_min()};
  const auto doubles_back = round_trip(doubles);
  REQUIRE(doubles_back.size() == doubles.size());
  for (std::size_t i = 0; i < doubles.size(); ++i) CHECK(bits(doubles_back[i]) == bits(doubles[i]));

  const std::vector<pgorm::Bytes> blobs{{std::byte{0x01}, std::byte{0xff}}, {}};
  CHECK(encode(blobs) == R"({"\\x01ff","\\x"})");
  CHECK(round_trip(blobs) == blobs);

  const std::vector<pgorm::Timestamp> instants{pgorm::Timestamp{at(-62135596801)},
                                               pgorm::Timestamp::max()};
  CHECK(encode(instants) == R"({"0001-12-31 23:59:59+00 BC","infinity"})");
  CHECK(round_trip(instants) == instants);

  const std::vector<pgorm::Date> dates{2024y / March / 1};
  CHECK(round_trip(dates) == dates);

  const std::vector<pgorm::Uuid> ids{pgorm::Uuid::v4(), pgorm::Uuid{}};
  CHECK(round_trip(ids) == ids);

  const std::vector<pgorm::Decimal> decimals{pgorm::Decimal("-1.50"), pgorm::Decimal("NaN")};
  CHECK(encode(decimals) == R"({"-1.50","NaN"})");
  CHECK(round_trip(decimals) == decimals);

  const std::vector<TodoStatus> statuses{TodoStatus::done, TodoStatus::pending};
  CHECK(round_trip(statuses) == statuses);

  const std::vector<pgorm::Json> docs{pgorm::Json{R"({"k": "v,\"}"})"}};
  CHECK(round_trip(docs) == docs);
}

TEST_CASE("arrays decode PostgreSQL's own output", "[unit]") {
  using Strings = std::vector<std::optional<std::string>>;
  CHECK(decode<std::vector<std::int32_t>>("{}").empty());
  CHECK(decode<std::vector<std::int32_t>>("{1,2,3}") == std::vector<std::int32_t>{1, 2, 3});
  CHECK(decode<std::vector<std::int32_t>>("{-5}") == std::vector<std::int32_t>{-5});
  CHECK(decode<Strings>(R"({"a b","c\"d",NULL})") == Strings{"a b", "c\"d", std::nullopt});
  CHECK(decode<Strings>(R"({"e\\f","g,h","{i}",""})") == Strings{"e\\f", "g,h", "{i}", ""});
  CHECK(decode<Strings>(R"({ünï,✓})") == Strings{"ünï", "✓"});
  CHECK(decode<std::vector<bool>>("{t,f,t}") == std::vector<bool>{true, false, true});
  CHECK(decode<std::vector<double>>("{1.5,NaN,-Infinity}").size() == 3);
}

TEST_CASE("arrays read unquoted NULL in any case as null but quoted NULL as text", "[unit]") {
  using Strings = std::vector<std::optional<std::string>>;
  CHECK(decode<Strings>("{NULL,null,Null}") == Strings{std::nullopt, std::nullopt, std::nullopt});
  CHECK(decode<Strings>(R"({"NULL"})") == Strings{"NULL"});
  CHECK(decode<Strings>(R"({\NULL})") == Strings{"NULL"});
  CHECK(decode<Strings>("{NULLx,xNULL}") == Strings{"NULLx", "xNULL"});
  CHECK(decode<std::vector<std::optional<std::int32_t>>>("{1,NULL,3}") ==
        std::vector<std::optional<std::int32_t>>{1, std::nullopt, 3});
}

TEST_CASE("arrays trim whitespace around unquoted elements only", "[unit]") {
  using Strings = std::vector<std::string>;
  CHECK(decode<std::vector<std::int32_t>>(" { 1 , 2 ,3 } ") == std::vector<std::int32_t>{1, 2, 3});
  CHECK(decode<Strings>("{ a b , c }") == Strings{"a b", "c"});
  CHECK(decode<Strings>(R"({ " a " })") == Strings{" a "});
  CHECK(decode<Strings>(R"({a\ ,\ b})") == Strings{"a ", " b"});
  CHECK(decode<Strings>(R"({a\,b,c\"d})") == Strings{"a,b", "c\"d"});
  CHECK(decode<Strings>("{ }").empty());
  CHECK(decode<Strings>(R"({""})") == Strings{""});
}

TEST_CASE("arrays accept a dimension decoration that matches the elements", "[unit]") {
  using Ints = std::vector<std::int32_t>;
  CHECK(decode<Ints>("[0:2]={1,2,3}") == Ints{1, 2, 3});
  CHECK(decode<Ints>("[-1:0]={7,8}") == Ints{7, 8});
  CHECK(decode<Ints>("[1:3] = {1,2,3}") == Ints{1, 2, 3});
  CHECK(decode<Ints>("[3]={1,2,3}") == Ints{1, 2, 3});
}

TEST_CASE("arrays reject NULL elements for non-optional element types", "[unit]") {
  REQUIRE_THROWS_AS(decode<std::vector<std::int32_t>>("{1,NULL}"), DataError);
  REQUIRE_THROWS_WITH(decode<std::vector<std::int32_t>>("{1,NULL}"),
                      Catch::Contains("NULL element in array of integer[]") &&
                          Catch::Contains("std::vector<std::optional<T>>"));
  REQUIRE_THROWS_AS(pgorm::detail::throw_null_array_element("text[]"), DataError);
}

TEST_CASE("arrays reject multi-dimensional literals", "[unit]") {
  for (std::string_view bad : {"{{1,2},{3,4}}", "{1,{2}}", "[1:2][1:2]={{1,2},{3,4}}", "{{}}"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<std::vector<std::int32_t>>(bad), DataError);
    REQUIRE_THROWS_WITH(decode<std::vector<std::int32_t>>(bad),
                        Catch::Contains("multi-dimensional arrays are not supported"));
  }
}

TEST_CASE("arrays reject malformed literals", "[unit]") {
  for (std::string_view bad :
       {"",           "1,2",        "{1,2",      "{1,,2}",   "{,}",    "{1,}",    "{,1}",
        R"({"a})",    R"({a"b})",   R"({"a"b})", "{1} x",    "{1,2}}", R"({a\})", "[0:1]={1,2,3}",
        "[1:2={1,2}", "[1:2]{1,2}", "[a:b]={1}", "[2:0]={}", "{",      "}",       "{a{b}}",
        "NULL"}) {
    CAPTURE(bad);
    REQUIRE_THROWS_AS(decode<std::vector<std::string>>(bad), DataError);
  }
  // Element decoding errors surface too.
  REQUIRE_THROWS_AS(decode<std::vector<std::int32_t>>("{1,x}"), DataError);
  REQUIRE_THROWS_AS(decode<std::vector<std::int16_t>>("{40000}"), DataError);
}

TEST_CASE("the array parser reports each element with its null flag", "[unit]") {
  std::vector<std::pair<std::string, bool>> seen;
  pgorm::detail::parse_array(R"({a,"b",NULL,"NULL"})", [&](std::string_view text, bool is_null) {
    seen.emplace_back(std::string(text), is_null);
  });
  const std::vector<std::pair<std::string, bool>> expected{
      {"a", false}, {"b", false}, {"NULL", true}, {"NULL", false}};
  CHECK(seen == expected);
}
