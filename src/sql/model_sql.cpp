#include "pgorm/sql/model_sql.hpp"

namespace pgorm::sql {

void append_column_names(std::string& out, const TableInfo& table) {
  bool first = true;
  for (const auto& c : table.columns) {
    if (!first) out += ", ";
    first = false;
    append_identifier(out, c.name);
  }
}

void append_qualified_column_names(std::string& out, const TableInfo& table) {
  bool first = true;
  for (const auto& c : table.columns) {
    if (!first) out += ", ";
    first = false;
    append_identifier(out, table.name);
    out += '.';
    append_identifier(out, c.name);
  }
}

}  // namespace pgorm::sql
