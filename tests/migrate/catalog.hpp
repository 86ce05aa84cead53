// Test support for migrations: the schema snapshot and version table read from pg_catalog (with
// support/catalog.hpp, independent of pgorm::migrate::reflect), a scratch versions directory,
// and a Migrator on a test schema.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <pgorm/migrate/migrate.hpp>

#include "support/catalog.hpp"
#include "support/db.hpp"

namespace pgorm::test {

inline std::vector<std::string> catalog_versions(TestSchema& db) {
  return db.conn().query<std::string>("SELECT version_num::text FROM pgorm_version ORDER BY 1");
}

// Every table, column, constraint, index and enum of the schema as sorted text lines: two
// snapshots are equal when the server holds the same schema.
inline std::vector<std::string> catalog_snapshot(TestSchema& db) {
  std::vector<std::string> out;
  for (const auto& table : catalog_tables(db)) {
    for (const auto& [name, c] : catalog_columns(db, table))
      out.push_back(table + "." + name + " " + c.type + (c.not_null ? " NOT NULL" : "") +
                    (c.default_expr ? " DEFAULT " + *c.default_expr : ""));
    for (const auto& [name, def] : catalog_constraints(db, table))
      out.push_back(table + " constraint " + name + " " + def);
    for (auto [name, def] : catalog_indexes(db, table)) {
      // pg_get_indexdef qualifies the table with the schema, which differs between snapshots.
      std::string qualifier = db.name() + ".";
      for (auto at = def.find(qualifier); at != std::string::npos; at = def.find(qualifier))
        def.erase(at, qualifier.size());
      out.push_back(table + " index " + def);
    }
  }
  for (const auto& [type, labels] : catalog_enums(db)) {
    std::string line = "enum " + type;
    for (const auto& l : labels) line += " " + l;
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A fresh, empty directory under the system's temp dir, removed afterwards.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  // Writes a file in the directory and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

inline migrate::MigratorOptions migrator_options(TestSchema& db, const TempDir& dir) {
  migrate::MigratorOptions o;
  o.url = db.conninfo();
  o.directory = dir.path();
  o.lock_timeout = std::chrono::seconds(10);
  return o;
}

}  // namespace pgorm::test
