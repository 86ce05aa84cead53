// AsyncConnection: libpq in non-blocking pipeline mode, driven by an Asio strand.
//
// Every member is touched on the connection's strand only. Callers on other executors reach it by
// co_spawn onto the strand. Segments are queued (unsent_), written by one posted send_now() so
// that segments queued in the same turn share one write, and then wait in sent_ until their
// PGRES_PIPELINE_SYNC result. One driver coroutine per connection waits for the socket while
// anything is in flight; it exits (and cancels its socket waits) when nothing is, so an idle
// connection holds no pending operation and is freed when its last owner lets go.
#include "pgorm/async/connection.hpp"

#include "pgorm/engine/watchdog.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <system_error>
#include <thread>

#include <fmt/format.h>

namespace pgorm {
namespace {

using asio::use_awaitable;
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
using wait_type = asio::posix::stream_descriptor::wait_type;

std::string trimmed(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

std::exception_ptr database_error(ErrorInfo info) {
  try {
    throw_database_error(std::move(info));
  } catch (...) {
    return std::current_exception();
  }
}

template <class E>
std::exception_ptr error_of(std::string message, std::string sqlstate = {}) {
  ErrorInfo info;
  info.message = std::move(message);
  info.sqlstate = std::move(sqlstate);
  return std::make_exception_ptr(E(std::move(info)));
}

[[noreturn]] void throw_deadline(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  info.sqlstate = "57014";
  throw DeadlineExceeded(std::move(info));
}

// Waits until `fd` is ready for `what`, or until the deadline. True when ready. The descriptor is
// released (never closed: libpq owns the socket) before returning.
asio::awaitable<bool> wait_socket(AsyncConnection::executor_type strand, int fd, wait_type what,
                                  std::optional<AsyncClock::time_point> deadline) {
  asio::posix::stream_descriptor socket(strand, fd);
  struct Release {
    asio::posix::stream_descriptor& s;
    ~Release() {
      std::error_code ignored;
      if (s.is_open()) s.release();
      (void)ignored;
    }
  } release{socket};
  if (!deadline) {
    auto [ec] = co_await socket.async_wait(what, as_tuple_awaitable);
    co_return !ec;
  }
  struct State {
    explicit State(const AsyncConnection::executor_type& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool fired = false;
    bool ready = false;
  };
  auto state = std::make_shared<State>(strand);
  state->timer.expires_at(*deadline);
  socket.async_wait(what, [state](std::error_code ec) {
    state->fired = true;
    state->ready = !ec;
    state->timer.cancel();
  });
  co_await state->timer.async_wait(as_tuple_awaitable);
  co_return state->fired && state->ready;
}

}  // namespace

struct AsyncConnection::Batch {
  explicit Batch(const executor_type& ex) : signal(ex) {}
  struct Slot {
    std::size_t index;  // statement (of `owner` for a prepare segment)
    bool prepare;
    bool deallocate = false;  // a DEALLOCATE of a statement evicted from the cache
  };
  std::vector<PipelineStatement> statements;
  std::vector<StatementOutcome> outcomes;
  // The results this segment expects, in order, then its PGRES_PIPELINE_SYNC.
  std::vector<Slot> slots;
  std::size_t slot = 0;
  bool slot_has_result = false;
  bool per_statement = false;  // a Sync after each statement
  bool shared = false;         // Segments::shared_reads
  bool in_run = false;         // written without a Sync of its own (or after such a segment)
  std::size_t aborted = 0;     // statements the server skipped (PIPELINE_ABORTED)
  // The first statement of this segment that failed: the statements the server skipped after it
  // report its error (class and SQLSTATE), so callers see the root cause.
  std::exception_ptr root_error;
  std::size_t syncs_expected = 1;  // 0: done with its last statement (a later segment syncs)
  std::size_t syncs_seen = 0;
  bool done = false;
  bool expired = false;  // its caller's deadline passed: the caller is draining the connection
  bool cut_off = false;  // failed by fail_all (the connection broke or was discarded)
  // Set for the internal segments that only prepare statements for `owner`.
  std::shared_ptr<Batch> owner;
  asio::steady_timer signal;  // cancelled when done; expires at the caller's deadline
  // Reported to the statement hooks (before_statement) when first written: after_statement
  // follows when it is done.
  bool announced = false;
  std::uint64_t first_number = 0;  // the connection's statement counter of its first statement
  AsyncClock::time_point sent_at{};
};

// ---- opening ----

AsyncConnection::AsyncConnection(executor_type strand, PGconn* conn, AsyncConnectionOptions options)
    : strand_(std::move(strand)),
      conn_(conn),
      options_(options),
      socket_(strand_, PQsocket(conn)),
      wake_timer_(strand_),
      backend_pid_(PQbackendPID(conn)),
      opened_at_(AsyncClock::now()) {}

AsyncConnection::~AsyncConnection() {
  try {
    if (socket_.is_open()) socket_.release();
  } catch (...) {
  }
  if (conn_) PQfinish(conn_);
}

asio::awaitable<std::shared_ptr<AsyncConnection>> AsyncConnection::open(
    asio::any_io_executor ex, std::string conninfo, AsyncConnectionOptions options,
    std::optional<time_point> deadline) {
  executor_type strand = asio::make_strand(ex);
  co_return co_await asio::co_spawn(
      strand, open_here(strand, std::move(conninfo), options, deadline), use_awaitable);
}

asio::awaitable<std::shared_ptr<AsyncConnection>> AsyncConnection::open_here(
    executor_type strand, std::string conninfo, AsyncConnectionOptions options,
    std::optional<time_point> deadline) {
  PGconn* raw = PQconnectStart(conninfo.c_str());
  if (raw == nullptr) throw std::bad_alloc();
  std::unique_ptr<PGconn, decltype(&PQfinish)> guard(raw, &PQfinish);
  auto fail = [&] {
    ErrorInfo info;
    info.message =
        trimmed(fmt::format("could not connect to the database: {}", PQerrorMessage(raw)));
    info.sqlstate = "08001";
    throw Disconnect(std::move(info));
  };
  if (PQstatus(raw) == CONNECTION_BAD) fail();
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) fail();
    wait_type what = poll == PGRES_POLLING_READING ? wait_type::wait_read : wait_type::wait_write;
    // The socket can change between polls (libpq tries each address of the host in turn).
    if (!co_await wait_socket(strand, PQsocket(raw), what, deadline))
      throw_deadline("connecting to the database took longer than the deadline");
    poll = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0 || PQenterPipelineMode(raw) != 1) fail();
  co_return std::shared_ptr<AsyncConnection>(new AsyncConnection(strand, guard.release(), options));
}

// ---- sending ----

asio::awaitable<std::vector<StatementOutcome>> AsyncConnection::pipeline(
    std::vector<PipelineStatement> statements, std::optional<time_point> deadline,
    Segments segments) {
  auto self = shared_from_this();
  if (strand_.running_in_this_thread())
    co_return co_await pipeline_here(std::move(statements), deadline, segments);
  co_return co_await asio::co_spawn(
      strand_, self->pipeline_here(std::move(statements), deadline, segments), use_awaitable);
}

asio::awaitable<Result> AsyncConnection::execute(std::string sql, Params params,
                                                 std::optional<time_point> deadline) {
  std::vector<PipelineStatement> one;
  one.push_back({std::move(sql), std::move(params), false});
  auto outcomes = co_await pipeline(std::move(one), deadline);
  co_return std::move(outcomes.front().get());
}

asio::awaitable<std::vector<StatementOutcome>> AsyncConnection::pipeline_here(
    std::vector<PipelineStatement> statements, std::optional<time_point> deadline,
    Segments segments) {
  if (closed_) {
    ErrorInfo info;
    info.message = "the connection is closed (it broke or was discarded) and must not be reused";
    info.sqlstate = "08003";
    throw Disconnect(std::move(info));
  }
  for (const auto& s : statements) detail::check_parameter_count(s.params.size(), s.sql);
  if (statements.empty()) co_return std::vector<StatementOutcome>{};
  auto batch = std::make_shared<Batch>(strand_);
  batch->outcomes.resize(statements.size());
  batch->statements = std::move(statements);
  if (segments == Segments::per_statement) {
    batch->per_statement = true;
    batch->syncs_expected = batch->statements.size();
  }
  batch->shared = segments == Segments::shared_reads;
  unsent_.push_back(batch);
  schedule_send();

  batch->signal.expires_at(deadline ? *deadline : time_point::max());
  co_await batch->signal.async_wait(as_tuple_awaitable);
  if (batch->done) co_return std::move(batch->outcomes);

  // The deadline passed. A segment that was never written is simply dropped.
  if (auto it = std::find(unsent_.begin(), unsent_.end(), batch); it != unsent_.end()) {
    unsent_.erase(it);
    throw_deadline("the deadline passed before the statement was sent");
  }
  // It is on the server: cancel it there and read the connection back to a clean state (every
  // result and Sync still due). The results that arrive meanwhile are recorded as usual, so once
  // the connection is drained this segment's outcomes are known. If the server does not answer
  // within cancel_grace (a frozen network), the connection is discarded instead and the outcome
  // stays unknown.
  auto self = shared_from_this();
  batch->expired = true;
  send_cancel();
  const time_point until = AsyncClock::now() + options_.cancel_grace;
  bool drained = co_await wait_drained(until);
  auto discard = [this] {
    if (!closed_)
      fail_all(error_of<Disconnect>(
          "the connection was discarded: the server did not answer a cancel request in time",
          "08006"));
  };
  // (A segment cut off by a broken connection has no outcome from the server either, unless a
  // statement of it had already failed: the rest of it was skipped.)
  if (!batch->done || (batch->cut_off && !batch->root_error)) {
    discard();
    throw_deadline(fmt::format(
        "the deadline passed and the connection was discarded before the server answered a "
        "cancel request (cancel_grace {} ms): the outcome of the statements is unknown (they may "
        "have completed, COMMIT included)",
        options_.cancel_grace.count()));
  }
  // This segment's outcomes are known. The connection is reused only when nothing else is still
  // due on it and the server has taken the cancel request (one still on its way could cancel
  // whatever the connection runs next).
  if (!drained)
    discard();
  else if (!co_await wait_cancel_delivered(until))
    close();
  // The cancel arrived while a statement ran: that statement and the rest of its segment did not
  // run (a COMMIT among them did not commit). A statement skipped only because another call's
  // segment sharing its Sync failed did not run either.
  for (const auto& outcome : batch->outcomes) {
    if (!outcome.error) continue;
    try {
      std::rethrow_exception(outcome.error);
    } catch (const QueryCanceled&) {
      throw_deadline("the deadline passed; the statement was cancelled on the server");
    } catch (const PipelineAborted&) {
      throw_deadline("the deadline passed; the statement was not executed");
    } catch (...) {
    }
  }
  // Every statement completed (only its results were late), or the first failure is the
  // statement's own error (it came before the cancel): the caller sees what really happened.
  co_return std::move(batch->outcomes);
}

void AsyncConnection::schedule_send() {
  if (send_scheduled_) return;
  send_scheduled_ = true;
  // Two hops through the event loop's queue before writing: calls started together (gather(),
  // concurrent coroutines) reach the strand through a co_spawn of their own, and this lets them
  // all join the write instead of the first one going alone.
  asio::post(strand_, [self = shared_from_this()] {
    asio::post(self->strand_, [self] { self->send_now(); });
  });
}

void AsyncConnection::send_now() {
  send_scheduled_ = false;
  if (closed_ || unsent_.empty()) return;
  auto send_failed = [this] {
    fail_all(error_of<Disconnect>(
        trimmed(fmt::format("could not send to the server: {}", PQerrorMessage(conn_))), "08006"));
  };
  while (!unsent_.empty()) {
    std::shared_ptr<Batch> batch = std::move(unsent_.front());
    unsent_.pop_front();
    auto& statements = batch->statements;
    // Statements not prepared yet are prepared in a segment of their own ahead of this one, so a
    // failure elsewhere in this segment cannot leave the name unregistered for other segments.
    if (options_.prepared_statements) {
      std::shared_ptr<Batch> prepare;
      for (std::size_t i = 0; i < statements.size(); ++i) {
        const auto& s = statements[i];
        if (!s.prepared || prepared_.find(s.sql)) continue;  // (find: now recently used)
        if (!prepare) {
          prepare = std::make_shared<Batch>(strand_);
          prepare->owner = batch;
        }
        // A full cache drops its least recently used statement. Segments already written run
        // before the DEALLOCATE; later ones look their names up again when they are written.
        if (auto evicted = prepared_.evict_if_full()) {
          std::string deallocate = detail::PreparedCache::deallocate_sql(*evicted);
          if (!PQsendQueryParams(conn_, deallocate.c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                                 0))
            return send_failed();
          prepare->slots.push_back({i, true, true});
        }
        std::string name = detail::PreparedCache::new_name();
        if (!PQsendPrepare(conn_, name.c_str(), s.sql.c_str(), static_cast<int>(s.params.size()),
                           nullptr))
          return send_failed();
        prepared_.insert(s.sql, std::move(name));
        prepare->slots.push_back({i, true});
      }
      if (prepare) {
        if (!PQpipelineSync(conn_)) return send_failed();
        statements_.fetch_add(prepare->slots.size(), std::memory_order_relaxed);
        sent_.push_back(std::move(prepare));
      }
    }
    if (observer_ && observer_->statements() && !batch->announced) announce(*batch);
    for (std::size_t i = 0; i < statements.size(); ++i) {
      const auto& s = statements[i];
      const auto& values = s.params.values();
      int n = static_cast<int>(s.params.size());
      int ok;
      const std::string* named =
          s.prepared && options_.prepared_statements ? prepared_.find(s.sql) : nullptr;
      const int format = options_.binary_results ? s.params.result_format() : 0;
      if (named)
        ok = PQsendQueryPrepared(conn_, named->c_str(), n, values.data(), nullptr, nullptr,
                                 format);
      else
        ok =
            PQsendQueryParams(conn_, s.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr,
                              format);
      if (!ok) return send_failed();
      batch->slots.push_back({i, false});
      if (batch->per_statement && !PQpipelineSync(conn_)) return send_failed();
    }
    // Shared-read segments written back to back share one Sync (one server flush).
    bool merge = batch->shared && !unsent_.empty() && unsent_.front()->shared &&
                 !needs_prepare(*unsent_.front());
    if (merge) {
      batch->syncs_expected = 0;
      batch->in_run = true;
      unsent_.front()->in_run = true;
    } else if (!batch->per_statement && !PQpipelineSync(conn_)) {
      return send_failed();
    }
    statements_.fetch_add(statements.size(), std::memory_order_relaxed);
    sent_.push_back(std::move(batch));
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  flush_output();
  ensure_driver();
}

void AsyncConnection::flush_output() {
  if (closed_) return;
  int r = PQflush(conn_);
  if (r < 0) {
    fail_all(error_of<Disconnect>(
        trimmed(fmt::format("could not send to the server: {}", PQerrorMessage(conn_))), "08006"));
    return;
  }
  flush_pending_ = r == 1;
  // PQflush reads input when the socket is not writable: results may already be buffered.
  process_results();
}

void AsyncConnection::send_cancel() {
  if (closed_) return;
  // On a thread of its own (detail::send_cancel): the caller waits at most cancel_grace for the
  // server to take it.
  auto delivered = detail::send_cancel(conn_);
  if (!delivered) return;
  cancels_.fetch_add(1, std::memory_order_relaxed);
  cancel_delivered_ = std::move(delivered);
}

asio::awaitable<bool> AsyncConnection::wait_cancel_delivered(time_point until) {
  auto delivered = cancel_delivered_;
  if (!delivered) co_return true;
  // The cancel thread cannot post to the strand safely (the event loop may be gone before it
  // returns), so the strand polls its flag, briefly and within the bound.
  asio::steady_timer timer(strand_);
  while (!delivered->load(std::memory_order_acquire)) {
    if (closed_ || AsyncClock::now() >= until) co_return false;
    timer.expires_at(std::min(until, AsyncClock::now() + std::chrono::milliseconds(2)));
    co_await timer.async_wait(as_tuple_awaitable);
  }
  if (cancel_delivered_ == delivered) cancel_delivered_.reset();
  co_return true;
}

// ---- the driver: waits on the socket while anything is in flight ----

void AsyncConnection::ensure_driver() {
  if (closed_) return;
  if (driver_running_) {
    wake();
    return;
  }
  if (sent_.empty() && !flush_pending_) return;
  driver_running_ = true;
  asio::co_spawn(
      strand_, [self = shared_from_this()]() { return self->drive(); }, asio::detached);
}

void AsyncConnection::wake() noexcept {
  wake_pending_ = true;
  wake_timer_.cancel();
}

void AsyncConnection::arm_waits() {
  if (!read_armed_ && !sent_.empty()) {
    read_armed_ = true;
    socket_.async_wait(wait_type::wait_read, [self = shared_from_this(),
                                              generation = wait_generation_](std::error_code ec) {
      if (generation != self->wait_generation_) return;
      self->read_armed_ = false;
      if (ec != asio::error::operation_aborted) self->read_ready_ = true;
      self->wake();
    });
  }
  if (!write_armed_ && flush_pending_) {
    write_armed_ = true;
    socket_.async_wait(wait_type::wait_write, [self = shared_from_this(),
                                               generation = wait_generation_](std::error_code ec) {
      if (generation != self->wait_generation_) return;
      self->write_armed_ = false;
      if (ec != asio::error::operation_aborted) self->write_ready_ = true;
      self->wake();
    });
  }
}

asio::awaitable<void> AsyncConnection::drive() {
  try {
    while (!closed_ && (!sent_.empty() || flush_pending_)) {
      arm_waits();
      if (!wake_pending_) {
        wake_timer_.expires_at(time_point::max());
        co_await wake_timer_.async_wait(as_tuple_awaitable);
      }
      wake_pending_ = false;
      if (closed_) break;
      if (write_ready_) {
        write_ready_ = false;
        if (flush_pending_) flush_output();
      }
      if (read_ready_ && !closed_) {
        read_ready_ = false;
        if (!PQconsumeInput(conn_)) {
          fail_all(
              error_of<Disconnect>(trimmed(fmt::format("the connection to the server was lost: {}",
                                                       PQerrorMessage(conn_))),
                                   "08006"));
          break;
        }
        process_results();
        if (flush_pending_) flush_output();
      }
    }
  } catch (...) {
    fail_all(std::current_exception());
  }
  // Leave no socket wait behind: an idle connection holds no reference to itself.
  ++wait_generation_;
  read_armed_ = write_armed_ = read_ready_ = write_ready_ = false;
  if (!closed_) {
    std::error_code ignored;
    socket_.cancel(ignored);
  }
  driver_running_ = false;
}

void AsyncConnection::process_results() {
  while (!closed_ && !sent_.empty()) {
    if (PQisBusy(conn_)) break;
    PGresult* raw = PQgetResult(conn_);
    Batch& batch = *sent_.front();
    if (raw == nullptr) {  // the end of one statement's results
      if (!batch.slot_has_result) break;
      batch.slot_has_result = false;
      ++batch.slot;
      if (batch.syncs_expected == 0 && batch.slot == batch.slots.size()) complete_front();
      continue;
    }
    Result result(raw);
    if (PQresultStatus(raw) == PGRES_PIPELINE_SYNC) {
      if (batch.slot_has_result) {
        batch.slot_has_result = false;
        ++batch.slot;
      }
      if (batch.per_statement) batch.root_error = nullptr;  // the next segment starts clean
      if (++batch.syncs_seen < batch.syncs_expected) continue;
      complete_front();
      continue;
    }
    if (batch.slot_has_result) {
      batch.slot_has_result = false;
      ++batch.slot;
    }
    if (batch.slot >= batch.slots.size()) {
      fail_all(error_of<InternalError>("pgorm: unexpected result in the pipeline"));
      return;
    }
    record(batch, std::move(result));
    batch.slot_has_result = true;
  }
  notify_if_drained();
}

void AsyncConnection::record(Batch& batch, Result result) {
  const Batch::Slot& slot = batch.slots[batch.slot];
  // Already out of the cache; a failure (only inside a failed transaction, where the Parse after
  // it fails too) leaves the statement on the server until the connection closes.
  if (slot.deallocate) return;
  Batch& target = batch.owner ? *batch.owner : batch;
  StatementOutcome& outcome = target.outcomes[slot.index];
  const std::string& sql = target.statements[slot.index].sql;
  ExecStatusType status = PQresultStatus(result.native_handle());
  switch (status) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      if (!slot.prepare && !outcome.error) outcome.result = std::move(result);
      return;
    case PGRES_PIPELINE_ABORTED:
      // A skipped prepare leaves the name unregistered; its statement then fails on its own.
      if (slot.prepare) {
        prepared_.erase(sql);
        return;
      }
      ++target.aborted;
      if (!outcome.error && target.root_error) {
        outcome.error = target.root_error;
      } else if (!outcome.error) {
        // Skipped because of another call's segment that shared this one's Sync (see
        // complete_front, which sends it again).
        ErrorInfo info;
        info.message = "not executed: an earlier statement of the same pipeline failed";
        info.statement = sql;
        outcome.error = std::make_exception_ptr(PipelineAborted(std::move(info)));
      }
      return;
    default: {
      if (slot.prepare) prepared_.erase(sql);
      // An error after the segment's first failure (the connection closing, say) is a
      // consequence of it: report the root cause.
      if (!slot.prepare && !outcome.error && target.root_error) {
        outcome.error = target.root_error;
        return;
      }
      // A failed prepare carries the real error; its statement then fails as "does not exist".
      if (!outcome.error || slot.prepare) {
        ErrorInfo info = error_info_from(result.native_handle(), conn_, sql);
        if (PQstatus(conn_) != CONNECTION_OK) {
          if (info.sqlstate.empty()) info.sqlstate = "08006";
          outcome.error = std::make_exception_ptr(Disconnect(std::move(info)));
        } else {
          outcome.error = database_error(std::move(info));
        }
      }
      if (!slot.prepare && !target.root_error) target.root_error = outcome.error;
      return;
    }
  }
}

bool AsyncConnection::needs_prepare(const Batch& batch) const {
  if (!options_.prepared_statements) return false;
  for (const auto& s : batch.statements)
    if (s.prepared && !prepared_.contains(s.sql)) return true;
  return false;
}

// The front segment has all its results.
void AsyncConnection::complete_front() {
  std::shared_ptr<Batch> batch = std::move(sent_.front());
  sent_.pop_front();
  // (Not when its caller's deadline passed: nobody waits for it any more.)
  if (batch->in_run && !batch->owner && !batch->expired &&
      batch->aborted == batch->statements.size()) {
    // Skipped only because another call sharing its Sync failed: send it again, alone.
    batch->slots.clear();
    batch->slot = 0;
    batch->slot_has_result = false;
    batch->shared = batch->in_run = false;
    batch->aborted = batch->syncs_seen = 0;
    batch->root_error = nullptr;
    batch->syncs_expected = 1;
    for (auto& o : batch->outcomes) o = StatementOutcome{};
    unsent_.push_back(std::move(batch));
    schedule_send();
    return;
  }
  finish(*batch);
}

ConnectionEvent AsyncConnection::event() const noexcept {
  ConnectionEvent event;
  event.connection_id = id_;
  event.backend_pid = backend_pid_;
  return event;
}

void AsyncConnection::announce(Batch& batch) {
  batch.announced = true;
  batch.first_number = statements_.load(std::memory_order_relaxed) + 1;
  const std::uint64_t session = session_id_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < batch.statements.size(); ++i) {
    StatementEvent event = detail::statement_event(
        batch.statements[i].sql, &batch.statements[i].params, this->event(), session,
        batch.first_number + i);
    observer_->before(event);
  }
  batch.sent_at = AsyncClock::now();
}

void AsyncConnection::finish(Batch& batch) noexcept {
  batch.done = true;
  if (batch.announced && !batch.owner && observer_) {
    // Every statement of the segment gets the segment's time.
    const auto elapsed = AsyncClock::now() - batch.sent_at;
    const std::uint64_t session = session_id_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < batch.statements.size(); ++i) {
      try {
        StatementEvent event =
            detail::statement_event(batch.statements[i].sql, &batch.statements[i].params,
                                    this->event(), session, batch.first_number + i);
        event.duration = elapsed;
        const StatementOutcome& outcome = batch.outcomes[i];
        if (!outcome.error) {
          event.rows = detail::rows_of(outcome.result.native_handle());
          observer_->after(event);
          continue;
        }
        try {
          std::rethrow_exception(outcome.error);
        } catch (const std::exception& e) {
          event.error = &e;
          observer_->after(event);
        }
      } catch (...) {
        // Not a std::exception: nothing to report it as.
      }
    }
  }
  if (!batch.owner) batch.signal.cancel();
}

void AsyncConnection::notify_if_drained() noexcept {
  if (!sent_.empty()) return;
  for (auto& waiter : drain_waiters_) waiter->cancel();
  drain_waiters_.clear();
  if (driver_running_ && !flush_pending_) wake();  // so that the driver exits
}

asio::awaitable<bool> AsyncConnection::wait_drained(time_point until) {
  if (sent_.empty()) co_return !closed_;
  auto timer = std::make_shared<asio::steady_timer>(strand_);
  timer->expires_at(until);
  drain_waiters_.push_back(timer);
  co_await timer->async_wait(as_tuple_awaitable);
  std::erase(drain_waiters_, timer);
  co_return sent_.empty() && !closed_;
}

void AsyncConnection::fail_all(std::exception_ptr error) noexcept {
  broken_.store(true, std::memory_order_release);
  auto fail = [&](std::deque<std::shared_ptr<Batch>>& queue) {
    for (auto& batch : queue) {
      // Statements after a failed one of the same segment report that failure, not the break.
      batch->cut_off = true;
      if (!batch->owner)
        for (auto& outcome : batch->outcomes)
          if (!outcome.error) outcome.error = batch->root_error ? batch->root_error : error;
      finish(*batch);
    }
    queue.clear();
  };
  fail(sent_);
  fail(unsent_);
  close();
}

void AsyncConnection::close() noexcept {
  if (closed_) return;
  if (busy()) {
    fail_all(error_of<Disconnect>("the connection was closed with statements in flight", "08003"));
    return;
  }
  closed_ = true;
  broken_.store(true, std::memory_order_release);
  ++wait_generation_;
  try {
    if (socket_.is_open()) socket_.release();  // cancels the waits; libpq closes the socket
  } catch (...) {
  }
  PQfinish(conn_);
  conn_ = nullptr;
  for (auto& waiter : drain_waiters_) waiter->cancel();
  drain_waiters_.clear();
  wake();
}

TransactionStatus AsyncConnection::transaction_status() const noexcept {
  return closed_ ? TransactionStatus::unknown : detail::transaction_status_of(conn_);
}

}  // namespace pgorm
