#include "pgorm/model/metadata.hpp"

#include <algorithm>
#include <set>

#include "pgorm/engine/connection.hpp"
#include "pgorm/sql/ddl.hpp"

namespace pgorm {

const ColumnInfo* TableInfo::column(std::string_view name) const noexcept {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

namespace detail {
std::string default_literal(std::string_view encoded, std::string_view sql_type) {
  return sql::quote_literal(encoded) + "::" + std::string(sql_type);
}
}  // namespace detail

Metadata::Metadata(const Metadata&) = default;
Metadata::Metadata(Metadata&&) noexcept = default;
Metadata& Metadata::operator=(const Metadata&) = default;
Metadata& Metadata::operator=(Metadata&&) noexcept = default;
Metadata::~Metadata() = default;

Metadata& Metadata::add_table(const TableInfo& table) {
  auto same = [&](const TableInfo& t) { return t.name == table.name; };
  auto it = std::find_if(tables_.begin(), tables_.end(), same);
  if (it != tables_.end())
    *it = table;
  else
    tables_.push_back(table);
  sort();
  return *this;
}

const TableInfo* Metadata::table(std::string_view name) const noexcept {
  for (const auto& t : sorted_)
    if (t.name == name) return &t;
  return nullptr;
}

// Depth-first topological order, stable with respect to the order tables were added. A cycle is
// broken where it is found; create_statements() then adds the closing foreign key afterwards.
void Metadata::sort() {
  sorted_.clear();
  std::set<std::string> done;
  std::set<std::string> visiting;
  auto visit = [&](auto& self, const TableInfo& t) -> void {
    if (done.count(t.name) || visiting.count(t.name)) return;
    visiting.insert(t.name);
    for (const auto& fk : t.foreign_keys) {
      if (fk.referred_table == t.name) continue;
      for (const auto& other : tables_)
        if (other.name == fk.referred_table) self(self, other);
    }
    visiting.erase(t.name);
    done.insert(t.name);
    sorted_.push_back(t);
  };
  for (const auto& t : tables_) visit(visit, t);
}

std::vector<EnumTypeInfo> Metadata::enums() const {
  std::vector<EnumTypeInfo> out;
  for (const auto& t : sorted_)
    for (const auto& e : t.enums)
      if (std::none_of(out.begin(), out.end(), [&](const auto& x) { return x.name == e.name; }))
        out.push_back(e);
  return out;
}

std::vector<std::string> Metadata::create_statements() const {
  std::vector<std::string> out;
  for (const auto& e : enums()) out.push_back(sql::create_enum_type(e));
  std::set<std::string> created;
  std::vector<std::pair<std::string, ForeignKeyInfo>> deferred;
  for (const auto& t : sorted_) {
    sql::CreateTableOptions options;
    for (const auto& fk : t.foreign_keys) {
      if (fk.referred_table != t.name && !created.count(fk.referred_table) &&
          table(fk.referred_table) != nullptr) {
        options.skip_foreign_keys.push_back(fk.name);
        deferred.emplace_back(t.name, fk);
      }
    }
    out.push_back(sql::create_table(t, options));
    for (const auto& ix : t.indexes) out.push_back(sql::create_index(t.name, ix));
    created.insert(t.name);
  }
  for (const auto& [table_name, fk] : deferred) out.push_back(sql::add_foreign_key(table_name, fk));
  return out;
}

std::vector<std::string> Metadata::drop_statements() const {
  std::vector<std::string> out;
  // Foreign keys that close a cycle must go first, or no table of the cycle can be dropped.
  std::set<std::string> seen;
  for (const auto& t : sorted_) {
    for (const auto& fk : t.foreign_keys)
      if (fk.referred_table != t.name && !seen.count(fk.referred_table) &&
          table(fk.referred_table) != nullptr)
        out.push_back(sql::drop_constraint(t.name, fk.name));
    seen.insert(t.name);
  }
  for (auto it = sorted_.rbegin(); it != sorted_.rend(); ++it)
    out.push_back(sql::drop_table(it->name));
  for (const auto& e : enums()) out.push_back(sql::drop_enum_type(e.name));
  return out;
}

namespace {
std::string script(const std::vector<std::string>& statements) {
  std::string out;
  for (const auto& s : statements) out += s + ";\n";
  return out;
}
}  // namespace

std::string Metadata::create_sql() const { return script(create_statements()); }
std::string Metadata::drop_sql() const { return script(drop_statements()); }

void Metadata::create_all(Connection& connection) const {
  connection.run_in_transaction(create_statements());
}

void Metadata::drop_all(Connection& connection) const {
  connection.run_in_transaction(drop_statements());
}

}  // namespace pgorm
