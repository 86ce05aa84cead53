#include "pgorm/types/array.hpp"

#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {
namespace {

// The characters array_in treats as whitespace.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_null_word(std::string_view s) {
  constexpr std::string_view kNull = "null";
  if (s.size() != kNull.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (to_lower(s[i]) != kNull[i]) return false;
  return true;
}

class ArrayParser {
 public:
  explicit ArrayParser(std::string_view literal) : text_(literal) {}

  void parse(void (*element)(void*, std::string_view, bool), void* context) {
    skip_space();
    bool has_dimensions = false;
    std::int64_t expected = 0;
    if (peek() == '[') {
      has_dimensions = true;
      expected = dimension();
      skip_space();
      if (peek() == '[') multi_dimensional();
      if (!accept('=')) fail("missing '=' after array dimensions");
      skip_space();
    }
    if (!accept('{')) fail("array value must start with '{' or dimension information");
    skip_space();
    std::int64_t count = 0;
    if (!accept('}')) {
      for (;;) {
        skip_space();
        bool is_null = false;
        if (peek() == '{') multi_dimensional();
        if (peek() == '"') {
          quoted();
        } else {
          is_null = unquoted();
        }
        element(context, buffer_, is_null);
        ++count;
        skip_space();
        if (accept(',')) continue;
        if (accept('}')) break;
        fail("expected ',' or '}' after an element");
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("junk after closing right brace");
    if (has_dimensions && count != expected)
      fail("specified array dimensions do not match array contents");
  }

 private:
  [[noreturn]] void fail(std::string_view why) const {
    throw_data_error(fmt::format("malformed array literal: '{}' ({})", text_, why));
  }
  [[noreturn]] void multi_dimensional() const {
    throw_data_error(fmt::format("multi-dimensional arrays are not supported: '{}'", text_));
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool accept(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  std::int64_t bound() {
    skip_space();
    std::int64_t value = 0;
    const char* first = text_.data() + pos_;
    const char* last = text_.data() + text_.size();
    if (first != last && *first == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc{}) fail("bad array dimension value");
    pos_ = static_cast<std::size_t>(ptr - text_.data());
    skip_space();
    return value;
  }

  // "[lower:upper]" or "[upper]" (lower bound 1); returns the number of elements it declares.
  std::int64_t dimension() {
    accept('[');
    std::int64_t lower = 1;
    std::int64_t upper = bound();
    if (accept(':')) {
      lower = upper;
      upper = bound();
    }
    if (!accept(']')) fail("missing ']' in array dimensions");
    std::int64_t count = 0;
    if (__builtin_sub_overflow(upper, lower, &count) || count < -1)
      fail("upper bound cannot be less than lower bound");
    return count + 1;
  }

  // "..." with backslash escapes; fills buffer_.
  void quoted() {
    accept('"');
    buffer_.clear();
    for (;;) {
      if (pos_ >= text_.size()) fail("unexpected end of input inside quotes");
      const char c = text_[pos_++];
      if (c == '"') return;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unexpected end of input after a backslash");
        buffer_.push_back(text_[pos_++]);
      } else {
        buffer_.push_back(c);
      }
    }
  }

  // An unquoted element, up to ',' or '}', trailing whitespace removed; fills buffer_ and
  // returns true if it is the word NULL (written without any backslash).
  bool unquoted() {
    buffer_.clear();
    bool escaped = false;
    std::size_t keep = 0;  // length without trailing unescaped whitespace
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '}') break;
      ++pos_;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unexpected end of input after a backslash");
        buffer_.push_back(text_[pos_++]);
        escaped = true;
        keep = buffer_.size();
      } else if (c == '"' || c == '{') {
        fail("unexpected quote or brace inside an unquoted element");
      } else {
        buffer_.push_back(c);
        if (!is_space(c)) keep = buffer_.size();
      }
    }
    buffer_.resize(keep);
    if (pos_ >= text_.size()) fail("missing closing right brace");
    if (buffer_.empty() && !escaped) fail("empty unquoted element");
    return !escaped && is_null_word(buffer_);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string buffer_;
};

}  // namespace

void append_array_element(std::string& out, std::string_view element_text) {
  out.push_back('"');
  for (char c : element_text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void parse_array_into(std::string_view literal, void (*element)(void*, std::string_view, bool),
                      void* context) {
  ArrayParser(literal).parse(element, context);
}

void throw_null_array_element(std::string_view type) {
  throw_data_error(
      fmt::format("NULL element in array of {}; use std::vector<std::optional<T>>", type));
}

}  // namespace pgorm::detail
