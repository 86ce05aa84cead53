#include "pgorm/session/session.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

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

Session::Session(Engine engine, SessionOptions options)
    : engine_(std::move(engine)), options_(options) {}

Session::~Session() { close(); }

Session::Session(Session&&) noexcept = default;

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    close();
    engine_ = std::move(other.engine_);
    options_ = other.options_;
    connection_ = std::move(other.connection_);
    in_transaction_ = std::exchange(other.in_transaction_, false);
    savepoint_depth_ = std::exchange(other.savepoint_depth_, 0);
    savepoint_counter_ = other.savepoint_counter_;
    statements_ = other.statements_;
    works_ = std::move(other.works_);
  }
  return *this;
}

Connection& Session::connection() {
  if (!connection_) connection_.emplace(engine_.connect());
  return connection_->get();
}

void Session::prepare_read() {
  if (options_.autoflush && !flushing_) flush();
}

void Session::ensure_transaction() {
  if (in_transaction_) return;
  Connection& c = connection();
  ++statements_;
  try {
    c.execute("BEGIN");
  } catch (const Disconnect&) {
    after_failure();
    throw;
  }
  in_transaction_ = true;
}

Result Session::run(const query::Statement& statement, bool needs_transaction, bool prepared) {
  if (prepared) return run_sql(statement.sql, statement.params, needs_transaction);
  if (needs_transaction) ensure_transaction();
  Connection& c = connection();
  ++statements_;
  try {
    return c.execute(statement.sql, statement.params);
  } catch (const Disconnect&) {
    after_failure();
    throw;
  }
}

std::vector<Result> Session::run_pipeline(const std::vector<query::Statement>& statements) {
  if (statements.empty()) return {};
  ensure_transaction();
  Connection& c = connection();
  std::vector<Connection::PipelineItem> items;
  items.reserve(statements.size());
  for (const auto& s : statements) items.push_back({s.sql, &s.params});
  statements_ += statements.size();
  try {
    return c.execute_pipeline(items);
  } catch (const Disconnect&) {
    after_failure();
    throw;
  }
}

void Session::run_loads(detail::LoadCursor& cursor) {
  while (auto statement = cursor.next()) {
    Result result = run(*statement, false);
    cursor.feed(result, works_);
  }
}

Result Session::run_sql(std::string_view sql, const Params& params, bool needs_transaction) {
  if (needs_transaction) ensure_transaction();
  Connection& c = connection();
  ++statements_;
  try {
    return c.execute_prepared(sql, params);
  } catch (const Disconnect&) {
    after_failure();
    throw;
  }
}

// The connection broke: the transaction and everything it wrote are gone.
void Session::after_failure() noexcept {
  if (connection_) {
    connection_->invalidate();
    connection_.reset();
  }
  in_transaction_ = false;
  savepoint_depth_ = 0;
  for (auto& [key, w] : works_) w->expire(false);
}

void Session::flush() {
  if (flushing_ || works_.empty()) return;
  flushing_ = true;
  try {
    // Relationship cascades may add or remove objects of other models (or load children to
    // delete them): run them until nothing changes.
    for (int round = 0; round < 100; ++round) {
      bool changed = false;
      for (std::size_t i = 0; i < works_.size(); ++i) changed |= works_[i].second->cascade(*this);
      if (!changed) break;
    }
    auto ordered = detail::flush_order(works_);
    for (auto* w : ordered) w->sync_keys();
    for (auto* w : ordered) w->flush_inserts(*this);
    for (auto* w : ordered) w->flush_updates(*this);
    for (auto* w : ordered) w->flush_associations(*this);
    for (auto it = ordered.rbegin(); it != ordered.rend(); ++it) (*it)->flush_deletes(*this);
  } catch (...) {
    flushing_ = false;
    // A failed flush leaves the transaction unusable: roll it back so that nothing of it stays.
    rollback();
    throw;
  }
  flushing_ = false;
}

void Session::commit() {
  flush();
  if (in_transaction_) {
    ++statements_;
    try {
      connection().execute("COMMIT");
    } catch (const Disconnect& e) {
      after_failure();
      ErrorInfo info = e.info();
      info.message = "the connection broke during COMMIT: the transaction may or may not have "
                     "been committed (" + info.message + ")";
      throw TransactionInDoubt(std::move(info));
    }
    in_transaction_ = false;
    savepoint_depth_ = 0;
  }
  if (options_.expire_on_commit) expire_all();
  release_connection();
}

void Session::rollback() {
  if (in_transaction_ && connection_) {
    ++statements_;
    try {
      connection_->get().execute("ROLLBACK");
    } catch (...) {
      after_failure();
    }
  }
  in_transaction_ = false;
  savepoint_depth_ = 0;
  for (auto& [key, w] : works_) w->expire(false);
  release_connection();
}

void Session::close() {
  if (in_transaction_) rollback();
  for (auto& [key, w] : works_) w->expire(false);
  release_connection();
}

void Session::expire_all() {
  for (auto& [key, w] : works_) w->expire(true);
}

void Session::release_connection() noexcept {
  if (!in_transaction_) connection_.reset();
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

Session::Transaction Session::begin() { return begin(IsolationLevel::read_committed); }

Session::Transaction Session::begin(IsolationLevel level) {
  if (in_transaction_) {
    ErrorInfo info;
    info.message = "begin(): the session is already in a transaction (use begin_nested())";
    throw InterfaceError(std::move(info));
  }
  if (level != IsolationLevel::read_committed) {
    Connection& c = connection();
    ++statements_;
    try {
      c.execute(level == IsolationLevel::serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                      : "BEGIN ISOLATION LEVEL REPEATABLE READ");
    } catch (const Disconnect&) {
      after_failure();
      throw;
    }
    in_transaction_ = true;
  }
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
  flush();
  ensure_transaction();
  std::string name = fmt::format("pgorm_sp_{}", ++savepoint_counter_);
  run_sql("SAVEPOINT " + name, Params{}, true);
  return Savepoint(*this, name, ++savepoint_depth_);
}

void Session::Savepoint::check_innermost() const {
  if (session_->savepoint_depth_ != depth_) {
    ErrorInfo info;
    info.message = "a savepoint must be committed or rolled back after the savepoints nested in it";
    throw InterfaceError(std::move(info));
  }
}

void Session::Savepoint::commit() {
  if (!session_) return;
  check_innermost();
  Session* s = std::exchange(session_, nullptr);
  s->flush();
  if (!s->in_transaction_) return;  // the flush failed and rolled everything back
  s->run_sql("RELEASE SAVEPOINT " + name_, Params{}, true);
  --s->savepoint_depth_;
}

void Session::Savepoint::rollback() {
  if (!session_) return;
  check_innermost();
  Session* s = std::exchange(session_, nullptr);
  if (!s->in_transaction_) return;
  s->run_sql("ROLLBACK TO SAVEPOINT " + name_, Params{}, true);
  --s->savepoint_depth_;
  // What was flushed inside the savepoint is gone: forget loaded state and pending objects.
  for (auto& [key, w] : s->works_) w->expire(false);
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
