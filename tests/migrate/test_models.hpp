// Small models for the migration tests: an author and their notes, varied per test by editing a
// copy of the notes table's description.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <pgorm/pgorm.hpp>

namespace migtest {
enum class Priority { low, high };
}

template <>
struct pgorm::enum_traits<migtest::Priority> {
  static constexpr std::string_view type_name = "priority";
  static constexpr std::array values{std::pair{migtest::Priority::low, "low"},
                                     std::pair{migtest::Priority::high, "high"}};
};

namespace migtest {

struct Author : pgorm::Model<Author> {
  std::string name;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Author::name>(pgorm::varchar(80), pgorm::unique));
};

struct Note : pgorm::Model<Note> {
  std::string title;
  std::optional<std::string> body;
  std::int32_t rank = 0;
  std::int32_t author_id = 0;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Note::title>(pgorm::varchar(100)), pgorm::column<&Note::body>(pgorm::text),
      pgorm::column<&Note::rank>(pgorm::default_value(0)),
      pgorm::column<&Note::author_id>(pgorm::foreign_key<&Author::id>(pgorm::on_delete::cascade)));
};

struct PriorityNote : pgorm::Model<PriorityNote, pgorm::TableName<"notes">> {
  std::string title;
  Priority priority = Priority::low;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&PriorityNote::title>(pgorm::varchar(100)),
                     pgorm::column<&PriorityNote::priority>(pgorm::default_value(Priority::low)));
};

// Authors and notes, the notes table edited by `edit`.
inline pgorm::Metadata notes(const std::function<void(pgorm::TableInfo&)>& edit = {}) {
  pgorm::TableInfo table = pgorm::table_info<Note>();
  if (edit) edit(table);
  pgorm::Metadata md;
  md.add<Author>().add_table(table);
  return md;
}

}  // namespace migtest
