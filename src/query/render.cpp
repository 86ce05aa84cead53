#include "pgorm/query/parts.hpp"
#include "pgorm/query/row_source.hpp"

#include <fmt/format.h>

#include "pgorm/errors.hpp"
#include "pgorm/sql/model_sql.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::query {
namespace {

void append_table(Fragment& out, const TableInfo& t) { out.add_identifier(t.name); }

// "t"."deleted_at" IS NULL
Fragment live_rows(std::string_view name) {
  Fragment f;
  f.add_identifier(name);
  f += ".\"deleted_at\" IS NULL";
  return f;
}
Fragment live_rows(const TableInfo& t) { return live_rows(t.name); }

// The last RIGHT or FULL join: the tables before it may come back as NULLs.
std::size_t last_keeping_join(const SelectParts& p) {
  std::size_t last = p.joins.size();
  for (std::size_t i = 0; i < p.joins.size(); ++i)
    if (p.joins[i].keeps_joined) last = i;
  return last;
}

void and_into(Fragment& target, const Fragment& condition) {
  if (!target.empty()) target += " AND ";
  target += condition;
}

// Whether the FROM table needs the soft-delete filter: not for a derived table or WITH query,
// whose own statement filtered its rows.
bool from_filtered(const SelectParts& p) {
  return p.from != nullptr && p.from->soft_delete && p.from_subquery.empty() &&
         p.from_name.empty();
}

// Soft-deleted rows are left out: in WHERE for the tables whose rows cannot come back as NULLs,
// and, for a table that can (the joined table of a LEFT or FULL join, the tables before a RIGHT or
// FULL join), in that join's ON, so that its partner rows stay. With a RIGHT or FULL join every
// table's filter is also in WHERE: "deleted_at" IS NULL holds for a NULL-extended row too.
Fragment where_with_soft_delete(const SelectParts& p) {
  Fragment where;
  if (!p.with_deleted) {
    bool keeping = last_keeping_join(p) < p.joins.size();
    if (from_filtered(p)) and_into(where, live_rows(*p.from));
    for (const auto& j : p.joins)
      if ((!j.outer || keeping) && j.soft_delete()) and_into(where, live_rows(j.name()));
  }
  if (!p.where.empty()) and_into(where, p.where);
  return where;
}

void render_from(Fragment& out, const SelectParts& p) {
  if (p.from == nullptr && p.from_source.empty()) {
    ErrorInfo info;
    info.message = "select() has no FROM: name a model with .from<Model>()";
    throw ProgrammingError(std::move(info));
  }
  out += " FROM ";
  if (!p.from_source.empty()) {
    out += p.from_source;
  } else if (!p.from_subquery.empty()) {
    out += "(";
    out += p.from_subquery;
    out += ") AS ";
  } else if (!p.from_name.empty()) {
    out.add_identifier(p.from_name);
    out += " AS ";
  }
  if (p.from_source.empty()) append_table(out, *p.from);
  const std::size_t keeping = last_keeping_join(p);
  for (std::size_t i = 0; i < p.joins.size(); ++i) {
    const JoinPart& j = p.joins[i];
    if (!j.source.empty() && j.on.empty()) {  // a row source joined to every row
      out += j.outer ? " LEFT OUTER JOIN " : " CROSS JOIN ";
      out += j.source;
      if (j.outer) out += " ON true";
      continue;
    }
    if (j.keeps_joined)
      out += j.outer ? " FULL OUTER JOIN " : " RIGHT OUTER JOIN ";
    else
      out += j.outer ? " LEFT OUTER JOIN " : " JOIN ";
    if (!j.source.empty()) {
      out += j.source;
    } else if (j.cte) {
      out.add_identifier(j.alias);
    } else {
      append_table(out, *j.table);
      if (!j.alias.empty()) {
        out += " AS ";
        out.add_identifier(j.alias);
      }
    }
    out += " ON ";
    out += j.on;
    if (p.with_deleted) continue;
    if (j.outer && j.soft_delete()) {
      out += " AND ";
      out += live_rows(j.name());
    }
    if (i == keeping) {  // the rows before it may be NULL-extended: their filters move here
      if (from_filtered(p)) {
        out += " AND ";
        out += live_rows(*p.from);
      }
      for (std::size_t k = 0; k < i; ++k)
        if (!p.joins[k].outer && p.joins[k].soft_delete()) {
          out += " AND ";
          out += live_rows(p.joins[k].name());
        }
    }
  }
  Fragment where = where_with_soft_delete(p);
  if (!where.empty()) {
    out += " WHERE ";
    out += where;
  }
  if (!p.group_by.empty()) {
    out += " GROUP BY ";
    for (std::size_t i = 0; i < p.group_by.size(); ++i) {
      if (i) out += ", ";
      out += p.group_by[i];
    }
  }
  if (!p.having.empty()) {
    out += " HAVING ";
    out += p.having;
  }
}

// " FOR UPDATE [OF t, ...] [NOWAIT | SKIP LOCKED]"
std::string lock_clause(LockMode mode, const std::vector<const TableInfo*>& of) {
  if (mode == LockMode::none) return {};
  static constexpr std::string_view kStrengths[] = {" FOR UPDATE", " FOR SHARE",
                                                    " FOR NO KEY UPDATE", " FOR KEY SHARE"};
  static constexpr std::string_view kWaits[] = {"", " NOWAIT", " SKIP LOCKED"};
  const int n = static_cast<int>(mode) - 1;  // update .. key_share_skip_locked, three per strength
  std::string out(kStrengths[n / 3]);
  for (std::size_t i = 0; i < of.size(); ++i) {
    out += i == 0 ? " OF " : ", ";
    out += sql::quote_identifier(of[i]->name);
  }
  out += kWaits[n % 3];
  return out;
}

}  // namespace

void append_qualified_columns(Fragment& out, const TableInfo& table) {
  sql::append_qualified_column_names(out.sql, table);
}



void append_source_alias(Fragment& out, std::string_view name, const std::string_view* columns,
                         std::size_t count) {
  out += " AS ";
  out.add_identifier(name);
  out += "(";
  for (std::size_t i = 0; i < count; ++i) {
    if (i) out += ", ";
    out.add_identifier(columns[i]);
  }
  out += ")";
}

void throw_unnest_lengths(std::string_view source, std::size_t first, std::size_t other) {
  ErrorInfo info;
  info.message = fmt::format(
      "unnest \"{}\": the arrays have different lengths ({} and {}); PostgreSQL would pad the "
      "shorter one with NULLs",
      source, first, other);
  throw InterfaceError(std::move(info));
}

SelectParts::SelectParts() = default;
SelectParts::SelectParts(const SelectParts&) = default;
SelectParts::SelectParts(SelectParts&&) noexcept = default;
SelectParts& SelectParts::operator=(const SelectParts&) = default;
SelectParts& SelectParts::operator=(SelectParts&&) noexcept = default;
SelectParts::~SelectParts() = default;

void SelectParts::add_where(const Fragment& condition) { and_into(where, condition); }

Fragment SelectParts::foreign_key_join(const TableInfo& joined) const {
  std::vector<Fragment> candidates;
  auto consider = [&](const TableInfo& child, const TableInfo& parent) {
    for (const auto& fk : child.foreign_keys) {
      if (fk.referred_table != parent.name) continue;
      Fragment on;
      for (std::size_t i = 0; i < fk.columns.size(); ++i) {
        if (i) on += " AND ";
        on.add_identifier(child.name);
        on += ".";
        on.add_identifier(fk.columns[i]);
        on += " = ";
        on.add_identifier(parent.name);
        on += ".";
        on.add_identifier(fk.referred_columns[i]);
      }
      candidates.push_back(std::move(on));
    }
  };
  std::vector<const TableInfo*> present;
  if (from != nullptr) present.push_back(from);
  for (const auto& j : joins)  // an alias, WITH query or row source is not the table
    if (j.alias.empty() && j.table != nullptr) present.push_back(j.table);
  for (const TableInfo* t : present) {
    if (t->name == joined.name) continue;
    consider(joined, *t);
    consider(*t, joined);
  }
  if (candidates.size() == 1) return std::move(candidates.front());
  ErrorInfo info;
  info.table = joined.name;
  info.message = candidates.empty()
                     ? fmt::format("no foreign key links table \"{}\" to the query's tables; "
                                   "give the join condition: .join<Model>(condition)",
                                   joined.name)
                     : fmt::format("several foreign keys link table \"{}\" to the query's tables; "
                                   "give the join condition: .join<Model>(condition)",
                                   joined.name);
  throw ProgrammingError(std::move(info));
}

namespace {
Fragment render_plain_select(const SelectParts& p);

// Every column of the FROM table, qualified: kept by select<T>() when it is that model's table.
void append_from_columns(Fragment& out, const SelectParts& p) {
  if (p.from_columns != nullptr && p.from_columns_of == p.from)
    out += *p.from_columns;
  else
    append_qualified_columns(out, *p.from);
}

// Joined loading wraps the statement, so that LIMIT and OFFSET count the main rows, not the
// joined ones, and keeps its order through a row number.
Fragment render_eager_select(const SelectParts& p) {
  SelectParts inner = p;
  inner.eager.clear();
  Fragment projection;
  append_from_columns(projection, p);
  projection += ", row_number() OVER (";
  if (!p.order_by.empty()) {
    projection += "ORDER BY ";
    for (std::size_t i = 0; i < p.order_by.size(); ++i) {
      if (i) projection += ", ";
      projection += p.order_by[i];
    }
  }
  projection += ") AS \"pgorm_row\"";
  inner.projection = std::move(projection);
  Fragment out;
  out += "SELECT ";
  append_from_columns(out, p);
  for (const auto& e : p.eager) {
    for (const auto& c : e.table->columns) {
      out += ", ";
      out.add_identifier(e.alias);
      out += ".";
      out.add_identifier(c.name);
      out += " AS ";
      out.add_identifier(e.alias + "__" + c.name);
    }
  }
  out += " FROM (";
  out += render_plain_select(inner);
  out += ") AS ";
  out.add_identifier(p.from->name);
  for (const auto& e : p.eager) {
    out += " LEFT OUTER JOIN ";
    out.add_identifier(e.table->name);
    out += " AS ";
    out.add_identifier(e.alias);
    out += " ON ";
    out += e.on;
    if (e.table->soft_delete && !p.with_deleted) {
      out += " AND ";
      out.add_identifier(e.alias);
      out += ".\"deleted_at\" IS NULL";
    }
  }
  out += " ORDER BY \"pgorm_row\"";
  for (const auto& e : p.eager) {
    for (const auto& k : e.table->primary_key) {
      out += ", ";
      out.add_identifier(e.alias);
      out += ".";
      out.add_identifier(k);
    }
  }
  return out;
}
}  // namespace

Fragment render_select(const SelectParts& p) {
  return p.eager.empty() ? render_plain_select(p) : render_eager_select(p);
}

namespace {
// "DISTINCT " or "DISTINCT ON (a, b) " after SELECT.
void append_distinct(Fragment& out, const SelectParts& p) {
  if (!p.distinct_on.empty()) {
    out += "DISTINCT ON (";
    for (std::size_t i = 0; i < p.distinct_on.size(); ++i) {
      if (i) out += ", ";
      out += p.distinct_on[i];
    }
    out += ") ";
  } else if (p.distinct) {
    out += "DISTINCT ";
  }
}

Fragment render_plain_select(const SelectParts& p) {
  Fragment out;
  bool recursive = false;
  for (const auto& c : p.with) recursive = recursive || c.recursive;
  for (std::size_t i = 0; i < p.with.size(); ++i) {
    out += i == 0 ? (recursive ? "WITH RECURSIVE " : "WITH ") : ", ";
    out.add_identifier(p.with[i].name);
    out += " AS (";
    out += p.with[i].query;
    out += ")";
  }
  if (!p.with.empty()) out += " ";
  out += "SELECT ";
  append_distinct(out, p);
  if (p.projection.empty() && p.from)
    append_from_columns(out, p);
  else
    out += p.projection;
  render_from(out, p);
  if (!p.order_by.empty()) {
    out += " ORDER BY ";
    for (std::size_t i = 0; i < p.order_by.size(); ++i) {
      if (i) out += ", ";
      out += p.order_by[i];
    }
  }
  if (p.limit) {
    out += " LIMIT ";
    out.add_param(*p.limit);
  }
  if (p.offset) {
    out += " OFFSET ";
    out.add_param(*p.offset);
  }
  out += lock_clause(p.lock, p.lock_of);
  return out;
}
}  // namespace

Fragment render_count(const SelectParts& p) {
  bool simple = !p.distinct && p.distinct_on.empty() && p.group_by.empty() && !p.limit &&
                !p.offset && p.with.empty();
  Fragment out;
  if (simple) {
    out += "SELECT count(*)";
    render_from(out, p);
    return out;
  }
  SelectParts inner = p;
  inner.order_by.clear();
  inner.lock = LockMode::none;
  inner.eager.clear();
  out += "SELECT count(*) FROM (";
  out += render_select(inner);
  out += ") AS pgorm_count";
  return out;
}

Fragment render_exists(const SelectParts& p) {
  SelectParts inner = p;
  inner.order_by.clear();
  inner.lock = LockMode::none;
  inner.eager.clear();
  inner.projection = Fragment{};
  inner.projection += "1";
  Fragment out;
  out += "SELECT EXISTS (";
  out += render_select(inner);
  out += ")";
  return out;
}

Fragment render_subquery(const SelectParts& p) {
  Fragment out;
  out += "(";
  out += render_select(p);
  out += ")";
  return out;
}

Fragment render_set_operation(SetOperation op, const SelectParts& left, const SelectParts& right) {
  static constexpr std::string_view kOperators[] = {
      " UNION ", " UNION ALL ", " INTERSECT ", " INTERSECT ALL ", " EXCEPT ", " EXCEPT ALL "};
  Fragment out = render_subquery(left);
  out += kOperators[static_cast<int>(op)];
  out += render_subquery(right);
  return out;
}

namespace {
// " FROM a, b" / " USING a, b": the other tables an UPDATE or DELETE reads.
void append_sources(Fragment& out, std::string_view keyword,
                    const std::vector<SourcePart>& sources) {
  for (std::size_t i = 0; i < sources.size(); ++i) {
    out += i == 0 ? keyword : ", ";
    if (!sources[i].source.empty()) {
      out += sources[i].source;
      continue;
    }
    append_table(out, *sources[i].table);
    if (!sources[i].alias.empty()) {
      out += " AS ";
      out.add_identifier(sources[i].alias);
    }
  }
}

// WHERE (live rows only, if asked: of the table, and of the soft-delete sources) AND condition,
// then RETURNING every column if asked.
void finish_write(Fragment& out, const TableInfo& table, bool live_only, const Fragment& where,
                  bool returning, const std::vector<SourcePart>& sources, bool live_sources) {
  Fragment condition;
  if (live_only) and_into(condition, live_rows(table));
  if (live_sources)
    for (const auto& source : sources)
      if (source.table != nullptr && source.table->soft_delete)
        and_into(condition, live_rows(source.name()));
  if (!where.empty()) and_into(condition, where);
  if (!condition.empty()) {
    out += " WHERE ";
    out += condition;
  }
  if (returning) {
    out += " RETURNING ";
    append_qualified_columns(out, table);
  }
}
}  // namespace

Fragment render_update(const UpdateParts& p) {
  Fragment out;
  out += "UPDATE ";
  append_table(out, *p.table);
  out += " SET ";
  out += p.assignments;
  append_sources(out, " FROM ", p.from);
  finish_write(out, *p.table, p.table->soft_delete && !p.with_deleted, p.where, p.returning, p.from,
               !p.with_deleted);
  return out;
}

Fragment render_delete(const DeleteParts& p) {
  Fragment out;
  bool soft = p.table->soft_delete && !p.hard;
  if (soft) {
    out += "UPDATE ";
    append_table(out, *p.table);
    out += " SET \"deleted_at\" = now()";
    append_sources(out, " FROM ", p.using_);
  } else {
    out += "DELETE FROM ";
    append_table(out, *p.table);
    append_sources(out, " USING ", p.using_);
  }
  finish_write(out, *p.table, soft, p.where, p.returning, p.using_, true);
  return out;
}

CopyIn render_copy(const TableInfo& table, const std::vector<bool>& defaults,
                   const std::vector<Fragment>& rows) {
  CopyIn out;
  out.sql = "COPY ";
  sql::append_identifier(out.sql, table.name);
  out.sql += " (";
  bool first = true;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (defaults[i]) continue;
    if (!first) out.sql += ", ";
    first = false;
    sql::append_identifier(out.sql, table.columns[i].name);
  }
  out.sql += ") FROM STDIN";
  std::size_t size = 0;
  for (const Fragment& row : rows) size += row.params.size() * 8;
  out.data.reserve(size);
  for (const Fragment& row : rows) {
    for (std::size_t i = 0; i < row.params.size(); ++i) {
      if (i) out.data += '\t';
      const char* value = row.params.value(i);
      if (value == nullptr) {
        out.data += "\\N";
        continue;
      }
      // COPY's text format: backslash escapes for the characters that delimit it.
      const char* run = value;
      for (const char* c = value;; ++c) {
        const char ch = *c;
        if (ch != '\0' && ch != '\\' && ch != '\t' && ch != '\n' && ch != '\r') continue;
        out.data.append(run, static_cast<std::size_t>(c - run));
        if (ch == '\0') break;
        out.data += '\\';
        out.data += ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
        run = c + 1;
      }
    }
    out.data += '\n';
  }
  return out;
}

namespace {
// The type a column's values are cast to inside unnest(), or std::nullopt when unnest cannot
// carry them as INSERT ... VALUES would. The cast must not change a value: an explicit cast to
// varchar(n) or char(n) cuts a long string without an error where the INSERT's assignment
// raises one, so a length or precision is left to the INSERT's own assignment to the column;
// types where that cannot be done simply (char(n), bit(n), time(p), ...) keep VALUES, and so do
// array columns, which unnest would flatten.
std::optional<std::string> unnest_element_type(std::string_view type) {
  std::string lower;
  for (char c : type) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower.find('[') != std::string::npos) return std::nullopt;
  // A key given explicitly: serial pseudo-types are not types arrays exist of.
  if (lower == "serial" || lower == "serial4") return std::string("integer");
  if (lower == "bigserial" || lower == "serial8") return std::string("bigint");
  if (lower == "smallserial" || lower == "serial2") return std::string("smallint");
  const std::size_t paren = lower.find('(');
  if (paren == std::string::npos) return std::string(type);
  std::string_view base = std::string_view(lower).substr(0, paren);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  if (lower.back() != ')') return std::nullopt;  // "timestamp(3) with time zone" and the like
  if (base == "varchar" || base == "character varying") return std::string("varchar");
  if (base == "numeric" || base == "decimal") return std::string("numeric");
  return std::nullopt;
}
}  // namespace

std::optional<UnnestArrays> UnnestArrays::of(const TableInfo& table,
                                             const std::vector<std::size_t>& columns) {
  if (columns.empty()) return std::nullopt;
  UnnestArrays out;
  for (std::size_t i : columns) {
    std::optional<std::string> element = unnest_element_type(table.columns[i].sql_type);
    if (!element) return std::nullopt;
    out.casts_.push_back("::" + *element + "[]");
  }
  out.arrays_.resize(columns.size());
  for (auto& array : out.arrays_) array.push_back('{');
  return out;
}

// Elements quoted, \ and " escaped, NULL bare.
void UnnestArrays::add(std::size_t array, std::string_view text) {
  std::string& out = arrays_[array];
  if (out.size() > 1) out += ',';
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch != '\\' && ch != '"') continue;
    out.append(text.substr(run, i - run));
    out += '\\';
    out += ch;
    run = i + 1;
  }
  out.append(text.substr(run));
  out += '"';
}

void UnnestArrays::add_null(std::size_t array) {
  std::string& out = arrays_[array];
  if (out.size() > 1) out += ',';
  out += "NULL";
}

void UnnestArrays::append_to(Fragment& out) && {
  out += "unnest(";
  for (std::size_t j = 0; j < arrays_.size(); ++j) {
    arrays_[j] += '}';
    if (j) out += ", ";
    out.add_param(std::string_view(arrays_[j]));
    out += casts_[j];
  }
  out += ")";
}

Fragment render_unnest_insert(const TableInfo& table, const std::vector<std::size_t>& columns,
                              UnnestArrays arrays) {
  Fragment out;
  out += "INSERT INTO ";
  out.add_identifier(table.name);
  out += " (";
  for (std::size_t j = 0; j < columns.size(); ++j) {
    if (j) out += ", ";
    out.add_identifier(table.columns[columns[j]].name);
  }
  out += ") SELECT * FROM ";
  std::move(arrays).append_to(out);
  return out;
}

Fragment render_unnest_update(const TableInfo& table, const std::vector<std::size_t>& match,
                              const std::vector<std::size_t>& set, std::string_view extra_sets,
                              UnnestArrays arrays) {
  // The arrays' alias: any name but the table's own (PostgreSQL refuses a name twice).
  const std::string_view alias = table.name == "pgorm_v" ? "pgorm_values" : "pgorm_v";
  const auto value = [&](Fragment& out, std::size_t j) {
    out.add_identifier(alias);
    out += ".";
    out += "\"c";
    out += std::to_string(j);
    out += "\"";
  };
  Fragment out;
  out += "UPDATE ";
  out.add_identifier(table.name);
  out += " SET ";
  for (std::size_t j = 0; j < set.size(); ++j) {
    if (j) out += ", ";
    out.add_identifier(table.columns[set[j]].name);
    out += " = ";
    value(out, match.size() + j);
  }
  out += extra_sets;
  out += " FROM ";
  // The first array (the first key column's values) is also compared with ANY below: its number
  // is one past the parameters already in the text, which finish() numbers in order (so the
  // fragment must be finished as it is, not appended to another with parameters before it).
  const std::string first_key = "$" + std::to_string(out.params.size() + 1) + arrays.cast(0);
  std::move(arrays).append_to(out);
  out += " WITH ORDINALITY AS ";
  out.add_identifier(alias);
  out += "(";
  for (std::size_t j = 0; j < match.size() + set.size(); ++j) {
    out += "\"c";
    out += std::to_string(j);
    out += "\", ";
  }
  out += "\"n\") WHERE ";
  for (std::size_t j = 0; j < match.size(); ++j) {
    if (j) out += " AND ";
    out.add_identifier(table.name);
    out += ".";
    out.add_identifier(table.columns[match[j]].name);
    out += " = ";
    value(out, j);
  }
  // Lets the planner find the rows through the key's index: joined to unnest() alone, whose
  // row count it knows, it may rather hash the whole table.
  out += " AND ";
  out.add_identifier(table.name);
  out += ".";
  out.add_identifier(table.columns[match[0]].name);
  out += " = ANY(";
  out += first_key;
  out += ")";
  out += " RETURNING ";
  append_qualified_columns(out, table);
  out += ", ";
  out.add_identifier(alias);
  out += ".\"n\"";
  return out;
}

}  // namespace pgorm::query
