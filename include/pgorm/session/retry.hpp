// run_in_transaction: a unit of work that is retried when PostgreSQL aborts it for a serialization
// failure or a deadlock, the two errors that mean "run it again".
#pragma once

#include <chrono>
#include <random>
#include <thread>
#include <type_traits>

#include "pgorm/session/session.hpp"

namespace pgorm {

struct RetryOptions {
  int attempts = 3;  // in all, the first one included
  std::chrono::milliseconds backoff{10};  // doubled after each failure, with random jitter
};

// Runs work(session) in a fresh session and commits; on SerializationFailure or DeadlockDetected
// (in the work or at commit) rolls back and runs it again, up to `attempts` times. Any other error,
// or the last failure, propagates. Returns what work returns.
template <class F>
auto run_in_transaction(const SessionFactory& factory, F&& work, RetryOptions options = {}) {
  thread_local std::minstd_rand jitter{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    try {
      Session session = factory();
      if constexpr (std::is_void_v<std::invoke_result_t<F&, Session&>>) {
        work(session);
        session.commit();
        return;
      } else {
        auto result = work(session);
        session.commit();
        return result;
      }
    } catch (const SerializationFailure&) {
      if (attempt >= options.attempts) throw;
    } catch (const DeadlockDetected&) {
      if (attempt >= options.attempts) throw;
    }
    auto base = options.backoff * (1 << (attempt - 1));
    std::uniform_int_distribution<long> spread(0, base.count());
    std::this_thread::sleep_for(base + std::chrono::milliseconds(spread(jitter)));
  }
}

}  // namespace pgorm
