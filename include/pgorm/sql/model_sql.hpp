// SQL text that depends only on a model's table, built once per model: the SELECT of every column,
// the start of its INSERT and its RETURNING list.
#pragma once

#include <string>

#include "pgorm/model/metadata.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::sql {

// "id", "title", ... (every column, table order)
void append_column_names(std::string& out, const TableInfo& table);

// "todos"."id", "todos"."title", ... (every column, qualified by the table, table order)
void append_qualified_column_names(std::string& out, const TableInfo& table);

// The same for T's table, built once: the select list of select<T>().
template <model T>
const std::string& qualified_columns() {
  static const std::string text = [] {
    std::string out;
    append_qualified_column_names(out, table_info<T>());
    return out;
  }();
  return text;
}

// SELECT "id", "title", ... FROM "todos"
template <model T>
const std::string& select_all() {
  static const std::string text = [] {
    std::string out = "SELECT ";
    append_column_names(out, table_info<T>());
    return out + " FROM " + quote_identifier(table_info<T>().name);
  }();
  return text;
}

// INSERT INTO "todos" ("id", "title", ...) VALUES
template <model T>
const std::string& insert_prefix() {
  static const std::string text = [] {
    std::string out = "INSERT INTO " + quote_identifier(table_info<T>().name) + " (";
    append_column_names(out, table_info<T>());
    return out + ") VALUES ";
  }();
  return text;
}

//  RETURNING "id", "title", ...
template <model T>
const std::string& returning_all() {
  static const std::string text = [] {
    std::string out = " RETURNING ";
    append_column_names(out, table_info<T>());
    return out;
  }();
  return text;
}

}  // namespace pgorm::sql
