// pgorm::Connection: one PostgreSQL connection, the thin adapter over libpqxx and libpq that every
// statement goes through.
#pragma once

#include <libpq-fe.h>

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pgorm/engine/events.hpp"
#include "pgorm/engine/params.hpp"
#include "pgorm/engine/result.hpp"

namespace pgorm {

enum class TransactionStatus { idle, active, in_transaction, in_error, unknown };

namespace detail {
// libpq's PQtransactionStatus as a TransactionStatus (both connection kinds use it).
TransactionStatus transaction_status_of(PGconn* conn) noexcept;
}  // namespace detail

// What a failed statement's result reports (SQLSTATE, message, detail, table, column,
// constraint), with `sql` as the statement; falls back to the connection's error message when the
// result has none (or is null). Shared by the sync and async connections.
ErrorInfo error_info_from(const PGresult* result, const PGconn* conn, std::string_view sql);

namespace detail {
// Throws ProgrammingError before anything is sent when a statement has more bind parameters than
// the protocol allows (65535). Shared by the sync and async connections.
void check_parameter_count(std::size_t count, std::string_view sql);
// Rows a result returned, or rows its INSERT / UPDATE / DELETE / COPY affected; -1 otherwise.
std::int64_t rows_of(const PGresult* result) noexcept;

// The named prepared statements of one connection, by SQL text, with a bounded size: inserting
// into a full cache evicts the least recently used statement, whose name the caller then
// DEALLOCATEs on the server. Shared by the sync and async connections.
class PreparedCache {
 public:
  static constexpr std::size_t default_capacity = 512;
  explicit PreparedCache(std::size_t capacity = default_capacity) : capacity_(capacity) {}
  // The statement's name, now the most recently used; nullptr when `sql` is not cached.
  const std::string* find(const std::string& sql);
  bool contains(const std::string& sql) const { return index_.count(sql) != 0; }
  // The least recently used statement's name, removed from the cache, when the cache is full
  // (call before insert() to make room); nullopt otherwise.
  std::optional<std::string> evict_if_full();
  void insert(const std::string& sql, std::string name);
  void erase(const std::string& sql);
  std::size_t size() const noexcept { return index_.size(); }
  // DEALLOCATE of an evicted statement, its name quoted like every identifier.
  static std::string deallocate_sql(std::string_view name);
  // A statement name no other connection of this process, and (with overwhelming probability) no
  // other process, ever uses: "pgorm_<random per-process tag>_<process-wide counter>". Behind a
  // pooler that moves statements between clients, a name can then only be missing (a loud
  // "does not exist"), never another client's statement.
  static std::string new_name();

 private:
  struct Entry {
    std::string sql;
    std::string name;
  };
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t capacity_;
};
}  // namespace detail

// How a new connection is set up (the engine fills it from EngineOptions).
struct ConnectionSetup {
  // Behind a transaction pooler only settings the pooler tracks and re-applies per client are SET
  // at connect (DateStyle, TimeZone, client_encoding); IntervalStyle, which PgBouncer would leak
  // to other clients of the server connection, is not.
  bool transaction_pooler = false;
  // More settings for the setup round trip at connect (e.g. "SET statement_timeout = 5000").
  std::string session_setup;
  // Sent in the same round trip as every BEGIN a session sends on this connection, e.g.
  // "SET LOCAL statement_timeout = 5000".
  std::string transaction_setup;
};

namespace detail {
class DeadlineWatch;
}

class Connection {
 public:
  // `conninfo` is a postgresql:// URL or a libpq keyword string; empty means libpq's PG* variables.
  // The session is set up for pgorm's codecs (DateStyle ISO, UTF8, TimeZone UTC).
  // Throws Disconnect (OperationalError) when the server cannot be reached; the message never
  // contains the password.
  explicit Connection(const std::string& conninfo, ConnectionSetup setup = {});
  // See ConnectionSetup::transaction_setup; empty when there is none.
  const std::string& transaction_setup() const noexcept;
  // DATABASE_URL if set, else libpq's PG* environment variables.
  static Connection from_env();
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  // One statement with bind parameters ($1, $2, ...), unnamed (parsed each time).
  Result execute(std::string_view sql, const Params& params = {});
  // The same, through a named prepared statement cached on this connection by SQL text, so a
  // repeated statement is parsed once. Falls back to execute() when prepared statements are
  // disabled (for transaction-mode poolers such as PgBouncer < 1.21).
  Result execute_prepared(std::string_view sql, const Params& params = {});
  // Many statements in one round trip (libpq pipeline mode), each with its parameters; results in
  // order. The first failing statement's error is thrown (the rest were skipped by the server).
  struct PipelineItem {
    std::string_view sql;
    const Params* params;
  };
  std::vector<Result> execute_pipeline(const std::vector<PipelineItem>& items);
  // The same, appending to `completed`: when a statement fails, the results of the statements
  // before it are in `completed` (in order) when its error is thrown, so that the caller can
  // act on them first (an UPDATE that matched no row failed the unit of work before a later
  // constraint violation did).
  void execute_pipeline(const std::vector<PipelineItem>& items, std::vector<Result>& completed);
  // Several statements, no parameters, in one round trip (simple query protocol).
  void execute_script(std::string_view sql);
  // COPY ... FROM STDIN with `data` in COPY's text format (rows ending in '\n', columns split by
  // '\t', \N for NULL, backslash escapes): the rows stream to the server after the statement is
  // accepted. The result's affected_rows() counts the rows copied. Not in pipeline mode.
  Result copy_in(std::string_view copy_sql, std::string_view data);
  // BEGIN; statements...; COMMIT, rolled back if any statement fails.
  void run_in_transaction(const std::vector<std::string>& statements);

  // exec("... WHERE id = $1", 42): parameters encoded from C++ values.
  template <class... Args>
  Result exec(std::string_view sql, const Args&... args) {
    Params params;
    (params.add(args), ...);
    return execute(sql, params);
  }
  // Raw SQL mapped to models (by column name), tuples (by position) or a scalar.
  template <class Row, class... Args>
  std::vector<Row> query(std::string_view sql, const Args&... args) {
    return exec(sql, args...).template as<Row>();
  }

  bool is_open() const noexcept;
  // True once the connection failed at the network level: it must be discarded, never reused.
  bool is_broken() const noexcept { return broken_; }
  TransactionStatus transaction_status() const noexcept;
  int backend_pid() const noexcept;
  int server_version() const noexcept;
  // Whether the server's default isolation for this connection is READ COMMITTED (read at
  // connect): only then may a session send BEGIN lazily, with its first write, because each
  // statement outside the transaction sees the latest committed data either way.
  bool lazy_begin_safe() const noexcept { return lazy_begin_safe_; }
  void set_prepared_statements(bool enabled) noexcept { use_prepared_ = enabled; }
  bool prepared_statements() const noexcept { return use_prepared_; }
  // Whether statements whose Params ask for binary results get them
  // (EngineOptions::binary_results).
  void set_binary_results(bool enabled) noexcept { binary_results_ = enabled; }
  std::size_t prepared_count() const noexcept;
  // Statements sent on this connection (a round-trip counter for tests and metrics).
  std::uint64_t statements_executed() const noexcept { return statements_; }
  // Times this connection waited for the server's answers: a pipeline of many statements (or a
  // Parse with its first execution) is one round trip.
  std::uint64_t round_trips() const noexcept { return round_trips_; }

  // The libpq handle, for pipeline mode and non-blocking I/O. pgorm keeps ownership.
  PGconn* native_handle() const noexcept;

  // ---- what the statement hooks are told (EngineHooks) ----
  // Unique in the process, never reused.
  std::uint64_t id() const noexcept { return id_; }
  // The hooks every statement is reported to; the engine's pool sets them on its connections.
  void set_observer(std::shared_ptr<detail::Observer> observer) noexcept {
    observer_ = std::move(observer);
  }
  // The session using the connection (StatementEvent::session_id); 0 when none.
  void set_session_id(std::uint64_t id) noexcept { session_id_ = id; }
  std::uint64_t session_id() const noexcept { return session_id_; }
  ConnectionEvent event() const noexcept;

 private:
  friend class detail::DeadlineWatch;  // marks a connection it had to cut as broken
  struct Impl;
  Result check(PGresult* result, std::string_view sql);
  Result prepare_and_execute(std::string_view sql, const Params& params);
  void send_pipeline(const std::vector<PipelineItem>& items, std::vector<Result>& completed);
  void send_pipeline_or_break(const std::vector<PipelineItem>& items,
                              std::vector<Result>& completed);
  void drain_pipeline() noexcept;
  std::unique_ptr<Impl> impl_;
  bool broken_ = false;
  // A client failure (std::bad_alloc) left the protocol in the middle of a pipeline: the
  // connection is never used again, but this is not a network break (the pool does not take it
  // for a server restart).
  bool desynced_ = false;
  bool unusable() const noexcept { return broken_ || desynced_; }
  bool use_prepared_ = true;
  bool binary_results_ = true;
  bool lazy_begin_safe_ = true;
  std::uint64_t statements_ = 0;
  std::uint64_t round_trips_ = 0;
  std::uint64_t id_ = detail::next_connection_id();
  std::uint64_t session_id_ = 0;
  std::shared_ptr<detail::Observer> observer_;
};

}  // namespace pgorm
