// How a C++ value binds against a column's C++ type in a query: which conversions are exact, which
// are refused at compile time because they could change the value on the way (std::int64_t
// against an integer column, double against a real column), and the one that is checked at run
// time: an `int`, the type of a plain literal, against a narrower numeric column.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "pgorm/model/metadata.hpp"
#include "pgorm/query/fragment.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {
namespace query {

enum class ValueBinding {
  mismatch,   // another kind of type (text against a number, a double against an integer column)
  narrowing,  // same kind, but some values of the C++ type would change: refused
  checked,    // an int against a smallint or real column: each value is checked when bound
  exact       // every value arrives unchanged
};

}  // namespace query

namespace detail {

using query::ValueBinding;

template <class V, class U>
constexpr ValueBinding arithmetic_binding() {
  using VL = std::numeric_limits<V>;
  using UL = std::numeric_limits<U>;
  if constexpr (std::is_floating_point_v<U> && !std::is_floating_point_v<V>) {
    return ValueBinding::mismatch;
  } else {
    bool keeps = false;
    if constexpr (std::is_floating_point_v<U>)  // into a wider (or equal) floating type
      keeps = UL::digits <= VL::digits && UL::max_exponent <= VL::max_exponent;
    else if constexpr (std::is_floating_point_v<V>)  // an integer into a floating type's mantissa
      keeps = UL::digits <= VL::digits;
    else if constexpr (std::is_signed_v<U> && !std::is_signed_v<V>)
      keeps = false;  // negative values
    else
      keeps = UL::digits <= VL::digits;
    if (keeps) return ValueBinding::exact;
    // An int is what a plain literal is: `col<&Sample::small> == 5` must stay easy to write.
    return std::is_same_v<U, int> ? ValueBinding::checked : ValueBinding::narrowing;
  }
}

// Throws DataError: a value checked at run time does not fit the column's type. `target` is the
// column (or expression) it is bound against, as SQL text; the value goes to ErrorInfo::detail
// only, since what() never shows parameter values.
[[noreturn]] void throw_value_out_of_range(std::string_view table, std::string_view column,
                                           std::string_view target, std::string_view sql_type,
                                           std::string value);

}  // namespace detail

namespace query {

// How a C++ value of type U binds against a column whose C++ type is V.
template <class V, class U>
constexpr ValueBinding binding_of() {
  using W = std::remove_cvref_t<U>;
  if constexpr (std::is_same_v<V, W>)
    return ValueBinding::exact;
  else if constexpr (std::is_same_v<V, std::string>)
    return std::is_convertible_v<const W&, std::string_view> ? ValueBinding::exact
                                                             : ValueBinding::mismatch;
  else if constexpr (std::is_arithmetic_v<V> && std::is_arithmetic_v<W> &&
                     !std::is_same_v<V, bool> && !std::is_same_v<W, bool>)
    return detail::arithmetic_binding<V, W>();
  else
    return ValueBinding::mismatch;
}

// Whether a value of type U is of the column type's kind (it may still narrow).
template <class V, class U>
inline constexpr bool value_matches = binding_of<V, U>() != ValueBinding::mismatch;
// Whether a value of type U may be bound against a column of type V (exactly, or checked).
template <class V, class U>
inline constexpr bool value_fits = binding_of<V, U>() == ValueBinding::exact
                                   || binding_of<V, U>() == ValueBinding::checked;

// Refuses a value whose C++ type could change on the way to the column.
template <class V, class U>
constexpr void refuse_narrowing() {
  static_assert(binding_of<V, U>() != ValueBinding::narrowing,
                "pgorm: this value's C++ type is wider than the column's, so the value could "
                "change on the way (e.g. std::int64_t against an integer column, double against a "
                "real column): check its range and cast it to the column's type with static_cast, "
                "or declare the column with the wider type");
}

// Whether `value` arrives unchanged as a V (true for every value of an exact binding).
template <class V, class U>
bool fits_exactly(const U& value) noexcept {
  if constexpr (binding_of<V, U>() != ValueBinding::checked) {
    return true;
  } else if constexpr (std::is_integral_v<V>) {
    return std::in_range<V>(value);
  } else {
    // Converting back is defined only inside U's range; [-2^n, 2^n) is exact in a float.
    const V converted = static_cast<V>(value);
    const V low = static_cast<V>(std::numeric_limits<U>::min());
    return converted >= low && converted < -low && static_cast<U>(converted) == value;
  }
}

// What a value is bound against, for the error that says it does not fit: a model's column (its
// table and name) or any other expression (its SQL text).
template <class E>
void throw_does_not_fit(const E& target, std::string value) {
  if constexpr (requires {
                  E::name();
                  typename E::model_type;
                }) {
    const auto sql = target.to_expr().fragment.sql;
    detail::throw_value_out_of_range(model_traits<typename E::model_type>::table_name(), E::name(),
                                     sql, type_traits<typename E::value_type>::sql_type(),
                                     std::move(value));
  } else {
    using V = typename std::remove_cvref_t<decltype(target.to_expr())>::value_type;
    detail::throw_value_out_of_range({}, {}, target.to_expr().fragment.sql,
                                     type_traits<V>::sql_type(), std::move(value));
  }
}

// Appends a C++ value as a bind parameter encoded as the column type V; `target` is the column (or
// expression) it is bound against, named by the DataError thrown when a checked value does not fit.
template <class V, class U, class Target>
void add_value(Fragment& f, const U& value, const Target& target) {
  if constexpr (std::is_same_v<V, std::string>) {
    f.add_param(std::string_view(value));
  } else if constexpr (std::is_same_v<V, std::remove_cvref_t<U>>) {
    f.add_param(value);
  } else {
    if constexpr (binding_of<V, U>() == ValueBinding::checked)
      if (!fits_exactly<V>(value)) throw_does_not_fit(target, std::to_string(value));
    f.add_param(static_cast<V>(value));
  }
}

}  // namespace query
}  // namespace pgorm
