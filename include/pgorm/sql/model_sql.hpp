// SQL text for a model's own rows: the INSERT and SELECT statements the session and tests use,
// built once per model and bound from objects.
#pragma once

#include <string>
#include <vector>

#include "pgorm/engine/params.hpp"
#include "pgorm/model/metadata.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::sql {

// "col1", "col2", ... for every column of the model (table order).
template <model T>
const std::string& column_list() {
  static const std::string text = [] {
    std::string out;
    for (const auto& c : table_info<T>().columns) {
      if (!out.empty()) out += ", ";
      append_identifier(out, c.name);
    }
    return out;
  }();
  return text;
}

// SELECT <all columns> FROM <table>
template <model T>
const std::string& select_all() {
  static const std::string text =
      "SELECT " + column_list<T>() + " FROM " + quote_identifier(table_info<T>().name);
  return text;
}

// Whether a column is sent on INSERT: serial keys are left to the server while they hold 0.
template <class Def, model T>
bool inserts_column(const T& object) {
  if constexpr (Def::template has<serial_t>)
    return Def::ref(object) != 0;
  else
    return true;
}

// INSERT INTO <table> (<columns sent>) VALUES ($1, ...) RETURNING <all columns>, and its params.
template <model T>
std::string insert_returning(const T& object, Params& params) {
  std::string columns;
  std::string values;
  int n = 0;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!inserts_column<Def>(object)) return;
    if (n) {
      columns += ", ";
      values += ", ";
    }
    append_identifier(columns, def.name());
    values += "$" + std::to_string(++n);
    params.add(Def::ref(object));
  });
  std::string out = "INSERT INTO " + quote_identifier(table_info<T>().name);
  if (n == 0)
    out += " DEFAULT VALUES";
  else
    out += " (" + columns + ") VALUES (" + values + ")";
  return out + " RETURNING " + column_list<T>();
}

}  // namespace pgorm::sql
