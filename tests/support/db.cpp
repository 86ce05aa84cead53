#include "support/db.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include <fmt/format.h>

namespace pgorm::test {
namespace {

std::string make_schema_name() {
  static std::atomic<int> counter{0};
  return fmt::format("pgorm_test_{}_{}", ::getpid(), counter++);
}

// Adds options=-csearch_path=<schema> to a URL or keyword conninfo.
std::string with_search_path(const std::string& base, const std::string& schema) {
  if (base.rfind("postgres://", 0) == 0 || base.rfind("postgresql://", 0) == 0) {
    char sep = base.find('?') == std::string::npos ? '?' : '&';
    return fmt::format("{}{}options=-csearch_path%3D{}", base, sep, schema);
  }
  return fmt::format("{} options='-csearch_path={}'", base, schema);
}

Connection open_admin() { return Connection(base_conninfo()); }

}  // namespace

std::string base_conninfo() {
  const char* url = std::getenv("DATABASE_URL");
  return url ? std::string(url) : std::string();
}

TestSchema::TestSchema()
    : name_(make_schema_name()),
      conninfo_(with_search_path(base_conninfo(), name_)),
      conn_([this] {
        Connection admin = open_admin();
        admin.execute_script(fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
                                         sql::quote_identifier(name_)));
        return Connection(conninfo_);
      }()) {}

TestSchema::~TestSchema() {
  try {
    Connection admin = open_admin();
    admin.execute_script(
        fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", sql::quote_identifier(name_)));
  } catch (...) {
    // The cluster is thrown away after the run; a leftover schema harms nothing.
  }
}

}  // namespace pgorm::test
