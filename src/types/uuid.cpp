#include "pgorm/types/uuid.hpp"

#include <chrono>
#include <random>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::mt19937_64& random_engine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

void put_big_endian(std::array<std::uint8_t, 16>& bytes, std::size_t offset, std::size_t count,
                    std::uint64_t value) {
  for (std::size_t i = 0; i < count; ++i)
    bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * (count - 1 - i)));
}

// RFC 9562 section 4.1: the two most significant bits of octet 8 are 10.
void set_variant(std::array<std::uint8_t, 16>& bytes) {
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);
}

// The state of v7 generation in this thread: the last timestamp and its 74 random bits
// (12 bits of rand_a, 62 bits of rand_b).
struct V7State {
  std::uint64_t millis = 0;
  std::uint64_t rand_a = 0;
  std::uint64_t rand_b = 0;
};

constexpr std::uint64_t kRandAMask = (std::uint64_t{1} << 12) - 1;
constexpr std::uint64_t kRandBMask = (std::uint64_t{1} << 62) - 1;
constexpr std::uint64_t kMillisMask = (std::uint64_t{1} << 48) - 1;

}  // namespace

// As PostgreSQL's uuid_in: optional braces around 32 hex digits, with an optional hyphen after
// any group of four digits (so the canonical 8-4-4-4-12 form, or none at all).
Uuid Uuid::parse(std::string_view text) {
  const auto fail = [&]() {
    throw_data_error(fmt::format("invalid input syntax for type uuid: '{}'", text));
  };
  std::string_view s = text;
  const bool braces = !s.empty() && s.front() == '{';
  if (braces) {
    if (s.size() < 2 || s.back() != '}') fail();
    s = s.substr(1, s.size() - 2);
  }
  std::array<std::uint8_t, 16> bytes{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (pos + 2 > s.size()) fail();
    const int high = hex_value(s[pos]);
    const int low = hex_value(s[pos + 1]);
    if (high < 0 || low < 0) fail();
    bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
    pos += 2;
    if (pos < s.size() && s[pos] == '-' && i % 2 == 1 && i + 1 < bytes.size()) ++pos;
  }
  if (pos != s.size()) fail();
  return Uuid(bytes);
}

std::string Uuid::str() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kDigits[bytes_[i] >> 4]);
    out.push_back(kDigits[bytes_[i] & 0xf]);
  }
  return out;
}

Uuid Uuid::v4() {
  auto& engine = random_engine();
  std::array<std::uint8_t, 16> bytes{};
  put_big_endian(bytes, 0, 8, engine());
  put_big_endian(bytes, 8, 8, engine());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);
  set_variant(bytes);
  return Uuid(bytes);
}

// Monotonic within a thread (RFC 9562 section 6.2, method 2): when the millisecond has not moved
// (or the clock went back), the previous 74 random bits are incremented; if they overflow, the
// timestamp is advanced by one millisecond and fresh random bits are drawn.
Uuid Uuid::v7() {
  thread_local V7State state;
  auto& engine = random_engine();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const auto millis = static_cast<std::uint64_t>(now.count()) & kMillisMask;
  const auto fresh = [&](std::uint64_t ms) {
    state.millis = ms;
    const std::uint64_t r = engine();
    state.rand_a = r & kRandAMask;
    state.rand_b = engine() & kRandBMask;
  };
  if (millis > state.millis) {
    fresh(millis);
  } else if (state.rand_b < kRandBMask) {
    ++state.rand_b;
  } else if (state.rand_a < kRandAMask) {
    state.rand_b = 0;
    ++state.rand_a;
  } else {
    fresh((state.millis + 1) & kMillisMask);
  }
  std::array<std::uint8_t, 16> bytes{};
  put_big_endian(bytes, 0, 6, state.millis);
  bytes[6] = static_cast<std::uint8_t>(0x70 | (state.rand_a >> 8));
  bytes[7] = static_cast<std::uint8_t>(state.rand_a & 0xff);
  put_big_endian(bytes, 8, 8, state.rand_b);  // top two bits are zero: room for the variant
  set_variant(bytes);
  return Uuid(bytes);
}

}  // namespace pgorm
