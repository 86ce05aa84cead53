// Integers, bool, floating point and strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pgorm/types/binary.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

namespace detail {
void encode_int(std::int64_t v, std::string& out);
std::int64_t decode_int(std::string_view text, std::int64_t min, std::int64_t max,
                        std::string_view type);
void encode_double(double v, std::string& out);
double decode_double(std::string_view text);
float decode_float(std::string_view text);
void encode_float(float v, std::string& out);
// Throws DataError if the text holds a NUL byte (PostgreSQL text cannot store it, and the
// C API would silently cut the value there).
void check_no_nul(std::string_view text);
}  // namespace detail

template <>
struct type_traits<std::int16_t> {
  static std::string sql_type() { return "smallint"; }
  static void encode(std::int16_t v, std::string& out) { detail::encode_int(v, out); }
  static void decode(std::string_view t, std::int16_t& out) {
    out = static_cast<std::int16_t>(detail::decode_int(t, INT16_MIN, INT16_MAX, "smallint"));
  }
  static bool decode_binary(std::string_view b, unsigned type, std::int16_t& out) {
    std::int64_t v = 0;
    if (!detail::binary_int(b, type, INT16_MIN, INT16_MAX, "smallint", v)) return false;
    out = static_cast<std::int16_t>(v);
    return true;
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared_integer(t); }
};
template <>
struct type_traits<std::int32_t> {
  static std::string sql_type() { return "integer"; }
  static void encode(std::int32_t v, std::string& out) { detail::encode_int(v, out); }
  static void decode(std::string_view t, std::int32_t& out) {
    out = static_cast<std::int32_t>(detail::decode_int(t, INT32_MIN, INT32_MAX, "integer"));
  }
  static bool decode_binary(std::string_view b, unsigned type, std::int32_t& out) {
    std::int64_t v = 0;
    if (!detail::binary_int(b, type, INT32_MIN, INT32_MAX, "integer", v)) return false;
    out = static_cast<std::int32_t>(v);
    return true;
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared_integer(t); }
};
template <>
struct type_traits<std::int64_t> {
  static std::string sql_type() { return "bigint"; }
  static void encode(std::int64_t v, std::string& out) { detail::encode_int(v, out); }
  static void decode(std::string_view t, std::int64_t& out) {
    out = detail::decode_int(t, INT64_MIN, INT64_MAX, "bigint");
  }
  static bool decode_binary(std::string_view b, unsigned type, std::int64_t& out) {
    std::int64_t v = 0;
    if (!detail::binary_int(b, type, INT64_MIN, INT64_MAX, "bigint", v)) return false;
    out = static_cast<std::int64_t>(v);
    return true;
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared_integer(t); }
};
template <>
struct type_traits<bool> {
  static std::string sql_type() { return "boolean"; }
  static void encode(bool v, std::string& out) { out.push_back(v ? 't' : 'f'); }
  static void decode(std::string_view t, bool& out);
  static bool decode_binary(std::string_view b, unsigned type, bool& out) {
    return detail::binary_bool(b, type, out);
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(t, {"boolean", "bool"});
  }
};
template <>
struct type_traits<double> {
  static std::string sql_type() { return "double precision"; }
  static void encode(double v, std::string& out) { detail::encode_double(v, out); }
  static void decode(std::string_view t, double& out) { out = detail::decode_double(t); }
  static bool decode_binary(std::string_view b, unsigned type, double& out) {
    return detail::binary_double(b, type, out);
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(t, {"double precision", "float8"});
  }
};
template <>
struct type_traits<float> {
  static std::string sql_type() { return "real"; }
  static void encode(float v, std::string& out) { detail::encode_float(v, out); }
  static void decode(std::string_view t, float& out) { out = detail::decode_float(t); }
  static bool decode_binary(std::string_view b, unsigned type, float& out) {
    return detail::binary_float(b, type, out);
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(t, {"real", "float4"});
  }
};
// std::string maps to text; declare pgorm::varchar(N) on the column for varchar(N).
template <>
struct type_traits<std::string> {
  static std::string sql_type() { return "text"; }
  static void encode(const std::string& v, std::string& out) {
    detail::check_no_nul(v);
    out.append(v);
  }
  static void decode(std::string_view t, std::string& out) { out.assign(t); }
  static bool decode_binary(std::string_view b, unsigned type, std::string& out) {
    return detail::binary_text(b, type, out);
  }
  static bool binary_declared(std::string_view t) {
    return detail::binary_declared(
        t, {"text", "varchar", "character varying", "char", "character", "bpchar"});
  }
};

}  // namespace pgorm
