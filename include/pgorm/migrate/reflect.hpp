// Reflection: what one PostgreSQL schema holds, read from pg_catalog into the same TableInfo and
// EnumTypeInfo structures the models produce, so that the two can be compared.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgorm/model/metadata.hpp"

namespace pgorm {
class Connection;
}

namespace pgorm::migrate {

// The tables and enum types of one schema (or of a set of models).
struct Schema {
  std::vector<TableInfo> tables;  // in name order when reflected, dependency order from models
  std::vector<EnumTypeInfo> enums;

  const TableInfo* table(std::string_view name) const noexcept;
  const EnumTypeInfo* enum_type(std::string_view name) const noexcept;
};

// Reads `schema` (empty: the connection's current_schema()). Spellings are PostgreSQL's own:
// types as format_type prints them ("character varying(255)", "todo_status[]"), except that an
// integer column whose default is nextval() of the sequence it owns reads back as serial /
// bigserial / smallserial without a default; defaults as pg_get_expr prints them; check and
// partial-index predicates as pg_get_constraintdef / pg_get_expr print them. Indexes that back a
// constraint and expression indexes are left out (autogenerate cannot compare them).
Schema reflect(Connection& connection, std::string_view schema = {});

// The models as the server would hold them: creates the metadata's tables in a scratch schema
// inside a transaction that is rolled back, and reflects them. Comparing this with reflect() of a
// live schema gives no false differences from spelling (int4 vs integer, 'x'::t vs E'x'::"t",
// "(a)::text" casts added to check constraints). Needs the CREATE privilege on the database.
Schema reflect_models(Connection& connection, const Metadata& metadata);

// The schema name reflect() uses for an empty argument (current_schema()).
std::string current_schema(Connection& connection);

}  // namespace pgorm::migrate
