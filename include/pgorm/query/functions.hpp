// Typed SQL functions and operators on expressions: arithmetic (+ - * / %), concat, coalesce,
// nullif, cast<T>, case_when, greatest/least, lower/upper/length, sql_now, date_trunc, extract, and
// func<R>("name", ...) for any other function. Results carry their C++ type, and std::optional
// where the SQL result may be NULL:
//   select(col<&Item::name>, col<&Item::price> * col<&Item::quantity>,
//          coalesce(col<&Item::note>, "none"))
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "pgorm/errors.hpp"
#include "pgorm/query/call.hpp"
#include "pgorm/types/numeric.hpp"
#include "pgorm/types/timestamp.hpp"

namespace pgorm {
namespace query {

// Numbers + - * / work on: integers, floating point and numeric (Decimal), not bool.
template <class V>
inline constexpr bool numeric_value =
    (std::is_arithmetic_v<V> && !std::is_same_v<V, bool>) || std::is_same_v<V, Decimal>;

// The value type of a binary operation: the expression side's (the left one if both are).
template <class L, class R>
using operand_value_t = std::conditional_t<expression<L>, argument_value_t<L>, argument_value_t<R>>;

template <class L, class R>
auto arithmetic(const L& left, const R& right, std::string_view op) {
  using V = operand_value_t<L, R>;
  static_assert(numeric_value<V>,
                "pgorm: + - * / % apply to numeric expressions; join text with "
                "pgorm::concat(a, b, ...)");
  constexpr bool both = expression<L> && expression<R>;
  if constexpr (both)
    static_assert(std::is_same_v<V, value_of_t<R>>,
                  "pgorm: the two sides of this arithmetic have different C++ types; convert one "
                  "with pgorm::cast<T>(e)");
  else
    static_assert(argument_matches<V, L>() && argument_matches<V, R>(),
                  "pgorm: this value's C++ type does not match the expression's type");
  refuse_argument_narrowing<V, L>();
  refuse_argument_narrowing<V, R>();
  using Models = arguments_models_t<L, R>;
  Term<V, Models, result_t<V, may_be_null<L>() || may_be_null<R>()>> out;
  if constexpr (numeric_value<V> && argument_fits<V, L>() && argument_fits<V, R>()) {
    out.fragment += "(";
    add_argument<V>(out.fragment, left, op);
    out.fragment += op;
    add_argument<V>(out.fragment, right, op);
    out.fragment += ")";
  }
  return out;
}

template <class L, class R>
concept arithmetic_operands = expression<L> || expression<R>;

template <class L, class R>
requires arithmetic_operands<L, R>
auto operator+(const L& l, const R& r) {
  return arithmetic(l, r, " + ");
}
template <class L, class R>
requires arithmetic_operands<L, R>
auto operator-(const L& l, const R& r) {
  return arithmetic(l, r, " - ");
}
template <class L, class R>
requires arithmetic_operands<L, R>
auto operator*(const L& l, const R& r) {
  return arithmetic(l, r, " * ");
}
// Integer division truncates toward zero, as in C++; division by zero is a DataError.
template <class L, class R>
requires arithmetic_operands<L, R>
auto operator/(const L& l, const R& r) {
  return arithmetic(l, r, " / ");
}
template <class L, class R>
requires arithmetic_operands<L, R>
auto operator%(const L& l, const R& r) {
  static_assert(std::is_integral_v<operand_value_t<L, R>>,
                "pgorm: % applies to integer expressions only");
  return arithmetic(l, r, " % ");
}

// A function-call argument list: "name(a, b, ...)" with each argument of type V.
template <class V, class... Args>
void add_arguments(Fragment& f, std::string_view name, const Args&... args) {
  f += name;
  f += "(";
  bool first = true;
  ((f += first ? "" : ", ", first = false, add_argument<V>(f, args, name)), ...);
  f += ")";
}

// True when `name` is an identifier or schema.identifier of ASCII letters, digits, _ and $ (not
// starting with a digit or $): the names func() accepts.
bool is_function_name(std::string_view name) noexcept;
[[noreturn]] void throw_bad_function_name(std::string_view name);

// The parts of a date or time extract() returns and date_trunc() truncates to.
enum class DatePart {
  microseconds,
  milliseconds,
  second,
  minute,
  hour,
  day,
  week,
  month,
  quarter,
  year,
  decade,
  century,
  millennium,
  dow,      // day of the week, Sunday = 0 (extract only)
  isodow,   // Monday = 1 ... Sunday = 7 (extract only)
  doy,      // day of the year (extract only)
  epoch,    // seconds since 1970-01-01 00:00 UTC (extract only)
  isoyear,  // ISO 8601 week-numbering year (extract only)
};
std::string_view date_part_name(DatePart part) noexcept;

template <class V>
inline constexpr bool timestamp_value =
    std::is_same_v<V, Timestamp> || std::is_same_v<V, LocalTimestamp>;

}  // namespace query

using query::DatePart;

// Text joined: concat(a, b, ...), each a text expression or a string value. NULL arguments count
// as empty text (PostgreSQL's concat), so the result is never NULL. (+ is for numbers only.)
template <class... Args>
auto concat(const Args&... args) {
  static_assert(sizeof...(Args) >= 2, "pgorm::concat() joins two or more arguments");
  static_assert((query::argument_matches<std::string, Args>() && ...),
                "pgorm::concat() joins text: convert other types with pgorm::cast<std::string>(e)");
  query::Term<std::string, query::arguments_models_t<Args...>, std::string> out;
  query::add_arguments<std::string>(out.fragment, "concat", args...);
  return out;
}

// The first argument that is not NULL. The result is std::optional unless some argument cannot be
// NULL (a C++ value, or a NOT NULL expression): coalesce(col<&Todo::description>, "").
template <query::expression E, class... Fallbacks>
auto coalesce(const E& e, const Fallbacks&... fallbacks) {
  using V = query::value_of_t<E>;
  static_assert(sizeof...(Fallbacks) > 0, "pgorm::coalesce() takes at least one fallback");
  static_assert((query::argument_matches<V, Fallbacks>() && ...),
                "pgorm::coalesce(): every argument must have the first one's C++ type");
  (query::refuse_argument_narrowing<V, Fallbacks>(), ...);
  constexpr bool nullable = query::may_be_null<E>() && (query::may_be_null<Fallbacks>() && ...);
  query::Term<V, query::arguments_models_t<E, Fallbacks...>, query::result_t<V, nullable>> out;
  query::add_arguments<V>(out.fragment, "coalesce", e, fallbacks...);
  return out;
}

// NULL when a equals b, else a: nullif(col<&Todo::title>, "") reads empty titles as NULL.
template <query::expression E, class B>
auto nullif(const E& a, const B& b) {
  using V = query::value_of_t<E>;
  static_assert(query::argument_matches<V, B>(),
                "pgorm::nullif(): both arguments must have the same C++ type");
  query::refuse_argument_narrowing<V, B>();
  query::Term<V, query::arguments_models_t<E, B>, std::optional<V>> out;
  query::add_arguments<V>(out.fragment, "nullif", a, b);
  return out;
}

// CAST(e AS <T's PostgreSQL type>), the type pgorm maps T to (std::int64_t: bigint,
// std::string: text, ...). NULL stays NULL.
template <class T, query::expression E>
auto cast(const E& e) {
  static_assert(mapped_type<T>,
                "pgorm::cast<T>(): T must be a C++ type pgorm maps to a PostgreSQL type (not "
                "std::optional: nullability follows the argument)");
  query::Term<T, query::models_of_t<E>, query::result_t<T, query::may_be_null<E>()>> out;
  out.fragment += "CAST(";
  out.fragment += e.to_expr().fragment;
  out.fragment += " AS ";
  if constexpr (mapped_type<T>) out.fragment += type_traits<T>::sql_type();
  out.fragment += ")";
  return out;
}

namespace query {

// CASE WHEN ... THEN ... [WHEN ...] END, before else_(). Without else_() rows matching no branch
// give NULL, so the result is std::optional.
template <class V, class ModelList, bool Nullable>
struct CaseWhen : ExprMethods<CaseWhen<V, ModelList, Nullable>> {
  Fragment branches;  // "CASE WHEN c THEN v ..."

  template <class C, class A>
  auto when(const C& cond, const A& value) const {
    CaseWhen<V, concat_t<ModelList, arguments_models_t<C, A>>, Nullable || may_be_null<A>()> out{
        {}, branches};
    add_branch(out.branches, cond, value);
    return out;
  }
  template <class A>
  auto else_(const A& value) const {
    check_branch<A>();
    Term<V, concat_t<ModelList, arguments_models_t<A>>, result_t<V, Nullable || may_be_null<A>()>>
        out;
    out.fragment += branches;
    out.fragment += " ELSE ";
    add_argument<V>(out.fragment, value, "CASE");
    out.fragment += " END";
    return out;
  }
  Expr<V, ModelList, std::optional<V>> to_expr() const {
    Expr<V, ModelList, std::optional<V>> e;
    e.fragment += branches;
    e.fragment += " END";
    return e;
  }

  template <class A>
  static constexpr void check_branch() {
    static_assert(argument_matches<V, A>(),
                  "pgorm: case_when(): every branch (and else_) must have the same C++ type");
    refuse_argument_narrowing<V, A>();
  }
  template <class C, class A>
  static void add_branch(Fragment& f, const C& cond, const A& value) {
    static_assert(condition<C>, "pgorm: case_when()/when() take a condition first");
    check_branch<A>();
    f += " WHEN ";
    f += cond.to_expr().fragment;
    f += " THEN ";
    add_argument<V>(f, value, "CASE");
  }
};

}  // namespace query

// CASE WHEN cond THEN value ...: case_when(col<&Item::quantity> > 10, "many")
//     .when(col<&Item::quantity> > 0, "some").else_("none")
// Every branch has the first one's C++ type; values are bind parameters.
template <class C, class A>
auto case_when(const C& cond, const A& value) {
  using V = query::argument_value_t<A>;
  query::CaseWhen<V, query::arguments_models_t<C, A>, query::may_be_null<A>()> out;
  out.branches += "CASE";
  out.add_branch(out.branches, cond, value);
  return out;
}

// Any SQL function by name, with result type R (std::optional<V> if it may return NULL):
//   func<std::string>("initcap", col<&User::name>), func<double>("random")
// Arguments are expressions (rendered in place) or values (bind parameters with their type
// stated). The name must be an identifier or schema.identifier; anything else throws
// ProgrammingError, so a name is never a way into the SQL text.
template <class R, class... Args>
auto func(std::string_view name, const Args&... args) {
  using V = unwrap_optional_t<R>;
  static_assert(mapped_type<V>,
                "pgorm::func<R>(): R must be a C++ type pgorm maps to a PostgreSQL type (or "
                "std::optional of one)");
  static_assert(((query::expression<Args> || column_type<query::argument_value_t<Args>>)&&...),
                "pgorm::func(): an argument is neither an expression nor a value pgorm can bind");
  if (!query::is_function_name(name)) query::throw_bad_function_name(name);
  query::Term<V, query::arguments_models_t<Args...>, R> out;
  out.fragment += name;
  out.fragment += "(";
  bool first = true;
  [[maybe_unused]] auto each = [&](const auto& arg) {
    if (!first) out.fragment += ", ";
    first = false;
    using A = std::remove_cvref_t<decltype(arg)>;
    query::add_argument<query::argument_value_t<A>>(out.fragment, arg, name);
  };
  (each(args), ...);
  out.fragment += ")";
  return out;
}

namespace query {
template <class E>
auto text_function(std::string_view name, const E& e) {
  static_assert(expression<E> && std::is_same_v<value_of_t<E>, std::string>,
                "pgorm::lower/upper/length apply to text expressions only");
  Term<std::string, models_of_t<E>, result_t<std::string, may_be_null<E>()>> out;
  add_arguments<std::string>(out.fragment, name, e);
  return out;
}
}  // namespace query

template <query::expression E>
auto lower(const E& e) {
  return query::text_function("lower", e);
}
template <query::expression E>
auto upper(const E& e) {
  return query::text_function("upper", e);
}
// The number of characters.
template <query::expression E>
auto length(const E& e) {
  auto text = query::text_function("length", e);
  query::Term<std::int32_t, query::models_of_t<E>,
              query::result_t<std::int32_t, query::may_be_null<E>()>>
      out;
  out.fragment = std::move(text.fragment);
  return out;
}

// now() on the server: the transaction's start time. (pgorm::now() is the client's clock.)
inline query::Term<Timestamp, query::type_list<>> sql_now() {
  query::Term<Timestamp, query::type_list<>> out;
  out.fragment += "now()";
  return out;
}

// The timestamp truncated to the start of its day, month, ...: date_trunc(DatePart::day, col).
template <query::expression E>
auto date_trunc(DatePart part, const E& e) {
  using V = query::value_of_t<E>;
  static_assert(query::timestamp_value<V>,
                "pgorm::date_trunc applies to Timestamp and LocalTimestamp expressions");
  query::Term<V, query::models_of_t<E>, query::result_t<V, query::may_be_null<E>()>> out;
  out.fragment += "date_trunc('";
  out.fragment += query::date_part_name(part);  // a name from the enum, never user text
  out.fragment += "', ";
  out.fragment += e.to_expr().fragment;
  out.fragment += ")";
  return out;
}

// EXTRACT(part FROM e): numeric (Decimal; .to_double()), as PostgreSQL 14+ returns it.
template <query::expression E>
auto extract(DatePart part, const E& e) {
  using V = query::value_of_t<E>;
  static_assert(query::timestamp_value<V> || std::is_same_v<V, Date>,
                "pgorm::extract applies to Timestamp, LocalTimestamp and Date expressions");
  query::Term<Decimal, query::models_of_t<E>, query::result_t<Decimal, query::may_be_null<E>()>>
      out;
  out.fragment += "EXTRACT(";
  out.fragment += query::date_part_name(part);
  out.fragment += " FROM ";
  out.fragment += e.to_expr().fragment;
  out.fragment += ")";
  return out;
}

namespace query {
template <class E, class... Rest>
auto extremum(std::string_view name, const E& e, const Rest&... rest) {
  using V = value_of_t<E>;
  static_assert(sizeof...(Rest) > 0, "pgorm::greatest/least take two or more arguments");
  static_assert((argument_matches<V, Rest>() && ...),
                "pgorm::greatest/least: every argument must have the first one's C++ type");
  (refuse_argument_narrowing<V, Rest>(), ...);
  // NULL arguments are ignored: the result is NULL only when every argument is.
  constexpr bool nullable = may_be_null<E>() && (may_be_null<Rest>() && ...);
  Term<V, arguments_models_t<E, Rest...>, result_t<V, nullable>> out;
  add_arguments<V>(out.fragment, name, e, rest...);
  return out;
}
}  // namespace query

// The largest / smallest argument, ignoring NULLs: greatest(col<&Item::price>, 10).
template <query::expression E, class... Rest>
auto greatest(const E& e, const Rest&... rest) {
  return query::extremum("greatest", e, rest...);
}
template <query::expression E, class... Rest>
auto least(const E& e, const Rest&... rest) {
  return query::extremum("least", e, rest...);
}

}  // namespace pgorm
