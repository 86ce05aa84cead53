// pgorm::AsyncPool: the async counterpart of Pool, with the same options (pool_size kept open,
// max_overflow more on demand, a bounded wait, pre-ping, recycle). Coroutines waiting for a
// connection queue up (first come, first served) on timers, never blocking their thread; the pool
// may be shared by coroutines on any number of threads.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "pgorm/async/connection.hpp"
#include "pgorm/engine/pool.hpp"

namespace pgorm {

namespace detail {
struct AsyncPoolState;
struct AsyncPoolEntry;
}  // namespace detail

// A connection checked out of an AsyncPool, returned when destroyed (or on release()). Move-only.
// A connection returned inside a transaction is rolled back on its own strand before it is reused
// (reset_on_return); one returned broken, busy or invalidated is closed.
class AsyncPooledConnection {
 public:
  AsyncPooledConnection() noexcept;
  AsyncPooledConnection(AsyncPooledConnection&&) noexcept;
  AsyncPooledConnection& operator=(AsyncPooledConnection&&) noexcept;
  ~AsyncPooledConnection();

  // Throw InterfaceError on an empty handle.
  AsyncConnection& get() const;
  AsyncConnection& operator*() const { return get(); }
  AsyncConnection* operator->() const { return &get(); }
  explicit operator bool() const noexcept;

  void invalidate() noexcept;
  void release() noexcept;

 private:
  friend class AsyncPool;
  AsyncPooledConnection(std::shared_ptr<detail::AsyncPoolState> state,
                        std::unique_ptr<detail::AsyncPoolEntry> entry) noexcept;
  std::shared_ptr<detail::AsyncPoolState> state_;
  std::unique_ptr<detail::AsyncPoolEntry> entry_;
};

class AsyncPool {
 public:
  // Opens a new connection (without blocking), by the given deadline.
  using Factory = std::function<asio::awaitable<std::shared_ptr<AsyncConnection>>(
      std::optional<AsyncClock::time_point> deadline)>;

  AsyncPool(Factory factory, PoolOptions options = {});
  ~AsyncPool();
  AsyncPool(const AsyncPool&) = delete;
  AsyncPool& operator=(const AsyncPool&) = delete;

  // An idle connection, a new one while fewer than pool_size + max_overflow are open, or the next
  // one returned within pool_timeout (or by `deadline`, whichever is first: PoolTimeout, or
  // DeadlineExceeded when the caller's deadline is the earlier one).
  asio::awaitable<AsyncPooledConnection> checkout(
      std::optional<AsyncClock::time_point> deadline = std::nullopt);
  // Closes the idle connections now and the checked-out ones when they are returned.
  void dispose();
  PoolStats stats() const;
  const PoolOptions& options() const noexcept;

 private:
  std::shared_ptr<detail::AsyncPoolState> state_;
};

}  // namespace pgorm
