// Typed SQL expressions: pgorm::col<&Todo::status> == TodoStatus::pending, .ilike(), .in(), &&, ||,
// and ORDER BY terms (aggregates are in aggregate.hpp, functions in functions.hpp). Each expression
// knows its C++ value type and the models it uses, so comparing a column with a value of another
// type, or filtering on a model the query does not select from, does not compile.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/errors.hpp"
#include "pgorm/model/metadata.hpp"
#include "pgorm/query/fragment.hpp"
#include "pgorm/query/value.hpp"
#include "pgorm/types/array.hpp"
#include "pgorm/types/numeric.hpp"

namespace pgorm {

namespace query {

using detail::type_list;

template <class A, class B>
struct concat_lists;
template <class... A, class... B>
struct concat_lists<type_list<A...>, type_list<B...>> {
  using type = type_list<A..., B...>;
};
template <class A, class B>
using concat_t = typename concat_lists<A, B>::type;

template <class T, class List>
struct list_contains;
template <class T, class... Ts>
struct list_contains<T, type_list<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

// Every model of `Used` is one of `Available`.
template <class Used, class Available>
struct list_subset;
template <class... Us, class Available>
struct list_subset<type_list<Us...>, Available>
    : std::bool_constant<(list_contains<Us, Available>::value && ...)> {};

// An SQL expression whose values have C++ type Value (NULL-ness aside), that reads columns of
// the models in ModelList, and whose result is read into Result (Value or std::optional<Value>).
template <class Value, class ModelList, class Result = Value>
struct Expr {
  using value_type = Value;
  using models = ModelList;
  using result_type = Result;
  Fragment fragment;
  const Expr& to_expr() const& noexcept { return *this; }
  Expr to_expr() && noexcept { return std::move(*this); }
};

template <class T>
concept expression = requires(const T& t) {
  typename std::remove_cvref_t<decltype(t.to_expr())>::value_type;
  typename std::remove_cvref_t<decltype(t.to_expr())>::models;
};
template <expression E>
using expr_t = std::remove_cvref_t<decltype(std::declval<const E&>().to_expr())>;
template <expression E>
using value_of_t = typename expr_t<E>::value_type;
template <expression E>
using models_of_t = typename expr_t<E>::models;

// A table made in the statement (pgorm::derived, lateral, unnest; pgorm/query/row_source.hpp).
template <class S>
concept row_source = requires(const S& s) {
  S::is_pgorm_row_source;
  typename S::outer_models;
  s.sql;
};

// A condition: a boolean expression.
template <class E>
concept condition = expression<E> && std::is_same_v<value_of_t<E>, bool>;

template <class L, class R>
auto compare(const L& left, const R& right, std::string_view op) {
  const auto& l = left.to_expr();
  using V = value_of_t<L>;
  if constexpr (expression<R>) {
    static_assert(std::is_same_v<V, value_of_t<R>>,
                  "pgorm: the two sides of this comparison have different C++ types");
    Expr<bool, concat_t<models_of_t<L>, models_of_t<R>>> out;
    if constexpr (!std::is_same_v<V, value_of_t<R>>) return out;
    out.fragment += "(";
    out.fragment += l.fragment;
    out.fragment += op;
    out.fragment += right.to_expr().fragment;
    out.fragment += ")";
    return out;
  } else {
    static_assert(!std::is_same_v<std::remove_cvref_t<R>, std::nullopt_t>,
                  "pgorm: compare with NULL using .is_null() / .is_not_null()");
    static_assert(std::is_same_v<std::remove_cvref_t<R>, std::nullopt_t> || value_matches<V, R>,
                  "pgorm: this value's C++ type does not match the column's type");
    if constexpr (value_matches<V, R>) refuse_narrowing<V, R>();
    Expr<bool, models_of_t<L>> out;
    if constexpr (value_fits<V, R>) {  // keeps a failed static_assert the only error shown
      out.fragment += "(";
      out.fragment += l.fragment;
      out.fragment += op;
      add_value<V>(out.fragment, right, left);
      out.fragment += ")";
    }
    return out;
  }
}

template <class Op, class L, class R>
auto logical(const L& left, const R& right, std::string_view op) {
  static_assert(condition<L> && condition<R>, "pgorm: && and || combine conditions only");
  Expr<bool, concat_t<models_of_t<L>, models_of_t<R>>> out;
  out.fragment += "(";
  out.fragment += left.to_expr().fragment;
  out.fragment += op;
  out.fragment += right.to_expr().fragment;
  out.fragment += ")";
  return out;
}

// ORDER BY term.
template <class ModelList>
struct OrderTerm {
  using models = ModelList;
  Fragment fragment;
  OrderTerm nulls_first() && {
    fragment += " NULLS FIRST";
    return std::move(*this);
  }
  OrderTerm nulls_last() && {
    fragment += " NULLS LAST";
    return std::move(*this);
  }
};

template <class Row, class From, class Models>
class Select;

// Methods every expression has (CRTP): .is_null(), .in(), .between(), .like(), .asc(), ...
template <class Self>
struct ExprMethods {
  auto is_null() const { return suffix(" IS NULL"); }
  auto is_not_null() const { return suffix(" IS NOT NULL"); }

  // = ANY($1) with one array parameter: the statement text does not depend on the list's length.
  template <class U>
  auto in(const std::vector<U>& values) const {
    return any_of(values, " = ANY(", ")");
  }
  template <class U>
  auto in(std::initializer_list<U> values) const {
    return in(std::vector<U>(values));
  }
  template <class U>
  auto not_in(const std::vector<U>& values) const {
    return any_of(values, " <> ALL(", ")");
  }
  template <class U>
  auto not_in(std::initializer_list<U> values) const {
    return not_in(std::vector<U>(values));
  }
  // IN / NOT IN a select of one column of the same C++ type (pgorm/query/subquery.hpp).
  template <class R, class F, class M>
  auto in(const Select<R, F, M>& subquery) const {
    return in_subquery(derived(), subquery, " IN ");
  }
  template <class R, class F, class M>
  auto not_in(const Select<R, F, M>& subquery) const {
    return in_subquery(derived(), subquery, " NOT IN ");
  }
  template <class A, class B>
  auto between(const A& low, const B& high) const {
    using V = value_of_t<Self>;
    static_assert(value_matches<V, A> && value_matches<V, B>,
                  "pgorm: between(): the bounds' C++ type does not match the column's type");
    if constexpr (value_matches<V, A> && value_matches<V, B>) {
      refuse_narrowing<V, A>();
      refuse_narrowing<V, B>();
    }
    Expr<bool, models_of_t<Self>> out;
    if constexpr (!(value_fits<V, A> && value_fits<V, B>)) return out;
    out.fragment += "(";
    out.fragment += self().fragment;
    out.fragment += " BETWEEN ";
    add_value<V>(out.fragment, low, derived());
    out.fragment += " AND ";
    add_value<V>(out.fragment, high, derived());
    out.fragment += ")";
    return out;
  }
  auto like(std::string_view pattern) const { return text_match(pattern, " LIKE "); }
  auto ilike(std::string_view pattern) const { return text_match(pattern, " ILIKE "); }
  auto not_like(std::string_view pattern) const { return text_match(pattern, " NOT LIKE "); }
  // LIKE / ILIKE with `text` taken literally: its %, _ and \ match themselves (SQLAlchemy's
  // contains(autoescape=True)). The i- forms ignore case.
  auto contains(std::string_view text) const {
    return text_match(like_pattern("%", text, "%"), " LIKE ");
  }
  auto startswith(std::string_view text) const {
    return text_match(like_pattern("", text, "%"), " LIKE ");
  }
  auto endswith(std::string_view text) const {
    return text_match(like_pattern("%", text, ""), " LIKE ");
  }
  auto icontains(std::string_view text) const {
    return text_match(like_pattern("%", text, "%"), " ILIKE ");
  }
  auto istartswith(std::string_view text) const {
    return text_match(like_pattern("", text, "%"), " ILIKE ");
  }
  auto iendswith(std::string_view text) const {
    return text_match(like_pattern("%", text, ""), " ILIKE ");
  }

  auto asc() const { return OrderTerm<models_of_t<Self>>{self().fragment}; }
  auto desc() const {
    OrderTerm<models_of_t<Self>> t{self().fragment};
    t.fragment += " DESC";
    return t;
  }

 private:
  decltype(auto) self() const { return derived().to_expr(); }
  const Self& derived() const { return static_cast<const Self&>(*this); }
  auto suffix(std::string_view text) const {
    Expr<bool, models_of_t<Self>> out;
    out.fragment += "(";
    out.fragment += self().fragment;
    out.fragment += text;
    out.fragment += ")";
    return out;
  }
  template <class U>
  auto any_of(const std::vector<U>& values, std::string_view open, std::string_view close) const {
    using V = value_of_t<Self>;
    static_assert(value_matches<V, U>,
                  "pgorm: in(): the list's C++ type does not match the column's type");
    if constexpr (value_matches<V, U>) refuse_narrowing<V, U>();
    Expr<bool, models_of_t<Self>> out;
    if constexpr (!value_fits<V, U>) return out;
    out.fragment += "(";
    out.fragment += self().fragment;
    out.fragment += open;
    if constexpr (std::is_same_v<V, U>) {
      out.fragment.add_param(values);
    } else {
      std::vector<V> converted;
      converted.reserve(values.size());
      for (const U& value : values) {
        if constexpr (binding_of<V, U>() == ValueBinding::checked)
          if (!fits_exactly<V>(value)) throw_does_not_fit(derived(), std::to_string(value));
        converted.push_back(static_cast<V>(value));
      }
      out.fragment.add_param(converted);
    }
    out.fragment += close;
    out.fragment += ")";
    return out;
  }
  static std::string like_pattern(std::string_view before, std::string_view text,
                                  std::string_view after) {
    std::string out(before);
    for (char c : text) {
      if (c == '%' || c == '_' || c == '\\') out += '\\';  // LIKE's default escape character
      out += c;
    }
    out += after;
    return out;
  }
  auto text_match(std::string_view pattern, std::string_view op) const {
    static_assert(
        std::is_same_v<value_of_t<Self>, std::string>,
        "pgorm: like()/ilike()/contains()/startswith()/endswith() apply to text columns only");
    Expr<bool, models_of_t<Self>> out;
    out.fragment += "(";
    out.fragment += self().fragment;
    out.fragment += op;
    out.fragment.add_param(pattern);
    out.fragment += ")";
    return out;
  }
};

// An expression value with the methods above.
template <class Value, class ModelList, class Result = Value>
struct Term : Expr<Value, ModelList, Result>, ExprMethods<Term<Value, ModelList, Result>> {};

// A model's column: pgorm::col<&Todo::title>. Renders as "todos"."title".
template <auto Member>
struct Column : ExprMethods<Column<Member>> {
  using owner_type = typename member_pointer_traits<decltype(Member)>::class_type;
  using model_type = model_of_t<owner_type>;
  static_assert(model_traits<model_type>::template has_column<Member>,
                "pgorm::col<&Model::member>: this member is not a declared column of its model");
  using def = column_of_t<model_type, Member>;
  using member_type = typename def::member_type;
  using value_type = typename def::value_type;
  using models = type_list<model_type>;
  using expr_type = Expr<value_type, models, member_type>;

  expr_type to_expr() const {
    expr_type e;
    e.fragment.add_identifier(model_traits<model_type>::table_name());
    e.fragment += ".";
    e.fragment.add_identifier(name());
    return e;
  }
  static constexpr std::string_view name() {
    return std::get<model_traits<model_type>::template column_index<Member>()>(
               model_traits<model_type>::columns)
        .name();
  }
};

}  // namespace query

// The column of a model member, for use in queries.
template <auto Member>
inline constexpr query::Column<Member> col{};

// Plain SQL as an expression of type V, for what the builder does not cover:
// pgorm::raw<Timestamp>("now()").
template <class V>
query::Term<V, query::type_list<>> raw(std::string_view sql_text) {
  query::Term<V, query::type_list<>> t;
  // Parenthesized, so that "a OR b" cannot escape the AND that joins it to other conditions
  // (the soft-delete filter among them).
  t.fragment += "(";
  t.fragment += sql_text;
  t.fragment += ")";
  return t;
}

namespace detail {
// Named so that a compile error says what is wrong: called only when the check fails.
void pgorm_expr_placeholder_count_differs_from_argument_count();

// expr<V>()'s format string: "{}" marks an argument, "{{" and "}}" are literal braces. Checked
// at compile time against the number of arguments.
template <class... Args>
struct SqlFormat {
  std::string_view text;
  template <class S>
    requires std::convertible_to<const S&, std::string_view>
  consteval SqlFormat(const S& s) : text(s) {  // NOLINT: implicit, like fmt's format strings
    std::size_t count = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '}') {
        ++count;
        ++i;
      } else if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() &&
                 text[i + 1] == text[i]) {
        ++i;
      }
    }
    if (count != sizeof...(Args)) pgorm_expr_placeholder_count_differs_from_argument_count();
  }
};

template <class Arg>
void append_sql_argument(query::Fragment& out, const Arg& arg) {
  if constexpr (query::expression<Arg>)
    out += arg.to_expr().fragment;
  else
    out.add_param(arg);
}

// The models an argument refers to: those of an expression, none for a value.
template <class Arg, bool = query::expression<Arg>>
struct argument_models {
  using type = query::type_list<>;
};
template <class Arg>
struct argument_models<Arg, true> {
  using type = query::models_of_t<Arg>;
};
template <class... Args>
struct sql_models {
  using type = query::type_list<>;
};
template <class First, class... Rest>
struct sql_models<First, Rest...> {
  using type = query::concat_t<typename argument_models<First>::type,
                               typename sql_models<Rest...>::type>;
};
}  // namespace detail

// SQL the builder does not cover, with typed arguments: each "{}" takes the next argument, a
// column or expression (rendered in place) or a value (sent as a bind parameter, never spliced
// into the text). The result is an expression of type V usable anywhere the builder takes one:
//   .where(pgorm::expr<bool>("to_tsvector('english', {}) @@ plainto_tsquery('english', {})",
//                            col<&Doc::body>, words))
// The number of "{}" must match the arguments (a compile error otherwise); "{{" and "}}" are
// literal braces. The result is parenthesized.
template <class V, class... Args>
auto expr(detail::SqlFormat<std::type_identity_t<Args>...> format, const Args&... args) {
  query::Term<V, typename detail::sql_models<Args...>::type> t;
  if (format.text.find(query::kParamMarker) != std::string_view::npos) {
    ErrorInfo info;
    info.message = "pgorm::expr: the text contains the byte 0x01, which pgorm reserves";
    throw ProgrammingError(std::move(info));
  }
  // Parenthesized like raw<V>(): "a OR b" stays one condition.
  t.fragment += "(";
  std::size_t next = 0;
  [[maybe_unused]] auto each = [&](const auto& arg) {
    // Copy text up to the next placeholder, unescaping braces, then the argument.
    for (; next < format.text.size(); ++next) {
      char c = format.text[next];
      if (c == '{' && next + 1 < format.text.size() && format.text[next + 1] == '}') {
        next += 2;
        detail::append_sql_argument(t.fragment, arg);
        return;
      }
      if ((c == '{' || c == '}') && next + 1 < format.text.size() && format.text[next + 1] == c)
        ++next;
      t.fragment.sql.push_back(c);
    }
  };
  (each(args), ...);
  for (; next < format.text.size(); ++next) {
    char c = format.text[next];
    if ((c == '{' || c == '}') && next + 1 < format.text.size() && format.text[next + 1] == c)
      ++next;
    t.fragment.sql.push_back(c);
  }
  t.fragment += ")";
  return t;
}

// Reads an expression as std::optional: for columns of the nullable side of an outer join.
//   select(col<&User::email>, nullable(col<&Todo::title>)).outer_join<Todo>()
template <query::expression E>
auto nullable(const E& e) {
  using V = query::value_of_t<E>;
  query::Term<V, query::models_of_t<E>, std::optional<V>> t;
  t.fragment += e.to_expr().fragment;
  return t;
}

// ---- operators (found by argument-dependent lookup on query types) ----
namespace query {

template <expression L, class R>
auto operator==(const L& l, const R& r) {
  return compare(l, r, " = ");
}
template <expression L, class R>
auto operator!=(const L& l, const R& r) {
  return compare(l, r, " <> ");
}
template <expression L, class R>
auto operator<(const L& l, const R& r) {
  return compare(l, r, " < ");
}
template <expression L, class R>
auto operator<=(const L& l, const R& r) {
  return compare(l, r, " <= ");
}
template <expression L, class R>
auto operator>(const L& l, const R& r) {
  return compare(l, r, " > ");
}
template <expression L, class R>
auto operator>=(const L& l, const R& r) {
  return compare(l, r, " >= ");
}
template <expression L, expression R>
auto operator&&(const L& l, const R& r) {
  return logical<void>(l, r, " AND ");
}
template <expression L, expression R>
auto operator||(const L& l, const R& r) {
  return logical<void>(l, r, " OR ");
}
template <expression E>
auto operator!(const E& e) {
  static_assert(condition<E>, "pgorm: ! negates conditions only");
  Expr<bool, models_of_t<E>> out;
  out.fragment += "(NOT ";
  out.fragment += e.to_expr().fragment;
  out.fragment += ")";
  return out;
}

}  // namespace query

}  // namespace pgorm
