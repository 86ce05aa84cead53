// pgorm::select: typed SELECT statements over models, columns and aggregates.
//   select<Todo>().where(col<&Todo::status> == TodoStatus::pending)
//                 .order_by(col<&Todo::created_at>.desc()).offset(20).limit(10)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "pgorm/query/expression.hpp"
#include "pgorm/query/parts.hpp"
#include "pgorm/relations/load_cursor.hpp"
#include "pgorm/relations/relationship.hpp"
#include "pgorm/sql/model_sql.hpp"

namespace pgorm {
class Result;
namespace query {

template <class List>
struct first_model {
  using type = void;
};
template <class M, class... Ms>
struct first_model<type_list<M, Ms...>> {
  using type = M;
};

// In a subquery's model list: Model belongs to the outer query (select<...>().correlate<Model>()).
template <class M>
struct outer_ref {};
template <class T>
struct is_outer_ref : std::false_type {};
template <class M>
struct is_outer_ref<outer_ref<M>> : std::true_type {};
template <class List>
struct has_outer_ref : std::false_type {};
template <class... Ms>
struct has_outer_ref<type_list<Ms...>> : std::bool_constant<(is_outer_ref<Ms>::value || ...)> {};

// In a select's model list: the select list reads columns of Model, so the statement must have
// Model in its FROM or JOINs by the time it is run or nested (checked by parts()/statement()).
template <class M>
struct needs_ref {};
template <class List>
struct needs_refs;
template <class... Ms>
struct needs_refs<type_list<Ms...>> {
  using type = type_list<needs_ref<Ms>...>;
};
template <class List, class All>
struct needs_met : std::true_type {};
template <class X, class... Xs, class All>
struct needs_met<type_list<X, Xs...>, All> : needs_met<type_list<Xs...>, All> {};
template <class M, class... Xs, class All>
struct needs_met<type_list<needs_ref<M>, Xs...>, All>
    : std::bool_constant<list_contains<M, All>::value && needs_met<type_list<Xs...>, All>::value> {
};

// A model under another name (pgorm::aliased<User, "manager">, pgorm/query/subquery.hpp).
template <class T>
concept alias = requires {
  T::is_pgorm_alias;
  typename T::model_type;
  T::name;
};
// What join<T>(condition) takes: a model or an alias of one.
template <class T>
concept joinable = model<T> || alias<T>;

// Row: what a result row is read into (a model, a std::tuple, or one value type).
// From: the model in FROM (void until .from<Model>() for selects of aggregates only).
// Models: the models the statement may refer to (FROM and JOINs).
template <class Row, class From, class Models>
class Select {
 public:
  using row_type = Row;
  using from_model = From;
  using models = Models;

  // Relationship loaders run after the statement by either session: selectin (a cursor of one
  // more query per level) and the readers of joined loading (columns of the same statement,
  // tracked in the session's identity map).
  using Loader =
      std::function<std::unique_ptr<detail::LoadCursor>(const std::vector<std::shared_ptr<Row>>&)>;
  using EagerReader = std::function<void(const Result&, const std::vector<std::shared_ptr<Row>>&,
                                         detail::WorkList&)>;

  explicit Select(SelectParts parts, std::vector<Loader> loaders = {},
                  std::vector<EagerReader> eager = {})
      : parts_(std::move(parts)), loaders_(std::move(loaders)), eager_(std::move(eager)) {}

  // How to load relationships of the selected objects: pgorm::selectin(&User::todos),
  // pgorm::joined(&Todo::user). Nothing is loaded otherwise.
  template <class... Options>
  Select options(const Options&... opts) const {
    static_assert(model<Row>, "pgorm: options() load relationships of select<Model>() rows");
    Select out(*this);
    (opts.template apply<Row>(out.parts_, out.loaders_, out.eager_), ...);
    return out;
  }
  const std::vector<Loader>& loaders() const noexcept { return loaders_; }
  const std::vector<EagerReader>& eager_readers() const noexcept { return eager_; }

  // WHERE condition; several where() calls are joined with AND.
  template <class E>
  Select where(const E& condition_expr) const& {
    return Select(*this).where(condition_expr);
  }
  template <class E>
  Select where(const E& condition_expr) && {
    check_condition<E>();
    parts_.add_where(condition_expr.to_expr().fragment);
    return std::move(*this);
  }

  // JOIN along the one foreign key between T and a model already in the query.
  template <model T>
  Select<Row, From, concat_t<Models, type_list<T>>> join() const {
    return add_join<T>(false, nullptr);
  }
  template <joinable T, class E>
  Select<Row, From, concat_t<Models, type_list<T>>> join(const E& on) const {
    check_join_condition<T, E>();
    return add_join<T>(false, &on.to_expr().fragment);
  }
  // JOIN along a relationship: select<Todo>().join(&Todo::user) (defined in relations/loading.hpp).
  template <class M, class O>
    requires relation_traits<M>::is_relation
  Select<Row, From, concat_t<Models, type_list<typename relation_traits<M>::target>>> join(
      M O::*relation) const;

  template <model T>
  Select<Row, From, concat_t<Models, type_list<T>>> outer_join() const {
    return add_join<T>(true, nullptr);
  }
  template <joinable T, class E>
  Select<Row, From, concat_t<Models, type_list<T>>> outer_join(const E& on) const {
    check_join_condition<T, E>();
    return add_join<T>(true, &on.to_expr().fragment);
  }
  // RIGHT OUTER JOIN: every row of T stays, the query's models' columns are NULL without a match
  // (read them with nullable()). FULL OUTER JOIN: the rows of both sides stay.
  template <joinable T, class E>
  Select<Row, From, concat_t<Models, type_list<T>>> right_join(const E& on) const {
    check_join_condition<T, E>();
    return add_join<T>(false, &on.to_expr().fragment, true);
  }
  template <joinable T, class E>
  Select<Row, From, concat_t<Models, type_list<T>>> full_join(const E& on) const {
    check_join_condition<T, E>();
    return add_join<T>(true, &on.to_expr().fragment, true);
  }

  // A subquery's use of models of the outer query (a correlated subquery): its conditions may
  // use their columns, and the expression made of it (exists(), in(), scalar(), ...) carries them,
  // so the outer query must have them in its FROM or JOINs.
  //   exists(select<Todo>().correlate<User>().where(col<&Todo::user_id> == col<&User::id>))
  // Such a select runs only inside another one. A row source of the outer query (pgorm::derived,
  // unnest; pgorm/query/row_source.hpp) is named the same way: correlate<decltype(source)>().
  template <class... Ms>
    requires((joinable<Ms> || row_source<Ms>) && ...)
  Select<Row, From, concat_t<Models, type_list<Ms..., outer_ref<Ms>...>>> correlate() const {
    static_assert(sizeof...(Ms) > 0, "pgorm: correlate<Model...>() names at least one model");
    static_assert((!std::is_same_v<Ms, From> && ...),
                  "pgorm: correlate<Model>(): the subquery's own FROM model would hide the outer "
                  "one; name one of the two with pgorm::aliased");
    return Select<Row, From, concat_t<Models, type_list<Ms..., outer_ref<Ms>...>>>(parts_, loaders_,
                                                                                   eager_);
  }

  // FROM for selects of aggregates or raw expressions: select(count()).from<Todo>().
  template <model T>
  Select<Row, T, concat_t<Models, type_list<T>>> from() const {
    static_assert(std::is_void_v<From>, "pgorm: this select already has a FROM model");
    SelectParts p = parts_;
    p.from = &table_info<T>();
    return Select<Row, T, concat_t<Models, type_list<T>>>(std::move(p), loaders_, eager_);
  }

  // FROM a row source (pgorm::derived, pgorm::unnest): select(Counts::col<"n">).from(counts).
  template <row_source S>
  Select<Row, S, concat_t<Models, type_list<S>>> from(const S& source) const {
    static_assert(std::is_void_v<From>, "pgorm: this select already has a FROM model");
    static_assert(std::is_same_v<typename S::outer_models, type_list<>>,
                  "pgorm: from(source): the source refers to other models (lateral<> or an "
                  "unnest of columns); join it to a select over them");
    SelectParts p = parts_;
    p.from_source = source.sql;
    return Select<Row, S, concat_t<Models, type_list<S>>>(std::move(p), loaders_, eager_);
  }
  // JOIN a row source ON a condition; without one, CROSS JOIN (every pair of rows: an unnest of
  // a column or a lateral select pairs each row with its own rows).
  template <row_source S, class E>
  Select<Row, From, concat_t<Models, type_list<S>>> join(const S& source, const E& on) const {
    check_join_condition<S, E>();
    return add_source(source, false, &on.to_expr().fragment);
  }
  template <row_source S>
  Select<Row, From, concat_t<Models, type_list<S>>> join(const S& source) const {
    return add_source(source, false, nullptr);
  }
  // LEFT OUTER JOIN a row source ON a condition (ON true without one): the query's rows stay
  // without a match, the source's columns NULL (read them with nullable()).
  template <row_source S, class E>
  Select<Row, From, concat_t<Models, type_list<S>>> outer_join(const S& source, const E& on) const {
    check_join_condition<S, E>();
    return add_source(source, true, &on.to_expr().fragment);
  }
  template <row_source S>
  Select<Row, From, concat_t<Models, type_list<S>>> outer_join(const S& source) const {
    return add_source(source, true, nullptr);
  }

  // ORDER BY: columns (ascending), col.asc(), col.desc(), .nulls_last() ...
  // (On a temporary, as in a chain of calls, these move the query instead of copying it, and
  // return a new one, so that a reference bound to the result never outlives it.)
  template <class... Terms>
  Select order_by(const Terms&... terms) const& {
    return Select(*this).order_by(terms...);
  }
  template <class... Terms>
  Select order_by(const Terms&... terms) && {
    (add_order(terms), ...);
    return std::move(*this);
  }
  template <class... Es>
  Select group_by(const Es&... exprs) const {
    static_assert((expression<Es> && ...), "pgorm: group_by() takes columns or expressions");
    static_assert((list_subset<models_of_t<Es>, Models>::value && ...),
                  "pgorm: group_by() uses a model that is not in the query's FROM or JOINs");
    Select out(*this);
    (out.parts_.group_by.push_back(exprs.to_expr().fragment), ...);
    return out;
  }
  template <class E>
  Select having(const E& condition_expr) const {
    check_condition<E>();
    Select out(*this);
    if (!out.parts_.having.empty()) out.parts_.having += " AND ";
    out.parts_.having += condition_expr.to_expr().fragment;
    return out;
  }
  // WITH queries the statement refers to (pgorm::cte / pgorm::recursive_cte, subquery.hpp):
  // select_from<Tree>().with(tree), or join<Tree>(condition) in any select.
  template <class... Ctes>
  requires(std::is_same_v<Ctes, CtePart>&&...) Select with(const Ctes&... ctes)
  const {
    Select out(*this);
    (out.parts_.with.push_back(ctes), ...);
    return out;
  }
  Select distinct() const {
    Select out(*this);
    out.parts_.distinct = true;
    return out;
  }
  // DISTINCT ON (exprs): one row per distinct value of exprs, the first in ORDER BY order.
  // PostgreSQL requires ORDER BY to start with the same expressions:
  //   .distinct_on(col<&Todo::user_id>).order_by(col<&Todo::user_id>, col<&Todo::id>.desc())
  template <class... Es>
  Select distinct_on(const Es&... exprs) const {
    static_assert(sizeof...(Es) > 0 && (expression<Es> && ...),
                  "pgorm: distinct_on() takes columns or expressions");
    static_assert((list_subset<models_of_t<Es>, Models>::value && ...),
                  "pgorm: distinct_on() uses a model that is not in the query's FROM or JOINs");
    Select out(*this);
    (out.parts_.distinct_on.push_back(exprs.to_expr().fragment), ...);
    return out;
  }
  Select limit(std::int64_t n) const& { return Select(*this).limit(n); }
  Select limit(std::int64_t n) && {
    parts_.limit = n;
    return std::move(*this);
  }
  Select offset(std::int64_t n) const& { return Select(*this).offset(n); }
  Select offset(std::int64_t n) && {
    parts_.offset = n;
    return std::move(*this);
  }
  // Row locks: FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE, each waiting for rows
  // other transactions hold (LockWait::wait), failing at once (nowait: LockNotAvailable) or
  // skipping them (skip_locked: queue workers taking disjoint jobs).
  Select for_update(LockWait wait = LockWait::wait) const { return locked(LockMode::update, wait); }
  Select for_no_key_update(LockWait wait = LockWait::wait) const {
    return locked(LockMode::no_key_update, wait);
  }
  Select for_share(LockWait wait = LockWait::wait) const { return locked(LockMode::share, wait); }
  Select for_key_share(LockWait wait = LockWait::wait) const {
    return locked(LockMode::key_share, wait);
  }
  // The same with the strength and wait in one LockMode value.
  Select for_update(LockMode mode) const {
    Select out(*this);
    out.parts_.lock = mode;
    return out;
  }
  // Locks only the rows of these models' tables (FOR UPDATE OF "todos"): in a join, the other
  // tables' rows stay unlocked. After for_update() and the like.
  template <class... Ms>
  Select of() const {
    static_assert(sizeof...(Ms) > 0, "pgorm: of<Model...>() names at least one model");
    static_assert((model<Ms> && ...),
                  "pgorm: of<Model>() takes models (the rows of their tables are locked); an "
                  "alias, WITH query or row source cannot be named");
    static_assert(
        list_subset<type_list<Ms...>, Models>::value,
        "pgorm: of<Model>() takes models of this select (its FROM model or a joined one)");
    Select out(*this);
    if (out.parts_.lock == LockMode::none) {
      ErrorInfo info;
      info.message = "of<Model>() needs a row lock first: for_update(), for_share(), ...";
      throw InterfaceError(std::move(info));
    }
    (out.parts_.lock_of.push_back(&table_info<Ms>()), ...);
    return out;
  }
  Select for_share(LockMode mode) const {
    if (mode != LockMode::share && mode != LockMode::share_nowait &&
        mode != LockMode::share_skip_locked && mode != LockMode::key_share &&
        mode != LockMode::key_share_nowait && mode != LockMode::key_share_skip_locked) {
      ErrorInfo info;
      info.message = "for_share() takes a LockMode of the share or key_share kind";
      throw InterfaceError(std::move(info));
    }
    return for_update(mode);
  }
  // Includes soft-deleted rows of SoftDelete models (they are left out by default).
  Select with_deleted() const {
    Select out(*this);
    out.parts_.with_deleted = true;
    return out;
  }

  // Keyset pagination: rows after `last` in ascending order of `column` (which must be unique,
  // or a tuple of columns ending with a unique one), ordered by it.
  //   select<Todo>().after(col<&Todo::id>, last_id).limit(20)
  template <auto M, class U>
  Select after(Column<M> column, const U& last) const {
    return seek(column, last, " > ", false);
  }
  // The page before `last` in descending order.
  template <auto M, class U>
  Select before(Column<M> column, const U& last) const {
    return seek(column, last, " < ", true);
  }
  template <auto M1, auto M2, class U1, class U2>
  Select after(std::tuple<Column<M1>, Column<M2>> columns, const std::tuple<U1, U2>& last) const {
    return seek2(columns, last, " > ", false);
  }
  template <auto M1, auto M2, class U1, class U2>
  Select before(std::tuple<Column<M1>, Column<M2>> columns, const std::tuple<U1, U2>& last) const {
    return seek2(columns, last, " < ", true);
  }

  Statement statement() const {
    check_not_correlated();
    check_select_list();
    return finish(render_select(parts_));
  }
  Statement count_statement() const {
    check_not_correlated();
    check_select_list();
    return finish(render_count(parts_));
  }
  Statement exists_statement() const {
    check_not_correlated();
    check_select_list();
    return finish(render_exists(parts_));
  }
  // The SQL and its parameters, for debugging.
  std::string to_sql() const { return statement().to_string(); }
  // The statement tree, for nesting the select in another statement.
  const SelectParts& parts() const noexcept {
    check_select_list();
    return parts_;
  }

 private:
  Select locked(LockMode strength, LockWait wait) const {
    Select out(*this);
    out.parts_.lock = static_cast<LockMode>(static_cast<int>(strength) + static_cast<int>(wait));
    return out;
  }
  template <class E>
  static constexpr void check_condition() {
    static_assert(condition<E>, "pgorm: where()/having() take a condition (a boolean expression)");
    static_assert(list_subset<models_of_t<E>, Models>::value,
                  "pgorm: the condition uses a column of a model that is not in the query's FROM "
                  "or JOINs; add .join<Model>() (or, in a subquery, .correlate<Model>())");
  }
  template <class T, class E>
  static constexpr void check_join_condition() {
    static_assert(condition<E>, "pgorm: a join condition must be a boolean expression");
    static_assert(list_subset<models_of_t<E>, concat_t<Models, type_list<T>>>::value,
                  "pgorm: the join condition uses a model that is not in the query");
  }
  static constexpr void check_select_list() {
    static_assert(needs_met<Models, Models>::value,
                  "pgorm: the select list uses a column of a model that is not in the query's "
                  "FROM or JOINs; add .join<Model>() (or .from(...), or in a subquery "
                  ".correlate<Model>())");
  }
  static constexpr void check_not_correlated() {
    static_assert(!has_outer_ref<Models>::value,
                  "pgorm: a select with correlate<Model>() runs only as a subquery of a query over "
                  "that model");
  }
  template <joinable T>
  Select<Row, From, concat_t<Models, type_list<T>>> add_join(bool outer, const Fragment* on,
                                                             bool keeps_joined = false) const {
    static_assert(!std::is_void_v<From>, "pgorm: join() needs a FROM model first");
    SelectParts p = parts_;
    JoinPart j;
    j.outer = outer;
    j.keeps_joined = keeps_joined;
    if constexpr (alias<T>) {
      j.table = &table_info<typename T::model_type>();
      j.alias = std::string(T::name);
      j.on = *on;
      j.cte = requires {
        T::is_pgorm_cte;
      };
    } else {
      j.table = &table_info<T>();
      j.on = on ? *on : p.foreign_key_join(*j.table);
    }
    p.joins.push_back(std::move(j));
    return Select<Row, From, concat_t<Models, type_list<T>>>(std::move(p), loaders_, eager_);
  }
  template <row_source S>
  Select<Row, From, concat_t<Models, type_list<S>>> add_source(const S& source, bool outer,
                                                               const Fragment* on) const {
    static_assert(!std::is_void_v<From>, "pgorm: join() needs a FROM model first");
    static_assert(list_subset<typename S::outer_models, Models>::value,
                  "pgorm: the row source refers to a model (lateral<> or an unnest of its "
                  "columns) that is not in the query before it");
    SelectParts p = parts_;
    JoinPart j;
    j.outer = outer;
    j.source = source.sql;
    if (on) j.on = *on;
    p.joins.push_back(std::move(j));
    return Select<Row, From, concat_t<Models, type_list<S>>>(std::move(p), loaders_, eager_);
  }
  template <class Term>
  void add_order(const Term& term) {
    if constexpr (expression<Term>) {
      static_assert(list_subset<models_of_t<Term>, Models>::value,
                    "pgorm: order_by() uses a model that is not in the query's FROM or JOINs");
      parts_.order_by.push_back(term.to_expr().fragment);
    } else {
      static_assert(list_subset<typename Term::models, Models>::value,
                    "pgorm: order_by() uses a model that is not in the query's FROM or JOINs");
      parts_.order_by.push_back(term.fragment);
    }
  }
  template <auto M, class U>
  Select seek(Column<M> column, const U& last, std::string_view op, bool descending) const {
    static_assert(list_subset<models_of_t<Column<M>>, Models>::value,
                  "pgorm: after()/before() use a column of a model that is not in the query");
    Select out = where(compare(column, last, op));
    out.parts_.order_by.clear();
    out.add_order(descending ? column.desc() : column.asc());
    return out;
  }
  template <auto M1, auto M2, class U1, class U2>
  Select seek2(std::tuple<Column<M1>, Column<M2>> columns, const std::tuple<U1, U2>& last,
               std::string_view op, bool descending) const {
    auto [c1, c2] = columns;
    using V1 = value_of_t<Column<M1>>;
    using V2 = value_of_t<Column<M2>>;
    static_assert(value_matches<V1, U1> && value_matches<V2, U2>,
                  "pgorm: after()/before(): the values' C++ types do not match the columns'");
    if constexpr (value_matches<V1, U1> && value_matches<V2, U2>) {
      refuse_narrowing<V1, U1>();
      refuse_narrowing<V2, U2>();
    }
    Fragment row;
    row += "((";
    row += c1.to_expr().fragment;
    row += ", ";
    row += c2.to_expr().fragment;
    row += ")";
    row += op;
    row += "(";
    add_value<V1>(row, std::get<0>(last), c1);
    row += ", ";
    add_value<V2>(row, std::get<1>(last), c2);
    row += "))";
    Select out(*this);
    out.parts_.add_where(row);
    out.parts_.order_by.clear();
    out.add_order(descending ? c1.desc() : c1.asc());
    out.add_order(descending ? c2.desc() : c2.asc());
    return out;
  }

  SelectParts parts_;
  std::vector<Loader> loaders_;
  std::vector<EagerReader> eager_;
};

template <class... Es>
struct select_row {
  using type = std::tuple<typename expr_t<Es>::result_type...>;
};
template <class E>
struct select_row<E> {
  using type = typename expr_t<E>::result_type;
};

template <class List>
struct concat_all;
template <>
struct concat_all<type_list<>> {
  using type = type_list<>;
};
template <class L, class... Ls>
struct concat_all<type_list<L, Ls...>> {
  using type = concat_t<L, typename concat_all<type_list<Ls...>>::type>;
};

}  // namespace query

// SELECT every column of T FROM T: rows are read into T objects.
template <model T>
query::Select<T, T, query::type_list<T>> select() {
  query::SelectParts parts;
  parts.from = &table_info<T>();
  parts.from_columns = &sql::qualified_columns<T>();
  parts.from_columns_of = parts.from;
  return query::Select<T, T, query::type_list<T>>(std::move(parts));
}

// SELECT of columns and expressions: select(col<&Todo::status>, count()).group_by(...).
// One expression reads rows as its value type; several as a std::tuple. FROM is the model of the
// first column (or name it with .from<Model>()); other models need .join<Model>().
template <class E, class... Es>
auto select(const E& first, const Es&... rest) {
  static_assert(
      query::expression<E> && (query::expression<Es> && ...),
      "pgorm::select(...) takes columns and expressions; select<Model>() selects objects");
  using models = typename query::concat_all<
      query::type_list<query::models_of_t<E>, query::models_of_t<Es>...>>::type;
  // A row source's or an alias's columns first: FROM is named with .from(source) or a join.
  using First = typename query::first_model<models>::type;
  using From = std::conditional_t<model<First>, First, void>;
  using Row = typename query::select_row<E, Es...>::type;
  query::SelectParts parts;
  if constexpr (!std::is_void_v<From>) parts.from = &table_info<From>();
  parts.projection += first.to_expr().fragment;
  ((parts.projection += ", ", parts.projection += rest.to_expr().fragment), ...);
  // The select list's models must be in the query when it runs (needs_ref markers).
  using Available = query::concat_t<
      std::conditional_t<std::is_void_v<From>, query::type_list<>, query::type_list<From>>,
      typename query::needs_refs<models>::type>;
  return query::Select<Row, From, Available>(std::move(parts));
}

}  // namespace pgorm
