// Bulk statements: pgorm::update<T>(), pgorm::delete_<T>(), pgorm::insert<T>(). An UPDATE or
// DELETE without where() does not compile unless it says .all_rows().
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "pgorm/query/expression.hpp"
#include "pgorm/query/parts.hpp"
#include "pgorm/sql/model_sql.hpp"

namespace pgorm {
namespace query {

// Whether a statement returns rows (RETURNING) or a count of affected rows.
template <class T, bool Returning>
using dml_row_t = std::conditional_t<Returning, T, void>;

// The models a statement reads besides its own: a model or an alias of one.
template <class T>
const TableInfo& source_table() {
  if constexpr (requires { T::is_pgorm_alias; })
    return table_info<typename T::model_type>();
  else
    return table_info<T>();
}
template <class T>
std::string source_alias() {
  if constexpr (requires { T::is_pgorm_alias; })
    return std::string(T::name);
  else
    return {};
}

template <class S>
SourcePart source_part() {
  SourcePart part;
  part.table = &source_table<S>();
  part.alias = source_alias<S>();
  return part;
}
template <row_source S>
SourcePart source_part(const S& source) {
  static_assert(std::is_same_v<typename S::outer_models, type_list<>>,
                "pgorm: update<T>().from(source) / delete_<T>().using_(source): the source refers "
                "to other models (lateral<> or an unnest of columns)");
  SourcePart part;
  part.source = source.sql;
  return part;
}

// Sources: the models of UPDATE ... FROM (from<Model>()).
template <model T, bool HasWhere = false, bool Returning = false, class Sources = type_list<>>
class Update {
 public:
  using model_type = T;
  using row_type = dml_row_t<T, Returning>;
  static constexpr bool has_where = HasWhere;

  explicit Update(UpdateParts parts) : parts_(std::move(parts)) {}

  // SET column = value
  template <auto M, class U>
  Update set(Column<M> column, const U& value) const {
    static_assert(std::is_same_v<typename Column<M>::model_type, T>,
                  "pgorm: update<T>().set(): the column belongs to another model");
    if constexpr (expression<U>)
      static_assert(list_subset<models_of_t<U>, concat_t<type_list<T>, Sources>>::value,
                    "pgorm: set(): the expression uses a model that is neither the updated one "
                    "nor one of from<Model>()");
    Update out(*this);
    out.begin_assignment(column.name());
    using Member = typename Column<M>::member_type;
    if constexpr (expression<U>) {
      static_assert(std::is_same_v<value_of_t<U>, typename Column<M>::value_type>,
                    "pgorm: set(): the expression's C++ type does not match the column's type");
      out.parts_.assignments += value.to_expr().fragment;
    } else if constexpr (std::is_same_v<std::remove_cvref_t<U>, std::nullopt_t>) {
      static_assert(is_optional_v<Member>, "pgorm: set(): this column is NOT NULL");
      out.parts_.assignments += "NULL";
    } else {
      using V = typename Column<M>::value_type;
      static_assert(value_matches<V, U> || std::is_same_v<Member, U>,
                    "pgorm: set(): the value's C++ type does not match the column's type");
      if constexpr (std::is_same_v<Member, U>)
        out.parts_.assignments.add_param(value);
      else if constexpr (value_matches<V, U>) {
        refuse_narrowing<V, U>();
        add_value<V>(out.parts_.assignments, value, column);
      }
    }
    return out;
  }

  template <class E>
  Update<T, true, Returning, Sources> where(const E& condition_expr) const {
    static_assert(condition<E>, "pgorm: where() takes a condition (a boolean expression)");
    static_assert(list_subset<models_of_t<E>, concat_t<type_list<T>, Sources>>::value,
                  "pgorm: an UPDATE's condition may use the updated model's columns only (and "
                  "those of from<Model>())");
    UpdateParts p = parts_;
    if (!p.where.empty()) p.where += " AND ";
    p.where += condition_expr.to_expr().fragment;
    p.has_where = true;
    return Update<T, true, Returning, Sources>(std::move(p));
  }
  // UPDATE ... FROM: rows of another model (or an alias) that where() and set() may use.
  //   update<Todo>().from<User>().set(col<&Todo::status>, TodoStatus::archived)
  //                 .where(col<&Todo::user_id> == col<&User::id> && col<&User::email> == e)
  template <class S>
  Update<T, HasWhere, Returning, concat_t<Sources, type_list<S>>> from() const {
    static_assert(
        model<S> || requires { S::is_pgorm_alias; },
        "pgorm: from<Model>() takes a model or a pgorm::aliased one");
    UpdateParts p = parts_;
    p.from.push_back(source_part<S>());
    return Update<T, HasWhere, Returning, concat_t<Sources, type_list<S>>>(std::move(p));
  }
  // UPDATE ... FROM a row source (pgorm::unnest, pgorm::derived): many rows, each with its own
  // values, in one statement.
  //   auto v = pgorm::unnest<"v", "id", "title">(ids, titles);
  //   update<Todo>().from(v).set(col<&Todo::title>, decltype(v)::col<"title">)
  //                 .where(col<&Todo::id> == decltype(v)::col<"id">)
  template <row_source S>
  Update<T, HasWhere, Returning, concat_t<Sources, type_list<S>>> from(const S& source) const {
    UpdateParts p = parts_;
    p.from.push_back(source_part(source));
    return Update<T, HasWhere, Returning, concat_t<Sources, type_list<S>>>(std::move(p));
  }
  // Says that updating every row is intended.
  Update<T, true, Returning, Sources> all_rows() const {
    return Update<T, true, Returning, Sources>(parts_);
  }
  Update with_deleted() const {
    Update out(*this);
    out.parts_.with_deleted = true;
    return out;
  }
  // RETURNING every column: executing gives the updated objects.
  Update<T, HasWhere, true, Sources> returning() const {
    UpdateParts p = parts_;
    p.returning = true;
    return Update<T, HasWhere, true, Sources>(std::move(p));
  }

  Statement statement() const {
    static_assert(HasWhere,
                  "pgorm: UPDATE without where() would change every row: add .where(...) or say "
                  ".all_rows()");
    UpdateParts p = parts_;
    if (p.assignments.empty()) {
      ErrorInfo info;
      info.table = p.table->name;
      info.message = "update() has no set(...)";
      throw ProgrammingError(std::move(info));
    }
    // updated_at follows every UPDATE of a Timestamps model, unless the statement sets it.
    if constexpr (model_traits<T>::timestamps) {
      if (std::find(p.assigned.begin(), p.assigned.end(), "updated_at") == p.assigned.end())
        p.assignments += ", \"updated_at\" = now()";
    }
    return finish(render_update(p));
  }
  std::string to_sql() const { return statement().to_string(); }

 private:
  void begin_assignment(std::string_view column) {
    if (!parts_.assignments.empty()) parts_.assignments += ", ";
    parts_.assignments.add_identifier(column);
    parts_.assignments += " = ";
    parts_.assigned.emplace_back(column);
  }
  UpdateParts parts_;
};

// Sources: the models of DELETE ... USING (using_<Model>()).
template <model T, bool HasWhere = false, bool Returning = false, class Sources = type_list<>>
class Delete {
 public:
  using model_type = T;
  using row_type = dml_row_t<T, Returning>;
  static constexpr bool has_where = HasWhere;

  explicit Delete(DeleteParts parts) : parts_(std::move(parts)) {}

  template <class E>
  Delete<T, true, Returning, Sources> where(const E& condition_expr) const {
    static_assert(condition<E>, "pgorm: where() takes a condition (a boolean expression)");
    static_assert(list_subset<models_of_t<E>, concat_t<type_list<T>, Sources>>::value,
                  "pgorm: a DELETE's condition may use the deleted model's columns only (and "
                  "those of using_<Model>())");
    DeleteParts p = parts_;
    if (!p.where.empty()) p.where += " AND ";
    p.where += condition_expr.to_expr().fragment;
    p.has_where = true;
    return Delete<T, true, Returning, Sources>(std::move(p));
  }
  // DELETE ... USING: rows of another model (or an alias) that where() may use. For a SoftDelete
  // model (an UPDATE) they become UPDATE ... FROM.
  //   delete_<Todo>().using_<User>().where(col<&Todo::user_id> == col<&User::id> && ...)
  template <class S>
  Delete<T, HasWhere, Returning, concat_t<Sources, type_list<S>>> using_() const {
    static_assert(
        model<S> || requires { S::is_pgorm_alias; },
        "pgorm: using_<Model>() takes a model or a pgorm::aliased one");
    DeleteParts p = parts_;
    p.using_.push_back(source_part<S>());
    return Delete<T, HasWhere, Returning, concat_t<Sources, type_list<S>>>(std::move(p));
  }
  // DELETE ... USING a row source: delete_<Todo>().using_(pgorm::unnest<"v", "id">(ids))
  template <row_source S>
  Delete<T, HasWhere, Returning, concat_t<Sources, type_list<S>>> using_(const S& source) const {
    DeleteParts p = parts_;
    p.using_.push_back(source_part(source));
    return Delete<T, HasWhere, Returning, concat_t<Sources, type_list<S>>>(std::move(p));
  }
  Delete<T, true, Returning, Sources> all_rows() const {
    return Delete<T, true, Returning, Sources>(parts_);
  }
  // For SoftDelete models: really DELETE the rows instead of setting deleted_at.
  Delete hard() const {
    Delete out(*this);
    out.parts_.hard = true;
    return out;
  }
  Delete<T, HasWhere, true, Sources> returning() const {
    DeleteParts p = parts_;
    p.returning = true;
    return Delete<T, HasWhere, true, Sources>(std::move(p));
  }
  Statement statement() const {
    static_assert(HasWhere,
                  "pgorm: DELETE without where() would remove every row: add .where(...) or say "
                  ".all_rows()");
    return finish(render_delete(parts_));
  }
  std::string to_sql() const { return statement().to_string(); }

 private:
  DeleteParts parts_;
};

// Whether an object's column holding `value` is sent as DEFAULT, so that the server fills it in
// (and RETURNING brings it back): a serial key holding 0, a UUID key holding the nil UUID and a
// column with a server default holding its unset value (std::nullopt, Timestamp{}). column()
// refuses a server default on members whose default-constructed value is an ordinary value (0,
// false, "").
template <class Def>
bool sends_default(const typename Def::member_type& value) {
  using M = typename Def::member_type;
  constexpr bool server_fills = Def::template has<serial_t> || Def::template has<server_default>;
  if constexpr (server_fills && std::is_default_constructible_v<M> && std::equality_comparable<M>)
    return value == M{};
  else
    return false;
}

// Appends one object's values as a VALUES row, DEFAULT where sends_default() says so.
// `defaults`, when given, gets whether each column was left to its default. `Out` is a Fragment,
// or a ParamsOnly to collect the parameters of a text rendered before.
template <class Out, model T>
void append_values_row(Out& out, const T& object, std::vector<bool>* defaults = nullptr) {
  out += "(";
  bool first = true;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!first) out += ", ";
    first = false;
    const auto& value = Def::ref(object);
    const bool use_default = sends_default<Def>(value);
    if (defaults) defaults->push_back(use_default);
    if (use_default)
      out += "DEFAULT";
    else
      out.add_param(value);
  });
  out += ")";
}

enum class ConflictAction { none, nothing, update };

// How far an insert's ON CONFLICT clause has come: no target yet, a target of columns (where()
// then gives a partial unique index's predicate), a named constraint, or a DO UPDATE (where() then
// filters the rows to update).
enum class ConflictStage { none, columns, constraint, update };

// The rows proposed for insertion in ON CONFLICT DO UPDATE: the "model" of pgorm::excluded<&T::c>
// columns.
template <class T>
struct excluded_row {};

// EXCLUDED."c": the value a conflicting row would have inserted (pgorm::excluded<&T::c>).
template <auto Member>
struct Excluded : ExprMethods<Excluded<Member>> {
  using column_type = Column<Member>;
  using model_type = typename column_type::model_type;
  using member_type = typename column_type::member_type;
  using value_type = typename column_type::value_type;
  using models = type_list<excluded_row<model_type>>;
  using expr_type = Expr<value_type, models, member_type>;

  expr_type to_expr() const {
    expr_type e;
    e.fragment += "EXCLUDED.";
    e.fragment.add_identifier(column_type::name());
    return e;
  }
};

// The row a RETURNING of some columns reads: the value for one column, a std::tuple for more.
template <auto... Ms>
struct returning_row {
  using type = std::tuple<typename Column<Ms>::member_type...>;
};
template <auto M>
struct returning_row<M> {
  using type = typename Column<M>::member_type;
};

// Stage: see ConflictStage (DO UPDATE needs a conflict target). Row: what RETURNING reads, the
// model or some of its columns (returning(col<&T::id>, ...)).
template <model T, bool Returning = false, ConflictStage Stage = ConflictStage::none, class Row = T>
class Insert {
 public:
  using model_type = T;
  using row_type = dml_row_t<Row, Returning>;
  static constexpr bool has_target = Stage != ConflictStage::none;

  Insert() = default;

  // Rows to insert: any range of T. Session::execute sends them in as many statements as
  // PostgreSQL's limit of 65,535 parameters per statement needs.
  template <class Range>
  Insert values(const Range& objects) const {
    Insert out(*this);
    for (const T& object : objects) {
      out.rows_.emplace_back();
      append_values_row(out.rows_.back(), object, &out.defaults_);
      ++out.count_;
    }
    return out;
  }
  Insert value(const T& object) const {
    return values(std::vector<std::reference_wrapper<const T>>{object});
  }

  // ON CONFLICT (columns) ...: the conflict target, for do_nothing() or do_update().
  template <auto... Ms>
  Insert<T, Returning, ConflictStage::columns, Row> on_conflict() const {
    static_assert(sizeof...(Ms) > 0, "pgorm: on_conflict<&T::a, ...>() needs the conflict columns");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: on_conflict(): the columns belong to another model");
    static_assert(Stage == ConflictStage::none, "pgorm: an insert has one conflict target");
    auto out = convert<Returning, ConflictStage::columns, Row>();
    out.conflict_columns_ = {std::string(Column<Ms>::name())...};
    return out;
  }
  // ON CONFLICT ON CONSTRAINT "name": the conflict target named by a unique or exclusion
  // constraint.
  Insert<T, Returning, ConflictStage::constraint, Row> on_conflict_on_constraint(
      std::string_view name) const {
    static_assert(Stage == ConflictStage::none, "pgorm: an insert has one conflict target");
    auto out = convert<Returning, ConflictStage::constraint, Row>();
    out.constraint_ = std::string(name);
    return out;
  }
  // The same for the model's declared unique constraint on exactly these columns
  // (pgorm::unique or pgorm::unique_constraint<...>()); ProgrammingError when there is none.
  template <auto... Ms>
  Insert<T, Returning, ConflictStage::constraint, Row> on_conflict_on_constraint() const {
    static_assert(sizeof...(Ms) > 0,
                  "pgorm: on_conflict_on_constraint<&T::a, ...>() needs the constraint's columns");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: on_conflict_on_constraint(): the columns belong to another model");
    const std::vector<std::string> columns{std::string(Column<Ms>::name())...};
    for (const UniqueInfo& unique : table_info<T>().uniques)
      if (unique.columns == columns) return on_conflict_on_constraint(unique.name);
    ErrorInfo info;
    info.table = table_info<T>().name;
    info.message =
        "on_conflict_on_constraint(): the model declares no unique constraint on "
        "exactly these columns";
    throw ProgrammingError(std::move(info));
  }
  // After on_conflict<...>(): the predicate of a partial unique index, ON CONFLICT (c) WHERE cond
  // (the model's columns only). After do_update...(): which conflicting rows to update, DO UPDATE
  // SET ... WHERE cond (the model's columns are the existing row, pgorm::excluded<&T::c> the
  // proposed one). Several where() calls are joined with AND.
  template <class E>
  Insert where(const E& condition_expr) const {
    static_assert(condition<E>, "pgorm: where() takes a condition (a boolean expression)");
    static_assert(Stage != ConflictStage::none,
                  "pgorm: an insert's where() needs on_conflict<&T::c...>() first (a partial "
                  "unique index's predicate) or do_update...() (which rows to update)");
    static_assert(Stage != ConflictStage::constraint,
                  "pgorm: ON CONFLICT ON CONSTRAINT takes no WHERE: name the columns with "
                  "on_conflict<&T::c...>().where(...), or filter the update after do_update...()");
    Insert out(*this);
    if constexpr (Stage == ConflictStage::columns) {
      static_assert(list_subset<models_of_t<E>, type_list<T>>::value,
                    "pgorm: on_conflict<...>().where(): the index predicate may use the inserted "
                    "model's columns only");
      append_condition(out.target_where_, condition_expr);
    } else if constexpr (Stage == ConflictStage::update) {
      static_assert(list_subset<models_of_t<E>, type_list<T, excluded_row<T>>>::value,
                    "pgorm: do_update...().where(): the condition may use the inserted model's "
                    "columns and pgorm::excluded<> of them only");
      append_condition(out.update_where_, condition_expr);
    }
    return out;
  }
  // ON CONFLICT DO NOTHING: after on_conflict<...>() for that target, or alone for any conflict.
  Insert do_nothing() const {
    Insert out(*this);
    out.action_ = ConflictAction::nothing;
    return out;
  }
  // DO UPDATE SET c = EXCLUDED.c for the listed columns (an upsert).
  template <auto... Ms>
  Insert<T, Returning, ConflictStage::update, Row> do_update() const {
    static_assert(has_target,
                  "pgorm: do_update<...>() needs the conflict target first: "
                  "insert<T>().values(...).on_conflict<&T::key>().do_update<&T::column>()");
    static_assert(sizeof...(Ms) > 0, "pgorm: do_update<&T::a, ...>() needs the columns to update");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: do_update(): the columns belong to another model");
    auto out = convert<Returning, ConflictStage::update, Row>();
    out.action_ = ConflictAction::update;
    for (std::string_view name : {Column<Ms>::name()...}) {
      out.begin_assignment(name);
      out.update_sets_ += "EXCLUDED.";
      out.update_sets_.add_identifier(name);
    }
    return out;
  }
  // DO UPDATE SET c = expression (or value): the model's columns are the existing row,
  // pgorm::excluded<&T::c> the proposed one.
  //   .on_conflict<&Counter::name>().do_update_set(col<&Counter::n>,
  //                                                col<&Counter::n> + excluded<&Counter::n>)
  template <auto M, class U>
  Insert<T, Returning, ConflictStage::update, Row> do_update_set(Column<M> column,
                                                                 const U& value) const {
    static_assert(has_target,
                  "pgorm: do_update_set(...) needs the conflict target first: "
                  "insert<T>().values(...).on_conflict<&T::key>().do_update_set(col, value)");
    static_assert(std::is_same_v<typename Column<M>::model_type, T>,
                  "pgorm: do_update_set(): the column belongs to another model");
    if constexpr (expression<U>) {
      static_assert(list_subset<models_of_t<U>, type_list<T, excluded_row<T>>>::value,
                    "pgorm: do_update_set(): the expression may use the inserted model's columns "
                    "and pgorm::excluded<> of them only");
      static_assert(std::is_same_v<value_of_t<U>, typename Column<M>::value_type>,
                    "pgorm: do_update_set(): the expression's C++ type does not match the "
                    "column's type");
    }
    auto out = convert<Returning, ConflictStage::update, Row>();
    out.action_ = ConflictAction::update;
    out.begin_assignment(column.name());
    using Member = typename Column<M>::member_type;
    if constexpr (expression<U>) {
      out.update_sets_ += value.to_expr().fragment;
    } else if constexpr (std::is_same_v<std::remove_cvref_t<U>, std::nullopt_t>) {
      static_assert(is_optional_v<Member>, "pgorm: do_update_set(): this column is NOT NULL");
      out.update_sets_ += "NULL";
    } else {
      using V = typename Column<M>::value_type;
      static_assert(value_matches<V, U> || std::is_same_v<Member, U>,
                    "pgorm: do_update_set(): the value's C++ type does not match the column's "
                    "type");
      if constexpr (std::is_same_v<Member, U>)
        out.update_sets_.add_param(value);
      else if constexpr (value_matches<V, U>) {
        refuse_narrowing<V, U>();
        add_value<V>(out.update_sets_, value, column);
      }
    }
    return out;
  }
  // RETURNING every column: executing gives the inserted (or updated) objects.
  Insert<T, true, Stage, T> returning() const { return convert<true, Stage, T>(); }
  // RETURNING these columns: executing gives their values, a std::tuple of them for more than one.
  //   insert<User>().values(batch).returning(col<&User::id>, col<&User::email>)
  template <auto... Ms>
  Insert<T, true, Stage, typename returning_row<Ms...>::type> returning(Column<Ms>...) const {
    static_assert(sizeof...(Ms) > 0, "pgorm: returning(col<&T::a>, ...) needs columns");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: returning(): the columns belong to another model");
    auto out = convert<true, Stage, typename returning_row<Ms...>::type>();
    out.returning_ = " RETURNING ";
    bool first = true;
    ((out.returning_ += first ? "" : ", ", first = false,
      sql::append_identifier(out.returning_, Column<Ms>::name())),
     ...);
    return out;
  }

  std::size_t size() const noexcept { return count_; }
  // Every row in one statement.
  Statement statement() const { return statement_for(0, rows_.size()); }
  // The rows split so that no statement carries more than 65,535 parameters.
  std::vector<Statement> statements() const {
    std::vector<Statement> out;
    const std::size_t extra =
        target_where_.params.size() + update_sets_.params.size() + update_where_.params.size();
    const std::size_t per_statement = std::max<std::size_t>(
        1, (kMaxParams - std::min(extra, kMaxParams)) / model_traits<T>::column_count);
    for (std::size_t start = 0; start < rows_.size(); start += per_statement)
      out.push_back(statement_for(start, std::min(rows_.size(), start + per_statement)));
    return out;
  }
  std::string to_sql() const { return statement().to_string(); }

  // From this many rows up, Session::execute sends an insert that returns nothing with COPY ...
  // FROM STDIN: a row costs less to send that way, but COPY takes two round trips where one
  // INSERT takes one.
  static constexpr std::size_t kCopyFrom = 100;
  // The COPY that writes the same rows, when there is one: no RETURNING, no ON CONFLICT, every
  // row leaving the same columns to their defaults (and not all of them).
  std::optional<CopyIn> copy_in() const {
    if constexpr (Returning) {
      return std::nullopt;
    } else {
      const std::size_t columns = model_traits<T>::column_count;
      if (action_ != ConflictAction::none || rows_.empty() ||
          defaults_.size() != rows_.size() * columns)
        return std::nullopt;
      for (std::size_t i = columns; i < defaults_.size(); ++i)
        if (defaults_[i] != defaults_[i % columns]) return std::nullopt;
      std::vector<bool> first(defaults_.begin(),
                              defaults_.begin() + static_cast<std::ptrdiff_t>(columns));
      if (std::find(first.begin(), first.end(), false) == first.end()) return std::nullopt;
      return render_copy(table_info<T>(), first, rows_);
    }
  }

 private:
  template <class E>
  static void append_condition(Fragment& out, const E& condition_expr) {
    if (!out.empty()) out += " AND ";
    out += condition_expr.to_expr().fragment;
  }
  void begin_assignment(std::string_view column) {
    if (!update_sets_.empty()) update_sets_ += ", ";
    update_sets_.add_identifier(column);
    update_sets_ += " = ";
    assigned_.emplace_back(column);
  }
  Statement statement_for(std::size_t first, std::size_t last) const {
    Fragment f;
    f += sql::insert_prefix<T>();
    for (std::size_t i = first; i < last; ++i) {
      if (i != first) f += ", ";
      f += rows_[i];
    }
    if (action_ == ConflictAction::none && Stage != ConflictStage::none) {
      ErrorInfo info;
      info.table = table_info<T>().name;
      info.message = "insert(): the conflict target needs .do_nothing() or .do_update...()";
      throw ProgrammingError(std::move(info));
    }
    if (action_ != ConflictAction::none) {
      f += " ON CONFLICT";
      if (!constraint_.empty()) {
        f += " ON CONSTRAINT ";
        f.add_identifier(constraint_);
      }
      for (std::size_t i = 0; i < conflict_columns_.size(); ++i) {
        f += i ? ", " : " (";
        f.add_identifier(conflict_columns_[i]);
      }
      if (!conflict_columns_.empty()) f += ")";
      if (!target_where_.empty()) {
        f += " WHERE ";
        f += target_where_;
      }
      if (action_ == ConflictAction::nothing) {
        f += " DO NOTHING";
      } else {
        f += " DO UPDATE SET ";
        f += update_sets_;
        // updated_at follows every update of a Timestamps model, unless the statement sets it.
        if constexpr (model_traits<T>::timestamps) {
          if (std::find(assigned_.begin(), assigned_.end(), "updated_at") == assigned_.end())
            f += ", \"updated_at\" = EXCLUDED.\"updated_at\"";
        }
        if (!update_where_.empty()) {
          f += " WHERE ";
          f += update_where_;
        }
      }
    }
    if constexpr (Returning) {
      if (returning_.empty())
        f += sql::returning_all<T>();
      else
        f += returning_;
    }
    return finish(std::move(f));
  }

  template <bool R, ConflictStage S, class W>
  Insert<T, R, S, W> convert() const {
    Insert<T, R, S, W> out;
    out.rows_ = rows_;
    out.defaults_ = defaults_;
    out.count_ = count_;
    out.conflict_columns_ = conflict_columns_;
    out.constraint_ = constraint_;
    out.target_where_ = target_where_;
    out.update_sets_ = update_sets_;
    out.assigned_ = assigned_;
    out.update_where_ = update_where_;
    out.action_ = action_;
    if constexpr (std::is_same_v<W, Row>) out.returning_ = returning_;
    return out;
  }

  template <model, bool, ConflictStage, class>
  friend class Insert;
  std::vector<Fragment> rows_;
  std::vector<bool> defaults_;  // per row, per column: left to its default
  std::size_t count_ = 0;
  std::vector<std::string> conflict_columns_;
  std::string constraint_;  // ON CONFLICT ON CONSTRAINT
  Fragment target_where_;   // ON CONFLICT (...) WHERE: a partial unique index's predicate
  Fragment update_sets_;    // DO UPDATE SET ...
  std::vector<std::string> assigned_;  // the columns update_sets_ assigns
  Fragment update_where_;              // DO UPDATE SET ... WHERE
  std::string returning_;              // RETURNING some columns; empty: all of them
  ConflictAction action_ = ConflictAction::none;
};

}  // namespace query

template <model T>
query::Update<T> update() {
  query::UpdateParts parts;
  parts.table = &table_info<T>();
  return query::Update<T>(std::move(parts));
}

// DELETE; for SoftDelete models it sets deleted_at instead, unless .hard().
template <model T>
query::Delete<T> delete_() {
  query::DeleteParts parts;
  parts.table = &table_info<T>();
  return query::Delete<T>(std::move(parts));
}

template <model T>
query::Insert<T> insert() {
  return query::Insert<T>();
}

// EXCLUDED."c" in ON CONFLICT DO UPDATE: the value the conflicting row proposed, an expression of
// c's type for do_update_set() and do_update...().where().
//   .do_update_set(col<&Counter::n>, col<&Counter::n> + excluded<&Counter::n>)
template <auto Member>
inline constexpr query::Excluded<Member> excluded{};

}  // namespace pgorm
