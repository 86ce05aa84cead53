#include "pgorm/sql/ddl.hpp"

#include <algorithm>

#include "pgorm/errors.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::sql {
namespace {

std::string column_list(const std::vector<std::string>& columns) {
  std::string out = "(";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ", ";
    append_identifier(out, columns[i]);
  }
  out += ')';
  return out;
}

// DO blocks make statements idempotent where PostgreSQL has no IF NOT EXISTS. The dollar tag must
// not appear in the body.
std::string guarded(std::string_view body, std::string_view condition_names) {
  constexpr std::string_view tag = "$pgorm$";
  if (body.find(tag) != std::string_view::npos) {
    ErrorInfo info;
    info.message = std::string("DDL text must not contain ") + std::string(tag);
    throw ConfigurationError(std::move(info));
  }
  return std::string("DO ") + std::string(tag) + " BEGIN " + std::string(body) +
         "; EXCEPTION WHEN " + std::string(condition_names) + " THEN NULL; END " +
         std::string(tag);
}

}  // namespace

std::string_view referential_action_sql(referential_action action) {
  switch (action) {
    case referential_action::no_action: return "NO ACTION";
    case referential_action::restrict: return "RESTRICT";
    case referential_action::cascade: return "CASCADE";
    case referential_action::set_null: return "SET NULL";
    case referential_action::set_default: return "SET DEFAULT";
  }
  return "NO ACTION";
}

std::string create_enum_type(const EnumTypeInfo& type, bool if_not_exists) {
  std::string body = "CREATE TYPE " + quote_identifier(type.name) + " AS ENUM (";
  for (std::size_t i = 0; i < type.labels.size(); ++i) {
    if (i) body += ", ";
    body += quote_literal(type.labels[i]);
  }
  body += ')';
  return if_not_exists ? guarded(body, "duplicate_object") : body;
}

std::string drop_enum_type(std::string_view name) {
  return "DROP TYPE IF EXISTS " + quote_identifier(name);
}

std::string column_definition(const ColumnInfo& column) {
  std::string out = quote_identifier(column.name);
  out += ' ';
  out += column.sql_type;
  if (!column.nullable) out += " NOT NULL";
  if (column.default_sql) out += " DEFAULT " + *column.default_sql;
  return out;
}

std::string foreign_key_clause(const ForeignKeyInfo& fk) {
  std::string out = "CONSTRAINT " + quote_identifier(fk.name) + " FOREIGN KEY " +
                    column_list(fk.columns) + " REFERENCES " + quote_identifier(fk.referred_table) +
                    ' ' + column_list(fk.referred_columns);
  if (fk.on_delete != referential_action::no_action)
    out += " ON DELETE " + std::string(referential_action_sql(fk.on_delete));
  if (fk.on_update != referential_action::no_action)
    out += " ON UPDATE " + std::string(referential_action_sql(fk.on_update));
  return out;
}

std::string create_table(const TableInfo& table, const CreateTableOptions& options) {
  std::string out = "CREATE TABLE ";
  if (options.if_not_exists) out += "IF NOT EXISTS ";
  out += quote_identifier(table.name) + " (";
  bool first = true;
  auto item = [&](const std::string& text) {
    out += first ? "\n  " : ",\n  ";
    out += text;
    first = false;
  };
  for (const auto& c : table.columns) item(column_definition(c));
  if (!table.primary_key.empty())
    item("CONSTRAINT " + quote_identifier(table.primary_key_name) + " PRIMARY KEY " +
         column_list(table.primary_key));
  for (const auto& u : table.uniques)
    item("CONSTRAINT " + quote_identifier(u.name) + " UNIQUE " + column_list(u.columns));
  for (const auto& fk : table.foreign_keys) {
    const auto& skip = options.skip_foreign_keys;
    if (std::find(skip.begin(), skip.end(), fk.name) == skip.end()) item(foreign_key_clause(fk));
  }
  for (const auto& ck : table.checks)
    item("CONSTRAINT " + quote_identifier(ck.name) + " CHECK (" + ck.sql + ")");
  out += "\n)";
  return out;
}

std::string drop_table(std::string_view table, bool if_exists) {
  return std::string("DROP TABLE ") + (if_exists ? "IF EXISTS " : "") + quote_identifier(table);
}

std::string add_foreign_key(std::string_view table, const ForeignKeyInfo& fk, bool if_not_exists) {
  std::string body = "ALTER TABLE " + quote_identifier(table) + " ADD " + foreign_key_clause(fk);
  return if_not_exists ? guarded(body, "duplicate_object") : body;
}

std::string drop_constraint(std::string_view table, std::string_view name, bool if_exists) {
  std::string out = "ALTER TABLE ";
  if (if_exists) out += "IF EXISTS ";
  out += quote_identifier(table) + " DROP CONSTRAINT ";
  if (if_exists) out += "IF EXISTS ";
  return out + quote_identifier(name);
}

std::string create_index(std::string_view table, const IndexInfo& index, bool if_not_exists) {
  std::string out = index.unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
  if (if_not_exists) out += "IF NOT EXISTS ";
  out += quote_identifier(index.name) + " ON " + quote_identifier(table) + ' ' +
         column_list(index.columns);
  if (!index.where.empty()) out += " WHERE " + index.where;
  return out;
}

std::string drop_index(std::string_view name, bool if_exists) {
  return std::string("DROP INDEX ") + (if_exists ? "IF EXISTS " : "") + quote_identifier(name);
}

std::string add_column(std::string_view table, const ColumnInfo& column) {
  return "ALTER TABLE " + quote_identifier(table) + " ADD COLUMN " + column_definition(column);
}

std::string drop_column(std::string_view table, std::string_view column) {
  return "ALTER TABLE " + quote_identifier(table) + " DROP COLUMN " + quote_identifier(column);
}

namespace {
std::string alter_column(std::string_view table, std::string_view column) {
  return "ALTER TABLE " + quote_identifier(table) + " ALTER COLUMN " + quote_identifier(column);
}
}  // namespace

std::string alter_column_type(std::string_view table, std::string_view column,
                              std::string_view sql_type, std::string_view using_expression) {
  std::string out = alter_column(table, column) + " TYPE " + std::string(sql_type);
  if (!using_expression.empty()) out += " USING " + std::string(using_expression);
  return out;
}

std::string alter_column_nullable(std::string_view table, std::string_view column, bool nullable) {
  return alter_column(table, column) + (nullable ? " DROP NOT NULL" : " SET NOT NULL");
}

std::string alter_column_default(std::string_view table, std::string_view column,
                                 const std::optional<std::string>& default_sql) {
  return alter_column(table, column) +
         (default_sql ? " SET DEFAULT " + *default_sql : std::string(" DROP DEFAULT"));
}

std::string add_primary_key(std::string_view table, std::string_view name,
                            const std::vector<std::string>& columns) {
  return "ALTER TABLE " + quote_identifier(table) + " ADD CONSTRAINT " + quote_identifier(name) +
         " PRIMARY KEY " + column_list(columns);
}

std::string add_unique(std::string_view table, const UniqueInfo& unique) {
  return "ALTER TABLE " + quote_identifier(table) + " ADD CONSTRAINT " +
         quote_identifier(unique.name) + " UNIQUE " + column_list(unique.columns);
}

std::string add_check(std::string_view table, const CheckInfo& check) {
  return "ALTER TABLE " + quote_identifier(table) + " ADD CONSTRAINT " +
         quote_identifier(check.name) + " CHECK (" + check.sql + ")";
}

std::string add_enum_value(std::string_view type, std::string_view label, std::string_view position,
                           std::string_view neighbour, bool if_not_exists) {
  std::string out = "ALTER TYPE " + quote_identifier(type) + " ADD VALUE ";
  if (if_not_exists) out += "IF NOT EXISTS ";
  out += quote_literal(label);
  if (!position.empty()) out += " " + std::string(position) + " " + quote_literal(neighbour);
  return out;
}

std::string rename_enum_type(std::string_view type, std::string_view new_name) {
  return "ALTER TYPE " + quote_identifier(type) + " RENAME TO " + quote_identifier(new_name);
}

}  // namespace pgorm::sql
