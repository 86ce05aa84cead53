// Loading relationships, chosen per query and never implicit: selectin (one extra query per
// level for the whole batch), joined (in the same statement), Session::load, and the relationship
// filters has() and join(&Model::relation).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "pgorm/relations/operations.hpp"
#include "pgorm/session/session.hpp"

namespace pgorm {

namespace detail {

// ON condition between a relationship's target (under `alias`) and its owner's table.
template <class Owner, auto Member>
query::Fragment relation_condition(std::string_view target_name, std::string_view owner_name) {
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  query::Fragment on;
  auto column = [&](std::string_view table, std::string_view name) {
    on.add_identifier(table);
    on += ".";
    on.add_identifier(name);
  };
  if constexpr (R::kind == relation_kind::belongs_to) {
    column(target_name, query::Column<R::key>::name());
    on += " = ";
    column(owner_name, query::Column<R::fk>::name());
  } else if constexpr (R::kind == relation_kind::many_to_many) {
    static_assert(R::kind != relation_kind::many_to_many,
                  "pgorm: many-to-many relationships load with selectin and filter with has()");
  } else {
    column(target_name, query::Column<R::fk>::name());
    on += " = ";
    column(owner_name, query::Column<R::key>::name());
  }
  (void)sizeof(Target);
  return on;
}

}  // namespace detail

// selectin(&User::todos) or a path selectin(&User::todos, &Todo::categories): after the main
// query, one query per level loads the relationship of every row (WHERE fk = ANY($1)).
template <class P, class... Rest>
struct SelectInOption {
  P first;
  std::tuple<Rest...> rest;
  template <class Row, class Loaders, class Eager>
  void apply(query::SelectParts&, Loaders& loaders, Eager&) const {
    using Owner = typename member_pointer_traits<P>::class_type;
    static_assert(std::is_same_v<Owner, Row>,
                  "pgorm::selectin: the path must start with a relationship of the selected model");
    loaders.push_back([option = *this](const std::vector<std::shared_ptr<Row>>& rows) {
      return std::apply(
          [&](auto... r) -> std::unique_ptr<detail::LoadCursor> {
            return std::make_unique<detail::PathCursor<Row, P, Rest...>>(rows, option.first, r...);
          },
          option.rest);
    });
  }
};
template <class M, class O, class... Rest>
SelectInOption<M O::*, Rest...> selectin(M O::*first, Rest... rest) {
  static_assert(relation_traits<M>::is_relation,
                "pgorm::selectin takes relationship members (BelongsTo, HasMany, HasOne, ManyToMany)");
  return {first, {rest...}};
}

// joined(&Todo::user) or joined(&User::todos): the relationship comes back in the same statement
// through a LEFT OUTER JOIN (LIMIT and OFFSET still count the selected objects).
template <class P>
struct JoinedOption {
  P member;
  template <class Row, class Loaders, class Eager>
  void apply(query::SelectParts& parts, Loaders&, Eager& eager) const {
    using Owner = typename member_pointer_traits<P>::class_type;
    static_assert(std::is_same_v<Owner, Row>,
                  "pgorm::joined: the relationship must belong to the selected model");
    detail::ModelWork<Row>::add_joined(detail::relation_index<Row>(member), parts, eager);
  }
};
template <class M, class O>
JoinedOption<M O::*> joined(M O::*member) {
  static_assert(relation_traits<M>::is_relation,
                "pgorm::joined takes a relationship member (BelongsTo, HasMany, HasOne)");
  if constexpr (relation_traits<M>::is_relation)
    static_assert(relation_traits<M>::kind != relation_kind::many_to_many,
                  "pgorm: many-to-many relationships load with selectin and filter with has()");
  return {member};
}

// The LEFT JOIN of joined loading and the reader of its columns, for the relationship at
// `relation` of T (declared in ModelWork, compiled with the model's code).
template <model T>
void detail::ModelWork<T>::add_joined(std::size_t relation, query::SelectParts& parts,
                                      std::vector<EagerReader>& eager) {
  using Row = T;
  detail::with_relation_at<Row>(relation, [&]<auto Member>() {
    using R = detail::resolved_relation<Row, Member>;
    if constexpr (R::kind == relation_kind::many_to_many) {
      // joined() refuses these at compile time.
      ErrorInfo info;
      info.message = "joined loading does not support many-to-many relationships: use selectin";
      throw InterfaceError(std::move(info));
    } else {
      using Target = typename R::target;
      std::string alias = "j_" + std::string(naming::member_name<Member>());
      parts.eager.push_back(
          {&table_info<Target>(), alias,
           detail::relation_condition<Row, Member>(alias, table_info<Row>().name)});
      eager.push_back([alias](const Result& result, const std::vector<std::shared_ptr<Row>>& rows,
                              detail::WorkList& works) {
        detail::RowReader<Target> reader(result, alias + "__");
        auto& tracked = detail::work_in<Target>(works);
        std::set<const Row*> started;
        detail::AppendedPairs appended;
        for (std::size_t i = 0; i < rows.size(); ++i) {
          int r = static_cast<int>(i);
          std::shared_ptr<Target> target =
              reader.is_absent(r) ? nullptr : tracked.load_row(reader, r);
          auto& member = (*rows[i]).*Member;
          if constexpr (R::kind == relation_kind::belongs_to) {
            detail::assign_many_to_one<Row, Member>(*rows[i], target);
          } else {
            auto& coll = detail::collection_of(member);
            if (started.insert(rows[i].get()).second) coll.pgorm_assign({});
            if (!target || !appended.fresh(rows[i].get(), coll.pgorm_raw(), target)) continue;
            coll.pgorm_append_loaded(target);
            if constexpr (R::inverse != detail::npos) {
              using Inv = std::remove_cvref_t<
                  std::tuple_element_t<R::inverse, detail::relations_t<Target>>>;
              ((*target).*Inv::member).pgorm_assign(rows[i], true);
            }
          }
        }
      });
    }
  });
}

template <model T, class... Path>
void Session::load(const std::vector<std::shared_ptr<T>>& objects, Path... path) {
  static_assert(sizeof...(Path) > 0, "pgorm: load(objects, &Model::relation, ...)");
  detail::PathCursor<T, Path...> cursor(objects, path...);
  prepare_read();
  run_loads(cursor);
}

namespace detail {
// EXISTS (SELECT 1 FROM <target> WHERE <linked to the outer row> [AND condition])
template <class M, class O>
query::Term<bool, query::type_list<O>> exists_related(M O::*relation,
                                                      const query::Fragment* condition) {
  using Target = typename relation_traits<M>::target;
  query::Term<bool, query::type_list<O>> out;
  with_relation<O>(relation, [&]<auto Member>() {
    using R = resolved_relation<O, Member>;
    static_assert(!std::is_same_v<Target, O>,
                  "pgorm::has: self-referential relationships are not supported in has()");
    const TableInfo& target = table_info<Target>();
    out.fragment += "EXISTS (SELECT 1 FROM ";
    out.fragment.add_identifier(target.name);
    if constexpr (R::kind == relation_kind::many_to_many) {
      using Through = typename R::member_type::through_type;
      using TC = through_columns<O, Member>;
      out.fragment += " JOIN ";
      out.fragment.add_identifier(table_info<Through>().name);
      out.fragment += " ON ";
      out.fragment += query::Column<TC::target_fk>{}.to_expr().fragment;
      out.fragment += " = ";
      out.fragment += query::Column<TC::target_key>{}.to_expr().fragment;
      out.fragment += " WHERE ";
      out.fragment += query::Column<R::fk>{}.to_expr().fragment;
      out.fragment += " = ";
      out.fragment += query::Column<R::key>{}.to_expr().fragment;
    } else {
      out.fragment += " WHERE ";
      out.fragment += relation_condition<O, Member>(target.name, table_info<O>().name);
    }
    if (target.soft_delete) {
      out.fragment += " AND ";
      out.fragment.add_identifier(target.name);
      out.fragment += ".\"deleted_at\" IS NULL";
    }
    if (condition) {
      out.fragment += " AND ";
      out.fragment += *condition;
    }
    out.fragment += ")";
  });
  return out;
}
}  // namespace detail

// A filter on a relationship, as EXISTS:
//   select<User>().where(has(&User::todos, col<&Todo::status> == TodoStatus::pending))
template <class M, class O, class E>
auto has(M O::*relation, const E& condition) {
  static_assert(query::condition<E>, "pgorm::has: the second argument must be a condition");
  using Target = typename relation_traits<M>::target;
  static_assert(query::list_subset<query::models_of_t<E>, query::type_list<Target>>::value,
                "pgorm::has: the condition may use the related model's columns only");
  return detail::exists_related(relation, &condition.to_expr().fragment);
}
// has(&User::todos): at least one related row.
template <class M, class O>
auto has(M O::*relation) {
  return detail::exists_related(relation, nullptr);
}

template <class Row, class From, class Models>
template <class M, class O>
  requires relation_traits<M>::is_relation
query::Select<Row, From, query::concat_t<Models, query::type_list<typename relation_traits<M>::target>>>
query::Select<Row, From, Models>::join(M O::*relation) const {
  using Target = typename relation_traits<M>::target;
  static_assert(list_contains<O, Models>::value,
                "pgorm: join(&Model::relation): the model is not in the query");
  SelectParts p = parts_;
  const TableInfo& t = table_info<Target>();
  detail::with_relation<O>(relation, [&]<auto Member>() {
    JoinPart j;
    j.table = &t;
    j.on = detail::relation_condition<O, Member>(t.name, table_info<O>().name);
    p.joins.push_back(std::move(j));
  });
  return Select<Row, From, concat_t<Models, type_list<Target>>>(std::move(p), loaders_, eager_);
}

}  // namespace pgorm
