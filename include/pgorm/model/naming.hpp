// Names derived from C++ declarations: member and class names, table names, constraint names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgorm::naming {

namespace detail {
// Cuts the text after `key` up to the end of that template argument in a
// __PRETTY_FUNCTION__ string ("[with auto M = &Todo::title; ...]" on g++, "[M = &Todo::title]"
// on clang).
constexpr std::string_view pretty_argument(std::string_view pretty, std::string_view key) {
  std::size_t start = pretty.find(key);
  if (start == std::string_view::npos) return {};
  pretty.remove_prefix(start + key.size());
  return pretty.substr(0, pretty.find_first_of(";]"));
}
constexpr std::string_view last_component(std::string_view qualified) {
  std::size_t depth = 0;
  std::size_t cut = 0;
  for (std::size_t i = 0; i < qualified.size(); ++i) {
    char c = qualified[i];
    if (c == '<') ++depth;
    if (c == '>' && depth > 0) --depth;
    if (depth == 0 && c == ':' && i + 1 < qualified.size() && qualified[i + 1] == ':') cut = i + 2;
  }
  qualified.remove_prefix(cut);
  return qualified.substr(0, qualified.find('<'));
}
}  // namespace detail

// "title" for &Todo::title; works for members inherited from mixins too.
template <auto Member>
constexpr std::string_view member_name() {
  // A constant, so the parsing happens once at compile time, not at every call.
  constexpr std::string_view name =
      detail::last_component(detail::pretty_argument(__PRETTY_FUNCTION__, "Member = "));
  return name;
}

// "Todo" for app::Todo (namespaces and template arguments removed).
template <class T>
constexpr std::string_view class_name() {
  constexpr std::string_view name =
      detail::last_component(detail::pretty_argument(__PRETTY_FUNCTION__, "T = "));
  return name;
}

// "ApiKey" -> "api_key", "HTTPRequest" -> "http_request", "Todo2Tag" -> "todo2_tag".
std::string snake_case(std::string_view camel);

// English plural of a lower-case word or snake_case phrase (only the last word changes):
// "todo" -> "todos", "category" -> "categories", "address" -> "addresses",
// "person" -> "people", "api_key" -> "api_keys", "news" -> "news". See docs/models.md.
std::string pluralize(std::string_view word);

// The default table name of a model class: pluralize(snake_case(class_name)).
std::string table_name_for(std::string_view class_name);

// PostgreSQL truncates identifiers to 63 bytes; longer generated names keep a prefix and gain a
// short stable hash so that two long names never collide after truncation.
std::string limit_identifier(std::string name);

// The naming convention for constraints and indexes (the same as SQLAlchemy's recommended one):
//   pk_<table>, uq_<table>_<col>_<col>, ix_<table>_<col>_<col>, fk_<table>_<col>_<referred_table>,
//   ck_<table>_<name>.
std::string primary_key_name(std::string_view table);
std::string unique_name(std::string_view table, const std::vector<std::string>& columns);
std::string index_name(std::string_view table, const std::vector<std::string>& columns);
std::string foreign_key_name(std::string_view table, const std::vector<std::string>& columns,
                             std::string_view referred_table);
std::string check_name(std::string_view table, std::string_view name);

}  // namespace pgorm::naming
