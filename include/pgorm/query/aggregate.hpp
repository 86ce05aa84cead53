// Aggregates: count, sum, avg, min, max, array_agg, string_agg, bool_and, bool_or. Each can take
// .filter(condition) (FILTER (WHERE ...)), .order_by(...) inside the call (the order array_agg and
// string_agg collect in) and .over(window) to become a window function.
//   select(col<&Todo::user_id>, count().filter(col<&Todo::status> == TodoStatus::completed))
//       .group_by(col<&Todo::user_id>)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/query/call.hpp"
#include "pgorm/query/window.hpp"
#include "pgorm/types/numeric.hpp"

namespace pgorm {
namespace query {

// An aggregate call. Kept in pieces so that ORDER BY goes inside the parentheses and FILTER after.
template <class V, class ModelList, class Result>
struct Aggregate : ExprMethods<Aggregate<V, ModelList, Result>> {
  Fragment head;       // "string_agg(x, $1" (no closing parenthesis)
  Fragment ordering;   // " ORDER BY ..."
  Fragment condition;  // " FILTER (WHERE ...)"

  Expr<V, ModelList, Result> to_expr() const {
    Expr<V, ModelList, Result> e;
    e.fragment += head;
    e.fragment += ordering;
    e.fragment += ")";
    e.fragment += condition;
    return e;
  }

  // Aggregates only the rows for which `cond` holds: count(*) FILTER (WHERE ...).
  template <class C>
  Aggregate<V, concat_t<ModelList, models_of_t<C>>, Result> filter(const C& cond) const {
    static_assert(condition_expression<C>(),
                  "pgorm: filter() takes a condition (a boolean expression)");
    Aggregate<V, concat_t<ModelList, models_of_t<C>>, Result> out{{}, head, ordering, condition};
    if (condition.empty()) {
      out.condition += " FILTER (WHERE ";
    } else {  // a second filter(): reopen "FILTER (WHERE a)" to add "AND b"
      out.condition.sql.pop_back();
      out.condition += " AND ";
    }
    out.condition += cond.to_expr().fragment;
    out.condition += ")";
    return out;
  }

  // The order rows are aggregated in: array_agg(x ORDER BY y DESC).
  template <class... Terms>
  auto order_by(const Terms&... terms) const {
    static_assert(sizeof...(Terms) > 0, "pgorm: order_by() takes at least one term");
    Aggregate<V, concat_t<ModelList, typename order_terms_models<Terms...>::type>, Result> out{
        {}, head, ordering, condition};
    ((out.ordering += out.ordering.empty() ? " ORDER BY " : ", ",
      add_order_term(out.ordering, terms)),
     ...);
    return out;
  }

  // As a window function: sum(x) OVER (PARTITION BY ...); .over() for the whole result.
  template <class W>
  Term<V, concat_t<ModelList, typename W::models>, Result> over(const W& window) const {
    Term<V, concat_t<ModelList, typename W::models>, Result> out;
    out.fragment += to_expr().fragment;
    out.fragment += window.over_clause();
    return out;
  }
  Term<V, ModelList, Result> over() const { return over(Window<type_list<>>{}); }

 private:
  template <class C>
  static constexpr bool condition_expression() {
    if constexpr (expression<C>)
      return std::is_same_v<value_of_t<C>, bool>;
    else
      return false;
  }
};

template <class V>
struct sum_result {
  using type = V;
};
template <>
struct sum_result<std::int16_t> {
  using type = std::int64_t;
};
template <>
struct sum_result<std::int32_t> {
  using type = std::int64_t;
};
template <>
struct sum_result<std::int64_t> {
  using type = Decimal;  // PostgreSQL: sum(bigint) is numeric
};
template <>
struct sum_result<float> {
  using type = float;
};
template <class V>
struct avg_result {
  using type = std::conditional_t<std::is_floating_point_v<V>, double, Decimal>;
};

template <class V, class ModelList, class Result, class E>
Aggregate<V, ModelList, Result> aggregate_call(std::string_view name, const E& argument) {
  Aggregate<V, ModelList, Result> out;
  out.head += name;
  out.head += "(";
  out.head += argument.to_expr().fragment;
  return out;
}

}  // namespace query

// count(*)
inline query::Aggregate<std::int64_t, query::type_list<>, std::int64_t> count() {
  query::Aggregate<std::int64_t, query::type_list<>, std::int64_t> a;
  a.head += "count(*";
  return a;
}
// count(expr): rows where expr is not NULL.
template <query::expression E>
auto count(const E& e) {
  return query::aggregate_call<std::int64_t, query::models_of_t<E>, std::int64_t>("count", e);
}
template <query::expression E>
auto count_distinct(const E& e) {
  query::Aggregate<std::int64_t, query::models_of_t<E>, std::int64_t> a;
  a.head += "count(DISTINCT ";
  a.head += e.to_expr().fragment;
  return a;
}
// sum/avg/min/max are NULL over no rows, so their results are std::optional.
template <query::expression E>
auto sum(const E& e) {
  using V = query::value_of_t<E>;
  static_assert(std::is_arithmetic_v<V> || std::is_same_v<V, Decimal>,
                "pgorm::sum applies to numeric columns only");
  using R = typename query::sum_result<V>::type;
  return query::aggregate_call<R, query::models_of_t<E>, std::optional<R>>("sum", e);
}
template <query::expression E>
auto avg(const E& e) {
  using V = query::value_of_t<E>;
  static_assert(std::is_arithmetic_v<V> || std::is_same_v<V, Decimal>,
                "pgorm::avg applies to numeric columns only");
  using R = typename query::avg_result<V>::type;
  return query::aggregate_call<R, query::models_of_t<E>, std::optional<R>>("avg", e);
}
template <query::expression E>
auto min(const E& e) {
  using V = query::value_of_t<E>;
  return query::aggregate_call<V, query::models_of_t<E>, std::optional<V>>("min", e);
}
template <query::expression E>
auto max(const E& e) {
  using V = query::value_of_t<E>;
  return query::aggregate_call<V, query::models_of_t<E>, std::optional<V>>("max", e);
}

// The values as an array, NULL over no rows. Elements are std::optional when `e` may be NULL.
// Add .order_by(...) for their order: array_agg(col<&Todo::title>).order_by(col<&Todo::id>).
template <query::expression E>
auto array_agg(const E& e) {
  using Element = typename query::expr_t<E>::result_type;
  using V = std::vector<Element>;
  return query::aggregate_call<V, query::models_of_t<E>, std::optional<V>>("array_agg", e);
}

// The text values joined by `separator` (a bind parameter); NULL values are skipped, and the
// result is NULL over no rows.
template <query::expression E>
auto string_agg(const E& e, std::string_view separator) {
  static_assert(std::is_same_v<query::value_of_t<E>, std::string>,
                "pgorm::string_agg applies to text expressions only (convert others with "
                "pgorm::cast<std::string>(e))");
  using R = std::optional<std::string>;
  auto a = query::aggregate_call<std::string, query::models_of_t<E>, R>("string_agg", e);
  a.head += ", ";
  query::add_typed_value<std::string>(a.head, separator, "string_agg");
  return a;
}

// Whether every / any value is true (NULL over no rows).
template <query::expression E>
auto bool_and(const E& e) {
  static_assert(query::condition<E>, "pgorm::bool_and/bool_or apply to boolean expressions only");
  return query::aggregate_call<bool, query::models_of_t<E>, std::optional<bool>>("bool_and", e);
}
template <query::expression E>
auto bool_or(const E& e) {
  static_assert(query::condition<E>, "pgorm::bool_and/bool_or apply to boolean expressions only");
  return query::aggregate_call<bool, query::models_of_t<E>, std::optional<bool>>("bool_or", e);
}

}  // namespace pgorm
