// Relationship declarations (static constexpr auto relationships = pgorm::relationships(...)) and
// their resolution at compile time: which foreign key column links the two models, and which
// member of the other model is the inverse (back_populates).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include "pgorm/model/model.hpp"
#include "pgorm/relations/members.hpp"

namespace pgorm {

// ---- options ----

struct cascade_t {
  unsigned flags = 0;
  constexpr cascade_t operator|(cascade_t other) const { return {flags | other.flags}; }
  constexpr bool has(cascade_t c) const { return (flags & c.flags) == c.flags; }
};
namespace cascade {
// Adding an object adds the objects it relates to (the default).
inline constexpr cascade_t save_update{1};
// Removing the object removes its children (soft delete for SoftDelete children of a soft delete).
inline constexpr cascade_t delete_{2};
// Taking a child out of the collection deletes it.
inline constexpr cascade_t delete_orphan{4};
inline constexpr cascade_t all = save_update | delete_;
inline constexpr cascade_t all_delete_orphan = save_update | delete_ | delete_orphan;
}  // namespace cascade

// Leaves deleting children to the database's ON DELETE CASCADE: children are not loaded first.
struct passive_deletes_t {};
inline constexpr passive_deletes_t passive_deletes{};

// On the many-to-one side: the collection on the other model that holds this object.
template <auto Member>
struct back_populates_t {
  static constexpr auto member = Member;
};
template <auto Member>
inline constexpr back_populates_t<Member> back_populates{};

// ---- kinds ----

enum class relation_kind { belongs_to, has_many, has_one, many_to_many };

template <class M>
struct relation_traits {
  static constexpr bool is_relation = false;
};
template <class T, auto Fk>
struct relation_traits<BelongsTo<T, Fk>> {
  static constexpr bool is_relation = true;
  static constexpr relation_kind kind = relation_kind::belongs_to;
  using target = T;
};
template <class T>
struct relation_traits<HasMany<T>> {
  static constexpr bool is_relation = true;
  static constexpr relation_kind kind = relation_kind::has_many;
  using target = T;
};
template <class T>
struct relation_traits<HasOne<T>> {
  static constexpr bool is_relation = true;
  static constexpr relation_kind kind = relation_kind::has_one;
  using target = T;
};
template <class T, class Through>
struct relation_traits<ManyToMany<T, Through>> {
  static constexpr bool is_relation = true;
  static constexpr relation_kind kind = relation_kind::many_to_many;
  using target = T;
};

template <class T>
struct is_back_populates : std::false_type {};
template <auto M>
struct is_back_populates<back_populates_t<M>> : std::true_type {};

// One declared relationship: pgorm::relation<&User::todos>(pgorm::cascade::all_delete_orphan).
template <auto Member, class... Options>
struct relation_def {
  using owner_type = typename member_pointer_traits<decltype(Member)>::class_type;
  using member_type = typename member_pointer_traits<decltype(Member)>::member_type;
  using traits = relation_traits<member_type>;
  using target_type = typename traits::target;
  static constexpr auto member = Member;
  static constexpr relation_kind kind = traits::kind;
  static constexpr bool passive = (std::is_same_v<Options, passive_deletes_t> || ...);
  cascade_t cascade_flags = cascade::save_update;

  template <class Object>
  static member_type& ref(Object& o) noexcept {
    return static_cast<owner_type&>(o).*Member;
  }
};

template <auto Member, class... Options>
constexpr auto relation(Options... options) {
  using traits = member_pointer_traits<decltype(Member)>;
  static_assert(traits::is_member,
                "pgorm::relation<&Model::member>: the argument must be a pointer to a data member");
  static_assert(relation_traits<typename traits::member_type>::is_relation,
                "pgorm::relation: the member must be a BelongsTo, HasMany, HasOne or ManyToMany");
  static_assert(((std::is_same_v<Options, cascade_t> || std::is_same_v<Options, passive_deletes_t> ||
                  is_back_populates<Options>::value) &&
                 ...),
                "pgorm::relation options are pgorm::cascade::..., pgorm::passive_deletes and "
                "pgorm::back_populates<&Other::member>");
  relation_def<Member, Options...> def;
  (
      [&](const auto& o) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(o)>, cascade_t>)
          def.cascade_flags = o;
      }(options),
      ...);
  return def;
}

template <class... Defs>
constexpr auto relationships(Defs... defs) {
  return std::tuple<Defs...>{defs...};
}

// ---- resolution ----

namespace detail {

inline constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

template <class T>
constexpr auto relations_of() {
  if constexpr (requires { T::relationships; })
    return T::relationships;
  else
    return std::tuple<>{};
}
template <class T>
using relations_t = std::remove_const_t<decltype(relations_of<T>())>;
template <class T>
inline constexpr std::size_t relation_count = std::tuple_size_v<relations_t<T>>;

template <auto A, auto B>
constexpr bool same_member() {
  if constexpr (std::is_same_v<decltype(A), decltype(B)>)
    return A == B;
  else
    return false;
}

template <class Def>
struct back_populates_of {
  static constexpr bool present = false;
};
template <auto M, class... Os>
struct back_populates_of<relation_def<M, Os...>> {
  template <class O, class... Rest>
  static constexpr auto pick() {
    if constexpr (is_back_populates<O>::value)
      return O{};
    else if constexpr (sizeof...(Rest) > 0)
      return pick<Rest...>();
    else
      return nullptr;
  }
  static constexpr auto value = [] {
    if constexpr (sizeof...(Os) > 0)
      return pick<Os...>();
    else
      return nullptr;
  }();
  static constexpr bool present = !std::is_same_v<decltype(value), const std::nullptr_t>;
};

// Index of the relationship declared for `Member` in its model, or npos.
template <class T, auto Member>
constexpr std::size_t relation_index() {
  std::size_t found = npos;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((same_member<std::tuple_element_t<I, relations_t<T>>::member, Member>() && found == npos
          ? (found = I, 0)
          : 0),
     ...);
  }(std::make_index_sequence<relation_count<T>>{});
  return found;
}

// In Child, the BelongsTo<Parent, ...> relationship that pairs with Parent's collection `Member`:
// the one whose back_populates names Member, else the only BelongsTo<Parent, ...> of Child.
template <class Child, class Parent, auto Member>
constexpr std::size_t inverse_belongs_to_index() {
  std::size_t named = npos, candidates = 0, candidate = npos;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          using Def = std::tuple_element_t<I, relations_t<Child>>;
          if constexpr (Def::kind == relation_kind::belongs_to &&
                        std::is_same_v<typename Def::target_type, Parent>) {
            if constexpr (back_populates_of<Def>::present) {
              if (same_member<back_populates_of<Def>::value.member, Member>()) named = I;
            } else {
              ++candidates;
              candidate = I;
            }
          }
        }(),
        ...);
  }(std::make_index_sequence<relation_count<Child>>{});
  if (named != npos) return named;
  return candidates == 1 ? candidate : npos;
}

// In Parent, the collection (HasMany/HasOne) that pairs with Child's BelongsTo `Member`.
template <class Parent, class Child, auto Member>
constexpr std::size_t inverse_collection_index() {
  constexpr std::size_t own = relation_index<Child, Member>();
  if constexpr (own != npos) {
    using Def = std::tuple_element_t<own, relations_t<Child>>;
    if constexpr (back_populates_of<Def>::present) {
      return relation_index<Parent, back_populates_of<Def>::value.member>();
    }
  }
  std::size_t candidates = 0, candidate = npos;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          using Def = std::tuple_element_t<I, relations_t<Parent>>;
          if constexpr ((Def::kind == relation_kind::has_many ||
                         Def::kind == relation_kind::has_one) &&
                        std::is_same_v<typename Def::target_type, Child>) {
            ++candidates;
            candidate = I;
          }
        }(),
        ...);
  }(std::make_index_sequence<relation_count<Parent>>{});
  return candidates == 1 ? candidate : npos;
}

template <class O>
struct fk_target {
  static constexpr bool present = false;
};
template <auto Target>
struct fk_target<foreign_key_t<Target>> {
  static constexpr bool present = true;
  static constexpr auto value = Target;
};
template <class... Os>
struct first_fk {
  static constexpr bool present = false;
};
template <class O, class... Os>
struct first_fk<O, Os...>
    : std::conditional_t<fk_target<O>::present, fk_target<O>, first_fk<Os...>> {};
// The foreign key of a column declaration: present, and value = the referenced member.
template <class Def>
struct column_fk;
template <auto M, class... Os>
struct column_fk<column_def<M, Os...>> : first_fk<Os...> {};

template <class Def, class Parent>
constexpr bool refers_to() {
  if constexpr (column_fk<Def>::present)
    return std::is_same_v<
        model_of_t<typename member_pointer_traits<decltype(column_fk<Def>::value)>::class_type>,
        Parent>;
  else
    return false;
}

// Index of the column of Child with a foreign key to Parent, when it is the only one; else npos.
template <class Child, class Parent>
constexpr std::size_t unique_foreign_key_index() {
  using Columns = typename model_traits<Child>::columns_type;
  std::size_t count = 0, found = npos;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((refers_to<std::tuple_element_t<I, Columns>, Parent>() ? (++count, found = I, 0) : 0), ...);
  }(std::make_index_sequence<std::tuple_size_v<Columns>>{});
  return count == 1 ? found : npos;
}

// The column a foreign key column refers to (its foreign_key<&Parent::col> target).
template <auto ForeignKey>
constexpr auto referenced_member() {
  using Owner = model_of_t<typename member_pointer_traits<decltype(ForeignKey)>::class_type>;
  using Def = column_of_t<Owner, ForeignKey>;
  static_assert(column_fk<Def>::present,
                "pgorm: a relationship's foreign key column needs pgorm::foreign_key<&Parent::id>");
  return column_fk<Def>::value;
}

}  // namespace detail

// Everything about one relationship member, resolved at compile time.
template <class Owner, auto Member>
struct relationship {
  using def = std::remove_cvref_t<
      std::tuple_element_t<detail::relation_index<Owner, Member>(), detail::relations_t<Owner>>>;
  using member_type = typename def::member_type;
  using target_type = typename def::target_type;
  static constexpr relation_kind kind = def::kind;
};

}  // namespace pgorm

namespace pgorm::detail {

// A relationship member resolved to the columns that link the two tables:
//   fk:  the foreign key column (in the child: Owner for BelongsTo, Target otherwise)
//   key: the column it references (in the parent)
//   inverse: index of the paired member in the other model's relationships, or npos
template <class Owner, auto Member>
struct resolved_relation {
  static constexpr std::size_t index = relation_index<Owner, Member>();
  static_assert(index != npos,
                "pgorm: this relationship member is not listed in its model's relationships");
  using def = std::remove_cvref_t<std::tuple_element_t<index, relations_t<Owner>>>;
  using member_type = typename def::member_type;
  using target = typename def::target_type;
  static constexpr relation_kind kind = def::kind;

  static constexpr auto find() {
    if constexpr (kind == relation_kind::belongs_to) {
      constexpr auto fk = member_type::foreign_key;
      return std::tuple{fk, referenced_member<fk>(),
                        inverse_collection_index<target, Owner, Member>()};
    } else if constexpr (kind == relation_kind::has_many || kind == relation_kind::has_one) {
      constexpr std::size_t inv = inverse_belongs_to_index<target, Owner, Member>();
      if constexpr (inv != npos) {
        using Inv = std::remove_cvref_t<std::tuple_element_t<inv, relations_t<target>>>;
        constexpr auto fk = Inv::member_type::foreign_key;
        return std::tuple{fk, referenced_member<fk>(), inv};
      } else {
        constexpr std::size_t col = unique_foreign_key_index<target, Owner>();
        static_assert(col != npos,
                      "pgorm: cannot tell which foreign key links this collection to its model: "
                      "declare the BelongsTo on the other model with back_populates<&This::member>");
        constexpr auto fk =
            std::tuple_element_t<col, typename model_traits<target>::columns_type>::member;
        return std::tuple{fk, referenced_member<fk>(), npos};
      }
    } else {
      using Through = typename member_type::through_type;
      constexpr std::size_t to_owner = unique_foreign_key_index<Through, Owner>();
      constexpr std::size_t to_target = unique_foreign_key_index<Through, target>();
      static_assert(to_owner != npos && to_target != npos,
                    "pgorm::ManyToMany: the association model needs exactly one foreign key to "
                    "each side");
      using Columns = typename model_traits<Through>::columns_type;
      constexpr auto owner_fk = std::tuple_element_t<to_owner, Columns>::member;
      constexpr auto target_fk = std::tuple_element_t<to_target, Columns>::member;
      return std::tuple{owner_fk, referenced_member<owner_fk>(), npos, target_fk,
                        referenced_member<target_fk>()};
    }
  }
  static constexpr auto found = find();
  static constexpr auto fk = std::get<0>(found);
  static constexpr auto key = std::get<1>(found);
  static constexpr std::size_t inverse = std::get<2>(found);
};

template <class Owner, auto Member>
  requires(resolved_relation<Owner, Member>::kind == relation_kind::many_to_many)
struct through_columns {
  static constexpr auto target_fk = std::get<3>(resolved_relation<Owner, Member>::found);
  static constexpr auto target_key = std::get<4>(resolved_relation<Owner, Member>::found);
};

// Reads a column's value out of any object that has it.
template <auto Member, class Object>
const auto& member_value(const Object& o) {
  using Owner = typename member_pointer_traits<decltype(Member)>::class_type;
  return static_cast<const Owner&>(o).*Member;
}
template <auto Member, class Object>
auto& member_value(Object& o) {
  using Owner = typename member_pointer_traits<decltype(Member)>::class_type;
  return static_cast<Owner&>(o).*Member;
}

// Text of a key value for matching rows to objects; nullopt for NULL.
template <class V>
std::optional<std::string> key_text(const V& value) {
  std::string out;
  if (!encode_value(value, out)) return std::nullopt;
  return out;
}

// Whether key values of type V (or std::optional<V>) match as std::int64_t: integers of at most
// 64 signed bits. Other keys match by their text (key_text).
template <class V>
inline constexpr bool integer_key_v = [] {
  using U = unwrap_optional_t<V>;
  return std::is_integral_v<U> && !std::is_same_v<U, bool> &&
         (std::is_signed_v<U> || sizeof(U) < sizeof(std::int64_t));
}();

// A key value as K (std::int64_t, for integer keys on both sides, or std::string: its text) for
// matching rows to objects; nullopt for NULL.
template <class K, class V>
std::optional<K> match_key(const V& value) {
  if constexpr (std::is_same_v<K, std::int64_t>) {
    if constexpr (is_optional_v<V>) {
      if (!value) return std::nullopt;
      return static_cast<std::int64_t>(*value);
    } else {
      return static_cast<std::int64_t>(value);
    }
  } else {
    return key_text(value);
  }
}

}  // namespace pgorm::detail
