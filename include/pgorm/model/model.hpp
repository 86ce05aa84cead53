// pgorm::Model<Derived, Mixins...>: the base of every model, and model_traits, the compile-time
// description of a model (its table name and full column list).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "pgorm/model/column.hpp"
#include "pgorm/model/kept_text.hpp"
#include "pgorm/model/mixins.hpp"
#include "pgorm/model/naming.hpp"

namespace pgorm {

namespace detail {
template <class... Ts>
struct type_list {};

template <class M>
concept key_mixin = requires { M::is_key_mixin; };
template <class M>
concept table_name_mixin = requires { M::is_table_name_mixin; };
template <class M>
concept soft_delete_mixin = requires { M::is_soft_delete_mixin; };
template <class M>
concept timestamps_mixin = requires { M::is_timestamps_mixin; };
template <class M>
concept versioned_mixin = requires { M::is_versioned_mixin; };
template <class M>
concept mixin = requires { typename M::template fields<int>; };

// The key mixin goes first; IntKey when none is named.
template <class... Ms>
using with_key_t =
    std::conditional_t<(key_mixin<Ms> || ...), type_list<Ms...>, type_list<IntKey, Ms...>>;

template <class D, class List>
struct model_base;
template <class D, class... Ms>
struct model_base<D, type_list<Ms...>> : Ms::template fields<D>... {
  using mixins = type_list<Ms...>;
};
}  // namespace detail

// Derive a model from Model<Self, Mixins...>:
//   struct Todo : pgorm::Model<Todo, pgorm::Timestamps, pgorm::SoftDelete> { ... };
template <class Derived, class... Mixins>
struct Model : detail::model_base<Derived, detail::with_key_t<Mixins...>> {
  static_assert((detail::mixin<Mixins> && ...),
                "pgorm::Model<Self, Mixins...>: every mixin needs a nested fields<Model> template "
                "(IntKey, BigIntKey, UuidKey, CustomKey, Timestamps, SoftDelete, TableName<...>)");
  static_assert((detail::key_mixin<Mixins> + ... + 0) <= 1,
                "pgorm::Model: name at most one key mixin (IntKey, BigIntKey, UuidKey, CustomKey)");
  static_assert((detail::table_name_mixin<Mixins> + ... + 0) <= 1,
                "pgorm::Model: name at most one TableName<...>");
  using pgorm_model = Derived;
};

// A class derived from pgorm::Model<Itself, ...>.
template <class T>
concept model = requires { typename T::pgorm_model; typename T::mixins; } &&
                std::is_same_v<typename T::pgorm_model, T> && std::is_class_v<T>;

// The model a member belongs to: &Todo::title and &Todo::id (from a mixin) both give Todo.
template <class Owner>
using model_of_t = typename Owner::pgorm_model;

namespace detail {
template <class T>
constexpr auto own_columns() {
  if constexpr (requires { T::columns; })
    return T::columns;
  else
    return std::tuple<>{};
}
template <class T, class... Ms>
constexpr auto key_columns(type_list<Ms...>) {
  return std::tuple_cat([] {
    if constexpr (key_mixin<Ms>)
      return Ms::template columns<T>();
    else
      return std::tuple<>{};
  }()...);
}
template <class T, class... Ms>
constexpr auto mixin_columns(type_list<Ms...>) {
  return std::tuple_cat([] {
    if constexpr (!key_mixin<Ms>)
      return Ms::template columns<T>();
    else
      return std::tuple<>{};
  }()...);
}
template <class... Ms>
constexpr bool any_soft_delete(type_list<Ms...>) {
  return (soft_delete_mixin<Ms> || ...);
}
template <class... Ms>
constexpr bool any_timestamps(type_list<Ms...>) {
  return (timestamps_mixin<Ms> || ...);
}
template <class... Ms>
constexpr bool any_versioned(type_list<Ms...>) {
  return (versioned_mixin<Ms> || ...);
}
template <class... Ms>
constexpr std::string_view explicit_table_name(type_list<Ms...>) {
  std::string_view name;
  (
      [&] {
        if constexpr (table_name_mixin<Ms>) name = Ms::name;
      }(),
      ...);
  return name;
}
template <class T, class Defs, std::size_t... I>
constexpr bool columns_belong_to(std::index_sequence<I...>) {
  return (std::is_base_of_v<typename std::tuple_element_t<I, Defs>::owner_type, T> && ...);
}
template <class... Ms>
constexpr auto key_mixin_of(type_list<Ms...>) {
  return std::tuple_cat([] {
    if constexpr (key_mixin<Ms>)
      return std::tuple<Ms>{};
    else
      return std::tuple<>{};
  }()...);
}
}  // namespace detail

// Everything pgorm knows about a model at compile time.
template <model T>
struct model_traits {
  using mixins = typename T::mixins;
  using key_mixin = std::tuple_element_t<0, decltype(detail::key_mixin_of(mixins{}))>;

  // Every column in table order: key, the model's own columns, then the mixins' columns.
  static constexpr auto columns =
      std::tuple_cat(detail::key_columns<T>(mixins{}), detail::own_columns<T>(),
                     detail::mixin_columns<T>(mixins{}));
  using columns_type = std::remove_const_t<decltype(columns)>;
  static constexpr std::size_t column_count = std::tuple_size_v<columns_type>;
  static_assert(
      detail::columns_belong_to<T, columns_type>(std::make_index_sequence<column_count>{}),
      "pgorm: a model's columns must be its own members: column<&Other::x> appears in "
      "the columns of a different model");

  static constexpr bool soft_delete = detail::any_soft_delete(mixins{});
  static constexpr bool timestamps = detail::any_timestamps(mixins{});
  static constexpr bool versioned = detail::any_versioned(mixins{});

  // The table name: TableName<"..."> if given, else the plural snake_case of the class name.
  static const std::string& table_name() {
    static const std::string name = [] {
      constexpr std::string_view explicit_name = detail::explicit_table_name(mixins{});
      if constexpr (!explicit_name.empty())
        return std::string(explicit_name);
      else
        return naming::table_name_for(naming::class_name<T>());
    }();
    return name;
  }

  // Calls f(column_def) for each column, in table order.
  template <class F>
  static constexpr void for_each_column(F&& f) {
    std::apply([&](const auto&... defs) { (f(defs), ...); }, columns);
  }

  // The index of the column declared for `Member`, or column_count if there is none.
  template <auto Member>
  static constexpr std::size_t column_index() {
    std::size_t found = column_count;
    std::size_t i = 0;
    for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if constexpr (std::is_same_v<std::remove_cv_t<decltype(Def::member)>,
                                   std::remove_cv_t<decltype(Member)>>) {
        if (Def::member == Member && found == column_count) found = i;
      }
      ++i;
    });
    return found;
  }

  template <auto Member>
  static constexpr bool has_column = column_index<Member>() < column_count;
};

// The column declaration of a member, e.g. column_of<Todo, &Todo::title>.
template <model T, auto Member>
  requires(model_traits<T>::template has_column<Member>)
using column_of_t = std::remove_cvref_t<
    std::tuple_element_t<model_traits<T>::template column_index<Member>(),
                         typename model_traits<T>::columns_type>>;

namespace detail {
// Whether a member holds the same value as before, for dirty checking: a NaN equals a NaN (it was
// read back as NaN, so nothing changed), element by element inside optionals and arrays.
template <class V>
bool same_value(const V& a, const V& b) {
  if constexpr (std::is_floating_point_v<V>) {
    return a == b || (a != a && b != b);
  } else if constexpr (requires { a.has_value(); *a; }) {
    return a.has_value() == b.has_value() && (!a.has_value() || same_value(*a, *b));
  } else if constexpr (requires { a.size(); a.begin(); typename V::value_type; } &&
                       !std::is_same_v<V, std::string>) {
    if (a.size() != b.size()) return false;
    auto j = b.begin();
    for (auto i = a.begin(); i != a.end(); ++i, ++j)
      if (!same_value(*i, *j)) return false;
    return true;
  } else {
    return a == b;
  }
}
}  // namespace detail

// Compares every column of two objects of the same model (a NaN equals a NaN).
template <model T>
bool equal_columns(const T& a, const T& b) {
  bool same = true;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (same && !detail::same_value(Def::ref(a), Def::ref(b))) same = false;
  });
  return same;
}

namespace detail {
// What ColumnValues keeps of a column of member type V: V itself, or a KeptText for a text column
// that is not declared a primary key (the identity map's keys are built from the kept values of
// those, and are read far more often than text columns are).
template <class V>
inline constexpr bool text_member =
    std::is_same_v<V, std::string> || std::is_same_v<V, std::optional<std::string>>;
template <class Def>
inline constexpr bool key_column = Def::template has<primary_key_t>;
template <class Def, class V, bool Text = text_member<V> && !key_column<Def>>
struct kept_type {
  using type = V;
};
template <class Def, class V>
struct kept_type<Def, V, true> {
  using type = KeptText;
};
}  // namespace detail

// The column values of one object of T without its other members (relationships and anything
// else that is not a column): what the unit of work keeps of each tracked row to find changes.
template <model T>
class ColumnValues {
  template <class Defs>
  struct tuple_of;
  template <class... Defs>
  struct tuple_of<std::tuple<Defs...>> {
    using type = std::tuple<typename detail::kept_type<
        Defs, std::remove_cvref_t<decltype(Defs::ref(std::declval<T&>()))>>::type...>;
  };
  using Values = typename tuple_of<typename model_traits<T>::columns_type>::type;
  static constexpr std::size_t kCount = model_traits<T>::column_count;

  // f(def, value) for each column, in table order.
  template <class V, class F>
  static void each(V& values, F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::get<I>(model_traits<T>::columns), std::get<I>(values)), ...);
    }(std::make_index_sequence<kCount>{});
  }

  template <class M, class K>
  static void keep(const M& member, K& kept) {
    if constexpr (std::is_same_v<K, detail::KeptText>)
      kept.assign(member);
    else
      kept = member;
  }
  template <class M, class K>
  static bool holds(const M& member, const K& kept) {
    if constexpr (std::is_same_v<K, detail::KeptText>)
      return kept.equals(member);
    else
      return detail::same_value(member, kept);
  }

 public:
  ColumnValues() = default;
  explicit ColumnValues(const T& object) { assign(object); }

  // Takes the object's column values.
  void assign(const T& object) {
    each(values_, [&](const auto& def, auto& value) {
      using Def = std::remove_cvref_t<decltype(def)>;
      keep(Def::ref(object), value);
    });
  }
  // Writes them back into the object's columns; its other members are left as they are.
  void restore(T& object) const {
    each(values_, [&](const auto& def, const auto& value) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>, detail::KeptText>)
        value.restore(Def::ref(object));
      else
        Def::ref(object) = value;
    });
  }
  // Whether the object's columns hold these values (a NaN equals a NaN).
  bool equals(const T& object) const {
    bool same = true;
    each(values_, [&](const auto& def, const auto& value) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if (same && !holds(Def::ref(object), value)) same = false;
    });
    return same;
  }
  // Whether the object's column `Def` holds the kept value.
  template <class Def>
  bool same(const T& object) const {
    return holds(Def::ref(object), std::get<index<Def>()>(values_));
  }
  // The value of the column `Def` (a column declaration of T), as its member's type: a reference
  // to it, or for a kept text a copy.
  template <class Def>
  decltype(auto) get() const {
    const auto& kept = std::get<index<Def>()>(values_);
    using Member = std::remove_cvref_t<decltype(Def::ref(std::declval<const T&>()))>;
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(kept)>, detail::KeptText> &&
                  !std::is_same_v<Member, detail::KeptText>)
      return kept.template as<Member>();
    else
      return (kept);
  }

 private:
  template <class Def>
  static constexpr std::size_t index() {
    return model_traits<T>::template column_index<Def::member>();
  }

  Values values_{};
};

namespace detail {
// The value of column `Def` in an object or in the column values kept of one.
template <class Def, model T>
const auto& column_ref(const T& object) {
  return Def::ref(object);
}
template <class Def, model T>
decltype(auto) column_ref(const ColumnValues<T>& values) {
  return values.template get<Def>();
}
// The model of an object or of the column values kept of one.
template <class S>
struct source_model {
  using type = S;
};
template <class T>
struct source_model<ColumnValues<T>> {
  using type = T;
};
template <class S>
using source_model_t = typename source_model<S>::type;
}  // namespace detail

// Copies every column value of `from` into `to`; relationship members are left as they are.
template <model T>
void copy_columns(T& to, const T& from) {
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    Def::ref(to) = Def::ref(from);
  });
}

}  // namespace pgorm
