#include "pgorm/types/timestamp.hpp"

#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {
namespace {

using std::chrono::microseconds;

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;
// The proleptic Gregorian calendar repeats exactly every 400 years, which are 146097 days.
constexpr std::int64_t kDaysPer400Years = 146'097;

// 'infinity' and '-infinity' for dates: the last and the first day std::chrono::year can hold.
constexpr Date kInfiniteDate = std::chrono::year::max() / std::chrono::December / 31;
constexpr Date kMinusInfiniteDate = std::chrono::year::min() / std::chrono::January / 1;

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// A date with an astronomical year (0 is 1 BC, -1 is 2 BC) of any size.
struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// std::chrono::year stops at +-32767 while microseconds since 1970 reach +-292277 years: shift
// whole 400-year cycles so that std::chrono does the calendar work on a year it can hold.
Civil civil_from_days(std::int64_t days) {
  const std::int64_t cycles = floor_div(days, kDaysPer400Years);
  const std::int64_t rest = days - cycles * kDaysPer400Years;  // [0, 146097): 1970 to 2369
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{rest}}};
  return {static_cast<int>(ymd.year()) + cycles * 400, static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day())};
}

// False if the day does not exist (February 30, or February 29 of a common year).
bool days_from_civil(const Civil& civil, std::int64_t& days) {
  const std::int64_t cycles = floor_div(civil.year, 400);
  const int year_in_cycle = static_cast<int>(civil.year - cycles * 400);  // [0, 400)
  const std::chrono::year_month_day ymd{std::chrono::year{year_in_cycle},
                                        std::chrono::month{civil.month},
                                        std::chrono::day{civil.day}};
  if (!ymd.ok()) return false;
  days = std::chrono::sys_days{ymd}.time_since_epoch().count() + cycles * kDaysPer400Years;
  return true;
}

// days * kMicrosPerDay + micros, false if it does not fit in 64 bits. `micros` is within a day
// or so of zero; the sum is arranged so that no intermediate result leaves the range when the
// final one does not (days * kMicrosPerDay alone overflows for the earliest BC timestamps).
bool combine(std::int64_t days, std::int64_t micros, std::int64_t& result) {
  const std::int64_t carry = floor_div(micros, kMicrosPerDay);
  days += carry;
  micros -= carry * kMicrosPerDay;  // now in [0, kMicrosPerDay)
  if (days < 0) {
    ++days;
    micros -= kMicrosPerDay;  // now in [-kMicrosPerDay, 0)
  }
  return !__builtin_mul_overflow(days, kMicrosPerDay, &result) &&
         !__builtin_add_overflow(result, micros, &result);
}

// "YYYY-MM-DD" with at least four year digits, then " BC" for years before 1 AD.
void append_date(const Civil& civil, std::string& out, std::string_view between_and_bc) {
  const bool bc = civil.year <= 0;
  const std::int64_t shown_year = bc ? 1 - civil.year : civil.year;
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}", shown_year, civil.month, civil.day);
  out.append(between_and_bc);
  if (bc) out.append(" BC");
}

// A cursor over the text being parsed; every failure reports the whole text.
class Parser {
 public:
  Parser(std::string_view text, std::string_view type) : text_(text), type_(type) {}

  [[noreturn]] void fail() const {
    throw_data_error(fmt::format("invalid input syntax for type {}: '{}'", type_, text_));
  }
  [[noreturn]] void out_of_range() const {
    throw_data_error(fmt::format("{} out of range: '{}'", type_, text_));
  }

  bool at_end() const { return pos_ == body_end_; }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail();
  }
  std::int64_t digits(std::size_t min_count, std::size_t max_count) {
    std::int64_t value = 0;
    std::size_t count = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      if (++count > max_count) fail();
      value = value * 10 + (text_[pos_++] - '0');
    }
    if (count < min_count) fail();
    return value;
  }
  std::size_t position() const { return pos_; }

  // Removes a trailing " BC" (PostgreSQL prints it last, after the time zone).
  bool take_bc_suffix() {
    constexpr std::string_view kBc = " BC";
    if (body_end_ >= kBc.size() && iequals(text_.substr(body_end_ - kBc.size(), kBc.size()), kBc)) {
      body_end_ -= kBc.size();
      return true;
    }
    return false;
  }

  // [-]YYYY-MM-DD; the caller has taken the BC suffix already.
  Civil date(bool bc) {
    // Nine digits keep every later product well inside 64 bits.
    const std::int64_t year = digits(4, 9);
    expect('-');
    const auto month = static_cast<unsigned>(digits(2, 2));
    expect('-');
    const auto day = static_cast<unsigned>(digits(2, 2));
    if (year == 0) fail();  // there is no year 0 in AD/BC numbering
    return {bc ? 1 - year : year, month, day};
  }

 private:
  std::string_view text_;
  std::string_view type_;
  std::size_t pos_ = 0;
  std::size_t body_end_ = text_.size();
};

// The form nearly every value takes ("2024-03-01 12:34:56.123456+00", DateStyle=ISO, TimeZone=UTC,
// a four-digit AD year, timestamptz with the zone, timestamp without): parsed at fixed positions
// with every field checked. Returns false for anything else, which the general parser reads
// (or refuses with its message).
bool decode_common_timestamp(std::string_view text, std::int64_t& result) {
  const std::size_t n = text.size();
  if (n < 19 || n > 29) return false;
  const char* s = text.data();
  auto digit = [&](std::size_t i, unsigned& v) {
    const unsigned d = static_cast<unsigned char>(s[i]) - '0';
    v = v * 10 + d;
    return d <= 9;
  };
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!(digit(0, year) && digit(1, year) && digit(2, year) && digit(3, year) && (s[4] == '-') &&
        digit(5, month) && digit(6, month) && (s[7] == '-') && digit(8, day) && digit(9, day) &&
        (s[10] == ' ') && digit(11, hour) && digit(12, hour) && (s[13] == ':') && digit(14, minute) &&
        digit(15, minute) && (s[16] == ':') && digit(17, second) && digit(18, second)))
    return false;
  std::size_t pos = 19;
  unsigned fraction = 0;
  if (pos < n && s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < n && pos - start < 6 && s[pos] >= '0' && s[pos] <= '9') digit(pos++, fraction);
    if (pos == start) return false;
    for (std::size_t k = pos - start; k < 6; ++k) fraction *= 10;
  }
  // Nothing after the time, or exactly the zone "+00".
  if (pos != n && !(n - pos == 3 && s[pos] == '+' && s[pos + 1] == '0' && s[pos + 2] == '0'))
    return false;
  // Year 0, a day the month does not have, 24:00:00 and leap seconds take the general path.
  static constexpr unsigned kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  if (year == 0 || month < 1 || month > 12 || day < 1 ||
      day > kDaysIn[month - 1] + (month == 2 && leap) || hour > 23 || minute > 59 || second > 59)
    return false;
  // Howard Hinnant's days_from_civil, for years 1 to 9999.
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2);
  const std::int64_t era = y / 400;  // y >= 0
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * kDaysPer400Years + doe - 719'468;
  result = days * kMicrosPerDay +
           ((static_cast<std::int64_t>(hour) * 60 + minute) * 60 + second) * kMicrosPerSecond +
           fraction;
  return true;
}

}  // namespace

// PostgreSQL's ISO output: "2024-03-01 12:34:56.5+00", "0044-03-15 12:00:00+00 BC".
// microseconds::max() and ::min() stand for 'infinity' and '-infinity'.
void encode_timestamp(microseconds since_epoch, bool with_zone, std::string& out) {
  if (since_epoch == microseconds::max()) {
    out.append("infinity");
    return;
  }
  if (since_epoch == microseconds::min()) {
    out.append("-infinity");
    return;
  }
  // Floor division written so that nothing overflows near the ends of the range.
  std::int64_t days = since_epoch.count() / kMicrosPerDay;
  std::int64_t time_of_day = since_epoch.count() % kMicrosPerDay;
  if (time_of_day < 0) {
    time_of_day += kMicrosPerDay;
    --days;
  }
  const std::int64_t seconds = time_of_day / kMicrosPerSecond;
  const std::int64_t fraction = time_of_day % kMicrosPerSecond;
  std::string time =
      fmt::format(" {:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
  if (fraction != 0) {
    std::string digits = fmt::format("{:06}", fraction);
    while (digits.back() == '0') digits.pop_back();
    time.push_back('.');
    time.append(digits);
  }
  if (with_zone) time.append("+00");
  append_date(civil_from_days(days), out, time);
}

// Parses PostgreSQL's ISO output (DateStyle=ISO): a date, optionally a time with up to six
// fractional digits, optionally a UTC offset (+HH, +HH:MM, +HH:MM:SS), optionally " BC".
// The offset is applied, so the result is UTC for timestamptz text.
microseconds decode_timestamp(std::string_view text) {
  if (std::int64_t common = 0; decode_common_timestamp(text, common)) return microseconds{common};
  if (iequals(text, "infinity") || iequals(text, "+infinity")) return microseconds::max();
  if (iequals(text, "-infinity")) return microseconds::min();

  Parser p(text, "timestamp");
  const bool bc = p.take_bc_suffix();
  const Civil civil = p.date(bc);
  std::int64_t time_of_day = 0;
  std::int64_t offset = 0;
  if (!p.at_end()) {
    if (!p.accept(' ') && !p.accept('T')) p.fail();
    const std::int64_t hour = p.digits(2, 2);
    p.expect(':');
    const std::int64_t minute = p.digits(2, 2);
    p.expect(':');
    // 60 is accepted as PostgreSQL does (a leap second rolls over into the next minute).
    const std::int64_t second = p.digits(2, 2);
    std::int64_t fraction = 0;
    if (p.accept('.')) {
      const std::size_t start = p.position();
      fraction = p.digits(1, 6);
      for (std::size_t n = p.position() - start; n < 6; ++n) fraction *= 10;
    }
    // 24:00:00 is the midnight that ends the day, as in PostgreSQL.
    const bool end_of_day = hour == 24 && minute == 0 && second == 0 && fraction == 0;
    if ((hour > 23 && !end_of_day) || minute > 59 || second > 60) p.out_of_range();
    time_of_day = ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + fraction;

    if (p.peek() == '+' || p.peek() == '-') {
      const bool negative = p.peek() == '-';
      p.accept(p.peek());
      const std::int64_t zone_hours = p.digits(2, 2);
      std::int64_t zone_minutes = 0;
      std::int64_t zone_seconds = 0;
      if (p.accept(':')) {
        zone_minutes = p.digits(2, 2);
        if (p.accept(':')) zone_seconds = p.digits(2, 2);
      }
      // PostgreSQL's limit for a numeric time zone offset is 15:59:59.
      if (zone_hours > 15 || zone_minutes > 59 || zone_seconds > 59) p.out_of_range();
      offset = ((zone_hours * 60 + zone_minutes) * 60 + zone_seconds) * kMicrosPerSecond;
      if (negative) offset = -offset;
    }
    if (!p.at_end()) p.fail();
  }

  std::int64_t days = 0;
  if (!days_from_civil(civil, days)) p.out_of_range();
  // Local time minus the offset is UTC.
  std::int64_t result = 0;
  if (!combine(days, time_of_day - offset, result)) p.out_of_range();
  // The two extreme values are taken by 'infinity' and '-infinity'.
  if (result == std::numeric_limits<std::int64_t>::max() ||
      result == std::numeric_limits<std::int64_t>::min())
    p.out_of_range();
  return microseconds{result};
}

// year::max()/December/31 is 'infinity' and year::min()/January/1 is '-infinity'.
void encode_date(const Date& d, std::string& out) {
  if (d == kInfiniteDate) {
    out.append("infinity");
    return;
  }
  if (d == kMinusInfiniteDate) {
    out.append("-infinity");
    return;
  }
  if (!d.ok())
    throw_data_error(fmt::format("invalid date: year {}, month {}, day {}",
                                 static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                                 static_cast<unsigned>(d.day())));
  append_date({static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
               static_cast<unsigned>(d.day())},
              out, "");
}

// "YYYY-MM-DD" with an optional " BC". Dates std::chrono::year cannot hold (beyond 32767 AD or
// before 32767 BC) throw DataError, as does 32767-12-31, which is the 'infinity' sentinel.
Date decode_date(std::string_view text) {
  if (iequals(text, "infinity") || iequals(text, "+infinity")) return kInfiniteDate;
  if (iequals(text, "-infinity")) return kMinusInfiniteDate;
  Parser p(text, "date");
  const bool bc = p.take_bc_suffix();
  const Civil civil = p.date(bc);
  if (!p.at_end()) p.fail();
  std::int64_t days = 0;
  if (!days_from_civil(civil, days)) p.out_of_range();
  if (civil.year < static_cast<int>(std::chrono::year::min()) ||
      civil.year > static_cast<int>(std::chrono::year::max()))
    p.out_of_range();
  const Date date{std::chrono::year{static_cast<int>(civil.year)}, std::chrono::month{civil.month},
                  std::chrono::day{civil.day}};
  if (date == kInfiniteDate || date == kMinusInfiniteDate) p.out_of_range();
  return date;
}

}  // namespace pgorm::detail
