// The unit of work for one model: its identity map, pending inserts, dirty checking and deletes.
// Included by session.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <bitset>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pgorm/relations/operations.hpp"
#include "pgorm/session/identity_map.hpp"
#include "pgorm/session/session.hpp"

namespace pgorm::detail {

[[noreturn]] void throw_not_in_session(std::string_view table);
[[noreturn]] void throw_refresh_missing(std::string_view table);
// A flush UPDATE or DELETE matched no row. `action` is "UPDATE" or "DELETE".
[[noreturn]] void throw_stale(std::string_view table, std::string_view action, std::string key,
                              bool versioned);

// The objects added to a session and not inserted yet, in the order they were added. Whether an
// object is among them is a hash lookup once there are more than a few, so that adding many
// objects is not quadratic; the index exists exactly when there are more than kScan.
template <class T>
class PendingObjects {
 public:
  using const_iterator = typename std::vector<std::shared_ptr<T>>::const_iterator;

  bool contains(const std::shared_ptr<T>& object) const {
    if (objects_.size() <= kScan)
      return std::find(objects_.begin(), objects_.end(), object) != objects_.end();
    return index_.count(object.get()) != 0;
  }
  void push_back(std::shared_ptr<T> object) {
    objects_.push_back(std::move(object));
    if (objects_.size() == kScan + 1) {
      index_.reserve(2 * objects_.size());
      for (const auto& o : objects_) index_.insert(o.get());
    } else if (objects_.size() > kScan) {
      index_.insert(objects_.back().get());
    }
  }
  // Removes the object; false when it was not pending.
  bool erase(const std::shared_ptr<T>& object) {
    // Past kScan the index answers "not pending" at once: removing a persistent object asks
    // this first, however many objects are pending.
    if (objects_.size() > kScan && !index_.count(object.get())) return false;
    auto it = std::find(objects_.begin(), objects_.end(), object);
    if (it == objects_.end()) return false;
    objects_.erase(it);
    if (objects_.size() <= kScan)
      index_.clear();
    else
      index_.erase(object.get());
    return true;
  }
  void assign(std::vector<std::shared_ptr<T>> objects) {
    clear();
    objects_.reserve(objects.size());
    for (auto& o : objects) push_back(std::move(o));
  }
  void clear() noexcept {
    objects_.clear();
    index_.clear();
  }

  const std::vector<std::shared_ptr<T>>& objects() const noexcept { return objects_; }
  const_iterator begin() const noexcept { return objects_.begin(); }
  const_iterator end() const noexcept { return objects_.end(); }
  bool empty() const noexcept { return objects_.empty(); }
  std::size_t size() const noexcept { return objects_.size(); }

 private:
  static constexpr std::size_t kScan = 16;
  std::vector<std::shared_ptr<T>> objects_;
  std::unordered_set<const T*> index_;
};

template <model T>
class ModelWork final : public ModelWorkBase {
 public:
  using Key = identity_key_t<T>;

  ~ModelWork() override;

  const TableInfo& table() const noexcept override { return table_info<T>(); }

  bool has_changes() const override {
    if (!pending_.empty()) return true;
    for (const auto& [key, e] : identity_)
      if (e.deleted || !e.snapshot.equals(*e.object)) return true;
    return false;
  }

  bool has_pending() const noexcept override { return !pending_.empty(); }
  bool has_relations() const noexcept override { return relation_count<T> != 0; }

  std::size_t tracked() const noexcept override { return identity_.size() + pending_.size(); }

  bool contains(const std::shared_ptr<T>& object) const {
    if (pending_.contains(object)) return true;
    auto it = identity_.find(key_of(*object));
    return it != identity_.end() && it->second.object == object;
  }

  std::shared_ptr<T> add(std::shared_ptr<T> object);

  bool is_removed(const std::shared_ptr<T>& object) const {
    auto it = identity_.find(key_of(*object));
    return it != identity_.end() && it->second.object == object && it->second.deleted;
  }
  bool is_hard_removed(const std::shared_ptr<T>& object) const {
    auto it = identity_.find(key_of(*object));
    return it != identity_.end() && it->second.object == object && it->second.deleted &&
           it->second.hard;
  }

  bool cascade(CascadeState& state) override {
    if constexpr (relation_count<T> == 0) {
      return false;
    } else {
      bool changed = false;
      std::vector<std::pair<std::shared_ptr<T>, int>> objects;  // 0 live, 1 soft, 2 hard delete
      for (const auto& p : pending_) objects.emplace_back(p, 0);
      for (const auto& [key, e] : identity_)
        objects.emplace_back(e.object, e.deleted ? (e.hard ? 2 : 1) : 0);
      for (const auto& [object, removal] : objects)
        changed |= cascade_relations(state, object, removal != 0, removal == 2);
      return changed;
    }
  }

  void sync_keys() override {
    if constexpr (relation_count<T> > 0) {
      for (const auto& [key, e] : identity_) {
        if (e.deleted) continue;
        propagate_keys(*e.object);
        sync_foreign_keys(*e.object);
      }
    }
  }

  void plan_associations(std::vector<PlannedWrite>& out) override {
    if constexpr (relation_count<T> > 0) {
      for (const auto& [key, e] : identity_)
        if (!e.deleted) detail::plan_associations(out, e.object);
    }
  }

  void collect_pending(std::unordered_set<const void*>& pending) const override {
    for (const auto& p : pending_) pending.insert(p.get());
  }

  void mark_waiting(const std::unordered_set<const void*>& pending,
                    std::unordered_set<const void*>& waiting, bool& later_waits) const override {
    if constexpr (relation_count<T> > 0) {
      for (const auto& p : pending_) detail::mark_waiting(*p, true, pending, waiting, later_waits);
      for (const auto& [key, e] : identity_)
        if (!e.deleted) detail::mark_waiting(*e.object, false, pending, waiting, later_waits);
    }
  }

  template <class... Keys>
  std::shared_ptr<T> get(Session& session, const Keys&... keys) {
    if (auto key = identity_key_of<T>(keys...))
      if (auto loaded = find_loaded(*key)) return *loaded;
    return get_result(session.run(get_statement(keys...), false));
  }

  // get()'s answer from its SELECT: nullptr when there is no row, or when the row's object was
  // removed in this session (a spelling of the key the identity map could not look up).
  std::shared_ptr<T> get_result(const Result& result);

  // Objects for the rows of a result: rows already in the identity map give the tracked object
  // (keeping its in-memory changes); new rows are tracked.
  std::vector<std::shared_ptr<T>> load(const Result& result);

  // `fresh`, when given, tells whether the row entered the identity map now.
  std::shared_ptr<T> load_row(const RowReader<T>& reader, int row, bool* fresh = nullptr);

  // Loading of T's relationship number `relation` (relations_t<T> order), compiled with the rest
  // of the model's code (once per program under PGORM_INSTANTIATE_MODEL): one selectin level for
  // `owners` (relations/operations_impl.hpp), and the LEFT JOIN and row reader of joined loading
  // (relations/loading.hpp).
  static SelectinStep selectin_step(std::size_t relation, std::vector<std::shared_ptr<T>> owners,
                                    bool keep_loaded);
  using EagerReader =
      std::function<void(const Result&, const std::vector<std::shared_ptr<T>>&, WorkList&)>;
  static void add_joined(std::size_t relation, query::SelectParts& parts,
                         std::vector<EagerReader>& eager);

  // Returns true when the object was pending (never inserted): it leaves the session at once.
  bool remove(const std::shared_ptr<T>& object, bool hard);

  // A stream moving past a chunk: the loaded object leaves the identity map when nothing but the
  // map and `holders` other references hold it and it has no change to flush. True if it left.
  bool release_unused(const std::shared_ptr<T>& object, long holders) {
    auto it = identity_.find(key_of(*object));
    if (it == identity_.end() || it->second.object != object) return false;
    const Entry& e = it->second;
    if (e.deleted || object.use_count() > holders + 1 || !e.snapshot.equals(*e.object))
      return false;
    identity_.erase(it);
    return true;
  }

  // Returns true when the session tracked the object.
  bool expunge(const std::shared_ptr<T>& object) {
    if (pending_.erase(object)) return true;
    auto it = identity_.find(key_of(*object));
    if (it == identity_.end() || it->second.object != object) return false;
    identity_.erase(it);
    return true;
  }

  void refresh(Session& session, const std::shared_ptr<T>& object) {
    apply_refresh(object, session.run(refresh_statement(object), false));
  }

  std::shared_ptr<T> merge(Session& session, const T& detached);

  // One insert wave: the pending objects not in `waiting` (they wait for another pending
  // object's key), in multi-row INSERTs of at most kMaxParams parameters.
  void plan_inserts(std::vector<PlannedWrite>& out,
                    const std::unordered_set<const void*>& waiting) override {
    if (pending_.empty()) return;
    if (waiting.empty()) {
      plan_insert_batch(out, pending_.objects());
      pending_.clear();
      return;
    }
    std::vector<std::shared_ptr<T>> wave, later;
    for (const auto& p : pending_) (waiting.count(p.get()) ? later : wave).push_back(p);
    if (wave.empty()) return;
    plan_insert_batch(out, wave);
    pending_.assign(std::move(later));
  }

  // The changed objects, grouped by the columns they change: a group of several is one
  // UPDATE ... FROM unnest(...) (plan_batch_update), a lone object (or one whose key changed)
  // its own UPDATE.
  void plan_updates(std::vector<PlannedWrite>& out) override {
    const std::size_t first = out.size();
    std::vector<std::pair<Changed, std::vector<Key>>> groups;
    for (auto& [key, e] : identity_) {
      if (e.deleted) continue;
      Changed changed;
      std::size_t i = 0;
      model_traits<T>::for_each_column([&](const auto& def) {
        using Def = std::remove_cvref_t<decltype(def)>;
        const std::size_t column = i++;
        if (model_traits<T>::versioned && def.name() == "version") return;  // bumped by the SET
        if (!e.snapshot.template same<Def>(*e.object)) changed.set(column);
      });
      if (changed.none()) continue;
      auto group = std::find_if(groups.begin(), groups.end(),
                                [&](const auto& g) { return g.first == changed; });
      if (group == groups.end())
        groups.push_back({changed, {key}});
      else
        group->second.push_back(key);
    }
    for (auto& [changed, keys] : groups) {
      for (std::size_t start = 0; start < keys.size(); start += kBatchedRows) {
        const std::size_t end = std::min(keys.size(), start + kBatchedRows);
        std::vector<Key> chunk(keys.begin() + static_cast<std::ptrdiff_t>(start),
                               keys.begin() + static_cast<std::ptrdiff_t>(end));
        if (chunk.size() > 1 && plan_batch_update(out, changed, chunk)) continue;
        for (const Key& key : chunk) plan_row_update(out, key, changed);
      }
    }
    if (out.size() > first) {
      // Objects whose key changed move to their new identity once every update is applied.
      auto last = std::move(out.back().apply);
      out.back().apply = [this, last = std::move(last)](const Result& r) {
        last(r);
        rekey();
      };
    }
  }

  void plan_deletes(std::vector<PlannedWrite>& out) override {
    for (auto& [key, e] : identity_) {
      if (!e.deleted) continue;
      query::Fragment f;
      if (e.hard) {
        f += "DELETE FROM ";
        f.add_identifier(table().name);
        f += " WHERE ";
        append_row_condition(f, e.snapshot);
      } else {
        f += "UPDATE ";
        f.add_identifier(table().name);
        f += " SET \"deleted_at\" = now()";
        if constexpr (model_traits<T>::versioned) f += ", \"version\" = \"version\" + 1";
        f += " WHERE ";
        append_row_condition(f, e.snapshot);
        f += " RETURNING \"deleted_at\"";
      }
      out.push_back({query::finish(std::move(f)), [this, key = key](const Result& r) {
                       auto it = identity_.find(key);
                       if (it == identity_.end()) return;
                       if (r.affected_rows() != 1)
                         throw_stale(table().name, it->second.hard ? "DELETE" : "UPDATE",
                                     describe_key(it->second.snapshot),
                                     model_traits<T>::versioned);
                       if constexpr (model_traits<T>::soft_delete) {
                         if (!it->second.hard) r.read(0, 0, it->second.object->deleted_at);
                       }
                       note(key);
                       gone_.push_back(it->second.object);
                       identity_.erase(it);
                     },
                     true, true});
    }
  }

  // ---- the parts of get() and refresh() that do no I/O, shared with AsyncSession ----

  // The tracked object with this identity key: std::nullopt when not loaded, nullptr when it was
  // removed in this session.
  std::optional<std::shared_ptr<T>> find_loaded(const Key& key) const;
  // SELECT ... WHERE pk = $1 [AND deleted_at IS NULL] with the key values bound.
  template <class... Keys>
  static query::Statement get_statement(const Keys&... keys) {
    query::Statement statement{get_sql(), key_params(keys...)};
    statement.params.set_binary_results(binary_rows<T>());
    return statement;
  }
  // SELECT of the object's row by the key it was loaded with.
  query::Statement refresh_statement(const std::shared_ptr<T>& object) const {
    auto it = identity_.find(key_of(*object));
    query::Fragment f;
    f += sql::select_all<T>();
    f += " WHERE ";
    if (it != identity_.end() && it->second.object == object)
      append_key_condition(f, it->second.snapshot);  // the key it was loaded with
    else
      append_key_condition(f, *object);
    query::Statement statement = query::finish(std::move(f));
    statement.params.set_binary_results(binary_rows<T>());
    return statement;
  }
  // Overwrites the object with the row of refresh_statement()'s result and tracks it.
  void apply_refresh(const std::shared_ptr<T>& object, const Result& r) {
    if (r.rows() != 1) throw_refresh_missing(table().name);
    auto it = identity_.find(key_of(*object));
    if (it != identity_.end()) note(it->first);
    RowReader<T> reader(r);
    reader.read(0, *object);
    if (it != identity_.end() && it->second.object == object) {
      it->second.snapshot.assign(*object);
    } else {
      const Key key = key_of(*object);
      note(key);
      Entry& e = identity_[key];
      e.object = object;
      e.snapshot.assign(*object);
    }
  }

  // After commit: objects stay tracked, and the next query or get() that reads their rows
  // refreshes them. After rollback: everything is forgotten.
  void expire(bool keep_pending) override {
    if (keep_pending) {
      for (auto& [key, e] : identity_) e.expired = true;
    } else {
      identity_.clear();
      pending_.clear();
      journal_.clear();
      gone_.clear();
    }
  }

  // ---- savepoints ----
  void set_savepoint_depth(int depth) noexcept override { depth_ = depth; }

  void release_savepoint(int depth) override {
    std::vector<Level> released;  // innermost first
    while (!journal_.empty() && journal_.back().depth >= depth) {
      released.push_back(std::move(journal_.back()));
      journal_.pop_back();
    }
    if (depth <= 1 || released.empty()) return;  // released into the transaction
    // What the released savepoints changed is now the enclosing one's change; the oldest saved
    // state of an entry wins.
    if (journal_.empty() || journal_.back().depth != depth - 1)
      journal_.push_back({depth - 1, {}});
    auto& into = journal_.back().saved;
    for (auto level = released.rbegin(); level != released.rend(); ++level)
      for (auto& [key, saved] : level->saved) into.try_emplace(key, std::move(saved));
  }

  void rollback_savepoint(int depth) override {
    // The identity map goes back to what the database holds again: entries changed since the
    // savepoint get their saved state, rows inserted since leave the session.
    while (!journal_.empty() && journal_.back().depth >= depth) {
      Level level = std::move(journal_.back());
      journal_.pop_back();
      for (const auto& [key, saved] : level.saved) identity_.erase(key);
      for (auto& [key, saved] : level.saved)
        if (saved.existed) identity_.insert_or_assign(key, std::move(saved.entry));
    }
    // Objects added since were never inserted (begin_nested() flushes first), or their rows are
    // gone again; changes made since and not flushed are undone too.
    pending_.clear();
    gone_.clear();
    for (auto& [key, e] : identity_) {
      e.snapshot.restore(*e.object);
      // Raw SQL inside the savepoint may have changed rows too: the next read refreshes them.
      e.expired = true;
      // Relationships may refer to objects that left the session: they are reloaded on demand.
      unload_relations(*e.object);
    }
  }

  // Objects deleted by the last flush; the session takes them out of every loaded collection.
  std::vector<const void*> gone() const override {
    std::vector<const void*> out;
    out.reserve(gone_.size());
    for (const auto& g : gone_) out.push_back(g.get());
    return out;
  }
  void clear_gone() noexcept override { gone_.clear(); }

  void forget_related(const void* type, const std::vector<const void*>& objects) override {
    if constexpr (relation_count<T> > 0) {
      // Nothing to visit unless one of T's collections holds objects of that model.
      bool holds_type = false;
      for_each_relation<T>([&]<auto Member>() {
        using R = resolved_relation<T, Member>;
        if constexpr (R::kind != relation_kind::belongs_to)
          holds_type = holds_type || type == &type_key<typename R::target>;
      });
      if (!holds_type) return;
      auto forget_in = [&](T& owner) {
        for_each_relation<T>([&]<auto Member>() {
          using R = resolved_relation<T, Member>;
          if constexpr (R::kind != relation_kind::belongs_to) {
            if (type != &type_key<typename R::target>) return;
            auto& coll = collection_of(owner.*Member);
            if (coll.loaded()) coll.pgorm_forget(objects);
          }
        });
      };
      for (auto& [key, e] : identity_) forget_in(*e.object);
      for (auto& p : pending_) forget_in(*p);
    }
  }

 private:
  struct Entry {
    std::shared_ptr<T> object;
    ColumnValues<T> snapshot;  // the column values last read from or written to the database
    bool deleted = false;
    bool hard = false;
    bool expired = false;  // committed since it was read: the next read refreshes it
  };
  // The state of identity entries before the first change made while a savepoint was open.
  struct Saved {
    bool existed = false;
    Entry entry;
  };
  struct Level {
    int depth = 0;
    std::unordered_map<Key, Saved, IdentityHash> saved;
  };

  template <class S>
  static Key key_of(const S& source) {
    return identity_key(source);
  }

  // Journals the entry under `key` before it changes, when a savepoint is open.
  void note(const Key& key) {
    if (depth_ == 0) return;
    if (journal_.empty() || journal_.back().depth != depth_) journal_.push_back({depth_, {}});
    auto& saved = journal_.back().saved;
    if (saved.count(key)) return;
    auto it = identity_.find(key);
    if (it == identity_.end())
      saved.emplace(key, Saved{});
    else
      saved.emplace(key, Saved{true, it->second});
  }

  // A flush statement whose RETURNING rows (every column of T) are read back into the objects:
  // in binary when T's columns read so, as select<T>() results are.
  static query::Statement returning_rows(query::Statement statement) {
    statement.params.set_binary_results(binary_rows<T>());
    return statement;
  }

  // The columns a flush UPDATE sets, by column index.
  using Changed = std::bitset<model_traits<T>::column_count>;

  // One object's UPDATE ... RETURNING: StaleDataError when it matches no row.
  void plan_row_update(std::vector<PlannedWrite>& out, const Key& key, const Changed& changed) {
    out.push_back({update_statement(identity_.find(key)->second, changed),
                   [this, key](const Result& r) {
                     auto it = identity_.find(key);
                     if (it == identity_.end()) return;
                     Entry& entry = it->second;
                     if (r.rows() != 1)
                       throw_stale(table().name, "UPDATE", describe_key(entry.snapshot),
                                   model_traits<T>::versioned);
                     note(key);
                     RowReader<T>(r).read(0, *entry.object);
                     entry.snapshot.assign(*entry.object);
                   },
                   true, true});
  }

  // The objects of `keys`, all changing the same columns, in one statement:
  //   UPDATE t SET <changed> = v.c.., "updated_at" = now(), "version" = t."version" + 1
  //   FROM unnest($1::key[], [$2::int[] version,] $3::type[], ...) WITH ORDINALITY AS v(..., n)
  //   WHERE t.<key> = v.c0 [AND t."version" = v.c1] RETURNING <every column>, v.n
  // Each returned row finds its object by the ordinal n; an object without one matched no row
  // (StaleDataError). False (nothing planned) when the key changes or a column cannot travel in
  // unnest: the objects then get one UPDATE each.
  bool plan_batch_update(std::vector<PlannedWrite>& out, const Changed& changed,
                         std::vector<Key>& keys) {
    constexpr std::size_t columns = model_traits<T>::column_count;
    if (table_info<T>().primary_key.empty()) return false;  // no key to find the rows by
    static const std::vector<std::size_t> match = [] {
      const TableInfo& table = table_info<T>();
      std::vector<std::size_t> out;
      for (const auto& key : table.primary_key) out.push_back(column_index(key));
      if constexpr (model_traits<T>::versioned) out.push_back(column_index("version"));
      return out;
    }();
    std::vector<std::size_t> set;
    // slot[c]: the array column c's value goes to, for the row condition and for the SET list
    std::array<std::size_t, columns> match_slot, set_slot;
    match_slot.fill(columns);
    set_slot.fill(columns);
    for (std::size_t j = 0; j < match.size(); ++j) {
      if (match[j] >= columns || changed.test(match[j])) return false;
      match_slot[match[j]] = j;
    }
    for (std::size_t c = 0; c < columns; ++c)
      if (changed.test(c)) {
        set_slot[c] = match.size() + set.size();
        set.push_back(c);
      }
    std::vector<std::size_t> sent = match;
    sent.insert(sent.end(), set.begin(), set.end());
    std::optional<query::UnnestArrays> arrays = query::UnnestArrays::of(table(), sent);
    if (!arrays) return false;
    for (const Key& key : keys) {
      const Entry& e = identity_.find(key)->second;
      std::size_t c = 0;
      model_traits<T>::for_each_column([&](const auto& def) {
        using Def = std::remove_cvref_t<decltype(def)>;
        if (match_slot[c] < columns)
          arrays->add_value(match_slot[c], e.snapshot.template get<Def>());
        if (set_slot[c] < columns) arrays->add_value(set_slot[c], Def::ref(*e.object));
        ++c;
      });
    }
    query::Fragment extra_sets;
    append_bookkeeping_sets(extra_sets, changed, table().name);
    query::Statement statement = returning_rows(query::finish(
        query::render_unnest_update(table(), match, set, extra_sets.sql, std::move(*arrays))));
    out.push_back({std::move(statement),
                   [this, keys = std::move(keys)](const Result& r) {
                     const int ordinal_column = static_cast<int>(columns);
                     std::vector<int> row_of(keys.size(), -1);
                     for (int row = 0; row < r.rows(); ++row) {
                       const auto n = r.value<std::int64_t>(row, ordinal_column);
                       if (n < 1 || static_cast<std::size_t>(n) > keys.size() ||
                           row_of[static_cast<std::size_t>(n - 1)] >= 0)
                         throw_returned_rows("UPDATE", r.rows(), keys.size());
                       row_of[static_cast<std::size_t>(n - 1)] = row;
                     }
                     for (std::size_t i = 0; i < keys.size(); ++i) {
                       if (row_of[i] >= 0) continue;
                       auto it = identity_.find(keys[i]);
                       throw_stale(table().name, "UPDATE",
                                   it == identity_.end() ? std::string()
                                                         : describe_key(it->second.snapshot),
                                   model_traits<T>::versioned);
                     }
                     RowReader<T> reader(r);
                     for (std::size_t i = 0; i < keys.size(); ++i) {
                       auto it = identity_.find(keys[i]);
                       if (it == identity_.end()) continue;
                       note(keys[i]);
                       reader.read(row_of[i], *it->second.object);
                       it->second.snapshot.assign(*it->second.object);
                     }
                   },
                   true, true});
    return true;
  }

  // `UPDATE t SET <changed> = ..., "updated_at" = now() WHERE <key> [AND "version" = ...]
  // RETURNING <every column>`. Its text depends on the changed columns only, so it is kept per
  // set of changed columns (kept_statement()).
  query::Statement update_statement(const Entry& e, const Changed& changed) {
    thread_local std::vector<std::pair<Changed, std::string>> kept;
    return kept_statement(kept, changed, [&](auto& out) { render_update(out, e, changed); });
  }

  // A statement whose text depends only on `shape`: each thread renders it once per shape (at
  // most kKeptTexts texts in `kept`, shared by the thread's sessions), and later statements of
  // the same shape only collect their parameters, through the same `render` writing into a
  // query::ParamsOnly, so that both take the parameters in the same order. Nothing here suspends,
  // so a coroutine resuming on another thread does not matter.
  template <class Shape, class Render>
  static query::Statement kept_statement(std::vector<std::pair<Shape, std::string>>& kept,
                                         const Shape& shape, const Render& render) {
    for (const auto& [kept_shape, sql] : kept) {
      if (kept_shape != shape) continue;
      query::ParamsOnly only;
      render(only);
      return returning_rows({sql, std::move(only.params)});
    }
    query::Fragment f;
    render(f);
    query::Statement statement = returning_rows(query::finish(std::move(f)));
    if (kept.size() < kKeptTexts) kept.emplace_back(shape, statement.sql);
    return statement;
  }

  // The index of T's column with this name; column_count when there is none.
  static std::size_t column_index(std::string_view name) {
    const TableInfo& table = table_info<T>();
    const ColumnInfo* column = table.column(name);
    return column ? static_cast<std::size_t>(column - table.columns.data())
                  : model_traits<T>::column_count;
  }

  // What every flush UPDATE sets besides the changed columns: "updated_at" = now() (Timestamps,
  // unless updated_at itself changed) and the version bump (Versioned), its old value read from
  // `qualifier`."version" when given (an UPDATE with a FROM list).
  template <class Out>
  static void append_bookkeeping_sets(Out& f, const Changed& changed, std::string_view qualifier) {
    if constexpr (model_traits<T>::timestamps) {
      static const std::size_t updated_at = column_index("updated_at");
      if (updated_at >= changed.size() || !changed.test(updated_at))
        f += ", \"updated_at\" = now()";
    }
    if constexpr (model_traits<T>::versioned) {
      f += ", \"version\" = ";
      if (!qualifier.empty()) {
        f.add_identifier(qualifier);
        f += ".";
      }
      f += "\"version\" + 1";
    }
  }

  template <class Out>
  void render_update(Out& f, const Entry& e, const Changed& changed) const {
    f += "UPDATE ";
    f.add_identifier(table().name);
    f += " SET ";
    bool first = true;
    std::size_t i = 0;
    model_traits<T>::for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if (!changed.test(i++)) return;
      if (!first) f += ", ";
      first = false;
      f.add_identifier(def.name());
      f += " = ";
      f.add_param(Def::ref(*e.object));
    });
    append_bookkeeping_sets(f, changed, {});
    f += " WHERE ";
    append_row_condition(f, e.snapshot);
    f += sql::returning_all<T>();
  }

  // WHERE of a flush UPDATE/DELETE: the key as loaded and, with Versioned, the version read.
  template <class Out>
  static void append_row_condition(Out& f, const ColumnValues<T>& snapshot) {
    append_key_condition(f, snapshot);
    if constexpr (model_traits<T>::versioned) {
      f += " AND \"version\" = ";
      f.add_param(snapshot.template get<column_of_t<T, &T::version>>());
    }
  }

  // "id=42" for error messages.
  static std::string describe_key(const ColumnValues<T>& snapshot) {
    std::string out;
    for_each_key_column<T>([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      if (!out.empty()) out += ", ";
      out += def.name();
      out += "=";
      encode_value(snapshot.template get<Def>(), out);
    });
    return out;
  }

  void plan_insert_batch(std::vector<PlannedWrite>& out,
                         const std::vector<std::shared_ptr<T>>& objects) {
    for (const auto& object : objects) {
      if constexpr (relation_count<T> > 0) sync_foreign_keys(*object);
      if constexpr (model_traits<T>::versioned) {
        if (object->version == 0) object->version = 1;
      }
    }
    if (objects.size() <= kBatchedRows) return plan_insert_rows(out, objects);
    for (std::size_t start = 0; start < objects.size(); start += kBatchedRows) {
      const std::size_t end = std::min(objects.size(), start + kBatchedRows);
      plan_insert_rows(out, {objects.begin() + static_cast<std::ptrdiff_t>(start),
                             objects.begin() + static_cast<std::ptrdiff_t>(end)});
    }
  }

  // At most kBatchedRows objects: one unnest INSERT when they can, else VALUES lists.
  void plan_insert_rows(std::vector<PlannedWrite>& out,
                        const std::vector<std::shared_ptr<T>>& objects) {
    if (objects.size() > 1 && plan_unnest_insert(out, objects)) return;
    plan_values_insert(out, objects);
  }

  // Multi-row INSERT ... VALUES statements of at most kMaxParams parameters.
  void plan_values_insert(std::vector<PlannedWrite>& out,
                          const std::vector<std::shared_ptr<T>>& objects) {
    const std::size_t per_statement =
        std::max<std::size_t>(1, kMaxParams / model_traits<T>::column_count);
    for (std::size_t done = 0; done < objects.size();) {
      std::size_t n = std::min(per_statement, objects.size() - done);
      std::vector<std::shared_ptr<T>> chunk(objects.begin() + static_cast<std::ptrdiff_t>(done),
                                            objects.begin() + static_cast<std::ptrdiff_t>(done + n));
      if (n == 1) {
        out.push_back(
            {insert_statement(*chunk.front()), write_back(std::move(chunk)), true, false});
        done += n;
        continue;
      }
      query::Fragment f;
      f += sql::insert_prefix<T>();
      for (std::size_t i = 0; i < n; ++i) {
        if (i) f += ", ";
        query::append_values_row(f, *chunk[i]);
      }
      f += sql::returning_all<T>();
      out.push_back({returning_rows(query::finish(std::move(f))), write_back(std::move(chunk)),
                     false, false});
      done += n;
    }
  }

  // Which of the object's columns it leaves to their defaults (query::sends_default).
  static std::bitset<model_traits<T>::column_count> defaults_of(const T& object) {
    std::bitset<model_traits<T>::column_count> mask;
    std::size_t i = 0;
    model_traits<T>::for_each_column([&](const auto& def) {
      using Def = std::remove_cvref_t<decltype(def)>;
      mask[i++] = query::sends_default<Def>(Def::ref(object));
    });
    return mask;
  }

  // One object's `INSERT INTO t (<every column>) VALUES ($1, DEFAULT, ...) RETURNING <every
  // column>`. Its text depends only on which columns the object leaves to their defaults, so it
  // is kept per such set (kept_statement()).
  static query::Statement insert_statement(const T& object) {
    thread_local std::vector<std::pair<std::bitset<model_traits<T>::column_count>, std::string>>
        kept;
    return kept_statement(kept, defaults_of(object), [&](auto& out) {
      out += sql::insert_prefix<T>();
      query::append_values_row(out, object);
      out += sql::returning_all<T>();
    });
  }

  // Many objects in one INSERT ... SELECT * FROM unnest($1::type[], ...) RETURNING: one array
  // parameter per column and a text that does not depend on the number of objects (so it is
  // prepared once), where every object leaves the same columns to their defaults and no column
  // sent is an array. Returns false (nothing planned) otherwise.
  bool plan_unnest_insert(std::vector<PlannedWrite>& out,
                          const std::vector<std::shared_ptr<T>>& objects) {
    constexpr std::size_t columns = model_traits<T>::column_count;
    using Mask = std::bitset<columns>;
    const Mask defaults = defaults_of(*objects.front());
    for (const auto& object : objects)
      if (defaults_of(*object) != defaults) return false;
    std::vector<std::size_t> sent;
    for (std::size_t i = 0; i < columns; ++i)
      if (!defaults[i]) sent.push_back(i);
    std::optional<query::UnnestArrays> arrays = query::UnnestArrays::of(table(), sent);
    if (!arrays) return false;
    // Each value straight into its column's array: no statement per object.
    for (const auto& object : objects) {
      std::size_t i = 0, j = 0;
      model_traits<T>::for_each_column([&](const auto& def) {
        using Def = std::remove_cvref_t<decltype(def)>;
        if (!defaults[i++]) arrays->add_value(j++, Def::ref(*object));
      });
    }
    query::Fragment f = query::render_unnest_insert(table(), sent, std::move(*arrays));
    f += sql::returning_all<T>();
    out.push_back({returning_rows(query::finish(std::move(f))), write_back(objects), true, false});
    return true;
  }

  // Writes the RETURNING rows of an INSERT back into its objects, in order (the rows come back
  // in the order they were sent, which is how generated keys and server defaults find their
  // objects), and tracks them.
  std::function<void(const Result&)> write_back(std::vector<std::shared_ptr<T>> chunk) {
    return [this, chunk = std::move(chunk)](const Result& r) {
      // A row per object, or the rows cannot be matched to their objects: a BEFORE INSERT
      // trigger that returned NULL, or a rule, dropped some. No object is changed then.
      if (static_cast<std::size_t>(r.rows()) != chunk.size())
        throw_returned_rows("INSERT", r.rows(), chunk.size());
      RowReader<T> reader(r);
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const auto& object = chunk[i];
        reader.read(static_cast<int>(i), *object);
        if constexpr (relation_count<T> > 0) propagate_keys(*object);
        const Key key = key_of(*object);
        note(key);
        Entry& e = identity_[key];
        e.object = object;
        e.snapshot.assign(*object);
        e.deleted = false;
      }
    };
  }

  template <class... Keys>
  static Params key_params(const Keys&... keys) {
    Params p;
    (p.add(keys), ...);
    return p;
  }

  // SELECT ... WHERE pk = $1 [AND deleted_at IS NULL]
  static const std::string& get_sql();
  // Objects whose key changed in an update move to their new identity.
  void rekey() {
    std::vector<Key> moved;
    for (const auto& [key, e] : identity_)
      if (key_of(e.snapshot) != key) moved.push_back(key);
    // All leave before any arrives, so that two objects that swapped keys both keep theirs.
    std::vector<Entry> entries;
    entries.reserve(moved.size());
    for (const auto& old_key : moved) {
      auto it = identity_.find(old_key);
      entries.push_back(std::move(it->second));
      identity_.erase(it);
    }
    for (auto& entry : entries) {
      const Key key = key_of(entry.snapshot);
      note(key);
      identity_[key] = std::move(entry);
    }
  }

  IdentityMap<Key, Entry> identity_;
  // The most statement texts a thread keeps per model and kind (kept_statement()).
  static constexpr std::size_t kKeptTexts = 16;
  // The most objects one unnest INSERT or batched UPDATE carries: its arrays stay far from
  // PostgreSQL's limit of 1 GB per value.
  static constexpr std::size_t kBatchedRows = 10000;
  PendingObjects<T> pending_;
  std::vector<std::shared_ptr<T>> gone_;  // deleted by the flush under way
  std::vector<Level> journal_;            // one level per open savepoint that changed something
  int depth_ = 0;                         // savepoints open in the session
};

// Out of the class body, so that they are not inline: under PGORM_EXTERN_MODEL a translation unit
// calls the instantiation of models.cpp instead of compiling its own copy.

template <model T>
ModelWork<T>::~ModelWork() = default;

template <model T>
std::optional<std::shared_ptr<T>> ModelWork<T>::find_loaded(const Key& key) const {
  auto it = identity_.find(key);
  if (it == identity_.end()) return std::nullopt;
  if (it->second.deleted) return nullptr;  // removed in this session, expired or not
  if (it->second.expired) return std::nullopt;
  return it->second.object;
}

template <model T>
const std::string& ModelWork<T>::get_sql() {
  static const std::string text = [] {
    query::Fragment f;
    f += sql::select_all<T>();
    f += " WHERE ";
    int n = 0;
    for_each_key_column<T>([&](const auto& def) {
      if (n++) f += " AND ";
      f.add_identifier(def.name());
      f += " = ";
      f.sql.push_back(query::kParamMarker);
    });
    if (model_traits<T>::soft_delete) f += " AND \"deleted_at\" IS NULL";
    return query::finish(std::move(f)).sql;
  }();
  return text;
}

template <model T>
std::shared_ptr<T> ModelWork<T>::add(std::shared_ptr<T> object) {
  if (contains(object)) return object;
  using KeyMixin = typename model_traits<T>::key_mixin;
  if constexpr (requires { KeyMixin::generates_key; }) {
    if (object->id.is_nil()) object->id = KeyMixin::generate();
  }
  wire(object, false);
  pending_.push_back(object);
  return object;
}

template <model T>
std::shared_ptr<T> ModelWork<T>::get_result(const Result& result) {
  auto loaded = load(result);
  if (loaded.empty() || is_removed(loaded.front())) return nullptr;
  return loaded.front();
}

template <model T>
std::vector<std::shared_ptr<T>> ModelWork<T>::load(const Result& result) {
  RowReader<T> reader(result);
  int n = result.rows();
  std::vector<std::shared_ptr<T>> out;
  out.reserve(static_cast<std::size_t>(n));
  identity_.reserve(identity_.size() + static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) out.push_back(load_row(reader, r));
  return out;
}

template <model T>
std::shared_ptr<T> ModelWork<T>::load_row(const RowReader<T>& reader, int row, bool* fresh) {
  auto object = [] {
    ReadingRows reading;
    return std::make_shared<T>();
  }();
  reader.read(row, *object);
  auto [it, inserted] = identity_.try_emplace(key_of(*object));
  if (fresh) *fresh = inserted;
  Entry& e = it->second;
  if (!inserted) {
    if (e.expired) {  // the state read now replaces the state from before the commit
      note(it->first);
      reader.read(row, *e.object);
      e.snapshot.assign(*e.object);
      e.expired = false;
    }
    return e.object;
  }
  wire(object, true);
  e.snapshot.assign(*object);
  e.object = std::move(object);
  return e.object;
}

template <model T>
bool ModelWork<T>::remove(const std::shared_ptr<T>& object, bool hard) {
  if (pending_.erase(object)) return true;
  const Key key = key_of(*object);
  auto it = identity_.find(key);
  if (it == identity_.end() || it->second.object != object) throw_not_in_session(table().name);
  note(key);
  it->second.deleted = true;
  it->second.hard = hard || !model_traits<T>::soft_delete;
  return false;
}

template <model T>
std::shared_ptr<T> ModelWork<T>::merge(Session& session, const T& detached) {
  const Key key = key_of(detached);
  auto it = identity_.find(key);
  std::shared_ptr<T> target;
  if (it != identity_.end()) {
    target = it->second.object;
  } else {
    query::Fragment f;
    f += sql::select_all<T>();
    f += " WHERE ";
    append_key_condition(f, detached);
    auto loaded = load(session.run(query::finish(std::move(f)), false));
    if (loaded.empty()) return add(std::make_shared<T>(detached));
    target = loaded.front();
  }
  // Columns only: the tracked object keeps its own relationships and their wiring.
  copy_columns(*target, detached);
  return target;
}

}  // namespace pgorm::detail

namespace pgorm {

template <model T>
detail::ModelWork<T>* detail::find_work_in(const WorkList& works) {
  for (const auto& [key, w] : works)
    if (key == &type_key<T>) return static_cast<ModelWork<T>*>(w.get());
  return nullptr;
}

template <model T>
detail::ModelWork<T>& detail::work_in(WorkList& works) {
  if (auto* w = find_work_in<T>(works)) return *w;
  works.emplace_back(&type_key<T>, std::make_unique<ModelWork<T>>());
  works.back().second->set_savepoint_depth(works.savepoint_depth);
  return static_cast<ModelWork<T>&>(*works.back().second);
}

}  // namespace pgorm

#include "pgorm/relations/operations_impl.hpp"
