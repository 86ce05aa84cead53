#include "pgorm/session/session.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "pgorm/engine/watchdog.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm {

namespace detail {
void throw_not_in_session(std::string_view table) {
  ErrorInfo info;
  info.table = std::string(table);
  info.message = fmt::format("the object (table \"{}\") is not tracked by this session", table);
  throw InterfaceError(std::move(info));
}
void throw_refresh_missing(std::string_view table) {
  ErrorInfo info;
  info.table = std::string(table);
  info.message = fmt::format("refresh(): the object's row no longer exists in table \"{}\"", table);
  throw NoResultFound(std::move(info));
}

void throw_stale(std::string_view table, std::string_view action, std::string key, bool versioned) {
  ErrorInfo info;
  info.table = std::string(table);
  info.message = fmt::format(
      "{} of table \"{}\" matched no row for {}: {} since this session read it; nothing of this "
      "flush was kept",
      action, table, key,
      versioned ? "another transaction changed or deleted the row (its version is no longer the "
                  "one read)"
                : "another transaction deleted the row");
  throw StaleDataError(std::move(info));
}

std::vector<ModelWorkBase*> flush_order(const WorkList& works) {
  // Parents before children: order the models by the foreign keys between their tables.
  std::vector<ModelWorkBase*> ordered;
  std::set<std::string> placed;
  auto depends_on_unplaced = [&](ModelWorkBase* w) {
    for (const auto& fk : w->table().foreign_keys) {
      if (fk.referred_table == w->table().name || placed.count(fk.referred_table)) continue;
      for (const auto& [key, other] : works)
        if (other->table().name == fk.referred_table) return true;
    }
    return false;
  };
  while (ordered.size() < works.size()) {
    bool progress = false;
    for (const auto& [key, w] : works) {
      if (placed.count(w->table().name) || depends_on_unplaced(w.get())) continue;
      ordered.push_back(w.get());
      placed.insert(w->table().name);
      progress = true;
    }
    if (!progress) {  // a cycle between tables: keep declaration order for the rest
      for (const auto& [key, w] : works)
        if (!placed.count(w->table().name)) {
          ordered.push_back(w.get());
          placed.insert(w->table().name);
        }
    }
  }
  return ordered;
}

}  // namespace detail

// Marks the calling thread as the one inside this session for the duration of a call; a nested
// call from the same thread passes, a call from another thread throws InterfaceError.
// The outermost one also starts the call's deadline (Session::set_timeout).
class Session::InUse {
 public:
  explicit InUse(Session& s) : session_(s), owner_(s.owner_) {
    std::thread::id none;
    std::thread::id me = std::this_thread::get_id();
    if (owner_.id.compare_exchange_strong(none, me, std::memory_order_acquire)) {
      held_ = true;
      if (s.timeout_) s.call_deadline_ = std::chrono::steady_clock::now() + *s.timeout_;
    } else if (none != me) {
      ErrorInfo info;
      info.message =
          "this Session is already in use by another thread: a session (and its connection) "
          "belongs to one thread at a time; give each thread its own session from a SessionFactory";
      throw InterfaceError(std::move(info));
    }
  }
  ~InUse() {
    if (!held_) return;
    session_.call_deadline_.reset();
    owner_.id.store(std::thread::id{}, std::memory_order_release);
  }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;

 private:
  Session& session_;
  detail::ThreadOwner& owner_;
  bool held_ = false;
};

Session::Session(Engine engine, SessionOptions options)
    : engine_(std::move(engine)), options_(options), timeout_(engine_.options().default_timeout) {}

Session::Session(Cluster cluster, SessionOptions options)
    : engine_(cluster.primary()), options_(options), timeout_(engine_.options().default_timeout) {
  if (cluster.has_replicas()) cluster_ = std::move(cluster);
}

Session::~Session() {
  close();
}

Session::Session(Session&&) noexcept = default;

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    engine_ = std::move(other.engine_);
    options_ = other.options_;
    connection_ = std::move(other.connection_);
    cluster_ = std::move(other.cluster_);
    replica_ = std::move(other.replica_);
    replica_chosen_ = other.replica_chosen_;
    primary_only_ = other.primary_only_;
    position_ = other.position_;
    read_after_ = other.read_after_;
    timeout_ = other.timeout_;
    in_transaction_ = std::exchange(other.in_transaction_, false);
    savepoint_counter_ = other.savepoint_counter_;
    savepoints_ = std::move(other.savepoints_);
    transaction_epoch_ = other.transaction_epoch_ + 1;
    aborted_by_ = std::move(other.aborted_by_);
    statements_ = other.statements_;
    round_trips_done_ = other.round_trips_done_;
    round_trips_base_ = other.round_trips_base_;
    replica_trips_base_ = other.replica_trips_base_;
    id_ = other.id_;
    works_ = std::move(other.works_);
    streams_opened_ = other.streams_opened_;
    open_stream_ = 0;  // a stream belongs to the session it was opened on
  }
  return *this;
}

Connection& Session::connection() {
  if (!connection_) {
    connection_.emplace(engine_.connect());
    connection_->get().set_session_id(id_);
    round_trips_base_ = connection_->get().round_trips();
  }
  return connection_->get();
}

std::uint64_t Session::round_trips() const noexcept {
  std::uint64_t n = round_trips_done_;
  if (connection_ && *connection_) n += connection_->get().round_trips() - round_trips_base_;
  if (replica_ && *replica_) n += replica_->get().round_trips() - replica_trips_base_;
  return n;
}

void Session::let_go(std::optional<PooledConnection>& c, std::uint64_t base) noexcept {
  if (c && *c) round_trips_done_ += c->get().round_trips() - base;
  c.reset();
}

void Session::prepare_read() {
  if (options_.autoflush && !flushing_) flush();
}

namespace {
[[noreturn]] void throw_deadline(ErrorInfo info, std::string message) {
  info.message = std::move(message);
  info.sqlstate = "57014";
  throw DeadlineExceeded(std::move(info));
}
}  // namespace

template <class F>
auto Session::bounded(Connection& c, F&& call) {
  if (!call_deadline_) return call();
  if (std::chrono::steady_clock::now() >= *call_deadline_)
    throw_deadline({},
                   "the session's timeout passed before the statement was sent: nothing of it ran");
  ErrorInfo cut;
  {
    detail::DeadlineWatch watch(c, *call_deadline_, engine_.options().cancel_grace);
    try {
      return call();
    } catch (const QueryCanceled& e) {
      if (!watch.fired()) throw;  // statement_timeout, pg_cancel_backend: not this deadline
      throw_deadline(e.info(),
                     fmt::format("the session's timeout passed and the server cancelled the "
                                 "statement: it did not take effect ({})",
                                 e.info().message));
    } catch (const Disconnect& e) {
      if (!watch.cut()) throw;
      cut = e.info();
    }
  }
  // The watch is done with the connection: now it may go.
  if (connection_ && &c == &connection_->get()) {
    after_failure();
  } else {  // a replica's (plain reads run outside a transaction)
    drop_replica();
  }
  throw_deadline(
      std::move(cut),
      fmt::format("the session's timeout passed and the server did not answer a cancel request "
                  "within cancel_grace ({} ms): the connection was discarded, the transaction is "
                  "lost, and the outcome of the statement is unknown",
                  engine_.options().cancel_grace.count()));
}

void Session::begin_transaction(const char* sql) {
  InUse in_use(*this);
  Connection& c = connection();
  ++statements_;
  try {
    // Settings a transaction pooler cannot keep per client (SET LOCAL ...) ride with the BEGIN.
    bounded(c, [&] {
      if (c.transaction_setup().empty()) {
        c.execute(sql);
      } else {
        ++statements_;
        c.execute_script(fmt::format("{}; {}", sql, c.transaction_setup()));
      }
    });
  } catch (const Disconnect&) {
    after_failure();
    throw;
  }
  in_transaction_ = true;
  aborted_by_.reset();
}

void Session::ensure_transaction() {
  if (!in_transaction_) begin_transaction("BEGIN");
}

void Session::note_failure(const Error& e) {
  if (in_transaction_ && !aborted_by_) aborted_by_ = e.info();
}

Connection* Session::replica_for_read() {
  if (primary_only_) return nullptr;
  if (!replica_chosen_) {
    replica_chosen_ = true;  // one choice (and at most one wait) until the connections go back
    replica_ = cluster_.checkout_for_read(read_after_);
    if (replica_) {
      replica_->get().set_session_id(id_);
      replica_trips_base_ = replica_->get().round_trips();
    }
    // A replica whose default isolation is above READ COMMITTED would need a transaction per
    // read; the primary's connection already has the rules for that.
    if (replica_ && !replica_->get().lazy_begin_safe()) let_go(replica_, replica_trips_base_);
  }
  cluster_.count_read(replica_.has_value());
  return replica_ ? &replica_->get() : nullptr;
}

void Session::drop_replica() noexcept {
  let_go(replica_, replica_trips_base_);
  replica_chosen_ = false;
}

void Session::read_after(ReadPosition position) noexcept {
  if (position <= read_after_) return;
  read_after_ = position;
  drop_replica();  // a replica chosen for an older position may not have this one
}

void Session::read_from_primary(bool on) noexcept {
  primary_only_ = on;
  drop_replica();
}

template <class F>
auto Session::send(bool needs_transaction, std::size_t statements, F&& call) {
  InUse in_use(*this);
  refuse_while_streaming();
  // A plain read outside a transaction may run on a replica; it starts no transaction there.
  if (!needs_transaction && !in_transaction_ && cluster_.has_replicas()) {
    if (Connection* replica = replica_for_read()) {
      statements_ += statements;
      try {
        return bounded(*replica, [&] { return call(*replica); });
      } catch (const Disconnect&) {
        replica_->invalidate();
        drop_replica();
        throw;
      }
    }
  }
  Connection& c = connection();
  // Lazy BEGIN only where each statement seeing its own snapshot is what the transaction would
  // give anyway: under a server default stronger than READ COMMITTED, reads begin it too.
  if (needs_transaction || !c.lazy_begin_safe()) ensure_transaction();
  statements_ += statements;
  try {
    return bounded(c, [&] { return call(c); });
  } catch (const Disconnect&) {
    after_failure();
    throw;
  } catch (const Error& e) {
    note_failure(e);
    throw;
  }
}

Result Session::run(const query::Statement& statement, bool needs_transaction, bool prepared) {
  if (prepared) return run_sql(statement.sql, statement.params, needs_transaction);
  return send(needs_transaction, 1,
              [&](Connection& c) { return c.execute(statement.sql, statement.params); });
}

void Session::run_pipeline(const std::vector<query::Statement>& statements,
                           std::vector<Result>& completed) {
  if (statements.empty()) return;
  std::vector<Connection::PipelineItem> items;
  items.reserve(statements.size());
  for (const auto& s : statements) items.push_back({s.sql, &s.params});
  send(true, statements.size(), [&](Connection& c) { c.execute_pipeline(items, completed); });
}

std::optional<Result> Session::run_copy(const query::CopyIn& copy, std::string_view table) {
  static const std::string kCopyLikeInsert =
      "SELECT c.relkind IN ('r', 'p') AND NOT c.relrowsecurity AND NOT EXISTS "
      "(SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type = '3') "
      "FROM pg_class c WHERE c.oid = to_regclass($1)";
  Params name;
  name.add(std::string_view(sql::quote_identifier(table)));
  Result like_insert = run_sql(kCopyLikeInsert, name, true);
  if (like_insert.rows() != 1 || like_insert.get(0, 0) != "t") return std::nullopt;
  return send(true, 1, [&](Connection& c) { return c.copy_in(copy.sql, copy.data); });
}

void Session::run_loads(detail::LoadCursor& cursor) {
  while (auto statement = cursor.next()) {
    Result result = run(*statement, false);
    cursor.feed(result, works_);
  }
}

Result Session::run_sql(std::string_view sql, const Params& params, bool needs_transaction) {
  return send(needs_transaction, 1, [&](Connection& c) { return c.execute_prepared(sql, params); });
}

// The connection broke: the transaction and everything it wrote are gone.
void Session::after_failure() noexcept {
  if (connection_) {
    connection_->invalidate();
    let_go(connection_, round_trips_base_);
  }
  end_transaction(false);
}

void Session::sync_savepoint_depth() noexcept {
  works_.savepoint_depth = savepoint_depth();
  for (auto& [key, w] : works_) w->set_savepoint_depth(works_.savepoint_depth);
}

void Session::end_transaction(bool committed) noexcept {
  in_transaction_ = false;
  savepoints_.clear();
  sync_savepoint_depth();
  ++transaction_epoch_;
  aborted_by_.reset();
  for (auto& [key, w] : works_) {
    if (committed) {
      w->release_savepoint(1);
      if (options_.expire_on_commit) w->expire(true);
    } else {
      w->expire(false);
    }
  }
  release_connection();
}

void Session::rollback_quietly() noexcept {
  if (in_transaction_ && connection_) {
    ++statements_;
    try {
      Connection& c = connection_->get();
      // Bounded when the session has a timeout: a peer that stopped answering must not hang it.
      std::optional<detail::DeadlineWatch> watch;
      auto grace = engine_.options().cancel_grace;
      if (timeout_) watch.emplace(c, std::chrono::steady_clock::now() + grace, grace);
      c.execute("ROLLBACK");
    } catch (...) {
      // The connection is unusable (or the server refused): discard it; the server ends the
      // transaction when the connection closes.
      connection_->invalidate();
      let_go(connection_, round_trips_base_);
    }
  }
}

void detail::Tracker::forget_deleted() {
  for (auto& [type, w] : works_) {
    auto gone = w->gone();
    if (gone.empty()) continue;
    std::sort(gone.begin(), gone.end(), std::less<const void*>());
    forget_everywhere(type, gone);
    w->clear_gone();
  }
}

void detail::Tracker::forget_everywhere(const void* type, const std::vector<const void*>& objects) {
  for (auto& [key, w] : works_) w->forget_related(type, objects);
}

void Session::restore_innermost_savepoint(const std::exception_ptr& failure, std::string_view why) {
  try {
    rollback_to_innermost_savepoint();
  } catch (...) {
    // Names the first failure whatever it was (a server error, std::bad_alloc).
    std::optional<ErrorInfo> cause = detail::info_of(failure);
    rollback();
    detail::throw_rolled_back(cause, why);
  }
}

void Session::rollback_to_innermost_savepoint() {
  ++statements_;
  connection().execute("ROLLBACK TO SAVEPOINT " + savepoints_.back());
  aborted_by_.reset();
  for (auto& [key, w] : works_) w->rollback_savepoint(savepoint_depth());
}

void Session::flush() {
  flush_impl(false);
}

bool Session::flush_impl(bool commit) {
  refuse_while_streaming();  // before a failed flush could roll the stream's transaction back
  if (flushing_ || works_.empty()) return false;
  InUse in_use(*this);
  // COMMIT may ride with the writes where nothing else needs a round trip of its own: the
  // position read-your-writes needs (replicas) and savepoints (a failure rolls back to one).
  commit = commit && !cluster_.has_replicas() && savepoint_depth() == 0;
  bool committed = false;
  std::exception_ptr late;  // writing the committed rows back into the objects failed
  flushing_ = true;
  try {
    detail::FlushPlan plan(*this, works_);
    for (auto reads = plan.cascade(); !reads.empty(); reads = plan.cascade())
      for (auto& read : reads) {
        Result result = run(read.statement, false);
        if (read.apply) read.apply(result);
      }
    while (!plan.done()) {
      auto writes = plan.next();
      // An UPDATE or DELETE that matched no row fails the flush (StaleDataError), which is only
      // known once its result is read: COMMIT then waits for it, so that a stale row can never
      // be reported for a transaction that committed.
      if (commit && plan.done() && !writes.empty() &&
          std::none_of(writes.begin(), writes.end(),
                       [](const detail::PlannedWrite& w) { return w.checked; })) {
        late = run_writes_and_commit(writes);
        committed = true;
      } else {
        run_writes(writes);
      }
    }
    // Nothing to do (and nothing allocated) when COMMIT rode with the writes: a DELETE is
    // checked, so COMMIT never rides with one.
    forget_deleted();
  } catch (...) {
    std::exception_ptr failure = std::current_exception();
    flushing_ = false;
    // A failed flush leaves the transaction unusable. Inside a savepoint, roll back to it: what
    // the savepoint covered is undone and the enclosing transaction goes on. Otherwise roll the
    // whole transaction back so that nothing of it stays.
    if (in_transaction_ && savepoint_depth() > 0 && connection_) {
      restore_innermost_savepoint(failure,
                                  "a flush failed inside a savepoint that could not be "
                                  "restored, so the whole transaction was rolled back");
      throw;
    }
    rollback();
    throw;
  }
  flushing_ = false;
  if (!committed) return false;
  end_transaction(true);
  if (late) {
    // COMMIT succeeded; what failed is writing the server's values (keys, defaults) back into
    // the objects. The caller must not take this for a failed transaction and retry it.
    expire_all();
    detail::throw_committed_but(late, "reading the written rows back into the objects");
  }
  return true;
}

namespace {
// COMMIT was on its way (`what`: COMMIT, or a one-statement unit of work in autocommit) and its
// answer will never come: the connection broke, or the deadline cut it.
[[noreturn]] void throw_in_doubt_broken(const ErrorInfo& cause, std::string_view what) {
  throw TransactionInDoubt(
      detail::commit_in_doubt(cause, fmt::format("the connection broke during {}", what)));
}
// Sending `what` or reading its answer failed in the client (std::bad_alloc), after something
// was sent: the connection is discarded and the outcome is unknown.
[[noreturn]] void throw_in_doubt_unread(const std::exception_ptr& failure, std::string_view what) {
  throw TransactionInDoubt(detail::commit_in_doubt(
      detail::info_of(failure),
      fmt::format("reading the answer to {} failed in the client and the connection was "
                  "discarded",
                  what)));
}
[[noreturn]] void throw_in_doubt_cut(const ErrorInfo& cause, std::string_view what) {
  throw TransactionInDoubt(detail::commit_in_doubt(
      cause, fmt::format("the session's timeout passed during {} and the connection was "
                         "discarded before its answer arrived",
                         what)));
}

// After COMMIT succeeded: writes the results back, and returns what failed doing so, if anything.
template <class F>
std::exception_ptr committed_with(F&& apply) noexcept {
  try {
    apply();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}
}  // namespace

std::exception_ptr Session::run_writes_and_commit(std::vector<detail::PlannedWrite>& writes) {
  static const Params none;
  Connection& c = connection();
  const bool begin = !in_transaction_;
  // A unit of work of one statement needs no transaction block: alone, in autocommit, it is
  // atomic all the same, and costs what the hand-written statement does.
  const bool alone = begin && writes.size() == 1 && c.transaction_setup().empty();
  std::vector<Connection::PipelineItem> items;
  if (!alone) {
    items.reserve(writes.size() + 3);
    if (begin) {
      // BEGIN rides in front, with the settings a transaction pooler cannot keep per client.
      items.push_back({"BEGIN", &none});
      if (!c.transaction_setup().empty()) items.push_back({c.transaction_setup(), &none});
    }
  }
  const std::size_t began = items.size();
  if (!alone) {
    for (auto& w : writes) items.push_back({w.statement.sql, &w.statement.params});
    items.push_back({"COMMIT", &none});
    in_transaction_ = true;
    if (begin) aborted_by_.reset();
  }
  const bool was_open = c.is_open();
  const std::uint64_t round_trips = c.round_trips();
  const char* what = alone ? "the unit of work's one statement (autocommit)" : "COMMIT";
  statements_ += alone ? 1 : items.size();
  std::vector<Result> results;
  // Room for every answer before anything is sent: storing the answer of a statement that
  // committed must not be what fails.
  results.reserve(alone ? 1 : items.size());
  auto apply_completed = [&] {
    for (std::size_t i = began; i < results.size() && i - began < writes.size(); ++i)
      if (writes[i - began].apply) writes[i - began].apply(results[i]);
  };
  try {
    bounded(c, [&] {
      if (!alone) return c.execute_pipeline(items, results);
      const query::Statement& st = writes.front().statement;
      results.push_back(writes.front().prepared ? c.execute_prepared(st.sql, st.params)
                                                : c.execute(st.sql, st.params));
    });
  } catch (const Disconnect& e) {
    if (!alone && results.size() == items.size() && results.back().command_tag() == "COMMIT") {
      // COMMIT's answer was read; only what follows it in the protocol was lost. Committed.
      connection_->invalidate();
      return committed_with(apply_completed);
    }
    after_failure();
    if (!was_open) throw;  // nothing was sent
    throw_in_doubt_broken(e.info(), what);
  } catch (const DeadlineExceeded& e) {
    if (!connection_) throw_in_doubt_cut(e.info(), what);  // no answer to COMMIT
    // Cancelled on the server: the statements after the cancelled one, COMMIT among them, were
    // skipped. The flush's handler rolls back.
    throw DeadlineExceeded(detail::commit_cancelled(e.info()));
  } catch (const Error& e) {
    // A statement failed and the server skipped the rest, COMMIT included; or COMMIT itself
    // failed (a deferred constraint) and the server rolled back. The completed writes' results
    // go first, in statement order, as run_writes() does; the flush's handler rolls back.
    note_failure(e);
    apply_completed();
    throw;
  } catch (...) {
    // Not the server's answer: the client failed (std::bad_alloc) sending or reading.
    if (!alone && results.size() == items.size() && results.back().command_tag() == "COMMIT") {
      connection_->invalidate();
      return committed_with(apply_completed);
    }
    if (c.round_trips() == round_trips && c.is_open()) throw;  // nothing sent: rolled back
    std::exception_ptr failure = std::current_exception();
    after_failure();
    throw_in_doubt_unread(failure, what);
  }
  if (!alone && results.back().command_tag() == "ROLLBACK")
    throw_rolled_back("the server answered COMMIT with ROLLBACK");
  return committed_with(apply_completed);
}

void Session::run_writes(std::vector<detail::PlannedWrite>& writes) {
  if (writes.empty()) return;
  if (writes.size() == 1) {
    Result result = run(writes.front().statement, true, writes.front().prepared);
    if (writes.front().apply) writes.front().apply(result);
    return;
  }
  std::vector<query::Statement> statements;
  statements.reserve(writes.size());
  for (auto& w : writes) statements.push_back(std::move(w.statement));
  std::vector<Result> results;
  std::exception_ptr failure;
  try {
    run_pipeline(statements, results);
  } catch (...) {
    failure = std::current_exception();
  }
  // In statement order: a statement that completed before the failing one may have failed the
  // flush first (an UPDATE that matched no row is a StaleDataError), and that is the error to
  // report, as the statement-by-statement execution would.
  for (std::size_t i = 0; i < results.size(); ++i)
    if (writes[i].apply) writes[i].apply(results[i]);
  if (failure) std::rethrow_exception(failure);
}

void detail::throw_rolled_back(const std::optional<ErrorInfo>& aborted_by, std::string_view why) {
  ErrorInfo info;
  if (aborted_by) info = *aborted_by;
  info.message = aborted_by ? fmt::format(
                                  "{}: nothing of the transaction was committed (the "
                                  "statement that aborted it failed with: {})",
                                  why, aborted_by->message)
                            : fmt::format("{}: nothing of the transaction was committed", why);
  throw TransactionRolledBack(std::move(info));
}

ErrorInfo detail::commit_in_doubt(ErrorInfo cause, std::string_view what) {
  cause.message = fmt::format("{}: the transaction may or may not have been committed ({})", what,
                              cause.message);
  return cause;
}

void detail::throw_returned_rows(std::string_view action, int rows, std::size_t objects) {
  ErrorInfo info;
  info.message = fmt::format(
      "an {} of the flush returned {} rows for {} objects (a trigger or rule skipped some), "
      "so the rows cannot be matched to their objects: none was written back",
      action, rows, objects);
  throw InterfaceError(std::move(info));
}

ErrorInfo detail::info_of(const std::exception_ptr& failure) {
  ErrorInfo info;
  try {
    std::rethrow_exception(failure);
  } catch (const Error& e) {
    info = e.info();
  } catch (const std::exception& e) {
    info.message = e.what();
  } catch (...) {
    info.message = "an unknown exception";
  }
  return info;
}

void detail::throw_committed_but(const std::exception_ptr& failure, std::string_view what) {
  ErrorInfo info = info_of(failure);
  info.message =
      fmt::format("the transaction was committed, but {} failed (the objects were expired): {}",
                  what, info.message);
  throw InterfaceError(std::move(info));
}

ErrorInfo detail::commit_cancelled(ErrorInfo cause) {
  cause.message = fmt::format("{}; the transaction was rolled back and nothing of it was committed",
                              cause.message);
  return cause;
}

void Session::throw_rolled_back(std::string why) {
  std::optional<ErrorInfo> aborted_by = std::move(aborted_by_);
  rollback_quietly();
  end_transaction(false);
  detail::throw_rolled_back(aborted_by, why);
}

void Session::commit() {
  InUse in_use(*this);
  refuse_while_streaming();
  // A statement failed inside the transaction (its error may have been caught): the server
  // would answer COMMIT with ROLLBACK. Say so before writing anything more, instead of
  // returning as if it had committed.
  if (in_transaction_ && connection_ &&
      connection_->get().transaction_status() == TransactionStatus::in_error)
    throw_rolled_back("COMMIT was refused because an earlier statement of the transaction failed");
  if (flush_impl(true)) return;  // COMMIT went with the flush's last writes
  if (in_transaction_) {
    Connection& c = connection();
    ++statements_;
    Result result;
    const std::uint64_t round_trips = c.round_trips();
    try {
      result = bounded(c, [&] { return send_commit(c); });
    } catch (const Disconnect& e) {
      after_failure();
      throw_in_doubt_broken(e.info(), "COMMIT");
    } catch (const DeadlineExceeded& e) {
      if (!connection_) throw_in_doubt_cut(e.info(), "COMMIT");  // no answer to COMMIT
      rollback();
      throw DeadlineExceeded(detail::commit_cancelled(e.info()));
    } catch (const Error&) {
      // COMMIT itself failed (a deferred constraint, a serialization failure): the server rolled
      // the transaction back. Leave the session as rollback() does, then report why.
      rollback();
      throw;
    } catch (...) {
      // The client failed (std::bad_alloc): before sending COMMIT, nothing was committed;
      // after, its answer is lost.
      if (c.round_trips() == round_trips && c.is_open()) {
        rollback();
        throw;
      }
      std::exception_ptr failure = std::current_exception();
      after_failure();
      throw_in_doubt_unread(failure, "COMMIT");
    }
    if (result.command_tag() == "ROLLBACK")
      throw_rolled_back("the server answered COMMIT with ROLLBACK");
    end_transaction(true);
    return;
  }
  if (options_.expire_on_commit) expire_all();
  release_connection();
}

Result Session::send_commit(Connection& c) {
  if (!cluster_.has_replicas()) return c.execute("COMMIT");
  static const Params none;
  std::vector<Result> done;
  ++statements_;
  try {
    // pg_current_wal_flush_lsn() after COMMIT is at or past the commit's end: what a standby
    // must have replayed for a read to see this transaction.
    c.execute_pipeline({{"COMMIT", &none}, {"SELECT pg_current_wal_flush_lsn()::text", &none}},
                       done);
  } catch (...) {
    if (done.empty()) throw;  // COMMIT itself failed or its outcome is unknown
    // COMMIT's answer arrived, the position did not: reads of this session stay on the primary.
    if (!c.is_open()) connection_->invalidate();
    read_from_primary(true);
    return std::move(done.front());
  }
  if (done.front().command_tag() == "COMMIT") {
    position_ = ReadPosition::parse(done.back().get(0, 0));
    read_after(position_);
  }
  return std::move(done.front());
}

void Session::rollback() {
  InUse in_use(*this);
  open_stream_ = 0;  // ROLLBACK ends the cursor of an open stream too
  rollback_quietly();
  end_transaction(false);
}

void Session::close() {
  open_stream_ = 0;
  rollback_quietly();
  end_transaction(false);
}

void Session::expire_all() {
  for (auto& [key, w] : works_) w->expire(true);
}

void Session::release_connection() noexcept {
  if (!in_transaction_) let_go(connection_, round_trips_base_);
  drop_replica();
}

void detail::Tracker::check_one(std::size_t rows, bool required) {
  if (rows == 0 && required) {
    ErrorInfo info;
    info.message = "the query returned no row; exactly one was required";
    throw NoResultFound(std::move(info));
  }
  if (rows > 1) {
    ErrorInfo info;
    info.message = "the query returned several rows; at most one was expected";
    throw MultipleResultsFound(std::move(info));
  }
}

// ---- transactions ----

void Session::refuse_begin_in_transaction() const {
  if (!in_transaction_) return;
  ErrorInfo info;
  info.message = "begin(): the session is already in a transaction (use begin_nested())";
  throw InterfaceError(std::move(info));
}

Session::Transaction Session::begin() {
  refuse_while_streaming();
  refuse_begin_in_transaction();
  // Lazy BEGIN relies on READ COMMITTED; under a stronger server default, begin now so that the
  // scope's reads share the transaction's snapshot.
  if (!connection().lazy_begin_safe()) begin_transaction("BEGIN");
  return Transaction(*this);
}

Session::Transaction Session::begin(IsolationLevel level) {
  refuse_while_streaming();
  refuse_begin_in_transaction();
  if (level == IsolationLevel::serializable)
    begin_transaction("BEGIN ISOLATION LEVEL SERIALIZABLE");
  else if (level == IsolationLevel::repeatable_read)
    begin_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ");
  else if (!connection().lazy_begin_safe())
    begin_transaction("BEGIN ISOLATION LEVEL READ COMMITTED");
  return Transaction(*this);
}

Session::Transaction::~Transaction() {
  if (session_) session_->rollback();
}
void Session::Transaction::commit() {
  Session* s = std::exchange(session_, nullptr);
  if (s) s->commit();
}
void Session::Transaction::rollback() {
  Session* s = std::exchange(session_, nullptr);
  if (s) s->rollback();
}

Session::Savepoint Session::begin_nested() {
  refuse_while_streaming();
  InUse in_use(*this);
  flush();
  ensure_transaction();
  std::string name = fmt::format("pgorm_sp_{}", ++savepoint_counter_);
  run_sql("SAVEPOINT " + name, Params{}, true);
  savepoints_.push_back(name);
  sync_savepoint_depth();
  return Savepoint(*this, name, savepoint_depth(), transaction_epoch_);
}

bool Session::Savepoint::alive() const noexcept {
  return session_->transaction_epoch_ == epoch_ && session_->in_transaction_ &&
         session_->savepoint_depth() >= depth_;
}

void Session::Savepoint::check_innermost() const {
  if (session_->savepoint_depth() != depth_) {
    ErrorInfo info;
    info.message = "a savepoint must be committed or rolled back after the savepoints nested in it";
    throw InterfaceError(std::move(info));
  }
}

void Session::Savepoint::close(Session& s) {
  s.savepoints_.pop_back();
  s.sync_savepoint_depth();
}

void Session::Savepoint::commit() {
  if (!session_) return;
  if (!alive()) {
    session_ = nullptr;
    ErrorInfo info;
    info.message =
        "Savepoint::commit(): the transaction this savepoint belonged to has already "
        "ended (rolled back, failed or committed); nothing of the savepoint was kept";
    throw InterfaceError(std::move(info));
  }
  check_innermost();
  Session& s = *session_;
  InUse in_use(s);
  // Refused before the flush, which would not roll back to the savepoint for it: the savepoint
  // stays open, and its destructor rolls back to it.
  s.refuse_while_streaming();
  try {
    s.flush();
  } catch (...) {
    // The flush rolled back to this savepoint, which is finished now (or, if that failed, the
    // whole transaction is gone and the savepoint with it).
    if (alive()) close(s);
    session_ = nullptr;
    throw;
  }
  session_ = nullptr;
  try {
    s.run_sql("RELEASE SAVEPOINT " + name_, Params{}, true);
    for (auto& [key, w] : s.works_) w->release_savepoint(depth_);
  } catch (...) {
    // commit() throws, so the savepoint's work must not stay: roll back to the savepoint, or the
    // whole transaction when that fails (RELEASE may have happened on the server before the
    // client failed, std::bad_alloc). A broken connection has ended the transaction already.
    std::exception_ptr failure = std::current_exception();
    if (s.in_transaction_ && s.connection_ && s.transaction_epoch_ == epoch_) {
      s.restore_innermost_savepoint(failure,
                                    "RELEASE SAVEPOINT failed and the savepoint could not be "
                                    "restored, so the whole transaction was rolled back");
      close(s);
    }
    std::rethrow_exception(failure);
  }
  close(s);
}

void Session::Savepoint::rollback() {
  if (!session_) return;
  if (!alive()) {  // the transaction ended: its savepoints went with it
    session_ = nullptr;
    return;
  }
  check_innermost();
  Session* s = std::exchange(session_, nullptr);
  InUse in_use(*s);
  try {
    s->rollback_to_innermost_savepoint();
  } catch (const Disconnect&) {
    s->after_failure();
    throw;
  }
  close(*s);
}

Session::Savepoint::~Savepoint() {
  if (!session_) return;
  try {
    rollback();
  } catch (...) {
    session_ = nullptr;
  }
}

}  // namespace pgorm

// ---- streams ----

namespace pgorm {

void Session::refuse_while_streaming() const {
  if (open_stream_ == 0 || stream_call_) return;
  ErrorInfo info;
  info.message =
      "a stream of this session is open: its cursor holds the session's transaction, so no other "
      "statement can run on the session until the stream is read to its end or destroyed (use "
      "another session for other work meanwhile)";
  throw StreamOpen(std::move(info));
}

void detail::throw_stream_loads() {
  ErrorInfo info;
  info.message =
      "stream() does not load relationships (joined / selectin loader options): load them per "
      "chunk with Session::load() after the stream, or use execute()";
  throw ProgrammingError(std::move(info));
}

namespace {
// Marks the stream's own statements, which refuse_while_streaming() lets through.
class StreamCall {
 public:
  explicit StreamCall(bool& flag) : flag_(flag), was_(std::exchange(flag, true)) {}
  ~StreamCall() { flag_ = was_; }
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

 private:
  bool& flag_;
  bool was_;
};
}  // namespace

detail::StreamCursor::StreamCursor(Session& s, const query::Statement& statement,
                                   std::size_t chunk_rows)
    : session_(nullptr), owner_(&s), chunk_rows_(chunk_rows) {
  if (chunk_rows == 0 || chunk_rows > 100000000) {
    ErrorInfo info;
    info.message = fmt::format(
        "stream(): chunk_rows must be between 1 and 100000000 rows, not {}", chunk_rows);
    throw ProgrammingError(std::move(info));
  }
  s.refuse_while_streaming();
  StreamCall call(s.stream_call_);
  // The cursor needs a transaction. When the session has none (reads outside a transaction under
  // READ COMMITTED), the stream begins one and ends it with itself: nothing else runs in it.
  Connection& c = s.connection();
  bool owns = !s.in_transaction_ && c.lazy_begin_safe();
  std::uint64_t number = ++s.streams_opened_;
  std::string name = fmt::format("pgorm_stream_{}", number);
  std::string declare =
      "DECLARE " + sql::quote_identifier(name) + " NO SCROLL CURSOR FOR " + statement.sql;
  try {
    s.send(true, 1, [&](Connection& conn) { return conn.execute(declare, statement.params); });
  } catch (const Disconnect&) {
    throw;  // send() discarded the connection and the transaction
  } catch (...) {
    if (owns && s.in_transaction_) {
      s.rollback_quietly();
      s.in_transaction_ = false;
      s.aborted_by_.reset();
      ++s.transaction_epoch_;
      s.release_connection();
    }
    throw;
  }
  session_ = &s;
  number_ = number;
  name_ = std::move(name);
  owns_transaction_ = owns;
  s.open_stream_ = number;
}

detail::StreamCursor::StreamCursor(StreamCursor&& other) noexcept
    : session_(std::exchange(other.session_, nullptr)),
      owner_(other.owner_),
      number_(other.number_),
      chunk_rows_(other.chunk_rows_),
      name_(std::move(other.name_)),
      owns_transaction_(other.owns_transaction_) {}

detail::StreamCursor::~StreamCursor() {
  close();
}

bool detail::StreamCursor::current() const noexcept {
  return session_ && session_->open_stream_ == number_;
}

Result detail::StreamCursor::fetch() {
  if (!session_) return Result();
  Session& s = *session_;
  if (!current()) {
    session_ = nullptr;
    ErrorInfo info;
    info.message =
        "the stream was ended by its session (rollback(), close() or a broken connection) before "
        "it was read to its end";
    throw InterfaceError(std::move(info));
  }
  Result result;
  {
    StreamCall call(s.stream_call_);
    try {
      std::string sql = fmt::format("FETCH FORWARD {} FROM {}", chunk_rows_,
                                    sql::quote_identifier(name_));
      result = s.send(true, 1, [&](Connection& c) { return c.execute(sql); });
    } catch (...) {
      // The transaction is aborted (or gone with the connection): the stream is over.
      s.open_stream_ = 0;
      session_ = nullptr;
      if (owns_transaction_ && s.in_transaction_) {
        s.rollback_quietly();
        s.in_transaction_ = false;
        s.aborted_by_.reset();
        ++s.transaction_epoch_;
        s.release_connection();
      }
      throw;
    }
  }
  if (static_cast<std::size_t>(result.rows()) < chunk_rows_) finish();
  return result;
}

void detail::StreamCursor::finish() {
  Session& s = *session_;
  session_ = nullptr;
  if (s.open_stream_ != number_) return;
  StreamCall call(s.stream_call_);
  try {
    if (owns_transaction_ && s.in_transaction_) {
      // Nothing but the cursor ran in this transaction: COMMIT ends it (and closes the cursor);
      // the session is outside a transaction again, as before the stream, and keeps its objects.
      s.send(true, 1, [&](Connection& c) { return c.execute("COMMIT"); });
      s.in_transaction_ = false;
      s.aborted_by_.reset();
      ++s.transaction_epoch_;
      s.release_connection();
    } else {
      s.send(true, 1, [&](Connection& c) {
        return c.execute("CLOSE " + sql::quote_identifier(name_));
      });
    }
  } catch (...) {
    s.open_stream_ = 0;
    if (owns_transaction_ && s.in_transaction_) {
      s.rollback_quietly();
      s.in_transaction_ = false;
      s.aborted_by_.reset();
      ++s.transaction_epoch_;
      s.release_connection();
    }
    throw;
  }
  s.open_stream_ = 0;
}

void detail::StreamCursor::close() noexcept {
  if (!session_) return;
  if (!current()) {
    session_ = nullptr;
    return;
  }
  try {
    finish();
  } catch (...) {
    // finish() left the session usable (the transaction the stream began is rolled back; in the
    // caller's transaction the failure is remembered for COMMIT).
  }
}

}  // namespace pgorm
