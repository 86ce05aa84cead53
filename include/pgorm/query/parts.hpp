// The runtime statement tree the typed builders fill in, and the PostgreSQL renderer's entry
// points (src/query/render.cpp). Kept free of templates so the rendering code compiles once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgorm/model/metadata.hpp"
#include "pgorm/query/fragment.hpp"

namespace pgorm::query {

// A row lock's strength and what it does about rows another transaction has locked. LockMode
// spells the four strengths with the three waits (for_update(LockMode) and for_share(LockMode)).
enum class LockMode {
  none,
  update,
  update_nowait,
  update_skip_locked,
  share,
  share_nowait,
  share_skip_locked,
  no_key_update,
  no_key_update_nowait,
  no_key_update_skip_locked,
  key_share,
  key_share_nowait,
  key_share_skip_locked
};
enum class LockWait { wait, nowait, skip_locked };

struct JoinPart {
  const TableInfo* table = nullptr;
  bool outer =
      false;  // the rows on the left stay without a match (LEFT, or FULL with keeps_joined)
  Fragment on;
  std::string alias;          // "<table>" AS "<alias>"; empty: the table's own name
  bool keeps_joined = false;  // the joined table's rows stay without a match (RIGHT, or FULL)
  bool cte = false;  // `alias` names a WITH query of `table`'s shape: JOIN "<alias>", no filter
  // Not empty: a row source instead of a table (table is null): "(SELECT ...) AS "d"("a", "b")",
  // "unnest($1::bigint[]) AS "u"("id")" (pgorm::derived, lateral, unnest). Without `on`: CROSS
  // JOIN, or LEFT OUTER JOIN ... ON true.
  Fragment source;
  const std::string& name() const noexcept { return alias.empty() ? table->name : alias; }
  // Whether the join's rows need the soft-delete filter (a table's, not a WITH query's or a
  // row source's, whose own statements filtered them).
  bool soft_delete() const noexcept { return table != nullptr && table->soft_delete && !cte; }
};

// WITH [RECURSIVE] "<name>" AS (<query>).
struct CtePart {
  std::string name;
  Fragment query;
  bool recursive = false;
};

// UNION [ALL], INTERSECT [ALL], EXCEPT [ALL] between two selects.
enum class SetOperation { union_distinct, union_all, intersect, intersect_all, except, except_all };

// A relationship loaded in the same statement (joined loading): its columns come back under
// "<alias>__<column>".
struct EagerJoin {
  const TableInfo* table = nullptr;
  std::string alias;
  Fragment on;  // condition between "<alias>" and the main model's table
};

struct SelectParts {
  // Defined in the library: copying the tree is not code every user's file needs to compile.
  SelectParts();
  SelectParts(const SelectParts&);
  SelectParts(SelectParts&&) noexcept;
  SelectParts& operator=(const SelectParts&);
  SelectParts& operator=(SelectParts&&) noexcept;
  ~SelectParts();

  const TableInfo* from = nullptr;
  // Not empty: FROM (from_subquery) AS "<from's table name>", a derived table with the rows of
  // `from`'s shape (a set operation's result); its soft-delete filter is the subquery's business.
  Fragment from_subquery;
  // Not empty: FROM "<from_name>" AS "<from's table name>", a WITH query of `from`'s shape.
  std::string from_name;
  // Not empty: FROM <from_source>, a row source with its name and column names (from is null):
  // pgorm::derived, pgorm::unnest.
  Fragment from_source;
  std::vector<CtePart> with;  // WITH queries before the SELECT
  Fragment projection;  // empty: every column of `from`
  bool distinct = false;
  std::vector<Fragment> distinct_on;  // DISTINCT ON (...) when not empty
  std::vector<JoinPart> joins;
  Fragment where;
  std::vector<Fragment> group_by;
  Fragment having;
  std::vector<Fragment> order_by;
  std::optional<std::int64_t> limit;
  std::optional<std::int64_t> offset;
  LockMode lock = LockMode::none;
  std::vector<const TableInfo*> lock_of;  // FOR UPDATE OF these tables only
  bool with_deleted = false;
  std::vector<EagerJoin> eager;

  // ON condition for joining `table` along the one foreign key between it and a table already in
  // the query; throws ProgrammingError when there is none or more than one.
  Fragment foreign_key_join(const TableInfo& table) const;
  void add_where(const Fragment& condition);
};

Fragment render_select(const SelectParts& parts);
// SELECT count(*) over the rows the select would return (ignoring ORDER BY).
Fragment render_count(const SelectParts& parts);
// SELECT EXISTS (...)
Fragment render_exists(const SelectParts& parts);
// (SELECT ...): a select nested in an expression (IN, EXISTS, ANY, a scalar subquery).
Fragment render_subquery(const SelectParts& parts);
// (SELECT ...) UNION (SELECT ...), and the other set operations.
Fragment render_set_operation(SetOperation op, const SelectParts& left, const SelectParts& right);

// A table a statement reads besides its own (UPDATE ... FROM, DELETE ... USING).
struct SourcePart {
  const TableInfo* table = nullptr;
  std::string alias;  // empty: the table's own name
  Fragment source;    // not empty: a row source instead of a table (table is null)
  const std::string& name() const noexcept { return alias.empty() ? table->name : alias; }
};

struct UpdateParts {
  const TableInfo* table = nullptr;
  Fragment assignments;  // "col" = value, ...
  std::vector<std::string> assigned;  // column names already assigned
  Fragment where;
  bool has_where = false;
  bool with_deleted = false;
  bool returning = false;
  std::vector<SourcePart> from;  // UPDATE ... FROM
};
Fragment render_update(const UpdateParts& parts);

struct DeleteParts {
  const TableInfo* table = nullptr;
  Fragment where;
  bool has_where = false;
  bool hard = false;  // a real DELETE on a SoftDelete table
  bool returning = false;
  std::vector<SourcePart> using_;  // DELETE ... USING (UPDATE ... FROM for a soft delete)
};
Fragment render_delete(const DeleteParts& parts);

// COPY "table" (columns) FROM STDIN and the rows in COPY's text format, for an INSERT of many
// rows. `defaults` says, per column of the table, whether the rows leave it to its default (then
// it is not copied); each row's parameters are the other columns' values, in order.
struct CopyIn {
  std::string sql;
  std::string data;
};
CopyIn render_copy(const TableInfo& table, const std::vector<bool>& defaults,
                   const std::vector<Fragment>& rows);

// INSERT INTO "table" (columns) SELECT * FROM unnest($1::type[], ...): many rows in one statement
// whose text does not depend on their number (so it can be prepared), one array parameter per
// column. Same `defaults` and rows as render_copy. Without RETURNING; std::nullopt when a copied
// column is itself an array (unnest would flatten it) or none is copied.
std::optional<Fragment> render_unnest_insert(const TableInfo& table,
                                             const std::vector<bool>& defaults,
                                             const std::vector<Fragment>& rows);

// "todos"."id", "todos"."title", ... for every column of a table.
void append_qualified_columns(Fragment& out, const TableInfo& table);

}  // namespace pgorm::query
