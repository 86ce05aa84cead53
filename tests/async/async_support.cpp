#include "async/async_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>

namespace pgorm::test {
namespace {

int connect_upstream() {
  const char* host = std::getenv("PGHOST");
  const char* port = std::getenv("PGPORT");
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string h = host && *host && *host != '/' ? host : "127.0.0.1";
  if (h == "localhost") h = "127.0.0.1";
  if (getaddrinfo(h.c_str(), port ? port : "5432", &hints, &found) != 0) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

}  // namespace

FreezableProxy::FreezableProxy() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 16) != 0)
    throw std::runtime_error("proxy: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe(wake_) != 0) throw std::runtime_error("proxy: pipe");
  thread_ = std::thread([this] { loop(); });
}

FreezableProxy::~FreezableProxy() {
  stop_.store(true);
  char c = 0;
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string FreezableProxy::conninfo(const std::string& through) const {
  Url url = Url::parse(through);
  url.set_param("host", "127.0.0.1");
  url.set_param("port", std::to_string(port_));
  return url.conninfo();
}

namespace {

// Writes all of `bytes` (blocking; loopback). False when the peer is gone (no SIGPIPE: a client
// may have closed while its delayed replies were held back).
bool write_all(int fd, const char* bytes, std::size_t n) {
  for (std::size_t done = 0; done < n;) {
    ssize_t w = ::send(fd, bytes + done, n - done, MSG_NOSIGNAL);
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

void FreezableProxy::loop() {
  using Clock = std::chrono::steady_clock;
  struct Reply {
    Clock::time_point due;
    std::string bytes;
  };
  struct Pair {
    int client = -1;
    int upstream = -1;
    std::deque<Reply> replies;     // server bytes held back by delay_replies(), in order
    bool upstream_closed = false;  // the server closed: close the client once replies are out
    void close() {
      if (client >= 0) ::close(client);
      if (upstream >= 0) ::close(upstream);
      client = upstream = -1;
      replies.clear();
    }
  };
  std::vector<Pair> pairs;
  while (!stop_.load()) {
    std::erase_if(pairs, [](const Pair& p) { return p.client < 0; });
    bool frozen = frozen_.load();
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    std::vector<std::pair<std::size_t, bool>> owner;  // fds[i + 2]: pair index, from the client
    int timeout_ms = 50;
    auto now = Clock::now();
    if (!frozen)
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        fds.push_back({pairs[i].client, POLLIN, 0});
        owner.emplace_back(i, true);
        if (!pairs[i].upstream_closed) {
          fds.push_back({pairs[i].upstream, POLLIN, 0});
          owner.emplace_back(i, false);
        }
        if (!pairs[i].replies.empty()) {
          auto wait =
              std::chrono::ceil<std::chrono::milliseconds>(pairs[i].replies.front().due - now);
          timeout_ms = std::clamp(static_cast<int>(wait.count()), 0, timeout_ms);
        }
      }
    ::poll(fds.data(), fds.size(), timeout_ms);
    if (fds[1].revents & POLLIN) {
      int client = ::accept(listener_, nullptr, nullptr);
      int upstream = connect_upstream();
      if (client >= 0 && upstream >= 0) {
        pairs.push_back({});
        pairs.back().client = client;
        pairs.back().upstream = upstream;
      } else {
        if (client >= 0) ::close(client);
        if (upstream >= 0) ::close(upstream);
      }
    }
    std::unique_lock forwarding(forwarding_);
    if (frozen_.load()) continue;  // (frozen while poll() waited: forward nothing it reported)
    auto delay = std::chrono::milliseconds(reply_delay_ms_.load());
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [index, from_client] = owner[i - 2];
      Pair& pair = pairs[index];
      if (pair.client < 0) continue;  // closed meanwhile
      char buffer[16384];
      ssize_t n = ::read(from_client ? pair.client : pair.upstream, buffer, sizeof buffer);
      if (n <= 0) {
        if (from_client || pair.replies.empty())
          pair.close();
        else
          pair.upstream_closed = true;
        continue;
      }
      if (from_client) {
        if (!write_all(pair.upstream, buffer, static_cast<std::size_t>(n))) pair.close();
      } else if (delay.count() == 0 && pair.replies.empty()) {
        if (!write_all(pair.client, buffer, static_cast<std::size_t>(n))) pair.close();
      } else {
        pair.replies.push_back(
            {Clock::now() + delay, std::string(buffer, static_cast<std::size_t>(n))});
      }
    }
    // Held-back replies that are due, in the order they were read.
    now = Clock::now();
    for (auto& pair : pairs) {
      while (pair.client >= 0 && !pair.replies.empty() && pair.replies.front().due <= now) {
        const std::string& bytes = pair.replies.front().bytes;
        if (!write_all(pair.client, bytes.data(), bytes.size())) {
          pair.close();
          break;
        }
        pair.replies.pop_front();
      }
      if (pair.client >= 0 && pair.upstream_closed && pair.replies.empty()) pair.close();
    }
  }
  for (auto& pair : pairs) pair.close();
}

}  // namespace pgorm::test
