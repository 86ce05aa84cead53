// The runtime description of tables (TableInfo) and pgorm::Metadata, the registry of a program's
// models that emits the schema's DDL (create_all / drop_all).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/model/model.hpp"
#include "pgorm/types/array.hpp"
#include "pgorm/types/enum.hpp"

namespace pgorm {

class Connection;

struct ColumnInfo {
  std::string name;
  std::string sql_type;            // as written in DDL: "varchar(255)", "\"todo_status\"", "integer[]"
  bool nullable = false;
  bool primary_key = false;
  bool autoincrement = false;      // serial / bigserial
  std::optional<std::string> default_sql;  // DEFAULT expression (server_default or default_value)
  friend bool operator==(const ColumnInfo&, const ColumnInfo&) = default;
};

struct UniqueInfo {
  std::string name;
  std::vector<std::string> columns;
  friend bool operator==(const UniqueInfo&, const UniqueInfo&) = default;
};

struct IndexInfo {
  std::string name;
  std::vector<std::string> columns;
  bool unique = false;
  std::string where;  // partial index predicate, empty for a full index
  friend bool operator==(const IndexInfo&, const IndexInfo&) = default;
};

struct ForeignKeyInfo {
  std::string name;
  std::vector<std::string> columns;
  std::string referred_table;
  std::vector<std::string> referred_columns;
  referential_action on_delete = referential_action::no_action;
  referential_action on_update = referential_action::no_action;
  friend bool operator==(const ForeignKeyInfo&, const ForeignKeyInfo&) = default;
};

struct CheckInfo {
  std::string name;
  std::string sql;
  friend bool operator==(const CheckInfo&, const CheckInfo&) = default;
};

struct TableInfo {
  std::string name;
  std::vector<ColumnInfo> columns;
  std::string primary_key_name;
  std::vector<std::string> primary_key;  // column names
  std::vector<UniqueInfo> uniques;
  std::vector<IndexInfo> indexes;
  std::vector<ForeignKeyInfo> foreign_keys;
  std::vector<CheckInfo> checks;
  std::vector<EnumTypeInfo> enums;  // enum types the columns use
  bool soft_delete = false;

  const ColumnInfo* column(std::string_view name) const noexcept;
};

namespace detail {
template <class T>
struct vector_element {
  using type = void;
};
template <class T>
struct vector_element<std::vector<T>> {
  using type = T;
};

template <class T>
void collect_enums(std::vector<EnumTypeInfo>& out) {
  using V = unwrap_optional_t<T>;
  using Element = typename vector_element<V>::type;
  if constexpr (database_enum<V>) {
    out.push_back(enum_type_info<V>());
  } else if constexpr (!std::is_void_v<Element> && column_type<Element>) {
    collect_enums<Element>(out);
  }
}

// Column name of `Member` in its model (honours pgorm::column_name).
template <auto Member>
std::string column_name_of() {
  using Model = model_of_t<typename member_pointer_traits<decltype(Member)>::class_type>;
  static_assert(model_traits<Model>::template has_column<Member>,
                "pgorm: this member is not declared in its model's columns");
  return std::string(std::get<model_traits<Model>::template column_index<Member>()>(
                         model_traits<Model>::columns)
                         .name());
}

template <auto... Members>
std::vector<std::string> column_names_of() {
  return {column_name_of<Members>()...};
}

template <auto Target>
ForeignKeyInfo foreign_key_info(const std::string& table, std::string column,
                                const foreign_key_t<Target>& fk) {
  using Target_model = model_of_t<typename member_pointer_traits<decltype(Target)>::class_type>;
  ForeignKeyInfo info;
  info.columns = {std::move(column)};
  info.referred_table = model_traits<Target_model>::table_name();
  info.referred_columns = {column_name_of<Target>()};
  info.on_delete = fk.on_delete.action;
  info.on_update = fk.on_update.action;
  info.name = naming::foreign_key_name(table, info.columns, info.referred_table);
  return info;
}

// The DEFAULT clause text for a client value: a literal cast to the column's type.
std::string default_literal(std::string_view encoded, std::string_view sql_type);

template <class Arg>
void add_table_arg(TableInfo& table, const Arg& arg);
}  // namespace detail

namespace detail {
// Whether select<T>() results are read in PostgreSQL's binary format: every column's C++ type reads
// binary (binary_readable) and no column declares a type it does not read in binary (numeric(p,s),
// or a pgorm::sql_type such as jsonb over std::string). Otherwise the model is read as text.
template <model T>
bool binary_rows() {
  static const bool all = [] {
    bool yes = true;
    model_traits<T>::for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      using V = typename Def::value_type;
      if constexpr (!binary_readable<V> || Def::template has<numeric>)
        yes = false;
      else if constexpr (Def::template has<sql_type>)
        yes = yes && type_traits<V>::binary_declared(def.template get<sql_type>().name);
    });
    return yes;
  }();
  return all;
}
}  // namespace detail

// The runtime description of a model's table, built once.
template <model T>
const TableInfo& table_info() {
  static const TableInfo info = [] {
    TableInfo t;
    t.name = model_traits<T>::table_name();
    t.soft_delete = model_traits<T>::soft_delete;
    t.primary_key_name = naming::primary_key_name(t.name);
    model_traits<T>::for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      using V = typename Def::value_type;
      ColumnInfo c;
      c.name = std::string(def.name());
      c.nullable = Def::nullable;
      c.primary_key = Def::template has<primary_key_t>;
      c.autoincrement = Def::template has<serial_t>;
      if constexpr (Def::template has<serial_t>)
        c.sql_type = std::is_same_v<V, std::int64_t> ? "bigserial" : "serial";
      else if constexpr (Def::template has<sql_type>)
        c.sql_type = std::string(def.template get<sql_type>().name);
      else if constexpr (Def::template has<varchar>)
        c.sql_type = "varchar(" + std::to_string(def.template get<varchar>().length) + ")";
      else if constexpr (Def::template has<numeric>)
        c.sql_type = "numeric(" + std::to_string(def.template get<numeric>().precision) + "," +
                     std::to_string(def.template get<numeric>().scale) + ")";
      else
        c.sql_type = type_traits<V>::sql_type();
      if constexpr (Def::template has<server_default>)
        c.default_sql = std::string(def.template get<server_default>().sql);
      if constexpr (Def::has_default_value) {
        std::apply(
            [&](const auto&... opts) {
              (
                  [&](const auto& opt) {
                    if constexpr (is_default_value<std::remove_cvref_t<decltype(opt)>>::value) {
                      std::string encoded;
                      encode_value(V(opt.value), encoded);
                      c.default_sql = detail::default_literal(encoded, c.sql_type);
                    }
                  }(opts),
                  ...);
            },
            def.options);
      }
      if (c.primary_key) t.primary_key.push_back(c.name);
      if constexpr (Def::template has<unique_t>)
        t.uniques.push_back({naming::unique_name(t.name, {c.name}), {c.name}});
      if constexpr (Def::template has<index_t>)
        t.indexes.push_back({naming::index_name(t.name, {c.name}), {c.name}, false, {}});
      if constexpr (Def::template has<unique_live_t>) {
        // Through Def, so that clang 16 does not check it for columns without unique_live.
        static_assert(Def::template has<unique_live_t> && model_traits<T>::soft_delete,
                      "pgorm::unique_live applies to SoftDelete models only");
        t.indexes.push_back({naming::unique_name(t.name, {c.name}), {c.name}, true,
                             "deleted_at IS NULL"});
      }
      if constexpr (Def::template has<check>) {
        const check& ck = def.template get<check>();
        t.checks.push_back(
            {naming::check_name(t.name, ck.name.empty() ? c.name : std::string(ck.name)),
             std::string(ck.sql)});
      }
      std::apply(
          [&](const auto&... opts) {
            (
                [&](const auto& opt) {
                  if constexpr (is_foreign_key<std::remove_cvref_t<decltype(opt)>>::value)
                    t.foreign_keys.push_back(detail::foreign_key_info(t.name, c.name, opt));
                }(opts),
                ...);
          },
          def.options);
      detail::collect_enums<typename Def::member_type>(t.enums);
      t.columns.push_back(std::move(c));
    });
    if constexpr (requires { T::table_args; }) {
      std::apply([&](const auto&... args) { (detail::add_table_arg(t, args), ...); },
                 T::table_args);
    }
    return t;
  }();
  return info;
}

namespace detail {
template <class Arg>
void add_table_arg(TableInfo& table, const Arg& arg) {
  if constexpr (requires { []<auto... Ms>(const unique_constraint_t<Ms...>&) {}(arg); }) {
    [&]<auto... Ms>(const unique_constraint_t<Ms...>&) {
      auto cols = column_names_of<Ms...>();
      table.uniques.push_back({naming::unique_name(table.name, cols), cols});
    }(arg);
  } else if constexpr (requires { []<auto... Ms>(const index_on_t<Ms...>&) {}(arg); }) {
    [&]<auto... Ms>(const index_on_t<Ms...>& ix) {
      auto cols = column_names_of<Ms...>();
      std::string name =
          ix.unique ? naming::unique_name(table.name, cols) : naming::index_name(table.name, cols);
      table.indexes.push_back({std::move(name), cols, ix.unique, std::string(ix.where)});
    }(arg);
  } else if constexpr (requires { []<auto... Ms>(const primary_key_on_t<Ms...>&) {}(arg); }) {
    [&]<auto... Ms>(const primary_key_on_t<Ms...>&) {
      table.primary_key = column_names_of<Ms...>();
      for (auto& c : table.columns)
        for (auto& k : table.primary_key)
          if (c.name == k) c.primary_key = true;
    }(arg);
  } else if constexpr (std::is_same_v<Arg, check>) {
    table.checks.push_back(
        {naming::check_name(table.name, arg.name.empty() ? "check" : arg.name),
         std::string(arg.sql)});
  } else {
    static_assert(sizeof(Arg) == 0,
                  "pgorm::table_args accepts unique_constraint<...>(), index_on<...>(), "
                  "unique_index_on<...>(), primary_key_on<...>() and check(sql, name)");
  }
}
}  // namespace detail

// All the tables of a program, for create_all / drop_all and for migrations:
//   auto metadata = pgorm::Metadata::of<User, Todo, ApiKey>();
class Metadata {
 public:
  Metadata() = default;
  // Defined in the library, so that a file using Metadata does not compile the destruction of
  // its table descriptions.
  Metadata(const Metadata&);
  Metadata(Metadata&&) noexcept;
  Metadata& operator=(const Metadata&);
  Metadata& operator=(Metadata&&) noexcept;
  ~Metadata();

  template <model... Ts>
  static Metadata of() {
    Metadata m;
    (m.add<Ts>(), ...);
    return m;
  }

  template <model T>
  Metadata& add() {
    return add_table(table_info<T>());
  }
  // Adds a table description (models call this through add<T>()); replaces one of the same name.
  Metadata& add_table(const TableInfo& table);

  // Tables ordered so that every table comes after the tables it references.
  const std::vector<TableInfo>& tables() const noexcept { return sorted_; }
  const TableInfo* table(std::string_view name) const noexcept;
  // Enum types used by any table, each once, in first-use order.
  std::vector<EnumTypeInfo> enums() const;

  // The DDL, each statement idempotent: enum types, tables in dependency order, indexes, then
  // foreign keys that close a cycle between tables.
  std::vector<std::string> create_statements() const;
  // DROP ... IF EXISTS in reverse dependency order, then the enum types.
  std::vector<std::string> drop_statements() const;
  // The statements above joined into one reviewable script.
  std::string create_sql() const;
  std::string drop_sql() const;

  // Runs create_statements() / drop_statements() in one transaction.
  void create_all(Connection& connection) const;
  void drop_all(Connection& connection) const;

 private:
  void sort();
  std::vector<TableInfo> tables_;  // in the order added
  std::vector<TableInfo> sorted_;
};

}  // namespace pgorm
