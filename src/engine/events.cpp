#include "pgorm/engine/events.hpp"

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "pgorm/engine/params.hpp"

namespace pgorm::detail {

namespace {

void write_stderr(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
}

// A parameter as echo shows it: quoted, shortened when long.
std::string shown_value(const char* value) {
  if (value == nullptr) return "NULL";
  std::string_view text(value);
  constexpr std::size_t kMax = 64;
  if (text.size() > kMax)
    return fmt::format("'{}...' ({} bytes)", text.substr(0, kMax), text.size());
  return fmt::format("'{}'", text);
}

}  // namespace

Observer::Observer(EngineHooks hooks, Echo echo, std::function<void(std::string_view)> sink)
    : hooks_(std::move(hooks)),
      echo_(echo),
      sink_(sink ? std::move(sink) : std::function<void(std::string_view)>(write_stderr)),
      statements_(hooks_.before_statement || hooks_.after_statement || echo_ != Echo::off) {}

template <class Event>
void Observer::call(const std::function<void(const Event&)>& hook, const Event& event,
                    std::string_view name) const noexcept {
  if (!hook) return;
  try {
    hook(event);
  } catch (...) {
    // An observer cannot change what happened: count it, say so once, go on.
    if (failures_.fetch_add(1, std::memory_order_relaxed) != 0) return;
    std::string what = "an unknown exception";
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    try {
      write_stderr(fmt::format(
          "pgorm: the {} hook threw ({}); the operation went on. Later failures of hooks are only "
          "counted (Engine::hook_failures()).",
          name, what));
    } catch (...) {
    }
  }
}

void Observer::before(const StatementEvent& event) const noexcept {
  call(hooks_.before_statement, event, "before_statement");
}

void Observer::after(const StatementEvent& event) const noexcept {
  call(hooks_.after_statement, event, "after_statement");
  if (echo_ == Echo::off) return;
  try {
    sink_(echo_line(event, echo_ == Echo::statements_and_parameters));
  } catch (...) {
    failures_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Observer::connected(const ConnectionEvent& event) const noexcept {
  call(hooks_.on_connect, event, "on_connect");
}
void Observer::checked_out(const ConnectionEvent& event) const noexcept {
  call(hooks_.on_checkout, event, "on_checkout");
}
void Observer::checked_in(const ConnectionEvent& event) const noexcept {
  call(hooks_.on_checkin, event, "on_checkin");
}
void Observer::invalidated(const ConnectionEvent& event) const noexcept {
  call(hooks_.on_invalidate, event, "on_invalidate");
}

std::string Observer::echo_line(const StatementEvent& event, bool with_parameters) {
  std::string line = fmt::format("pgorm: [conn {} pid {}", event.connection_id, event.backend_pid);
  if (event.session_id != 0) line += fmt::format(" session {}", event.session_id);
  line += fmt::format(" #{}] {:.3f} ms", event.statement_number,
                      std::chrono::duration<double, std::milli>(event.duration).count());
  if (event.error != nullptr)
    line += fmt::format(", failed: {}", event.error->what());
  else if (event.rows >= 0)
    line += fmt::format(", {} row{}", event.rows, event.rows == 1 ? "" : "s");
  line += ": ";
  line += event.sql;
  if (event.parameter_count > 0) {
    line += "  -- ";
    for (std::size_t i = 0; i < event.parameter_count; ++i) {
      if (i > 0) line += ", ";
      line += fmt::format("${}=", i + 1);
      line += with_parameters && event.parameter_values ? shown_value(event.parameter_values[i])
                                                        : std::string("<redacted>");
    }
  }
  return line;
}

StatementEvent statement_event(std::string_view sql, const Params* params,
                               const ConnectionEvent& connection, std::uint64_t session_id,
                               std::uint64_t statement_number) noexcept {
  StatementEvent event;
  event.sql = sql;
  if (params && params->size() > 0) {
    event.parameter_count = params->size();
    event.parameter_values = params->values().data();
  }
  event.connection_id = connection.connection_id;
  event.backend_pid = connection.backend_pid;
  event.session_id = session_id;
  event.statement_number = statement_number;
  return event;
}

std::uint64_t next_connection_id() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::uint64_t next_session_id() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace pgorm::detail
