// KeptText: how the unit of work keeps the last value read from or written to the database of a
// text column (std::string, std::optional<std::string>) to find changes. A kept value is a
// reference into a block of text shared with the values kept before and after it on the same
// thread, so keeping a row's text costs no allocation of its own and copying a kept value (a
// savepoint's saved state) copies no text.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pgorm::detail {

// A block of kept text. It lives while a KeptText refers to it (and, for the block a thread is
// filling, while the thread may still add to it); only that thread writes into it.
struct TextBlock {
  std::atomic<std::size_t> refs{1};
  std::size_t capacity = 0;
  std::size_t used = 0;
  char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
};

// Drops one reference to `block`, freeing it with the last.
inline void release_text_block(TextBlock* block) noexcept {
  if (block != nullptr && block->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    ::operator delete(block);
}

class KeptText {
 public:
  KeptText() noexcept = default;  // the empty string
  KeptText(const KeptText& other) noexcept
      : block_(other.block_), offset_(other.offset_), size_(other.size_) {
    if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  KeptText(KeptText&& other) noexcept
      : block_(other.block_), offset_(other.offset_), size_(other.size_) {
    other.block_ = nullptr;
    other.size_ = 0;
  }
  KeptText& operator=(KeptText other) noexcept {
    std::swap(block_, other.block_);
    std::swap(offset_, other.offset_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~KeptText() { release_text_block(block_); }

  // Keeps `text` (may throw std::bad_alloc, and then keeps what it kept before).
  void assign(const std::string& text) { assign(std::string_view(text), false); }
  void assign(const std::optional<std::string>& text) {
    if (text)
      assign(std::string_view(*text), false);
    else
      assign(std::string_view(), true);
  }

  bool null() const noexcept { return size_ == kNull; }
  std::string_view view() const noexcept {
    if (block_ == nullptr) return {};
    return {block_->bytes() + offset_, size_};
  }

  // Whether a member holds the kept value (NULL only equals std::nullopt).
  bool equals(const std::string& text) const noexcept { return !null() && view() == text; }
  bool equals(const std::optional<std::string>& text) const noexcept {
    return text ? equals(*text) : null();
  }

  // The kept value as the member's type.
  void restore(std::string& to) const { to.assign(view()); }
  void restore(std::optional<std::string>& to) const {
    if (null())
      to.reset();
    else
      to.emplace(view());
  }
  template <class V>
  V as() const {
    V out;
    restore(out);
    return out;
  }

 private:
  static constexpr std::uint32_t kNull = UINT32_MAX;
  void assign(std::string_view text, bool null);

  TextBlock* block_ = nullptr;  // null for the empty string and NULL
  std::uint32_t offset_ = 0;    // of the text in block_->bytes()
  std::uint32_t size_ = 0;      // kNull: NULL
};

}  // namespace pgorm::detail
