// Deadlines of the async layer: the optional per-call pgorm::Timeout and the errors a deadline or
// a failed pipeline produce.
#pragma once

#include <chrono>
#include <optional>

#include "pgorm/errors.hpp"

namespace pgorm {

using AsyncClock = std::chrono::steady_clock;

// The last argument of any AsyncSession call: co_await session.get<Todo>(id, Timeout{100ms}).
// Covers the whole call: waiting for a pooled connection, connecting, the round trip(s).
struct Timeout {
  std::chrono::milliseconds value;
};

// A statement that was not executed because an earlier statement of the same pipeline segment
// failed (PostgreSQL skips the rest of a segment up to its Sync). The earlier statement carries the
// real error.
class PipelineAborted : public OperationalError {
  using OperationalError::OperationalError;
};

namespace detail {
// now + timeout, or no deadline.
inline std::optional<AsyncClock::time_point> deadline_of(
    std::optional<std::chrono::milliseconds> t) {
  if (!t) return std::nullopt;
  return AsyncClock::now() + *t;
}
// The earlier of two optional deadlines.
inline std::optional<AsyncClock::time_point> earliest(std::optional<AsyncClock::time_point> a,
                                                      std::optional<AsyncClock::time_point> b) {
  if (!a) return b;
  if (!b) return a;
  return *a < *b ? a : b;
}
}  // namespace detail

}  // namespace pgorm
