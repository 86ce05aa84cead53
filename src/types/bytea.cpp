#include "pgorm/types/bytea.hpp"

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}

void decode_hex(std::string_view text, std::string_view digits, Bytes& out) {
  if (digits.size() % 2 != 0)
    throw_data_error(
        fmt::format("invalid hexadecimal data: odd number of digits in bytea value "
                    "of {} characters",
                    text.size()));
  out.reserve(digits.size() / 2);
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int high = hex_value(digits[i]);
    const int low = hex_value(digits[i + 1]);
    if (high < 0 || low < 0)
      throw_data_error(fmt::format("invalid hexadecimal digit in bytea value at position {}",
                                   (high < 0 ? i : i + 1) + 2));
    out.push_back(static_cast<std::byte>(high * 16 + low));
  }
}

// The pre-9.0 "escape" format: \\ is a backslash, \ooo an octal byte, anything else is itself.
void decode_escape(std::string_view text, Bytes& out) {
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\') {
      out.push_back(static_cast<std::byte>(static_cast<unsigned char>(c)));
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back(static_cast<std::byte>('\\'));
      ++i;
      continue;
    }
    if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' && is_octal(text[i + 2]) &&
        is_octal(text[i + 3])) {
      const int value = (text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0');
      out.push_back(static_cast<std::byte>(value));
      i += 3;
      continue;
    }
    throw_data_error(
        fmt::format("invalid input syntax for type bytea: bad escape at position {}", i));
  }
}

}  // namespace

void encode_bytea(const Bytes& v, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out.reserve(out.size() + 2 + v.size() * 2);
  out.append("\\x");
  for (std::byte b : v) {
    const auto value = std::to_integer<unsigned>(b);
    out.push_back(kDigits[value >> 4]);
    out.push_back(kDigits[value & 0xf]);
  }
}

// Error messages give positions, never the bytes: a bytea may hold anything.
void decode_bytea(std::string_view text, Bytes& out) {
  out.clear();
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    decode_hex(text, text.substr(2), out);
  } else {
    decode_escape(text, out);
  }
}

}  // namespace pgorm::detail
