// Definitions of the relationship operations that need the complete Session.
#pragma once

#include <functional>
#include <iterator>
#include <memory>
#include <unordered_set>
#include <vector>

#include "pgorm/relations/operations.hpp"
#include "pgorm/session/session.hpp"

namespace pgorm::detail {

// One level of selectin loading for a batch of owners. statement() is the query for their
// related rows (WHERE key = ANY($1)), none when no owner has a key; attach() takes its result
// (nullptr when there was no statement), tracks the rows through the session's work list and
// fills the relationship of every owner; it returns the related objects, for the next level.
template <class Owner, auto Member>
class SelectinLevel {
 public:
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  // How rows find their owners: integer keys as integers, others by their text.
  using MatchKey = std::conditional_t<R::kind != relation_kind::many_to_many &&
                                          integer_key_v<column_value_t<R::key>> &&
                                          integer_key_v<column_value_t<R::fk>>,
                                      std::int64_t, std::string>;

  explicit SelectinLevel(std::vector<std::shared_ptr<Owner>> owners) : owners_(std::move(owners)) {
    for (const auto& o : owners_) {
      if constexpr (R::kind == relation_kind::belongs_to) {
        // Many-to-one: the owners hold the foreign keys.
        const auto& fk = member_value<R::fk>(*o);
        auto key = match_key<MatchKey>(fk);
        if (!key || !by_key_.emplace(*key, nullptr).second) continue;
        if constexpr (is_optional_v<std::remove_cvref_t<decltype(fk)>>)
          keys_.push_back(*fk);
        else
          keys_.push_back(fk);
      } else {
        // One-to-many and many-to-many: the owners' keys are looked up.
        auto key = match_key<MatchKey>(member_value<R::key>(*o));
        if (!key || !by_key_.emplace(*key, o).second) continue;
        keys_.push_back(member_value<R::key>(*o));
        if constexpr (R::kind == relation_kind::many_to_many)
          ((*o).*Member).pgorm_assign({});
        else
          collection_of((*o).*Member).pgorm_assign({});
      }
    }
  }

  std::optional<query::Statement> statement() const {
    if (keys_.empty()) return std::nullopt;
    if constexpr (R::kind != relation_kind::many_to_many) {
      // Rows of Target only, read by the identity map: in binary when Target's columns read so.
      query::Statement statement = [&] {
        if constexpr (R::kind == relation_kind::belongs_to)
          return select<Target>().where(col<R::key>.in(keys_)).statement();
        else
          return select<Target>()
              .where(col<R::fk>.in(keys_))
              .order_by(primary_key_order<Target>())
              .statement();
      }();
      statement.params.set_binary_results(binary_rows<Target>());
      return statement;
    } else {
      // Many-to-many: one statement through the association table.
      using Through = typename R::member_type::through_type;
      using TC = through_columns<Owner, Member>;
      const TableInfo& target_table = table_info<Target>();
      const TableInfo& through_table = table_info<Through>();
      query::Fragment f;
      f += "SELECT ";
      query::append_qualified_columns(f, target_table);
      f += ", ";
      f += query::Column<R::fk>{}.to_expr().fragment;
      f += " AS \"pgorm_owner_key\" FROM ";
      f.add_identifier(target_table.name);
      f += " JOIN ";
      f.add_identifier(through_table.name);
      f += " ON ";
      f += query::Column<TC::target_fk>{}.to_expr().fragment;
      f += " = ";
      f += query::Column<TC::target_key>{}.to_expr().fragment;
      f += " WHERE ";
      f += query::Column<R::fk>{}.to_expr().fragment;
      f += " = ANY(";
      f.add_param(keys_);
      f += ")";
      for (const TableInfo* table : {&target_table, &through_table}) {
        if (!table->soft_delete) continue;
        f += " AND ";
        f.add_identifier(table->name);
        f += ".\"deleted_at\" IS NULL";
      }
      f += " ORDER BY ";
      f += primary_key_order<Target>().fragment;
      return query::finish(std::move(f));
    }
  }

  std::vector<std::shared_ptr<Target>> attach(const Result* result, WorkList* works) {
    std::vector<std::shared_ptr<Target>> loaded;
    if (result) loaded = work_in<Target>(*works).load(*result);
    if constexpr (R::kind == relation_kind::belongs_to) {
      std::unordered_map<MatchKey, std::shared_ptr<Target>> by_key;
      by_key.reserve(loaded.size());
      for (const auto& t : loaded) by_key[*match_key<MatchKey>(member_value<R::key>(*t))] = t;
      for (const auto& o : owners_) {
        auto key = match_key<MatchKey>(member_value<R::fk>(*o));
        std::shared_ptr<Target> target;
        if (key) {
          auto it = by_key.find(*key);
          if (it != by_key.end()) target = it->second;
        }
        assign_many_to_one<Owner, Member>(*o, std::move(target));
      }
    } else if constexpr (R::kind == relation_kind::has_many || R::kind == relation_kind::has_one) {
      AppendedPairs appended;
      for (const auto& t : loaded) {
        auto key = match_key<MatchKey>(member_value<R::fk>(*t));
        if (!key) continue;
        auto it = by_key_.find(*key);
        if (it == by_key_.end()) continue;
        auto& coll = collection_of((*it->second).*Member);
        if (!appended.fresh(it->second.get(), coll.pgorm_raw(), t)) continue;
        coll.pgorm_append_loaded(t);
        if constexpr (R::inverse != npos) {
          using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
          ((*t).*Inv::member).pgorm_assign(it->second, true);
        }
      }
    } else if (result) {
      int owner_column = result->column_index("pgorm_owner_key");
      AppendedPairs appended;
      for (int r = 0; r < result->rows(); ++r) {
        auto it = by_key_.find(std::string(result->get(r, owner_column)));
        const auto& t = loaded[static_cast<std::size_t>(r)];
        if (it == by_key_.end()) continue;
        auto& coll = (*it->second).*Member;
        if (appended.fresh(it->second.get(), coll.pgorm_raw(), t)) coll.pgorm_append_loaded(t);
      }
    }
    return loaded;
  }

 private:
  std::vector<std::shared_ptr<Owner>> owners_;
  std::vector<column_value_t<R::key>> keys_;
  // Owners by key (one-to-many, many-to-many); the keys already asked for (many-to-one).
  std::unordered_map<MatchKey, std::shared_ptr<Owner>> by_key_;
};

// A selectin path selectin(&User::todos, &Todo::tags) as a LoadCursor: one level per statement,
// each level's objects the owners of the next.
template <class Owner, class P, class... Rest>
class PathCursor final : public LoadCursor {
 public:
  PathCursor(std::vector<std::shared_ptr<Owner>> owners, P first, Rest... rest)
      : owners_(std::move(owners)), first_(first), rest_(rest...) {}

  std::optional<query::Statement> next() override {
    if (child_) return child_->next();
    if (started_) return std::nullopt;
    started_ = true;
    constexpr bool more = sizeof...(Rest) > 0;
    SelectinStep step =
        ModelWork<Owner>::selectin_step(relation_index<Owner>(first_), std::move(owners_), more);
    attach_ = [this, attach = std::move(step.attach)](const Result* result, WorkList* works) {
      auto loaded = attach(result, works);
      if constexpr (more) {
        using Target =
            typename relation_traits<typename member_pointer_traits<P>::member_type>::target;
        std::vector<std::shared_ptr<Target>> owners;
        owners.reserve(loaded.size());
        for (auto& object : loaded)
          owners.push_back(std::static_pointer_cast<Target>(std::move(object)));
        child_ = std::apply(
            [&](auto... rest) -> std::unique_ptr<LoadCursor> {
              return std::make_unique<PathCursor<Target, Rest...>>(std::move(owners), rest...);
            },
            rest_);
      } else {
        (void)this;  // used only when there is a next level
      }
    };
    if (step.statement) return std::move(step.statement);
    // No owner has a key: the relationships are empty and so is every later level.
    std::exchange(attach_, nullptr)(nullptr, nullptr);
    return child_ ? child_->next() : std::nullopt;
  }

  void feed(const Result& result, WorkList& works) override {
    if (child_) return child_->feed(result, works);
    if (attach_) std::exchange(attach_, nullptr)(&result, &works);
  }

 private:
  std::vector<std::shared_ptr<Owner>> owners_;
  P first_;
  std::tuple<Rest...> rest_;
  bool started_ = false;
  std::function<void(const Result*, WorkList*)> attach_;
  std::unique_ptr<LoadCursor> child_;
};

template <model T>
SelectinStep ModelWork<T>::selectin_step(std::size_t relation,
                                         std::vector<std::shared_ptr<T>> owners, bool keep_loaded) {
  SelectinStep step;
  with_relation_at<T>(relation, [&]<auto Member>() {
    auto level = std::make_shared<SelectinLevel<T, Member>>(std::move(owners));
    step.statement = level->statement();
    step.attach = [level, keep_loaded](const Result* result, WorkList* works) {
      auto loaded = level->attach(result, works);
      std::vector<std::shared_ptr<void>> out;
      if (keep_loaded)
        out.assign(std::make_move_iterator(loaded.begin()), std::make_move_iterator(loaded.end()));
      return out;
    };
  });
  return step;
}

// A read of one relationship of one owner, for a cascade: its result fills the collection.
// None when the owner has no key: the collection is empty, and set so now.
template <class Owner, auto Member>
std::optional<PlannedRead> selectin_read(CascadeState& state, const std::shared_ptr<Owner>& owner) {
  auto level = std::make_shared<SelectinLevel<Owner, Member>>(
      std::vector<std::shared_ptr<Owner>>{owner});
  auto statement = level->statement();
  if (!statement) {
    level->attach(nullptr, nullptr);
    return std::nullopt;
  }
  return PlannedRead{std::move(*statement), [level, works = &state.works](const Result& r) {
                       level->attach(&r, works);
                     }};
}

template <class Owner, auto Member>
inline constexpr char relation_key = 0;

// A read of every child row of `owner` in a one-to-many relationship, soft-deleted ones included,
// tracked through the session: a hard delete of the owner deletes them all.
template <class Owner, auto Member>
PlannedRead every_child_read(CascadeState& state, const Owner& owner) {
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  std::vector<column_value_t<R::key>> keys{member_value<R::key>(owner)};
  std::pair<const void*, const void*> key{&owner, &relation_key<Owner, Member>};
  return PlannedRead{select<Target>().with_deleted().where(col<R::fk>.in(keys)).statement(),
                     [&state, key](const Result& r) {
                       auto loaded = work_in<Target>(state.works).load(r);
                       auto& into = state.every_child[key];
                       into.assign(loaded.begin(), loaded.end());
                     }};
}

// Whether a child of `parent` now belongs to another parent in memory (its many-to-one side
// points elsewhere, or its foreign key was changed): then a delete of `parent` leaves it alone.
template <class Owner, auto Member>
bool moved_to_other_parent(const typename resolved_relation<Owner, Member>::target& child,
                           const Owner& parent) {
  using R = resolved_relation<Owner, Member>;
  if constexpr (R::inverse != npos) {
    using Target = typename R::target;
    using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
    const auto& other = (child.*Inv::member).pgorm_raw();
    if (other) return other.get() != &parent;
  }
  return key_text(member_value<R::fk>(child)) != key_text(member_value<R::key>(parent));
}

// Before a flush: objects reachable through save-update relationships join the session;
// removals cascade; orphans are deleted or detached. Returns whether anything changed.
template <class T>
bool cascade_relations(CascadeState& state, const std::shared_ptr<T>& object, bool deleted,
                       bool hard) {
  Tracker& session = state.tracker;
  bool changed = false;
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    using Def = typename R::def;
    constexpr Def def = std::get<R::index>(relations_of<T>());
    auto& member = (*object).*Member;
    if constexpr (R::kind == relation_kind::belongs_to) {
      if (!deleted && def.cascade_flags.has(cascade::save_update) && member.loaded()) {
        const auto& target = member.pgorm_raw();
        if (target && !session.contains(target)) {
          session.add(target);
          changed = true;
        }
      }
    } else {
      auto& coll = collection_of(member);
      if (deleted) {
        if (!def.cascade_flags.has(cascade::delete_) || Def::passive) return;
        if (!coll.loaded()) {
          if (auto read = selectin_read<T, Member>(state, object)) {
            state.reads.push_back(std::move(*read));  // this relationship goes on once it is read
            return;
          }
        }
        using Target = typename R::target;
        std::vector<std::shared_ptr<Target>> children = coll.pgorm_raw();
        if constexpr (R::kind != relation_kind::many_to_many) {
          std::unordered_set<const Target*> listed;
          listed.reserve(children.size());
          for (const auto& child : children) listed.insert(child.get());
          auto add_child = [&](std::shared_ptr<Target> child) {
            if (!listed.count(child.get()) && !moved_to_other_parent<T, Member>(*child, *object)) {
              listed.insert(child.get());
              children.push_back(std::move(child));
            }
          };
          // Children taken out of the collection since it was loaded (orphans) go with it.
          for (const auto& was : coll.pgorm_snapshot()) add_child(was);
          // The parent row is going away: every child row goes first, soft-deleted ones (which no
          // collection lists) and rows this session does not know of included, or the rows left
          // would still refer to the parent.
          if (hard) {
            auto read = state.every_child.find({object.get(), &relation_key<T, Member>});
            if (read == state.every_child.end()) {
              state.reads.push_back(every_child_read<T, Member>(state, *object));
              return;
            }
            for (const auto& child : read->second)
              add_child(std::static_pointer_cast<Target>(child));
          }
        }
        for (const auto& child : children) {
          if (!session.contains(child)) continue;
          // A soft delete reaches soft-delete children only; their rows stay, like the parent's.
          if (!hard && !model_traits<Target>::soft_delete) continue;
          // A child already marked for a soft delete is deleted for real when its parent is.
          auto& work = work_in<Target>(state.works);
          if (work.is_removed(child) && (!hard || work.is_hard_removed(child))) continue;
          if (hard)
            session.remove(child, pgorm::hard);
          else
            session.remove(child);
          changed = true;
        }
        return;
      }
      if (!coll.loaded()) return;
      if (def.cascade_flags.has(cascade::save_update)) {
        for (const auto& child : coll.pgorm_raw()) {
          if (!session.contains(child)) {
            session.add(child);
            changed = true;
          }
        }
      }
      if constexpr (R::kind != relation_kind::many_to_many) {
        // Orphans: in the collection when loaded, gone from it now.
        auto& snapshot = coll.pgorm_snapshot();
        if (snapshot == coll.pgorm_raw()) return;  // unchanged: no orphan
        for (const auto& was : not_in(snapshot, coll.pgorm_raw())) {
          // Moved to another parent (its many-to-one side points elsewhere): not an orphan.
          if constexpr (R::inverse != npos) {
            using Target = typename R::target;
            using Inv =
                std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
            const auto& parent = ((*was).*Inv::member).pgorm_raw();
            if (parent && parent.get() != object.get()) continue;
          }
          if (def.cascade_flags.has(cascade::delete_orphan)) {
            if (session.contains(was) && !session.is_removed(was)) {
              session.remove(was);
              changed = true;
            }
          } else if constexpr (is_optional_v<typename member_pointer_traits<
                                   decltype(R::fk)>::member_type>) {
            member_value<R::fk>(*was).reset();
          }
        }
        snapshot = coll.pgorm_raw();
      }
    }
  });
  return changed;
}

// Just before an object's table is inserted: foreign keys follow their many-to-one targets.
template <class T>
void sync_foreign_keys(T& object) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    if constexpr (R::kind == relation_kind::belongs_to) {
      auto& member = object.*Member;
      if (!member.loaded()) return;
      if (const auto& target = member.pgorm_raw())
        member_value<R::fk>(object) = member_value<R::key>(*target);
    }
  });
}

// Right after an object's table is inserted: its collections' members point their foreign keys
// at it (its key may just have been generated).
template <class T>
void propagate_keys(T& object) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    if constexpr (R::kind == relation_kind::has_many || R::kind == relation_kind::has_one) {
      auto& coll = collection_of(object.*Member);
      if (!coll.loaded()) return;
      for (const auto& child : coll.pgorm_raw())
        member_value<R::fk>(*child) = member_value<R::key>(object);
    }
  });
}

// After inserts and updates: association rows for added and removed many-to-many members. The
// relationship counts as written once the last of its statements succeeded.
template <class T>
void plan_associations(std::vector<PlannedWrite>& out, const std::shared_ptr<T>& object) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    if constexpr (R::kind == relation_kind::many_to_many) {
      using Through = typename R::member_type::through_type;
      using TC = through_columns<T, Member>;
      auto& m = (*object).*Member;
      if (!m.loaded()) return;
      const auto& snapshot = m.pgorm_snapshot();
      const auto& now = m.pgorm_raw();
      if (now == snapshot) return;
      const std::size_t first = out.size();
      for (const auto& target : not_in(now, snapshot)) {
        query::Fragment f;
        f += "INSERT INTO ";
        f.add_identifier(table_info<Through>().name);
        f += " (";
        f.add_identifier(query::Column<R::fk>::name());
        f += ", ";
        f.add_identifier(query::Column<TC::target_fk>::name());
        f += ") VALUES (";
        f.add_param(member_value<R::key>(*object));
        f += ", ";
        f.add_param(member_value<TC::target_key>(*target));
        f += ") ON CONFLICT DO NOTHING";
        out.push_back(PlannedWrite{query::finish(std::move(f)), nullptr, true, false});
      }
      for (const auto& target : not_in(snapshot, now)) {
        query::Fragment f;
        f += "DELETE FROM ";
        f.add_identifier(table_info<Through>().name);
        f += " WHERE ";
        f.add_identifier(query::Column<R::fk>::name());
        f += " = ";
        f.add_param(member_value<R::key>(*object));
        f += " AND ";
        f.add_identifier(query::Column<TC::target_fk>::name());
        f += " = ";
        f.add_param(member_value<TC::target_key>(*target));
        out.push_back(PlannedWrite{query::finish(std::move(f)), nullptr, true, false});
      }
      if (out.size() > first)
        out.back().apply = [object, written = now](const Result&) {
          ((*object).*Member).pgorm_snapshot() = written;
        };
    }
  });
}

// Insert waves (see ModelWorkBase::mark_waiting): `object` refers to an object in `all_pending`
// through a many-to-one relationship (its foreign key waits for that key), or is the owner of
// collections whose pending members wait for its key; tracked rows that do either make the
// updates and association rows wait (`later_waits`).
template <class T>
void mark_waiting(const T& object, bool pending, const std::unordered_set<const void*>& all_pending,
                  std::unordered_set<const void*>& waiting, bool& later_waits) {
  auto is_pending = [&](const void* other) {
    return other != &object && all_pending.count(other) != 0;
  };
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    const auto& member = object.*Member;
    if (!member.loaded()) return;
    if constexpr (R::kind == relation_kind::belongs_to) {
      if (const auto& target = member.pgorm_raw(); target && is_pending(target.get())) {
        if (pending)
          waiting.insert(&object);
        else
          later_waits = true;
      }
    } else if constexpr (R::kind == relation_kind::many_to_many) {
      // Association rows need both keys.
      const auto& now = member.pgorm_raw();
      if (now == member.pgorm_snapshot()) return;
      if (pending) {
        later_waits = true;
        return;
      }
      for (const auto& target : now)
        if (is_pending(target.get())) later_waits = true;
    } else {
      // Members take this object's key (propagate_keys) once it is inserted.
      if (!pending) return;
      for (const auto& child : collection_of(member).pgorm_raw()) {
        if (child.get() == static_cast<const void*>(&object)) continue;
        if (all_pending.count(child.get()))
          waiting.insert(child.get());
        else
          later_waits = true;
      }
    }
  });
}

}  // namespace pgorm::detail
