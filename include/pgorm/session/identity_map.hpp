// The identity map's table: entries live in blocks that never move (no allocation per entry),
// found through an open-addressing index of their numbers (linear probing, at most half full,
// backward-shift erase).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgorm/types/uuid.hpp"

namespace pgorm::detail {

// Hashes of the three kinds of identity key: an integer primary key, a uuid primary key, and the
// encoded values of any other key.
struct IdentityHash {
  std::size_t operator()(std::int64_t key) const noexcept { return static_cast<std::size_t>(key); }
  std::size_t operator()(const Uuid& key) const noexcept {
    std::uint64_t high = 0, low = 0;
    std::memcpy(&high, key.bytes().data(), 8);
    std::memcpy(&low, key.bytes().data() + 8, 8);
    return static_cast<std::size_t>(high ^ (low * 0x9E3779B97F4A7C15ULL));
  }
  std::size_t operator()(const std::string& key) const noexcept {
    return std::hash<std::string>{}(key);
  }
};

template <class Key, class Value>
class IdentityMap {
 public:
  // What iteration and find() give: `first` is the key, `second` the value (as in std::map).
  struct Slot {
    Key first{};
    Value second{};
  };

 private:
  struct Node {
    Slot slot;
    bool live = false;
  };
  static constexpr std::uint32_t kEnd = UINT32_MAX;
  static constexpr std::size_t kNone = SIZE_MAX;

 public:
  template <bool Const>
  class basic_iterator {
    using Map = std::conditional_t<Const, const IdentityMap, IdentityMap>;

   public:
    using reference = std::conditional_t<Const, const Slot&, Slot&>;
    basic_iterator() = default;
    basic_iterator(Map* map, std::uint32_t n) : map_(map), n_(n) {}
    reference operator*() const { return map_->node(n_).slot; }
    std::conditional_t<Const, const Slot*, Slot*> operator->() const {
      return &map_->node(n_).slot;
    }
    basic_iterator& operator++() {
      n_ = map_->next_live(n_ + 1);
      return *this;
    }
    bool operator==(const basic_iterator& other) const noexcept { return n_ == other.n_; }

   private:
    friend class IdentityMap;
    Map* map_ = nullptr;
    std::uint32_t n_ = kEnd;
  };
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;

  IdentityMap() = default;
  IdentityMap(const IdentityMap&) = delete;
  IdentityMap& operator=(const IdentityMap&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  iterator begin() { return {this, next_live(0)}; }
  iterator end() { return {this, kEnd}; }
  const_iterator begin() const { return {this, next_live(0)}; }
  const_iterator end() const { return {this, kEnd}; }

  iterator find(const Key& key) { return {this, number_at(find_index(key, hash(key)))}; }
  const_iterator find(const Key& key) const {
    return {this, number_at(find_index(key, hash(key)))};
  }
  std::size_t count(const Key& key) const { return find(key) == end() ? 0 : 1; }

  // The entry under `key`, default-constructed when there was none (then `second` is true).
  std::pair<iterator, bool> try_emplace(const Key& key) {
    const std::size_t h = hash(key);
    if (std::size_t i = find_index(key, h); i != kNone) return {{this, index_[i] - 1}, false};
    if ((size_ + 1) * 2 > index_.size()) rehash(std::max<std::size_t>(16, (size_ + 1) * 2));
    const std::uint32_t n = take_node();
    Node& created = node(n);
    created.slot.first = key;
    created.live = true;
    place(n, h);
    ++size_;
    return {{this, n}, true};
  }
  Value& operator[](const Key& key) { return try_emplace(key).first->second; }
  void insert_or_assign(const Key& key, Value&& value) {
    try_emplace(key).first->second = std::move(value);
  }

  void erase(iterator it) {
    Node& gone = node(it.n_);
    remove_index(find_index(gone.slot.first, hash(gone.slot.first)));
    gone.slot = Slot{};  // releases what the value held now
    gone.live = false;
    free_.push_back(it.n_);
    --size_;
  }
  std::size_t erase(const Key& key) {
    auto it = find(key);
    if (it == end()) return 0;
    erase(it);
    return 1;
  }

  void clear() {
    index_.clear();
    blocks_.clear();
    free_.clear();
    next_ = 0;
    capacity_ = 0;
    size_ = 0;
    bits_ = 0;
  }

  // Room for `n` entries without growing the index.
  void reserve(std::size_t n) {
    if (n * 2 > index_.size()) rehash(n * 2);
  }

 private:
  // Blocks hold 4, 4, 8, ..., 512 entries, then 1024 each: small sessions stay small.
  static constexpr std::uint32_t kSmall = 4;
  static constexpr std::uint32_t kLarge = 1024;
  static constexpr std::size_t kGrowing = 9;  // blocks before the first of kLarge entries
  static std::size_t block_size(std::size_t block) {
    if (block == 0) return kSmall;
    if (block < kGrowing) return std::size_t{1} << (block + 1);
    return kLarge;
  }
  Node& node(std::uint32_t n) const {
    if (n < kSmall) return blocks_[0][n];
    if (n < kLarge) {
      const int width = std::bit_width(n);
      return blocks_[static_cast<std::size_t>(width - 2)][n - (1U << (width - 1))];
    }
    return blocks_[kGrowing + (n - kLarge) / kLarge][(n - kLarge) % kLarge];
  }
  std::uint32_t next_live(std::uint32_t n) const {
    for (; n < next_; ++n)
      if (node(n).live) return n;
    return kEnd;
  }
  std::uint32_t take_node() {
    if (!free_.empty()) {
      const std::uint32_t n = free_.back();
      free_.pop_back();
      return n;
    }
    if (next_ == capacity_) {
      const std::size_t size = block_size(blocks_.size());
      blocks_.push_back(std::make_unique<Node[]>(size));
      capacity_ += static_cast<std::uint32_t>(size);
    }
    return next_++;
  }

  static std::size_t hash(const Key& key) noexcept { return IdentityHash{}(key); }
  std::size_t home(std::size_t h) const noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(h) * 0x9E3779B97F4A7C15ULL) >>
                                    (64 - bits_));
  }
  std::uint32_t number_at(std::size_t i) const noexcept {
    return i == kNone ? kEnd : index_[i] - 1;
  }
  // The index position of `key`, or kNone.
  std::size_t find_index(const Key& key, std::size_t h) const {
    if (index_.empty()) return kNone;
    const std::size_t mask = index_.size() - 1;
    std::size_t i = home(h);
    for (std::size_t probes = 0; probes < index_.size(); ++probes, i = (i + 1) & mask) {
      const std::uint32_t e = index_[i];
      if (e == 0) return kNone;
      if (node(e - 1).slot.first == key) return i;
    }
    return kNone;
  }
  void place(std::uint32_t n, std::size_t h) {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = home(h);
    while (index_[i] != 0) i = (i + 1) & mask;  // the index is at most half full
    index_[i] = n + 1;
  }
  // Empties position `i` and moves later entries of the same probe run back into the hole.
  void remove_index(std::size_t i) {
    const std::size_t mask = index_.size() - 1;
    index_[i] = 0;
    std::size_t j = i;
    for (std::size_t probes = 0; probes < index_.size(); ++probes) {
      j = (j + 1) & mask;
      if (index_[j] == 0) return;
      const std::size_t k = home(hash(node(index_[j] - 1).slot.first));
      // The entry at j stays when its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (stays) continue;
      index_[i] = index_[j];
      index_[j] = 0;
      i = j;
    }
  }
  void rehash(std::size_t wanted) {
    const std::size_t size = std::bit_ceil(std::max<std::size_t>(wanted, 16));
    index_.assign(size, 0);
    bits_ = std::countr_zero(size);
    for (std::uint32_t n = 0; n < next_; ++n) {
      const Node& existing = node(n);
      if (existing.live) place(n, hash(existing.slot.first));
    }
  }

  std::vector<std::uint32_t> index_;  // entry number + 1; 0 is empty
  std::vector<std::unique_ptr<Node[]>> blocks_;
  std::vector<std::uint32_t> free_;  // numbers of erased entries, reused first
  std::uint32_t next_ = 0;           // entries ever taken from the blocks
  std::uint32_t capacity_ = 0;       // entries the blocks hold
  std::size_t size_ = 0;
  int bits_ = 0;  // log2 of the index's size
};

}  // namespace pgorm::detail
