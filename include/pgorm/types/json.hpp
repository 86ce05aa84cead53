// pgorm::Json <-> jsonb. Holds the JSON text; the server validates it.
#pragma once

#include <string>
#include <string_view>

#include "pgorm/types/traits.hpp"

namespace pgorm {

// JSON document text. pgorm ships no JSON parser: parse `text` with the library your project
// already uses. PostgreSQL normalizes jsonb on the way back (key order, whitespace), so compare
// documents, not strings.
struct Json {
  std::string text = "null";
  friend bool operator==(const Json&, const Json&) = default;
};

template <>
struct type_traits<Json> {
  static std::string sql_type() { return "jsonb"; }
  static void encode(const Json& v, std::string& out);
  static void decode(std::string_view t, Json& out) { out.text.assign(t); }
};

}  // namespace pgorm
