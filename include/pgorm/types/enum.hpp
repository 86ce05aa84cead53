// C++ enums <-> native PostgreSQL enum types, declared with pgorm::enum_traits.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgorm/sql/quote.hpp"
#include "pgorm/types/binary.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

// Specialize for each enum stored in the database:
//
//   template <> struct pgorm::enum_traits<TodoStatus> {
//     static constexpr std::string_view type_name = "todo_status";
//     static constexpr std::array values{std::pair{TodoStatus::pending, "pending"}, ...};
//   };
//
// The order of `values` is the order of the PostgreSQL enum (which defines its sorting).
template <class E>
struct enum_traits {
  static constexpr bool pgorm_unmapped = true;
};

template <class E>
concept database_enum = std::is_enum_v<E> && !requires { enum_traits<E>::pgorm_unmapped; } &&
                        requires {
                          { enum_traits<E>::type_name } -> std::convertible_to<std::string_view>;
                          enum_traits<E>::values;
                        };

// Name and labels of an enum type, for DDL and migrations.
struct EnumTypeInfo {
  std::string name;
  std::vector<std::string> labels;
  friend bool operator==(const EnumTypeInfo&, const EnumTypeInfo&) = default;
};

template <database_enum E>
EnumTypeInfo enum_type_info() {
  EnumTypeInfo info{std::string(enum_traits<E>::type_name), {}};
  for (const auto& [value, label] : enum_traits<E>::values) info.labels.emplace_back(label);
  return info;
}

namespace detail {
[[noreturn]] void throw_bad_enum_label(std::string_view type, std::string_view label);
[[noreturn]] void throw_bad_enum_value(std::string_view type, long long value);
}  // namespace detail

template <database_enum E>
struct type_traits<E> {
  static std::string sql_type() { return sql::quote_identifier(enum_traits<E>::type_name); }
  static void encode(E v, std::string& out) {
    for (const auto& [value, label] : enum_traits<E>::values) {
      if (value == v) {
        out.append(label);
        return;
      }
    }
    detail::throw_bad_enum_value(enum_traits<E>::type_name,
                                 static_cast<long long>(static_cast<std::underlying_type_t<E>>(v)));
  }
  static void decode(std::string_view text, E& out) {
    for (const auto& [value, label] : enum_traits<E>::values) {
      if (text == label) {
        out = value;
        return;
      }
    }
    detail::throw_bad_enum_label(enum_traits<E>::type_name, text);
  }
  // The binary form of an enum is its label.
  static bool decode_binary(std::string_view b, unsigned type, E& out) {
    if (!detail::binary_enum_type(type)) return false;
    decode(b, out);
    return true;
  }
  static bool binary_declared(std::string_view t) {
    return t == sql_type() || t == enum_traits<E>::type_name;
  }
};

// The label of an enum value, e.g. for printing.
template <database_enum E>
std::string_view enum_label(E v) {
  for (const auto& [value, label] : enum_traits<E>::values)
    if (value == v) return label;
  return "?";
}

}  // namespace pgorm
