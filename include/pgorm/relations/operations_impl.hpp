// Definitions of the relationship operations that need the complete Session.
#pragma once

#include "pgorm/relations/operations.hpp"
#include "pgorm/session/session.hpp"

namespace pgorm::detail {

template <class Owner, auto Member>
std::vector<std::shared_ptr<typename resolved_relation<Owner, Member>::target>> load_selectin(
    Session& session, const std::vector<std::shared_ptr<Owner>>& owners) {
  using R = resolved_relation<Owner, Member>;
  using Target = typename R::target;
  std::vector<std::shared_ptr<Target>> loaded;
  if constexpr (R::kind == relation_kind::belongs_to) {
    // Many-to-one: the owners hold the foreign keys.
    std::vector<column_value_t<R::key>> keys;
    std::set<std::string> seen;
    for (const auto& o : owners) {
      const auto& fk = member_value<R::fk>(*o);
      auto text = key_text(fk);
      if (!text || !seen.insert(*text).second) continue;
      if constexpr (is_optional_v<std::remove_cvref_t<decltype(fk)>>)
        keys.push_back(*fk);
      else
        keys.push_back(fk);
    }
    if (!keys.empty())
      loaded = session.execute(select<Target>().where(col<R::key>.in(keys)));
    std::unordered_map<std::string, std::shared_ptr<Target>> by_key;
    for (const auto& t : loaded) by_key[*key_text(member_value<R::key>(*t))] = t;
    for (const auto& o : owners) {
      auto text = key_text(member_value<R::fk>(*o));
      std::shared_ptr<Target> target;
      if (text) {
        auto it = by_key.find(*text);
        if (it != by_key.end()) target = it->second;
      }
      ((*o).*Member).pgorm_assign(target);
    }
  } else if constexpr (R::kind == relation_kind::has_many || R::kind == relation_kind::has_one) {
    // One-to-many: the targets hold foreign keys to the owners.
    std::vector<column_value_t<R::key>> keys;
    std::unordered_map<std::string, Owner*> by_key;
    for (const auto& o : owners) {
      auto text = key_text(member_value<R::key>(*o));
      if (!text || !by_key.emplace(*text, o.get()).second) continue;
      keys.push_back(member_value<R::key>(*o));
      collection_of((*o).*Member).pgorm_assign({});
    }
    if (!keys.empty())
      loaded = session.execute(
          select<Target>().where(col<R::fk>.in(keys)).order_by(primary_key_order<Target>()));
    for (const auto& t : loaded) {
      auto text = key_text(member_value<R::fk>(*t));
      if (!text) continue;
      auto it = by_key.find(*text);
      if (it == by_key.end()) continue;
      collection_of(it->second->*Member).pgorm_append_loaded(t);
      if constexpr (R::inverse != npos) {
        using Inv = std::remove_cvref_t<std::tuple_element_t<R::inverse, relations_t<Target>>>;
        std::shared_ptr<Owner> owner(std::shared_ptr<Owner>{}, it->second);
        for (const auto& o : owners)
          if (o.get() == it->second) owner = o;
        ((*t).*Inv::member).pgorm_assign(owner);
      }
    }
  } else {
    // Many-to-many: one statement through the association table.
    using Through = typename resolved_relation<Owner, Member>::member_type::through_type;
    using TC = through_columns<Owner, Member>;
    std::vector<column_value_t<R::key>> keys;
    std::unordered_map<std::string, Owner*> by_key;
    for (const auto& o : owners) {
      auto text = key_text(member_value<R::key>(*o));
      if (!text || !by_key.emplace(*text, o.get()).second) continue;
      keys.push_back(member_value<R::key>(*o));
      ((*o).*Member).pgorm_assign({});
    }
    if (keys.empty()) return loaded;
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
    f.add_param(keys);
    f += ")";
    if (target_table.soft_delete) {
      f += " AND ";
      f.add_identifier(target_table.name);
      f += ".\"deleted_at\" IS NULL";
    }
    if (through_table.soft_delete) {
      f += " AND ";
      f.add_identifier(through_table.name);
      f += ".\"deleted_at\" IS NULL";
    }
    f += " ORDER BY ";
    f += primary_key_order<Target>().fragment;
    Result result = session.run(query::finish(std::move(f)), false);
    loaded = session.adopt<Target>(result);
    int owner_column = result.column_index("pgorm_owner_key");
    for (int r = 0; r < result.rows(); ++r) {
      auto it = by_key.find(std::string(result.get(r, owner_column)));
      if (it != by_key.end())
        ((it->second)->*Member).pgorm_append_loaded(loaded[static_cast<std::size_t>(r)]);
    }
  }
  return loaded;
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
        for (const auto& child : coll.pgorm_raw()) {
          if (!session.contains(child)) continue;
          // A soft delete reaches soft-delete children only; their rows stay, like the parent's.
          if (!hard && !model_traits<Target>::soft_delete) continue;
          if (session.is_removed(child)) continue;
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
