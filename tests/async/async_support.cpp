#include "async/async_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
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

void FreezableProxy::loop() {
  std::vector<std::pair<int, int>> pairs;  // client, upstream
  while (!stop_.load()) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    bool frozen = frozen_.load();
    if (!frozen)
      for (auto [a, b] : pairs) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
    ::poll(fds.data(), fds.size(), 50);
    if (fds[1].revents & POLLIN) {
      int client = ::accept(listener_, nullptr, nullptr);
      int upstream = connect_upstream();
      if (client >= 0 && upstream >= 0) pairs.emplace_back(client, upstream);
    }
    if (frozen) continue;
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto& pair = pairs[(i - 2) / 2];
      if (fds[i].fd != pair.first && fds[i].fd != pair.second) continue;  // closed meanwhile
      int from = fds[i].fd;
      int to = from == pair.first ? pair.second : pair.first;
      char buffer[16384];
      ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n <= 0) {
        ::close(pair.first);
        ::close(pair.second);
        pair = {-1, -1};  // poll() ignores negative descriptors
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(to, buffer + done, static_cast<std::size_t>(n - done));
        if (w <= 0) break;
        done += w;
      }
    }
  }
  for (auto [a, b] : pairs) {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
}

}  // namespace pgorm::test
