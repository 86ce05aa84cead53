// The randomized unit-of-work test: seeded sequences of session operations (adds, column changes,
// collection edits, soft and hard removes, flushes, commits, rollbacks, savepoints, refresh,
// expire_all, raw SQL, reads) and injected failures (constraint violations at flush, a deferred
// violation at COMMIT, a row deleted under the session, a failed statement before COMMIT, a
// terminated backend, and on AsyncSession a deadline that passes during COMMIT) run against
// PostgreSQL. After every commit, rollback and failure the database must hold what an in-memory
// model says (tests/support/randomized_oracle.hpp). The operations are written once (Sequence) and
// run on a Session and on an AsyncSession (SyncDriver, AsyncDriver), one test case each.
//
// CI runs a fixed set of seeds. By hand: PGORM_RANDOMIZED_SEQUENCES=N runs N sequences,
// PGORM_RANDOMIZED_SEED=S replays the sequence of one seed (in both test cases; select one with
// "randomized unit*" or "async randomized*").
#include <catch2/catch.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <vector>

#include "async/async_support.hpp"
#include "support/db.hpp"
#include "support/randomized_oracle.hpp"

namespace rnd {

struct Child;
struct Tag;
struct ChildTag;

// The deferred constraint: rival_id gets a DEFERRABLE INITIALLY DEFERRED foreign key by raw SQL,
// so a bad value fails only at COMMIT.
struct Parent : pgorm::Model<Parent, pgorm::SoftDelete, pgorm::TableName<"rnd_parents">> {
  std::string name;
  std::int32_t score = 0;
  std::optional<std::int32_t> rival_id;
  pgorm::HasMany<Child> children;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Parent::name>(pgorm::varchar(40), pgorm::unique),
      pgorm::column<&Parent::score>(pgorm::check("score >= 0", "score_not_negative")),
      pgorm::column<&Parent::rival_id>());
  static constexpr auto relationships =
      pgorm::relationships(pgorm::relation<&Parent::children>(pgorm::cascade::all_delete_orphan));
};

// parent_id has no ON DELETE: the session must delete every child row before its parent's.
// label is NOT NULL in the table (raw SQL) but optional here, so a flush can send a NULL.
struct Child : pgorm::Model<Child, pgorm::SoftDelete, pgorm::TableName<"rnd_children">> {
  std::string name;
  std::int32_t weight = 0;
  std::optional<std::string> label;
  std::int32_t parent_id = 0;
  pgorm::BelongsTo<Parent, &Child::parent_id> parent;
  pgorm::ManyToMany<Tag, ChildTag> tags;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&Child::name>(pgorm::varchar(40), pgorm::unique),
      pgorm::column<&Child::weight>(), pgorm::column<&Child::label>(pgorm::text),
      pgorm::column<&Child::parent_id>(pgorm::foreign_key<&Parent::id>(), pgorm::index));
  static constexpr auto relationships = pgorm::relationships(
      pgorm::relation<&Child::parent>(pgorm::back_populates<&Parent::children>),
      pgorm::relation<&Child::tags>());
};

struct Tag : pgorm::Model<Tag, pgorm::TableName<"rnd_tags">> {
  std::string name;
  static constexpr auto columns =
      pgorm::columns(pgorm::column<&Tag::name>(pgorm::varchar(40), pgorm::unique));
};

struct ChildTag : pgorm::Model<ChildTag, pgorm::CustomKey, pgorm::TableName<"rnd_child_tags">> {
  std::int32_t child_id = 0;
  std::int32_t tag_id = 0;
  static constexpr auto columns = pgorm::columns(
      pgorm::column<&ChildTag::child_id>(pgorm::foreign_key<&Child::id>(pgorm::on_delete::cascade)),
      pgorm::column<&ChildTag::tag_id>(pgorm::foreign_key<&Tag::id>(pgorm::on_delete::cascade)));
  static constexpr auto table_args =
      pgorm::table_args(pgorm::primary_key_on<&ChildTag::child_id, &ChildTag::tag_id>());
};

}  // namespace rnd

namespace {

using namespace pgorm;
using rnd::Child;
using rnd::Parent;
using rnd::Tag;
using test::randomized::Oracle;
using test::randomized::World;

// The rule a divergence breaks, as the report names it.
namespace rule {
constexpr const char* commit =
    "commit = flush + COMMIT: what is committed is exactly what was flushed in the transaction";
constexpr const char* rollback =
    "rollback(): ROLLBACK, pending objects dropped, the identity map forgotten";
constexpr const char* failed_flush =
    "a failed flush outside a savepoint rolls the whole transaction back and leaves the session "
    "as rollback() does, then rethrows";
constexpr const char* savepoint =
    "a failed flush inside begin_nested() (and Savepoint::rollback()) rolls back to that savepoint "
    "only: the outer transaction stays usable, objects added since leave the session, loaded "
    "objects go back to what the database holds, removals since are cancelled";
constexpr const char* savepoint_commit =
    "Savepoint::commit() flushes first and throws that flush's error";
constexpr const char* commit_failure =
    "an exception from COMMIT (a deferred violation) leaves the session as rollback() does and is "
    "rethrown";
constexpr const char* rolled_back =
    "commit() after a failed statement inside the transaction throws TransactionRolledBack and "
    "commits nothing";
constexpr const char* in_transaction =
    "Session::query and execute_sql run inside the session's transaction";
constexpr const char* flush =
    "flush writes exactly the pending changes inside the transaction (a deleted or expunged object "
    "leaves every loaded collection, so no later flush re-inserts it)";
constexpr const char* stale = "a flush UPDATE or DELETE that matches no row throws StaleDataError";
constexpr const char* disconnect =
    "a terminated backend: the next statement throws Disconnect (TransactionInDoubt if it was "
    "COMMIT) and the session is left as rollback() leaves it";
constexpr const char* commit_deadline =
    "a deadline that passes during COMMIT: commit() returns only when the transaction committed, "
    "DeadlineExceeded means it certainly did not (the session is left as rollback() leaves it), "
    "TransactionInDoubt that it may have: the database then holds all of the transaction or none "
    "of it";
constexpr const char* identity =
    "identity map: one object per row; get() gives nullptr for removed rows; a read keeps the "
    "unflushed changes of loaded objects and refreshes expired ones";
constexpr const char* loading =
    "selectin and session.load read what the transaction holds, without soft-deleted rows";
constexpr const char* unexpected =
    "no operation of a valid sequence fails (delete cascades reach soft-deleted children, a "
    "deleted or expunged object leaves every loaded collection, ...)";
}  // namespace rule

struct Divergence {
  std::string rule;
  std::string what;
};

std::string type_name(const std::exception& e) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && demangled ? demangled : typeid(e).name();
  std::free(demangled);
  return out;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return "{" + out + "}";
}

// The committed rows every sequence starts from, soft-deleted child c2 included.
World starting_rows(Connection& conn) {
  conn.execute_script(
      "TRUNCATE rnd_child_tags, rnd_children, rnd_parents, rnd_tags, rnd_slow_commits "
      "RESTART IDENTITY;"
      "INSERT INTO rnd_parents (name, score) VALUES ('p1', 10), ('p2', 20), ('p3', 30);"
      "INSERT INTO rnd_children (name, weight, label, parent_id) VALUES ('c1', 11, 'l', 1),"
      "  ('c2', 12, 'l', 1), ('c3', 21, 'l', 2);"
      "UPDATE rnd_children SET deleted_at = now() WHERE name = 'c2';"
      "INSERT INTO rnd_tags (name) VALUES ('t1'), ('t2');"
      "INSERT INTO rnd_child_tags (child_id, tag_id) VALUES (1, 1), (3, 1), (3, 2)");
  World w;
  w.parents = {{"p1", {10, false}}, {"p2", {20, false}}, {"p3", {30, false}}};
  w.children = {{"c1", {"p1", 11, false}}, {"c2", {"p1", 12, true}}, {"c3", {"p2", 21, false}}};
  w.tags = {"t1", "t2"};
  w.links = {{"c1", "t1"}, {"c3", "t1"}, {"c3", "t2"}};
  return w;
}

// The deadline-during-COMMIT injection: COMMIT sleeps kCommitSleep in a deferred trigger, and
// commit() is given kCommitTimeout.
constexpr std::chrono::milliseconds kCommitSleep{500};
constexpr std::chrono::milliseconds kCommitTimeout{100};

// A connection killed while idle in the pool is replaced, not handed to the next session.
template <class Options>
Options engine_options() {
  Options options;
  options.pool_pre_ping = true;
  return options;
}

// ---- the sessions a sequence runs on ----
//
// A sequence's operations are written once, against a driver: a session's calls made synchronous.
// SyncDriver calls a pgorm::Session; AsyncDriver runs each AsyncSession awaitable to completion on
// an io_context of its own. What only one session has, the generator reads from two constants:
// AsyncSession has no begin_nested() (savepoints), Session no per-call deadlines, so those
// operations get weight 0 there (see Sequence::step()) and the members below that would do them
// throw std::logic_error.

// The calls without I/O: the same on Session and AsyncSession (detail::Tracker and the session).
template <class S>
class SessionDriver {
 public:
  template <class T>
  auto add(T&& object) {
    return session_.add(std::forward<T>(object));
  }
  template <class T, class... Hard>
  void remove(const std::shared_ptr<T>& object, Hard... hard) {
    session_.remove(object, hard...);
  }
  template <class T>
  void expunge(const std::shared_ptr<T>& object) {
    session_.expunge(object);
  }
  template <class T>
  bool contains(const std::shared_ptr<T>& object) const {
    return session_.contains(object);
  }
  bool in_transaction() const noexcept { return session_.in_transaction(); }
  void expire_all() { session_.expire_all(); }

 protected:
  explicit SessionDriver(S session) : session_(std::move(session)) {}
  S session_;
};

class SyncDriver : public SessionDriver<Session> {
 public:
  static constexpr bool has_savepoints = true;
  static constexpr bool has_deadlines = false;
  using Savepoint = Session::Savepoint;

  explicit SyncDriver(test::TestSchema& db)
      : SessionDriver(Session(Engine(db.conninfo(), engine_options<EngineOptions>()))) {}

  void flush() { session_.flush(); }
  void commit() { session_.commit(); }
  [[noreturn]] void commit(Timeout) {
    throw std::logic_error("Session::commit() takes no Timeout: never generated for Session");
  }
  void rollback() { session_.rollback(); }
  void close() { session_.close(); }
  Savepoint begin_nested() { return session_.begin_nested(); }
  template <model T>
  void refresh(const std::shared_ptr<T>& object) {
    session_.refresh(object);
  }
  template <model T, class... Path>
  void load(const std::shared_ptr<T>& object, Path... path) {
    session_.load(object, path...);
  }
  template <model T, class Key>
  std::shared_ptr<T> get(const Key& key) {
    return session_.get<T>(key);
  }
  template <class Select>
  auto execute(const Select& select) {
    return session_.execute(select);
  }
  template <class Row, class... Args>
  std::vector<Row> query(std::string_view sql, const Args&... args) {
    return session_.query<Row>(sql, args...);
  }
  template <class... Args>
  std::int64_t execute_sql(std::string_view sql, const Args&... args) {
    return session_.execute_sql(sql, args...);
  }
  // The server process of the session's connection (inside a transaction).
  int backend_pid() { return session_.connection().backend_pid(); }
};

// The io_context of an AsyncDriver: a base, so that it is made before the session and outlives it.
struct IoContextOwner {
  asio::io_context io;
};

class AsyncDriver : private IoContextOwner, public SessionDriver<AsyncSession> {
 public:
  static constexpr bool has_savepoints = false;
  static constexpr bool has_deadlines = true;
  struct Savepoint {
    [[noreturn]] void commit() { no_savepoints(); }
    [[noreturn]] void rollback() { no_savepoints(); }
  };

  explicit AsyncDriver(test::TestSchema& db)
      : SessionDriver(
            AsyncSession(AsyncEngine(io, db.conninfo(), engine_options<AsyncEngineOptions>()))) {}

  void flush() { run(session_.flush()); }
  void commit() { run(session_.commit()); }
  void commit(Timeout timeout) { run(session_.commit(timeout)); }
  void rollback() { run(session_.rollback()); }
  void close() { run(session_.close()); }
  [[noreturn]] Savepoint begin_nested() { no_savepoints(); }
  template <model T>
  void refresh(const std::shared_ptr<T>& object) {
    run(session_.refresh(object));
  }
  template <model T, class... Path>
  void load(const std::shared_ptr<T>& object, Path... path) {
    run(session_.load(object, path...));
  }
  template <model T, class Key>
  std::shared_ptr<T> get(const Key& key) {
    return run(session_.get<T>(key));
  }
  template <class Select>
  auto execute(const Select& select) {
    return run(session_.execute(select));
  }
  template <class Row, class... Args>
  std::vector<Row> query(std::string_view sql, const Args&... args) {
    return run(session_.query<Row>(sql, args...));
  }
  template <class... Args>
  std::int64_t execute_sql(std::string_view sql, const Args&... args) {
    return run(session_.execute_sql(sql, args...));
  }
  // The server process of the session's connection (inside a transaction; autoflush is off, so
  // this sends nothing else).
  int backend_pid() { return run(session_.query<std::int32_t>("SELECT pg_backend_pid()")).at(0); }

 private:
  template <class T>
  T run(asio::awaitable<T> operation) {
    return test::run(io, std::move(operation));
  }
  [[noreturn]] static void no_savepoints() {
    throw std::logic_error("AsyncSession has no begin_nested(): never generated for AsyncSession");
  }
};

// One seeded sequence of operations on one session, checked against the model as it goes.
template <class Driver>
class Sequence {
 public:
  Sequence(test::TestSchema& db, std::uint32_t seed) : db_(db), rng_(seed), session_(db) {
    o_.committed = o_.tx = o_.want = starting_rows(db_.conn());
  }
  ~Sequence() {
    while (!savepoints_.empty()) savepoints_.pop_back();
    try {
      session_.close();
    } catch (...) {
      // A sequence that diverged may leave the session in any state; the next one starts afresh.
    }
  }
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Runs `operations` random operations; throws Divergence when the session strays from the model.
  void play(int operations) {
    guarded([&] { reload(); });
    for (int i = 0; i < operations; ++i) guarded([&] { step(); });
    guarded([&] {
      while (!savepoints_.empty()) savepoint_commit();
      note("commit (end of sequence)");
      commit_now();
    });
  }
  std::string log_text() const {
    std::string out;
    for (const auto& line : log_) out += "  " + line + "\n";
    return out;
  }
  int commits() const noexcept { return commits_; }
  int failures() const noexcept { return failures_; }
  int commit_deadlines() const noexcept { return commit_deadlines_; }
  int commit_deadlines_exceeded() const noexcept { return commit_deadlines_exceeded_; }
  int commit_deadlines_in_doubt() const noexcept { return commit_deadlines_in_doubt_; }

 private:
  using Op = bool (Sequence::*)();

  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const Divergence&) {
      throw;
    } catch (const std::exception& e) {
      throw Divergence{rule::unexpected,
                       fmt::format("unexpected {}: {}{}", type_name(e), e.what(), error_hint(e))};
    }
  }

  // What an unexpected server error usually means here.
  static std::string error_hint(const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    if (!error) return "";
    // New objects hold key 0 and are inserted with DEFAULT: a bound key means an object that had
    // a row (deleted since) is being inserted again.
    const auto& sql = error->statement();
    if (sql.rfind("INSERT INTO \"rnd_", 0) == 0 && sql.find("($") != std::string::npos &&
        sql.find("rnd_child_tags") == std::string::npos)
      return "\n  hint: an INSERT with an explicit key: an object deleted earlier is being "
             "re-inserted (a deleted object must leave every loaded collection)";
    if (dynamic_cast<const ForeignKeyViolation*>(error) && error->table() == "rnd_children" &&
        error->statement().rfind("DELETE FROM \"rnd_parents\"", 0) == 0)
      return "\n  hint: child rows were left behind a parent's DELETE (a hard delete must reach "
             "every child, soft-deleted ones included)";
    return "";
  }

  // Rows the model says were removed in this sequence but the database shows live again.
  std::string resurrection_hints(const World& expected, const World& actual) const {
    std::string out;
    for (const auto& [n, op] : removed_at_) {
      bool expected_live = n[0] == 'p'   ? expected.parent_live(n)
                           : n[0] == 'c' ? expected.child_live(n)
                                         : expected.tags.count(n) > 0;
      bool actual_live = n[0] == 'p'   ? actual.parent_live(n)
                         : n[0] == 'c' ? actual.child_live(n)
                                       : actual.tags.count(n) > 0;
      if (!expected_live && actual_live && !queried_at_.count(n))
        out += fmt::format(
            "  hint: {} was removed at #{} but its row is live: the removal was not written, or a "
            "later flush re-inserted the object (a deleted object must leave every loaded "
            "collection)\n",
            n, op);
    }
    for (const auto& [n, op] : queried_at_)
      if (!expected.tags.count(n) && actual.tags.count(n))
        out += fmt::format(
            "  hint: {} was inserted through Session::query at #{}, which must run inside the "
            "session's transaction and go with its rollback\n",
            n, op);
    return out;
  }
  void removed(const std::string& name) { removed_at_[name] = log_.size(); }
  // Rolled back to a savepoint: an object goes back to what it held at begin_nested(), which for
  // an object a raw UPDATE had changed under it is not what the database holds. Objects loaded
  // after a raw UPDATE inside the savepoint have no such value at all. Neither is checked.
  void restore_lagging() {
    lagging_.insert(lagging_at_savepoint_.back().begin(), lagging_at_savepoint_.back().end());
    lagging_.insert(raw_since_savepoint_.back().begin(), raw_since_savepoint_.back().end());
    lagging_at_savepoint_.pop_back();
    raw_since_savepoint_.pop_back();
  }
  void release_raw_since_savepoint() {
    auto released = std::move(raw_since_savepoint_.back());
    raw_since_savepoint_.pop_back();
    if (!raw_since_savepoint_.empty())
      raw_since_savepoint_.back().insert(released.begin(), released.end());
  }
  void raw_updated(const std::string& name) {
    lagging_.insert(name);
    if (!raw_since_savepoint_.empty()) raw_since_savepoint_.back().insert(name);
  }

  // Operations of weight 0 are never generated: on AsyncSession, which has no begin_nested(), no
  // savepoint is ever opened (so `top` always holds); on Session, which has no deadlines yet, no
  // deadline during COMMIT. A weight 0 draws nothing from the generator, so Session's sequence of
  // a seed is what it was before AsyncSession ran them too.
  void step() {
    const bool top = savepoints_.empty();
    std::vector<std::pair<int, Op>> ops = {
        {8, &Sequence::add_parent},
        {8, &Sequence::add_child},
        {12, &Sequence::change},
        {4, &Sequence::add_tag},
        {5, &Sequence::link},
        {3, &Sequence::unlink},
        {4, &Sequence::orphan},
        {4, &Sequence::remove_child},
        {3, &Sequence::remove_parent},
        {2, &Sequence::remove_tag},
        {2, &Sequence::expunge},
        {6, &Sequence::flush},
        {top ? 7 : 0, &Sequence::commit},
        {top ? 2 : 0, &Sequence::rollback},
        {Driver::has_savepoints && savepoints_.size() < 3 ? 4 : 0, &Sequence::begin_nested},
        {top ? 0 : 3, &Sequence::savepoint_commit},
        {top ? 0 : 2, &Sequence::savepoint_rollback},
        {3, &Sequence::refresh},
        {2, &Sequence::expire_all},
        {4, &Sequence::raw_write},
        {4, &Sequence::get},
        {3, &Sequence::reload},
        {2, &Sequence::read_through_session},
        {2, &Sequence::inject_unique},
        {2, &Sequence::inject_check},
        {2, &Sequence::inject_not_null},
        {2, &Sequence::inject_stale},
        {top ? 2 : 0, &Sequence::inject_deferred},
        {top ? 1 : 0, &Sequence::inject_aborted},
        {2, &Sequence::inject_terminate},
        {Driver::has_deadlines && top ? 1 : 0, &Sequence::inject_commit_deadline}};
    int total = 0;
    for (const auto& [w, op] : ops) total += w;
    for (int attempt = 0; attempt < 20; ++attempt) {
      int r = roll(total);
      for (const auto& [w, op] : ops) {
        if (r < w) {
          if ((this->*op)()) {
            prune();
            return;
          }
          break;
        }
        r -= w;
      }
    }
    flush();  // nothing applicable: a flush always is
  }

  // ---- helpers ----

  int roll(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return roll(100) < percent; }
  std::string fresh(char prefix) { return fmt::format("{}{}", prefix, ++last_name_); }
  std::int32_t value() { return next_value_ += 1 + roll(3); }
  template <class V>
  const V& pick(const std::vector<V>& v) {
    return v[static_cast<std::size_t>(roll(static_cast<int>(v.size())))];
  }
  template <class... Args>
  void note(fmt::format_string<Args...> f, Args&&... args) {
    log_.push_back(fmt::format("#{} ", log_.size() + 1) +
                   fmt::format(f, std::forward<Args>(args)...));
  }

  // Names of the objects held (tracked, live in the model); flushed: with a row in the transaction.
  std::vector<std::string> held_parents(bool flushed) const {
    std::vector<std::string> out;
    for (const auto& [n, p] : parents_)
      if (o_.want.parent_live(n) && (!flushed || o_.tx.parents.count(n))) out.push_back(n);
    return out;
  }
  std::vector<std::string> held_children(bool flushed) const {
    std::vector<std::string> out;
    for (const auto& [n, c] : children_)
      if (o_.want.child_live(n) && (!flushed || o_.tx.children.count(n))) out.push_back(n);
    return out;
  }
  std::vector<std::string> held_tags(bool flushed) const {
    std::vector<std::string> out;
    for (const auto& [n, t] : tags_)
      if (o_.want.tags.count(n) && (!flushed || o_.tx.tags.count(n))) out.push_back(n);
    return out;
  }

  // Objects that are no longer live in the model are not used again.
  void prune() {
    std::erase_if(parents_, [&](const auto& e) { return !o_.want.parent_live(e.first); });
    std::erase_if(children_, [&](const auto& e) { return !o_.want.child_live(e.first); });
    std::erase_if(tags_, [&](const auto& e) { return !o_.want.tags.count(e.first); });
  }
  void forget_objects() {
    parents_.clear();
    children_.clear();
    tags_.clear();
    stale_.clear();
    collections_dirty_ = false;
    new_in_collection_.clear();
    cascading_.clear();
  }
  // A flush happened: pending collection edits are written.
  void flushed() {
    o_.flushed();
    collections_dirty_ = false;
    new_in_collection_.clear();
    cascading_.clear();
    record_ids();
  }
  void record_ids() {
    for (const auto& [n, p] : parents_)
      if (p->id > 0) ids_[n] = p->id;
    for (const auto& [n, c] : children_)
      if (c->id > 0) ids_[n] = c->id;
  }

  // An object a read returned: one object per row, expired objects are refreshed, loaded ones keep
  // their unflushed changes.
  void seen(const std::shared_ptr<Parent>& p) {
    ids_[p->name] = p->id;
    if (!o_.want.parent_live(p->name)) return;
    auto [it, added] = parents_.try_emplace(p->name, p);
    if (!added && it->second != p)
      throw Divergence{rule::identity,
                       fmt::format("a read gave a second object for parent {}", p->name)};
    if (stale_.erase(p->name)) {
      o_.reread_parent(p->name);
      lagging_.erase(p->name);
    }
    auto expected = o_.want.parents.at(p->name).score;
    if (!lagging_.count(p->name) && p->score != expected)
      throw Divergence{value_rule_, fmt::format("parent {} was read with score {}, expected {}",
                                                p->name, p->score, expected)};
  }
  void seen(const std::shared_ptr<Child>& c) {
    ids_[c->name] = c->id;
    if (!o_.want.child_live(c->name)) return;
    auto [it, added] = children_.try_emplace(c->name, c);
    if (!added && it->second != c)
      throw Divergence{rule::identity,
                       fmt::format("a read gave a second object for child {}", c->name)};
    if (stale_.erase(c->name)) {
      o_.reread_child(c->name);
      lagging_.erase(c->name);
    }
    auto expected = o_.want.children.at(c->name).weight;
    if (!lagging_.count(c->name) && c->weight != expected)
      throw Divergence{value_rule_, fmt::format("child {} was read with weight {}, expected {}",
                                                c->name, c->weight, expected)};
  }
  void seen(const std::shared_ptr<Tag>& t) {
    if (!o_.want.tags.count(t->name)) return;
    auto [it, added] = tags_.try_emplace(t->name, t);
    if (!added && it->second != t)
      throw Divergence{rule::identity,
                       fmt::format("a read gave a second object for tag {}", t->name)};
  }

  // A child with a row and no unflushed link edits: removing it asks one question only (a
  // removed object's unflushed edits are dropped, and what they reached is another matter).
  bool settled(const std::string& child) const {
    return o_.tx.children.count(child) && o_.want.tags_of(child) == o_.tx.tags_of(child);
  }

  std::set<std::string> live_children_in_tx(const std::string& parent) const {
    std::set<std::string> out;
    for (const auto& c : o_.tx.children_of(parent))
      if (o_.tx.child_live(c)) out.insert(c);
    return out;
  }

  void ensure_children_loaded(const std::shared_ptr<Parent>& p) {
    if (p->children.loaded()) return;
    note("  session.load({}, &Parent::children)", p->name);
    session_.load(p, &Parent::children);
    std::set<std::string> got;
    for (const auto& c : p->children) got.insert(c->name);
    if (got != live_children_in_tx(p->name))
      throw Divergence{rule::loading,
                       fmt::format("load({}->children) gave {}, the transaction holds {}", p->name,
                                   joined(got), joined(live_children_in_tx(p->name)))};
    for (const auto& c : p->children) seen(c);
  }
  void ensure_tags_loaded(const std::shared_ptr<Child>& c) {
    if (c->tags.loaded()) return;
    note("  session.load({}, &Child::tags)", c->name);
    session_.load(c, &Child::tags);
    std::set<std::string> got;
    for (const auto& t : c->tags) got.insert(t->name);
    if (got != o_.tx.tags_of(c->name))
      throw Divergence{rule::loading,
                       fmt::format("load({}->tags) gave {}, the transaction holds {}", c->name,
                                   joined(got), joined(o_.tx.tags_of(c->name)))};
    for (const auto& t : c->tags) seen(t);
  }

  std::shared_ptr<Child> make_child() {
    auto c = std::make_shared<Child>();
    c->name = fresh('c');
    c->weight = value();
    c->label = "l";
    return c;
  }

  // ---- checks ----

  void check_committed(const char* broken_rule, const char* when) {
    World db = test::randomized::read_world(db_.conn());
    if (db != o_.committed)
      throw Divergence{broken_rule, fmt::format("{}, committed rows differ from the model:\n{}{}",
                                                when, test::randomized::diff(o_.committed, db),
                                                resurrection_hints(o_.committed, db))};
  }
  void check_transaction_view(const char* broken_rule, const char* when) {
    World seen_by_session = test::randomized::read_world(session_);
    if (seen_by_session != o_.tx)
      throw Divergence{broken_rule,
                       fmt::format("{}, the rows the session's transaction sees differ from the "
                                   "model:\n{}{}",
                                   when, test::randomized::diff(o_.tx, seen_by_session),
                                   resurrection_hints(o_.tx, seen_by_session))};
  }

  // After rollback(), a failed flush outside a savepoint, a failed COMMIT, a lost connection.
  void after_transaction_lost(const char* broken_rule, const char* when) {
    if (session_.in_transaction())
      throw Divergence{broken_rule,
                       fmt::format("{}, the session still reports an open transaction", when)};
    auto tracked = [&](const auto& held) {
      for (const auto& [n, obj] : held)
        if (session_.contains(obj))
          throw Divergence{broken_rule, fmt::format("{}, the session still tracks {}", when, n)};
    };
    tracked(parents_);
    tracked(children_);
    tracked(tags_);
    while (!savepoints_.empty()) savepoints_.pop_back();  // their transaction is gone
    lagging_at_savepoint_.clear();
    raw_since_savepoint_.clear();
    o_.transaction_lost();
    forget_objects();
    lagging_.clear();
    check_committed(broken_rule, when);
    reload_for(broken_rule);
  }

  // After Savepoint::rollback() or a failed Savepoint::commit().
  void after_savepoint_rollback(const char* broken_rule, const char* when) {
    if (!session_.in_transaction())
      throw Divergence{broken_rule, fmt::format("{}, the outer transaction is gone", when)};
    auto added_since = [&](const auto& held, auto live) {
      for (const auto& [n, obj] : held)
        if (added_.count(n) && !live(n) && session_.contains(obj))
          throw Divergence{
              broken_rule,
              fmt::format("{}, {} (added since the savepoint) is still tracked", when, n)};
    };
    added_since(parents_, [&](const std::string& n) { return o_.want.parent_live(n); });
    added_since(children_, [&](const std::string& n) { return o_.want.child_live(n); });
    added_since(tags_, [&](const std::string& n) { return o_.want.tags.count(n) > 0; });
    forget_objects();
    check_committed(broken_rule, when);
    check_transaction_view(broken_rule, when);
    reload_for(broken_rule);
  }

  // `action` must throw E; anything else is a divergence.
  template <class E>
  void expect_error(const char* expected, const char* broken_rule,
                    const std::function<void()>& action) {
    try {
      action();
    } catch (const E&) {
      ++failures_;
      return;
    } catch (const std::exception& e) {
      throw Divergence{broken_rule, fmt::format("expected {}, got {}: {}{}", expected, type_name(e),
                                                e.what(), error_hint(e))};
    }
    throw Divergence{broken_rule,
                     fmt::format("expected {}, but the call returned normally", expected)};
  }

  // The pending work now holds a bad change: the flush must fail with E, and undo the innermost
  // savepoint, or the whole transaction when none is open. `error_rule`: the rule broken when E
  // is not what the flush throws (by default, that the flush's error reaches the caller).
  template <class E>
  void expect_flush_failure(const char* expected, const char* error_rule = nullptr) {
    if (!savepoints_.empty()) {
      note("  savepoint.commit() -> {}", expected);
      expect_error<E>(expected, error_rule ? error_rule : rule::savepoint_commit,
                      [&] { savepoints_.back().commit(); });
      savepoints_.pop_back();
      restore_lagging();
      o_.savepoint_rolled_back();
      after_savepoint_rollback(rule::savepoint, "after a failed flush inside a savepoint");
      return;
    }
    bool via_commit = chance(50);
    note("  {} -> {}", via_commit ? "commit()" : "flush()", expected);
    expect_error<E>(expected, error_rule ? error_rule : rule::failed_flush, [&] {
      if (via_commit)
        session_.commit();
      else
        session_.flush();
    });
    after_transaction_lost(rule::failed_flush, "after a failed flush");
  }

  // ---- operations; each returns false when it does not apply now ----

  bool add_parent() {
    auto p = std::make_shared<Parent>();
    p->name = fresh('p');
    p->score = value();
    std::string text = fmt::format("add parent {} (score {})", p->name, p->score);
    int n = roll(3);
    for (int i = 0; i < n; ++i) {
      auto c = make_child();
      text += fmt::format(", child {} (weight {})", c->name, c->weight);
      p->children.add(c);
      o_.want.children[c->name] = {p->name, c->weight, false};
      children_[c->name] = c;
      added_.insert(c->name);
    }
    note("{}", text);
    o_.want.parents[p->name] = {p->score, false};
    session_.add(p);
    parents_[p->name] = p;
    added_.insert(p->name);
    return true;
  }

  bool add_child() {
    auto names = held_parents(false);
    if (names.empty()) return false;
    auto p = parents_.at(pick(names));
    auto c = make_child();
    note("{}->children.add(new child {} (weight {}))", p->name, c->name, c->weight);
    ensure_children_loaded(p);
    p->children.add(c);
    o_.want.children[c->name] = {p->name, c->weight, false};
    children_[c->name] = c;
    added_.insert(c->name);
    collections_dirty_ = true;
    return true;
  }

  bool change() {
    if (chance(50)) {
      auto names = held_parents(false);
      if (names.empty()) return false;
      const auto& n = pick(names);
      auto v = value();
      note("{}->score = {}", n, v);
      parents_.at(n)->score = v;
      o_.want.parents.at(n).score = v;
      lagging_.erase(n);
    } else {
      auto names = held_children(false);
      if (names.empty()) return false;
      const auto& n = pick(names);
      auto v = value();
      note("{}->weight = {}", n, v);
      children_.at(n)->weight = v;
      o_.want.children.at(n).weight = v;
      lagging_.erase(n);
    }
    return true;
  }

  bool add_tag() {
    auto t = std::make_shared<Tag>();
    t->name = fresh('t');
    auto names = held_children(false);
    if (!names.empty() && chance(50)) {
      auto c = children_.at(pick(names));
      note("{}->tags.add(new tag {})", c->name, t->name);
      ensure_tags_loaded(c);
      c->tags.add(t);
      o_.want.links.insert({c->name, t->name});
      new_in_collection_.insert(t->name);  // saved by the cascade, if still there at flush
      collections_dirty_ = true;
    } else {
      note("add tag {}", t->name);
      session_.add(t);
    }
    o_.want.tags.insert(t->name);
    tags_[t->name] = t;
    added_.insert(t->name);
    return true;
  }

  bool link() {
    auto names = held_children(false);
    if (names.empty()) return false;
    auto c = children_.at(pick(names));
    ensure_tags_loaded(c);
    std::vector<std::string> candidates;
    for (const auto& n : held_tags(false)) {
      const auto& items = c->tags.items();
      bool in_memory = std::find(items.begin(), items.end(), tags_.at(n)) != items.end();
      if (!in_memory && !o_.want.links.count({c->name, n})) candidates.push_back(n);
    }
    if (candidates.empty()) return false;
    const auto& t = pick(candidates);
    note("{}->tags.add({})", c->name, t);
    c->tags.add(tags_.at(t));
    o_.want.links.insert({c->name, t});
    collections_dirty_ = true;
    return true;
  }

  bool unlink() {
    std::vector<std::pair<std::string, std::string>> candidates;
    for (const auto& [c, t] : o_.want.links)
      if (children_.count(c) && tags_.count(t) && o_.want.child_live(c) &&
          !new_in_collection_.count(t))
        candidates.push_back({c, t});
    if (candidates.empty()) return false;
    auto [cn, tn] = pick(candidates);
    auto c = children_.at(cn);
    note("{}->tags.remove({})", cn, tn);
    ensure_tags_loaded(c);
    const auto& items = c->tags.items();
    if (std::find(items.begin(), items.end(), tags_.at(tn)) == items.end())
      throw Divergence{rule::identity, fmt::format("{}->tags does not hold {}, which the model "
                                                   "links to it",
                                                   cn, tn)};
    c->tags.remove(tags_.at(tn));
    o_.want.links.erase({cn, tn});
    collections_dirty_ = true;
    return true;
  }

  // Takes a child out of a delete-orphan collection: soft-deleted at flush.
  bool orphan() {
    auto names = held_parents(true);
    if (names.empty()) return false;
    auto p = parents_.at(pick(names));
    ensure_children_loaded(p);
    std::vector<std::string> candidates;
    for (const auto& c : p->children)
      if (o_.tx.child_live(c->name) && o_.want.child_live(c->name) && settled(c->name) &&
          children_.count(c->name) && children_.at(c->name) == c)
        candidates.push_back(c->name);
    if (candidates.empty()) return false;
    const auto& n = pick(candidates);
    note("{}->children.remove({})", p->name, n);
    p->children.remove(children_.at(n));
    o_.remove_child(n, false);
    removed(n);
    cascading_.insert(n);
    collections_dirty_ = true;
    return true;
  }

  bool remove_child() {
    std::vector<std::string> names;
    for (const auto& n : held_children(true))
      if (settled(n)) names.push_back(n);
    if (names.empty()) return false;
    const auto& n = pick(names);
    bool hard = chance(40);
    note("session.remove({}{})", n, hard ? ", pgorm::hard" : "");
    if (hard)
      session_.remove(children_.at(n), pgorm::hard);
    else
      session_.remove(children_.at(n));
    o_.remove_child(n, hard);
    removed(n);
    return true;
  }

  // Only parents whose children are all settled: a pending child of a removed parent, or an
  // expunged one its loaded collection no longer holds, is another question than this test asks.
  bool remove_parent() {
    std::vector<std::string> candidates;
    for (const auto& n : held_parents(true)) {
      bool all_flushed = true;
      for (const auto& c : o_.want.children_of(n))
        all_flushed = all_flushed && settled(c) && !expunged_.count(c);
      if (all_flushed) candidates.push_back(n);
    }
    if (candidates.empty()) return false;
    const auto& n = pick(candidates);
    bool hard = chance(50);
    std::set<std::string> kids;
    for (const auto& c : o_.want.children_of(n))
      kids.insert(c + (o_.want.children.at(c).deleted ? " (soft-deleted)" : ""));
    note("session.remove({}{}) [children {}]", n, hard ? ", pgorm::hard" : "", joined(kids));
    if (hard)
      session_.remove(parents_.at(n), pgorm::hard);
    else
      session_.remove(parents_.at(n));
    for (const auto& c : o_.want.children_of(n))
      if (o_.want.child_live(c)) {
        removed(c);
        cascading_.insert(c);
      }
    o_.remove_parent(n, hard);
    removed(n);
    return true;
  }

  bool remove_tag() {
    auto names = held_tags(true);
    if (names.empty()) return false;
    const auto& n = pick(names);
    std::set<std::string> linked;
    for (const auto& [c, t] : o_.want.links)
      if (t == n) linked.insert(c);
    note("session.remove({}) [linked to {}]", n, joined(linked));
    session_.remove(tags_.at(n));
    o_.want.erase_tag(n);
    removed(n);
    return true;
  }

  // Expunge: the row stays as the transaction holds it, unflushed changes are dropped.
  bool expunge() {
    std::vector<std::string> names;
    for (const auto& n : held_children(true))
      if (settled(n)) names.push_back(n);
    if (names.empty()) return false;
    const auto& n = pick(names);
    std::string name = n;
    note("session.expunge({})", name);
    session_.expunge(children_.at(name));
    o_.reread_child(name);
    expunged_.insert(name);
    children_.erase(name);
    stale_.erase(name);
    lagging_.insert(name);  // a later read may give an object with values of its own
    return true;
  }

  bool flush() {
    note("flush");
    session_.flush();
    flushed();
    if (chance(30)) check_transaction_view(rule::flush, "after flush");
    return true;
  }

  void commit_now() {
    session_.commit();
    after_commit();
  }
  void after_commit() {
    ++commits_;
    o_.commit_succeeded();
    flushed();
    for (const auto& [n, p] : parents_) stale_.insert(n);
    for (const auto& [n, c] : children_) stale_.insert(n);
    check_committed(rule::commit, "after commit");
  }

  bool commit() {
    note("commit");
    commit_now();
    return true;
  }

  bool rollback() {
    note("rollback");
    session_.rollback();
    after_transaction_lost(rule::rollback, "after rollback");
    return true;
  }

  bool begin_nested() {
    note("begin_nested (depth {})", savepoints_.size() + 1);
    savepoints_.push_back(session_.begin_nested());
    lagging_at_savepoint_.push_back(lagging_);
    raw_since_savepoint_.emplace_back();
    o_.savepoint_begun();
    flushed();
    return true;
  }

  bool savepoint_commit() {
    note("savepoint.commit (depth {})", savepoints_.size());
    savepoints_.back().commit();
    savepoints_.pop_back();
    lagging_at_savepoint_.pop_back();
    release_raw_since_savepoint();
    o_.savepoint_released();
    flushed();
    check_committed(rule::commit, "after releasing a savepoint");
    return true;
  }

  bool savepoint_rollback() {
    note("savepoint.rollback (depth {})", savepoints_.size());
    savepoints_.back().rollback();
    savepoints_.pop_back();
    restore_lagging();
    o_.savepoint_rolled_back();
    after_savepoint_rollback(rule::savepoint, "after Savepoint::rollback()");
    return true;
  }

  bool refresh() {
    std::vector<std::string> candidates;
    for (const auto& n : held_parents(true))
      if (!stale_.count(n)) candidates.push_back(n);
    for (const auto& n : held_children(true))
      if (!stale_.count(n)) candidates.push_back(n);
    if (candidates.empty()) return false;
    const auto& n = pick(candidates);
    note("session.refresh({})", n);
    if (n[0] == 'p') {
      auto p = parents_.at(n);
      session_.refresh(p);
      o_.reread_parent(n);
      lagging_.erase(n);
      seen(p);
    } else {
      auto c = children_.at(n);
      session_.refresh(c);
      o_.reread_child(n);
      lagging_.erase(n);
      seen(c);
    }
    return true;
  }

  bool expire_all() {
    note("expire_all");
    session_.expire_all();
    for (const auto& n : held_parents(true)) stale_.insert(n);
    for (const auto& n : held_children(true)) stale_.insert(n);
    return true;
  }

  // Raw writes inside the session's transaction (the identity map does not see them).
  bool raw_write() {
    int kind = roll(4);
    std::int64_t affected = 0;
    if (kind == 3) {
      // A write through query(): pgorm cannot tell it from a read, so it too runs in the
      // transaction (a rollback must undo it).
      auto n = fresh('t');
      note("Session::query: INSERT tag {} RETURNING id", n);
      queried_at_[n] = log_.size();
      auto ids = session_.template query<std::int32_t>(
          "INSERT INTO rnd_tags (name) VALUES ($1) RETURNING id", n);
      affected = static_cast<std::int64_t>(ids.size());
      o_.tx.tags.insert(n);
      o_.want.tags.insert(n);
    } else if (kind == 0) {
      auto n = fresh('t');
      note("execute_sql: INSERT tag {}", n);
      affected = session_.execute_sql("INSERT INTO rnd_tags (name) VALUES ($1)", n);
      o_.tx.tags.insert(n);
      o_.want.tags.insert(n);
    } else if (kind == 1) {
      std::vector<std::string> names;
      for (const auto& [n, row] : o_.tx.parents)
        if (!row.deleted) names.push_back(n);
      if (names.empty()) return false;
      const auto& n = pick(names);
      auto v = value();
      note("execute_sql: UPDATE {} SET score = {}", n, v);
      affected = session_.execute_sql("UPDATE rnd_parents SET score = $1 WHERE name = $2", v, n);
      o_.raw_score(n, v);
      raw_updated(n);
    } else {
      std::vector<std::string> names;
      for (const auto& [n, row] : o_.tx.children)
        if (!row.deleted) names.push_back(n);
      if (names.empty()) return false;
      const auto& n = pick(names);
      auto v = value();
      note("execute_sql: UPDATE {} SET weight = {}", n, v);
      affected = session_.execute_sql("UPDATE rnd_children SET weight = $1 WHERE name = $2", v, n);
      o_.raw_weight(n, v);
      raw_updated(n);
    }
    if (affected != 1)
      throw Divergence{rule::in_transaction,
                       fmt::format("execute_sql changed {} rows, expected 1", affected)};
    return true;
  }

  bool get() {
    if (ids_.empty()) return false;
    std::vector<std::string> names;
    for (const auto& [n, id] : ids_) names.push_back(n);
    const auto& n = pick(names);
    bool parent = n[0] == 'p';
    note("session.get<{}>({}) [{}]", parent ? "Parent" : "Child", ids_.at(n), n);
    bool live = parent ? o_.want.parent_live(n) : o_.want.child_live(n);
    // Orphans and children of a removed parent are removed by the flush's cascade: get() may
    // still return them before that.
    bool either = cascading_.count(n) > 0;
    bool found = false;
    if (parent) {
      auto p = session_.template get<Parent>(ids_.at(n));
      found = p != nullptr;
      if (p && live) seen(p);
    } else {
      auto c = session_.template get<Child>(ids_.at(n));
      found = c != nullptr;
      if (c && live) seen(c);
    }
    if (found != live && !either)
      throw Divergence{rule::identity, fmt::format("get() of {} gave {}, expected {}", n,
                                                   found ? "an object" : "nullptr",
                                                   live ? "an object" : "nullptr")};
    return true;
  }

  // A reload right after a rollback: values that differ break that rollback's rule.
  void reload_for(const char* broken_rule) {
    value_rule_ = broken_rule;
    reload();
    value_rule_ = rule::identity;
  }

  // select with selectin loading; rebuilds the objects held from what the session returns.
  bool reload() {
    try {
      load_everything();
    } catch (const Divergence& d) {
      // The rows themselves may be what is wrong: say so rather than blame the loading.
      if (d.rule == rule::loading) check_transaction_view(rule::flush, "reading back");
      throw;
    }
    return true;
  }

  void load_everything() {
    if (collections_dirty_) {
      note("flush (before reloading collections)");
      session_.flush();
      flushed();
    }
    note("execute(select<Parent>, selectin children.tags) and select<Tag>");
    expunged_.clear();  // every live parent's children are loaded again below
    auto parents = session_.execute(select<Parent>()
                                        .order_by(col<&Parent::id>)
                                        .options(selectin(&Parent::children, &Child::tags)));
    auto tags = session_.execute(select<Tag>().order_by(col<&Tag::id>));
    std::set<std::string> got_parents, want_parents, got_tags;
    for (const auto& [n, row] : o_.tx.parents)
      if (!row.deleted) want_parents.insert(n);
    for (const auto& p : parents) {
      got_parents.insert(p->name);
      std::set<std::string> kids;
      for (const auto& c : p->children) {
        kids.insert(c->name);
        std::set<std::string> labels;
        for (const auto& t : c->tags) labels.insert(t->name);
        if (labels != o_.tx.tags_of(c->name))
          throw Divergence{rule::loading,
                           fmt::format("selectin loaded tags {} for {}, the "
                                       "transaction holds {}",
                                       joined(labels), c->name, joined(o_.tx.tags_of(c->name)))};
      }
      if (kids != live_children_in_tx(p->name))
        throw Divergence{rule::loading,
                         fmt::format("selectin loaded children {} for {}, the transaction holds {}",
                                     joined(kids), p->name, joined(live_children_in_tx(p->name)))};
    }
    for (const auto& t : tags) got_tags.insert(t->name);
    if (got_parents != want_parents || got_tags != o_.tx.tags)
      throw Divergence{rule::loading,
                       fmt::format("select read parents {} and tags {}, the transaction holds {} "
                                   "and {}",
                                   joined(got_parents), joined(got_tags), joined(want_parents),
                                   joined(o_.tx.tags))};
    for (const auto& p : parents) {
      seen(p);
      for (const auto& c : p->children) {
        seen(c);
        for (const auto& t : c->tags) seen(t);
      }
    }
    for (const auto& t : tags) seen(t);
  }

  bool read_through_session() {
    note("read every table through Session::query");
    check_transaction_view(rule::in_transaction, "read through Session::query");
    return true;
  }

  // ---- injected failures ----

  bool inject_unique() {
    std::vector<std::string> taken;
    bool parent = chance(50);
    if (parent) {
      for (const auto& [n, row] : o_.tx.parents) taken.push_back(n);
      for (const auto& [n, row] : o_.want.parents)
        if (!o_.tx.parents.count(n)) taken.push_back(n);
    } else {
      for (const auto& n : o_.tx.tags) taken.push_back(n);
      for (const auto& n : o_.want.tags)
        if (!o_.tx.tags.count(n)) taken.push_back(n);
    }
    if (taken.empty()) return false;
    const auto& n = pick(taken);
    note("inject: add {} with the taken name {}", parent ? "a parent" : "a tag", n);
    if (parent) {
      Parent p;
      p.name = n;
      p.score = value();
      session_.add(std::move(p));
    } else {
      Tag t;
      t.name = n;
      session_.add(std::move(t));
    }
    expect_flush_failure<UniqueViolation>("UniqueViolation");
    return true;
  }

  bool inject_check() {
    auto names = held_parents(false);
    if (!names.empty() && chance(60)) {
      const auto& n = pick(names);
      note("inject: {}->score = -1", n);
      parents_.at(n)->score = -1;
    } else {
      Parent p;
      p.name = fresh('p');
      p.score = -1;
      note("inject: add parent {} with score -1", p.name);
      session_.add(std::move(p));
    }
    expect_flush_failure<CheckViolation>("CheckViolation");
    return true;
  }

  bool inject_not_null() {
    auto children = held_children(false);
    auto parents = held_parents(false);
    if (!children.empty() && chance(50)) {
      const auto& n = pick(children);
      note("inject: {}->label = NULL", n);
      children_.at(n)->label.reset();
    } else if (!parents.empty()) {
      auto p = parents_.at(pick(parents));
      auto c = make_child();
      c->label.reset();
      note("inject: {}->children.add(new child {} with a NULL label)", p->name, c->name);
      ensure_children_loaded(p);
      p->children.add(c);
    } else {
      return false;
    }
    expect_flush_failure<NotNullViolation>("NotNullViolation");
    return true;
  }

  // Another statement deletes the row under a tracked object; the flush's UPDATE or DELETE of it
  // then matches no row.
  bool inject_stale() {
    if (chance(50)) {
      std::vector<std::string> names;
      for (const auto& n : held_children(true))
        if (settled(n)) names.push_back(n);  // no association row waits to be written for it
      if (names.empty()) return false;
      const auto& n = pick(names);
      auto v = value();
      note("inject: execute_sql DELETE child {}, then {}->weight = {}", n, n, v);
      session_.execute_sql("DELETE FROM rnd_children WHERE name = $1", n);
      children_.at(n)->weight = v;
    } else {
      std::vector<std::string> names;
      for (const auto& n : held_tags(true)) {
        bool settled_links = true;
        for (const auto& [c, t] : o_.want.links)
          settled_links = settled_links && (t != n || o_.tx.links.count({c, t}));
        for (const auto& [c, t] : o_.tx.links)
          settled_links = settled_links && (t != n || o_.want.links.count({c, t}));
        if (settled_links) names.push_back(n);
      }
      if (names.empty()) return false;
      const auto& n = pick(names);
      note("inject: execute_sql DELETE tag {}, then session.remove({})", n, n);
      session_.execute_sql("DELETE FROM rnd_tags WHERE name = $1", n);
      session_.remove(tags_.at(n));
    }
    expect_flush_failure<StaleDataError>("StaleDataError", rule::stale);
    return true;
  }

  // A value only the deferred foreign key refuses, at COMMIT.
  bool inject_deferred() {
    auto names = held_parents(false);
    if (!names.empty() && chance(60)) {
      const auto& n = pick(names);
      note("inject: {}->rival_id = 2000000000 (deferred foreign key)", n);
      parents_.at(n)->rival_id = 2000000000;
    } else {
      Parent p;
      p.name = fresh('p');
      p.score = value();
      p.rival_id = 2000000000;
      note("inject: add parent {} with rival_id = 2000000000 (deferred foreign key)", p.name);
      session_.add(std::move(p));
    }
    note("  commit -> ForeignKeyViolation at COMMIT");
    expect_error<ForeignKeyViolation>("ForeignKeyViolation", rule::commit_failure,
                                      [&] { session_.commit(); });
    after_transaction_lost(rule::commit_failure, "after a failed COMMIT");
    return true;
  }

  // A statement fails inside the transaction and the caller catches it: COMMIT must not pretend.
  bool inject_aborted() {
    note("flush");
    session_.flush();
    flushed();
    auto n = fresh('p');
    note("inject: execute_sql INSERT parent {} with score -1 (caught CheckViolation)", n);
    expect_error<CheckViolation>("CheckViolation", rule::in_transaction, [&] {
      session_.execute_sql("INSERT INTO rnd_parents (name, score) VALUES ($1, -1)", n);
    });
    note("  commit -> TransactionRolledBack");
    expect_error<TransactionRolledBack>("TransactionRolledBack", rule::rolled_back,
                                        [&] { session_.commit(); });
    after_transaction_lost(rule::rolled_back, "after commit() of an aborted transaction");
    return true;
  }

  // pg_terminate_backend from a second connection; the session's next statement finds out.
  bool inject_terminate() {
    int kind = roll(savepoints_.empty() ? 4 : 3);  // 3: COMMIT, only without savepoints
    if (!session_.in_transaction()) {
      auto t = fresh('t');
      note("execute_sql: INSERT tag {} (begins the transaction)", t);
      session_.execute_sql("INSERT INTO rnd_tags (name) VALUES ($1)", t);
      o_.tx.tags.insert(t);
      o_.want.tags.insert(t);
    }
    int pid = session_.backend_pid();
    if (kind == 3) {
      note("flush");
      session_.flush();
      flushed();
    } else if (kind == 0) {
      auto t = std::make_shared<Tag>();
      t->name = fresh('t');
      note("add tag {}", t->name);
      session_.add(t);
    }
    note("inject: pg_terminate_backend(session backend {})", pid);
    db_.conn().exec("SELECT pg_terminate_backend($1)", pid);
    for (int i = 0; i < 1000; ++i) {
      if (db_.scalar<std::int64_t>("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) ==
          0)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (kind == 3) {
      note("  commit -> TransactionInDoubt");
      expect_error<TransactionInDoubt>("TransactionInDoubt", rule::disconnect,
                                       [&] { session_.commit(); });
      // In doubt: the database says which. It holds either side, never a mixture.
      World db = test::randomized::read_world(db_.conn());
      if (db == o_.tx) {
        note("  resolved: committed");
        o_.committed = o_.tx;
      } else if (db != o_.committed) {
        throw Divergence{rule::disconnect,
                         fmt::format("after an in-doubt COMMIT the database holds neither the "
                                     "committed rows nor the transaction's:\n{}",
                                     test::randomized::diff(o_.tx, db))};
      } else {
        note("  resolved: not committed");
      }
      after_transaction_lost(rule::disconnect, "after an in-doubt COMMIT");
      return true;
    }
    const char* what[] = {"flush", "execute_sql", "Session::query"};
    note("  {} -> Disconnect", what[kind]);
    expect_error<Disconnect>("Disconnect", rule::disconnect, [&] {
      if (kind == 0)
        session_.flush();
      else if (kind == 1)
        session_.execute_sql("INSERT INTO rnd_tags (name) VALUES ($1)", fresh('t'));
      else
        session_.template query<std::string>("SELECT name FROM rnd_tags");
    });
    after_transaction_lost(rule::disconnect, "after the backend was terminated");
    return true;
  }

  // A deadline that passes during COMMIT (only on AsyncSession: Session has no deadlines yet). A
  // row in rnd_slow_commits makes COMMIT sleep in a deferred constraint trigger, for longer than
  // the commit's Timeout. The session inserts that row inside its transaction, so only this COMMIT
  // is slow, and the row is committed exactly when the transaction is: after TransactionInDoubt it
  // says which world the database must hold.
  bool inject_commit_deadline() {
    // Picked 1 time in 5: each costs the Timeout and the cancel, or the whole sleep when the
    // connection is discarded, and a few per run are enough.
    if (!chance(20)) return false;
    auto marker = fresh('d');
    note("inject: execute_sql INSERT rnd_slow_commits {} (COMMIT will sleep {} ms)", marker,
         kCommitSleep.count());
    session_.execute_sql("INSERT INTO rnd_slow_commits (name) VALUES ($1)", marker);
    int pid = session_.backend_pid();
    note("  commit(Timeout{{{} ms}}) -> DeadlineExceeded or TransactionInDoubt",
         kCommitTimeout.count());
    ++commit_deadlines_;
    enum class Ended { returned, deadline_exceeded, in_doubt } outcome = Ended::returned;
    try {
      session_.commit(Timeout{kCommitTimeout});
    } catch (const TransactionInDoubt&) {
      outcome = Ended::in_doubt;
    } catch (const DeadlineExceeded&) {
      outcome = Ended::deadline_exceeded;
    } catch (const std::exception& e) {
      throw Divergence{rule::commit_deadline,
                       fmt::format("expected DeadlineExceeded or TransactionInDoubt, got {}: {}{}",
                                   type_name(e), e.what(), error_hint(e))};
    }
    // A COMMIT the client gave up on may still be running on the server; what it does there
    // counts too, so the checks wait for it.
    wait_until_idle(pid);
    bool committed = db_.scalar<std::int64_t>(
                         "SELECT count(*) FROM rnd_slow_commits WHERE name = $1", marker) == 1;
    if (outcome == Ended::returned) {
      note("  returned: committed");
      if (!committed)
        throw Divergence{rule::commit_deadline,
                         "commit() returned normally but the transaction was not committed"};
      after_commit();
      return true;
    }
    ++failures_;
    if (outcome == Ended::deadline_exceeded) {
      note("  DeadlineExceeded: not committed");
      ++commit_deadlines_exceeded_;
      if (committed)
        throw Divergence{rule::commit_deadline,
                         "commit() threw DeadlineExceeded but the transaction was committed"};
      after_transaction_lost(rule::commit_deadline, "after DeadlineExceeded from COMMIT");
      return true;
    }
    ++commit_deadlines_in_doubt_;
    // In doubt: the database says which (the flush makes `want` of the transaction), never a
    // mixture.
    World db = test::randomized::read_world(db_.conn());
    const World& expected = committed ? o_.want : o_.committed;
    note("  TransactionInDoubt, resolved: {}", committed ? "committed" : "not committed");
    if (db != expected)
      throw Divergence{rule::commit_deadline,
                       fmt::format("after an in-doubt COMMIT the database holds {} but not the "
                                   "rows of that world:\n{}",
                                   committed ? "the transaction's marker row"
                                             : "no marker row of the transaction",
                                   test::randomized::diff(expected, db))};
    if (committed) o_.committed = o_.want;
    after_transaction_lost(rule::commit_deadline, "after an in-doubt COMMIT");
    return true;
  }

  // Until the backend is no longer running a statement (or is gone).
  void wait_until_idle(int pid) {
    for (int i = 0; i < 2500; ++i) {
      if (db_.scalar<std::int64_t>(
              "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", pid) ==
          0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    throw Divergence{rule::commit_deadline,
                     fmt::format("backend {} still runs the COMMIT 5 s after commit() ended", pid)};
  }

  test::TestSchema& db_;
  std::mt19937 rng_;
  Driver session_;
  // Innermost last; destroyed before the session.
  std::vector<typename Driver::Savepoint> savepoints_;
  Oracle o_;
  // The objects held, by name: tracked and live in the model.
  std::map<std::string, std::shared_ptr<Parent>> parents_;
  std::map<std::string, std::shared_ptr<Child>> children_;
  std::map<std::string, std::shared_ptr<Tag>> tags_;
  std::set<std::string> stale_;  // expired (commit, expire_all) and not read since
  std::set<std::string>
      lagging_;  // a raw UPDATE changed the row; the object may hold the old value
  std::vector<std::set<std::string>> lagging_at_savepoint_;  // lagging_ at each begin_nested()
  std::vector<std::set<std::string>> raw_since_savepoint_;   // raw UPDATEs inside each savepoint
  std::map<std::string, std::int32_t> ids_;                  // keys of rows seen, for get()
  bool collections_dirty_ = false;  // unflushed collection edits (a reload would drop them)
  const char* value_rule_ = rule::identity;        // the rule a value read back wrongly breaks
  std::map<std::string, std::size_t> removed_at_;  // name -> the operation that removed it
  std::map<std::string, std::size_t> queried_at_;  // tag -> the Session::query that inserted it
  std::set<std::string> added_;              // objects the session was given (add, collection add)
  std::set<std::string> new_in_collection_;  // new tags only a collection holds, until a flush
  std::set<std::string> cascading_;  // orphans and children of removed parents, until a flush
  std::set<std::string> expunged_;   // expunged children, until a reload fills collections again
  int last_name_ = 3;
  std::int32_t next_value_ = 100;
  std::vector<std::string> log_;
  int commits_ = 0;
  int failures_ = 0;
  int commit_deadlines_ = 0;  // deadlines injected during COMMIT, and how they ended:
  int commit_deadlines_exceeded_ = 0;
  int commit_deadlines_in_doubt_ = 0;
};

struct Outcome {
  std::uint32_t seed;
  Divergence divergence;
  std::string log;
};

// A divergence's kind: its rule and first line with names and numbers taken out.
std::string kind_of(const Divergence& d) {
  std::string line = d.what.substr(0, d.what.find('\n'));
  std::string out = d.rule + "|";
  for (char ch : line)
    if (!std::isdigit(static_cast<unsigned char>(ch))) out += ch;
  return out;
}

std::optional<long> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (!text || !*text) return std::nullopt;
  return std::strtol(text, nullptr, 10);
}

// The tables, the constraints the models do not declare, and the slow COMMIT of
// inject_commit_deadline().
void create_tables(test::TestSchema& db) {
  Metadata::of<Parent, Child, Tag, rnd::ChildTag>().create_all(db.conn());
  db.conn().execute_script(
      "ALTER TABLE rnd_children ALTER COLUMN label SET NOT NULL;"
      "ALTER TABLE rnd_parents ADD CONSTRAINT rnd_parents_rival_deferred FOREIGN KEY (rival_id) "
      "REFERENCES rnd_parents (id) DEFERRABLE INITIALLY DEFERRED;"
      "SET lock_timeout = '10s'");
  db.conn().execute_script(fmt::format(
      "CREATE TABLE rnd_slow_commits (name text PRIMARY KEY);"
      "CREATE FUNCTION rnd_sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN PERFORM pg_sleep({}); RETURN NULL; END $$;"
      "CREATE CONSTRAINT TRIGGER rnd_slow_commit AFTER INSERT ON rnd_slow_commits "
      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rnd_sleep_at_commit()",
      static_cast<double>(kCommitSleep.count()) / 1000.0));
}

// PGORM_RANDOMIZED_SEED=S: that seed only; else seeds 1..PGORM_RANDOMIZED_SEQUENCES (200).
std::vector<std::uint32_t> seeds() {
  std::vector<std::uint32_t> out;
  if (auto seed = env_number("PGORM_RANDOMIZED_SEED")) {
    out.push_back(static_cast<std::uint32_t>(*seed));
  } else {
    long n = std::clamp(env_number("PGORM_RANDOMIZED_SEQUENCES").value_or(200L), 1L, 1000000L);
    for (long i = 1; i <= n; ++i) out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

struct Totals {
  std::vector<Outcome> diverged;
  int commits = 0;
  int failures = 0;
  int commit_deadlines = 0;
  int commit_deadlines_exceeded = 0;
  int commit_deadlines_in_doubt = 0;
};

// Plays the sequence of every seed on a fresh session of the driver's kind.
template <class Driver>
Totals play_all(test::TestSchema& db) {
  constexpr int kOperations = 50;
  Totals totals;
  for (auto seed : seeds()) {
    Sequence<Driver> sequence(db, seed);
    try {
      sequence.play(kOperations);
    } catch (const Divergence& d) {
      totals.diverged.push_back({seed, d, sequence.log_text()});
    }
    totals.commits += sequence.commits();
    totals.failures += sequence.failures();
    totals.commit_deadlines += sequence.commit_deadlines();
    totals.commit_deadlines_exceeded += sequence.commit_deadlines_exceeded();
    totals.commit_deadlines_in_doubt += sequence.commit_deadlines_in_doubt();
  }
  return totals;
}

// One full report per kind of divergence (its first seed), then every diverging seed.
void report(const std::vector<Outcome>& diverged) {
  std::set<std::string> reported;
  std::string summary;
  for (const auto& o : diverged) {
    summary += fmt::format("  seed {}: {}\n", o.seed,
                           o.divergence.what.substr(0, o.divergence.what.find('\n')));
    if (!reported.insert(kind_of(o.divergence)).second) continue;
    INFO("replay: PGORM_RANDOMIZED_SEED=" << o.seed);
    INFO("operation log:\n" << o.log);
    FAIL_CHECK("seed " << o.seed << " diverged from the model\nrule: " << o.divergence.rule << "\n"
                       << o.divergence.what);
  }
  INFO("diverging seeds:\n" << summary);
  CHECK(diverged.empty());
}

}  // namespace

TEST_CASE("randomized unit of work sequences match the model of what must be committed",
          "[session][randomized]") {
  test::TestSchema db;
  create_tables(db);

  Totals totals = play_all<SyncDriver>(db);

  report(totals.diverged);
  // The sequences did real work: commits succeeded and injected failures were raised.
  CHECK(totals.commits > 0);
  CHECK(totals.failures > 0);
}

// The same sequences on AsyncSession, without savepoints (it has no begin_nested(): those
// operations are never generated for it) and with one more injected failure: a deadline that
// passes during COMMIT.
TEST_CASE("async randomized unit of work sequences match the model of what must be committed",
          "[async][session][randomized]") {
  test::TestSchema db;
  create_tables(db);

  Totals totals = play_all<AsyncDriver>(db);

  report(totals.diverged);
  INFO("deadlines during COMMIT: " << totals.commit_deadlines << " ("
                                   << totals.commit_deadlines_exceeded << " DeadlineExceeded, "
                                   << totals.commit_deadlines_in_doubt << " TransactionInDoubt)");
  CHECK(totals.commits > 0);
  CHECK(totals.failures > 0);
  // Over the default 200 sequences, a deadline passed during COMMIT at least once (a replay of one
  // seed may have none).
  if (seeds().size() >= 200) CHECK(totals.commit_deadlines > 0);
}
