// Host lists against the real server: libpq skips a host that refuses connections and honours
// target_session_attrs, through the sync and the async engine, and a refused connection's error
// never shows the password.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "async/async_support.hpp"
#include "engine/server_view.hpp"
#include "support/db.hpp"

using namespace pgorm;
using asio::awaitable;

namespace {

// A TCP port on 127.0.0.1 that nothing listens on: bound by the kernel's choice, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  REQUIRE(bound);
  return ntohs(address.sin_port);
}

// The test server as libpq finds it: the URL's first host and port, else PGHOST and PGPORT
// (a host "" or a port nullopt stands for libpq's default).
Url::Host test_server(const Url& url) {
  Url::Host server{url.host(), url.port()};
  if (server.name.empty())
    if (const char* host = std::getenv("PGHOST")) server.name = host;
  if (!server.port)
    if (const char* port = std::getenv("PGPORT")) server.port = std::stoi(port);
  return server;
}

// `conninfo` with the host list [127.0.0.1:<closed port>, the test server]: libpq must skip the
// first host to connect.
Url behind_a_refusing_host(const std::string& conninfo) {
  Url url = Url::parse(conninfo);
  Url::Host server = test_server(url);
  url.set_param("host", "127.0.0.1," + server.name);
  url.set_param(
      "port", fmt::format("{},{}", closed_port(), server.port ? std::to_string(*server.port) : ""));
  return url;
}

// The message of the Disconnect that connecting through `engine` throws ("" if none is thrown).
std::string connect_error(const Engine& engine) {
  try {
    engine.connect();
  } catch (const Disconnect& e) {
    return e.what();
  }
  FAIL("connecting did not throw Disconnect");
  return {};
}

constexpr std::string_view kMarkerPassword = "multihost-s3cr3t-marker";

}  // namespace

TEST_CASE("an engine skips a host that refuses connections and uses the next one",
          "[engine][multihost]") {
  test::TestSchema db;
  Url url = behind_a_refusing_host(db.conninfo());
  REQUIRE(url.hosts().size() == 2);
  Engine engine = create_engine(url.conninfo(), test::named_after(db));
  CHECK(engine.url().hosts() == url.hosts());

  auto connection = engine.connect();
  CHECK(connection->exec("SELECT 41 + 1").value<int>(0, 0) == 42);
  // The URL's options reach the session on the second host, as on a single one.
  CHECK(connection->exec("SELECT current_schema()").value<std::string>(0, 0) == db.name());
  if (auto port = test_server(Url::parse(db.conninfo())).port)
    CHECK(connection->exec("SELECT current_setting('port')").value<std::string>(0, 0) ==
          std::to_string(*port));
  CHECK(engine.to_string().find(fmt::format("127.0.0.1:{},", *url.port())) != std::string::npos);
}

TEST_CASE("target_session_attrs=read-write lands on the primary after a refusing host",
          "[engine][multihost]") {
  test::TestSchema db;
  Url url = behind_a_refusing_host(db.conninfo());
  url.set_param("target_session_attrs", "read-write");
  Engine engine(url, test::named_after(db));
  auto connection = engine.connect();
  CHECK_FALSE(connection->exec("SELECT pg_is_in_recovery()").value<bool>(0, 0));
  CHECK(connection->exec("SHOW transaction_read_only").value<std::string>(0, 0) == "off");
}

TEST_CASE("target_session_attrs=standby with only a primary fails with Disconnect, no password",
          "[engine][multihost]") {
  test::TestSchema db;
  Url url = behind_a_refusing_host(db.conninfo());
  url.set_param("target_session_attrs", "standby");

  // With the test's own credentials the server is reached, and refused for not being a standby.
  std::string message = connect_error(Engine(url, test::named_after(db)));
  INFO(message);
  CHECK(message.find("could not connect to the database") != std::string::npos);
  CHECK(message.find("standby") != std::string::npos);
  CHECK(message.find("password='") == std::string::npos);  // no conninfo echoed either

  // With a password of our own (ignored by trust authentication, refused by a password check):
  // whichever way the connection fails, the password is not in the message.
  url.set_param("password", std::string(kMarkerPassword));
  Engine engine(url, test::named_after(db));
  std::string marked = connect_error(engine);
  INFO(marked);
  CHECK(marked.find(kMarkerPassword) == std::string::npos);
  CHECK(marked.find("s3cr3t") == std::string::npos);
  CHECK(engine.to_string().find("s3cr3t") == std::string::npos);
}

TEST_CASE("async: an async engine skips a refusing host and honours target_session_attrs",
          "[engine][multihost][async]") {
  test::TestSchema db;
  asio::io_context io;
  Url url = behind_a_refusing_host(db.conninfo());
  url.set_param("target_session_attrs", "read-write");
  AsyncEngine engine(io.get_executor(), url);
  auto [schema, in_recovery] = test::run(io, [&]() -> awaitable<std::pair<std::string, bool>> {
    auto connection = co_await engine.connect();
    Result r = co_await connection->execute("SELECT current_schema(), pg_is_in_recovery()");
    co_return std::pair{r.value<std::string>(0, 0), r.value<bool>(0, 1)};
  }());
  CHECK(schema == db.name());
  CHECK_FALSE(in_recovery);

  url.set_param("target_session_attrs", "standby");
  AsyncEngine standby_only(io.get_executor(), url);
  bool disconnect = test::run(io, test::throws_as<Disconnect>(standby_only.connect()));
  CHECK(disconnect);
}
