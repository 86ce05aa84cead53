// The servers the test command starts beside the test server (PgBouncer, streaming standbys):
// their URLs come from environment variables. Run by hand without them, a test says it checked
// nothing; under the test command, which always starts them, a missing URL is a failure.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <pgorm/pgorm.hpp>

namespace pgorm::test {

// The URL in `variable`, or "" (with a warning) when it is not set and `required_flag` is not "1".
inline std::string service_url(const char* variable, const char* required_flag,
                               std::string_view what) {
  const char* url = std::getenv(variable);
  if (url && *url) return url;
  const char* required = std::getenv(required_flag);
  if (required && std::string_view(required) == "1")
    FAIL(variable << " is not set although the test command started " << what);
  WARN(variable << " is not set: " << what << " is not running, so this test checks nothing here "
                << "(scripts/test.sh starts it and runs these tests)");
  return {};
}

// Waits (at most 10 s) until `standby` has replayed everything `primary` has flushed.
inline void wait_for_replay(Connection& primary, Connection& standby) {
  auto lsn = primary.query<std::string>("SELECT pg_current_wal_flush_lsn()::text").at(0);
  for (int i = 0; i < 1000; ++i) {
    if (standby.query<bool>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).at(0)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("the standby did not replay " << lsn << " within 10 s");
}

}  // namespace pgorm::test
