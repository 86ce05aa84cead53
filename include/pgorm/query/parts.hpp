// The runtime statement tree the typed builders fill in, and the PostgreSQL renderer's entry
// points (src/query/render.cpp). Kept free of templates so the rendering code compiles once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgorm/model/metadata.hpp"
#include "pgorm/query/fragment.hpp"
#include "pgorm/types/traits.hpp"

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
  // select<T>(): every column of `from` as a select list, rendered once per model
  // (sql::qualified_columns<T>()). Used while from_columns_of == from; otherwise the list is
  // rendered from `from`.
  const std::string* from_columns = nullptr;
  const TableInfo* from_columns_of = nullptr;
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

// The arrays of unnest($1::type[], ...) for many rows sent in one statement whose text does not
// depend on their number (so it can be prepared): one text array parameter per column, built a
// value at a time.
class UnnestArrays {
 public:
  // Arrays for these columns of the table, in this order; std::nullopt when one of them is
  // itself an array (unnest would flatten it), its type cannot be cast without changing a value,
  // or there is none.
  static std::optional<UnnestArrays> of(const TableInfo& table,
                                        const std::vector<std::size_t>& columns);
  // The next element of array `array` (0-based, in the order given to of()).
  template <column_type V>
  void add_value(std::size_t array, const V& value) {
    text_.clear();
    if (encode_value(value, text_))
      add(array, text_);
    else
      add_null(array);
  }
  // An element from its text (Params' encoding, without NUL bytes), or NULL.
  void add(std::size_t array, std::string_view text);
  void add_null(std::size_t array);
  // "::type[]": the cast array `array` is sent with.
  const std::string& cast(std::size_t array) const { return casts_[array]; }
  // Appends unnest($n::type[], ...) with the arrays as its parameters.
  void append_to(Fragment& out) &&;

 private:
  UnnestArrays() = default;
  std::vector<std::string> arrays_;  // "{...": one per column
  std::vector<std::string> casts_;
  std::string text_;
};

// INSERT INTO "table" (columns) SELECT * FROM unnest(arrays), without RETURNING: the arrays hold
// the values of `columns` (UnnestArrays::of(table, columns)).
Fragment render_unnest_insert(const TableInfo& table, const std::vector<std::size_t>& columns,
                              UnnestArrays arrays);

// UPDATE "t" SET "a" = "pgorm_v"."c2", ...<extra_sets> FROM unnest(arrays) WITH ORDINALITY AS
// "pgorm_v"("c0", ..., "n") WHERE "t"."k" = "pgorm_v"."c0" AND ... AND "t"."k" = ANY($1::type[])
// RETURNING every column of the table, qualified, then "pgorm_v"."n": the ordinal of the row's
// values in the arrays. The arrays hold the values of `match` (compared in WHERE: the key as
// loaded, the version read), then of `set` (UnnestArrays::of(table, match + set)). `extra_sets`
// is appended to the SET list as is (", \"updated_at\" = now()").
Fragment render_unnest_update(const TableInfo& table, const std::vector<std::size_t>& match,
                              const std::vector<std::size_t>& set, std::string_view extra_sets,
                              UnnestArrays arrays);

// "todos"."id", "todos"."title", ... for every column of a table.
void append_qualified_columns(Fragment& out, const TableInfo& table);

}  // namespace pgorm::query
