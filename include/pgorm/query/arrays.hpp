// Array operators on std::vector<T> expressions (PostgreSQL arrays): @> (contains), && (overlaps),
// array_length, and value = ANY(array). Arrays given as values are one bind parameter each.
//   select<Post>().where(array_contains(col<&Post::tags>, std::vector<std::string>{"c++"}))
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/query/call.hpp"

namespace pgorm {
namespace query {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class E>
constexpr void check_array() {
  static_assert(expression<E> && is_vector<value_of_t<E>>::value,
                "pgorm: the array operators apply to array (std::vector) expressions only");
}

template <class E, class A>
auto array_operator(const E& e, std::string_view op, const A& other) {
  check_array<E>();
  using V = value_of_t<E>;
  static_assert(argument_matches<V, A>(),
                "pgorm: array_contains()/array_overlaps(): both sides must be arrays of the same "
                "C++ element type");
  Term<bool, concat_t<models_of_t<E>, arguments_models_t<A>>,
       result_t<bool, may_be_null<E>() || may_be_null<A>()>>
      out;
  if constexpr (argument_fits<V, A>()) {
    out.fragment += "(";
    out.fragment += e.to_expr().fragment;
    out.fragment += op;
    add_argument<V>(out.fragment, other, op);
    out.fragment += ")";
  }
  return out;
}

}  // namespace query

// e @> other: every element of `other` is in e.
template <class E, class A>
auto array_contains(const E& e, const A& other) {
  return query::array_operator(e, " @> ", other);
}
// e && other: e and `other` have an element in common.
template <class E, class A>
auto array_overlaps(const E& e, const A& other) {
  return query::array_operator(e, " && ", other);
}
// The number of elements: array_length(e, 1). NULL for an empty array (PostgreSQL's rule), so
// the result is std::optional; coalesce(array_length(e), 0) reads it as 0.
template <class E>
auto array_length(const E& e) {
  query::check_array<E>();
  query::Term<std::int32_t, query::models_of_t<E>, std::optional<std::int32_t>> out;
  out.fragment += "array_length(";
  out.fragment += e.to_expr().fragment;
  out.fragment += ", 1)";
  return out;
}
// value = ANY(e): the value (or expression) is an element of the array e.
//   select<Post>().where(equals_any("c++", col<&Post::tags>))
template <class A, class E>
auto equals_any(const A& value, const E& e) {
  query::check_array<E>();
  using Element = unwrap_optional_t<typename query::value_of_t<E>::value_type>;
  static_assert(query::argument_matches<Element, A>(),
                "pgorm: equals_any(value, array): the value's C++ type does not match the "
                "array's elements");
  query::refuse_argument_narrowing<Element, A>();
  query::Term<bool, query::arguments_models_t<A, E>, std::optional<bool>> out;
  if constexpr (query::argument_fits<Element, A>()) {
    out.fragment += "(";
    query::add_argument<Element>(out.fragment, value, "= ANY");
    out.fragment += " = ANY(";
    out.fragment += e.to_expr().fragment;
    out.fragment += "))";
  }
  return out;
}

}  // namespace pgorm
