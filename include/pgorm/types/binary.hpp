// Reading PostgreSQL's binary result format: the decoders behind type_traits<T>::decode_binary for
// pgorm's own types (docs/PERFORMANCE.md, "Binary results"). Each takes the bytes and the result
// column's type OID, and returns false when it does not read that type in binary.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/types/traits.hpp"

namespace pgorm::detail {

bool binary_int(std::string_view bytes, unsigned type, std::int64_t min, std::int64_t max,
                std::string_view target, std::int64_t& out);
bool binary_bool(std::string_view bytes, unsigned type, bool& out);
bool binary_double(std::string_view bytes, unsigned type, double& out);
bool binary_float(std::string_view bytes, unsigned type, float& out);
bool binary_text(std::string_view bytes, unsigned type, std::string& out);
bool binary_bytea(std::string_view bytes, unsigned type, std::vector<std::byte>& out);
// Microseconds since 1970; 'infinity' and '-infinity' are microseconds::max() and ::min().
bool binary_timestamp(std::string_view bytes, unsigned type, std::chrono::microseconds& out);
bool binary_date(std::string_view bytes, unsigned type, std::chrono::year_month_day& out);
bool binary_uuid(std::string_view bytes, unsigned type, std::array<std::uint8_t, 16>& out);
// Whether a column of this type sends an enum's label (an enum type, or text).
bool binary_enum_type(unsigned type);

// Whether a column declared with SQL type `declared` (as written in the model, any case, with or
// without a modifier such as "(40)") is one of `names`.
bool binary_declared(std::string_view declared, std::initializer_list<std::string_view> names);
// binary_declared() for the integer types (each reads smallint, integer and bigint).
bool binary_declared_integer(std::string_view declared);
// The built-in type's name for messages, empty for others.
std::string_view binary_type_name(unsigned type);

}  // namespace pgorm::detail
