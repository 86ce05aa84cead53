#include "pgorm/model/kept_text.hpp"

#include <cstring>
#include <new>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm::detail {
namespace {

// A loaded row's short texts (names, titles, descriptions) share blocks of this size: under
// glibc's 1 KiB limit for small requests, whose allocations are served from the thread's cache and
// do not make malloc consolidate the chunks freed before (a 4 KiB block cost more in
// malloc_consolidate than the copies it saved).
constexpr std::size_t kBlockBytes = 1000 - sizeof(TextBlock);
// A longer text gets a block of its own, so that it does not keep a shared block alive, nor a
// shared block a long text.
constexpr std::size_t kOwnBlockFrom = 256;

TextBlock* new_block(std::size_t capacity) {
  auto* block = new (::operator new(sizeof(TextBlock) + capacity)) TextBlock;
  block->capacity = capacity;
  return block;
}

// The block this thread adds short texts to. The thread holds one reference to it, which
// `FillingRelease` drops when the thread ends. Plain values, so that they can be read at any
// time, also while the thread's other objects are destroyed. A text kept after that (by the
// destructor of a thread_local made earlier) gets a block of its own: made the filling block,
// nothing would free it.
thread_local TextBlock* filling = nullptr;
thread_local bool thread_ending = false;
struct FillingRelease {
  ~FillingRelease() {
    release_text_block(filling);
    filling = nullptr;
    thread_ending = true;
  }
};

// The thread's filling block, with room for `size` more bytes.
TextBlock* filling_block_for(std::size_t size) {
  if (filling == nullptr || filling->capacity - filling->used < size) {
    thread_local FillingRelease release;  // constructed with the thread's first block
    (void)release;
    TextBlock* fresh = new_block(kBlockBytes);  // may throw: nothing has changed yet
    release_text_block(filling);
    filling = fresh;
  }
  return filling;
}

}  // namespace

void KeptText::assign(std::string_view text, bool null) {
  if (null || text.empty()) {
    release_text_block(block_);
    block_ = nullptr;
    offset_ = 0;
    size_ = null ? kNull : 0;
    return;
  }
  if (text.size() >= kNull) {
    ErrorInfo info;
    info.message = fmt::format(
        "a text value of {} bytes cannot be kept for change tracking (PostgreSQL stores at most "
        "1 GB in a field)",
        text.size());
    throw InterfaceError(std::move(info));
  }
  TextBlock* block = nullptr;
  std::size_t offset = 0;
  if (text.size() >= kOwnBlockFrom || thread_ending) {
    block = new_block(text.size());  // its one reference is this value's
  } else {
    block = filling_block_for(text.size());
    offset = block->used;
    block->used += text.size();
    block->refs.fetch_add(1, std::memory_order_relaxed);
  }
  std::memcpy(block->bytes() + offset, text.data(), text.size());
  release_text_block(block_);
  block_ = block;
  offset_ = static_cast<std::uint32_t>(offset);
  size_ = static_cast<std::uint32_t>(text.size());
}

}  // namespace pgorm::detail
