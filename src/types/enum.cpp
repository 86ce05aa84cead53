#include "pgorm/types/enum.hpp"

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {

// Same wording as the server's error for an unknown label.
void throw_bad_enum_label(std::string_view type, std::string_view label) {
  throw_data_error(fmt::format("invalid input value for enum {}: '{}'", type, label));
}

void throw_bad_enum_value(std::string_view type, long long value) {
  throw_data_error(
      fmt::format("value {} has no label in pgorm::enum_traits for enum {}", value, type));
}

}  // namespace pgorm::detail
