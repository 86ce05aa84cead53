#include "pgorm/query/value.hpp"

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {

void throw_value_out_of_range(std::string_view table, std::string_view column,
                              std::string_view target, std::string_view sql_type,
                              std::string value) {
  std::string shown(target);
  for (char& c : shown)
    if (c == query::kParamMarker) c = '?';
  ErrorInfo info;
  info.message = fmt::format(
      "the value compared with or assigned to {} is out of range of its type {}: check the "
      "value's range before building the query",
      shown, sql_type);
  info.sqlstate = "22003";  // numeric_value_out_of_range, as the server would report it
  info.table = std::string(table);
  info.column = std::string(column);
  info.detail = fmt::format("value: {}", value);
  throw DataError(std::move(info));
}

}  // namespace pgorm::detail
