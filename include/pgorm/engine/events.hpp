// What an engine tells the application about its connections and statements: hooks for logging,
// metrics and tracing (SQLAlchemy's event.listen for connect / checkout / checkin / invalidate and
// before / after cursor execute), and `echo`. The same for Engine and AsyncEngine.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pgorm {

class Params;

class Params;

// A connection, as the connection hooks see it.
struct ConnectionEvent {
  std::uint64_t connection_id = 0;  // unique in the process, never reused
  int backend_pid = 0;              // the server process (0 when the connection is broken)
  // on_invalidate only: why the connection is discarded instead of reused.
  std::string_view reason;
};

// One statement sent to the server, as the statement hooks see it.
struct StatementEvent {
  std::string_view sql;  // the text as sent, with $1, $2... placeholders
  std::size_t parameter_count = 0;
  // The bound values as sent (text format; nullptr for NULL). Valid during the call only.
  const char* const* parameter_values = nullptr;
  std::uint64_t connection_id = 0;
  int backend_pid = 0;
  // The Session or AsyncSession that sent it (Session::id()); 0 for a connection used directly.
  std::uint64_t session_id = 0;
  // The connection's statement counter: 1 for the first statement it sent.
  std::uint64_t statement_number = 0;

  // after_statement only.
  // From sending the statement to its result; statements pipelined together (a flush batch, an
  // async segment) each get the time of their whole batch.
  std::chrono::nanoseconds duration{0};
  // Rows returned, or rows affected by INSERT / UPDATE / DELETE / COPY; -1 for other commands.
  std::int64_t rows = -1;
  // The failure (a pgorm::Error), or nullptr on success. A statement the server skipped because
  // an earlier statement of its pipeline failed gets an InterfaceError saying so.
  const std::exception* error = nullptr;
};

// Every hook is optional. They run on the thread (or strand) of the call that caused them, so
// they may run concurrently: make them thread-safe. A hook observes and cannot change an outcome:
// an exception it throws is caught, counted (Engine::hook_failures()), printed once to stderr, and
// the operation goes on as if the hook had returned.
struct EngineHooks {
  std::function<void(const ConnectionEvent&)> on_connect;   // opened and set up, before first use
  std::function<void(const ConnectionEvent&)> on_checkout;  // handed out by the pool
  // Returned by its user: every checkout has one (the pool may then discard it: on_invalidate).
  std::function<void(const ConnectionEvent&)> on_checkin;
  // Discarded instead of kept: broken, invalidated by its user, failed pre-ping or ROLLBACK on
  // return, older than pool_recycle, opened before a pool invalidation, or closed by dispose().
  // (Overflow connections closed on return and the pool's own destruction are not reported.)
  std::function<void(const ConnectionEvent&)> on_invalidate;
  std::function<void(const StatementEvent&)> before_statement;
  std::function<void(const StatementEvent&)> after_statement;
};

// EngineOptions::echo: log every statement (after it ran) through EngineOptions::echo_sink.
enum class Echo {
  off,
  statements,                 // text, duration, rows, error; parameters shown as $1=<redacted>
  statements_and_parameters,  // and the parameter values (may contain secrets: development only)
};

namespace detail {

// The hooks, echo and the hook failure count of one engine, shared by its pool and connections.
class Observer {
 public:
  Observer(EngineHooks hooks, Echo echo, std::function<void(std::string_view)> sink);

  // Whether statement events are wanted at all (no timing or event building otherwise).
  bool statements() const noexcept { return statements_; }
  void before(const StatementEvent& event) const noexcept;
  void after(const StatementEvent& event) const noexcept;
  void connected(const ConnectionEvent& event) const noexcept;
  void checked_out(const ConnectionEvent& event) const noexcept;
  void checked_in(const ConnectionEvent& event) const noexcept;
  void invalidated(const ConnectionEvent& event) const noexcept;
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

  // The echo line for an event: "[conn 3 pid 4711 session 2 #7] 0.412 ms, 1 row: SELECT ...".
  static std::string echo_line(const StatementEvent& event, bool with_parameters);

 private:
  template <class Event>
  void call(const std::function<void(const Event&)>& hook, const Event& event,
            std::string_view name) const noexcept;
  EngineHooks hooks_;
  Echo echo_;
  std::function<void(std::string_view)> sink_;
  bool statements_;
  mutable std::atomic<std::uint64_t> failures_{0};
};

// A statement's event before it runs, for a connection (its id and server process) and session.
StatementEvent statement_event(std::string_view sql, const Params* params,
                               const ConnectionEvent& connection, std::uint64_t session_id,
                               std::uint64_t statement_number) noexcept;

// A fresh connection id.
std::uint64_t next_connection_id() noexcept;
// A fresh session id.
std::uint64_t next_session_id() noexcept;

}  // namespace detail
}  // namespace pgorm
