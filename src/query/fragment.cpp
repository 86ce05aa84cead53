#include "pgorm/query/fragment.hpp"

#include <fmt/format.h>

namespace pgorm::query {

Statement finish(Fragment fragment) {
  Statement out;
  out.sql.reserve(fragment.sql.size() + 2 * fragment.params.size());
  int n = 0;
  for (char c : fragment.sql) {
    if (c == kParamMarker) {
      out.sql.push_back('$');
      out.sql.append(std::to_string(++n));
    } else {
      out.sql.push_back(c);
    }
  }
  out.params = std::move(fragment.params);
  return out;
}

std::string Statement::to_string() const {
  std::string out = sql;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const char* v = params.value(i);
    out += fmt::format("{}${}={}", i == 0 ? "\n-- params: " : ", ", i + 1,
                       v ? sql::quote_literal(v) : std::string("NULL"));
  }
  return out;
}

}  // namespace pgorm::query
