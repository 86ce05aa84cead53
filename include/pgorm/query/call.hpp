// What SQL function calls share (functions.hpp, aggregate.hpp, window.hpp): whether an argument may
// be NULL, the C++ type of an argument, and values bound as parameters with their SQL type stated.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "pgorm/query/expression.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm::query {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Whether an argument may be NULL: an expression read as std::optional. A C++ value never is.
template <class A>
constexpr bool may_be_null() {
  if constexpr (expression<A>)
    return is_optional<typename expr_t<A>::result_type>::value;
  else
    return false;
}

// What a result is read into: V, or std::optional<V> when it may be NULL.
template <class V, bool Nullable>
using result_t = std::conditional_t<Nullable, std::optional<V>, V>;

// The C++ value type of an argument: an expression's, or a value's own (text for string literals).
template <class A, bool = expression<A>>
struct argument_value {
  using type = value_of_t<A>;
};
template <class A>
struct argument_value<A, false> {
  using W = std::remove_cvref_t<A>;
  using type =
      std::conditional_t<std::is_convertible_v<const W&, std::string_view>, std::string, W>;
};
template <class A>
using argument_value_t = typename argument_value<A>::type;

// The models of arguments (expressions have some, values none).
template <class... Args>
using arguments_models_t = typename detail::sql_models<Args...>::type;

// Whether an argument is of C++ type V: an expression of exactly that type, or a value of its kind
// (checked for narrowing separately by refuse_argument_narrowing).
template <class V, class A>
constexpr bool argument_matches() {
  if constexpr (expression<A>)
    return std::is_same_v<V, value_of_t<A>>;
  else
    return value_matches<V, A>;
}
// Whether an argument can be rendered as a V (exactly, or a value checked when bound).
template <class V, class A>
constexpr bool argument_fits() {
  if constexpr (expression<A>)
    return std::is_same_v<V, value_of_t<A>>;
  else
    return value_fits<V, A>;
}
template <class V, class A>
constexpr void refuse_argument_narrowing() {
  if constexpr (!expression<A> && value_matches<V, A>) refuse_narrowing<V, A>();
}

// Appends a value as a bind parameter of type V with its SQL type stated ($1::integer): inside a
// function call PostgreSQL cannot always infer a parameter's type from its neighbours. `context`
// names the call in the error thrown when a checked value does not fit.
template <class V, class U>
void add_typed_value(Fragment& f, const U& value, std::string_view context) {
  Expr<V, type_list<>> target;
  target.fragment += context;
  add_value<V>(f, value, target);
  f += "::";
  f += type_traits<V>::sql_type();
}

// Appends an argument of type V: an expression in place, a value as a typed bind parameter.
template <class V, class A>
void add_argument(Fragment& f, const A& argument, std::string_view context) {
  if constexpr (expression<A>)
    f += argument.to_expr().fragment;
  else if constexpr (argument_fits<V, A>())
    add_typed_value<V>(f, argument, context);
}

// Appends ORDER BY terms (columns, expressions, .asc()/.desc() terms), comma-separated.
template <class Term>
void add_order_term(Fragment& f, const Term& term) {
  if constexpr (expression<Term>)
    f += term.to_expr().fragment;
  else
    f += term.fragment;
}
template <class Term, bool = expression<Term>>
struct order_term_models {
  using type = models_of_t<Term>;
};
template <class Term>
struct order_term_models<Term, false> {
  using type = typename Term::models;
};
template <class... Terms>
struct order_terms_models {
  using type = type_list<>;
};
template <class T, class... Ts>
struct order_terms_models<T, Ts...> {
  using type =
      concat_t<typename order_term_models<T>::type, typename order_terms_models<Ts...>::type>;
};

}  // namespace pgorm::query
