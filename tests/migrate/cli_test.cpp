// The example's todo-migrate binary, run as a user would: the shipped versions directory applied,
// checked and reverted through the command line, and two processes upgrading at once.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include <fmt/format.h>

#include <pgorm/migrate/migrate.hpp>

#include "migrate/catalog.hpp"

using Strings = std::vector<std::string>;

#ifdef PGORM_TODO_MIGRATE

namespace {

struct Run {
  int status = -1;
  std::string out;
};

// Runs `todo-migrate --schema <schema> --dir <dir> ARGS` through the shell, output captured.
Run run_tool(const std::string& schema, const std::filesystem::path& dir, const std::string& args) {
  // fmt::format rather than a chain of operator+, which GCC 12 at -O2 flags with a false
  // -Warray-bounds.
  std::string command = fmt::format("'{}' --schema {} --dir '{}' {} 2>&1", PGORM_TODO_MIGRATE,
                                    schema, dir.string(), args);
  Run r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.out.append(buffer, n);
  int raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

}  // namespace

TEST_CASE("the example's todo-migrate applies, checks and reverts the shipped migrations",
          "[migrate]") {
  pgorm::test::TestSchema db;
  pgorm::test::TempDir dir;
  for (const auto& entry : std::filesystem::directory_iterator(PGORM_TODO_MIGRATIONS))
    std::filesystem::copy_file(entry.path(), dir.path() / entry.path().filename());
  auto heads = run_tool(db.name(), dir.path(), "heads");
  REQUIRE(heads.status == 0);
  std::string head = heads.out.substr(0, heads.out.find(' '));

  auto behind = run_tool(db.name(), dir.path(), "check");
  CHECK(behind.status == 1);
  CHECK(behind.out.find("the database is at base") != std::string::npos);

  // Through a transaction pooler: refused before connecting (exit 1), and a bad mode is a usage
  // error (exit 2).
  auto pooled = run_tool(db.name(), dir.path(), "--pooler transaction upgrade head");
  CHECK(pooled.status == 1);
  CHECK(pooled.out.find("cannot run through a transaction pooler") != std::string::npos);
  CHECK(run_tool(db.name(), dir.path(), "--pooler sometimes upgrade head").status == 2);
  CHECK(pgorm::test::catalog_tables(db).empty());

  auto sql = run_tool(db.name(), dir.path(), "upgrade head --sql");
  CHECK(sql.status == 0);
  CHECK(sql.out.find("CREATE TABLE \"todos\"") != std::string::npos);
  CHECK(pgorm::test::catalog_tables(db).empty());  // --sql ran nothing

  // Two processes at once: each migration is applied once, both succeed.
  auto both = run_tool(db.name(), dir.path(),
                       "upgrade head & first=$!; '" + std::string(PGORM_TODO_MIGRATE) +
                           "' --schema " + db.name() + " --dir '" + dir.path().string() +
                           "' upgrade head; second=$?; wait $first; exit $(( $? + second ))");
  INFO(both.out);
  CHECK(both.status == 0);
  CHECK(pgorm::test::catalog_versions(db) == Strings{head});
  CHECK(pgorm::test::catalog_tables(db) == Strings{"pgorm_version", "todos", "users"});

  auto check = run_tool(db.name(), dir.path(), "check");
  CHECK(check.status == 0);
  CHECK(check.out == "No new upgrade operations detected.\n");
  CHECK(run_tool(db.name(), dir.path(), "current").out == head + " (head)\n");
  CHECK(run_tool(db.name(), dir.path(), "history").out.find("<base> -> " + head + " (head)") == 0);

  auto down = run_tool(db.name(), dir.path(), "downgrade base");
  CHECK(down.status == 0);
  CHECK(pgorm::test::catalog_tables(db) == Strings{"pgorm_version"});

  auto usage = run_tool(db.name(), dir.path(), "upgrade --bogus");
  CHECK(usage.status == 2);
  auto missing = run_tool(db.name(), dir.path() / "nope", "upgrade head");
  CHECK(missing.status == 1);
  CHECK(missing.out.find("does not exist") != std::string::npos);
}

#endif
