// A piece of SQL text and its bind values, in order: the statement tree's leaves. Placeholders are
// written as a marker byte and numbered ($1, $2, ...) only when the whole statement is finished,
// so fragments compose by plain concatenation.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "pgorm/engine/params.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::query {

// Cannot occur in SQL that pgorm writes (identifiers are quoted, values are parameters) nor in
// raw SQL a user writes in practice; raw SQL containing it is refused.
inline constexpr char kParamMarker = '\x01';

struct Fragment {
  std::string sql;
  Params params;

  Fragment& operator+=(std::string_view text) {
    sql.append(text);
    return *this;
  }
  Fragment& operator+=(const Fragment& other) {
    sql.append(other.sql);
    params.append(other.params);
    return *this;
  }
  template <class T>
  Fragment& add_param(const T& value) {
    sql.push_back(kParamMarker);
    params.add(value);
    return *this;
  }
  Fragment& add_identifier(std::string_view name) {
    sql::append_identifier(sql, name);
    return *this;
  }
  bool empty() const noexcept { return sql.empty(); }
};

// Takes what renders into a Fragment and keeps only the parameters: for a statement whose text
// was rendered before and kept, rendering again by the same code gives its parameters in order.
struct ParamsOnly {
  Params params;

  ParamsOnly& operator+=(std::string_view) { return *this; }
  template <class T>
  ParamsOnly& add_param(const T& value) {
    params.add(value);
    return *this;
  }
  ParamsOnly& add_identifier(std::string_view) { return *this; }
};

// A finished statement: SQL with $N placeholders and its parameters.
struct Statement {
  std::string sql;
  Params params;
  // The SQL followed by its parameters, for debugging and logs you control.
  std::string to_string() const;
};

// Numbers the markers of a fragment: "a = \x01 AND b = \x01" -> "a = $1 AND b = $2".
Statement finish(Fragment fragment);

}  // namespace pgorm::query
