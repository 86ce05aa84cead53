// The result of one statement, and reading its rows into models, tuples or scalars.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgorm/errors.hpp"
#include "pgorm/model/metadata.hpp"
#include "pgorm/model/model.hpp"
#include "pgorm/relations/members.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

class Result {
 public:
  Result() = default;
  // Takes ownership of `result`; it is cleared even when this throws (std::bad_alloc).
  explicit Result(PGresult* result)
      : result_(result, &PQclear),
        binary_(result != nullptr && PQnfields(result) > 0 && PQfformat(result, 0) == 1) {}

  int rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
  int columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }
  bool empty() const noexcept { return rows() == 0; }
  // Whether the values are in PostgreSQL's binary format (Params::set_binary_results()): then
  // get() returns each value's bytes, and read() decodes them by the column's type OID.
  bool binary() const noexcept { return binary_; }
  unsigned column_oid(int column) const noexcept {
    return result_ ? PQftype(result_.get(), column) : 0;
  }
  std::string_view get(int row, int column) const noexcept {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
  }
  bool is_null(int row, int column) const noexcept {
    return PQgetisnull(result_.get(), row, column) != 0;
  }
  std::string_view column_name(int column) const noexcept { return PQfname(result_.get(), column); }
  // Index of the column with this name, or -1.
  int column_index(std::string_view name) const noexcept;
  // Rows changed by INSERT/UPDATE/DELETE (also with RETURNING), rows of a SELECT.
  std::int64_t affected_rows() const noexcept;
  // The command tag the server sent ("INSERT 0 1", "COMMIT", "ROLLBACK"), empty when none.
  std::string_view command_tag() const noexcept {
    const char* tag = result_ ? PQcmdStatus(result_.get()) : nullptr;
    return tag ? std::string_view(tag) : std::string_view();
  }

  // Decodes one field; NULL into a non-optional type, or bad text, is a DataError naming it.
  template <column_type T>
  void read(int row, int column, T& out) const {
    read(row, column, binary_ ? column_oid(column) : 0u, out);
  }
  // The same with the column's type OID already known (binary results; ignored for text).
  template <column_type T>
  void read(int row, int column, unsigned oid, T& out) const;
  template <column_type T>
  T value(int row, int column) const {
    T out{};
    read(row, column, out);
    return out;
  }

  // All rows as models (matched by column name), std::tuple (by position) or one scalar type.
  template <class Row>
  std::vector<Row> as() const;

  PGresult* native_handle() const noexcept { return result_.get(); }

 private:
  std::shared_ptr<PGresult> result_;
  bool binary_ = false;
};

namespace detail {
[[noreturn]] void throw_null_in_column(std::string_view column);
[[noreturn]] void rethrow_with_column(std::string_view column);
[[noreturn]] void throw_column_count(int expected, int got);
// InterfaceError: a result read as rows of `table` lacks its primary-key column `column`.
[[noreturn]] void throw_missing_key_column(std::string_view table, std::string_view column,
                                           const Result& result);

// positions[i]: the index of the result's first column named prefix + names[i], or -1. The names
// are distinct (a model's columns).
void column_positions(const Result& result, std::string_view prefix,
                      std::span<const std::string_view> names, int* positions);

template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

template <class R>
constexpr std::size_t row_width() {
  if constexpr (model<R>)
    return model_traits<R>::column_count;
  else
    return 1;
}

// Reads rows of one Result into Row objects; resolves model columns by name once per result.
template <class Row>
class RowReader {
 public:
  // Models are matched by column name, each name prefixed with `prefix` (for joined rows).
  explicit RowReader(const Result& result, std::string_view prefix = {}) : result_(result) {
    if constexpr (model<Row>) {
      std::string_view names[row_width<Row>()];
      int i = 0;
      model_traits<Row>::for_each_column([&](const auto& def) { names[i++] = def.name(); });
      column_positions(result, prefix, names, positions_);
      for (i = 0; i < static_cast<int>(row_width<Row>()); ++i) {
        if (positions_[i] >= 0 && result.binary()) oids_[i] = result.column_oid(positions_[i]);
        // Without its key a row cannot be an object of the model (an object with id 0 would be
        // a wrong row): the result is not what this reader was given it for.
        if (positions_[i] < 0)
          for (const auto& key : table_info<Row>().primary_key)
            if (key == names[i])
              throw_missing_key_column(table_info<Row>().name, std::string(prefix) + key, result);
      }
    } else if constexpr (is_tuple<Row>::value) {
      if (result.columns() != static_cast<int>(std::tuple_size_v<Row>))
        throw_column_count(static_cast<int>(std::tuple_size_v<Row>), result.columns());
    } else {
      static_assert(column_type<Row>,
                    "pgorm: rows can be read as a model, a std::tuple of mapped types, or one "
                    "mapped type");
      if (result.columns() != 1) throw_column_count(1, result.columns());
    }
  }

  // For models: whether the row has no object here (all its key columns NULL, as in an outer join).
  bool is_absent(int row) const {
    if constexpr (model<Row>) {
      for (int position : positions_)
        if (position >= 0 && !result_.is_null(row, position)) return false;
      return true;
    } else {
      return false;
    }
  }

  void read(int row, Row& out) const {
    if constexpr (model<Row>) {
      int i = 0;
      model_traits<Row>::for_each_column([&](const auto& def) {
        using Def = std::remove_cvref_t<decltype(def)>;
        const int position = positions_[i];
        if (position >= 0) result_.read(row, position, oids_[i], Def::ref(out));
        ++i;
      });
    } else if constexpr (is_tuple<Row>::value) {
      std::apply(
          [&](auto&... fields) {
            int column = 0;
            (result_.read(row, column++, fields), ...);
          },
          out);
    } else {
      result_.read(row, 0, out);
    }
  }

 private:
  const Result& result_;
  struct none {};
  std::conditional_t<model<Row>, int[row_width<Row>()], none> positions_{};
  // The columns' type OIDs, read once (binary results only).
  std::conditional_t<model<Row>, unsigned[row_width<Row>()], none> oids_{};
};
}  // namespace detail

template <column_type T>
void Result::read(int row, int column, unsigned oid, T& out) const {
  bool null = is_null(row, column);
  try {
    const bool read = binary_ ? decode_binary_value(get(row, column), null, oid, out)
                              : decode_value(get(row, column), null, out);
    if (!read) detail::throw_null_in_column(column_name(column));
  } catch (const DataError& e) {
    if (!e.column().empty()) throw;
    detail::rethrow_with_column(column_name(column));
  }
}

template <class Row>
std::vector<Row> Result::as() const {
  detail::RowReader<Row> reader(*this);
  std::vector<Row> out;
  int n = rows();
  {
    detail::ReadingRows reading;  // the rows' relationships start not loaded
    out.resize(static_cast<std::size_t>(n));
  }
  for (int r = 0; r < n; ++r) {
    if constexpr (std::is_same_v<Row, bool>) {  // std::vector<bool> has no bool& elements
      bool value = false;
      reader.read(r, value);
      out[static_cast<std::size_t>(r)] = value;
    } else {
      reader.read(r, out[static_cast<std::size_t>(r)]);
      if constexpr (model<Row>) detail::unload_relations(out[static_cast<std::size_t>(r)]);
    }
  }
  return out;
}

}  // namespace pgorm
