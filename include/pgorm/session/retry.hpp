// run_in_transaction: a unit of work that is retried when PostgreSQL aborts it for a serialization
// failure or a deadlock, the two errors that mean "run it again".
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>

#include "pgorm/session/session.hpp"

namespace pgorm {

struct RetryOptions {
  int attempts = 3;  // in all, the first one included
  // The wait before the second attempt, doubled before each further one, plus a random jitter of
  // up to as much again; never more than max_backoff in all, however many attempts.
  std::chrono::milliseconds backoff{10};
  std::chrono::milliseconds max_backoff{1000};
  // Runs each attempt inside session.begin(*isolation) (BEGIN ISOLATION LEVEL ... sent first, so
  // the whole attempt sees one snapshot); unset: the session's own lazy READ COMMITTED transaction.
  std::optional<IsolationLevel> isolation;
};

namespace detail {

// The wait after `failures` failed attempts (1 for the wait before the second attempt): backoff
// doubled (failures - 1) times, plus `jitter` (0 to 1) times as much again, capped at max_backoff.
// Computed without overflow for any number of failures; a negative duration counts as zero.
inline std::chrono::milliseconds retry_backoff(const RetryOptions& options, int failures,
                                               double jitter) noexcept {
  using Rep = std::chrono::milliseconds::rep;
  const Rep cap = options.max_backoff.count() > 0 ? options.max_backoff.count() : 0;
  Rep base = options.backoff.count() > 0 ? options.backoff.count() : 0;
  if (base > cap) base = cap;
  // Each round doubles a positive base, so the loop ends after at most 64 rounds.
  for (int i = 1; i < failures && base > 0 && base < cap; ++i)
    base = base > cap / 2 ? cap : base * 2;
  if (!(jitter > 0.0)) jitter = 0.0;  // NaN too
  if (jitter > 1.0) jitter = 1.0;
  // Rounding to double may reach 2^63 for the largest bases: never convert beyond `base`.
  const double scaled = static_cast<double>(base) * jitter;
  const Rep extra = scaled >= static_cast<double>(base) ? base : static_cast<Rep>(scaled);
  return std::chrono::milliseconds(extra > cap - base ? cap : base + extra);
}

}  // namespace detail

// Runs work(session) in a fresh session and commits; on SerializationFailure or DeadlockDetected
// (in the work or at commit) rolls back and runs it again, up to `attempts` times, waiting
// detail::retry_backoff() between attempts. Any other error, or the last failure, propagates.
// Returns what work returns. The work must not commit or roll back itself.
template <class F>
auto run_in_transaction(const SessionFactory& factory, F&& work, RetryOptions options = {}) {
  thread_local std::minstd_rand jitter{std::random_device{}()};
  std::uniform_real_distribution<double> spread(0.0, 1.0);
  for (int attempt = 1;; ++attempt) {
    try {
      Session session = factory();
      std::optional<Session::Transaction> scope;
      if (options.isolation) scope.emplace(session.begin(*options.isolation));
      auto finish = [&] {
        if (scope)
          scope->commit();
        else
          session.commit();
      };
      if constexpr (std::is_void_v<std::invoke_result_t<F&, Session&>>) {
        work(session);
        finish();
        return;
      } else {
        auto result = work(session);
        finish();
        return result;
      }
    } catch (const SerializationFailure&) {
      if (attempt >= options.attempts) throw;
    } catch (const DeadlockDetected&) {
      if (attempt >= options.attempts) throw;
    }
    std::this_thread::sleep_for(detail::retry_backoff(options, attempt, spread(jitter)));
  }
}

}  // namespace pgorm
