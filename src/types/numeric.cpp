#include "pgorm/types/numeric.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "pgorm/errors.hpp"
#include "pgorm/types/scalar.hpp"

namespace pgorm {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

enum class Kind { finite, nan, positive_infinity, negative_infinity };

// Recognizes NaN and [+-]Infinity (and PostgreSQL's "inf"), in any case as numeric_in does.
bool special_kind(std::string_view text, Kind& kind) {
  if (iequals(text, "NaN")) {
    kind = Kind::nan;
    return true;
  }
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (iequals(text, "Infinity") || iequals(text, "inf")) {
    kind = negative ? Kind::negative_infinity : Kind::positive_infinity;
    return true;
  }
  return false;
}

// The parts of a finite literal [+-]int[.frac][e[+-]exp].
struct Parts {
  bool negative = false;
  std::string_view integer;
  std::string_view fraction;
  bool exponent_negative = false;
  std::string_view exponent;
};

bool split(std::string_view text, Parts& parts) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) parts.negative = text[i++] == '-';
  std::size_t start = i;
  while (i < n && is_digit(text[i])) ++i;
  parts.integer = text.substr(start, i - start);
  if (i < n && text[i] == '.') {
    start = ++i;
    while (i < n && is_digit(text[i])) ++i;
    parts.fraction = text.substr(start, i - start);
  }
  if (parts.integer.empty() && parts.fraction.empty()) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) parts.exponent_negative = text[i++] == '-';
    start = i;
    while (i < n && is_digit(text[i])) ++i;
    parts.exponent = text.substr(start, i - start);
    if (parts.exponent.empty()) return false;
  }
  return i == n;
}

// A finite value as sign * 0.digits * 10^point: `digits` has no leading or trailing zeros and is
// empty for zero (whose sign is then irrelevant).
struct Normalized {
  Kind kind = Kind::finite;
  bool negative = false;
  std::string digits;
  std::int64_t point = 0;
  friend bool operator==(const Normalized&, const Normalized&) = default;
};

Normalized normalize(std::string_view text) {
  Normalized result;
  if (special_kind(text, result.kind)) return result;
  Parts parts;
  split(text, parts);  // the constructor validated the text
  // Exponents beyond this bound cannot be stored by PostgreSQL anyway; saturating keeps the
  // arithmetic defined.
  constexpr std::int64_t kExponentLimit = std::int64_t{1} << 48;
  std::int64_t exponent = 0;
  for (char c : parts.exponent) {
    exponent = exponent * 10 + (c - '0');
    if (exponent > kExponentLimit) {
      exponent = kExponentLimit;
      break;
    }
  }
  if (parts.exponent_negative) exponent = -exponent;
  result.digits.reserve(parts.integer.size() + parts.fraction.size());
  result.digits.append(parts.integer);
  result.digits.append(parts.fraction);
  result.point = static_cast<std::int64_t>(parts.integer.size()) + exponent;
  std::size_t leading = 0;
  while (leading < result.digits.size() && result.digits[leading] == '0') ++leading;
  result.digits.erase(0, leading);
  result.point -= static_cast<std::int64_t>(leading);
  while (!result.digits.empty() && result.digits.back() == '0') result.digits.pop_back();
  if (result.digits.empty()) {
    result.negative = false;
    result.point = 0;
  } else {
    result.negative = parts.negative;
  }
  return result;
}

}  // namespace

Decimal::Decimal(std::string_view text) {
  Kind kind;
  Parts parts;
  if (!special_kind(text, kind) && !split(text, parts))
    throw_data_error(fmt::format("invalid input syntax for type numeric: '{}'", text));
  text_.assign(text);
}

double Decimal::to_double() const {
  return detail::decode_double(text_);
}

// Compares values, not spellings, as PostgreSQL does: 1.50 = 1.5, -0 = 0, 1e3 = 1000, and
// (unlike IEEE floating point) NaN = NaN.
bool operator==(const Decimal& a, const Decimal& b) noexcept {
  if (a.text_ == b.text_) return true;
  return normalize(a.text_) == normalize(b.text_);
}

}  // namespace pgorm
