// pgorm::Pool: a thread-safe pool of Connections with SQLAlchemy's QueuePool behaviour
// (pool_size kept open, max_overflow more on demand, a bounded wait, pre-ping and recycling).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "pgorm/engine/connection.hpp"
#include "pgorm/engine/events.hpp"

namespace pgorm {

struct PoolOptions {
  // Connections kept open while idle.
  std::size_t pool_size = 5;
  // Connections opened beyond pool_size under load, closed again when returned.
  std::size_t max_overflow = 10;
  // How long checkout() waits for a connection when all pool_size + max_overflow are in use.
  std::chrono::milliseconds pool_timeout{30000};
  // Test an idle connection with SELECT 1 before handing it out, replacing it if it is dead.
  bool pre_ping = false;
  // Replace an idle connection at checkout once it is older than this (since it was opened).
  std::optional<std::chrono::milliseconds> recycle{};
  // lifo reuses the most recently returned connection (few warm connections, the rest time out
  // on the server side); fifo spreads use over all idle connections.
  enum class Order { lifo, fifo } order = Order::lifo;
  // ROLLBACK a connection returned inside a transaction, so no transaction leaks to the next user.
  bool reset_on_return = true;
  // The pre-ping and that ROLLBACK must be answered within pool_timeout; then they are cancelled,
  // and a connection that does not answer the cancel within cancel_grace is discarded (a frozen
  // peer cannot hang a checkout or a return).
  std::chrono::milliseconds cancel_grace{500};
  // The engine's hooks and echo (EngineOptions::hooks); none when null. The pool reports connect,
  // checkout, checkin and invalidate, and hands it to each connection it opens for the statement
  // hooks.
  std::shared_ptr<detail::Observer> observer{};
};

struct PoolStats {
  std::size_t pool_size = 0;
  std::size_t max_overflow = 0;
  std::size_t open = 0;         // connections that exist (idle + checked out)
  std::size_t idle = 0;         // open and waiting in the pool
  std::size_t checked_out = 0;  // handed out, or being opened, pinged or closed
  std::size_t overflow = 0;     // open beyond pool_size
  // Totals since the pool was made.
  std::uint64_t created = 0;              // connections opened
  std::uint64_t checkouts = 0;            // successful checkouts
  std::size_t waiting = 0;                // checkouts waiting for a connection right now
  std::uint64_t waits = 0;                // checkouts that had to wait for a connection
  std::chrono::nanoseconds wait_time{0};  // time spent waiting by all of them (timeouts included)
  std::uint64_t timeouts = 0;             // checkouts that gave up with PoolTimeout
  std::uint64_t invalidated = 0;  // discarded: broken, invalidate()d, failed ping or reset, or
                                  // opened before a pool invalidation
  std::uint64_t recycled = 0;     // replaced because older than PoolOptions::recycle
  // Network failures that invalidated every connection opened before them (see below).
  std::uint64_t pool_invalidations = 0;
};

namespace detail {
struct PoolState;
struct PoolEntry;

// Pool invalidation, as in SQLAlchemy's pool: a connection found broken on the network (a server
// restart, a failover, a killed backend) makes every connection opened before that moment
// suspect. Those are replaced instead of reused, idle ones at their next checkout and checked-out
// ones when they are returned, so a server restart costs one failed request rather than one per
// pooled connection (without pre_ping) or one ping each (with it). Shared by Pool and AsyncPool;
// the caller holds the pool's lock.
class PoolInvalidation {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // A connection opened at `opened` was found broken at `now`. Only the first failure among the
  // connections of one period moves the mark: a broken connection opened before it is already
  // stale and says nothing about the newer ones. Returns whether the mark moved.
  bool connection_broke(time_point opened, time_point now) noexcept {
    if (opened < stale_before_) return false;
    stale_before_ = now;
    return true;
  }
  // Whether a connection opened at `opened` must be replaced.
  bool is_stale(time_point opened) const noexcept { return opened < stale_before_; }

 private:
  time_point stale_before_ = time_point::min();
};
}  // namespace detail

// A connection checked out of a Pool; returns it when destroyed (or on release()). Move-only.
// May outlive its Pool: the connection is then closed instead of returned.
class PooledConnection {
 public:
  PooledConnection() noexcept;
  PooledConnection(PooledConnection&&) noexcept;
  PooledConnection& operator=(PooledConnection&&) noexcept;
  ~PooledConnection();

  // Throw InterfaceError on an empty (moved-from or released) handle.
  Connection& get() const;
  Connection& operator*() const { return get(); }
  Connection* operator->() const { return &get(); }
  explicit operator bool() const noexcept;

  // Close the connection when it is returned instead of putting it back, e.g. after an error
  // that leaves the session in an unknown state.
  void invalidate() noexcept;
  // Return the connection to the pool now; the handle becomes empty.
  void release() noexcept;

 private:
  friend class Pool;
  PooledConnection(std::shared_ptr<detail::PoolState> state,
                   std::unique_ptr<detail::PoolEntry> entry) noexcept;
  std::shared_ptr<detail::PoolState> state_;
  std::unique_ptr<detail::PoolEntry> entry_;
};

class Pool {
 public:
  // Opens a new connection; called without the pool's lock held, so it may block.
  using Factory = std::function<std::unique_ptr<Connection>()>;

  explicit Pool(Factory factory, PoolOptions options = {});
  // Closes the idle connections; checked-out ones are closed when their handles return them.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection, a new one while fewer than pool_size + max_overflow are open, or the next
  // one returned within pool_timeout. Throws PoolTimeout after pool_timeout; errors of the
  // factory (e.g. Disconnect when the server is down) pass through.
  PooledConnection checkout();
  // Closes every idle connection now and every checked-out one when it is returned; the pool
  // stays usable and opens fresh connections (after a failover, a fork, a password change).
  void dispose();
  PoolStats stats() const;
  const PoolOptions& options() const noexcept;

 private:
  std::shared_ptr<detail::PoolState> state_;
};

}  // namespace pgorm
