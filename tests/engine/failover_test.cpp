// A primary and a streaming standby of their own (scripts/replicas.sh start_failover_pair): a
// query the standby must cancel to go on replaying, then the primary stopped and the standby
// promoted under an engine whose URL lists both hosts with target_session_attrs=read-write.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <pgorm/pgorm.hpp>

#include "support/services.hpp"

using namespace pgorm;
using namespace std::chrono_literals;

namespace failovertest {
struct Event : pgorm::Model<Event, pgorm::TableName<"failover_events">> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Event::name>(pgorm::text));
};
}  // namespace failovertest
using failovertest::Event;

namespace {

std::string pair_setting(const char* variable) {
  return test::service_url(variable, "PGORM_REQUIRE_REPLICAS", "a primary/standby pair");
}

// Runs one of the pair's control commands (pg_ctl stop / promote) from the test command.
void control(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

}  // namespace

// One test case: it ends with the pair failed over (the test command makes a new pair for each
// run of the suite).
TEST_CASE("a standby cancels a query in the way of replay; failover to it needs no restart",
          "[failover]") {
  auto primary_url = pair_setting("PGORM_FAILOVER_PRIMARY_URL");
  auto standby_url = pair_setting("PGORM_FAILOVER_STANDBY_URL");
  auto both_url = pair_setting("PGORM_FAILOVER_URL");
  auto stop_primary = pair_setting("PGORM_FAILOVER_STOP_PRIMARY");
  auto promote = pair_setting("PGORM_FAILOVER_PROMOTE");
  if (primary_url.empty() || standby_url.empty() || both_url.empty() || stop_primary.empty() ||
      promote.empty())
    return;

  Connection primary(primary_url);
  Connection standby(standby_url);
  primary.execute_script(
      "DROP TABLE IF EXISTS failover_events; "
      "CREATE TABLE failover_events (id serial PRIMARY KEY, name text NOT NULL); "
      "INSERT INTO failover_events (name) VALUES ('first')");
  test::wait_for_replay(primary, standby);

  // ---- a recovery conflict: the pair's standby runs with max_standby_streaming_delay = 0 ----
  {
    bool conflict = false;
    std::string sqlstate;
    auto t0 = std::chrono::steady_clock::now();
    std::jthread reader([&] {
      Session s{Engine(standby_url)};
      try {
        s.query<std::string>("SELECT name FROM failover_events, pg_sleep(20)");
      } catch (const RecoveryConflict& e) {
        conflict = true;
        sqlstate = e.sqlstate();
      } catch (const Error&) {
      }
    });
    // Once the query holds its lock on the standby, the primary takes an ACCESS EXCLUSIVE lock
    // on the table, which the standby must replay.
    bool running = false;
    for (int i = 0; i < 1000 && !running; ++i) {
      running = standby
                    .query<std::int64_t>(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query "
                        "LIKE 'SELECT name FROM failover_events, pg_sleep%'")
                    .at(0) == 1;
      if (!running) std::this_thread::sleep_for(10ms);
    }
    CHECK(running);
    primary.execute_script("BEGIN; LOCK TABLE failover_events IN ACCESS EXCLUSIVE MODE; COMMIT");
    reader.join();
    CHECK(conflict);
    CHECK(sqlstate == "40001");
    CHECK(std::chrono::steady_clock::now() - t0 < 15s);
  }

  // ---- failover ----
  EngineOptions options;
  options.connect_timeout = 2s;
  Engine engine(both_url, options);
  {
    Session s(engine);
    Event e;
    e.name = "before";
    s.add(std::move(e));
    s.commit();
  }
  test::wait_for_replay(primary, standby);

  auto stopped = std::chrono::steady_clock::now();
  control(stop_primary);
  control(promote);
  // Requests go on as an application's would: each a new session; failures must be typed.
  int failed = 0;
  bool written = false;
  std::chrono::steady_clock::duration outage{};
  for (int attempt = 0; attempt < 300 && !written; ++attempt) {
    try {
      Session s(engine);
      Event e;
      e.name = "after";
      s.add(std::move(e));
      s.commit();
      written = true;
      outage = std::chrono::steady_clock::now() - stopped;
    } catch (const OperationalError&) {
      ++failed;
      std::this_thread::sleep_for(50ms);
    }
  }
  REQUIRE(written);
  CHECK(outage < 10s);
  CHECK(failed >= 1);  // the request in flight when the primary went away saw it, typed
  INFO("outage " << std::chrono::duration_cast<std::chrono::milliseconds>(outage).count() << " ms, "
                 << failed << " failed requests");
  // The promoted standby is the primary now, with what was committed before and after.
  Connection promoted(standby_url);
  CHECK_FALSE(promoted.query<bool>("SELECT pg_is_in_recovery()").at(0));
  CHECK(promoted.query<std::string>("SELECT name FROM failover_events ORDER BY id") ==
        std::vector<std::string>{"first", "before", "after"});
}
