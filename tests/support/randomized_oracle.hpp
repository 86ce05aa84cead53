// The model side of the randomized unit-of-work test (tests/session/randomized_uow_test.cpp): the
// rows that must be in the database, as plain values keyed by each row's unique name, and what a
// session's flush, commit, rollback and savepoints do to them.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace pgorm::test::randomized {

struct ParentRow {
  std::int32_t score = 0;
  bool deleted = false;  // deleted_at is set
  friend bool operator==(const ParentRow&, const ParentRow&) = default;
};

struct ChildRow {
  std::string parent;  // the parent's name
  std::int32_t weight = 0;
  bool deleted = false;
  friend bool operator==(const ChildRow&, const ChildRow&) = default;
};

// What the tables hold. Names are unique per table and never reused, so they identify rows
// without depending on the keys the server generates.
struct World {
  std::map<std::string, ParentRow> parents;
  std::map<std::string, ChildRow> children;
  std::set<std::string> tags;
  std::set<std::pair<std::string, std::string>> links;  // (child, tag) association rows
  friend bool operator==(const World&, const World&) = default;

  bool parent_live(const std::string& name) const {
    auto it = parents.find(name);
    return it != parents.end() && !it->second.deleted;
  }
  bool child_live(const std::string& name) const {
    auto it = children.find(name);
    return it != children.end() && !it->second.deleted;
  }
  // Every child row of the parent, soft-deleted ones included.
  std::vector<std::string> children_of(const std::string& parent) const {
    std::vector<std::string> out;
    for (const auto& [name, row] : children)
      if (row.parent == parent) out.push_back(name);
    return out;
  }
  std::set<std::string> tags_of(const std::string& child) const {
    std::set<std::string> out;
    for (const auto& [c, t] : links)
      if (c == child) out.insert(t);
    return out;
  }
  // A hard delete: the row goes, and the association rows with it (ON DELETE CASCADE).
  void erase_child(const std::string& name) {
    children.erase(name);
    std::erase_if(links, [&](const auto& l) { return l.first == name; });
  }
  void erase_tag(const std::string& name) {
    tags.erase(name);
    std::erase_if(links, [&](const auto& l) { return l.second == name; });
  }
};

inline std::string describe(const ParentRow& r) {
  return fmt::format("score {}{}", r.score, r.deleted ? ", deleted" : "");
}
inline std::string describe(const ChildRow& r) {
  return fmt::format("parent {}, weight {}{}", r.parent, r.weight, r.deleted ? ", deleted" : "");
}

// One line per row that differs: "parent p3: expected score 5, database score 7".
inline std::string diff(const World& expected, const World& actual) {
  std::string out;
  auto rows = [&out](const char* what, const auto& want, const auto& got) {
    std::set<std::string> names;
    for (const auto& [n, r] : want) names.insert(n);
    for (const auto& [n, r] : got) names.insert(n);
    for (const auto& n : names) {
      auto w = want.find(n);
      auto g = got.find(n);
      if (w != want.end() && g != got.end() && w->second == g->second) continue;
      out += fmt::format("  {} {}: expected {}, database {}\n", what, n,
                         w == want.end() ? "no row" : describe(w->second),
                         g == got.end() ? "no row" : describe(g->second));
    }
  };
  rows("parent", expected.parents, actual.parents);
  rows("child", expected.children, actual.children);
  for (const auto& t : expected.tags)
    if (!actual.tags.count(t)) out += fmt::format("  tag {}: expected a row, database no row\n", t);
  for (const auto& t : actual.tags)
    if (!expected.tags.count(t))
      out += fmt::format("  tag {}: expected no row, database a row\n", t);
  for (const auto& [c, t] : expected.links)
    if (!actual.links.count({c, t}))
      out += fmt::format("  link {}-{}: expected a row, database no row\n", c, t);
  for (const auto& [c, t] : actual.links)
    if (!expected.links.count({c, t}))
      out += fmt::format("  link {}-{}: expected no row, database a row\n", c, t);
  return out;
}

// The rows through any source with query<Row>(sql): a plain Connection (what is committed) or the
// session itself (what its transaction sees).
template <class Source>
World read_world(Source& source) {
  World w;
  for (auto& [name, score, deleted] :
       source.template query<std::tuple<std::string, std::int32_t, bool>>(
           "SELECT name, score, deleted_at IS NOT NULL FROM rnd_parents"))
    w.parents[name] = {score, deleted};
  for (auto& [name, parent, weight, deleted] :
       source.template query<std::tuple<std::string, std::string, std::int32_t, bool>>(
           "SELECT c.name, p.name, c.weight, c.deleted_at IS NOT NULL "
           "FROM rnd_children c JOIN rnd_parents p ON p.id = c.parent_id"))
    w.children[name] = {parent, weight, deleted};
  for (auto& name : source.template query<std::string>("SELECT name FROM rnd_tags"))
    w.tags.insert(name);
  for (auto& link : source.template query<std::tuple<std::string, std::string>>(
           "SELECT c.name, t.name FROM rnd_child_tags ct "
           "JOIN rnd_children c ON c.id = ct.child_id JOIN rnd_tags t ON t.id = ct.tag_id"))
    w.links.insert({std::get<0>(link), std::get<1>(link)});
  return w;
}

// What must be committed (`committed`), what the open transaction holds (`tx`: everything flushed
// since BEGIN), what the next flush will make of it (`want`), and `tx` as it was at each open
// savepoint.
struct Oracle {
  World committed, tx, want;
  std::vector<World> savepoints;

  void flushed() { tx = want; }
  void commit_succeeded() {
    tx = want;
    committed = tx;
  }
  // rollback(), a failed flush outside a savepoint, a failed COMMIT, a lost connection.
  void transaction_lost() {
    tx = want = committed;
    savepoints.clear();
  }
  void savepoint_begun() {  // begin_nested() flushes first
    tx = want;
    savepoints.push_back(tx);
  }
  void savepoint_released() {
    tx = want;
    savepoints.pop_back();
  }
  // Savepoint::rollback(), or a failed flush inside the savepoint.
  void savepoint_rolled_back() {
    tx = want = savepoints.back();
    savepoints.pop_back();
  }

  // remove(): a removed object's other unflushed changes are not written.
  void remove_child(const std::string& name, bool hard) {
    if (hard) return want.erase_child(name);
    auto& row = want.children.at(name);
    row.deleted = true;
    if (auto it = tx.children.find(name); it != tx.children.end()) row.weight = it->second.weight;
  }
  // A hard delete takes every child row with it, soft-deleted ones included; a soft delete
  // soft-deletes the live children.
  void remove_parent(const std::string& name, bool hard) {
    for (const auto& child : want.children_of(name))
      if (hard || !want.children.at(child).deleted) remove_child(child, hard);
    if (hard) {
      want.parents.erase(name);
      return;
    }
    auto& row = want.parents.at(name);
    row.deleted = true;
    if (auto it = tx.parents.find(name); it != tx.parents.end()) row.score = it->second.score;
  }
  // An expired object read again (or refresh()): its columns are what the transaction holds.
  void reread_parent(const std::string& name) {
    auto w = want.parents.find(name);
    auto t = tx.parents.find(name);
    if (w != want.parents.end() && t != tx.parents.end()) w->second.score = t->second.score;
  }
  void reread_child(const std::string& name) {
    auto w = want.children.find(name);
    auto t = tx.children.find(name);
    if (w != want.children.end() && t != tx.children.end()) w->second.weight = t->second.weight;
  }
  // A raw UPDATE inside the transaction. Dirty checking compares with the state last read, so an
  // unflushed change to the same column still wins at the next flush; without one the raw value
  // stays. (Values are never reused, so an unflushed change is exactly want != tx.)
  void raw_score(const std::string& name, std::int32_t value) {
    auto& t = tx.parents.at(name);
    auto w = want.parents.find(name);
    if (w != want.parents.end() && w->second.score == t.score) w->second.score = value;
    t.score = value;
  }
  void raw_weight(const std::string& name, std::int32_t value) {
    auto& t = tx.children.at(name);
    auto w = want.children.find(name);
    if (w != want.children.end() && w->second.weight == t.weight) w->second.weight = value;
    t.weight = value;
  }
};

}  // namespace pgorm::test::randomized
