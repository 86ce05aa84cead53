// Column declarations: pgorm::column<&Model::member>(options...) and the options it accepts.
#pragma once

#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "pgorm/model/naming.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

// ---- column options ----

struct primary_key_t {};
inline constexpr primary_key_t primary_key{};
struct unique_t {};
inline constexpr unique_t unique{};
struct index_t {};
// A plain index on the column. `indexed` is the name to use under `using namespace pgorm`:
// glibc's <strings.h> declares a function ::index, so an unqualified `index` is ambiguous there.
inline constexpr index_t indexed{};
inline constexpr index_t index{};  // the same as indexed
// Unique among rows that are not soft-deleted: a partial unique index WHERE deleted_at IS NULL.
struct unique_live_t {};
inline constexpr unique_live_t unique_live{};
// Auto-incrementing integer key (serial / bigserial), used by the key mixins.
struct serial_t {};
inline constexpr serial_t serial{};

// varchar(N) for a std::string member (the default for strings is text).
struct varchar {
  std::uint32_t length;
  constexpr explicit varchar(std::uint32_t n) : length(n) {}
};
struct text_t {};
inline constexpr text_t text{};
// numeric(precision, scale) for a pgorm::Decimal member.
struct numeric {
  int precision;
  int scale;
  constexpr numeric(int p, int s = 0) : precision(p), scale(s) {}
};
// Any other SQL type spelled out, e.g. pgorm::sql_type("citext"); the C++ codec stays the member's.
struct sql_type {
  std::string_view name;
  constexpr explicit sql_type(std::string_view n) : name(n) {}
};
// The column's name in the database when it differs from the member's name.
struct column_name {
  std::string_view name;
  constexpr explicit column_name(std::string_view n) : name(n) {}
};
// A SQL expression the server uses when the INSERT does not give the column:
// pgorm::server_default("now()").
struct server_default {
  std::string_view sql;
  constexpr explicit server_default(std::string_view s) : sql(s) {}
};
// The DDL DEFAULT from a C++ value: DEFAULT 'pending'::todo_status. Give the member the same
// initializer so new objects start with it too (C++ has no way to set it for you).
template <class T>
struct default_value_t {
  T value;
};
template <class T>
constexpr default_value_t<T> default_value(T v) {
  return {v};
}
// CHECK (sql). The name becomes ck_<table>_<name>; a column check without a name uses the column's.
struct check {
  std::string_view sql;
  std::string_view name = {};
  constexpr explicit check(std::string_view s, std::string_view n = {}) : sql(s), name(n) {}
};

enum class referential_action { no_action, restrict, cascade, set_null, set_default };
struct on_delete_t {
  referential_action action;
};
struct on_update_t {
  referential_action action;
};
namespace on_delete {
inline constexpr on_delete_t no_action{referential_action::no_action};
inline constexpr on_delete_t restrict {referential_action::restrict};
inline constexpr on_delete_t cascade{referential_action::cascade};
inline constexpr on_delete_t set_null{referential_action::set_null};
inline constexpr on_delete_t set_default{referential_action::set_default};
}  // namespace on_delete
namespace on_update {
inline constexpr on_update_t no_action{referential_action::no_action};
inline constexpr on_update_t restrict {referential_action::restrict};
inline constexpr on_update_t cascade{referential_action::cascade};
inline constexpr on_update_t set_null{referential_action::set_null};
inline constexpr on_update_t set_default{referential_action::set_default};
}  // namespace on_update

// A member pointer to a data member: `int Todo::*`, `std::string Timestamps::fields<Todo>::*`.
template <class T>
struct member_pointer_traits {
  static constexpr bool is_member = false;
};
template <class T>
struct member_pointer_traits<const T> : member_pointer_traits<T> {};
template <class C, class T>
struct member_pointer_traits<T C::*> {
  static constexpr bool is_member = !std::is_function_v<T>;
  using class_type = C;
  using member_type = T;
};

template <auto Target>
struct foreign_key_t {
  static constexpr auto target = Target;
  on_delete_t on_delete{referential_action::no_action};
  on_update_t on_update{referential_action::no_action};
};
// REFERENCES <target's table>(<target's column>), e.g. foreign_key<&User::id>(on_delete::cascade).
template <auto Target, class... Actions>
constexpr foreign_key_t<Target> foreign_key(Actions... actions) {
  static_assert(
      member_pointer_traits<decltype(Target)>::is_member,
      "pgorm::foreign_key<&Model::member>: the target must be a pointer to a data member");
  static_assert(
      ((std::is_same_v<Actions, on_delete_t> || std::is_same_v<Actions, on_update_t>)&&...),
      "pgorm::foreign_key options are pgorm::on_delete::... and pgorm::on_update::...");
  foreign_key_t<Target> fk;
  (
      [&] {
        if constexpr (std::is_same_v<Actions, on_delete_t>)
          fk.on_delete = actions;
        else
          fk.on_update = actions;
      }(),
      ...);
  return fk;
}

template <class T>
struct is_foreign_key : std::false_type {};
template <auto Target>
struct is_foreign_key<foreign_key_t<Target>> : std::true_type {};
template <class T>
struct is_default_value : std::false_type {};
template <class T>
struct is_default_value<default_value_t<T>> : std::true_type {};

// ---- the column declaration ----

template <auto Member, class... Options>
struct column_def {
  using traits = member_pointer_traits<decltype(Member)>;
  using member_type = typename traits::member_type;   // e.g. std::optional<std::string>
  using value_type = unwrap_optional_t<member_type>;  // e.g. std::string
  using owner_type = typename traits::class_type;     // the class that declares the member
  static constexpr auto member = Member;
  static constexpr bool nullable = is_optional_v<member_type>;

  std::tuple<Options...> options;

  template <class O>
  static constexpr bool has = (std::is_same_v<O, Options> || ...);
  static constexpr bool has_foreign_key = (is_foreign_key<Options>::value || ...);
  static constexpr bool has_default_value = (is_default_value<Options>::value || ...);

  template <class O>
  constexpr const O& get() const {
    return std::get<O>(options);
  }

  // The column's name in the database.
  constexpr std::string_view name() const {
    if constexpr (has<column_name>)
      return get<column_name>().name;
    else
      return naming::member_name<Member>();
  }

  // Read and write the member of an object of any model that has it.
  template <class Model>
  static constexpr const member_type& ref(const Model& m) noexcept {
    return static_cast<const owner_type&>(m).*Member;
  }
  template <class Model>
  static constexpr member_type& ref(Model& m) noexcept {
    return static_cast<owner_type&>(m).*Member;
  }
};

namespace detail {
template <class O>
inline constexpr bool is_column_option =
    std::is_same_v<O, primary_key_t> || std::is_same_v<O, unique_t> || std::is_same_v<O, index_t> ||
    std::is_same_v<O, unique_live_t> || std::is_same_v<O, serial_t> || std::is_same_v<O, varchar> ||
    std::is_same_v<O, text_t> || std::is_same_v<O, numeric> || std::is_same_v<O, sql_type> ||
    std::is_same_v<O, column_name> || std::is_same_v<O, server_default> ||
    std::is_same_v<O, check> || is_foreign_key<O>::value || is_default_value<O>::value;
template <class O, class V>
inline constexpr bool default_fits = true;
template <class T, class V>
inline constexpr bool default_fits<default_value_t<T>, V> = std::is_constructible_v<V, T>;
template <class O, class V>
inline constexpr bool foreign_key_fits = true;
template <auto Target, class V>
inline constexpr bool foreign_key_fits<foreign_key_t<Target>, V> =
    std::is_same_v<unwrap_optional_t<typename member_pointer_traits<decltype(Target)>::member_type>,
                   V>;
// A server default applies when the INSERT sends DEFAULT, which pgorm does when the member holds
// its "unset" value: std::nullopt, or the default-constructed value of a type where that is no
// value a user writes (the nil UUID, the epoch Timestamp{}, an empty Date). For numbers, bool,
// enums and strings the default-constructed value (0, false, "") is an ordinary value, so a server
// default there would replace values the user set on purpose.
template <class V>
inline constexpr bool server_default_fits =
    is_optional_v<V> || !(std::is_arithmetic_v<V> || std::is_enum_v<V> ||
                          std::is_same_v<V, std::string> || std::is_same_v<V, bool>);
template <class... Os>
inline constexpr bool has_duplicates = false;
template <class O, class... Os>
inline constexpr bool has_duplicates<O, Os...> =
    (std::is_same_v<O, Os> || ...) || has_duplicates<Os...>;
}  // namespace detail

// Declares one column of a model: pgorm::column<&Todo::title>(pgorm::varchar(255), pgorm::indexed).
template <auto Member, class... Options>
constexpr auto column(Options... options) {
  using traits = member_pointer_traits<decltype(Member)>;
  static_assert(traits::is_member,
                "pgorm::column<&Model::member>: the argument must be a pointer to a data member");
  using member_type = typename traits::member_type;
  static_assert(column_type<member_type>,
                "pgorm::column: this member's C++ type has no PostgreSQL mapping. Use a mapped "
                "type (see docs/models.md) or specialize pgorm::type_traits<T> for it.");
  static_assert((detail::is_column_option<Options> && ...),
                "pgorm::column: unknown option; see docs/models.md for the column options");
  static_assert(!detail::has_duplicates<Options...>,
                "pgorm::column: the same option is given twice");
  using value_type = unwrap_optional_t<member_type>;
  static_assert(
      !(std::is_same_v<Options, varchar> || ...) || std::is_same_v<value_type, std::string>,
      "pgorm::varchar(N) applies to std::string members only");
  static_assert(
      !(std::is_same_v<Options, text_t> || ...) || std::is_same_v<value_type, std::string>,
      "pgorm::text applies to std::string members only");
  static_assert(!((std::is_same_v<Options, primary_key_t> || ...) && is_optional_v<member_type>),
                "pgorm::primary_key: a primary key column cannot be std::optional (NULL)");
  static_assert(!(std::is_same_v<Options, server_default> || ...) ||
                    (std::is_same_v<Options, serial_t> || ...) ||
                    detail::server_default_fits<member_type>,
                "pgorm::server_default on a number, bool, enum or string member: pgorm cannot "
                "tell a value you set (0, false, \"\") from an unset one, so the server default "
                "would replace it. Make the member std::optional<T> (std::nullopt sends DEFAULT) "
                "or declare the default with pgorm::default_value(v)");
  static_assert((detail::default_fits<Options, value_type> && ...),
                "pgorm::default_value: the default's type does not match the member's type");
  static_assert((detail::foreign_key_fits<Options, value_type> && ...),
                "pgorm::foreign_key: the column's C++ type differs from the referenced column's");
  return column_def<Member, Options...>{std::tuple<Options...>{options...}};
}

// The list of a model's own columns: static constexpr auto columns = pgorm::columns(...);
template <class... Defs>
constexpr auto columns(Defs... defs) {
  return std::tuple<Defs...>{defs...};
}

// ---- table-level declarations (static constexpr auto table_args = pgorm::table_args(...)) ----

template <auto... Members>
struct unique_constraint_t {};
template <auto... Members>
struct index_on_t {
  bool unique = false;
  std::string_view where = {};  // partial index predicate (SQL)
};
template <auto... Members>
struct primary_key_on_t {};
// UNIQUE (a, b)
template <auto... Members>
constexpr unique_constraint_t<Members...> unique_constraint() {
  static_assert(sizeof...(Members) > 0, "pgorm::unique_constraint needs at least one column");
  return {};
}
// CREATE INDEX ON table (a, b) [WHERE ...]
template <auto... Members>
constexpr index_on_t<Members...> index_on(std::string_view where = {}) {
  static_assert(sizeof...(Members) > 0, "pgorm::index_on needs at least one column");
  return {false, where};
}
template <auto... Members>
constexpr index_on_t<Members...> unique_index_on(std::string_view where = {}) {
  static_assert(sizeof...(Members) > 0, "pgorm::unique_index_on needs at least one column");
  return {true, where};
}
// PRIMARY KEY (a, b): a composite key, for models using the pgorm::CustomKey mixin.
template <auto... Members>
constexpr primary_key_on_t<Members...> primary_key_on() {
  static_assert(sizeof...(Members) > 0, "pgorm::primary_key_on needs at least one column");
  return {};
}

template <class... Args>
constexpr auto table_args(Args... args) {
  return std::tuple<Args...>{args...};
}

}  // namespace pgorm
