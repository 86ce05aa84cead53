// pgorm::Bytes (std::vector<std::byte>) <-> bytea.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/types/binary.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

using Bytes = std::vector<std::byte>;

namespace detail {
void encode_bytea(const Bytes& v, std::string& out);          // "\x0a1b..." hex form
void decode_bytea(std::string_view text, Bytes& out);         // hex form; DataError otherwise
}  // namespace detail

template <>
struct type_traits<Bytes> {
  static std::string sql_type() { return "bytea"; }
  static void encode(const Bytes& v, std::string& out) { detail::encode_bytea(v, out); }
  static void decode(std::string_view t, Bytes& out) { detail::decode_bytea(t, out); }
  static bool decode_binary(std::string_view b, unsigned type, Bytes& out) {
    return detail::binary_bytea(b, type, out);
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared(t, {"bytea"}); }
};

}  // namespace pgorm
