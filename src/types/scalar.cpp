#include "pgorm/types/scalar.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm {
namespace {

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

// PostgreSQL's spellings of the special floating-point values (float8in accepts all of them,
// case-insensitively). Returns true and sets `out` when `text` is one of them.
template <class F>
bool parse_special_float(std::string_view text, F& out) {
  if (iequals(text, "NaN")) {
    out = std::numeric_limits<F>::quiet_NaN();
    return true;
  }
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (iequals(body, "Infinity") || iequals(body, "inf")) {
    out = negative ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
    return true;
  }
  return false;
}

template <class F>
F decode_floating(std::string_view text, std::string_view type) {
  F value{};
  if (parse_special_float(text, value)) return value;
  std::string_view body = text;
  // std::from_chars refuses the leading '+' that PostgreSQL (strtod) accepts.
  if (body.size() > 1 && body.front() == '+' && body[1] != '-') body.remove_prefix(1);
  // Reject what from_chars would take for a special value ("nan(1)", "-nan") or a second sign.
  if (body.empty() ||
      !(body.front() == '-' || body.front() == '.' || (body.front() >= '0' && body.front() <= '9')))
    throw_data_error(fmt::format("invalid input syntax for type {}: '{}'", type, text));
  const char* first = body.data();
  const char* last = first + body.size();
  auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::general);
  if (ec == std::errc::result_out_of_range && ptr == last)
    throw_data_error(fmt::format("value '{}' is out of range for type {}", text, type));
  if (ec != std::errc{} || ptr != last || std::isnan(value) || std::isinf(value))
    throw_data_error(fmt::format("invalid input syntax for type {}: '{}'", type, text));
  return value;
}

template <class F>
void encode_floating(F v, std::string& out) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buffer[64];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);  // shortest round trip
  (void)ec;  // 64 characters always suffice for the shortest form
  out.append(buffer, ptr);
}

}  // namespace

namespace detail {

void encode_int(std::int64_t v, std::string& out) {
  char buffer[24];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  (void)ec;  // 20 characters always suffice
  out.append(buffer, ptr);
}

std::int64_t decode_int(std::string_view text, std::int64_t min, std::int64_t max,
                        std::string_view type) {
  // Up to 18 digits with an optional '-' (what PostgreSQL prints) cannot overflow: read them
  // directly; anything else takes the checked path below.
  if (const std::size_t n = text.size(); n > 0 && n <= 18) {
    const bool negative = text[0] == '-';
    std::size_t i = negative ? 1 : 0;
    std::int64_t value = 0;
    bool digits = i < n;
    for (; i < n && digits; ++i) {
      const unsigned d = static_cast<unsigned char>(text[i]) - '0';
      digits = d <= 9;
      value = value * 10 + d;
    }
    if (digits) {
      if (negative) value = -value;
      if (value < min || value > max)
        throw_data_error(fmt::format("value {} out of range for {}", text, type));
      return value;
    }
  }
  std::string_view body = text;
  // PostgreSQL accepts an explicit '+', std::from_chars does not.
  if (body.size() > 1 && body.front() == '+' && body[1] >= '0' && body[1] <= '9')
    body.remove_prefix(1);
  std::int64_t value = 0;
  const char* first = body.data();
  const char* last = first + body.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range && ptr == last)
    throw_data_error(fmt::format("value {} out of range for {}", text, type));
  if (body.empty() || ec != std::errc{} || ptr != last)
    throw_data_error(fmt::format("invalid integer value '{}'", text));
  if (value < min || value > max)
    throw_data_error(fmt::format("value {} out of range for {}", text, type));
  return value;
}

void encode_double(double v, std::string& out) {
  encode_floating(v, out);
}
void encode_float(float v, std::string& out) {
  encode_floating(v, out);
}

double decode_double(std::string_view text) {
  return decode_floating<double>(text, "double precision");
}

float decode_float(std::string_view text) {
  return decode_floating<float>(text, "real");
}

void check_no_nul(std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    throw_data_error("text value contains a NUL byte, which PostgreSQL text cannot store");
}

}  // namespace detail

// PostgreSQL prints 't' and 'f'; the long spellings are accepted too, in any case.
void type_traits<bool>::decode(std::string_view t, bool& out) {
  if (iequals(t, "t") || iequals(t, "true")) {
    out = true;
  } else if (iequals(t, "f") || iequals(t, "false")) {
    out = false;
  } else {
    throw_data_error(fmt::format("invalid input syntax for type boolean: '{}'", t));
  }
}

}  // namespace pgorm
