// pgorm::AsyncEngine: a database URL plus an async connection pool on an Asio executor,
// SQLAlchemy's create_async_engine(). Connections do their I/O on strands of that executor.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgorm/async/pool.hpp"
#include "pgorm/engine/engine.hpp"
#include "pgorm/engine/url.hpp"

namespace pgorm {

// The options of EngineOptions, the same for both engines (an alias, so that
// `{.pool_size = 5}` works with single braces); the async engine enforces connect_timeout itself,
// over the whole host list (libpq does not apply it to its non-blocking connect).
using AsyncEngineOptions = EngineOptions;

// A cheap, copyable handle: copies share one pool. Opens no connection until one is needed.
class AsyncEngine {
 public:
  // `url` as accepted by Url::parse. Connections are served on strands of `executor`: run that
  // io_context (on one thread or several) for the engine to make progress.
  AsyncEngine(asio::any_io_executor executor, std::string_view url,
              AsyncEngineOptions options = {});
  AsyncEngine(asio::any_io_executor executor, Url url, AsyncEngineOptions options = {});
  AsyncEngine(asio::io_context& context, std::string_view url, AsyncEngineOptions options = {})
      : AsyncEngine(context.get_executor(), url, std::move(options)) {}

  // A connection from the pool (by the deadline, if any), returned when the handle is dropped.
  asio::awaitable<AsyncPooledConnection> connect(
      std::optional<AsyncClock::time_point> deadline = std::nullopt) const;
  AsyncPool& pool() const noexcept;
  const Url& url() const noexcept;
  const AsyncEngineOptions& options() const noexcept;
  const asio::any_io_executor& get_executor() const noexcept;
  // Closes every idle connection now and every checked-out one when it is returned.
  void dispose() const;
  // Exceptions thrown by hooks (caught and counted, see EngineHooks).
  std::uint64_t hook_failures() const noexcept;
  // For logs: "AsyncEngine(postgresql://app:***@db:5432/app, pool_size=5, max_overflow=10)".
  std::string to_string() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

AsyncEngine create_async_engine(asio::any_io_executor executor, std::string_view url,
                                AsyncEngineOptions options = {});
AsyncEngine create_async_engine(asio::io_context& context, std::string_view url,
                                AsyncEngineOptions options = {});

}  // namespace pgorm
