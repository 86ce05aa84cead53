// Definitions of the relationship operations that need the complete Session.
#pragma once

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

  explicit SelectinLevel(std::vector<std::shared_ptr<Owner>> owners) : owners_(std::move(owners)) {
    for (const auto& o : owners_) {
      if constexpr (R::kind == relation_kind::belongs_to) {
        // Many-to-one: the owners hold the foreign keys.
        const auto& fk = member_value<R::fk>(*o);
        auto text = key_text(fk);
        if (!text || !by_key_.emplace(*text, nullptr).second) continue;
        if constexpr (is_optional_v<std::remove_cvref_t<decltype(fk)>>)
          keys_.push_back(*fk);
        else
          keys_.push_back(fk);
      } else {
        // One-to-many and many-to-many: the owners' keys are looked up.
        auto text = key_text(member_value<R::key>(*o));
        if (!text || !by_key_.emplace(*text, o).second) continue;
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
    if constexpr (R::kind == relation_kind::belongs_to) {
      return select<Target>().where(col<R::key>.in(keys_)).statement();
    } else if constexpr (R::kind == relation_kind::has_many || R::kind == relation_kind::has_one) {
      return select<Target>()
          .where(col<R::fk>.in(keys_))
          .order_by(primary_key_order<Target>())
          .statement();
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
      std::unordered_map<std::string, std::shared_ptr<Target>> by_key;
      for (const auto& t : loaded) by_key[*key_text(member_value<R::key>(*t))] = t;
      for (const auto& o : owners_) {
        auto text = key_text(member_value<R::fk>(*o));
        std::shared_ptr<Target> target;
        if (text) {
          auto it = by_key.find(*text);
          if (it != by_key.end()) target = it->second;
        }
        assign_many_to_one<Owner, Member>(*o, std::move(target));
      }
    } else if constexpr (R::kind == relation_kind::has_many || R::kind == relation_kind::has_one) {
      for (const auto& t : loaded) {
        auto text = key_text(member_value<R::fk>(*t));
        if (!text) continue;
        auto it = by_key_.find(*text);
        if (it == by_key_.end()) continue;
        collection_of((*it->second).*Member).pgorm_append_loaded(t);
        if constexpr (R::inverse != npos) {
          using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
          ((*t).*Inv::member).pgorm_assign(it->second, true);
        }
      }
    } else if (result) {
      int owner_column = result->column_index("pgorm_owner_key");
      for (int r = 0; r < result->rows(); ++r) {
        auto it = by_key_.find(std::string(result->get(r, owner_column)));
        if (it != by_key_.end())
          ((*it->second).*Member).pgorm_append_loaded(loaded[static_cast<std::size_t>(r)]);
      }
    }
    return loaded;
  }

 private:
  std::vector<std::shared_ptr<Owner>> owners_;
  std::vector<column_value_t<R::key>> keys_;
  // Owners by key text (one-to-many, many-to-many); the keys already asked for (many-to-one).
  std::unordered_map<std::string, std::shared_ptr<Owner>> by_key_;
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
    std::optional<query::Statement> statement;
    with_relation<Owner>(first_, [&]<auto Member>() {
      auto level = std::make_shared<SelectinLevel<Owner, Member>>(std::move(owners_));
      statement = level->statement();
      attach_ = [this, level](const Result* result, WorkList* works) {
        auto loaded = level->attach(result, works);
        if constexpr (sizeof...(Rest) > 0) {
          using Target = typename SelectinLevel<Owner, Member>::Target;
          child_ = std::apply(
              [&](auto... rest) -> std::unique_ptr<LoadCursor> {
                return std::make_unique<PathCursor<Target, Rest...>>(std::move(loaded), rest...);
              },
              rest_);
        }
      };
    });
    if (statement) return statement;
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

// One relationship of a batch of objects, loaded now through a Session (cascades use it).
template <class Owner, auto Member>
std::vector<std::shared_ptr<typename resolved_relation<Owner, Member>::target>> load_selectin(
    Session& session, const std::vector<std::shared_ptr<Owner>>& owners) {
  SelectinLevel<Owner, Member> level(owners);
  auto statement = level.statement();
  if (!statement) return level.attach(nullptr, nullptr);
  Result result = session.run(*statement, false);
  return level.attach(&result, &session.works());
}

// Every child row of `owner` in a one-to-many relationship, soft-deleted ones included, tracked
// through the session: a hard delete of the owner deletes them all.
template <class Owner, auto Member>
std::vector<std::shared_ptr<typename resolved_relation<Owner, Member>::target>> load_every_child(
    Session& session, const Owner& owner) {
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  std::vector<column_value_t<R::key>> keys{member_value<R::key>(owner)};
  auto statement = select<Target>().with_deleted().where(col<R::fk>.in(keys)).statement();
  return work_in<Target>(session.works()).load(session.run(statement, false));
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

[[noreturn]] void throw_needs_sync_cascade(std::string_view table, std::string_view relation,
                                           std::string_view what);

// For a flush that cannot run cascades or association writes (AsyncSession): throws
// NotSupportedError naming the relationship when `object`'s relationships hold a change that only
// they would write, so that nothing is skipped silently. `removed`: marked for deletion (`hard`:
// DELETE rather than a soft delete).
// Whether the foreign key of Child on `column` is declared ON DELETE CASCADE or SET NULL.
template <class Child>
bool database_handles_delete(std::string_view column) {
  for (const auto& fk : table_info<Child>().foreign_keys)
    if (fk.columns.size() == 1 && fk.columns.front() == column)
      return fk.on_delete == referential_action::cascade ||
             fk.on_delete == referential_action::set_null;
  return false;
}

template <class T>
void check_no_cascade_needed(const Tracker& tracker, const T& object, bool removed, bool hard) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    using Def = typename R::def;
    constexpr Def def = std::get<R::index>(relations_of<T>());
    const auto& member = object.*Member;
    auto fail = [&](std::string_view what) {
      throw_needs_sync_cascade(table_info<T>().name, naming::member_name<Member>(), what);
    };
    if constexpr (R::kind == relation_kind::belongs_to) {
      if (removed || !def.cascade_flags.has(cascade::save_update) || !member.loaded()) return;
      const auto& target = member.pgorm_raw();
      if (target && !tracker.contains(target))
        fail("its target is not in the session (the save-update cascade would add it)");
    } else {
      const auto& coll = collection_of(member);
      if (removed) {
        if (!def.cascade_flags.has(cascade::delete_) || Def::passive) return;
        if (coll.loaded() && coll.pgorm_raw().empty()) return;
        // A hard delete whose foreign key the database cascades (or nulls) needs no cascade here.
        if constexpr (R::kind != relation_kind::many_to_many) {
          if (hard && database_handles_delete<typename R::target>(query::Column<R::fk>::name()))
            return;
        }
        fail("the owner is removed and the delete cascade would remove its members");
      }
      if (!coll.loaded()) return;
      const auto& items = coll.pgorm_raw();
      if (items != coll.pgorm_snapshot())
        fail("members were added or taken out since it was loaded (the save-update and "
             "delete-orphan cascades or association rows would write them)");
    }
  });
}

// Before a flush: objects reachable through save-update relationships join the session;
// removals cascade; orphans are deleted or detached. Returns whether anything changed.
template <class T>
bool cascade_relations(Session& session, const std::shared_ptr<T>& object, bool deleted,
                       bool hard) {
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
        if (!coll.loaded()) load_selectin<T, Member>(session, {object});
        using Target = typename R::target;
        std::vector<std::shared_ptr<Target>> children = coll.pgorm_raw();
        if constexpr (R::kind != relation_kind::many_to_many) {
          auto add_child = [&](std::shared_ptr<Target> child) {
            if (std::find(children.begin(), children.end(), child) == children.end() &&
                !moved_to_other_parent<T, Member>(*child, *object))
              children.push_back(std::move(child));
          };
          // Children taken out of the collection since it was loaded (orphans) go with it.
          for (const auto& was : coll.pgorm_snapshot()) add_child(was);
          // The parent row is going away: every child row goes first, soft-deleted ones (which no
          // collection lists) and rows this session does not know of included, or the rows left
          // would still refer to the parent.
          if (hard)
            for (auto& child : load_every_child<T, Member>(session, *object))
              add_child(std::move(child));
        }
        for (const auto& child : children) {
          if (!session.contains(child)) continue;
          // A soft delete reaches soft-delete children only; their rows stay, like the parent's.
          if (!hard && !model_traits<Target>::soft_delete) continue;
          // A child already marked for a soft delete is deleted for real when its parent is.
          auto& work = work_in<Target>(session.works());
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
        for (const auto& was : snapshot) {
          if (std::find(coll.pgorm_raw().begin(), coll.pgorm_raw().end(), was) !=
              coll.pgorm_raw().end())
            continue;
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

// After inserts and updates: association rows for added and removed many-to-many members.
template <class T>
void flush_associations(Session& session, T& object) {
  for_each_relation<T>([&]<auto Member>() {
    using R = resolved_relation<T, Member>;
    if constexpr (R::kind == relation_kind::many_to_many) {
      using Through = typename R::member_type::through_type;
      using TC = through_columns<T, Member>;
      auto& m = object.*Member;
      if (!m.loaded()) return;
      auto& snapshot = m.pgorm_snapshot();
      const auto& now = m.pgorm_raw();
      auto in = [](const auto& v, const auto& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
      };
      for (const auto& target : now) {
        if (in(snapshot, target)) continue;
        query::Fragment f;
        f += "INSERT INTO ";
        f.add_identifier(table_info<Through>().name);
        f += " (";
        f.add_identifier(query::Column<R::fk>::name());
        f += ", ";
        f.add_identifier(query::Column<TC::target_fk>::name());
        f += ") VALUES (";
        f.add_param(member_value<R::key>(object));
        f += ", ";
        f.add_param(member_value<TC::target_key>(*target));
        f += ") ON CONFLICT DO NOTHING";
        session.run(query::finish(std::move(f)), true);
      }
      for (const auto& target : snapshot) {
        if (in(now, target)) continue;
        query::Fragment f;
        f += "DELETE FROM ";
        f.add_identifier(table_info<Through>().name);
        f += " WHERE ";
        f.add_identifier(query::Column<R::fk>::name());
        f += " = ";
        f.add_param(member_value<R::key>(object));
        f += " AND ";
        f.add_identifier(query::Column<TC::target_fk>::name());
        f += " = ";
        f.add_param(member_value<TC::target_key>(*target));
        session.run(query::finish(std::move(f)), true);
      }
      snapshot = now;
    }
  });
}

}  // namespace pgorm::detail
