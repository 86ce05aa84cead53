// pgorm::Engine: a database URL plus a connection pool, SQLAlchemy's create_engine(). The value
// a program makes once and passes to everything that needs the database.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgorm/engine/events.hpp"
#include "pgorm/engine/pool.hpp"
#include "pgorm/engine/url.hpp"

namespace pgorm {

// What sits between pgorm and PostgreSQL.
enum class Pooler {
  none,         // PostgreSQL itself (or a pooler that keeps one server connection per client)
  session,      // PgBouncer in session mode: a server connection per client connection
  transaction,  // PgBouncer in transaction mode: each transaction may run on another connection
};

struct EngineOptions {
  // The pool (see PoolOptions for what each does).
  std::size_t pool_size = 5;
  std::size_t max_overflow = 10;
  std::chrono::milliseconds pool_timeout{30000};
  bool pool_pre_ping = false;
  std::optional<std::chrono::milliseconds> pool_recycle{};
  PoolOptions::Order pool_order = PoolOptions::Order::lifo;
  bool reset_on_return = true;

  // Named server-side prepared statements for Connection::execute_prepared. Turn off behind
  // PgBouncer in transaction pooling mode (before 1.21), where they break.
  bool prepared_statements = true;
  // Read selects of models in PostgreSQL's binary result format where every column of the model
  // allows it (docs/PERFORMANCE.md, "Binary results"). A server column of another type than the
  // model declares is still read through its text form when pgorm knows that type's binary form,
  // and is a DataError naming the column otherwise (a view's numeric aggregate read into a
  // double: declare it with pgorm::sql_type("numeric"), or turn this off to read all as text).
  bool binary_results = true;
  // Server-side limit for every statement; a statement running longer fails with QueryCanceled.
  // Sent in the startup packet (libpq's `options`), so it costs no round trip; behind a pooler
  // with SET instead (see `pooler`).
  std::optional<std::chrono::milliseconds> statement_timeout{};

  // With a pooler no startup `options` are sent (PgBouncer refuses them; a URL with `options` is
  // a ConfigurationError): Pooler::session SETs the settings after connecting;
  // Pooler::transaction SETs only what the pooler tracks per client, applies statement_timeout per
  // transaction (SET LOCAL in the BEGIN round trip; statements outside a transaction get the
  // server's default), and uses unnamed statements unless pooler_prepared_statements.
  Pooler pooler = Pooler::none;
  // With Pooler::transaction: keep named prepared statements (PgBouncer 1.21+ with
  // max_prepared_statements > 0 tracks them per client).
  bool pooler_prepared_statements = false;
  // Shown in pg_stat_activity and the server log; overrides application_name in the URL.
  std::string application_name{};

  // ---- the network: a peer that stops answering must not hang a call forever ----
  // Opening a connection may take this long. The sync engine hands it to libpq (whole seconds,
  // rounded up; libpq waits at least 2 s, per host of a host list); the async engine enforces it
  // itself over the whole host list. A connect_timeout in the URL wins for the sync engine.
  std::chrono::milliseconds connect_timeout{10000};
  // TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the kernel drops the
  // connection (a statement then fails with Disconnect instead of waiting forever on a frozen
  // peer). Linux only; none keeps the system default.
  std::optional<std::chrono::milliseconds> tcp_user_timeout{};
  // TCP keepalives on an idle connection: probe after keepalives_idle, every keepalives_interval,
  // give up after keepalives_count unanswered probes. None keeps libpq's and the system's defaults
  // (keepalives on, idle time 2 hours on Linux).
  std::optional<std::chrono::seconds> keepalives_idle{};
  std::optional<std::chrono::seconds> keepalives_interval{};
  std::optional<int> keepalives_count{};

  // ---- client-side deadlines ----
  // How long each call of a session may take (an AsyncSession call without a Timeout of its own;
  // every Session call that reaches the server, unless Session::set_timeout() says otherwise).
  // When it passes, the statement is cancelled on the server; see DeadlineExceeded. None means no
  // client-side deadline (statement_timeout is the server-side backstop).
  std::optional<std::chrono::milliseconds> default_timeout{};
  // After a deadline: how long to wait for the server to confirm the cancel (and for the results
  // that tell what the statements did) before discarding the connection, leaving their outcome
  // unknown. A call completes at most this long after its deadline. Also bounds pool_pre_ping's
  // ping and the ROLLBACK of a returned connection, together with pool_timeout.
  std::chrono::milliseconds cancel_grace{500};

  // ---- logging and metrics (docs/session.md, "Logging and metrics") ----
  // Called on connect, checkout, checkin, invalidate, and before / after every statement.
  EngineHooks hooks{};
  // Log every statement after it ran through echo_sink (SQLAlchemy's echo=True).
  Echo echo = Echo::off;
  // Where echo lines go; empty: stderr.
  std::function<void(std::string_view)> echo_sink{};
};

// A cheap, copyable handle: copies share one pool. Opens no connection until connect().
class Engine {
 public:
  // `url` as accepted by Url::parse (postgresql:// URL, libpq keyword string, or "" for libpq's
  // PG* environment variables). Throws ConfigurationError for a bad URL.
  explicit Engine(std::string_view url, EngineOptions options = {});
  explicit Engine(Url url, EngineOptions options = {});
  // DATABASE_URL if set, else libpq's PG* environment variables.
  static Engine from_env(EngineOptions options = {});

  // A connection from the pool, returned to it when the handle goes out of scope.
  PooledConnection connect() const;
  Pool& pool() const noexcept;
  // The URL as given (without the options the engine adds).
  const Url& url() const noexcept;
  const EngineOptions& options() const noexcept;
  // Exceptions thrown by hooks (caught and counted, see EngineHooks).
  std::uint64_t hook_failures() const noexcept;
  // Closes every pooled connection (checked-out ones when returned); the engine stays usable.
  void dispose() const;
  // For logs: "Engine(postgresql://app:***@db:5432/app, pool_size=5, max_overflow=10)".
  std::string to_string() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

Engine create_engine(std::string_view url, EngineOptions options = {});

namespace detail {
// The pool settings of EngineOptions and AsyncEngineOptions (the same names in both).
template <class Options>
PoolOptions pool_options_of(const Options& o) {
  PoolOptions p;
  p.pool_size = o.pool_size;
  p.max_overflow = o.max_overflow;
  p.pool_timeout = o.pool_timeout;
  p.pre_ping = o.pool_pre_ping;
  p.recycle = o.pool_recycle;
  p.order = o.pool_order;
  p.reset_on_return = o.reset_on_return;
  p.cancel_grace = o.cancel_grace;
  if (o.hooks.on_connect || o.hooks.on_checkout || o.hooks.on_checkin || o.hooks.on_invalidate ||
      o.hooks.before_statement || o.hooks.after_statement || o.echo != Echo::off)
    p.observer = std::make_shared<Observer>(o.hooks, o.echo, o.echo_sink);
  return p;
}
// The URL's conninfo with application_name set and `settings` ("-c name=value ...") appended to
// any `options` of the URL (such as -csearch_path=...), not replacing them: they ride in the
// startup packet, not in extra round trips.
// Also sets the network options of EngineOptions (connect_timeout, tcp_user_timeout, keepalives).
// With Pooler::transaction no `options` are sent: `settings` must be empty, and a URL with
// `options` is a ConfigurationError.
std::string startup_conninfo(Url url, const EngineOptions& options, std::string settings);
// Whether connections of these options use named prepared statements.
bool uses_prepared_statements(const EngineOptions& options);
// "SET statement_timeout = N" when a session pooler needs it at connect (no startup options).
std::string session_setup(const EngineOptions& options);
// "SET LOCAL statement_timeout = N" when a transaction pooler needs it with every BEGIN, else "".
std::string transaction_setup(const EngineOptions& options);
}  // namespace detail

}  // namespace pgorm
