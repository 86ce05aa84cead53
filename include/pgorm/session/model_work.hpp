// The unit of work for one model: its identity map, pending inserts, dirty checking and deletes.
// Included by session.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pgorm/session/session.hpp"

namespace pgorm::detail {

[[noreturn]] void throw_not_in_session(std::string_view table);
[[noreturn]] void throw_refresh_missing(std::string_view table);

// The most bind parameters one statement may carry (PostgreSQL's protocol limit).
inline constexpr std::size_t kMaxParams = 65535;

template <model T>
class ModelWork final : public ModelWorkBase {
 public:
  const TableInfo& table() const noexcept override { return table_info<T>(); }

  bool has_changes() const override {
    if (!pending_.empty()) return true;
    for (const auto& [key, e] : identity_)
      if (e.deleted || !equal_columns(*e.object, e.snapshot)) return true;
    return false;
  }

  std::size_t tracked() const noexcept override { return identity_.size() + pending_.size(); }

  bool contains(const std::shared_ptr<T>& object) const {
    if (std::find(pending_.begin(), pending_.end(), object) != pending_.end()) return true;
    auto it = identity_.find(key_of(*object));
    return it != identity_.end() && it->second.object == object;
  }

  std::shared_ptr<T> add(std::shared_ptr<T> object) {
    if (contains(object)) return object;
    using Key = typename model_traits<T>::key_mixin;
    if constexpr (requires { Key::generates_key; }) {
      if (object->id.is_nil()) object->id = Key::generate();
    }
    pending_.push_back(object);
    return object;
  }

  template <class... Keys>
  std::shared_ptr<T> get(Session& session, const Keys&... keys) {
    std::string key = identity_key_of(keys...);
    auto it = identity_.find(key);
    if (it != identity_.end()) return it->second.deleted ? nullptr : it->second.object;
    auto rows = session.run_sql(get_sql(), key_params(keys...), false);
    auto loaded = load(rows);
    return loaded.empty() ? nullptr : loaded.front();
  }

  // Objects for the rows of a result: rows already in the identity map give the tracked object
  // (keeping its in-memory changes); new rows are tracked.
  std::vector<std::shared_ptr<T>> load(const Result& result) {
    RowReader<T> reader(result);
    int n = result.rows();
    std::vector<std::shared_ptr<T>> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int r = 0; r < n; ++r) {
      auto object = std::make_shared<T>();
      reader.read(r, *object);
      std::string key = key_of(*object);
      auto it = identity_.find(key);
      if (it != identity_.end()) {
        out.push_back(it->second.object);
        continue;
      }
      Entry& e = identity_[std::move(key)];
      e.snapshot = *object;
      e.object = std::move(object);
      out.push_back(e.object);
    }
    return out;
  }

  void remove(const std::shared_ptr<T>& object, bool hard) {
    auto p = std::find(pending_.begin(), pending_.end(), object);
    if (p != pending_.end()) {
      pending_.erase(p);
      return;
    }
    auto it = identity_.find(key_of(*object));
    if (it == identity_.end() || it->second.object != object) throw_not_in_session(table().name);
    it->second.deleted = true;
    it->second.hard = hard || !model_traits<T>::soft_delete;
  }

  void expunge(const std::shared_ptr<T>& object) {
    auto p = std::find(pending_.begin(), pending_.end(), object);
    if (p != pending_.end()) {
      pending_.erase(p);
      return;
    }
    auto it = identity_.find(key_of(*object));
    if (it != identity_.end() && it->second.object == object) identity_.erase(it);
  }

  void refresh(Session& session, const std::shared_ptr<T>& object) {
    auto it = identity_.find(key_of(*object));
    const T& keyed = (it != identity_.end() && it->second.object == object) ? it->second.snapshot
                                                                             : *object;
    query::Fragment f;
    f += sql::select_all<T>();
    f += " WHERE ";
    append_key_condition(f, keyed);
    Result r = session.run(query::finish(std::move(f)), false);
    if (r.rows() != 1) throw_refresh_missing(table().name);
    RowReader<T> reader(r);
    reader.read(0, *object);
    if (it != identity_.end() && it->second.object == object) {
      it->second.snapshot = *object;
    } else {
      Entry& e = identity_[key_of(*object)];
      e.object = object;
      e.snapshot = *object;
    }
  }

  std::shared_ptr<T> merge(Session& session, const T& detached) {
    std::string key = key_of(detached);
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
    *target = detached;
    return target;
  }

  void flush_inserts(Session& session) override {
    if (pending_.empty()) return;
    const std::size_t per_statement =
        std::max<std::size_t>(1, kMaxParams / model_traits<T>::column_count);
    std::size_t done = 0;
    while (done < pending_.size()) {
      std::size_t n = std::min(per_statement, pending_.size() - done);
      query::Fragment f;
      f += sql::insert_prefix<T>();
      for (std::size_t i = 0; i < n; ++i) {
        if (i) f += ", ";
        query::append_values_row(f, *pending_[done + i]);
      }
      f += sql::returning_all<T>();
      // RETURNING gives the rows in VALUES order for INSERT ... VALUES, which is how generated
      // keys and server defaults find their objects.
      Result r = session.run(query::finish(std::move(f)), true);
      RowReader<T> reader(r);
      for (std::size_t i = 0; i < n; ++i) {
        const auto& object = pending_[done + i];
        reader.read(static_cast<int>(i), *object);
        Entry& e = identity_[key_of(*object)];
        e.object = object;
        e.snapshot = *object;
        e.deleted = false;
      }
      done += n;
    }
    pending_.clear();
  }

  void flush_updates(Session& session) override {
    for (auto& [key, e] : identity_) {
      if (e.deleted) continue;
      query::Fragment set;
      bool updated_at_changed = false;
      model_traits<T>::for_each_column([&](const auto& def) {
        using Def = std::remove_cvref_t<decltype(def)>;
        if (Def::ref(*e.object) == Def::ref(e.snapshot)) return;
        if (!set.empty()) set += ", ";
        set.add_identifier(def.name());
        set += " = ";
        set.add_param(Def::ref(*e.object));
        if (def.name() == "updated_at") updated_at_changed = true;
      });
      if (set.empty()) continue;
      if constexpr (model_traits<T>::timestamps) {
        if (!updated_at_changed) set += ", \"updated_at\" = now()";
      }
      query::Fragment f;
      f += "UPDATE ";
      f.add_identifier(table().name);
      f += " SET ";
      f += set;
      f += " WHERE ";
      append_key_condition(f, e.snapshot);
      f += sql::returning_all<T>();
      Result r = session.run(query::finish(std::move(f)), true);
      if (r.rows() == 1) RowReader<T>(r).read(0, *e.object);
      e.snapshot = *e.object;
    }
    rekey();
  }

  void flush_deletes(Session& session) override {
    for (auto it = identity_.begin(); it != identity_.end();) {
      Entry& e = it->second;
      if (!e.deleted) {
        ++it;
        continue;
      }
      query::Fragment f;
      if (e.hard) {
        f += "DELETE FROM ";
        f.add_identifier(table().name);
        f += " WHERE ";
        append_key_condition(f, e.snapshot);
      } else {
        f += "UPDATE ";
        f.add_identifier(table().name);
        f += " SET \"deleted_at\" = now() WHERE ";
        append_key_condition(f, e.snapshot);
        f += " RETURNING \"deleted_at\"";
      }
      Result r = session.run(query::finish(std::move(f)), true);
      if constexpr (model_traits<T>::soft_delete) {
        if (!e.hard && r.rows() == 1) r.read(0, 0, e.object->deleted_at);
      }
      it = identity_.erase(it);
    }
  }

  void expire(bool keep_pending) override {
    identity_.clear();
    if (!keep_pending) pending_.clear();
  }

 private:
  struct Entry {
    std::shared_ptr<T> object;
    T snapshot;  // the state last read from or written to the database
    bool deleted = false;
    bool hard = false;
  };

  static std::string key_of(const T& object) { return identity_key(object); }

  template <class... Keys>
  static Params key_params(const Keys&... keys) {
    Params p;
    (p.add(keys), ...);
    return p;
  }

  // SELECT ... WHERE pk = $1 [AND deleted_at IS NULL]
  static const std::string& get_sql() {
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
  // Objects whose key changed in an update move to their new identity.
  void rekey() {
    std::vector<std::string> moved;
    for (const auto& [key, e] : identity_)
      if (key_of(e.snapshot) != key) moved.push_back(key);
    for (const auto& old_key : moved) {
      auto node = identity_.extract(old_key);
      node.key() = key_of(node.mapped().snapshot);
      identity_.insert(std::move(node));
    }
  }

  std::unordered_map<std::string, Entry> identity_;
  std::vector<std::shared_ptr<T>> pending_;
};

}  // namespace pgorm::detail

namespace pgorm {

template <model T>
detail::ModelWork<T>* Session::find_work() const {
  for (const auto& [key, w] : works_)
    if (key == &detail::type_key<T>) return static_cast<detail::ModelWork<T>*>(w.get());
  return nullptr;
}

template <model T>
detail::ModelWork<T>& Session::work() {
  if (auto* w = find_work<T>()) return *w;
  works_.emplace_back(&detail::type_key<T>, std::make_unique<detail::ModelWork<T>>());
  return static_cast<detail::ModelWork<T>&>(*works_.back().second);
}

}  // namespace pgorm
