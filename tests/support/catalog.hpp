// What the server holds for a test schema, read from pg_catalog with queries written here
// (independent of pgorm's own DDL and of pgorm::migrate::reflect): the DDL and migration tests
// compare against it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "support/db.hpp"

namespace pgorm::test {

struct CatalogColumn {
  std::string type;  // format_type
  bool not_null = false;
  std::optional<std::string> default_expr;  // pg_get_expr
  friend bool operator==(const CatalogColumn&, const CatalogColumn&) = default;
};

inline std::map<std::string, CatalogColumn> catalog_columns(TestSchema& db,
                                                            const std::string& table) {
  auto rows =
      db.conn().query<std::tuple<std::string, std::string, bool, std::optional<std::string>>>(
          "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
          "       pg_get_expr(d.adbin, d.adrelid) "
          "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
          "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
          db.name(), table);
  std::map<std::string, CatalogColumn> out;
  for (auto& [name, type, not_null, def] : rows) out[name] = {type, not_null, def};
  return out;
}

// constraint name -> pg_get_constraintdef
inline std::map<std::string, std::string> catalog_constraints(TestSchema& db,
                                                              const std::string& table) {
  auto rows = db.conn().query<std::tuple<std::string, std::string>>(
      "SELECT con.conname::text, pg_get_constraintdef(con.oid) FROM pg_constraint con "
      "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2",
      db.name(), table);
  std::map<std::string, std::string> out;
  for (auto& [name, def] : rows) out[name] = def;
  return out;
}

// index name -> pg_indexes.indexdef (constraint-backed indexes included)
inline std::map<std::string, std::string> catalog_indexes(TestSchema& db,
                                                          const std::string& table) {
  auto rows = db.conn().query<std::tuple<std::string, std::string>>(
      "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
      db.name(), table);
  std::map<std::string, std::string> out;
  for (auto& [name, def] : rows) out[name] = def;
  return out;
}

inline std::vector<std::string> catalog_tables(TestSchema& db) {
  return db.conn().query<std::string>(
      "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1", db.name());
}

// enum type -> labels in order
inline std::map<std::string, std::vector<std::string>> catalog_enums(TestSchema& db) {
  auto rows = db.conn().query<std::tuple<std::string, std::string>>(
      "SELECT t.typname::text, e.enumlabel::text FROM pg_type t "
      "JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid "
      "WHERE n.nspname = $1 ORDER BY t.typname, e.enumsortorder",
      db.name());
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [type, label] : rows) out[type].push_back(label);
  return out;
}

}  // namespace pgorm::test
