// std::vector<T> <-> one-dimensional PostgreSQL arrays (T[]) of any mapped scalar type.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/types/traits.hpp"

namespace pgorm {

namespace detail {
// Appends one element to an array literal under construction: always double-quoted and escaped.
void append_array_element(std::string& out, std::string_view element_text);
// Splits a one-dimensional array literal ({a,"b c",NULL}) into unescaped elements; calls
// `element(text, is_null)` for each. Throws DataError on malformed or multi-dimensional input.
template <class F>
void parse_array(std::string_view literal, F&& element);
void parse_array_into(std::string_view literal, void (*element)(void*, std::string_view, bool),
                      void* context);
}  // namespace detail

template <class F>
void detail::parse_array(std::string_view literal, F&& element) {
  parse_array_into(
      literal,
      [](void* ctx, std::string_view text, bool is_null) { (*static_cast<F*>(ctx))(text, is_null); },
      &element);
}

template <class T>
  requires(column_type<T> && !std::is_same_v<T, std::byte>)
struct type_traits<std::vector<T>> {
  static std::string sql_type() { return type_traits<unwrap_optional_t<T>>::sql_type() + "[]"; }
  static void encode(const std::vector<T>& values, std::string& out) {
    out.push_back('{');
    std::string element;
    bool first = true;
    for (const auto& v : values) {
      if (!first) out.push_back(',');
      first = false;
      element.clear();
      if (encode_value(v, element))
        detail::append_array_element(out, element);
      else
        out.append("NULL");
    }
    out.push_back('}');
  }
  static void decode(std::string_view text, std::vector<T>& out);
};

namespace detail {
[[noreturn]] void throw_null_array_element(std::string_view type);
}

template <class T>
  requires(column_type<T> && !std::is_same_v<T, std::byte>)
void type_traits<std::vector<T>>::decode(std::string_view text, std::vector<T>& out) {
  out.clear();
  detail::parse_array(text, [&](std::string_view element, bool is_null) {
    T value{};
    if (!decode_value(element, is_null, value)) detail::throw_null_array_element(sql_type());
    out.push_back(std::move(value));
  });
}

}  // namespace pgorm
