// The connection pool. One mutex guards the bookkeeping; every network operation (connecting,
// pinging, ROLLBACK, closing) happens outside it, holding a reserved slot instead, so one slow
// server round trip never blocks the other threads' checkouts and returns.
#include "pgorm/engine/pool.hpp"

#include "pgorm/engine/watchdog.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "pgorm/errors.hpp"

namespace pgorm {
namespace detail {

using Clock = std::chrono::steady_clock;

struct PoolEntry {
  std::unique_ptr<Connection> connection;
  Clock::time_point created;
  std::uint64_t generation = 0;  // the pool's generation when opened; dispose() moves it on
  bool invalidated = false;
};

struct PoolState {
  PoolState(Pool::Factory f, PoolOptions o) : factory(std::move(f)), options(o) {}

  // pool_size + max_overflow, saturating so that a huge max_overflow means "no limit".
  std::size_t limit() const noexcept {
    std::size_t max = std::numeric_limits<std::size_t>::max();
    return options.max_overflow > max - options.pool_size
               ? max
               : options.pool_size + options.max_overflow;
  }
  // Whether a returned connection of this generation goes back to the idle list. Needs the lock.
  bool wants_back(std::uint64_t of_generation) const noexcept {
    return !closed && of_generation == generation && idle.size() < options.pool_size;
  }

  enum class Verdict { usable, too_old, dead };
  Verdict inspect(PoolEntry& entry) const;
  void give_back(std::unique_ptr<PoolEntry> entry) noexcept;
  void close_idle(bool final) noexcept;

  const Pool::Factory factory;
  const PoolOptions options;

  mutable std::mutex mutex;
  std::condition_variable available;  // signalled when a connection or a slot becomes free
  std::deque<std::unique_ptr<PoolEntry>> idle;  // returned last at the back
  // Slots: every connection that exists or is being opened, closed or checked is counted in
  // `open`; those not in `idle` are counted in `checked_out` until they are back or gone.
  std::size_t open = 0;
  std::size_t checked_out = 0;
  std::size_t waiting = 0;  // checkouts waiting right now
  std::uint64_t generation = 0;
  PoolInvalidation invalidation;
  bool closed = false;  // the Pool object is gone
  PoolStats totals;     // only the running totals are kept here
};

PoolState::Verdict PoolState::inspect(PoolEntry& entry) const {
  if (options.recycle && Clock::now() - entry.created > *options.recycle) return Verdict::too_old;
  Connection& connection = *entry.connection;
  if (connection.is_broken() || !connection.is_open()) return Verdict::dead;
  if (options.pre_ping) {
    try {
      detail::DeadlineWatch bound(connection, Clock::now() + options.pool_timeout,
                                  options.cancel_grace);
      connection.execute("SELECT 1");
    } catch (const Error&) {
      return Verdict::dead;  // the caller gets another connection and never sees this error
    }
  }
  return Verdict::usable;
}

ConnectionEvent with_reason(const Connection& connection, std::string_view reason) noexcept {
  ConnectionEvent event = connection.event();
  event.reason = reason;
  return event;
}

void PoolState::give_back(std::unique_ptr<PoolEntry> entry) noexcept {
  Connection& connection = *entry->connection;
  connection.set_session_id(0);
  if (options.observer) options.observer->checked_in(connection.event());
  std::string_view reason;
  if (entry->invalidated)
    reason = "invalidated by its user";
  else if (connection.is_broken() || !connection.is_open())
    reason = "broken";
  bool unusable = !reason.empty();
  bool wanted = false;
  {
    std::lock_guard lock(mutex);
    if (connection.is_broken() && invalidation.connection_broke(entry->created, Clock::now()))
      ++totals.pool_invalidations;
    if (!unusable && invalidation.is_stale(entry->created)) {
      unusable = true;
      reason = "opened before a pool invalidation";
    }
    wanted = !unusable && wants_back(entry->generation);
  }
  // Only a connection that is kept is worth a ROLLBACK; one that is closed ends its transaction.
  if (wanted && options.reset_on_return &&
      connection.transaction_status() != TransactionStatus::idle) {
    try {
      detail::DeadlineWatch bound(connection, Clock::now() + options.pool_timeout,
                                  options.cancel_grace);
      connection.execute("ROLLBACK");
    } catch (...) {
      unusable = true;
    }
    if (connection.transaction_status() != TransactionStatus::idle) unusable = true;
    if (unusable) reason = "its ROLLBACK on return failed";
  }
  if (unusable && options.observer) options.observer->invalidated(with_reason(connection, reason));
  bool disposed = false;  // opened before a dispose(): closed, and reported as invalidated
  {
    std::lock_guard lock(mutex);
    if (unusable) ++totals.invalidated;
    if (!unusable && wants_back(entry->generation)) {
      try {
        idle.push_back(std::move(entry));
        --checked_out;
      } catch (...) {
        // Out of memory: close the connection below instead.
      }
    } else {
      disposed = !unusable && !closed && entry->generation != generation;
    }
  }
  if (entry) {
    if (disposed && options.observer)
      options.observer->invalidated(with_reason(*entry->connection, "closed by dispose()"));
    entry.reset();  // closes the connection (network I/O) outside the lock
    std::lock_guard lock(mutex);
    --checked_out;
    --open;
  }
  available.notify_one();
}

void PoolState::close_idle(bool final) noexcept {
  std::deque<std::unique_ptr<PoolEntry>> doomed;
  {
    std::lock_guard lock(mutex);
    if (final) closed = true;
    ++generation;  // checked-out connections are closed when returned
    doomed.swap(idle);
  }
  std::size_t count = doomed.size();
  if (!final && options.observer)
    for (const auto& entry : doomed)
      options.observer->invalidated(with_reason(*entry->connection, "closed by dispose()"));
  doomed.clear();
  {
    std::lock_guard lock(mutex);
    open -= count;
  }
  available.notify_all();
}

}  // namespace detail

using detail::Clock;
using detail::PoolEntry;

// ---- PooledConnection ----

PooledConnection::PooledConnection() noexcept = default;

PooledConnection::PooledConnection(std::shared_ptr<detail::PoolState> state,
                                   std::unique_ptr<PoolEntry> entry) noexcept
    : state_(std::move(state)), entry_(std::move(entry)) {}

PooledConnection::PooledConnection(PooledConnection&&) noexcept = default;

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    entry_ = std::move(other.entry_);
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  release();
}

Connection& PooledConnection::get() const {
  if (!entry_) {
    ErrorInfo info;
    info.message = "the pooled connection was released or moved from";
    throw InterfaceError(std::move(info));
  }
  return *entry_->connection;
}

PooledConnection::operator bool() const noexcept {
  return entry_ != nullptr;
}

void PooledConnection::invalidate() noexcept {
  if (entry_) entry_->invalidated = true;
}

void PooledConnection::release() noexcept {
  if (!entry_) return;
  std::shared_ptr<detail::PoolState> state = std::move(state_);
  state->give_back(std::move(entry_));
}

// ---- Pool ----

Pool::Pool(Factory factory, PoolOptions options)
    : state_(std::make_shared<detail::PoolState>(std::move(factory), options)) {}

Pool::~Pool() {
  state_->close_idle(true);
}

const PoolOptions& Pool::options() const noexcept {
  return state_->options;
}

PooledConnection Pool::checkout() {
  detail::PoolState& s = *state_;
  const auto deadline = Clock::now() + s.options.pool_timeout;
  bool waited = false;
  Clock::time_point wait_start;
  std::unique_lock lock(s.mutex);
  // Called with the lock held when the checkout ends, after waiting or not.
  auto stop_waiting = [&] {
    if (!waited) return;
    --s.waiting;
    s.totals.wait_time += Clock::now() - wait_start;
    waited = false;
  };
  // Hands out `entry`: the lock is released before the hook runs.
  auto hand_out = [&](std::unique_ptr<PoolEntry> entry) {
    ++s.totals.checkouts;
    stop_waiting();
    lock.unlock();
    if (s.options.observer) s.options.observer->checked_out(entry->connection->event());
    return PooledConnection(state_, std::move(entry));
  };
  for (;;) {
    if (!s.idle.empty()) {
      std::unique_ptr<PoolEntry> entry;
      if (s.options.order == PoolOptions::Order::lifo) {
        entry = std::move(s.idle.back());
        s.idle.pop_back();
      } else {
        entry = std::move(s.idle.front());
        s.idle.pop_front();
      }
      ++s.checked_out;
      const bool stale = s.invalidation.is_stale(entry->created);
      lock.unlock();
      auto verdict = stale ? detail::PoolState::Verdict::dead : s.inspect(*entry);
      if (verdict == detail::PoolState::Verdict::usable) {
        lock.lock();
        return hand_out(std::move(entry));
      }
      const bool broke = !stale && entry->connection->is_broken();  // the pre-ping failed
      const auto created = entry->created;
      if (s.options.observer)
        s.options.observer->invalidated(
            detail::with_reason(*entry->connection, stale ? "opened before a pool invalidation"
                                                    : verdict == detail::PoolState::Verdict::too_old
                                                        ? "older than pool_recycle"
                                                        : "found dead at checkout (pre-ping)"));
      entry.reset();  // close outside the lock, then try the next idle one or open a new one
      lock.lock();
      --s.checked_out;
      --s.open;
      if (verdict == detail::PoolState::Verdict::too_old)
        ++s.totals.recycled;
      else
        ++s.totals.invalidated;
      if (broke && s.invalidation.connection_broke(created, Clock::now()))
        ++s.totals.pool_invalidations;
      continue;
    }

    if (s.open < s.limit()) {
      ++s.open;
      ++s.checked_out;
      auto entry = std::make_unique<PoolEntry>();
      entry->generation = s.generation;
      lock.unlock();
      try {
        entry->connection = s.factory();
        if (!entry->connection) {
          ErrorInfo info;
          info.message = "the pool's connection factory returned no connection";
          throw InterfaceError(std::move(info));
        }
        entry->connection->set_observer(s.options.observer);
        if (s.options.observer) s.options.observer->connected(entry->connection->event());
      } catch (...) {
        lock.lock();
        --s.checked_out;
        --s.open;
        stop_waiting();
        lock.unlock();
        s.available.notify_one();  // the slot is free again for a waiting thread
        throw;
      }
      entry->created = Clock::now();
      lock.lock();
      ++s.totals.created;
      return hand_out(std::move(entry));
    }

    if (!waited) {
      waited = true;
      wait_start = Clock::now();
      ++s.waiting;
      ++s.totals.waits;
    }
    if (s.available.wait_until(lock, deadline) == std::cv_status::timeout && s.idle.empty() &&
        s.open >= s.limit()) {
      ++s.totals.timeouts;
      stop_waiting();
      ErrorInfo info;
      info.message = fmt::format(
          "pool exhausted: {} of {} connections checked out (pool_size {} + max_overflow {}), "
          "waited {} ms",
          s.checked_out, s.limit(), s.options.pool_size, s.options.max_overflow,
          s.options.pool_timeout.count());
      throw PoolTimeout(std::move(info));
    }
  }
}

void Pool::dispose() {
  state_->close_idle(false);
}

PoolStats Pool::stats() const {
  const detail::PoolState& s = *state_;
  std::lock_guard lock(s.mutex);
  PoolStats stats = s.totals;
  stats.pool_size = s.options.pool_size;
  stats.max_overflow = s.options.max_overflow;
  stats.open = s.open;
  stats.idle = s.idle.size();
  stats.checked_out = s.checked_out;
  stats.waiting = s.waiting;
  stats.overflow = s.open > s.options.pool_size ? s.open - s.options.pool_size : 0;
  return stats;
}

}  // namespace pgorm
