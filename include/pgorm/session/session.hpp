// pgorm::Session: the unit of work. It tracks the objects it loads or is given (identity map),
// finds what changed by comparing with the state it loaded, and writes everything at flush or
// commit in foreign-key order with as few round trips as it can.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pgorm/engine/cluster.hpp"
#include "pgorm/engine/engine.hpp"
#include "pgorm/query/dml.hpp"
#include "pgorm/query/select.hpp"
#include "pgorm/session/identity.hpp"
#include "pgorm/sql/model_sql.hpp"

namespace pgorm {

class Session;

// session.remove(obj, pgorm::hard): a real DELETE even for SoftDelete models.
struct hard_t {};
inline constexpr hard_t hard{};

enum class IsolationLevel { read_committed, repeatable_read, serializable };

struct SessionOptions {
  // Flush pending changes before every query (SQLAlchemy's autoflush). Off by default.
  bool autoflush = false;
  // After commit, the loaded state is stale: objects keep their values and stay tracked (they
  // never turn into unusable "expired" objects), and the next get() or query that reads their
  // rows refreshes them from the database.
  bool expire_on_commit = true;
};

// How Session::stream() and AsyncSession::stream() read a result (docs/session.md, "Streaming").
struct StreamOptions {
  // Rows per FETCH: one round trip per chunk, and at most this many rows in memory at a time.
  std::size_t chunk_rows = 1000;
};

// The rows of a stream() as an input range: std::shared_ptr<T> for tracked objects, values
// otherwise (session/stream.hpp).
template <class Row>
class Stream;

namespace detail {

class StreamCursor;

// One statement of a flush and what to do with its result (write generated keys and server values
// back into the objects, update the identity map). Planned once, without I/O, by FlushPlan; the
// sync session sends each batch statement by statement or pipelined, the async one as a pipeline.
struct PlannedWrite {
  query::Statement statement;
  std::function<void(const Result&)> apply;  // may be empty
  // Worth a prepared statement (the text repeats: not a multi-row VALUES list).
  bool prepared;
  // An UPDATE or DELETE whose row count can fail the flush (StaleDataError) once its result is
  // read: a COMMIT must not ride in the same segment.
  bool checked;
};

// A read the relationship cascades of a flush need before they can go on: a collection to load
// before its members are deleted, every child row of an owner deleted for real.
struct PlannedRead {
  query::Statement statement;
  std::function<void(const Result&)> apply;
};

class Tracker;
struct WorkList;

// What the cascades of one flush share across their rounds. No I/O: reads are planned here and
// run by the session, which feeds the results to their apply() before the next round.
struct CascadeState {
  Tracker& tracker;
  WorkList& works;
  std::vector<PlannedRead> reads;
  // Every child row (soft-deleted ones included) of an owner being deleted for real, by (owner,
  // relationship), once read.
  std::map<std::pair<const void*, const void*>, std::vector<std::shared_ptr<void>>> every_child;
};

// The per-model part of a session, behind one interface so that a flush can order the work of
// all models by their foreign keys.
class ModelWorkBase {
 public:
  virtual ~ModelWorkBase() = default;
  virtual const TableInfo& table() const noexcept = 0;
  virtual bool has_changes() const = 0;
  // Objects added and not inserted yet (a later insert wave).
  virtual bool has_pending() const noexcept = 0;
  virtual bool has_relations() const noexcept = 0;
  // Relationship cascades (save-update, delete, delete-orphan); true if it changed anything. Rows
  // they need first are appended to state.reads.
  virtual bool cascade(CascadeState& state) = 0;
  // Foreign keys of tracked rows follow their related objects.
  virtual void sync_keys() = 0;
  // Insert waves: the pending objects (their addresses) of this model go into `pending`; those
  // that must wait for another pending object's generated key go into `waiting`, and
  // `later_waits` is set when an UPDATE or association row of this model needs such a key.
  virtual void collect_pending(std::unordered_set<const void*>& pending) const = 0;
  virtual void mark_waiting(const std::unordered_set<const void*>& pending,
                            std::unordered_set<const void*>& waiting, bool& later_waits) const = 0;
  // The statements of a flush, appended to `out` without running them: INSERTs of the pending
  // objects not in `waiting`, UPDATEs of changed rows, association rows, DELETEs (or soft deletes).
  virtual void plan_inserts(std::vector<PlannedWrite>& out,
                            const std::unordered_set<const void*>& waiting) = 0;
  virtual void plan_updates(std::vector<PlannedWrite>& out) = 0;
  virtual void plan_associations(std::vector<PlannedWrite>& out) = 0;
  virtual void plan_deletes(std::vector<PlannedWrite>& out) = 0;
  // keep_pending: marks loaded state stale (commit with expire_on_commit, expire_all());
  // otherwise forgets everything (rollback).
  virtual void expire(bool keep_pending) = 0;
  virtual std::size_t tracked() const noexcept = 0;

  // Savepoints: while `depth` savepoints are open, each identity entry is journaled before its
  // first change, so that rolling back to a savepoint restores what the database holds again.
  virtual void set_savepoint_depth(int depth) noexcept = 0;
  // RELEASE SAVEPOINT: the changes journaled at `depth` now belong to the enclosing savepoint.
  virtual void release_savepoint(int depth) = 0;
  // ROLLBACK TO SAVEPOINT: entries changed since go back to their saved state, rows inserted since
  // and objects still pending leave the session, unflushed changes are undone, and relationships
  // are no longer loaded (they may hold objects that left the session).
  virtual void rollback_savepoint(int depth) = 0;
  // Objects deleted by the flush under way (the session then takes them out of every loaded
  // collection of every model with forget_related(), and clears the list).
  virtual std::vector<const void*> gone() const = 0;
  virtual void clear_gone() noexcept = 0;
  // Takes `objects` (sorted as std::less<const void*> orders them), of the model whose type key
  // is `type`, out of the loaded collections of this model's tracked objects.
  virtual void forget_related(const void* type, const std::vector<const void*>& objects) = 0;
};

template <model T>
class ModelWork;

// Throws TransactionRolledBack: `why` COMMIT did not commit, with the failure that aborted the
// transaction when it is known. Shared by Session and AsyncSession.
[[noreturn]] void throw_rolled_back(const std::optional<ErrorInfo>& aborted_by,
                                    std::string_view why);
// What COMMIT's failure means, worded once for Session and AsyncSession:
// the answer to COMMIT never came (`what` says why): the outcome is unknown (TransactionInDoubt);
ErrorInfo commit_in_doubt(ErrorInfo cause, std::string_view what);
// the deadline cancelled the transaction before it committed (DeadlineExceeded).
ErrorInfo commit_cancelled(ErrorInfo cause);
// An INSERT or UPDATE ... RETURNING of a flush (`action`) came back with rows that cannot be
// matched to its objects (InterfaceError).
[[noreturn]] void throw_returned_rows(std::string_view action, int rows, std::size_t objects);
// COMMIT succeeded and `what` failed after it (`failure`, any exception): InterfaceError saying
// that the transaction was committed, so that the caller does not retry it.
[[noreturn]] void throw_committed_but(const std::exception_ptr& failure, std::string_view what);
// What an exception says, as the ErrorInfo of pgorm's errors (its message for any other).
ErrorInfo info_of(const std::exception_ptr& failure);

// The model's entry in a session's work list, created on first use (definitions in
// model_work.hpp). Shared by Session and AsyncSession.
template <model T>
ModelWork<T>* find_work_in(const WorkList& works);
template <model T>
ModelWork<T>& work_in(WorkList& works);
// The statement of a select whose rows the session reads itself: for select<T>() without joined
// relationships (their columns belong to other models), binary results when the model's columns
// all read binary (binary_rows<T>()). Shared by Session and AsyncSession.
template <class Row, class From, class Models>
query::Statement rows_statement(const query::Select<Row, From, Models>& select) {
  query::Statement statement = select.statement();
  if constexpr (model<Row>) {
    if (select.eager_readers().empty() && binary_rows<Row>())
      statement.params.set_binary_results(true);
  }
  return statement;
}
// Rows of a select<Row>() result with its joined relationships read (a joined collection repeats
// its owner on several rows: the owner is kept once). Shared by Session and AsyncSession.
template <class Row, class From, class Models>
void read_eager(const query::Select<Row, From, Models>& select, const Result& result,
                std::vector<std::shared_ptr<Row>>& rows, WorkList& works) {
  if (select.eager_readers().empty()) return;
  for (const auto& read : select.eager_readers()) read(result, rows, works);
  std::vector<std::shared_ptr<Row>> unique;
  std::set<const Row*> seen;
  for (auto& r : rows)
    if (seen.insert(r.get()).second) unique.push_back(std::move(r));
  rows = std::move(unique);
}
// The models of a session in flush order: parents before children by their foreign keys
// (declaration order inside a cycle). Shared by Session and AsyncSession.
std::vector<ModelWorkBase*> flush_order(const WorkList& works);

// One flush of a session, planned in one place for Session and AsyncSession; they only run what
// it returns and feed the results back. The cascades run first, until they settle; then the writes
// go out in batches: an insert wave (rows that refer to an object still pending wait for the next
// wave, so that keys the server generates reach them), and after the last wave the UPDATEs,
// association rows and DELETEs (children first) -- in the same batch as the last wave unless they
// need its keys.
class FlushPlan {
 public:
  FlushPlan(Tracker& tracker, WorkList& works) : state_{tracker, works, {}, {}} {}
  // Runs the cascades until they settle or need rows from the database. Returns those reads: the
  // caller runs them, applies each result, and calls again until this returns none.
  std::vector<PlannedRead> cascade();
  // The next batch of statements, in order; empty when the flush is written.
  std::vector<PlannedWrite> next();
  bool done() const noexcept { return phase_ == Phase::done; }

 private:
  enum class Phase { inserts, done };
  CascadeState state_;
  Phase phase_ = Phase::inserts;
  int rounds_ = 0;
  std::vector<ModelWorkBase*> ordered_;
};

template <class T>
inline constexpr char type_key = 0;

// The thread currently inside a call of a session: a session belongs to one thread at a time, and
// a second thread is refused with InterfaceError rather than left waiting on the socket forever.
struct ThreadOwner {
  std::atomic<std::thread::id> id{};
  ThreadOwner() = default;
  ThreadOwner(ThreadOwner&&) noexcept {}
  ThreadOwner& operator=(ThreadOwner&&) noexcept { return *this; }
};

template <class T>
struct tracked_type {
  using type = T;
};
template <class T>
struct tracked_type<std::shared_ptr<T>> {
  using type = T;
};

// What Session and AsyncSession share without I/O: the objects they track, one ModelWork per
// model. add/remove/expunge only mark objects; the sessions' flush writes them.
class Tracker {
 public:
  // Tracks a new object; it is INSERTed at the next flush. Returns the tracked object: keep using
  // it (the session writes generated keys and server defaults back into it).
  template <model T>
  std::shared_ptr<T> add(T object) {
    return add(std::make_shared<T>(std::move(object)));
  }
  template <model T>
  std::shared_ptr<T> add(std::shared_ptr<T> object) {
    return work<T>().add(std::move(object));
  }
  // Adds every object of a range of T or of std::shared_ptr<T>.
  template <class Range>
  auto add_all(Range&& objects) {
    using Element = std::remove_cvref_t<decltype(*std::begin(objects))>;
    using T = typename tracked_type<Element>::type;
    std::vector<std::shared_ptr<T>> out;
    if constexpr (requires { std::size(objects); }) out.reserve(std::size(objects));
    for (auto&& o : objects) out.push_back(add(o));
    return out;
  }
  // Marks for deletion at flush: soft delete (deleted_at) for SoftDelete models.
  // An object removed before it was inserted just leaves the session (and every collection).
  template <model T>
  void remove(const std::shared_ptr<T>& object) {
    if (work<T>().remove(object, false)) forget_everywhere(&type_key<T>, {object.get()});
  }
  template <model T>
  void remove(const std::shared_ptr<T>& object, hard_t) {
    if (work<T>().remove(object, true)) forget_everywhere(&type_key<T>, {object.get()});
  }
  // Stops tracking the object (it stays a valid value); it leaves every loaded collection of the
  // session's objects, so no flush re-adds it through a save-update cascade.
  template <model T>
  void expunge(const std::shared_ptr<T>& object) {
    if (work<T>().expunge(object)) forget_everywhere(&type_key<T>, {object.get()});
  }
  // Whether the session tracks this object (added or loaded, not expunged).
  template <model T>
  bool contains(const std::shared_ptr<T>& object) const {
    auto* w = find_work<T>();
    return w && w->contains(object);
  }
  // Whether the object is marked for deletion at the next flush.
  template <model T>
  bool is_removed(const std::shared_ptr<T>& object) const {
    auto* w = find_work<T>();
    return w && w->is_removed(object);
  }

 protected:
  // For one() (required) and one_or_none(): NoResultFound / MultipleResultsFound.
  static void check_one(std::size_t rows, bool required);
  // Takes objects of the model `type` (sorted as std::less<const void*> orders them, so that each
  // collection is cleared in one pass) out of the loaded collections of every tracked object.
  void forget_everywhere(const void* type, const std::vector<const void*>& objects);
  // After a flush: what it deleted leaves every loaded collection.
  void forget_deleted();

  template <model T>
  ModelWork<T>& work() {
    return work_in<T>(works_);
  }
  template <model T>
  ModelWork<T>* find_work() const {
    return find_work_in<T>(works_);
  }

  WorkList works_;
};

}  // namespace detail

class Session : public detail::Tracker {
 public:
  explicit Session(Engine engine, SessionOptions options = {});
  // Plain reads outside a transaction go to a replica of the cluster, everything else to its
  // primary (see "Read replicas" in docs/deployment.md).
  explicit Session(Cluster cluster, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- the unit of work (add, add_all, remove, expunge, contains, is_removed: detail::Tracker)

  // The object with this primary key: from the identity map when this session already holds it,
  // else one SELECT. nullptr when there is no such row (or it is soft-deleted).
  template <model T, class... Keys>
  std::shared_ptr<T> get(const Keys&... keys) {
    static_assert(sizeof...(Keys) > 0, "pgorm: get<T>(key...) needs the primary key value(s)");
    prepare_read();
    return work<T>().get(*this, keys...);
  }
  // Reloads the object's row, overwriting its members.
  template <model T>
  void refresh(const std::shared_ptr<T>& object) {
    work<T>().refresh(*this, object);
  }
  // Copies a detached object's values onto the tracked object with the same key (loading it if
  // needed, adding it if there is no such row) and returns the tracked object.
  template <model T>
  std::shared_ptr<T> merge(const T& detached) {
    return work<T>().merge(*this, detached);
  }
  // Loads a relationship of the objects with one query per level of the path:
  //   session.load(users, &User::todos);  session.load(user, &User::todos, &Todo::categories);
  template <model T, class... Path>
  void load(const std::vector<std::shared_ptr<T>>& objects, Path... path);
  template <model T, class... Path>
  void load(const std::shared_ptr<T>& object, Path... path) {
    load(std::vector<std::shared_ptr<T>>{object}, path...);
  }
  // Tracks the objects of rows read by hand (identity map rules as for queries).
  template <model T>
  std::vector<std::shared_ptr<T>> adopt(const Result& rows) {
    return work<T>().load(rows);
  }
  template <model T>
  std::shared_ptr<T> adopt_row(const detail::RowReader<T>& reader, int row) {
    return work<T>().load_row(reader, row);
  }

  // Writes pending inserts, updates and deletes (inside the transaction, which stays open).
  void flush();
  // flush() then COMMIT; returns the connection to the pool.
  void commit();
  // ROLLBACK; pending objects are dropped and loaded state forgotten (objects stay valid).
  void rollback();
  // rollback() and release everything; the session can be used again afterwards.
  void close();
  // Forgets all loaded state, so the next reads go to the database.
  void expire_all();

  // ---- transactions ----
  class Transaction;
  class Savepoint;
  // A transaction scope: commit() or it rolls back when it goes out of scope. Under READ COMMITTED
  // the BEGIN is sent with the first write or locking read, so a scope that only reads costs no
  // BEGIN/COMMIT round trips (each statement sees the latest committed data either way).
  Transaction begin();
  // REPEATABLE READ or SERIALIZABLE: BEGIN ISOLATION LEVEL ... is sent now, so every read of the
  // scope sees one snapshot.
  Transaction begin(IsolationLevel level);
  // SAVEPOINT: a nested transaction that can roll back alone.
  Savepoint begin_nested();
  bool in_transaction() const noexcept { return in_transaction_; }

  // ---- queries ----

  // Objects for select<T>() (tracked, from the identity map when already loaded); values for
  // selects of columns.
  template <class Row, class From, class Models>
  auto execute(const query::Select<Row, From, Models>& select) {
    prepare_read();
    Result result =
        run(detail::rows_statement(select), select.parts().lock != query::LockMode::none);
    if constexpr (model<Row>) {
      auto rows = work<Row>().load(result);
      detail::read_eager(select, result, rows, works_);
      for (const auto& loader : select.loaders()) run_loads(*loader(rows));
      return rows;
    } else {
      return result.as<Row>();
    }
  }
  // A huge result in chunks of options.chunk_rows rows, through a server-side cursor inside the
  // session's transaction (docs/session.md, "Streaming"): an input range, usable in range-for.
  // select<T>() gives tracked objects (std::shared_ptr<T>, identity map rules as for execute());
  // a select of columns gives values. While the stream is open any other statement of the session
  // throws StreamOpen; the stream must not outlive the session.
  //   for (const auto& todo : session.stream(select<Todo>(), {.chunk_rows = 1000})) ...
  template <class Row, class From, class Models>
  auto stream(const query::Select<Row, From, Models>& select, StreamOptions options = {}) {
    if constexpr (model<Row>)
      return Stream<std::shared_ptr<Row>>(open_stream(select, options));
    else
      return Stream<Row>(open_stream(select, options));
  }
  // The same, never tracked: plain values, tuples or detached objects.
  //   for (const Todo& t : session.stream_values(select<Todo>(), {.chunk_rows = 1000})) ...
  template <class Row, class From, class Models>
  Stream<Row> stream_values(const query::Select<Row, From, Models>& select,
                            StreamOptions options = {}) {
    return Stream<Row>(open_stream(select, options));
  }
  // Plain values, not tracked: the fastest way to read rows you will not change.
  template <class Row, class From, class Models>
  std::vector<Row> values(const query::Select<Row, From, Models>& select) {
    prepare_read();
    return run(detail::rows_statement(select), select.parts().lock != query::LockMode::none)
        .template as<Row>();
  }
  // The first row, or none (nullptr / std::nullopt).
  template <class Row, class From, class Models>
  auto first(const query::Select<Row, From, Models>& select) {
    auto rows = execute(select.limit(1));
    return first_of(std::move(rows));
  }
  // Exactly one row: NoResultFound / MultipleResultsFound otherwise.
  template <class Row, class From, class Models>
  auto one(const query::Select<Row, From, Models>& select) {
    auto rows = execute(select.limit(2));
    check_one(rows.size(), true);
    return std::move(rows.front());
  }
  template <class Row, class From, class Models>
  auto one_or_none(const query::Select<Row, From, Models>& select) {
    auto rows = execute(select.limit(2));
    check_one(rows.size(), false);
    return first_of(std::move(rows));
  }
  // The single value of a one-column select, e.g. select(count()).from<Todo>().
  template <class Row, class From, class Models>
  Row scalar(const query::Select<Row, From, Models>& select) {
    static_assert(!model<Row> && !detail::is_tuple<Row>::value,
                  "pgorm: scalar() needs a select of one column or expression");
    auto rows = values(select);
    check_one(rows.size(), true);
    return std::move(rows.front());
  }
  // SELECT count(*) of the rows the select would return.
  template <class Row, class From, class Models>
  std::int64_t count(const query::Select<Row, From, Models>& select) {
    prepare_read();
    return run(select.count_statement(), false).template value<std::int64_t>(0, 0);
  }
  template <class Row, class From, class Models>
  bool exists(const query::Select<Row, From, Models>& select) {
    prepare_read();
    return run(select.exists_statement(), false).template value<bool>(0, 0);
  }

  // Bulk UPDATE / DELETE / INSERT: the number of rows, or with .returning() the rows as values.
  // They bypass the identity map: call refresh() or expire_all() for objects they changed.
  template <model T, bool W, bool R, class S>
  auto execute(const query::Update<T, W, R, S>& statement) {
    return write_statement<T, R>(statement.statement());
  }
  template <model T, bool W, bool R, class S>
  auto execute(const query::Delete<T, W, R, S>& statement) {
    return write_statement<T, R>(statement.statement());
  }
  template <model T, bool R, query::ConflictStage C, class Row>
  auto execute(const query::Insert<T, R, C, Row>& statement) {
    if (statement.size() == 0) {
      if constexpr (R)
        return std::vector<Row>{};
      else
        return std::int64_t{0};
    }
    prepare_read();
    // Multi-row texts change with the row count: sent unnamed, not as prepared statements.
    if constexpr (R) {
      std::vector<Row> rows;
      for (const auto& st : statement.statements()) {
        auto part = run(st, true, false).template as<Row>();
        rows.insert(rows.end(), std::make_move_iterator(part.begin()),
                    std::make_move_iterator(part.end()));
      }
      return rows;
    } else {
      // Many rows go in one COPY where it writes what the INSERT would (docs/queries.md).
      if (statement.size() >= statement.kCopyFrom)
        if (auto copy = statement.copy_in())
          if (auto copied = run_copy(*copy, table_info<T>().name)) return copied->affected_rows();
      std::int64_t affected = 0;
      for (const auto& st : statement.statements())
        affected += run(st, true, false).affected_rows();
      return affected;
    }
  }

  // Raw SQL with bind parameters, rows mapped to models (by column name), tuples or a scalar.
  // It runs inside the session's transaction (BEGIN first if none is open): pgorm cannot tell a
  // read from a write in SQL it did not generate (INSERT ... RETURNING, a function that writes).
  template <class Row, class... Args>
  std::vector<Row> query(std::string_view sql, const Args&... args) {
    Params params;
    (params.add(args), ...);
    prepare_read();
    return run_sql(sql, params, true).template as<Row>();
  }
  // Raw SQL that writes: runs inside the session's transaction; returns the affected row count.
  template <class... Args>
  std::int64_t execute_sql(std::string_view sql, const Args&... args) {
    Params params;
    (params.add(args), ...);
    prepare_read();
    return run_sql(sql, params, true).affected_rows();
  }

  // Statements this session has sent (queries, flush statements, BEGIN/COMMIT): lets tests and
  // users assert the cost of a unit of work.
  std::uint64_t statements_executed() const noexcept { return statements_; }
  // Times this session waited for the server (primary and replica connections): statements sent
  // together in one pipeline count once. A one-row commit is one round trip (docs/session.md).
  std::uint64_t round_trips() const noexcept;
  // Unique in the process: what StatementEvent::session_id names this session by.
  std::uint64_t id() const noexcept { return id_; }

  // ---- deadlines ----
  // Each call of this session that reaches the server (a query, get(), flush(), commit(), ...)
  // must finish within `timeout` (none: no client-side deadline). Starts as the engine's
  // EngineOptions::default_timeout. When it passes, the statement in flight is cancelled on the
  // server and the call throws DeadlineExceeded, or TransactionInDoubt when COMMIT's outcome
  // cannot be known (docs/session.md, "Deadlines"). Waiting for a pooled connection is bounded by
  // pool_timeout, opening one by connect_timeout.
  void set_timeout(std::optional<std::chrono::milliseconds> timeout) noexcept {
    timeout_ = timeout;
  }
  std::optional<std::chrono::milliseconds> timeout() const noexcept { return timeout_; }

  // ---- read replicas (a session made from a Cluster) ----
  // Where this session's last commit ended in the primary's log (empty before the first commit
  // or without replicas): hand it to the session of a later request with read_after() so that it
  // reads what this one wrote.
  ReadPosition read_position() const noexcept { return position_; }
  // Later reads run only where `position` has been replayed (a replica that catches up within
  // ClusterOptions::read_your_writes_wait, else the primary). The session's own commits do this
  // by themselves.
  void read_after(ReadPosition position) noexcept;
  // Every statement goes to the primary (on), or plain reads go to replicas again (off).
  void read_from_primary(bool on = true) noexcept;
  // The session's connection (checked out from the pool on first use).
  Connection& connection();
  const Engine& engine() const noexcept { return engine_; }
  const SessionOptions& options() const noexcept { return options_; }

  // ---- used by the per-model work (not part of the user API) ----
  // prepared: through the connection's prepared statement cache (for statement texts that repeat).
  Result run(const query::Statement& statement, bool needs_transaction, bool prepared = true);
  // Statements sent together in one round trip, inside the transaction.
  void run_pipeline(const std::vector<query::Statement>& statements,
                    std::vector<Result>& completed);
  Result run_sql(std::string_view sql, const Params& params, bool needs_transaction);
  // Runs a relationship loading cursor to its end (one statement per level).
  void run_loads(detail::LoadCursor& cursor);
  detail::WorkList& works() noexcept { return works_; }

 private:
  friend class detail::StreamCursor;
  template <class Row, class From, class Models>
  detail::StreamCursor open_stream(const query::Select<Row, From, Models>& select,
                                   StreamOptions options);
  // Throws StreamOpen while a stream of this session is open (unless the stream itself calls).
  void refuse_while_streaming() const;

  template <model T, bool R>
  auto write_statement(const query::Statement& statement) {
    prepare_read();
    Result result = run(statement, true);
    if constexpr (R)
      return result.as<T>();
    else
      return result.affected_rows();
  }

  void prepare_read();
  void ensure_transaction();
  void begin_transaction(const char* sql);
  void release_connection() noexcept;
  void after_failure() noexcept;
  // The transaction is over (committed, rolled back or lost): forget loaded state and savepoints.
  void end_transaction(bool committed) noexcept;
  // Sends ROLLBACK if a transaction is open; never throws (a broken connection is discarded).
  void rollback_quietly() noexcept;
  // A statement failed inside the transaction: remembered for the error COMMIT then reports.
  void note_failure(const Error& e);
  [[noreturn]] void throw_rolled_back(std::string why);
  void rollback_to_innermost_savepoint();
  // After `failure` inside the innermost savepoint: rolls back to it. When that fails too, the
  // whole transaction goes, and this throws TransactionRolledBack (`why`, naming `failure` when it
  // is the server's), so that the caller cannot commit the rest as if only the savepoint failed.
  void restore_innermost_savepoint(const std::exception_ptr& failure, std::string_view why);
  // flush(), and with `commit` the COMMIT too: in the pipeline of the last batch of writes when
  // no statement of it can still fail the flush once its result is read. Returns whether the
  // transaction was committed (and ended); else commit() sends COMMIT itself.
  bool flush_impl(bool commit);
  // COPY ... FROM STDIN inside the session's transaction, when the table takes it as it takes
  // an INSERT: a plain or partitioned table without INSERT rules (COPY does not apply them) or
  // row-level security (COPY refuses it). std::nullopt, nothing sent, otherwise.
  std::optional<Result> run_copy(const query::CopyIn& copy, std::string_view table);
  // One batch of a FlushPlan: one statement alone, several in one pipeline; results applied.
  void run_writes(std::vector<detail::PlannedWrite>& writes);
  // The last batch with COMMIT after it (and BEGIN before it when the transaction has not begun):
  // one round trip; a unit of work of one statement is sent alone, in autocommit. Throws what commit() would for each way it can fail; returns the error of
  // writing the results back into the objects after COMMIT succeeded, if any.
  std::exception_ptr run_writes_and_commit(std::vector<detail::PlannedWrite>& writes);
  // Counts a connection's round trips into the session's, then lets it go.
  void let_go(std::optional<PooledConnection>& c, std::uint64_t base) noexcept;
  // How many savepoints are open; sync_savepoint_depth() tells every model's work.
  int savepoint_depth() const noexcept { return static_cast<int>(savepoints_.size()); }
  void sync_savepoint_depth() noexcept;
  void refuse_begin_in_transaction() const;
  // One call that reaches the server: the thread check, the connection, BEGIN when needed, the
  // statement count, and what a failure does to the session (Disconnect discards the connection
  // and the transaction; any other error is remembered for COMMIT).
  template <class F>
  auto send(bool needs_transaction, std::size_t statements, F&& call);
  class InUse;
  template <class V>
  static auto first_of(std::vector<V> rows) {
    if constexpr (requires { typename V::element_type; }) {
      return rows.empty() ? V{} : std::move(rows.front());
    } else {
      return rows.empty() ? std::optional<V>{} : std::optional<V>(std::move(rows.front()));
    }
  }

  // call() on `c` within the deadline of the session's call under way, if any: a statement still
  // running then is cancelled (DeadlineExceeded); a connection that does not answer the cancel
  // within cancel_grace is cut and the session's transaction is lost (after_failure()).
  template <class F>
  auto bounded(Connection& c, F&& call);
  // The replica connection for a plain read, or nullptr for the primary's (counted per statement).
  Connection* replica_for_read();
  // Lets the replica connection go; the next plain read chooses again.
  void drop_replica() noexcept;
  // COMMIT; with replicas, in the same round trip, the position read-your-writes needs.
  Result send_commit(Connection& c);

  Engine engine_;
  SessionOptions options_;
  std::optional<PooledConnection> connection_;
  // Read replicas: the cluster, the connection plain reads use until the session's connections
  // are released, and the position those reads must have replayed.
  Cluster cluster_;  // empty without replicas
  std::optional<PooledConnection> replica_;
  bool replica_chosen_ = false;  // the choice (a replica or the primary) holds until release
  bool primary_only_ = false;
  ReadPosition position_;    // end of this session's last commit
  ReadPosition read_after_;  // what plain reads must see
  std::optional<std::chrono::milliseconds> timeout_;
  // Set while a call of the session with a timeout is under way (by the outermost InUse).
  std::optional<std::chrono::steady_clock::time_point> call_deadline_;
  bool in_transaction_ = false;
  bool flushing_ = false;
  int savepoint_counter_ = 0;
  std::vector<std::string> savepoints_;  // names of the open savepoints, innermost last
  std::uint64_t transaction_epoch_ = 0;  // bumped when a transaction ends
  std::optional<ErrorInfo> aborted_by_;  // the statement that failed inside the transaction
  std::uint64_t statements_ = 0;
  std::uint64_t round_trips_done_ = 0;     // of connections the session let go
  std::uint64_t round_trips_base_ = 0;     // connection_'s count when checked out
  std::uint64_t replica_trips_base_ = 0;   // replica_'s
  std::uint64_t id_ = detail::next_session_id();
  detail::ThreadOwner owner_;  // the thread inside a call of this session, if any
  // Streams: the number of the open one (0: none), how many were opened (cursor names), and
  // whether the call under way is the open stream's own (DECLARE, FETCH, CLOSE).
  std::uint64_t open_stream_ = 0;
  std::uint64_t streams_opened_ = 0;
  bool stream_call_ = false;
};

// session.begin(): commit() or it rolls back when it goes out of scope.
class Session::Transaction {
 public:
  explicit Transaction(Session& session) : session_(&session) {}
  Transaction(Transaction&& other) noexcept : session_(std::exchange(other.session_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  void commit();
  void rollback();

 private:
  Session* session_;
};

// session.begin_nested(): commit() flushes and releases the savepoint; rollback() (or leaving the
// scope without commit()) rolls back to it. A flush that fails while a savepoint is open rolls back
// to the innermost savepoint only: the enclosing transaction stays usable.
class Session::Savepoint {
 public:
  Savepoint(Session& session, std::string name, int depth, std::uint64_t epoch)
      : session_(&session), name_(std::move(name)), depth_(depth), epoch_(epoch) {}
  Savepoint(Savepoint&& other) noexcept
      : session_(std::exchange(other.session_, nullptr)),
        name_(std::move(other.name_)),
        depth_(other.depth_),
        epoch_(other.epoch_) {}
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();
  // Flushes, then RELEASE SAVEPOINT. If the flush fails, the savepoint is rolled back (what it
  // covered is undone, the enclosing transaction goes on) and the flush's error is rethrown.
  // Throws InterfaceError when the transaction it belonged to has already ended.
  void commit();
  void rollback();

 private:
  // Whether the savepoint still exists (its transaction has not ended since).
  bool alive() const noexcept;
  void check_innermost() const;
  // After commit() or rollback() of this savepoint: it is closed in the session.
  void close(Session& s);
  Session* session_;
  std::string name_;
  int depth_;
  std::uint64_t epoch_;
  friend class Session;
};

// sessionmaker(): a factory of sessions bound to one engine with the same options.
class SessionFactory {
 public:
  explicit SessionFactory(Engine engine, SessionOptions options = {})
      : engine_(std::move(engine)), options_(options) {}
  // Sessions that read from the cluster's replicas.
  explicit SessionFactory(Cluster cluster, SessionOptions options = {})
      : engine_(cluster.primary()), options_(options), cluster_(std::move(cluster)) {}
  Session operator()() const {
    return cluster_.has_replicas() ? Session(cluster_, options_) : Session(engine_, options_);
  }
  Session create() const { return (*this)(); }
  const Engine& engine() const noexcept { return engine_; }

 private:
  Engine engine_;
  SessionOptions options_;
  Cluster cluster_;
};

}  // namespace pgorm

#include "pgorm/session/model_work.hpp"
#include "pgorm/session/stream.hpp"
