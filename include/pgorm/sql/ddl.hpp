// DDL text for tables, indexes, constraints and enum types, from their runtime descriptions.
// Metadata::create_all and the migration generator both write their SQL here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/model/metadata.hpp"

namespace pgorm::sql {

std::string_view referential_action_sql(referential_action action);

// CREATE TYPE ... AS ENUM, wrapped so that it is a no-op when the type exists (if_not_exists).
std::string create_enum_type(const EnumTypeInfo& type, bool if_not_exists = true);
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

// ---- ALTER statements, for migrations (none of them is guarded: a migration fails loudly) ----

// ALTER TABLE ... ADD COLUMN <column_definition>.
std::string add_column(std::string_view table, const ColumnInfo& column);
std::string drop_column(std::string_view table, std::string_view column);
// ALTER TABLE ... ALTER COLUMN ... TYPE <sql_type> [USING <using_expression>].
std::string alter_column_type(std::string_view table, std::string_view column,
                              std::string_view sql_type, std::string_view using_expression = {});
// SET NOT NULL when `nullable` is false, DROP NOT NULL when true.
std::string alter_column_nullable(std::string_view table, std::string_view column, bool nullable);
// SET DEFAULT <expression>, or DROP DEFAULT when there is none.
std::string alter_column_default(std::string_view table, std::string_view column,
                                 const std::optional<std::string>& default_sql);
std::string add_primary_key(std::string_view table, std::string_view name,
                            const std::vector<std::string>& columns);
std::string add_unique(std::string_view table, const UniqueInfo& unique);
std::string add_check(std::string_view table, const CheckInfo& check);
// ALTER TYPE ... ADD VALUE [IF NOT EXISTS] 'label' [BEFORE|AFTER 'neighbour']. `position` is
// "BEFORE" or "AFTER" (empty: at the end). PostgreSQL lets no transaction use the new label
// before the one that added it commits.
std::string add_enum_value(std::string_view type, std::string_view label,
                           std::string_view position = {}, std::string_view neighbour = {},
                           bool if_not_exists = true);
std::string rename_enum_type(std::string_view type, std::string_view new_name);

}  // namespace pgorm::sql
