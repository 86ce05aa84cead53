// The comparison behind autogenerate and `check`. Objects are matched by what they do, never by
// name (a unique constraint by its columns, an index by columns, uniqueness and predicate, a
// foreign key by columns, target and actions, a check by its expression), so a database whose
// constraints were named by another tool shows no false differences.
#include "pgorm/migrate/diff.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "pgorm/model/naming.hpp"
#include "pgorm/sql/ddl.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::migrate {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_plain_identifier(std::string_view s) {
  if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  });
}

// Removes one pair of parentheses that encloses the whole text, repeatedly.
std::string_view strip_parentheses(std::string_view s) {
  for (;;) {
    s = trim(s);
    if (s.size() < 2 || s.front() != '(' || s.back() != ')') return s;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\'') quoted = !quoted;
      if (quoted) continue;
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0 && i + 1 != s.size()) return s;
    }
    s = s.substr(1, s.size() - 2);
  }
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

std::string columns_text(const std::vector<std::string>& columns) {
  return "(" + join(columns) + ")";
}

}  // namespace

std::string normalize_type(std::string_view sql_type) {
  std::string_view text = trim(sql_type);
  std::string suffix;
  while (text.size() >= 2 && text.substr(text.size() - 2) == "[]") {
    suffix += "[]";
    text = trim(text.substr(0, text.size() - 2));
  }
  std::string base;
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    std::string_view inner = text.substr(1, text.size() - 2);
    return (is_plain_identifier(inner) ? std::string(inner) : std::string(text)) + suffix;
  }
  // Lower case, no space after '(' or ',' or before ')', single spaces elsewhere.
  for (char c : text) {
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!base.empty() && base.back() != ' ' && base.back() != '(' && base.back() != ',')
        base.push_back(' ');
      continue;
    }
    if ((lower == ')' || lower == ',' || lower == '(') && !base.empty() && base.back() == ' ')
      base.pop_back();
    base.push_back(lower);
  }
  static const std::map<std::string, std::string, std::less<>> aliases{
      {"int", "integer"},
      {"int4", "integer"},
      {"serial", "integer"},
      {"serial4", "integer"},
      {"int8", "bigint"},
      {"bigserial", "bigint"},
      {"serial8", "bigint"},
      {"int2", "smallint"},
      {"smallserial", "smallint"},
      {"serial2", "smallint"},
      {"bool", "boolean"},
      {"float8", "double precision"},
      {"float", "double precision"},
      {"float4", "real"},
      {"varchar", "character varying"},
      {"char", "character(1)"},
      {"character", "character(1)"},
      {"bpchar", "character"},
      {"decimal", "numeric"},
      {"timestamptz", "timestamp with time zone"},
      {"timestamp", "timestamp without time zone"},
      {"timetz", "time with time zone"},
      {"time", "time without time zone"},
  };
  if (auto it = aliases.find(base); it != aliases.end()) return it->second + suffix;
  std::size_t paren = base.find('(');
  if (paren != std::string::npos) {
    std::string head = base.substr(0, paren);
    std::string rest = base.substr(paren);
    static const std::map<std::string, std::string, std::less<>> with_modifiers{
        {"varchar", "character varying"}, {"char", "character"},        {"bpchar", "character"},
        {"decimal", "numeric"},           {"timestamptz", "timestamp"}, {"timetz", "time"}};
    if (auto it = with_modifiers.find(head); it != with_modifiers.end()) {
      std::string out = it->second + rest;
      if (head == "timestamptz" || head == "timetz") out += " with time zone";
      return out + suffix;
    }
    if ((head == "timestamp" || head == "time") && rest.find(' ') == std::string::npos)
      return base + " without time zone" + suffix;
  }
  return base + suffix;
}

std::string normalize_expression(std::string_view sql) {
  std::string_view text = strip_parentheses(sql);
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool at_word_start =
        i == 0 || !(std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_');
    if ((c == 'E' || c == 'e') && at_word_start && i + 1 < text.size() && text[i + 1] == '\'') {
      std::size_t end = i + 2;
      bool backslash = false;
      while (end < text.size()) {
        if (text[end] == '\\') backslash = true;
        if (text[end] == '\'' && !(end + 1 < text.size() && text[end + 1] == '\'')) break;
        end += text[end] == '\'' ? 2 : 1;
      }
      if (!backslash) continue;  // drop the E: the literal means the same without it
    }
    if (c == '\'') {  // copy literals verbatim
      std::size_t end = i + 1;
      while (end < text.size()) {
        if (text[end] == '\'') {
          if (end + 1 < text.size() && text[end + 1] == '\'') {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      out.append(text.substr(i, end - i + 1));
      i = end;
      continue;
    }
    if (c == '"' && out.size() >= 2 && out.substr(out.size() - 2) == "::") {
      std::size_t end = text.find('"', i + 1);
      if (end != std::string_view::npos && is_plain_identifier(text.substr(i + 1, end - i - 1))) {
        out.append(text.substr(i + 1, end - i - 1));
        i = end;
        continue;
      }
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      continue;
    }
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

bool is_integer_type(const std::string& normalized) {
  return normalized == "integer" || normalized == "bigint" || normalized == "smallint";
}

// Families between which PostgreSQL has assignment casts, so ALTER ... TYPE needs no USING.
std::string type_family(const std::string& normalized) {
  if (normalized.find("[]") != std::string::npos) return "array:" + normalized;
  if (normalized == "text" || normalized.rfind("character", 0) == 0) return "string";
  if (is_integer_type(normalized) || normalized.rfind("numeric", 0) == 0 || normalized == "real" ||
      normalized == "double precision")
    return "number";
  if (normalized.rfind("timestamp", 0) == 0 || normalized == "date") return "time";
  return normalized;
}

std::string base_type(const std::string& normalized) {
  std::string out = normalized;
  while (out.size() >= 2 && out.substr(out.size() - 2) == "[]") out.resize(out.size() - 2);
  return out;
}

// The type to write in ALTER COLUMN ... TYPE (serial is only valid in CREATE / ADD COLUMN).
std::string alter_type_text(const ColumnInfo& c) {
  if (c.autoincrement &&
      (c.sql_type == "serial" || c.sql_type == "bigserial" || c.sql_type == "smallserial"))
    return normalize_type(c.sql_type);
  return c.sql_type;
}

template <class T, class Same>
void match(const std::vector<T>& from, const std::vector<T>& to, Same same,
           std::vector<const T*>& removed, std::vector<const T*>& added) {
  for (const auto& f : from)
    if (std::none_of(to.begin(), to.end(), [&](const T& t) { return same(f, t); }))
      removed.push_back(&f);
  for (const auto& t : to)
    if (std::none_of(from.begin(), from.end(), [&](const T& f) { return same(f, t); }))
      added.push_back(&t);
}

bool same_foreign_key(const ForeignKeyInfo& a, const ForeignKeyInfo& b) {
  return a.columns == b.columns && a.referred_table == b.referred_table &&
         a.referred_columns == b.referred_columns && a.on_delete == b.on_delete &&
         a.on_update == b.on_update;
}
bool same_index(const IndexInfo& a, const IndexInfo& b) {
  return a.columns == b.columns && a.unique == b.unique &&
         normalize_expression(a.where) == normalize_expression(b.where);
}
bool same_unique(const UniqueInfo& a, const UniqueInfo& b) {
  return a.columns == b.columns;
}
bool same_check(const CheckInfo& a, const CheckInfo& b) {
  return normalize_expression(a.sql) == normalize_expression(b.sql);
}

std::optional<std::string> normalized_default(const ColumnInfo& c) {
  if (!c.default_sql) return std::nullopt;
  return normalize_expression(*c.default_sql);
}

Statement make(std::string sql, std::string comment = {}, bool no_transaction = false) {
  Statement st;
  st.sql = std::move(sql);
  st.comment = std::move(comment);
  st.no_transaction = no_transaction;
  return st;
}

// Tables in an order where each comes after the tables it references (within the set); the
// foreign keys that point forward (cycles) are returned in `forward`.
std::vector<const TableInfo*> dependency_order(
    const std::vector<const TableInfo*>& tables,
    std::vector<std::pair<std::string, ForeignKeyInfo>>* forward) {
  std::vector<const TableInfo*> out;
  std::set<std::string> done, visiting;
  auto find = [&](const std::string& name) -> const TableInfo* {
    for (const auto* t : tables)
      if (t->name == name) return t;
    return nullptr;
  };
  auto visit = [&](auto& self, const TableInfo* t) -> void {
    if (done.count(t->name) || visiting.count(t->name)) return;
    visiting.insert(t->name);
    for (const auto& fk : t->foreign_keys)
      if (fk.referred_table != t->name)
        if (const TableInfo* other = find(fk.referred_table)) self(self, other);
    visiting.erase(t->name);
    done.insert(t->name);
    out.push_back(t);
  };
  for (const auto* t : tables) visit(visit, t);
  if (forward) {
    std::set<std::string> created;
    for (const auto* t : out) {
      for (const auto& fk : t->foreign_keys)
        if (fk.referred_table != t->name && find(fk.referred_table) &&
            !created.count(fk.referred_table))
          forward->emplace_back(t->name, fk);
      created.insert(t->name);
    }
  }
  return out;
}

struct Phases {
  std::vector<Statement> enums;              // create types, add values, recreate types
  std::vector<Statement> drop_foreign_keys;  // on tables that stay
  std::vector<Statement> drop_tables;
  std::vector<Statement> drop_constraints;  // indexes, uniques, checks, primary keys
  std::vector<Statement> columns;
  std::vector<Statement> add_constraints;
  std::vector<Statement> create_tables;
  std::vector<Statement> add_foreign_keys;
  std::vector<Statement> drop_enums;
};

std::string labels_text(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& l : labels) out += (out.empty() ? "" : ", ") + l;
  return "(" + out + ")";
}

bool is_subsequence(const std::vector<std::string>& small, const std::vector<std::string>& big) {
  std::size_t j = 0;
  for (const auto& label : big)
    if (j < small.size() && small[j] == label) ++j;
  return j == small.size();
}

void compare_enums(const Schema& from, const Schema& to, Diff& diff, Phases& p) {
  for (const auto& e : to.enums) {
    const EnumTypeInfo* old = from.enum_type(e.name);
    if (!old) {
      diff.changes.push_back(fmt::format("create enum type {} {}", e.name, labels_text(e.labels)));
      p.enums.push_back(make(sql::create_enum_type(e, false)));
      continue;
    }
    if (old->labels == e.labels) continue;
    if (is_subsequence(old->labels, e.labels)) {
      for (std::size_t i = 0; i < e.labels.size(); ++i) {
        const std::string& label = e.labels[i];
        if (std::find(old->labels.begin(), old->labels.end(), label) != old->labels.end()) continue;
        bool only_new_after = std::all_of(e.labels.begin() + static_cast<std::ptrdiff_t>(i),
                                          e.labels.end(), [&](const std::string& l) {
                                            return std::find(old->labels.begin(), old->labels.end(),
                                                             l) == old->labels.end();
                                          });
        std::string sql;
        if (only_new_after || (i == 0 && old->labels.empty()))
          sql = sql::add_enum_value(e.name, label);
        else if (i == 0)
          sql = sql::add_enum_value(e.name, label, "BEFORE", old->labels.front());
        else
          sql = sql::add_enum_value(e.name, label, "AFTER", e.labels[i - 1]);
        diff.changes.push_back(fmt::format("add value {} to enum type {}", label, e.name));
        p.enums.push_back(
            make(std::move(sql),
                 i == 0 || p.enums.empty() || !p.enums.back().no_transaction
                     ? "PostgreSQL lets no transaction use a new enum value before the one that "
                       "added it commits:\nADD VALUE runs on its own (IF NOT EXISTS makes a retry "
                       "safe)."
                     : std::string(),
                 true));
      }
      continue;
    }
    // Values removed or reordered: PostgreSQL cannot drop an enum value, so the type is rebuilt
    // and every column that uses it converted through text (fails if a row holds a removed value).
    diff.changes.push_back(
        fmt::format("recreate enum type {} with values {}", e.name, labels_text(e.labels)));
    std::string old_name = naming::limit_identifier(e.name + "_old");
    p.enums.push_back(make(sql::rename_enum_type(e.name, old_name),
                           fmt::format("Enum type {} loses or reorders values: rebuild it and "
                                       "convert its columns through text.",
                                       e.name)));
    p.enums.push_back(make(sql::create_enum_type(e, false)));
    for (const auto& t : from.tables) {
      for (const auto& c : t.columns) {
        std::string type = normalize_type(c.sql_type);
        if (base_type(type) != e.name) continue;
        std::string suffix = type.substr(e.name.size());
        if (c.default_sql) p.enums.push_back(make(sql::alter_column_default(t.name, c.name, {})));
        p.enums.push_back(make(
            sql::alter_column_type(t.name, c.name, sql::quote_identifier(e.name) + suffix,
                                   fmt::format("{}::text{}::{}{}", sql::quote_identifier(c.name),
                                               suffix, sql::quote_identifier(e.name), suffix))));
        if (c.default_sql)
          p.enums.push_back(make(sql::alter_column_default(t.name, c.name, c.default_sql)));
      }
    }
    p.enums.push_back(make(sql::drop_enum_type(old_name)));
  }
}

// Last: a type goes once no column uses it any more.
void drop_enums(const Schema& from, const Schema& to, Diff& diff, Phases& p) {
  for (const auto& e : from.enums) {
    if (to.enum_type(e.name)) continue;
    diff.changes.push_back(fmt::format("drop enum type {}", e.name));
    p.drop_enums.push_back(make(sql::drop_enum_type(e.name)));
  }
}

bool is_enum(const Schema& from, const Schema& to, const std::string& normalized) {
  std::string base = base_type(normalized);
  return from.enum_type(base) != nullptr || to.enum_type(base) != nullptr;
}

void compare_columns(const Schema& from_schema, const Schema& to_schema, const TableInfo& from,
                     const TableInfo& to, Diff& diff, Phases& p) {
  std::vector<const ColumnInfo*> dropped, added;
  for (const auto& c : from.columns)
    if (!to.column(c.name)) dropped.push_back(&c);
  for (const auto& c : to.columns)
    if (!from.column(c.name)) added.push_back(&c);

  std::vector<std::string> added_names;
  for (const auto* c : added) added_names.push_back(c->name);
  for (const auto* c : dropped) {
    diff.changes.push_back(fmt::format("drop column {}.{}", from.name, c->name));
    std::string comment;
    if (!added.empty())
      comment = fmt::format(
          "Possible rename: {}.{} is dropped and {} added in the same table.\nAutogenerate cannot "
          "tell a rename from a drop and an add. If it is one, replace the DROP and the ADD "
          "with\n  ALTER TABLE {} RENAME COLUMN {} TO <new name>;\nor the column's data is lost.",
          from.name, c->name, join(added_names), sql::quote_identifier(from.name),
          sql::quote_identifier(c->name));
    p.columns.push_back(make(sql::drop_column(from.name, c->name), std::move(comment)));
  }
  for (const auto* c : added) {
    diff.changes.push_back(fmt::format("add column {}.{}", to.name, c->name));
    std::string comment;
    if (!c->nullable && !c->default_sql && !c->autoincrement)
      comment =
          "NOT NULL without a default: this fails if the table has rows (add a DEFAULT, or "
          "add the column NULL, fill it, then SET NOT NULL).";
    p.columns.push_back(make(sql::add_column(to.name, *c), std::move(comment)));
  }

  for (const auto& t : to.columns) {
    const ColumnInfo* f = from.column(t.name);
    if (!f) continue;
    std::string from_type = normalize_type(f->sql_type);
    std::string to_type = normalize_type(t.sql_type);
    bool default_done = false;
    if (from_type != to_type) {
      diff.changes.push_back(fmt::format("change type of {}.{} from {} to {}", to.name, t.name,
                                         f->sql_type, t.sql_type));
      bool via_text =
          is_enum(from_schema, to_schema, from_type) || is_enum(from_schema, to_schema, to_type);
      bool needs_using = via_text || type_family(from_type) != type_family(to_type);
      std::string type_text = alter_type_text(t);
      std::string using_expression;
      if (needs_using) {
        std::string column = sql::quote_identifier(t.name);
        std::string array = to_type.find("[]") != std::string::npos ? "[]" : "";
        using_expression = via_text ? fmt::format("{}::text{}::{}", column, array, type_text)
                                    : fmt::format("{}::{}", column, type_text);
      }
      // A default of the old type may not cast to the new one: drop it first, set it after.
      bool reset_default = needs_using && f->default_sql;
      if (reset_default) p.columns.push_back(make(sql::alter_column_default(to.name, t.name, {})));
      p.columns.push_back(
          make(sql::alter_column_type(to.name, t.name, type_text, using_expression),
               needs_using ? "USING converts the existing values: check that every row converts."
                           : std::string()));
      if (reset_default) {
        if (t.default_sql)
          p.columns.push_back(make(sql::alter_column_default(to.name, t.name, t.default_sql)));
        default_done = true;
        if (normalized_default(*f) != normalized_default(t))
          diff.changes.push_back(fmt::format("change default of {}.{}", to.name, t.name));
      }
    } else if (f->autoincrement != t.autoincrement) {
      diff.changes.push_back(fmt::format("{}.{} {} serial: autogenerate does not write this",
                                         to.name, t.name,
                                         t.autoincrement ? "becomes" : "is no longer"));
      p.columns.push_back(make(
          {}, fmt::format("TODO: {}.{} {} serial (a sequence-backed default). Write this change "
                          "by hand.",
                          to.name, t.name, t.autoincrement ? "becomes" : "is no longer")));
    }
    if (f->nullable != t.nullable) {
      diff.changes.push_back(
          fmt::format("make {}.{} {}", to.name, t.name, t.nullable ? "nullable" : "NOT NULL"));
      p.columns.push_back(
          make(sql::alter_column_nullable(to.name, t.name, t.nullable),
               t.nullable ? std::string()
                          : "SET NOT NULL fails if a row holds NULL: fill those rows first (a data "
                            "migration)."));
    }
    if (!default_done && !t.autoincrement && !f->autoincrement &&
        normalized_default(*f) != normalized_default(t)) {
      diff.changes.push_back(fmt::format("change default of {}.{} from {} to {}", to.name, t.name,
                                         f->default_sql.value_or("none"),
                                         t.default_sql.value_or("none")));
      p.columns.push_back(make(sql::alter_column_default(to.name, t.name, t.default_sql)));
    }
  }
}

void compare_table(const Schema& from_schema, const Schema& to_schema, const TableInfo& from,
                   const TableInfo& to, Diff& diff, Phases& p) {
  std::vector<const ForeignKeyInfo*> fk_removed, fk_added;
  match(from.foreign_keys, to.foreign_keys, same_foreign_key, fk_removed, fk_added);
  for (const auto* fk : fk_removed) {
    diff.changes.push_back(fmt::format("drop foreign key {} on {}", fk->name, from.name));
    p.drop_foreign_keys.push_back(make(sql::drop_constraint(from.name, fk->name, false)));
  }

  std::vector<const IndexInfo*> ix_removed, ix_added;
  match(from.indexes, to.indexes, same_index, ix_removed, ix_added);
  std::vector<const UniqueInfo*> uq_removed, uq_added;
  match(from.uniques, to.uniques, same_unique, uq_removed, uq_added);
  std::vector<const CheckInfo*> ck_removed, ck_added;
  match(from.checks, to.checks, same_check, ck_removed, ck_added);
  bool pk_changed = from.primary_key != to.primary_key;

  for (const auto* ix : ix_removed) {
    diff.changes.push_back(fmt::format("drop index {} on {}", ix->name, from.name));
    p.drop_constraints.push_back(make(sql::drop_index(ix->name, false)));
  }
  for (const auto* u : uq_removed) {
    diff.changes.push_back(fmt::format("drop unique constraint {} on {}", u->name, from.name));
    p.drop_constraints.push_back(make(sql::drop_constraint(from.name, u->name, false)));
  }
  for (const auto* c : ck_removed) {
    diff.changes.push_back(fmt::format("drop check constraint {} on {}", c->name, from.name));
    p.drop_constraints.push_back(make(sql::drop_constraint(from.name, c->name, false)));
  }
  if (pk_changed && !from.primary_key.empty()) {
    diff.changes.push_back(
        fmt::format("drop primary key {} on {}", from.primary_key_name, from.name));
    p.drop_constraints.push_back(
        make(sql::drop_constraint(from.name, from.primary_key_name, false)));
  }

  compare_columns(from_schema, to_schema, from, to, diff, p);

  if (pk_changed && !to.primary_key.empty()) {
    std::string name =
        to.primary_key_name.empty() ? naming::primary_key_name(to.name) : to.primary_key_name;
    diff.changes.push_back(
        fmt::format("add primary key {} on {} {}", name, to.name, columns_text(to.primary_key)));
    p.add_constraints.push_back(make(sql::add_primary_key(to.name, name, to.primary_key)));
  }
  for (const auto* u : uq_added) {
    diff.changes.push_back(fmt::format("add unique constraint {} on {} {}", u->name, to.name,
                                       columns_text(u->columns)));
    p.add_constraints.push_back(make(sql::add_unique(to.name, *u)));
  }
  for (const auto* c : ck_added) {
    diff.changes.push_back(fmt::format("add check constraint {} on {}", c->name, to.name));
    p.add_constraints.push_back(make(sql::add_check(to.name, *c)));
  }
  for (const auto* ix : ix_added) {
    diff.changes.push_back(fmt::format("create {}index {} on {} {}{}", ix->unique ? "unique " : "",
                                       ix->name, to.name, columns_text(ix->columns),
                                       ix->where.empty() ? "" : " WHERE " + ix->where));
    p.add_constraints.push_back(make(sql::create_index(to.name, *ix, false)));
  }
  for (const auto* fk : fk_added) {
    diff.changes.push_back(fmt::format("add foreign key {} on {} {} -> {}", fk->name, to.name,
                                       columns_text(fk->columns), fk->referred_table));
    p.add_foreign_keys.push_back(make(sql::add_foreign_key(to.name, *fk, false)));
  }
}

}  // namespace

Diff compare(const Schema& from, const Schema& to, const CompareOptions& options) {
  auto ignored = [&](const std::string& name) {
    return std::find(options.ignore_tables.begin(), options.ignore_tables.end(), name) !=
           options.ignore_tables.end();
  };
  Diff diff;
  Phases p;
  compare_enums(from, to, diff, p);

  std::vector<const TableInfo*> created, dropped;
  for (const auto& t : to.tables)
    if (!ignored(t.name) && !from.table(t.name)) created.push_back(&t);
  for (const auto& t : from.tables)
    if (!ignored(t.name) && !to.table(t.name)) dropped.push_back(&t);

  // Dropped tables go first, referencing tables before the tables they reference, after the
  // foreign keys that close a cycle among them.
  std::vector<std::pair<std::string, ForeignKeyInfo>> cycle_keys;
  auto drop_order = dependency_order(dropped, &cycle_keys);
  std::reverse(drop_order.begin(), drop_order.end());
  for (const auto& [table, fk] : cycle_keys)
    p.drop_tables.push_back(make(sql::drop_constraint(table, fk.name, false)));
  std::vector<std::string> created_names;
  for (const auto* t : created) created_names.push_back(t->name);
  for (const auto* t : drop_order) {
    diff.changes.push_back(fmt::format("drop table {}", t->name));
    std::string comment;
    if (!created.empty())
      comment = fmt::format(
          "Possible rename: table {} is dropped and {} created in this migration.\nIf it is a "
          "rename, replace the DROP and the CREATE with\n  ALTER TABLE {} RENAME TO <new name>;\n"
          "or the table's rows are lost.",
          t->name, join(created_names), sql::quote_identifier(t->name));
    p.drop_tables.push_back(make(sql::drop_table(t->name, false), std::move(comment)));
  }

  for (const auto& t : to.tables) {
    if (ignored(t.name)) continue;
    if (const TableInfo* f = from.table(t.name)) compare_table(from, to, *f, t, diff, p);
  }

  std::vector<std::pair<std::string, ForeignKeyInfo>> forward_keys;
  for (const auto* t : dependency_order(created, &forward_keys)) {
    diff.changes.push_back(fmt::format("create table {}", t->name));
    sql::CreateTableOptions create;
    create.if_not_exists = false;
    for (const auto& [table, fk] : forward_keys)
      if (table == t->name) create.skip_foreign_keys.push_back(fk.name);
    p.create_tables.push_back(make(sql::create_table(*t, create)));
    for (const auto& ix : t->indexes)
      p.create_tables.push_back(make(sql::create_index(t->name, ix, false)));
  }
  for (const auto& [table, fk] : forward_keys)
    p.add_foreign_keys.push_back(make(sql::add_foreign_key(table, fk, false)));
  drop_enums(from, to, diff, p);

  for (auto* phase :
       {&p.enums, &p.drop_foreign_keys, &p.drop_tables, &p.drop_constraints, &p.columns,
        &p.add_constraints, &p.create_tables, &p.add_foreign_keys, &p.drop_enums})
    for (auto& st : *phase) diff.statements.push_back(std::move(st));
  return diff;
}

}  // namespace pgorm::migrate
