// pgorm::Uuid <-> uuid, with client-side version 4 (random) and version 7 (time-ordered) generation.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgorm/types/binary.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

class Uuid {
 public:
  constexpr Uuid() noexcept = default;  // the nil UUID
  explicit constexpr Uuid(const std::array<std::uint8_t, 16>& bytes) noexcept : bytes_(bytes) {}
  // Accepts the canonical 8-4-4-4-12 form, upper or lower case, with or without braces/hyphens
  // (as PostgreSQL does). Throws DataError otherwise.
  static Uuid parse(std::string_view text);
  // RFC 9562 version 4: 122 random bits.
  static Uuid v4();
  // RFC 9562 version 7: 48-bit Unix milliseconds then random bits; sorts by creation time,
  // which keeps B-tree inserts local.
  static Uuid v7();

  std::string str() const;  // lower-case canonical form
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
  bool is_nil() const noexcept { return *this == Uuid{}; }
  int version() const noexcept { return bytes_[6] >> 4; }
  friend constexpr auto operator<=>(const Uuid&, const Uuid&) noexcept = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

template <>
struct type_traits<Uuid> {
  static std::string sql_type() { return "uuid"; }
  static void encode(const Uuid& v, std::string& out) { out.append(v.str()); }
  static void decode(std::string_view t, Uuid& out) { out = Uuid::parse(t); }
  static bool decode_binary(std::string_view b, unsigned type, Uuid& out) {
    std::array<std::uint8_t, 16> bytes{};
    if (!detail::binary_uuid(b, type, bytes)) return false;
    out = Uuid(bytes);
    return true;
  }
  static bool binary_declared(std::string_view t) { return detail::binary_declared(t, {"uuid"}); }
};

}  // namespace pgorm
