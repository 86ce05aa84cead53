// EngineOptions for a network that stops answering: connect_timeout, TCP_USER_TIMEOUT and
// keepalives reach libpq, and a sync connect to a frozen peer fails within its timeout.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>

#include "async/async_support.hpp"

using namespace pgorm;
using namespace std::chrono_literals;

namespace {
// The options libpq uses on this connection (PQconninfo), by keyword.
std::map<std::string, std::string> options_in_use(Connection& c) {
  std::map<std::string, std::string> out;
  PQconninfoOption* options = PQconninfo(c.native_handle());
  for (PQconninfoOption* o = options; o && o->keyword; ++o)
    if (o->val) out[o->keyword] = o->val;
  PQconninfoFree(options);
  return out;
}
}  // namespace

TEST_CASE("network options of EngineOptions reach libpq", "[engine][network]") {
  test::SessionFixture fx;
  EngineOptions o;
  o.connect_timeout = 2500ms;
  o.tcp_user_timeout = 7000ms;
  o.keepalives_idle = 30s;
  o.keepalives_interval = 5s;
  o.keepalives_count = 4;
  Engine engine(fx.db.conninfo(), o);
  auto c = engine.connect();
  auto in_use = options_in_use(*c);
  CHECK(in_use["connect_timeout"] == "3");  // whole seconds, rounded up
  CHECK(in_use["tcp_user_timeout"] == "7000");
  CHECK(in_use["keepalives_idle"] == "30");
  CHECK(in_use["keepalives_interval"] == "5");
  CHECK(in_use["keepalives_count"] == "4");
  CHECK(c->execute("SELECT 1").value<int>(0, 0) == 1);
}

TEST_CASE("a connect_timeout in the URL wins over EngineOptions", "[engine][network]") {
  test::SessionFixture fx;
  auto url = Url::parse(fx.db.conninfo());
  url.set_param("connect_timeout", "7");
  Engine engine(url, EngineOptions{});
  auto c = engine.connect();
  CHECK(options_in_use(*c)["connect_timeout"] == "7");
}

TEST_CASE("a sync connect to a peer that never answers fails within connect_timeout",
          "[engine][network]") {
  test::SessionFixture fx;
  test::FreezableProxy proxy;
  proxy.freeze();  // accepts the TCP connection, then passes nothing on
  EngineOptions o;
  o.connect_timeout = 2000ms;
  Engine engine(proxy.conninfo(fx.db.conninfo()), o);
  auto start = std::chrono::steady_clock::now();
  bool disconnect = false;
  std::string message;
  try {
    engine.connect();
  } catch (const Disconnect& e) {
    disconnect = true;
    message = e.what();
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(disconnect);
  CHECK(elapsed >= 1500ms);
  CHECK(elapsed < 6s);
  CHECK_THAT(message, Catch::Contains("timeout") || Catch::Contains("timed out"));
}
