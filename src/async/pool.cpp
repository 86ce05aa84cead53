// AsyncPool. One mutex guards the bookkeeping. A connection's own state is only looked at on its
// strand (returns are posted there); a waiting coroutine sleeps on a timer of a strand of its own,
// woken by a post to that strand, so wake-ups are never lost and never race the timer.
#include "pgorm/async/pool.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <deque>
#include <limits>
#include <mutex>

#include <fmt/format.h>

namespace pgorm {
namespace detail {

using Clock = AsyncClock;
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// Counts as one open connection (or one being opened) until destroyed.
struct AsyncPoolSlot {
  AsyncPoolSlot() = default;
  explicit AsyncPoolSlot(std::weak_ptr<AsyncPoolState> p) : pool(std::move(p)) {}
  AsyncPoolSlot(AsyncPoolSlot&& o) noexcept : pool(std::move(o.pool)) { o.pool.reset(); }
  AsyncPoolSlot& operator=(AsyncPoolSlot&&) = delete;
  ~AsyncPoolSlot();
  std::weak_ptr<AsyncPoolState> pool;
};

struct AsyncPoolEntry {
  std::shared_ptr<AsyncConnection> connection;
  std::uint64_t generation = 0;
  bool invalidated = false;
  AsyncPoolSlot slot;  // declared last: released after the connection is dropped
};

struct AsyncPoolWaiter {
  explicit AsyncPoolWaiter(const asio::any_io_executor& ex)
      : strand(asio::make_strand(ex)), timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  // Set under the pool's mutex by whoever wakes the waiter.
  std::unique_ptr<AsyncPoolEntry> entry;  // a returned connection, handed over directly
  bool may_open = false;                  // a freed slot, handed over for a new connection
  bool woken = false;
};

struct AsyncPoolState : std::enable_shared_from_this<AsyncPoolState> {
  AsyncPoolState(AsyncPool::Factory f, PoolOptions o) : factory(std::move(f)), options(o) {}

  std::size_t limit() const noexcept {
    std::size_t max = std::numeric_limits<std::size_t>::max();
    return options.max_overflow > max - options.pool_size
               ? max
               : options.pool_size + options.max_overflow;
  }
  // Needs the lock. Wakes the waiter on its strand.
  void wake(const std::shared_ptr<AsyncPoolWaiter>& w) {
    w->woken = true;
    asio::post(w->strand, [w] { w->timer.cancel(); });
  }

  void slot_released() noexcept {
    std::lock_guard lock(mutex);
    if (!closed && !waiters.empty()) {
      auto w = std::move(waiters.front());
      waiters.pop_front();
      w->may_open = true;  // the slot passes to the waiter: `open` stays the same
      wake(w);
      return;
    }
    --open;
  }

  // From any thread: the connection's state is checked on its own strand.
  void give_back(std::unique_ptr<AsyncPoolEntry> entry) noexcept {
    auto connection = entry->connection;
    try {
      asio::dispatch(connection->get_executor(),
                     [self = shared_from_this(), entry = std::move(entry)]() mutable {
                       self->return_here(std::move(entry));
                     });
    } catch (...) {
      // Out of memory: the entry (and its slot) is dropped with the handler.
    }
  }

  // On the connection's strand.
  void return_here(std::unique_ptr<AsyncPoolEntry> entry) noexcept {
    AsyncConnection& c = *entry->connection;
    c.set_session_id(0);
    if (options.observer) options.observer->checked_in(c.event());
    const bool broken = !c.is_usable();
    std::string_view reason = entry->invalidated ? "invalidated by its user"
                              : broken           ? "broken"
                              : c.busy()         ? "returned with statements in flight"
                                                 : "";
    {
      std::lock_guard lock(mutex);
      if (broken && invalidation.connection_broke(c.opened_at(), Clock::now()))
        ++totals.pool_invalidations;
      if (reason.empty() && invalidation.is_stale(c.opened_at()))
        reason = "opened before a pool invalidation";
    }
    if (reason.empty() && c.transaction_status() != TransactionStatus::idle) {
      if (options.reset_on_return) {
        asio::co_spawn(c.get_executor(), reset(std::move(entry)), asio::detached);
        return;
      }
      reason = "returned inside a transaction (reset_on_return is off)";
    }
    if (!reason.empty()) {
      discard(std::move(entry), reason);
      return;
    }
    put_back(std::move(entry));
  }

  // ROLLBACK for a connection returned inside a transaction, then put it back.
  asio::awaitable<void> reset(std::unique_ptr<AsyncPoolEntry> entry) {
    bool clean = false;
    try {
      co_await entry->connection->execute("ROLLBACK", {}, Clock::now() + std::chrono::seconds(5));
      clean = entry->connection->transaction_status() == TransactionStatus::idle;
    } catch (...) {
    }
    if (clean)
      put_back(std::move(entry));
    else
      discard(std::move(entry), "its ROLLBACK on return failed");
  }

  void discard(std::unique_ptr<AsyncPoolEntry> entry, std::string_view reason) noexcept {
    if (options.observer) {
      ConnectionEvent event = entry->connection->event();
      event.reason = reason;
      options.observer->invalidated(event);
    }
    {
      std::lock_guard lock(mutex);
      ++totals.invalidated;
    }
    entry->connection->close();
    entry.reset();  // releases the slot (outside the lock)
  }

  void put_back(std::unique_ptr<AsyncPoolEntry> entry) noexcept {
    std::unique_ptr<AsyncPoolEntry> doomed;
    bool disposed = false;  // opened before a dispose(): closed, and reported as invalidated
    {
      std::lock_guard lock(mutex);
      if (closed || entry->generation != generation) {
        disposed = !closed;
        doomed = std::move(entry);
      } else if (!waiters.empty()) {
        auto w = std::move(waiters.front());
        waiters.pop_front();
        w->entry = std::move(entry);
        wake(w);
      } else if (idle.size() < options.pool_size) {
        try {
          idle.push_back(std::move(entry));
        } catch (...) {
          doomed = std::move(entry);
        }
      } else {
        doomed = std::move(entry);  // an overflow connection: closed when returned
      }
    }
    if (disposed && options.observer) {
      ConnectionEvent event = doomed->connection->event();
      event.reason = "closed by dispose()";
      options.observer->invalidated(event);
    }
    doomed.reset();
  }

  enum class Verdict { usable, too_old, dead };
  asio::awaitable<Verdict> inspect(AsyncPoolEntry& entry, Clock::time_point until) {
    if (options.recycle && Clock::now() - entry.connection->opened_at() > *options.recycle)
      co_return Verdict::too_old;
    if (!entry.connection->is_usable()) co_return Verdict::dead;
    if (options.pre_ping) {
      try {
        co_await entry.connection->execute("SELECT 1", {}, until);
      } catch (const Error&) {
        co_return Verdict::dead;  // the caller gets another connection and never sees this
      }
    }
    co_return Verdict::usable;
  }

  void close_idle(bool final) noexcept {
    std::deque<std::unique_ptr<AsyncPoolEntry>> doomed;
    {
      std::lock_guard lock(mutex);
      if (final) {
        closed = true;
        for (auto& w : waiters) wake(w);
        waiters.clear();
      }
      ++generation;
      doomed.swap(idle);
    }
    if (!final && options.observer)
      for (const auto& entry : doomed) {
        ConnectionEvent event = entry->connection->event();
        event.reason = "closed by dispose()";
        options.observer->invalidated(event);
      }
    doomed.clear();
  }

  const AsyncPool::Factory factory;
  const PoolOptions options;
  mutable std::mutex mutex;
  std::deque<std::unique_ptr<AsyncPoolEntry>> idle;
  std::deque<std::shared_ptr<AsyncPoolWaiter>> waiters;
  std::size_t open = 0;  // connections that exist or are being opened
  std::uint64_t generation = 0;
  PoolInvalidation invalidation;
  bool closed = false;
  PoolStats totals;
};

AsyncPoolSlot::~AsyncPoolSlot() {
  if (auto p = pool.lock()) p->slot_released();
}

}  // namespace detail

using detail::AsyncPoolEntry;
using detail::AsyncPoolState;
using detail::AsyncPoolWaiter;
using detail::Clock;

// ---- AsyncPooledConnection ----

AsyncPooledConnection::AsyncPooledConnection() noexcept = default;
AsyncPooledConnection::AsyncPooledConnection(std::shared_ptr<AsyncPoolState> state,
                                             std::unique_ptr<AsyncPoolEntry> entry) noexcept
    : state_(std::move(state)), entry_(std::move(entry)) {}
AsyncPooledConnection::AsyncPooledConnection(AsyncPooledConnection&&) noexcept = default;
AsyncPooledConnection& AsyncPooledConnection::operator=(AsyncPooledConnection&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    entry_ = std::move(other.entry_);
  }
  return *this;
}
AsyncPooledConnection::~AsyncPooledConnection() {
  release();
}

AsyncConnection& AsyncPooledConnection::get() const {
  if (!entry_) {
    ErrorInfo info;
    info.message = "the pooled connection was released or moved from";
    throw InterfaceError(std::move(info));
  }
  return *entry_->connection;
}
AsyncPooledConnection::operator bool() const noexcept {
  return entry_ != nullptr;
}
void AsyncPooledConnection::invalidate() noexcept {
  if (entry_) entry_->invalidated = true;
}
void AsyncPooledConnection::release() noexcept {
  if (!entry_) return;
  auto state = std::move(state_);
  state->give_back(std::move(entry_));
}

// ---- AsyncPool ----

AsyncPool::AsyncPool(Factory factory, PoolOptions options)
    : state_(std::make_shared<AsyncPoolState>(std::move(factory), options)) {}
AsyncPool::~AsyncPool() {
  state_->close_idle(true);
}
const PoolOptions& AsyncPool::options() const noexcept {
  return state_->options;
}
void AsyncPool::dispose() {
  state_->close_idle(false);
}

namespace {
asio::awaitable<void> sleep_until_woken(std::shared_ptr<AsyncPoolWaiter> w,
                                        std::shared_ptr<AsyncPoolState> s,
                                        Clock::time_point until) {
  {
    std::lock_guard lock(s->mutex);
    if (w->woken) co_return;
  }
  // A wake posted after the check above runs on this strand after this wait has started.
  w->timer.expires_at(until);
  co_await w->timer.async_wait(detail::as_tuple_awaitable);
}
}  // namespace

asio::awaitable<AsyncPooledConnection> AsyncPool::checkout(
    std::optional<AsyncClock::time_point> deadline) {
  std::shared_ptr<AsyncPoolState> s = state_;
  const auto ex = co_await asio::this_coro::executor;
  const auto pool_deadline = Clock::now() + s->options.pool_timeout;
  const bool caller_first = deadline && *deadline < pool_deadline;
  const auto until = caller_first ? *deadline : pool_deadline;
  bool waited = false;
  // Adds the time this checkout waited to the pool's total when it ends, however it ends.
  struct WaitClock {
    AsyncPoolState& pool;
    Clock::time_point start{};
    ~WaitClock() {
      if (start == Clock::time_point{}) return;
      std::lock_guard lock(pool.mutex);
      pool.totals.wait_time += Clock::now() - start;
    }
  } wait_clock{*s};
  for (;;) {
    std::unique_ptr<AsyncPoolEntry> entry;
    bool from_idle = false;
    bool stale = false;
    std::shared_ptr<AsyncPoolWaiter> waiter;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(s->mutex);
      if (s->closed) {
        ErrorInfo info;
        info.message = "the pool is closed";
        throw InterfaceError(std::move(info));
      }
      generation = s->generation;
      if (!s->idle.empty()) {
        if (s->options.order == PoolOptions::Order::lifo) {
          entry = std::move(s->idle.back());
          s->idle.pop_back();
        } else {
          entry = std::move(s->idle.front());
          s->idle.pop_front();
        }
        from_idle = true;
        stale = s->invalidation.is_stale(entry->connection->opened_at());
      } else if (s->open < s->limit()) {
        ++s->open;  // reserved for the new connection opened below
      } else {
        waiter = std::make_shared<AsyncPoolWaiter>(ex);
        s->waiters.push_back(waiter);
        if (!waited) {
          ++s->totals.waits;
          wait_clock.start = Clock::now();
        }
        waited = true;
      }
    }

    if (waiter) {
      co_await asio::co_spawn(waiter->strand, sleep_until_woken(waiter, s, until),
                              asio::use_awaitable);
      std::lock_guard lock(s->mutex);
      if (waiter->entry) {
        entry = std::move(waiter->entry);
      } else if (waiter->may_open) {
        generation = s->generation;  // a freed slot: open a new connection below
      } else {
        std::erase(s->waiters, waiter);
        ErrorInfo info;
        if (s->closed) {
          info.message = "the pool was closed while waiting for a connection";
          throw InterfaceError(std::move(info));
        }
        if (caller_first) {
          info.message = "the deadline passed while waiting for a pooled connection";
          info.sqlstate = "57014";
          throw DeadlineExceeded(std::move(info));
        }
        ++s->totals.timeouts;
        info.message = fmt::format(
            "pool exhausted: {} of {} connections in use (pool_size {} + max_overflow {}), "
            "waited {} ms",
            s->open, s->limit(), s->options.pool_size, s->options.max_overflow,
            s->options.pool_timeout.count());
        throw PoolTimeout(std::move(info));
      }
    }

    if (entry && from_idle) {
      auto verdict = AsyncPoolState::Verdict::dead;
      if (!stale) verdict = co_await s->inspect(*entry, until);
      if (verdict != AsyncPoolState::Verdict::usable) {
        const bool broke = !stale && !entry->connection->is_usable();  // the pre-ping failed
        if (s->options.observer) {
          ConnectionEvent event = entry->connection->event();
          event.reason = stale ? "opened before a pool invalidation"
                         : verdict == AsyncPoolState::Verdict::too_old
                             ? "older than pool_recycle"
                             : "found dead at checkout (pre-ping)";
          s->options.observer->invalidated(event);
        }
        {
          std::lock_guard lock(s->mutex);
          if (verdict == AsyncPoolState::Verdict::too_old)
            ++s->totals.recycled;
          else
            ++s->totals.invalidated;
          if (broke &&
              s->invalidation.connection_broke(entry->connection->opened_at(), Clock::now()))
            ++s->totals.pool_invalidations;
        }
        entry.reset();  // closes it (when nothing else holds it) and frees the slot
        continue;
      }
    }
    if (entry) {
      {
        std::lock_guard lock(s->mutex);
        ++s->totals.checkouts;
      }
      if (s->options.observer) s->options.observer->checked_out(entry->connection->event());
      co_return AsyncPooledConnection(s, std::move(entry));
    }

    // A slot is reserved for a new connection; the entry's slot gives it back if opening fails.
    entry = std::make_unique<AsyncPoolEntry>();
    entry->slot.pool = s;
    entry->generation = generation;
    entry->connection = co_await s->factory(until);
    {
      std::lock_guard lock(s->mutex);
      ++s->totals.created;
      ++s->totals.checkouts;
    }
    if (s->options.observer) {
      s->options.observer->connected(entry->connection->event());
      s->options.observer->checked_out(entry->connection->event());
    }
    co_return AsyncPooledConnection(s, std::move(entry));
  }
}

PoolStats AsyncPool::stats() const {
  const AsyncPoolState& s = *state_;
  std::lock_guard lock(s.mutex);
  PoolStats stats = s.totals;
  stats.pool_size = s.options.pool_size;
  stats.max_overflow = s.options.max_overflow;
  stats.open = s.open;
  stats.idle = s.idle.size();
  stats.checked_out = s.open - s.idle.size();
  stats.waiting = s.waiters.size();
  stats.overflow = s.open > s.options.pool_size ? s.open - s.options.pool_size : 0;
  return stats;
}

}  // namespace pgorm
