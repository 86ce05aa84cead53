// Window functions and OVER clauses: row_number(), rank(), dense_rank(), lag(), lead(), and the
// window an aggregate or window function runs over:
//   select(col<&Todo::title>,
//          row_number().over(partition_by(col<&Todo::user_id>).order_by(col<&Todo::id>.desc())))
// A window function is not an expression until it has .over(...): using one without it does not
// compile.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "pgorm/query/call.hpp"

namespace pgorm {
namespace query {

// The window of an OVER clause: PARTITION BY and ORDER BY, both optional.
template <class ModelList>
struct Window {
  using models = ModelList;
  Fragment partition;  // "a, b"
  Fragment ordering;   // "c DESC, d"

  // ORDER BY inside the window: columns, expressions or .asc()/.desc() terms.
  template <class... Terms>
  auto order_by(const Terms&... terms) const {
    static_assert(sizeof...(Terms) > 0, "pgorm: order_by() takes at least one term");
    Window<concat_t<ModelList, typename order_terms_models<Terms...>::type>> out{partition,
                                                                                 ordering};
    ((out.ordering += out.ordering.empty() ? "" : ", ", add_order_term(out.ordering, terms)), ...);
    return out;
  }

  // The OVER clause: "OVER (PARTITION BY ... ORDER BY ...)".
  Fragment over_clause() const {
    Fragment out;
    out += " OVER (";
    if (!partition.empty()) {
      out += "PARTITION BY ";
      out += partition;
    }
    if (!ordering.empty()) {
      out += partition.empty() ? "ORDER BY " : " ORDER BY ";
      out += ordering;
    }
    out += ")";
    return out;
  }
};

template <class V>
inline constexpr bool window_function_without_over = false;

// row_number() and the like before .over(...): not an expression yet.
template <class V, class ModelList, class Result>
struct WindowFunction {
  Fragment call;  // "row_number()"

  template <class W>
  Term<V, concat_t<ModelList, typename W::models>, Result> over(const W& window) const {
    Term<V, concat_t<ModelList, typename W::models>, Result> out;
    out.fragment += call;
    out.fragment += window.over_clause();
    return out;
  }
  Term<V, ModelList, Result> over() const { return over(Window<type_list<>>{}); }

  // Declared so that using a window function as an expression reaches this sentence.
  Expr<V, ModelList, Result> to_expr() const {
    static_assert(window_function_without_over<V>,
                  "pgorm: row_number(), rank(), dense_rank(), lag() and lead() are window "
                  "functions: they need .over(...), e.g. row_number().over(partition_by(col)), or "
                  ".over() for the whole result");
    return {};
  }
};

}  // namespace query

// PARTITION BY these columns or expressions; add .order_by(...) for the order inside each
// partition.
template <class... Es>
auto partition_by(const Es&... exprs) {
  static_assert(sizeof...(Es) > 0 && (query::expression<Es> && ...),
                "pgorm: partition_by() takes columns or expressions");
  query::Window<query::arguments_models_t<Es...>> out;
  ((out.partition += out.partition.empty() ? "" : ", ", out.partition += exprs.to_expr().fragment),
   ...);
  return out;
}
// A window with ORDER BY only (one partition: every row).
template <class... Terms>
auto order_by(const Terms&... terms) {
  return query::Window<query::type_list<>>{}.order_by(terms...);
}

// The row's number in its partition, from 1.
inline query::WindowFunction<std::int64_t, query::type_list<>, std::int64_t> row_number() {
  return {query::Fragment{"row_number()", {}}};
}
// The rank with gaps (1, 1, 3) and without (1, 1, 2), by the window's ORDER BY.
inline query::WindowFunction<std::int64_t, query::type_list<>, std::int64_t> rank() {
  return {query::Fragment{"rank()", {}}};
}
inline query::WindowFunction<std::int64_t, query::type_list<>, std::int64_t> dense_rank() {
  return {query::Fragment{"dense_rank()", {}}};
}

namespace query {
template <class E>
auto offset_function(std::string_view name, const E& e, std::int32_t offset) {
  static_assert(expression<E>, "pgorm: lag()/lead() take a column or expression");
  using V = value_of_t<E>;
  WindowFunction<V, models_of_t<E>, std::optional<V>> out;
  out.call += name;
  out.call += "(";
  out.call += e.to_expr().fragment;
  if (offset != 1) {
    out.call += ", ";
    add_typed_value<std::int32_t>(out.call, offset, name);
  }
  out.call += ")";
  return out;
}
}  // namespace query

// The value of `e` `offset` rows before (lag) or after (lead) this one in the window; NULL where
// there is no such row, so the result is std::optional.
template <class E>
auto lag(const E& e, std::int32_t offset = 1) {
  return query::offset_function("lag", e, offset);
}
template <class E>
auto lead(const E& e, std::int32_t offset = 1) {
  return query::offset_function("lead", e, offset);
}

}  // namespace pgorm
