// Models as plain values: ==, printing with fmt and std::ostream.
#pragma once

#include <ostream>
#include <string>

#include <fmt/format.h>

#include "pgorm/model/model.hpp"

namespace pgorm {

// Every column equal. Found by argument-dependent lookup for any model; do not also default
// operator== in the model (its Model<> base has none).
template <model T>
bool operator==(const T& a, const T& b) {
  return equal_columns(a, b);
}

// Todo{id=1, title="Buy milk", description=NULL, status=pending, ...}: column values in their
// PostgreSQL text form.
template <model T>
std::string to_string(const T& object) {
  std::string out(naming::class_name<T>());
  out += '{';
  bool first = true;
  std::string value;
  model_traits<T>::for_each_column([&](const auto& def) {
    using Def = std::remove_cvref_t<decltype(def)>;
    if (!first) out += ", ";
    first = false;
    out += def.name();
    out += '=';
    value.clear();
    if (!encode_value(Def::ref(object), value)) {
      out += "NULL";
    } else if constexpr (std::is_same_v<typename Def::value_type, std::string>) {
      out += '"';
      out += value;
      out += '"';
    } else {
      out += value;
    }
  });
  out += '}';
  return out;
}

template <model T>
std::ostream& operator<<(std::ostream& os, const T& object) {
  return os << to_string(object);
}

}  // namespace pgorm

template <pgorm::model T>
struct fmt::formatter<T, char> : fmt::formatter<std::string_view, char> {
  template <class FormatContext>
  auto format(const T& object, FormatContext& ctx) const {
    std::string text = pgorm::to_string(object);
    return fmt::formatter<std::string_view, char>::format(text, ctx);
  }
};
