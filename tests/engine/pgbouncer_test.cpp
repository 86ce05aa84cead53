// pgorm behind a real PgBouncer 1.18 in transaction mode (and session mode), started on loopback
// by the test command (scripts/pgbouncer.sh exports PGORM_PGBOUNCER_URL and
// PGORM_PGBOUNCER_SESSION_URL). Many clients share few server connections, so a statement of
// one client may land on a server connection another client prepared statements on.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "async/async_support.hpp"
#include "migrate/catalog.hpp"
#include "support/services.hpp"

using namespace pgorm;
using namespace std::chrono_literals;
using asio::awaitable;

namespace pgbtest {
struct PgbItem : pgorm::Model<PgbItem, pgorm::TableName<"pgb_items">> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&PgbItem::name>(pgorm::text));
};
}  // namespace pgbtest
using pgbtest::PgbItem;

namespace {

std::string pooler_url(const char* variable) {
  return test::service_url(variable, "PGORM_REQUIRE_PGBOUNCER", "PgBouncer");
}

// A table in the public schema (the pooler's connections have no test search_path), filled with
// rows whose name encodes their id.
struct Items {
  Connection admin{test::base_conninfo()};
  static constexpr int kRows = 50;
  Items() {
    admin.execute_script(
        "DROP TABLE IF EXISTS pgb_items; "
        "CREATE TABLE pgb_items (id serial PRIMARY KEY, name text NOT NULL); "
        "INSERT INTO pgb_items (name) SELECT 'item-' || g FROM generate_series(1, 50) g");
  }
  ~Items() {
    try {
      admin.execute_script("DROP TABLE IF EXISTS pgb_items");
    } catch (...) {
    }
  }
};

struct Tally {
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};    // a row that is not the one asked for: must never happen
  std::atomic<int> refused{0};  // a loud, typed error
};

// `clients` threads, each with an engine of its own (its own client connections to the pooler),
// each reading `per_client` rows by key through sessions and checking every row it gets.
void read_concurrently(const std::string& url, EngineOptions options, int clients, int per_client,
                       Tally& tally) {
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      Engine engine(url, options);
      for (int i = 0; i < per_client; ++i) {
        int id = 1 + (t * 7 + i) % Items::kRows;
        Session s(engine);
        // Two statement texts per client, so that names and texts differ between clients; each
        // result is either the right row or a typed error.
        try {
          auto item = s.get<PgbItem>(id);
          if (item && item->id == id && item->name == "item-" + std::to_string(id))
            ++tally.right;
          else
            ++tally.wrong;
        } catch (const Error&) {
          ++tally.refused;
        }
        try {
          auto names = s.values(select(col<&PgbItem::name>).where(col<&PgbItem::id> == id));
          if (names.size() == 1 && names[0] == "item-" + std::to_string(id))
            ++tally.right;
          else
            ++tally.wrong;
        } catch (const Error&) {
          ++tally.refused;
        }
        try {
          s.commit();
        } catch (const Error&) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

// One one-row commit through the async engine. (Each step is a coroutine of its own: GCC 12
// reports a false -Wmismatched-new-delete for larger coroutine frames.)
awaitable<void> write_one(AsyncEngine& engine, int i) {
  AsyncSession s(engine);
  PgbItem item;
  item.name = "async-" + std::to_string(i);
  s.add(std::move(item));
  co_await s.commit();
}

awaitable<std::string> session_timezone(AsyncEngine& engine) {
  AsyncSession s(engine);
  auto zone = (co_await s.query<std::string>("SHOW TimeZone")).at(0);
  co_await s.close();
  co_return zone;
}

// 30 one-row commits through the async engine, counting the acknowledged ones; then the session's
// TimeZone.
awaitable<void> write_async(AsyncEngine& engine, int& acknowledged, std::string& timezone) {
  for (int i = 0; i < 30; ++i) {
    co_await write_one(engine, i);
    ++acknowledged;
  }
  timezone = co_await session_timezone(engine);
}

}  // namespace

// One test case: its sections share the table pgb_items in the public schema, so they must not
// run in parallel processes.
TEST_CASE("pgorm behind a real PgBouncer", "[pgbouncer][async]") {
  auto url = pooler_url("PGORM_PGBOUNCER_URL");
  auto session_url = pooler_url("PGORM_PGBOUNCER_SESSION_URL");
  if (url.empty() || session_url.empty()) return;
  Items items;

  SECTION("transaction mode with default options never gives a wrong row") {
    Tally tally;
    read_concurrently(url, EngineOptions{}, 6, 100, tally);
    // Named statements do not survive a transaction pooler: some calls fail, loudly. None returns
    // another client's row or an empty object.
    CHECK(tally.wrong == 0);
    CHECK(tally.right + tally.refused == 2 * 6 * 100);
  }

  SECTION("Pooler::transaction works end to end") {
    EngineOptions options;
    options.pooler = Pooler::transaction;
    options.statement_timeout = 5000ms;
    Tally tally;
    read_concurrently(url, options, 6, 100, tally);
    CHECK(tally.wrong == 0);
    CHECK(tally.refused == 0);
    CHECK(tally.right == 2 * 6 * 100);

    // Writes through the pooler are acknowledged exactly when they are stored.
    Engine engine(url, options);
    {
      Session s(engine);
      CHECK(s.query<std::string>("SHOW statement_timeout").at(0) == "5s");
      for (int i = 0; i < 20; ++i) {
        PgbItem item;
        item.name = "written-" + std::to_string(i);
        s.add(std::move(item));
      }
      s.commit();
    }
    CHECK(items.admin
              .query<std::int64_t>("SELECT count(*) FROM pgb_items WHERE name LIKE 'written-%'")
              .at(0) == 20);
  }

  SECTION("the async engine connects and commits through transaction mode") {
    asio::io_context io;
    AsyncEngineOptions options;
    options.pooler = Pooler::transaction;
    options.statement_timeout = 5000ms;
    AsyncEngine engine(io, url, options);
    int acknowledged = 0;
    std::string timezone;
    test::run(io, write_async(engine, acknowledged, timezone));
    CHECK(acknowledged == 30);
    CHECK(timezone == "UTC");
    CHECK(
        items.admin.query<std::int64_t>("SELECT count(*) FROM pgb_items WHERE name LIKE 'async-%'")
            .at(0) == 30);
  }

  SECTION("Pooler::session: settings SET after connecting, named statements kept") {
    EngineOptions options;
    options.pooler = Pooler::session;
    options.statement_timeout = 5000ms;
    Tally tally;
    read_concurrently(session_url, options, 4, 50, tally);
    CHECK(tally.wrong == 0);
    CHECK(tally.refused == 0);
    CHECK(tally.right == 2 * 4 * 50);
    Engine engine(session_url, options);
    Session s(engine);
    CHECK(s.query<std::string>("SHOW statement_timeout").at(0) == "5s");
    CHECK(s.query<std::string>("SHOW IntervalStyle").at(0) == "iso_8601");
    s.commit();
  }

  SECTION("the migrator runs through session mode and refuses transaction mode") {
    items.admin.execute_script(
        "DROP SCHEMA IF EXISTS pgb_migrate CASCADE; CREATE SCHEMA pgb_migrate");
    test::TempDir dir;
    dir.write("b1_first.sql",
              "-- revision: b1\n-- down_revision: \n-- message: first\n"
              "-- created: 2024-01-01T00:00:00Z\n\n-- +upgrade\nCREATE TABLE pooled (n int);\n"
              "-- +downgrade\nDROP TABLE pooled;\n");
    migrate::MigratorOptions options;
    options.directory = dir.path();
    options.schema = "pgb_migrate";
    options.lock_timeout = 10s;
    options.url = url;
    options.pooler = Pooler::transaction;
    CHECK_THROWS_AS(migrate::Migrator(options).upgrade("head"), ConfigurationError);
    auto table = [&] {
      return items.admin
          .query<std::optional<std::string>>("SELECT to_regclass('pgb_migrate.pooled')::text")
          .at(0);
    };
    CHECK_FALSE(table());
    options.url = session_url;
    options.pooler = Pooler::session;
    migrate::Migrator(options).upgrade("head");
    CHECK(table());
    CHECK(
        items.admin.query<std::string>("SELECT version_num::text FROM pgb_migrate.pgorm_version") ==
        std::vector<std::string>{"b1"});
    items.admin.execute_script("DROP SCHEMA pgb_migrate CASCADE");
  }
}
