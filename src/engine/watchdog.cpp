#include "pgorm/engine/watchdog.hpp"

#include <sys/socket.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <libpq-fe.h>

#include "pgorm/engine/connection.hpp"

namespace pgorm::detail {

namespace {

// Hands `cancel` (owned from here on) to a detached thread that sends it.
std::shared_ptr<std::atomic<bool>> send_cancel_request(PGcancel* cancel) {
  if (cancel == nullptr) return nullptr;
  auto delivered = std::make_shared<std::atomic<bool>>(false);
  try {
    std::thread([cancel, delivered] {
      char error[256];
      PQcancel(cancel, error, sizeof error);
      PQfreeCancel(cancel);
      delivered->store(true, std::memory_order_release);
    }).detach();
  } catch (...) {
    PQfreeCancel(cancel);
    return nullptr;
  }
  return delivered;
}

}  // namespace

std::shared_ptr<std::atomic<bool>> send_cancel(PGconn* conn) {
  return send_cancel_request(PQgetCancel(conn));
}

struct DeadlineWatch::Watch {
  std::mutex mutex;
  Clock::time_point cut_at;  // deadline + grace: when an unanswered call is cut
  int socket = -1;
  PGcancel* cancel = nullptr;  // made by the caller's thread, which owns the PGconn
  bool active = true;          // the call has not returned yet
  bool fired = false;
  bool cut = false;
  std::shared_ptr<std::atomic<bool>> delivered;
};

namespace {

// One thread for the process that wakes at the earliest deadline of the armed watches.
class Watchdog {
  using Clock = DeadlineWatch::Clock;

 public:
  static Watchdog& instance() {
    static Watchdog dog;
    return dog;
  }

  void arm(Clock::time_point at, const std::shared_ptr<DeadlineWatch::Watch>& watch) {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    bool earliest = due_.empty() || at < due_.begin()->first;
    due_.emplace(at, watch);
    if (earliest) wake_.notify_one();
  }

  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (due_.empty()) {
        wake_.wait(lock);
        continue;
      }
      auto first = due_.begin();
      if (first->first > Clock::now()) {
        wake_.wait_until(lock, first->first);
        continue;
      }
      std::weak_ptr<DeadlineWatch::Watch> weak = first->second;
      due_.erase(first);
      lock.unlock();
      if (auto watch = weak.lock()) expire(watch);
      lock.lock();
    }
  }

  void expire(const std::shared_ptr<DeadlineWatch::Watch>& w) {
    std::lock_guard lock(w->mutex);
    if (!w->active) return;
    if (!w->fired) {
      w->fired = true;
      w->delivered = send_cancel_request(std::exchange(w->cancel, nullptr));
      arm(w->cut_at, w);
    } else if (!w->cut) {
      // No answer within the grace period: make the blocked call return. The caller's thread
      // still owns the socket (libpq closes it later); shutdown() only ends its traffic.
      w->cut = true;
      if (w->socket >= 0) ::shutdown(w->socket, SHUT_RDWR);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::weak_ptr<DeadlineWatch::Watch>> due_;
  std::thread thread_;
  bool stop_ = false;
};

}  // namespace

DeadlineWatch::DeadlineWatch(Connection& connection, Clock::time_point deadline,
                             std::chrono::milliseconds grace)
    : connection_(connection), watch_(std::make_shared<Watch>()) {
  PGconn* conn = connection.native_handle();
  watch_->cut_at = deadline + grace;
  watch_->socket = PQsocket(conn);
  watch_->cancel = PQgetCancel(conn);
  Watchdog::instance().arm(deadline, watch_);
}

DeadlineWatch::~DeadlineWatch() {
  std::shared_ptr<std::atomic<bool>> delivered;
  bool fired = false;
  bool cut = false;
  {
    std::lock_guard lock(watch_->mutex);
    watch_->active = false;
    if (watch_->cancel) PQfreeCancel(std::exchange(watch_->cancel, nullptr));
    fired = watch_->fired;
    cut = watch_->cut;
    delivered = watch_->delivered;
  }
  if (cut) {
    connection_.broken_ = true;
    return;
  }
  if (!fired || !delivered) return;  // no cancel request on its way
  // A cancel still on its way could hit the next statement: wait for it, within the bound.
  for (int poll = 0; poll < 100000 && !delivered->load(std::memory_order_acquire) &&
                     Clock::now() < watch_->cut_at;
       ++poll)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!delivered->load(std::memory_order_acquire)) connection_.broken_ = true;
}

bool DeadlineWatch::fired() const noexcept {
  std::lock_guard lock(watch_->mutex);
  return watch_->fired;
}

bool DeadlineWatch::cut() const noexcept {
  std::lock_guard lock(watch_->mutex);
  return watch_->cut;
}

}  // namespace pgorm::detail
