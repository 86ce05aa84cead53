// What the session does with relationships: wiring back_populates, loading (selectin), cascades,
// keeping foreign keys in step with related objects, and many-to-many association rows.
// Included by session/model_work.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pgorm/query/expression.hpp"
#include "pgorm/query/select.hpp"
#include "pgorm/relations/relationship.hpp"

namespace pgorm {
class Session;
}

namespace pgorm::detail {

// HasOne keeps its object in a one-element collection.
template <class M>
auto& collection_of(M& member) {
  if constexpr (requires { member.pgorm_collection(); })
    return member.pgorm_collection();
  else
    return member;
}

// Calls f.template operator()<Member>() for every relationship of T.
template <class T, class F>
void for_each_relation(F&& f) {
  if constexpr (relation_count<T> > 0) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f.template operator()<std::tuple_element_t<I, relations_t<T>>::member>(), ...);
    }(std::make_index_sequence<relation_count<T>>{});
  }
}

// A member passed as a relationship (selectin, joined, load, has, join) is not in its model's
// relationships.
[[noreturn]] inline void throw_not_a_relationship() {
  ErrorInfo info;
  info.message = "this member is not listed in its model's relationships";
  throw InterfaceError(std::move(info));
}

// Calls f.template operator()<Member>() for the relationship of T whose member is `pointer`
// (a runtime member pointer, as passed to selectin(&User::todos)).
template <class T, class P, class F>
void with_relation(P pointer, F&& f) {
  bool found = false;
  for_each_relation<T>([&]<auto Member>() {
    if constexpr (std::is_same_v<decltype(Member), P>) {
      if (!found && Member == pointer) {
        found = true;
        f.template operator()<Member>();
      }
    }
  });
  if (!found) throw_not_a_relationship();
}

// The position in relations_t<T> of the relationship whose member is `pointer`; throws
// InterfaceError when it is none of them.
template <class T, class P>
std::size_t relation_index(P pointer) {
  std::size_t index = npos;
  auto find = [&]<std::size_t... I>(std::index_sequence<I...>) {
    auto check = [&]<std::size_t J>() {
      constexpr auto member = std::tuple_element_t<J, relations_t<T>>::member;
      if constexpr (std::is_same_v<std::remove_const_t<decltype(member)>, P>) {
        if (index == npos && member == pointer) index = J;
      }
    };
    (check.template operator()<I>(), ...);
    (void)check;  // a model without relationships
  };
  find(std::make_index_sequence<relation_count<T>>{});
  if (index == npos) throw_not_a_relationship();
  return index;
}

// Calls f.template operator()<Member>() for the relationship at `index` of relations_t<T>.
template <class T, class F>
void with_relation_at(std::size_t index, F&& f) {
  std::size_t i = 0;
  for_each_relation<T>([&]<auto Member>() {
    if (i++ == index) f.template operator()<Member>();
  });
}

template <class Owner, auto Member>
bool set_inverse(void* other, const std::shared_ptr<void>& owner, bool add) {
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
  auto& inverse = static_cast<Target*>(other)->*Inv::member;
  if constexpr (R::kind == relation_kind::belongs_to) {
    auto& coll = collection_of(inverse);
    if (!coll.loaded()) return false;
    if (add)
      coll.pgorm_raw_add(std::static_pointer_cast<Owner>(owner));
    else
      coll.pgorm_raw_remove(static_cast<Owner*>(owner.get()));
    return add;
  } else if (add) {
    // Through BelongsTo::set, so the object also leaves the collection of its previous owner.
    if (inverse.pgorm_link().set_inverse)
      inverse.set(std::static_pointer_cast<Owner>(owner));
    else
      inverse.pgorm_assign(std::static_pointer_cast<Owner>(owner), true);
    return false;
  } else {
    inverse.pgorm_assign(nullptr);
    return false;
  }
}

// Sets a many-to-one member from loading: it does not own the target when the target's loaded
// collection (back_populates) holds the object.
template <class Owner, auto Member>
void assign_many_to_one(Owner& object,
                        std::shared_ptr<typename resolved_relation<Owner, Member>::target> target) {
  using R = resolved_relation<Owner, Member>;
  bool held = false;
  if constexpr (R::inverse != npos) {
    using Target = typename R::target;
    using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
    if (target) {
      auto& coll = collection_of((*target).*Inv::member);
      if (coll.loaded()) {
        const auto& items = coll.pgorm_raw();
        held = std::any_of(items.begin(), items.end(),
                           [&](const auto& item) { return item.get() == &object; });
      }
    }
  }
  (object.*Member).pgorm_assign(std::move(target), held);
}

// Links an object's relationship members to it (for back_populates); objects read from the
// database start with every relationship not loaded.
template <class T>
void wire(const std::shared_ptr<T>& object, bool from_database) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    auto& member = (*object).*Member;
    if (from_database) collection_of(member).pgorm_unload();
    auto& link = collection_of(member).pgorm_link();
    link.owner = object;
    if constexpr (R::kind != relation_kind::many_to_many) {
      if constexpr (R::inverse != npos) {
        link.set_inverse = &set_inverse<T, Member>;
        // Objects put in a collection before the owner was added get their inverse side now.
        if constexpr (R::kind != relation_kind::belongs_to) {
          if (!from_database && member.loaded())
            for (const auto& child : collection_of(member).pgorm_raw())
              set_inverse<T, Member>(child.get(), object, true);
        }
      }
    }
  });
}

template <auto Column>
using column_value_t =
    unwrap_optional_t<typename member_pointer_traits<decltype(Column)>::member_type>;

// ORDER BY the target's primary key, so collections load in a stable order.
template <model T>
auto primary_key_order() {
  query::Fragment f;
  bool first = true;
  for (const auto& k : table_info<T>().primary_key) {
    if (!first) f += ", ";
    first = false;
    f.add_identifier(table_info<T>().name);
    f += ".";
    f.add_identifier(k);
  }
  return raw<bool>(f.sql);
}

struct CascadeState;
struct PlannedWrite;
template <class T>
bool cascade_relations(CascadeState& state, const std::shared_ptr<T>& object, bool deleted,
                       bool hard);
template <class T>
void sync_foreign_keys(T& object);
template <class T>
void propagate_keys(T& object);
template <class T>
void plan_associations(std::vector<PlannedWrite>& out, const std::shared_ptr<T>& object);
template <class T>
void mark_waiting(const T& object, bool pending, const std::unordered_set<const void*>& all_pending,
                  std::unordered_set<const void*>& waiting, bool& later_waits);

}  // namespace pgorm::detail
