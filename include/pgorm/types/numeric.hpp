// pgorm::Decimal: PostgreSQL numeric, kept as its exact decimal text so it round-trips exactly.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "pgorm/types/traits.hpp"

namespace pgorm {

// An exact decimal number. It stores the canonical text form ("-12.3400", "NaN") and does no
// arithmetic: convert to your decimal library of choice, or compute in SQL.
class Decimal {
 public:
  Decimal() : text_("0") {}
  // Throws DataError unless `text` is [+-]digits[.digits][e[+-]digits], "NaN", or "[+-]Infinity".
  explicit Decimal(std::string_view text);
  const std::string& str() const noexcept { return text_; }
  double to_double() const;
  // Equal when the numbers are equal: 1.50 == 1.5.
  friend bool operator==(const Decimal& a, const Decimal& b) noexcept;

 private:
  std::string text_;
};

template <>
struct type_traits<Decimal> {
  static std::string sql_type() { return "numeric"; }
  static void encode(const Decimal& v, std::string& out) { out.append(v.str()); }
  static void decode(std::string_view t, Decimal& out) { out = Decimal(t); }
};

}  // namespace pgorm
