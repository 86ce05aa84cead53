// Autogenerate's comparison: the differences between two schemas and the DDL that turns the first
// into the second. A migration's upgrade is compare(database, models); its downgrade is
// compare(models, database).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgorm/migrate/reflect.hpp"
#include "pgorm/migrate/script.hpp"

namespace pgorm::migrate {

struct CompareOptions {
  // Tables that are never created, altered or dropped (the version table goes here).
  std::vector<std::string> ignore_tables;
};

struct Diff {
  // One sentence per difference, for `check` and the CLI: "add column todos.priority".
  std::vector<std::string> changes;
  // The statements that turn `from` into `to`, in an order PostgreSQL accepts. Statements whose
  // sql is empty carry only a comment for the reviewer (a possible rename, something autogenerate
  // cannot write).
  std::vector<Statement> statements;
  bool empty() const noexcept { return changes.empty(); }
};

Diff compare(const Schema& from, const Schema& to, const CompareOptions& options = {});

// Type spellings compared as equal: "int4", "int", "integer"; "varchar(255)",
// "character varying(255)"; "timestamptz", "timestamp with time zone"; "\"todo_status\"",
// "todo_status"; "numeric(30, 10)", "numeric(30,10)". serial types compare as their integer type.
std::string normalize_type(std::string_view sql_type);
// Default / check / predicate expressions compared as equal: whitespace runs, one pair of
// enclosing parentheses, E'' literals without backslashes, and quotes around plain identifiers
// after "::" do not matter.
std::string normalize_expression(std::string_view sql);

}  // namespace pgorm::migrate
