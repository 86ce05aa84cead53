// The servers the test command starts beside the test server (PgBouncer, streaming standbys):
// their URLs come from environment variables. Run by hand without them, a test says it checked
// nothing; under the test command, which always starts them, a missing URL is a failure.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

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

}  // namespace pgorm::test
