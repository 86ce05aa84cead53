// The one place that talks to libpqxx: it opens connections, with libpqxx 6.4 or 7 (chosen by
// PQXX_VERSION_MAJOR). Statements then go straight through libpq on the same handle, which gives
// bind parameters with runtime counts, per-connection prepared statement caching, pipeline mode
// and the diagnostic fields of errors.
#include "pgorm/engine/connection.hpp"

#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/version>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "pgorm/sql/quote.hpp"

namespace pgorm {
namespace {

#if PQXX_VERSION_MAJOR >= 7
// libpqxx 7 hands the PGconn* over: the connection is opened (and its errors thrown) by libpqxx,
// then closed by pgorm.
class LibpqxxConnection {
 public:
  explicit LibpqxxConnection(const std::string& options)
      : conn_(pqxx::connection{options}.release_raw_connection()) {}
  PGconn* raw() const noexcept { return conn_.get(); }

 private:
  struct Finish {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
};
#else
// libpqxx 6.4 keeps the PGconn* private; a connection policy sees it when it is created. The
// libpqxx connection owns it and closes it.
class CapturingPolicy : public pqxx::connect_direct {
 public:
  explicit CapturingPolicy(const std::string& options) : pqxx::connect_direct(options) {}
  handle do_startconnect(handle orig) override {
    raw = pqxx::connect_direct::do_startconnect(orig);
    return raw;
  }
  handle do_dropconnect(handle orig) noexcept override {
    raw = nullptr;
    return pqxx::connect_direct::do_dropconnect(orig);
  }
  handle do_disconnect(handle orig) noexcept override {
    raw = nullptr;
    return pqxx::connect_direct::do_disconnect(orig);
  }
  PGconn* raw = nullptr;
};

class LibpqxxConnection : public pqxx::connection_base {
 public:
  explicit LibpqxxConnection(const std::string& options)
      : pqxx::connection_base(policy_), options_(options), policy_(options_) {
    init();
  }
  ~LibpqxxConnection() noexcept { close(); }
  PGconn* raw() const noexcept { return policy_.raw; }

 private:
  std::string options_;  // must be initialized before the policy
  CapturingPolicy policy_;
};
#endif

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value ? std::string(value) : std::string();
}

// libpq messages end with a newline; some start with "ERROR:  ".
std::string trimmed(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

constexpr std::string_view kSessionSetup =
    "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'; "
    "SET IntervalStyle = 'iso_8601'";
// Only what a transaction pooler tracks per client (PgBouncer re-applies these on every server
// connection the client's transactions run on).
constexpr std::string_view kPooledSessionSetup =
    "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'";

}  // namespace

ErrorInfo error_info_from(const PGresult* raw, const PGconn* conn, std::string_view sql) {
  ErrorInfo info;
  info.statement = std::string(sql);
  if (raw) {
    info.sqlstate = field(raw, PG_DIAG_SQLSTATE);
    info.message = field(raw, PG_DIAG_MESSAGE_PRIMARY);
    info.detail = field(raw, PG_DIAG_MESSAGE_DETAIL);
    info.table = field(raw, PG_DIAG_TABLE_NAME);
    info.column = field(raw, PG_DIAG_COLUMN_NAME);
    info.constraint = field(raw, PG_DIAG_CONSTRAINT_NAME);
  }
  if (info.message.empty() && conn) info.message = trimmed(PQerrorMessage(conn));
  return info;
}

namespace detail {

std::int64_t rows_of(const PGresult* r) noexcept {
  if (r == nullptr) return -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) return PQntuples(r);
  const char* affected = PQcmdTuples(const_cast<PGresult*>(r));
  if (affected == nullptr || *affected == '\0') return -1;
  return std::strtoll(affected, nullptr, 10);
}

void check_parameter_count(std::size_t count, std::string_view sql) {
  if (count <= kMaxParams) return;
  ErrorInfo info;
  info.message =
      fmt::format("{} bind parameters; a statement may have at most {}", count, kMaxParams);
  info.statement = std::string(sql);
  throw ProgrammingError(std::move(info));
}

const std::string* PreparedCache::find(const std::string& sql) {
  auto it = index_.find(sql);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return &it->second->name;
}

std::optional<std::string> PreparedCache::evict_if_full() {
  if (index_.size() < capacity_ || order_.empty()) return std::nullopt;
  std::string name = std::move(order_.back().name);
  index_.erase(order_.back().sql);
  order_.pop_back();
  return name;
}

void PreparedCache::insert(const std::string& sql, std::string name) {
  if (auto it = index_.find(sql); it != index_.end()) {
    it->second->name = std::move(name);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.push_front({sql, std::move(name)});
  index_.emplace(sql, order_.begin());
}

std::string PreparedCache::new_name() {
  static const std::string tag = [] {
    std::random_device device;
    std::uint64_t bits =
        (std::uint64_t{device()} << 32) ^ device() ^ static_cast<std::uint64_t>(::getpid()) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return fmt::format("{:012x}", bits & 0xffffffffffffULL);
  }();
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("pgorm_{}_{}", tag, counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string PreparedCache::deallocate_sql(std::string_view name) {
  return "DEALLOCATE " + sql::quote_identifier(name);
}

void PreparedCache::erase(const std::string& sql) {
  auto it = index_.find(sql);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

}  // namespace detail

struct Connection::Impl {
  // Owns the handle (conn is its raw()); declared first, so it is closed last.
  std::unique_ptr<LibpqxxConnection> opened;
  PGconn* conn = nullptr;
  detail::PreparedCache prepared;  // SQL text -> statement name, least recently used out
  std::string transaction_setup;
};

Connection::Connection(const std::string& conninfo, ConnectionSetup setup)
    : impl_(std::make_unique<Impl>()) {
  impl_->transaction_setup = std::move(setup.transaction_setup);
  try {
    impl_->opened = std::make_unique<LibpqxxConnection>(conninfo);
  } catch (const pqxx::broken_connection& e) {
    ErrorInfo info;
    info.message = trimmed(fmt::format("could not connect to the database: {}", e.what()));
    info.sqlstate = "08001";
    throw Disconnect(std::move(info));
  } catch (const pqxx::failure& e) {
    ErrorInfo info;
    info.message = trimmed(fmt::format("could not connect to the database: {}", e.what()));
    throw ConfigurationError(std::move(info));
  }
  impl_->conn = impl_->opened->raw();
  if (impl_->conn == nullptr || PQstatus(impl_->conn) != CONNECTION_OK) {
    ErrorInfo info;
    info.message = "could not connect to the database";
    info.sqlstate = "08001";
    throw Disconnect(std::move(info));
  }
  // The setup's last statement tells whether lazy BEGIN is safe on this connection.
  std::string session_setup(setup.transaction_pooler ? kPooledSessionSetup : kSessionSetup);
  if (!setup.session_setup.empty()) session_setup += "; " + setup.session_setup;
  std::string sql = fmt::format("{}; SHOW default_transaction_isolation", session_setup);
  Result isolation = check(PQexec(impl_->conn, sql.c_str()), session_setup);
  std::string_view level = isolation.rows() == 1 ? isolation.get(0, 0) : std::string_view();
  lazy_begin_safe_ = level == "read committed" || level == "read uncommitted";
  statements_ = 0;
  round_trips_ = 0;
}

Connection Connection::from_env() {
  const char* url = std::getenv("DATABASE_URL");
  return Connection(url ? std::string(url) : std::string());
}

Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

Result Connection::check(PGresult* raw, std::string_view sql) {
  Result result(raw);
  ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY ||
      status == PGRES_COPY_IN || status == PGRES_COPY_OUT)
    return result;
  ErrorInfo info = error_info_from(raw, impl_->conn, sql);
  if (PQstatus(impl_->conn) != CONNECTION_OK) {
    broken_ = true;
    if (info.sqlstate.empty()) info.sqlstate = "08006";
    throw Disconnect(std::move(info));
  }
  throw_database_error(std::move(info));
}

namespace {

using Clock = std::chrono::steady_clock;

// One statement reported to the engine's hooks: before when made, after when run() ends.
class Observation {
 public:
  Observation(const Connection& connection, const detail::Observer* observer, std::string_view sql,
              const Params* params)
      : observer_(observer && observer->statements() ? observer : nullptr) {
    if (!observer_) return;
    event_ = statement_event(connection, sql, params);
    observer_->before(event_);
    start_ = Clock::now();
  }
  static StatementEvent statement_event(const Connection& connection, std::string_view sql,
                                        const Params* params) {
    return detail::statement_event(sql, params, connection.event(), connection.session_id(),
                                   connection.statements_executed() + 1);
  }
  template <class F>
  Result run(F&& execute) {
    if (!observer_) return execute();
    try {
      Result result = execute();
      event_.rows = detail::rows_of(result.native_handle());
      finish(nullptr);
      return result;
    } catch (const std::exception& e) {
      finish(&e);
      throw;
    }
  }

 private:
  void finish(const std::exception* error) noexcept {
    event_.duration = Clock::now() - start_;
    event_.error = error;
    observer_->after(event_);
  }
  const detail::Observer* observer_;
  StatementEvent event_;
  Clock::time_point start_{};
};

}  // namespace

ConnectionEvent Connection::event() const noexcept {
  ConnectionEvent event;
  event.connection_id = id_;
  event.backend_pid = impl_ && impl_->conn && !broken_ ? PQbackendPID(impl_->conn) : 0;
  return event;
}

Result Connection::execute(std::string_view sql, const Params& params) {
  if (unusable()) {
    ErrorInfo info;
    info.message = "the connection is broken and must be discarded";
    info.sqlstate = "08003";
    throw Disconnect(std::move(info));
  }
  detail::check_parameter_count(params.size(), sql);
  Observation seen(*this, observer_.get(), sql, &params);
  return seen.run([&] {
    std::string text(sql);
    ++statements_;
    ++round_trips_;
    const int format = binary_results_ ? params.result_format() : 0;
    return check(PQexecParams(impl_->conn, text.c_str(), static_cast<int>(params.size()), nullptr,
                              params.values().data(), nullptr, nullptr, format),
                 sql);
  });
}

namespace {
// Statements sent per pipeline sync in blocking mode, small enough that neither side's socket
// buffer fills while the other is not reading.
constexpr std::size_t kPipelineChunk = 128;

PGresult* drain(PGconn* conn, bool& broken) noexcept;  // below

using OwnedResult = std::unique_ptr<PGresult, void (*)(PGresult*)>;

bool succeeded(const PGresult* r) {
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}
}  // namespace

Result Connection::execute_prepared(std::string_view sql, const Params& params) {
  if (!use_prepared_ || unusable()) return execute(sql, params);
  detail::check_parameter_count(params.size(), sql);
  Observation seen(*this, observer_.get(), sql, &params);
  return seen.run([&] { return prepare_and_execute(sql, params); });
}

Result Connection::prepare_and_execute(std::string_view sql, const Params& params) {
  std::string text(sql);
  // round_trips_ counts what was sent: a failure before sending (std::bad_alloc) leaves it as it
  // was, which is how the session knows nothing was sent.
  if (const std::string* name = impl_->prepared.find(text)) {
    ++statements_;
    ++round_trips_;
    return check(PQexecPrepared(impl_->conn, name->c_str(), static_cast<int>(params.size()),
                                params.values().data(), nullptr, nullptr,
                                binary_results_ ? params.result_format() : 0),
                 sql);
  }
  // A full cache drops its least recently used statement; the DEALLOCATE rides in front of the
  // Parse, in a segment of its own.
  std::optional<std::string> evicted = impl_->prepared.evict_if_full();
  std::string deallocate =
      evicted ? detail::PreparedCache::deallocate_sql(*evicted) : std::string();
  // Parse and first execution travel together in one pipeline: one round trip, not two.
  std::string name = detail::PreparedCache::new_name();
  PGconn* conn = impl_->conn;
  statements_ += evicted ? 3 : 2;
  ++round_trips_;
  if (PQenterPipelineMode(conn) != 1 ||
      (evicted && (PQsendQueryParams(conn, deallocate.c_str(), 0, nullptr, nullptr, nullptr,
                                     nullptr, 0) != 1 ||
                   PQpipelineSync(conn) != 1)) ||
      PQsendPrepare(conn, name.c_str(), text.c_str(), 0, nullptr) != 1 ||
      PQsendQueryPrepared(conn, name.c_str(), static_cast<int>(params.size()),
                          params.values().data(), nullptr, nullptr,
                          binary_results_ ? params.result_format() : 0) != 1 ||
      PQpipelineSync(conn) != 1) {
    drain_pipeline();
    return check(nullptr, sql);
  }
  if (evicted) {
    // A failed DEALLOCATE (inside a failed transaction) leaves the statement on the server until
    // the connection closes; the Parse below then fails the same way and is reported.
    // Its result, the end of its results, then its segment's Sync.
    for (int guard = 0; guard < 4; ++guard) {
      PGresult* r = PQgetResult(conn);
      if (r == nullptr) {
        if (PQstatus(conn) != CONNECTION_OK) break;
        continue;
      }
      bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync) break;
    }
  }
  PGresult* prepared = PQgetResult(conn);
  while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  PGresult* executed = PQgetResult(conn);
  if (executed)
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  PGresult* at_sync = drain(conn, broken_);
  if (!succeeded(prepared)) {
    PQclear(executed);
    PQclear(at_sync);
    return check(prepared, sql);
  }
  if (at_sync && succeeded(executed)) {  // its implicit transaction failed to commit
    PQclear(executed);
    executed = at_sync;
  } else {
    PQclear(at_sync);
  }
  PQclear(prepared);
  OwnedResult owned(executed, &PQclear);
  // Recorded before the execution's outcome is known: the statement exists on the server even
  // when its first execution fails, and the next call reuses it instead of preparing another.
  impl_->prepared.insert(text, std::move(name));
  return check(owned.release(), sql);
}

namespace {
// Reads up to the pipeline's sync point and leaves pipeline mode. Returns the first error met
// there (the caller owns it), which is how a failure at the Sync itself arrives: a deferred
// constraint or trigger of an implicit transaction (statements outside BEGIN) runs when the Sync
// commits it, after its statements reported success, and that commit fails.
PGresult* drain(PGconn* conn, bool& broken) noexcept {
  PGresult* error = nullptr;
  for (int guard = 0; guard < 1000000 && PQpipelineStatus(conn) != PQ_PIPELINE_OFF; ++guard) {
    if (PQexitPipelineMode(conn) == 1) break;
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) {
      if (PQstatus(conn) != CONNECTION_OK) {
        broken = true;
        break;
      }
      continue;
    }
    if (error == nullptr && PQresultStatus(r) == PGRES_FATAL_ERROR)
      error = r;
    else
      PQclear(r);
  }
  return error;
}
}  // namespace

void Connection::drain_pipeline() noexcept {
  PQclear(drain(impl_->conn, broken_));
}

std::vector<Result> Connection::execute_pipeline(const std::vector<PipelineItem>& items) {
  std::vector<Result> out;
  execute_pipeline(items, out);
  return out;
}

void Connection::execute_pipeline(const std::vector<PipelineItem>& items,
                                  std::vector<Result>& out) {
  out.reserve(out.size() + items.size());
  if (items.size() == 1) {
    out.push_back(execute_prepared(items[0].sql, *items[0].params));
    return;
  }
  if (unusable()) execute("", Params{});  // throws Disconnect
  for (const auto& item : items) detail::check_parameter_count(item.params->size(), item.sql);
  if (!observer_ || !observer_->statements()) return send_pipeline_or_break(items, out);
  std::vector<StatementEvent> events;
  events.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    events.push_back(Observation::statement_event(*this, items[i].sql, items[i].params));
    events.back().statement_number += i;
    observer_->before(events.back());
  }
  const std::size_t first = out.size();
  const auto start = Clock::now();
  // Every statement of the batch gets the batch's time; those after a failure are reported as
  // skipped, as the server skipped them.
  auto report = [&](const std::exception* error) {
    const auto elapsed = Clock::now() - start;
    const std::size_t completed = out.size() - first;
    ErrorInfo info;
    info.message = "not executed: an earlier statement of its pipeline failed";
    InterfaceError skipped(std::move(info));
    for (std::size_t i = 0; i < events.size(); ++i) {
      events[i].duration = elapsed;
      if (i < completed)
        events[i].rows = detail::rows_of(out[first + i].native_handle());
      else
        events[i].error = i == completed ? error : &skipped;
      // Every statement completed and the call failed at the Sync (an implicit transaction that
      // did not commit): the last statement's event carries the error.
      if (error && completed == events.size() && i + 1 == events.size()) events[i].error = error;
      observer_->after(events[i]);
    }
  };
  try {
    send_pipeline_or_break(items, out);
  } catch (const std::exception& e) {
    report(&e);
    throw;
  }
  report(nullptr);
}

void Connection::send_pipeline_or_break(const std::vector<PipelineItem>& items,
                                        std::vector<Result>& out) {
  try {
    send_pipeline(items, out);
  } catch (const Error&) {
    throw;  // the server's answer, read to the end of the pipeline
  } catch (...) {
    // Not the server's answer (std::bad_alloc while sending or reading): a connection left in
    // the middle of the pipeline's protocol is not used again.
    if (PQpipelineStatus(impl_->conn) != PQ_PIPELINE_OFF) desynced_ = true;
    throw;
  }
}

void Connection::send_pipeline(const std::vector<PipelineItem>& items, std::vector<Result>& out) {
  PGconn* conn = impl_->conn;
  std::string text;
  for (std::size_t start = 0; start < items.size(); start += kPipelineChunk) {
    std::size_t end = std::min(items.size(), start + kPipelineChunk);
    // Statements with parameters run as named prepared statements, as execute_prepared() runs
    // them (the server parses and plans each text once per connection, not once per row of a
    // flush). Those not prepared yet are prepared in a segment of their own ahead of the chunk,
    // while the cache has room (no eviction here: the evicted statement could be one of the
    // chunk's).
    std::vector<const std::string*> names(end - start, nullptr);
    std::vector<std::pair<std::string, std::string>> preparing;  // SQL text, new name
    preparing.reserve(end - start);  // `names` points into it
    if (use_prepared_) {
      for (std::size_t i = start; i < end; ++i) {
        if (items[i].params->empty()) continue;
        text.assign(items[i].sql);
        if (const std::string* name = impl_->prepared.find(text)) {
          names[i - start] = name;
          continue;
        }
        auto same = std::find_if(preparing.begin(), preparing.end(),
                                 [&](const auto& p) { return p.first == text; });
        if (same != preparing.end()) {
          names[i - start] = &same->second;
        } else if (impl_->prepared.size() + preparing.size() <
                   detail::PreparedCache::default_capacity) {
          preparing.emplace_back(text, detail::PreparedCache::new_name());
          names[i - start] = &preparing.back().second;
        }
      }
    }
    bool sent = PQenterPipelineMode(conn) == 1;
    for (const auto& [sql, name] : preparing)
      sent = sent && PQsendPrepare(conn, name.c_str(), sql.c_str(), 0, nullptr) == 1;
    if (!preparing.empty()) sent = sent && PQpipelineSync(conn) == 1;
    for (std::size_t i = start; sent && i < end; ++i) {
      const Params& p = *items[i].params;
      const int format = binary_results_ ? p.result_format() : 0;
      if (const std::string* name = names[i - start]) {
        sent = PQsendQueryPrepared(conn, name->c_str(), static_cast<int>(p.size()),
                                   p.values().data(), nullptr, nullptr, format) == 1;
      } else {
        text.assign(items[i].sql);
        sent = PQsendQueryParams(conn, text.c_str(), static_cast<int>(p.size()), nullptr,
                                 p.values().data(), nullptr, nullptr, format) == 1;
      }
    }
    if (!sent || PQpipelineSync(conn) != 1) {
      drain_pipeline();
      check(nullptr, items[start].sql);
    }
    statements_ += end - start + preparing.size();
    ++round_trips_;
    // The prepare segment: each statement that was prepared is recorded (it exists on the server
    // whatever its executions do); a failed Parse is reported for the first statement using it.
    // Results are owned from the moment they are read: a client failure (std::bad_alloc) on the
    // way frees them.
    OwnedResult prepare_failure(nullptr, &PQclear);
    const std::string* failed_name = nullptr;
    for (std::size_t k = 0; k < preparing.size(); ++k) {
      OwnedResult r(PQgetResult(conn), &PQclear);
      if (!r) break;  // the connection broke: the chunk's results below tell
      while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
      if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
        impl_->prepared.insert(preparing[k].first, preparing[k].second);
      } else if (!prepare_failure && PQresultStatus(r.get()) == PGRES_FATAL_ERROR) {
        prepare_failure = std::move(r);
        failed_name = &preparing[k].second;
      }
    }
    if (!preparing.empty()) {
      OwnedResult sync(PQgetResult(conn), &PQclear);
      if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
        drain_pipeline();
        check(nullptr, items[start].sql);
      }
    }
    std::optional<std::size_t> failed;
    OwnedResult failure(nullptr, &PQclear);
    std::size_t received = 0;
    for (std::size_t i = start; i < end; ++i) {
      OwnedResult r(PQgetResult(conn), &PQclear);
      if (!r) break;  // the connection broke
      ++received;
      while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
      if (failed) continue;  // skipped by the server after the failure
      if (!succeeded(r.get())) {
        failed = i;
        failure = std::move(r);
      } else {
        Result result(r.release());  // frees it if this throws
        out.push_back(std::move(result));
      }
    }
    if (prepare_failure) {
      // The statement whose Parse failed did not run, nor anything after it in the chunk. Its
      // error is the one to report, unless a statement before it failed first.
      std::size_t first_use = start;
      while (first_use < end && names[first_use - start] != failed_name) ++first_use;
      if (!failed || *failed >= first_use) {
        failure = std::move(prepare_failure);
        failed = first_use;
      }
    }
    OwnedResult at_sync(drain(conn, broken_), &PQclear);
    if (failed) check(failure.release(), items[*failed].sql);
    if (received != end - start) check(nullptr, items[start].sql);
    // Every statement completed, and the implicit transaction they formed (outside BEGIN)
    // failed to commit at the Sync: none of them took effect.
    if (at_sync) check(at_sync.release(), items[end - 1].sql);
  }
}

void Connection::execute_script(std::string_view sql) {
  Observation seen(*this, observer_.get(), sql, nullptr);
  seen.run([&] {
    std::string text(sql);
    ++statements_;
    ++round_trips_;
    return check(PQexec(impl_->conn, text.c_str()), sql);
  });
}

Result Connection::copy_in(std::string_view copy_sql, std::string_view data) {
  if (unusable()) execute("", Params{});  // throws Disconnect
  Observation seen(*this, observer_.get(), copy_sql, nullptr);
  return seen.run([&] {
    PGconn* conn = impl_->conn;
    std::string text(copy_sql);
    ++statements_;
    round_trips_ += 2;  // the statement's CopyInResponse, then the rows' CommandComplete
    Result started = check(PQexec(conn, text.c_str()), copy_sql);
    if (PQresultStatus(started.native_handle()) != PGRES_COPY_IN) {
      ErrorInfo info;
      info.message = "copy_in(): the statement is not a COPY ... FROM STDIN";
      info.statement = std::string(copy_sql);
      throw InterfaceError(std::move(info));
    }
    // In pieces, so that libpq does not double a buffer the size of all the rows.
    constexpr std::size_t kPiece = 256 * 1024;
    bool sent = true;
    for (std::size_t at = 0; sent && at < data.size(); at += kPiece) {
      const std::size_t n = std::min(kPiece, data.size() - at);
      sent = PQputCopyData(conn, data.data() + at, static_cast<int>(n)) == 1;
    }
    if (!sent || PQputCopyEnd(conn, nullptr) != 1) {
      broken_ = true;  // the COPY cannot be ended: the connection is unusable either way
      return check(nullptr, copy_sql);
    }
    Result done = check(PQgetResult(conn), copy_sql);
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
    return done;
  });
}

void Connection::run_in_transaction(const std::vector<std::string>& statements) {
  execute("BEGIN");
  try {
    for (const auto& s : statements) execute(s);
    execute("COMMIT");
  } catch (...) {
    if (!broken_) PQclear(PQexec(impl_->conn, "ROLLBACK"));
    throw;
  }
}

bool Connection::is_open() const noexcept {
  return impl_ && impl_->conn && !unusable() && PQstatus(impl_->conn) == CONNECTION_OK;
}

TransactionStatus detail::transaction_status_of(PGconn* conn) noexcept {
  switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
      return TransactionStatus::idle;
    case PQTRANS_ACTIVE:
      return TransactionStatus::active;
    case PQTRANS_INTRANS:
      return TransactionStatus::in_transaction;
    case PQTRANS_INERROR:
      return TransactionStatus::in_error;
    default:
      return TransactionStatus::unknown;
  }
}

TransactionStatus Connection::transaction_status() const noexcept {
  return detail::transaction_status_of(impl_->conn);
}

const std::string& Connection::transaction_setup() const noexcept {
  return impl_->transaction_setup;
}

int Connection::backend_pid() const noexcept {
  return PQbackendPID(impl_->conn);
}
int Connection::server_version() const noexcept {
  return PQserverVersion(impl_->conn);
}
std::size_t Connection::prepared_count() const noexcept {
  return impl_->prepared.size();
}
PGconn* Connection::native_handle() const noexcept {
  return impl_ ? impl_->conn : nullptr;
}

// ---- Params and Result helpers ----

const std::vector<const char*>& Params::values() const {
  pointers_.resize(starts_.size());
  for (std::size_t i = 0; i < starts_.size(); ++i)
    pointers_[i] = starts_[i] == kNull ? nullptr : buffer_.data() + starts_[i];
  return pointers_;
}

int Result::column_index(std::string_view name) const noexcept {
  int n = columns();
  for (int i = 0; i < n; ++i)
    if (column_name(i) == name) return i;
  return -1;
}

void detail::column_positions(const Result& result, std::string_view prefix,
                              std::span<const std::string_view> names, int* positions) {
  // Each column's name read once (PQfname and a strlen), then matched in memory.
  constexpr int kCached = 64;
  std::string_view columns[kCached];
  const int n = result.columns();
  const int cached = std::min(n, kCached);
  for (int c = 0; c < cached; ++c) columns[c] = result.column_name(c);
  // Whether cached column c is named prefix + names[i].
  auto named = [&](int c, std::size_t i) {
    return columns[c].size() == prefix.size() + names[i].size() && columns[c].starts_with(prefix) &&
           columns[c].substr(prefix.size()) == names[i];
  };
  // The common case first: the result's columns are exactly the names, in order (a statement
  // pgorm rendered). Then every name is found where the search below would find it, since the
  // names are distinct (a model's columns).
  if (static_cast<std::size_t>(n) == names.size() && n <= kCached) {
    bool in_order = true;
    for (int c = 0; c < n && in_order; ++c) in_order = named(c, static_cast<std::size_t>(c));
    if (in_order) {
      for (int c = 0; c < n; ++c) positions[c] = c;
      return;
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    int found = -1;
    for (int c = 0; c < cached && found < 0; ++c)
      if (named(c, i)) found = c;
    if (found < 0 && n > cached) {
      std::string name(prefix);
      name.append(names[i]);
      for (int c = cached; c < n && found < 0; ++c)
        if (result.column_name(c) == name) found = c;
    }
    positions[i] = found;
  }
}

std::int64_t Result::affected_rows() const noexcept {
  if (!result_) return 0;
  const char* tuples = PQcmdTuples(result_.get());
  if (tuples == nullptr || *tuples == '\0') return rows();
  return std::strtoll(tuples, nullptr, 10);
}

namespace detail {
void throw_null_in_column(std::string_view column) {
  ErrorInfo info;
  info.column = std::string(column);
  info.message =
      fmt::format("column \"{}\" is NULL but the C++ member is not std::optional", column);
  throw DataError(std::move(info));
}
void rethrow_with_column(std::string_view column) {
  try {
    throw;
  } catch (const DataError& e) {
    ErrorInfo info = e.info();
    info.column = std::string(column);
    throw DataError(std::move(info));
  }
}
void throw_missing_key_column(std::string_view table, std::string_view column,
                              const Result& result) {
  std::string columns;
  for (int c = 0; c < result.columns(); ++c) {
    if (c) columns += ", ";
    columns += result.column_name(c);
  }
  ErrorInfo info;
  info.table = std::string(table);
  info.column = std::string(column);
  info.message = fmt::format(
      "the result has no column \"{}\", which is part of the primary key of table \"{}\", so "
      "its rows cannot be read as objects of that model (the result's columns: {}); behind a "
      "transaction pooler this can mean a prepared statement of another client ran (see "
      "EngineOptions::prepared_statements)",
      column, table, columns.empty() ? "none" : columns);
  throw InterfaceError(std::move(info));
}

void throw_column_count(int expected, int got) {
  ErrorInfo info;
  info.message =
      fmt::format("the query returns {} columns, the row type expects {}", got, expected);
  throw ProgrammingError(std::move(info));
}
}  // namespace detail

}  // namespace pgorm
