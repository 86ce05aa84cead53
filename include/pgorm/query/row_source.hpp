// Row sources: tables made in the statement, with named, typed columns.
//   pgorm::derived<"per_user", "user_id", "n">(select(...))
//       (SELECT ...) AS "per_user"("user_id", "n")
//   pgorm::lateral<"latest", "title">(select(...).correlate<User>())
//       LATERAL (SELECT ...) AS "latest"("title")
//   pgorm::unnest<"v", "id", "name">(ids, names)
//       unnest($1::bigint[], $2::text[]) AS "v"("id", "name")
//   pgorm::unnest<"tag", "value">(col<&Post::tags>)
//       unnest("posts"."tags") AS "tag"("value")
// A source's columns are Source::col<"name">, typed by what the source selects; a select reads
// them after .from(source), .join(source, condition), .join(source) (CROSS JOIN) or
// .outer_join(source[, condition]), or whole with pgorm::select_from(source);
// update<T>().from(source) and delete_<T>().using_(source) read them too. A source refers to the
// query's other models only through lateral<> or an unnest of their columns, and the query must
// have those models before it.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "pgorm/errors.hpp"
#include "pgorm/query/call.hpp"
#include "pgorm/query/subquery.hpp"

namespace pgorm {
namespace query {

// A column of a row source: its name and what a result reads it into.
template <fixed_string Name, class Result>
struct source_column {
  static constexpr std::string_view name = Name.view();
  using result_type = Result;
};

// " AS "name"("a", "b")" after a row source's expression.
void append_source_alias(Fragment& out, std::string_view name, const std::string_view* columns,
                         std::size_t count);
// The error for unnest() of arrays of different lengths (PostgreSQL would pad with NULLs).
[[noreturn]] void throw_unnest_lengths(std::string_view source, std::size_t first,
                                       std::size_t other);

template <class Source, fixed_string Column>
struct SourceColumn;

// Outer: the models of the enclosing query the source refers to (lateral<>, unnest of columns).
template <fixed_string Name, class Outer, class... Columns>
struct RowSource {
  static_assert(Name.view().size() > 0 && Name.view().size() <= 63,
                "pgorm: a row source's name is 1 to 63 bytes");
  static_assert(sizeof...(Columns) > 0, "pgorm: a row source has at least one column");
  static constexpr bool is_pgorm_row_source = true;
  static constexpr std::string_view name = Name.view();
  static constexpr std::array<std::string_view, sizeof...(Columns)> column_names{Columns::name...};
  using outer_models = Outer;
  using results = std::tuple<typename Columns::result_type...>;
  // What a row of select_from(source) is read into: the one column's type, or a tuple.
  using row_type =
      std::conditional_t<sizeof...(Columns) == 1, std::tuple_element_t<0, results>, results>;

  template <fixed_string C>
  static consteval std::size_t index_of() {
    for (std::size_t i = 0; i < column_names.size(); ++i)
      if (column_names[i] == C.view()) return i;
    return column_names.size();
  }
  static consteval bool distinct_names() {
    for (std::size_t i = 0; i < column_names.size(); ++i) {
      if (column_names[i].empty() || column_names[i].size() > 63) return false;
      for (std::size_t j = 0; j < i; ++j)
        if (column_names[i] == column_names[j]) return false;
    }
    return true;
  }
  static_assert(distinct_names(),
                "pgorm: a row source's column names are 1 to 63 bytes and differ from each other");

  // Source::col<"name">: a column, for select lists, conditions, joins and ORDER BY.
  template <fixed_string C>
  static constexpr SourceColumn<RowSource, C> col{};

  // The source's SQL with its alias and column names, and its bind values.
  Fragment sql;
};

template <class Source, fixed_string Column>
struct SourceColumn : ExprMethods<SourceColumn<Source, Column>> {
  static constexpr std::size_t index = Source::template index_of<Column>();
  static_assert(index < Source::column_names.size(),
                "pgorm: Source::col<\"name\">: the row source has no column of this name (its "
                "columns are the names given to derived<>, lateral<> or unnest<>)");
  using result_type = std::tuple_element_t<(index < Source::column_names.size() ? index : 0),
                                           typename Source::results>;
  using value_type = typename strip_optional<result_type>::type;
  using models = type_list<Source>;
  using expr_type = Expr<value_type, models, result_type>;
  expr_type to_expr() const {
    expr_type e;
    e.fragment.add_identifier(Source::name);
    e.fragment += ".";
    e.fragment.add_identifier(Column.view());
    return e;
  }
};

// What each column of a select's rows is read into.
template <class Row>
struct row_results {
  using type = std::tuple<Row>;
};
template <class... R>
struct row_results<std::tuple<R...>> {
  using type = std::tuple<R...>;
};

template <fixed_string Name, class Outer, class Results, fixed_string... Cols>
struct make_source;
template <fixed_string Name, class Outer, class... R, fixed_string... Cols>
struct make_source<Name, Outer, std::tuple<R...>, Cols...> {
  using type = RowSource<Name, Outer, source_column<Cols, R>...>;
};

template <class Source>
Source finish_source(Fragment sql) {
  Source s;
  s.sql = std::move(sql);
  append_source_alias(s.sql, Source::name, Source::column_names.data(),
                      Source::column_names.size());
  return s;
}

template <fixed_string Name, bool Lateral, class R, class F, class M, fixed_string... Cols>
auto select_source(const Select<R, F, M>& q) {
  static_assert(!model<R>,
                "pgorm::derived/lateral<Name, columns...>(q): q selects columns or expressions "
                "(select(col<...>, ...)); rows of a model's shape are pgorm::cte or a set "
                "operation");
  static_assert(Lateral || !has_outer_ref<M>::value,
                "pgorm::derived<Name, columns...>(q): q refers to the enclosing query "
                "(correlate<Model>()); make it pgorm::lateral<Name, columns...>(q)");
  using Results = typename row_results<R>::type;
  static_assert(sizeof...(Cols) == std::tuple_size_v<Results>,
                "pgorm::derived/lateral<Name, columns...>(q): name every column of q's select "
                "list, in order");
  if constexpr (!model<R> && sizeof...(Cols) == std::tuple_size_v<Results>) {
    using Source = typename make_source<Name, correlated_t<M>, Results, Cols...>::type;
    Fragment sql;
    if constexpr (Lateral) sql += "LATERAL ";
    sql += render_subquery(q.parts());
    return finish_source<Source>(std::move(sql));
  }
}

// The element an array argument of unnest() gives: V for std::vector<V> (std::optional<V> for
// std::vector<std::optional<V>>, whose NULL elements come back as NULL).
template <class A>
struct unnest_element {
  using type = void;
};
template <class V>
struct unnest_element<std::vector<V>> {
  using type = V;
};
template <>
struct unnest_element<std::vector<std::byte>> {  // bytea, not an array
  using type = void;
};
template <class A>
using unnest_element_t = typename unnest_element<argument_value_t<A>>::type;

template <class A>
void add_unnest_argument(Fragment& f, const A& array) {
  using Array = argument_value_t<A>;
  if constexpr (expression<A>)
    f += array.to_expr().fragment;
  else {
    f.add_param(array);
    f += "::";
    f += type_traits<Array>::sql_type();
  }
}

}  // namespace query

// (SELECT ...) AS "Name"("Cols"...): a select's rows as a table of the statement, its columns named
// in order. The select may be any select of columns and expressions (aggregates, window functions,
// ...), not one that refers to the enclosing query (that is lateral<>).
//   auto counts = pgorm::derived<"counts", "user_id", "n">(
//       select(col<&Todo::user_id>, count()).group_by(col<&Todo::user_id>));
//   using Counts = decltype(counts);
//   db.execute(select(col<&User::email>, Counts::col<"n">)
//                  .join(counts, Counts::col<"user_id"> == col<&User::id>));
template <fixed_string Name, fixed_string... Cols, class R, class F, class M>
auto derived(const query::Select<R, F, M>& q) {
  return query::select_source<Name, false, R, F, M, Cols...>(q);
}

// LATERAL (SELECT ...) AS "Name"("Cols"...): a select run for each row of the query's models before
// it, which it names with correlate<Model>() (the latest three todos of each user).
template <fixed_string Name, fixed_string... Cols, class R, class F, class M>
auto lateral(const query::Select<R, F, M>& q) {
  return query::select_source<Name, true, R, F, M, Cols...>(q);
}

// unnest(a, b, ...) AS "Name"("Cols"...): the elements of arrays as rows, one column per array.
// Arrays given as std::vector values are one bind parameter each (with their SQL type stated) and
// must have the same length (InterfaceError otherwise: PostgreSQL would pad the shorter with
// NULLs); array columns or expressions are read per row of the query's models before the source.
//   auto v = pgorm::unnest<"v", "id", "title">(ids, titles);
//   db.execute(update<Todo>().from(v).set(col<&Todo::title>, decltype(v)::col<"title">)
//                  .where(col<&Todo::id> == decltype(v)::col<"id">));
template <fixed_string Name, fixed_string... Cols, class... Arrays>
auto unnest(const Arrays&... arrays) {
  static_assert(sizeof...(Arrays) > 0 && sizeof...(Cols) == sizeof...(Arrays),
                "pgorm::unnest<Name, columns...>(arrays...): one column name per array");
  static_assert((!std::is_void_v<query::unnest_element_t<Arrays>> && ...),
                "pgorm::unnest(): takes std::vector values or array expressions");
  if constexpr (sizeof...(Cols) == sizeof...(Arrays) &&
                (!std::is_void_v<query::unnest_element_t<Arrays>> && ...)) {
    using Source =
        typename query::make_source<Name, query::arguments_models_t<Arrays...>,
                                    std::tuple<query::unnest_element_t<Arrays>...>, Cols...>::type;
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t length = kNone;
    auto check_length = [&](const auto& array) {
      if constexpr (!query::expression<std::remove_cvref_t<decltype(array)>>) {
        if (length == kNone)
          length = array.size();
        else if (array.size() != length)
          query::throw_unnest_lengths(Source::name, length, array.size());
      }
    };
    (check_length(arrays), ...);
    query::Fragment sql;
    sql += "unnest(";
    bool first = true;
    ((sql += first ? "" : ", ", first = false, query::add_unnest_argument(sql, arrays)), ...);
    sql += ")";
    return query::finish_source<Source>(std::move(sql));
  }
}

// SELECT every column of a row source: rows are its one column's type or a std::tuple.
//   db.execute(pgorm::select_from(counts).where(Counts::col<"n"> > 2))
template <query::row_source S>
auto select_from(const S& source) {
  static_assert(std::is_same_v<typename S::outer_models, query::type_list<>>,
                "pgorm::select_from(source): the source refers to other models (lateral<> or an "
                "unnest of columns); join it to a select over them");
  query::SelectParts parts;
  parts.from_source = source.sql;
  for (std::size_t i = 0; i < S::column_names.size(); ++i) {
    if (i) parts.projection += ", ";
    parts.projection.add_identifier(S::name);
    parts.projection += ".";
    parts.projection.add_identifier(S::column_names[i]);
  }
  return query::Select<typename S::row_type, S, query::type_list<S>>(std::move(parts));
}

}  // namespace pgorm
