// Test support for the async layer: run a coroutine to completion, an async engine on the test
// schema, and a loopback TCP proxy that can stop forwarding (a frozen network).
#pragma once

#include <pgorm/async.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "support/session_fixture.hpp"

namespace pgorm::test {

// Runs `operation` on `context` until it completes; returns its value or rethrows its error.
template <class T>
T run(asio::io_context& context, asio::awaitable<T> operation) {
  auto future = asio::co_spawn(context, std::move(operation), asio::use_future);
  context.restart();
  context.run();
  return future.get();
}

struct AsyncFixture : SessionFixture {
  asio::io_context io;
  AsyncEngine async_engine;
  explicit AsyncFixture(AsyncEngineOptions options = {})
      : async_engine(io, db.conninfo(), std::move(options)) {}
  AsyncSession session(SessionOptions options = {}) { return AsyncSession(async_engine, options); }
  template <class T>
  T run(asio::awaitable<T> operation) {
    return test::run(io, std::move(operation));
  }
};

// Whether the awaitable fails with E. (GCC 12 cannot keep a Catch assertion's temporaries across a
// co_await, so tests await first and assert after.)
template <class E, class T>
asio::awaitable<bool> throws_as(asio::awaitable<T> operation) {
  try {
    co_await std::move(operation);
  } catch (const E&) {
    co_return true;
  } catch (...) {
    co_return false;
  }
  co_return false;
}

// A TCP proxy on 127.0.0.1 in front of the test server; freeze() makes it stop forwarding in both
// directions while keeping every socket open, as a network that silently drops everything, and
// delay_replies() holds every byte from the server back for a while (in order), as a slow network
// that lets the server finish long before its results arrive.
class FreezableProxy {
 public:
  FreezableProxy();
  ~FreezableProxy();
  FreezableProxy(const FreezableProxy&) = delete;
  FreezableProxy& operator=(const FreezableProxy&) = delete;
  int port() const noexcept { return port_; }
  // Nothing is forwarded once this returns (a forwarding step in progress finishes first).
  void freeze() noexcept {
    std::lock_guard lock(forwarding_);
    frozen_.store(true);
  }
  // Server-to-client bytes read from now on reach the client `delay` later (0: at once), on every
  // connection, including the ones libpq opens for cancel requests.
  void delay_replies(std::chrono::milliseconds delay) noexcept {
    reply_delay_ms_.store(delay.count());
  }
  // conninfo with host and port replaced by the proxy's.
  std::string conninfo(const std::string& through) const;

 private:
  void loop();
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::mutex forwarding_;  // held by the proxy thread while it forwards bytes
  std::atomic<bool> frozen_{false};
  std::atomic<std::chrono::milliseconds::rep> reply_delay_ms_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pgorm::test
