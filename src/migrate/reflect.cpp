// Reading a schema back from pg_catalog: one query per kind of object for the whole schema, so
// reflection costs five round trips whatever the number of tables.
#include "pgorm/migrate/reflect.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "pgorm/engine/connection.hpp"
#include "pgorm/errors.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::migrate {

const TableInfo* Schema::table(std::string_view name) const noexcept {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

const EnumTypeInfo* Schema::enum_type(std::string_view name) const noexcept {
  for (const auto& e : enums)
    if (e.name == name) return &e;
  return nullptr;
}

std::string current_schema(Connection& connection) {
  auto rows = connection.query<std::optional<std::string>>("SELECT current_schema()::text");
  if (rows.empty() || !rows.front()) {
    ErrorInfo info;
    info.message = "the connection has no current schema (search_path names no existing schema)";
    throw ConfigurationError(std::move(info));
  }
  return *rows.front();
}

namespace {

referential_action action_of(const std::string& code) {
  if (code == "r") return referential_action::restrict;
  if (code == "c") return referential_action::cascade;
  if (code == "n") return referential_action::set_null;
  if (code == "d") return referential_action::set_default;
  return referential_action::no_action;
}

// "CHECK ((length(label) > 0))" -> "(length(label) > 0)": the expression as ADD CONSTRAINT ...
// CHECK (...) takes it back, so a constraint written from a reflection reflects the same again.
std::string check_expression(std::string definition) {
  constexpr std::string_view prefix = "CHECK (";
  constexpr std::string_view not_valid = " NOT VALID";
  if (definition.size() >= not_valid.size() &&
      definition.compare(definition.size() - not_valid.size(), not_valid.size(), not_valid) == 0)
    definition.resize(definition.size() - not_valid.size());
  if (definition.rfind(prefix, 0) == 0 && definition.back() == ')')
    return definition.substr(prefix.size(), definition.size() - prefix.size() - 1);
  return definition;
}

// integer + nextval() of an owned sequence is what serial expands to.
std::optional<std::string> serial_type(const std::string& type) {
  if (type == "integer") return "serial";
  if (type == "bigint") return "bigserial";
  if (type == "smallint") return "smallserial";
  return std::nullopt;
}

}  // namespace

Schema reflect(Connection& connection, std::string_view schema_name) {
  std::string schema = schema_name.empty() ? current_schema(connection) : std::string(schema_name);
  Schema out;
  std::map<std::string, TableInfo> tables;

  for (auto& name : connection.query<std::string>(
           "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
           schema)) {
    tables[name].name = name;
  }

  for (auto& [name, labels] : connection.query<std::tuple<std::string, std::vector<std::string>>>(
           "SELECT t.typname::text, COALESCE(array_agg(e.enumlabel::text ORDER BY e.enumsortorder) "
           "         FILTER (WHERE e.enumlabel IS NOT NULL), '{}') "
           "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
           "LEFT JOIN pg_enum e ON e.enumtypid = t.oid "
           "WHERE n.nspname = $1 AND t.typtype = 'e' GROUP BY t.typname ORDER BY t.typname",
           schema)) {
    out.enums.push_back({name, labels});
  }

  using ColumnRow =
      std::tuple<std::string, std::string, std::string, bool, std::optional<std::string>, bool,
                 std::string, std::optional<std::string>>;
  for (auto& [table, column, type, not_null, default_sql, owns_sequence, identity, enum_name] :
       connection.query<ColumnRow>(
           "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), "
           "       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
           "       pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
           "                              a.attname) IS NOT NULL, "
           "       a.attidentity::text, "
           "       CASE WHEN t.typtype = 'e' AND t.typnamespace = n.oid THEN t.typname::text "
           "            WHEN et.typtype = 'e' AND et.typnamespace = n.oid THEN et.typname::text "
           "       END "
           "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
           "JOIN pg_namespace n ON n.oid = c.relnamespace "
           "JOIN pg_type t ON t.oid = a.atttypid "
           "LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' "
           "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
           "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
           "  AND a.attnum > 0 AND NOT a.attisdropped "
           "ORDER BY c.relname, a.attnum",
           schema)) {
    auto it = tables.find(table);
    if (it == tables.end()) continue;
    ColumnInfo c;
    c.name = column;
    c.sql_type = type;
    c.nullable = !not_null;
    c.default_sql = default_sql;
    auto serial = serial_type(type);
    if (owns_sequence && serial && default_sql && default_sql->rfind("nextval(", 0) == 0) {
      c.sql_type = *serial;
      c.autoincrement = true;
      c.default_sql.reset();
    } else if (identity == "a" || identity == "d") {
      c.sql_type +=
          identity == "a" ? " GENERATED ALWAYS AS IDENTITY" : " GENERATED BY DEFAULT AS IDENTITY";
      c.autoincrement = true;
    }
    if (enum_name) {
      auto& enums = it->second.enums;
      const EnumTypeInfo* e = out.enum_type(*enum_name);
      if (e && std::none_of(enums.begin(), enums.end(),
                            [&](const EnumTypeInfo& x) { return x.name == e->name; }))
        enums.push_back(*e);
    }
    it->second.columns.push_back(std::move(c));
  }

  using ConstraintRow =
      std::tuple<std::string, std::string, std::string, std::string, std::vector<std::string>,
                 std::optional<std::string>, std::vector<std::string>, std::string, std::string>;
  for (auto& [table, name, kind, definition, columns, referred, referred_columns, on_delete,
              on_update] :
       connection.query<ConstraintRow>(
           "SELECT c.relname::text, con.conname::text, con.contype::text, "
           "       pg_get_constraintdef(con.oid), "
           "       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, i) "
           "             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num "
           "             ORDER BY k.i), "
           "       fc.relname::text, "
           "       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, i) "
           "             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num "
           "             ORDER BY k.i), "
           "       con.confdeltype::text, con.confupdtype::text "
           "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
           "JOIN pg_namespace n ON n.oid = c.relnamespace "
           "LEFT JOIN pg_class fc ON fc.oid = con.confrelid "
           "WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c') "
           "ORDER BY c.relname, con.conname",
           schema)) {
    auto it = tables.find(table);
    if (it == tables.end()) continue;
    TableInfo& t = it->second;
    if (kind == "p") {
      t.primary_key_name = name;
      t.primary_key = columns;
      for (auto& c : t.columns)
        if (std::find(columns.begin(), columns.end(), c.name) != columns.end())
          c.primary_key = true;
    } else if (kind == "u") {
      t.uniques.push_back({name, columns});
    } else if (kind == "f") {
      t.foreign_keys.push_back({name, columns, referred.value_or(""), referred_columns,
                                action_of(on_delete), action_of(on_update)});
    } else {
      t.checks.push_back({name, check_expression(definition)});
    }
  }

  using IndexRow = std::tuple<std::string, std::string, bool, std::optional<std::string>,
                              std::vector<std::string>>;
  for (auto& [table, name, unique, predicate, columns] : connection.query<IndexRow>(
           "SELECT c.relname::text, i.relname::text, ix.indisunique, "
           "       pg_get_expr(ix.indpred, ix.indrelid), "
           "       ARRAY(SELECT a.attname::text "
           "             FROM unnest((ix.indkey::int2[])[0:ix.indnkeyatts - 1]) "
           "                  WITH ORDINALITY k(num, i) "
           "             JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num "
           "             ORDER BY k.i) "
           "FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid "
           "JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
           "JOIN pg_am am ON am.oid = i.relam "
           "WHERE n.nspname = $1 AND ix.indexprs IS NULL AND am.amname = 'btree' "
           "  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid "
           "                  AND con.contype IN ('p', 'u', 'x')) "
           "ORDER BY c.relname, i.relname",
           schema)) {
    auto it = tables.find(table);
    if (it == tables.end()) continue;
    it->second.indexes.push_back({name, columns, unique, predicate.value_or("")});
  }

  for (auto& [name, table] : tables) out.tables.push_back(std::move(table));
  return out;
}

Schema reflect_models(Connection& connection, const Metadata& metadata) {
  std::random_device random;
  std::string scratch = fmt::format("pgorm_autogenerate_{}_{:08x}", ::getpid(), random());
  bool nested = connection.transaction_status() == TransactionStatus::in_transaction;
  std::string old_path = connection.query<std::string>("SELECT current_setting('search_path')")[0];
  connection.execute(nested ? "SAVEPOINT pgorm_reflect_models" : "BEGIN");
  try {
    connection.execute("CREATE SCHEMA " + sql::quote_identifier(scratch));
    connection.exec("SELECT set_config('search_path', $1, true)",
                    sql::quote_identifier(scratch) + ", " + old_path);
    for (const auto& statement : metadata.create_statements()) connection.execute(statement);
    Schema out = reflect(connection, scratch);
    connection.execute(nested ? "ROLLBACK TO SAVEPOINT pgorm_reflect_models" : "ROLLBACK");
    if (nested) connection.exec("SELECT set_config('search_path', $1, true)", old_path);
    // Reflection orders tables by name; keep the models' dependency order instead.
    Schema ordered;
    ordered.enums = std::move(out.enums);
    for (const auto& t : metadata.tables())
      if (const TableInfo* r = out.table(t.name)) ordered.tables.push_back(*r);
    return ordered;
  } catch (...) {
    if (connection.is_open()) {
      try {
        connection.execute(nested ? "ROLLBACK TO SAVEPOINT pgorm_reflect_models" : "ROLLBACK");
        if (nested) connection.exec("SELECT set_config('search_path', $1, true)", old_path);
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace pgorm::migrate
