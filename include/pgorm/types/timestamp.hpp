// Dates and times: std::chrono types <-> timestamptz, timestamp and date.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "pgorm/types/binary.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

// An instant, UTC, microsecond precision (PostgreSQL's): maps to timestamptz.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;
// A wall-clock time with no time zone: maps to timestamp (without time zone).
using LocalTimestamp = std::chrono::local_time<std::chrono::microseconds>;
// A calendar date: maps to date.
using Date = std::chrono::year_month_day;

// The current time, truncated to PostgreSQL's precision so that what is stored equals what is held.
inline Timestamp now() noexcept {
  return std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
}

namespace detail {
// PostgreSQL's 'infinity' and '-infinity' map to the largest and smallest representable values.
// Sessions always run with DateStyle=ISO and TimeZone=UTC (the connection sets them).
void encode_timestamp(std::chrono::microseconds since_epoch, bool with_zone, std::string& out);
std::chrono::microseconds decode_timestamp(std::string_view text);
void encode_date(const Date& d, std::string& out);
Date decode_date(std::string_view text);
}  // namespace detail

template <>
struct type_traits<Timestamp> {
  static std::string sql_type() { return "timestamp with time zone"; }
  static void encode(const Timestamp& v, std::string& out) {
    detail::encode_timestamp(v.time_since_epoch(), true, out);
  }
  static void decode(std::string_view t, Timestamp& out) {
    out = Timestamp(detail::decode_timestamp(t));
  }
  static bool decode_binary(std::string_view b, unsigned type, Timestamp& out) {
    std::chrono::microseconds v{};
    if (!detail::binary_timestamp(b, type, v)) return false;
    out = Timestamp(v);
    return true;
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(t, {"timestamp with time zone", "timestamptz"});
  }
};
template <>
struct type_traits<LocalTimestamp> {
  static std::string sql_type() { return "timestamp without time zone"; }
  static void encode(const LocalTimestamp& v, std::string& out) {
    detail::encode_timestamp(v.time_since_epoch(), false, out);
  }
  static void decode(std::string_view t, LocalTimestamp& out) {
    out = LocalTimestamp(detail::decode_timestamp(t));
  }
  static bool decode_binary(std::string_view b, unsigned type, LocalTimestamp& out) {
    std::chrono::microseconds v{};
    if (!detail::binary_timestamp(b, type, v)) return false;
    out = LocalTimestamp(v);
    return true;
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(t, {"timestamp without time zone", "timestamp"});
  }
};
template <>
struct type_traits<Date> {
  static std::string sql_type() { return "date"; }
  static void encode(const Date& v, std::string& out) { detail::encode_date(v, out); }
  static void decode(std::string_view t, Date& out) { out = detail::decode_date(t); }
  static bool decode_binary(std::string_view b, unsigned type, Date& out) {
    return detail::binary_date(b, type, out);
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared(t, {"date"}); }
};

}  // namespace pgorm
