// pgorm::AsyncConnection: one PostgreSQL connection driven by libpq's non-blocking API in pipeline
// mode on an Asio executor. Statements are queued, written together and their results read back in
// order, so independent statements share network round trips.
#pragma once

#include <libpq-fe.h>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgorm/async/deadline.hpp"
#include "pgorm/engine/connection.hpp"
#include "pgorm/engine/params.hpp"
#include "pgorm/engine/result.hpp"

namespace pgorm {

// One statement of a pipeline segment.
struct PipelineStatement {
  std::string sql;
  Params params;
  // Through a named prepared statement cached on the connection by SQL text (when the connection
  // allows prepared statements); false for one-off statements such as BEGIN and COMMIT.
  bool prepared = true;
};

// What one statement of a segment produced: its result or its error.
struct StatementOutcome {
  Result result;
  std::exception_ptr error;
  bool ok() const noexcept { return !error; }
  // The result, or throws the statement's error.
  Result& get() {
    if (error) std::rethrow_exception(error);
    return result;
  }
};

struct AsyncConnectionOptions {
  // Named prepared statements (off behind PgBouncer in transaction mode before 1.21).
  bool prepared_statements = true;
  // Whether statements whose Params ask for binary results get them
  // (EngineOptions::binary_results).
  bool binary_results = true;
  // After a deadline, how long to wait for the server to confirm the cancel (and for the
  // connection to drain to a clean state, which tells what the statements did) before the
  // connection is discarded instead and their outcome is unknown.
  std::chrono::milliseconds cancel_grace{500};
};

// How a pipeline() call is split into segments (each ends with a Sync). A failed statement skips
// the rest of its segment only.
enum class Segments {
  one,            // all statements in one segment: an implicit transaction unless inside BEGIN
  per_statement,  // each statement in a segment of its own: independent, like separate calls
  // One segment that may share its Sync with adjacent `shared_reads` calls written at the same
  // time (one server flush for all of them, the fastest way to pipeline lookups). For read-only
  // statements outside a transaction only: when one of them fails, the others the server skipped
  // are sent again in segments of their own, so each call still gets its own outcome.
  shared_reads
};

class AsyncConnection : public std::enable_shared_from_this<AsyncConnection> {
 public:
  using executor_type = asio::strand<asio::any_io_executor>;
  using time_point = AsyncClock::time_point;

  // Connects without blocking the event loop (PQconnectStart/PQconnectPoll on the socket), then
  // puts the connection in non-blocking pipeline mode. Throws Disconnect when the server cannot be
  // reached, DeadlineExceeded at the deadline. The connection does its work on a strand of `ex`.
  // (Host names are resolved by libpq inside PQconnectStart, which can block: use an IP address
  // or hostaddr= where that matters.)
  static asio::awaitable<std::shared_ptr<AsyncConnection>> open(
      asio::any_io_executor ex, std::string conninfo, AsyncConnectionOptions options = {},
      std::optional<time_point> deadline = std::nullopt);

  ~AsyncConnection();
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  // Sends the statements as one pipeline segment (one Sync) and returns one outcome per
  // statement. After a failed statement the rest of the segment is not executed and reports the
  // failed statement's error (its class and SQLSTATE: the root cause, e.g. a Disconnect when the
  // connection broke at BEGIN, so retry logic sees it); other segments are not affected (unless
  // they are in the same failed transaction). Segments sent by concurrent callers before the next
  // write share that write and its round trip.
  // At the deadline, a segment not written yet is dropped (DeadlineExceeded, nothing ran). One on
  // the server is cancelled there, and the connection is read back to a clean state for at most
  // cancel_grace; the results that arrive meanwhile are this call's outcomes:
  //  - drained, and a statement was cancelled (QueryCanceled): throws DeadlineExceeded; that
  //    statement and the rest of its segment did not run (a COMMIT among them did not commit);
  //  - drained, and every statement succeeded (only the results were late) or the first failure
  //    is a statement's own error: returns the outcomes as if there had been no deadline;
  //  - not drained in time: the connection is discarded (is_usable() is false) and
  //    DeadlineExceeded says the outcome is unknown (the statements, COMMIT included, may have
  //    completed).
  // Throws Disconnect when the connection breaks (it is then closed for good).
  asio::awaitable<std::vector<StatementOutcome>> pipeline(std::vector<PipelineStatement> statements,
                                                          std::optional<time_point> deadline = {},
                                                          Segments segments = Segments::one);
  // One statement; throws its error.
  asio::awaitable<Result> execute(std::string sql, Params params = {},
                                  std::optional<time_point> deadline = {});

  // Whether the connection can take more work (not broken nor closed). Any thread.
  bool is_usable() const noexcept { return !broken_.load(std::memory_order_acquire); }
  // Whether statements are in flight (call on the connection's strand).
  bool busy() const noexcept { return !unsent_.empty() || !sent_.empty(); }
  // libpq's transaction status once nothing is in flight (call on the connection's strand).
  TransactionStatus transaction_status() const noexcept;
  int backend_pid() const noexcept { return backend_pid_; }
  time_point opened_at() const noexcept { return opened_at_; }
  const executor_type& get_executor() const noexcept { return strand_; }
  // Closes the connection now, failing whatever is in flight (call on the connection's strand).
  void close() noexcept;

  // Counters for tests and metrics (any thread): statements sent, and network writes that sent
  // at least one segment (concurrent segments coalesce into one write and one round trip).
  std::uint64_t statements_sent() const noexcept {
    return statements_.load(std::memory_order_relaxed);
  }
  std::uint64_t round_trips() const noexcept { return writes_.load(std::memory_order_relaxed); }
  std::uint64_t cancels_sent() const noexcept { return cancels_.load(std::memory_order_relaxed); }

  // ---- what the hooks are told (EngineHooks), as for Connection ----
  std::uint64_t id() const noexcept { return id_; }
  // Set before the connection is shared (the engine does it once the connection is set up).
  void set_observer(std::shared_ptr<detail::Observer> observer) noexcept {
    observer_ = std::move(observer);
  }
  // Any thread.
  void set_session_id(std::uint64_t id) noexcept {
    session_id_.store(id, std::memory_order_relaxed);
  }
  ConnectionEvent event() const noexcept;

 private:
  struct Batch;
  AsyncConnection(executor_type strand, PGconn* conn, AsyncConnectionOptions options);
  static asio::awaitable<std::shared_ptr<AsyncConnection>> open_here(
      executor_type strand, std::string conninfo, AsyncConnectionOptions options,
      std::optional<time_point> deadline);
  asio::awaitable<std::vector<StatementOutcome>> pipeline_here(
      std::vector<PipelineStatement> statements, std::optional<time_point> deadline,
      Segments segments);
  void schedule_send();
  void send_now();
  void flush_output();
  void ensure_driver();
  asio::awaitable<void> drive();
  void arm_waits();
  void wake() noexcept;
  void process_results();
  void record(Batch& batch, Result result);
  void finish(Batch& batch) noexcept;
  void complete_front();
  bool needs_prepare(const Batch& batch) const;
  void fail_all(std::exception_ptr error) noexcept;
  void notify_if_drained() noexcept;
  asio::awaitable<bool> wait_drained(time_point until);
  void send_cancel();
  asio::awaitable<bool> wait_cancel_delivered(time_point until);
  void announce(Batch& batch);

  executor_type strand_;
  PGconn* conn_;
  AsyncConnectionOptions options_;
  asio::posix::stream_descriptor socket_;
  asio::steady_timer wake_timer_;
  int backend_pid_ = 0;
  time_point opened_at_;

  std::deque<std::shared_ptr<Batch>> unsent_;
  std::deque<std::shared_ptr<Batch>> sent_;
  std::vector<std::shared_ptr<asio::steady_timer>> drain_waiters_;
  detail::PreparedCache prepared_;  // SQL text -> statement name, least recently used out
  bool send_scheduled_ = false;
  bool driver_running_ = false;
  bool wake_pending_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool read_ready_ = false;
  bool write_ready_ = false;
  bool flush_pending_ = false;
  std::uint64_t wait_generation_ = 0;  // socket waits of older generations are stale
  // Set by the thread that sends the last cancel request once the server has taken it.
  std::shared_ptr<std::atomic<bool>> cancel_delivered_;
  bool closed_ = false;
  std::atomic<bool> broken_{false};
  std::atomic<std::uint64_t> statements_{0};
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> cancels_{0};
  const std::uint64_t id_ = detail::next_connection_id();
  std::atomic<std::uint64_t> session_id_{0};
  std::shared_ptr<detail::Observer> observer_;
};

}  // namespace pgorm
