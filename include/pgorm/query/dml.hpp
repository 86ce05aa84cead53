// Bulk statements: pgorm::update<T>(), pgorm::delete_<T>(), pgorm::insert<T>(). An UPDATE or
// DELETE without where() does not compile unless it says .all_rows().
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
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
    p.from.push_back({&source_table<S>(), source_alias<S>()});
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
    p.using_.push_back({&source_table<S>(), source_alias<S>()});
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

// Appends one object's values as a VALUES row. A serial key holding 0, a UUID key holding the nil
// UUID and a column with a server default holding its unset value (std::nullopt, Timestamp{}) are
// sent as DEFAULT, so the server fills them in (and RETURNING brings them back). column() refuses a
// server default on members whose default-constructed value is an ordinary value (0, false, "").
// `defaults`, when given, gets whether each column was left to its default.
template <model T>
void append_values_row(Fragment& out, const T& object, std::vector<bool>* defaults = nullptr) {
  out += "(";
  bool first = true;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!first) out += ", ";
    first = false;
    const auto& value = Def::ref(object);
    bool use_default = false;
    if constexpr (Def::template has<serial_t> || Def::template has<server_default>) {
      // The "unset" value (see server_default_fits): 0 for a serial key, std::nullopt, the nil
      // UUID, the epoch Timestamp{}.
      if constexpr (std::is_default_constructible_v<typename Def::member_type> &&
                    std::equality_comparable<typename Def::member_type>)
        use_default = value == typename Def::member_type{};
    }
    if (defaults) defaults->push_back(use_default);
    if (use_default)
      out += "DEFAULT";
    else
      out.add_param(value);
  });
  out += ")";
}

enum class ConflictAction { none, nothing, update };

// Target: whether on_conflict() named the conflict target (DO UPDATE needs one).
template <model T, bool Returning = false, bool Target = false>
class Insert {
 public:
  using model_type = T;
  using row_type = dml_row_t<T, Returning>;

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
  Insert<T, Returning, true> on_conflict() const {
    static_assert(sizeof...(Ms) > 0, "pgorm: on_conflict<&T::a, ...>() needs the conflict columns");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: on_conflict(): the columns belong to another model");
    auto out = convert<Returning, true>();
    out.conflict_columns_ = {std::string(Column<Ms>::name())...};
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
  Insert do_update() const {
    static_assert(Target,
                  "pgorm: do_update<...>() needs the conflict target first: "
                  "insert<T>().values(...).on_conflict<&T::key>().do_update<&T::column>()");
    static_assert(sizeof...(Ms) > 0, "pgorm: do_update<&T::a, ...>() needs the columns to update");
    static_assert((std::is_same_v<typename Column<Ms>::model_type, T> && ...),
                  "pgorm: do_update(): the columns belong to another model");
    Insert out(*this);
    out.action_ = ConflictAction::update;
    out.update_columns_ = {std::string(Column<Ms>::name())...};
    if constexpr (model_traits<T>::timestamps) out.update_columns_.push_back("updated_at");
    return out;
  }
  Insert<T, true, Target> returning() const { return convert<true, Target>(); }

  std::size_t size() const noexcept { return count_; }
  // Every row in one statement.
  Statement statement() const { return statement_for(0, rows_.size()); }
  // The rows split so that no statement carries more than 65,535 parameters.
  std::vector<Statement> statements() const {
    std::vector<Statement> out;
    const std::size_t per_statement =
        std::max<std::size_t>(1, kMaxParams / model_traits<T>::column_count);
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
  Statement statement_for(std::size_t first, std::size_t last) const {
    Fragment f;
    f += sql::insert_prefix<T>();
    for (std::size_t i = first; i < last; ++i) {
      if (i != first) f += ", ";
      f += rows_[i];
    }
    if (action_ != ConflictAction::none) {
      f += " ON CONFLICT";
      for (std::size_t i = 0; i < conflict_columns_.size(); ++i) {
        f += i ? ", " : " (";
        f.add_identifier(conflict_columns_[i]);
      }
      if (!conflict_columns_.empty()) f += ")";
      if (action_ == ConflictAction::nothing) {
        f += " DO NOTHING";
      } else {
        f += " DO UPDATE SET ";
        for (std::size_t i = 0; i < update_columns_.size(); ++i) {
          if (i) f += ", ";
          f.add_identifier(update_columns_[i]);
          f += " = EXCLUDED.";
          f.add_identifier(update_columns_[i]);
        }
      }
    }
    if (Returning) f += sql::returning_all<T>();
    return finish(std::move(f));
  }

  template <bool R, bool C>
  Insert<T, R, C> convert() const {
    Insert<T, R, C> out;
    out.rows_ = rows_;
    out.defaults_ = defaults_;
    out.count_ = count_;
    out.conflict_columns_ = conflict_columns_;
    out.update_columns_ = update_columns_;
    out.action_ = action_;
    return out;
  }

  template <model, bool, bool>
  friend class Insert;
  std::vector<Fragment> rows_;
  std::vector<bool> defaults_;  // per row, per column: left to its default
  std::size_t count_ = 0;
  std::vector<std::string> conflict_columns_;
  std::vector<std::string> update_columns_;
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

}  // namespace pgorm
