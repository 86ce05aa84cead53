// Relationship members of a model: BelongsTo (many-to-one), HasMany (one-to-many), HasOne
// (one-to-one) and ManyToMany (through an association model). They hold related objects in
// memory only: reading one that was not loaded throws NotLoaded instead of querying.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pgorm/errors.hpp"

namespace pgorm {

namespace detail {
[[noreturn]] void throw_not_loaded(std::string_view relation);
[[noreturn]] void throw_parent_gone();

// Below this many members a collection is searched for an object; from there on its members
// are hashed (loading: AppendedPairs; adding and removing: Collection's index). A search is
// cheaper than hashing each member of the usual small collection.
inline constexpr std::size_t kScanMembers = 64;

// What one load has appended to each owner's collection, so that a row that comes back twice (a
// join's repeated rows, a duplicated association row) is appended once. A collection of fewer
// than kScanMembers members is searched; past that its members are hashed, so the check stays
// constant however large it grows.
class AppendedPairs {
 public:
  // Whether `object` is new to `items` (the collection of `owner`), noting it when it is. The
  // caller appends it then.
  template <class P>
  bool fresh(const void* owner, const std::vector<P>& items, const P& object) {
    if (items.size() < kScanMembers)
      return std::find(items.begin(), items.end(), object) == items.end();
    if (hashed_.insert(owner).second)
      for (const auto& p : items) seen_.insert({owner, p.get()});
    return seen_.insert({owner, object.get()}).second;
  }

 private:
  using Pair = std::pair<const void*, const void*>;
  struct Hash {
    std::size_t operator()(const Pair& p) const noexcept {
      const std::hash<const void*> h;
      return h(p.first) * 31 + h(p.second);
    }
  };
  std::unordered_set<const void*> hashed_;  // owners whose members are in seen_
  std::unordered_set<Pair, Hash> seen_;
};

// The objects of `from` that `in` does not hold, in from's order. Past a few objects `in` is
// hashed, so comparing a collection with its snapshot stays linear however large it grows.
template <class P>
std::vector<P> not_in(const std::vector<P>& from, const std::vector<P>& in) {
  std::vector<P> out;
  if (from.empty()) return out;
  if (in.size() <= 16) {
    for (const auto& p : from)
      if (std::find(in.begin(), in.end(), p) == in.end()) out.push_back(p);
    return out;
  }
  std::unordered_set<const void*> held;
  held.reserve(in.size());
  for (const auto& p : in) held.insert(p.get());
  for (const auto& p : from)
    if (!held.count(p.get())) out.push_back(p);
  return out;
}

// Nonzero while pgorm constructs objects for rows read from the database (ReadingRows): their
// relationship members start not loaded, those missing from the model's `relationships` included,
// which no load ever fills. Outside, a new object's relationships are known: empty.
inline thread_local unsigned reading_rows = 0;
struct ReadingRows {
  ReadingRows() noexcept { ++reading_rows; }
  ~ReadingRows() { --reading_rows; }
  ReadingRows(const ReadingRows&) = delete;
  ReadingRows& operator=(const ReadingRows&) = delete;
};
inline bool new_relation_loaded() noexcept {
  return reading_rows == 0;
}

// Set by the session on the members of the objects it tracks, so that changing one side of a
// relationship updates the other side in memory (back_populates).
struct RelationLink {
  std::weak_ptr<void> owner;
  // Sets (or clears, with owner == nullptr) the inverse member of `other` to `owner`. Returns
  // whether `other` now holds `owner` in a collection.
  bool (*set_inverse)(void* other, const std::shared_ptr<void>& owner, bool add) = nullptr;
  // Whether a session wired this member to its object (the object is or was tracked).
  bool wired() const noexcept { return set_inverse != nullptr || !owner.expired(); }
};
}  // namespace detail

// Many-to-one along the foreign key column `ForeignKey` of this model:
//   pgorm::BelongsTo<User, &Todo::user_id> user;
// Ownership runs one way so that a parent and its children never keep each other alive: the
// target is owned, except while the target's own collection holds this object (back_populates:
// user->todos holds the todo, todo->user refers back to the user without owning it).
template <class Target, auto ForeignKey>
class BelongsTo {
 public:
  using target_type = Target;
  static constexpr auto foreign_key = ForeignKey;

  BelongsTo() = default;
  // A copy is a detached value: it never carries the session's back_populates wiring, and the copy
  // of an object a session tracks does not share its graph (the relationship is not loaded in the
  // copy). A new object's relationship, never tracked, is copied as it is.
  BelongsTo(const BelongsTo& other) { copy_from(other); }
  BelongsTo& operator=(const BelongsTo& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  BelongsTo(BelongsTo&& other) noexcept
      : target_(std::move(other.target_)),
        back_(std::move(other.back_)),
        held_by_target_(other.held_by_target_),
        loaded_(other.loaded_) {}
  BelongsTo& operator=(BelongsTo&& other) noexcept {
    target_ = std::move(other.target_);
    back_ = std::move(other.back_);
    held_by_target_ = other.held_by_target_;
    loaded_ = other.loaded_;
    return *this;
  }

  // The related object, or nullptr when there is none. Throws NotLoaded; throws NotLoaded too
  // when the object was reached through its parent's collection and that parent no longer exists.
  std::shared_ptr<Target> get() const {
    check();
    if (!held_by_target_) return target_;
    auto target = back_.lock();
    if (!target) detail::throw_parent_gone();
    return target;
  }
  Target* operator->() const { return get().get(); }
  Target& operator*() const { return *get(); }
  explicit operator bool() const { return get() != nullptr; }
  bool loaded() const noexcept { return loaded_; }

  // Points the relationship at `target` (the foreign key follows at flush) and, with
  // back_populates, adds this object to the target's collection if that is loaded.
  BelongsTo& operator=(std::shared_ptr<Target> target) {
    set(std::move(target));
    return *this;
  }
  void set(std::shared_ptr<Target> target) {
    auto owner = link_.owner.lock();
    auto previous = pgorm_raw();
    if (owner && link_.set_inverse && previous && previous != target)
      link_.set_inverse(previous.get(), owner, false);
    bool held =
        owner && link_.set_inverse && target && link_.set_inverse(target.get(), owner, true);
    pgorm_assign(std::move(target), held);
  }

  // ---- used by the session ----
  // held_by_target: the target's collection holds this object (the reference does not own).
  void pgorm_assign(std::shared_ptr<Target> target, bool held_by_target = false) noexcept {
    held_by_target_ = held_by_target && target;
    if (held_by_target_) {
      back_ = target;
      target_.reset();
    } else {
      target_ = std::move(target);
      back_.reset();
    }
    loaded_ = true;
  }
  void pgorm_unload() noexcept {
    target_.reset();
    back_.reset();
    held_by_target_ = false;
    loaded_ = false;
  }
  // The target (nullptr when none, or when it was only referred to and no longer exists).
  std::shared_ptr<Target> pgorm_raw() const noexcept {
    return held_by_target_ ? back_.lock() : target_;
  }
  detail::RelationLink& pgorm_link() noexcept { return link_; }

 private:
  void check() const {
    if (!loaded_) detail::throw_not_loaded("many-to-one relationship");
  }
  void copy_from(const BelongsTo& other) {
    if (other.link_.wired()) {
      pgorm_unload();
      return;
    }
    target_ = other.target_;
    back_ = other.back_;
    held_by_target_ = other.held_by_target_;
    loaded_ = other.loaded_;
  }
  std::shared_ptr<Target> target_;  // owned
  std::weak_ptr<Target> back_;      // referred to while its collection holds this object
  bool held_by_target_ = false;
  bool loaded_ = detail::new_relation_loaded();  // see ReadingRows
  detail::RelationLink link_;
};

namespace detail {
// What every collection relationship holds: the objects, whether they were loaded, and the
// members as last loaded or flushed (to find what was removed since).
template <class Target>
class Collection {
 public:
  using target_type = Target;
  using value_type = std::shared_ptr<Target>;

  // Copies follow BelongsTo's rule: no wiring; not loaded when copied from a tracked object.
  Collection(const Collection& other) : kind_(other.kind_) { copy_from(other); }
  Collection& operator=(const Collection& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  Collection(Collection&& other) noexcept
      : items_(std::move(other.items_)),
        snapshot_(std::move(other.snapshot_)),
        index_(std::move(other.index_)),
        loaded_(other.loaded_),
        kind_(other.kind_) {}
  Collection& operator=(Collection&& other) noexcept {
    items_ = std::move(other.items_);
    snapshot_ = std::move(other.snapshot_);
    index_ = std::move(other.index_);
    loaded_ = other.loaded_;
    return *this;
  }

  // Throws NotLoaded when the relationship was not loaded.
  const std::vector<std::shared_ptr<Target>>& items() const {
    if (!loaded_) throw_not_loaded(kind_);
    return items_;
  }
  auto begin() const { return items().begin(); }
  auto end() const { return items().end(); }
  std::size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }
  const std::shared_ptr<Target>& operator[](std::size_t i) const { return items()[i]; }
  bool loaded() const noexcept { return loaded_; }

  // ---- used by the session ----
  void pgorm_assign(std::vector<std::shared_ptr<Target>> items) {
    items_ = std::move(items);
    index_.reset();
    loaded_ = true;
    snapshot_ = items_;
  }
  // A loaded member; the loader has checked (AppendedPairs) that it is not in the collection yet.
  void pgorm_append_loaded(std::shared_ptr<Target> object) {
    if (!loaded_) pgorm_assign({});
    items_.push_back(object);
    note_added(object.get());
    snapshot_.push_back(std::move(object));
  }
  void pgorm_mark_loaded_empty() {
    if (!loaded_) pgorm_assign({});
  }
  void pgorm_unload() noexcept {
    items_.clear();
    snapshot_.clear();
    index_.reset();
    loaded_ = false;
  }
  const std::vector<std::shared_ptr<Target>>& pgorm_raw() const noexcept { return items_; }
  std::vector<std::shared_ptr<Target>>& pgorm_snapshot() noexcept { return snapshot_; }
  const std::vector<std::shared_ptr<Target>>& pgorm_snapshot() const noexcept { return snapshot_; }
  // Whether the collection holds `object`. A collection of fewer than kScanMembers is searched;
  // a larger one looks in an index of its members (built on first use, then kept up to date), so
  // that adding members one at a time stays linear however large the collection grows.
  bool pgorm_holds(const Target* object) {
    if (!index_) {
      if (items_.size() < kScanMembers) return find_from_back(object) != items_.rend();
      // Built aside: an allocation failure leaves no partial index behind.
      auto index = std::make_unique<std::unordered_set<const Target*>>();
      index->reserve(items_.size());
      for (const auto& p : items_) index->insert(p.get());
      index_ = std::move(index);
    }
    return index_->count(object) > 0;
  }
  // Appends `object` unless the collection holds it; returns whether it appended.
  bool pgorm_raw_add(std::shared_ptr<Target> object) {
    if (pgorm_holds(object.get())) return false;
    const Target* raw = object.get();
    items_.push_back(std::move(object));
    note_added(raw);
    return true;
  }
  // Takes `object` out of the collection; returns whether it was there. The index answers "not
  // held" at once; the member itself is found by a search from the back (so that emptying a
  // collection from its end takes no scan), and the gap it leaves is closed (members keep their
  // order).
  bool pgorm_raw_remove(const Target* object) {
    if (index_ && !index_->count(object)) return false;
    auto it = find_from_back(object);
    if (it == items_.rend()) {
      index_.reset();  // out of step with the members: rebuilt when next needed
      return false;
    }
    items_.erase(std::next(it).base());
    if (index_) index_->erase(object);
    return true;
  }
  // The objects of `gone` (sorted, as std::less orders them) were deleted or expunged: they leave
  // the collection and its loaded state, so that no later flush sees one as a member (to
  // re-insert) or as an orphan (to delete again). One pass over the collection for them all.
  void pgorm_forget(const std::vector<const void*>& gone) {
    auto is_gone = [&](const auto& p) {
      return std::binary_search(gone.begin(), gone.end(), static_cast<const void*>(p.get()),
                                std::less<const void*>());
    };
    if (std::erase_if(items_, is_gone) > 0) index_.reset();
    std::erase_if(snapshot_, is_gone);
  }
  detail::RelationLink& pgorm_link() noexcept { return link_; }

 protected:
  explicit Collection(const char* kind) noexcept : kind_(kind) {}
  detail::RelationLink link_;

 private:
  auto find_from_back(const Target* object) {
    return std::find_if(items_.rbegin(), items_.rend(),
                        [&](const auto& p) { return p.get() == object; });
  }
  // After a member was appended: the index, when there is one, follows (or is dropped if it
  // cannot, to be rebuilt from the members when next needed).
  void note_added(const Target* object) noexcept {
    if (!index_) return;
    try {
      index_->insert(object);
    } catch (...) {
      index_.reset();
    }
  }
  void copy_from(const Collection& other) {
    if (other.link_.wired()) {
      pgorm_unload();
      return;
    }
    items_ = other.items_;
    snapshot_ = other.snapshot_;
    index_.reset();
    loaded_ = other.loaded_;
  }
  std::vector<std::shared_ptr<Target>> items_;
  std::vector<std::shared_ptr<Target>> snapshot_;
  // The members of items_ once a search needed them hashed (pgorm_holds()); null until then.
  std::unique_ptr<std::unordered_set<const Target*>> index_;
  bool loaded_ = detail::new_relation_loaded();  // see ReadingRows
  const char* kind_;
};
}  // namespace detail

// The objects of another model whose foreign key points at this one: pgorm::HasMany<Todo> todos;
// Which foreign key is found from Target's BelongsTo (or its foreign key columns).
template <class Target>
class HasMany : public detail::Collection<Target> {
  using Base = detail::Collection<Target>;

 public:
  HasMany() noexcept : Base("one-to-many relationship") {}

  // Appends (and, with back_populates, points the object's many-to-one side here). The object is
  // added to the session at flush (save-update cascade), its foreign key set.
  void add(std::shared_ptr<Target> object) {
    Base::items();  // throws NotLoaded
    if (!Base::pgorm_raw_add(object)) return;
    if (auto owner = link_.owner.lock(); owner && link_.set_inverse)
      link_.set_inverse(object.get(), owner, true);
  }
  void push_back(std::shared_ptr<Target> object) { add(std::move(object)); }
  // Takes the object out of the collection: with delete-orphan it is deleted at flush,
  // otherwise its foreign key is set to NULL (which needs a nullable column).
  void remove(const std::shared_ptr<Target>& member) {
    Base::items();
    // A copy: `member` may be the collection's own element (clear() passes the last one).
    const std::shared_ptr<Target> object = member;
    if (!Base::pgorm_raw_remove(object.get())) return;
    if (auto owner = link_.owner.lock(); owner && link_.set_inverse)
      link_.set_inverse(object.get(), nullptr, false);
  }
  void clear() {
    while (!Base::items().empty()) remove(Base::items().back());
  }

 private:
  using Base::link_;
};

// One-to-one from the side without the foreign key: a HasMany holding at most one object.
template <class Target>
class HasOne : private HasMany<Target> {
  using Base = HasMany<Target>;

 public:
  using target_type = Target;
  using Base::loaded;
  // The related object or nullptr. Throws NotLoaded.
  std::shared_ptr<Target> get() const {
    const auto& items = Base::items();
    return items.empty() ? nullptr : items.front();
  }
  Target* operator->() const { return get().get(); }
  explicit operator bool() const { return get() != nullptr; }
  HasOne& operator=(std::shared_ptr<Target> target) {
    Base::clear();
    if (target) Base::add(std::move(target));
    return *this;
  }
  Base& pgorm_collection() noexcept { return *this; }
  const Base& pgorm_collection() const noexcept { return *this; }
};

// Many-to-many through the association model `Through`, which has one foreign key to each side:
//   pgorm::ManyToMany<Category, TodoCategory> categories;
// Adding or removing objects inserts or deletes association rows at flush. Extra columns of the
// association are read and written through the association model itself.
template <class Target, class Through>
class ManyToMany : public detail::Collection<Target> {
  using Base = detail::Collection<Target>;

 public:
  using through_type = Through;
  ManyToMany() noexcept : Base("many-to-many relationship") {}

  void add(std::shared_ptr<Target> object) {
    Base::items();  // throws NotLoaded
    Base::pgorm_raw_add(std::move(object));
  }
  void remove(const std::shared_ptr<Target>& object) {
    Base::items();
    Base::pgorm_raw_remove(object.get());
  }
};

namespace detail {
template <class M>
void unload_member(M& member) noexcept {
  if constexpr (requires { member.pgorm_collection(); })
    member.pgorm_collection().pgorm_unload();
  else
    member.pgorm_unload();
}
// An object read from the database outside a session's identity map (values(), raw queries,
// RETURNING rows): none of its relationships is loaded, so reading one throws NotLoaded instead of
// claiming it is empty.
template <class T>
void unload_relations(T& object) noexcept {
  if constexpr (requires { T::relationships; }) {
    std::apply(
        [&](const auto&... defs) {
          (unload_member(object.*(std::remove_cvref_t<decltype(defs)>::member)), ...);
        },
        T::relationships);
  }
}
}  // namespace detail

}  // namespace pgorm
