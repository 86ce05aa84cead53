// Client-side deadlines for blocking libpq calls: cancel the statement on the server when the
// deadline passes, and cut the connection if the server still does not answer.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

struct pg_conn;
typedef struct pg_conn PGconn;

namespace pgorm {

class Connection;

namespace detail {

// Sends a cancel request for whatever `conn` is running. PQcancel blocks (it opens a connection
// of its own to the server, which a frozen network can hold for minutes) and libpq 15 has no
// non-blocking cancel, so it runs on a short-lived detached thread. Returns the flag that thread
// sets once the server has taken the request, or nullptr when no request could be made.
std::shared_ptr<std::atomic<bool>> send_cancel(PGconn* conn);

// Bounds the blocking calls made on a connection while it lives. At `deadline` the statement in
// flight is cancelled on the server; if the call has still not returned `grace` later (no answer:
// a frozen peer), the connection's socket is shut down, so that the call fails with Disconnect
// instead of waiting forever. On destruction after a cancel it waits (until deadline + grace) for
// the cancel request to reach the server, so that it cannot cancel the connection's next
// statement; if it did not, or the socket was cut, the connection is marked broken.
class DeadlineWatch {
 public:
  using Clock = std::chrono::steady_clock;
  DeadlineWatch(Connection& connection, Clock::time_point deadline,
                std::chrono::milliseconds grace);
  ~DeadlineWatch();
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // The deadline passed while the call ran: a cancel request was sent.
  bool fired() const noexcept;
  // The server did not answer within grace after that: the socket was shut down.
  bool cut() const noexcept;

  struct Watch;

 private:
  Connection& connection_;
  std::shared_ptr<Watch> watch_;
};

}  // namespace detail
}  // namespace pgorm
