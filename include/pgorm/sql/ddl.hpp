// DDL text for tables, indexes, constraints and enum types, from their runtime descriptions.
// Metadata::create_all and the migration generator both write their SQL here.
#pragma once

#include <string>
#include <string_view>

#include "pgorm/model/metadata.hpp"

namespace pgorm::sql {

std::string_view referential_action_sql(referential_action action);

// CREATE TYPE ... AS ENUM, wrapped so that it is a no-op when the type exists.
std::string create_enum_type(const EnumTypeInfo& type);
std::string drop_enum_type(std::string_view name);

// Column definition inside CREATE TABLE / ADD COLUMN: "title" varchar(255) NOT NULL DEFAULT ...
std::string column_definition(const ColumnInfo& column);

struct CreateTableOptions {
  bool if_not_exists = true;
  // Foreign keys whose name is listed here are left out (created later by add_foreign_key).
  std::vector<std::string> skip_foreign_keys;
};
std::string create_table(const TableInfo& table, const CreateTableOptions& options = {});
std::string drop_table(std::string_view table, bool if_exists = true);

std::string foreign_key_clause(const ForeignKeyInfo& fk);  // CONSTRAINT ... FOREIGN KEY ...
// ALTER TABLE ... ADD CONSTRAINT ..., a no-op when the constraint already exists (if_not_exists).
std::string add_foreign_key(std::string_view table, const ForeignKeyInfo& fk,
                            bool if_not_exists = true);
std::string drop_constraint(std::string_view table, std::string_view name, bool if_exists = true);

std::string create_index(std::string_view table, const IndexInfo& index, bool if_not_exists = true);
std::string drop_index(std::string_view name, bool if_exists = true);

}  // namespace pgorm::sql
