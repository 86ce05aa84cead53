// Selects inside other statements, set operations and aliases:
//   col<&User::id>.in(select(col<&Todo::user_id>))           IN (SELECT ...)
//   exists(select<Todo>().correlate<User>().where(...))      EXISTS (SELECT ...), correlated
//   scalar(select(max(col<&Todo::id>)))                       (SELECT max(...)) as a value
//   col<&Todo::id> == any(select(...)), all(...)              = ANY (SELECT ...), ALL
//   union_(a, b), union_all, intersect, intersect_all, except_, except_all
//   aliased<Employee, "manager">                              the same model twice
// A subquery's expression carries the outer models it correlates with, so the outer query's
// compile-time model check covers them; soft-delete filters apply inside subqueries as anywhere.
#pragma once

#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "pgorm/model/mixins.hpp"
#include "pgorm/query/select.hpp"

namespace pgorm {
namespace query {

// The outer models a subquery names with correlate<Model>().
template <class List>
struct correlated_models {
  using type = type_list<>;
};
template <class M, class... Ms>
struct correlated_models<type_list<M, Ms...>> {
  using type = typename correlated_models<type_list<Ms...>>::type;
};
template <class M, class... Ms>
struct correlated_models<type_list<outer_ref<M>, Ms...>> {
  using type = concat_t<type_list<M>, typename correlated_models<type_list<Ms...>>::type>;
};
template <class List>
using correlated_t = typename correlated_models<List>::type;

template <class T>
struct strip_optional {
  using type = T;
};
template <class T>
struct strip_optional<std::optional<T>> {
  using type = T;
};

template <class T>
struct is_std_tuple : std::false_type {};
template <class... Ts>
struct is_std_tuple<std::tuple<Ts...>> : std::true_type {};

// A select of one column or expression: its rows' value type, NULL-ness aside.
template <class Row>
inline constexpr bool one_value_row = !model<Row> && !is_std_tuple<Row>::value;
template <class Row>
using subquery_value_t = typename strip_optional<Row>::type;

template <class L, class R, class F, class M>
auto in_subquery(const L& left, const Select<R, F, M>& subquery, std::string_view op) {
  using V = value_of_t<L>;
  static_assert(one_value_row<R>, "pgorm: in(select(...)) takes a select of one column");
  static_assert(!one_value_row<R> || std::is_same_v<subquery_value_t<R>, V>,
                "pgorm: in(select(...)): the subquery's column has another C++ type than the "
                "left side");
  Expr<bool, concat_t<models_of_t<L>, correlated_t<M>>> out;
  out.fragment += "(";
  out.fragment += left.to_expr().fragment;
  out.fragment += op;
  out.fragment += render_subquery(subquery.parts());
  out.fragment += ")";
  return out;
}

template <class R, class F, class M>
Term<bool, correlated_t<M>> exists_test(const Select<R, F, M>& subquery, std::string_view op) {
  Term<bool, correlated_t<M>> out;
  out.fragment += op;
  out.fragment += render_subquery(subquery.parts());
  out.fragment += ")";
  return out;
}

// ANY (SELECT ...) / ALL (SELECT ...): the right side of a comparison only.
template <class R, class F, class M>
Expr<subquery_value_t<R>, correlated_t<M>> quantified(const Select<R, F, M>& subquery,
                                                      std::string_view op) {
  static_assert(one_value_row<R>, "pgorm: any()/all() take a select of one column");
  Expr<subquery_value_t<R>, correlated_t<M>> out;
  out.fragment += op;
  out.fragment += render_subquery(subquery.parts());
  return out;
}

// A column of an aliased model: "manager"."name".
template <class A, auto Member>
struct AliasColumn : ExprMethods<AliasColumn<A, Member>> {
  using column = Column<Member>;
  static_assert(std::is_same_v<typename column::model_type, typename A::model_type>,
                "pgorm: an alias's col<&Model::member> takes a member of the aliased model");
  using value_type = typename column::value_type;
  using models = type_list<A>;
  using expr_type = Expr<value_type, models, typename column::member_type>;
  expr_type to_expr() const {
    expr_type e;
    e.fragment.add_identifier(A::name);
    e.fragment += ".";
    e.fragment.add_identifier(column::name());
    return e;
  }
};

// A model under another name. Its columns are Alias::col<&Model::member>; join it with
// join<Alias>(condition), outer_join, right_join or full_join.
template <model T, fixed_string Name>
struct Alias {
  static_assert(Name.view().size() > 0 && Name.view().size() <= 63,
                "pgorm::aliased: the alias is 1 to 63 bytes");
  static constexpr bool is_pgorm_alias = true;
  using model_type = T;
  static constexpr std::string_view name = Name.view();
  template <auto Member>
  static constexpr AliasColumn<Alias, Member> col{};
};

template <class R1, class F1, class M1, class R2, class F2, class M2>
Select<R1, F1, type_list<F1>> set_operation(SetOperation op, const Select<R1, F1, M1>& left,
                                            const Select<R2, F2, M2>& right) {
  static_assert(std::is_same_v<R1, R2>,
                "pgorm: union_()/intersect()/except_() take selects of the same row type");
  static_assert(model<F1>,
                "pgorm: the first select of a set operation needs a FROM model (its rows are "
                "named after it); set operations over selects from a row source are not "
                "supported");
  static_assert(!has_outer_ref<M1>::value && !has_outer_ref<M2>::value,
                "pgorm: set operations take selects without correlate<Model>()");
  SelectParts parts;
  if constexpr (model<F1>) parts.from = &table_info<F1>();
  parts.from_subquery = render_set_operation(op, left.parts(), right.parts());
  if constexpr (!model<R1>) parts.projection += "*";
  return Select<R1, F1, type_list<F1>>(std::move(parts));
}

}  // namespace query

// pgorm::aliased<Employee, "manager">: Employee under the name "manager", for a second use of the
// same table (self-joins). Columns: aliased<Employee, "manager">::col<&Employee::name>.
template <model T, fixed_string Name>
using aliased = query::Alias<T, Name>;

// EXISTS (SELECT ...) and NOT EXISTS (SELECT ...).
template <class R, class F, class M>
auto exists(const query::Select<R, F, M>& subquery) {
  return query::exists_test(subquery, "(EXISTS ");
}
template <class R, class F, class M>
auto not_exists(const query::Select<R, F, M>& subquery) {
  return query::exists_test(subquery, "(NOT EXISTS ");
}

// (SELECT one value): usable in a select list and in conditions. Its result is std::optional:
// the subquery may return no row (NULL). More than one row is a server error at run time.
template <class R, class F, class M>
auto scalar(const query::Select<R, F, M>& subquery) {
  static_assert(query::one_value_row<R>, "pgorm::scalar() takes a select of one column");
  using V = query::subquery_value_t<R>;
  query::Term<V, query::correlated_t<M>, std::optional<V>> out;
  out.fragment += query::render_subquery(subquery.parts());
  return out;
}

// col<&T::x> == any(select(...)): true when the comparison holds for some row of the subquery;
// all(...): for every row (and for none at all).
template <class R, class F, class M>
auto any(const query::Select<R, F, M>& subquery) {
  return query::quantified(subquery, "ANY ");
}
template <class R, class F, class M>
auto all(const query::Select<R, F, M>& subquery) {
  return query::quantified(subquery, "ALL ");
}

// Set operations over selects of the same row type. The result is a select over their rows
// (FROM (a UNION b) AS "<first select's FROM table>"), so order_by(), limit() and offset() apply
// to the whole, order_by() naming the first select's columns, and a session runs it like any
// select: select<Model>() operands give tracked objects.
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto union_(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::union_distinct, a, b);
}
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto union_all(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::union_all, a, b);
}
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto intersect(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::intersect, a, b);
}
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto intersect_all(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::intersect_all, a, b);
}
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto except_(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::except, a, b);
}
template <class R1, class F1, class M1, class R2, class F2, class M2>
auto except_all(const query::Select<R1, F1, M1>& a, const query::Select<R2, F2, M2>& b) {
  return query::set_operation(query::SetOperation::except_all, a, b);
}

}  // namespace pgorm

// ---- WITH queries ----
namespace pgorm {
namespace query {

// The name of a WITH query whose rows have T's shape. Like an alias, its columns are
// Cte::col<&T::member> and it joins with join<Cte>(condition); pgorm::select_from<Cte>() reads its
// rows as T objects.
template <model T, fixed_string Name>
struct CteName {
  static_assert(Name.view().size() > 0 && Name.view().size() <= 63,
                "pgorm::cte_name: the name is 1 to 63 bytes");
  static constexpr bool is_pgorm_alias = true;
  static constexpr bool is_pgorm_cte = true;
  using model_type = T;
  static constexpr std::string_view name = Name.view();
  template <auto Member>
  static constexpr AliasColumn<CteName, Member> col{};
};

template <class C>
concept cte_name = requires {
  C::is_pgorm_cte;
  typename C::model_type;
};

}  // namespace query

template <model T, fixed_string Name>
using cte_name = query::CteName<T, Name>;

// WITH "<name>" AS (query): a select of the name's model (select<T>()).
template <query::cte_name C, class R, class F, class M>
query::CtePart cte(const query::Select<R, F, M>& query) {
  static_assert(std::is_same_v<R, typename C::model_type>,
                "pgorm::cte<Name>(q): q selects rows of the name's model (select<Model>())");
  return query::CtePart{std::string(C::name), query::render_select(query.parts()), false};
}

// WITH RECURSIVE "<name>" AS ((anchor) UNION ALL (step)): step refers to the name, usually by
// join<Name>(condition). Both select rows of the name's model.
//   using Tree = pgorm::cte_name<Category, "tree">;
//   auto tree = pgorm::recursive_cte<Tree>(
//       select<Category>().where(col<&Category::id> == root),
//       select<Category>().join<Tree>(col<&Category::parent_id> == Tree::col<&Category::id>));
//   db.execute(pgorm::select_from<Tree>().with(tree));
template <query::cte_name C, class R1, class F1, class M1, class R2, class F2, class M2>
query::CtePart recursive_cte(const query::Select<R1, F1, M1>& anchor,
                             const query::Select<R2, F2, M2>& step) {
  static_assert(
      std::is_same_v<R1, typename C::model_type> && std::is_same_v<R2, typename C::model_type>,
      "pgorm::recursive_cte<Name>(anchor, step): both select rows of the name's model "
      "(select<Model>())");
  return query::CtePart{
      std::string(C::name),
      query::render_set_operation(query::SetOperation::union_all, anchor.parts(), step.parts()),
      true};
}

// SELECT the rows of a WITH query as objects of its model: FROM "<name>" AS "<model's table>", so
// col<&Model::member> names its columns. Add the definition with .with(...).
template <query::cte_name C>
auto select_from() {
  using T = typename C::model_type;
  query::SelectParts parts;
  parts.from = &table_info<T>();
  parts.from_name = std::string(C::name);
  return query::Select<T, T, query::type_list<T>>(std::move(parts));
}

}  // namespace pgorm
