// The one function that turns a name into a PostgreSQL identifier: every identifier goes through it.
#pragma once

#include <string>
#include <string_view>

namespace pgorm::sql {

// Always double-quotes, doubling embedded quotes: user -> "user", a"b -> "a""b".
// Quoting unconditionally makes reserved words (user, order) and mixed case safe.
inline void append_identifier(std::string& out, std::string_view name) {
  out.push_back('"');
  for (std::size_t from = 0;;) {  // one append per run of characters without a quote
    const std::size_t quote = name.find('"', from);
    if (quote == std::string_view::npos) {
      out.append(name.substr(from));
      break;
    }
    out.append(name.substr(from, quote + 1 - from));
    out.push_back('"');
    from = quote + 1;
  }
  out.push_back('"');
}

inline std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  append_identifier(out, name);
  return out;
}

// A SQL string literal, for the few places where PostgreSQL accepts no bind parameter
// (enum labels in CREATE TYPE, DEFAULT clauses written by the library). Uses the E'' form so
// backslashes are always escaped whatever standard_conforming_strings says.
inline std::string quote_literal(std::string_view value) {
  std::string out = "E'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace pgorm::sql
