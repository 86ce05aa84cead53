// Bind parameters: values encoded once into one buffer, sent in PostgreSQL text format.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/types/scalar.hpp"
#include "pgorm/types/traits.hpp"

namespace pgorm {

// The most bind parameters one statement may carry (PostgreSQL's protocol limit).
inline constexpr std::size_t kMaxParams = 65535;

class Params {
 public:
  Params() = default;

  // Encodes a value of any mapped type; std::nullopt becomes NULL.
  template <column_type T>
  Params& add(const T& value) {
    std::size_t start = buffer_.size();
    if (encode_value(value, buffer_)) {
      buffer_.push_back('\0');  // libpq reads text parameters up to their NUL
      starts_.push_back(start);
    } else {
      buffer_.resize(start);
      starts_.push_back(kNull);
    }
    return *this;
  }
  // String literals and views are text.
  Params& add(std::string_view text) {
    detail::check_no_nul(text);
    starts_.push_back(buffer_.size());
    buffer_.append(text);
    buffer_.push_back('\0');
    return *this;
  }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add_null() {
    starts_.push_back(kNull);
    return *this;
  }

  // Appends the values of another Params after this one's.
  Params& append(const Params& other) {
    std::size_t base = buffer_.size();
    buffer_.append(other.buffer_);
    for (std::size_t start : other.starts_)
      starts_.push_back(start == kNull ? kNull : base + start);
    return *this;
  }
  // The i-th value's text, or nullptr for NULL (for to_sql() and error messages in tests).
  const char* value(std::size_t i) const noexcept {
    return starts_[i] == kNull ? nullptr : buffer_.data() + starts_[i];
  }

  std::size_t size() const noexcept { return starts_.size(); }
  bool empty() const noexcept { return starts_.empty(); }
  void clear() noexcept {
    buffer_.clear();
    starts_.clear();
    binary_results_ = false;
  }
  // Pointers for libpq, valid until the next add(): nullptr for NULL.
  const std::vector<const char*>& values() const;

  // Asks for the statement's result in PostgreSQL's binary format (libpq's resultFormat 1). The
  // session sets it on selects of models it reads itself when every column reads binary
  // (detail::binary_rows<T>()); append() does not carry it over.
  void set_binary_results(bool on) noexcept { binary_results_ = on; }
  bool binary_results() const noexcept { return binary_results_; }
  int result_format() const noexcept { return binary_results_ ? 1 : 0; }

 private:
  static constexpr std::size_t kNull = static_cast<std::size_t>(-1);
  std::string buffer_;
  std::vector<std::size_t> starts_;
  mutable std::vector<const char*> pointers_;
  bool binary_results_ = false;
};

}  // namespace pgorm
