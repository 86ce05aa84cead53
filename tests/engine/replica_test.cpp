// Sessions of a Cluster against a real streaming hot standby of the test server, started on
// loopback by the test command (scripts/replicas.sh exports PGORM_REPLICA_URL). Where a read ran
// is told by what it saw: with the standby's replay paused, a row written on the primary since
// is there only on the primary.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "support/db.hpp"
#include "support/services.hpp"

using namespace pgorm;
using namespace std::chrono_literals;

namespace replicatest {
struct ReplicaItem : pgorm::Model<ReplicaItem, pgorm::TableName<"replica_items">> {
  std::string name;
  static constexpr auto columns = pgorm::columns(pgorm::column<&ReplicaItem::name>(pgorm::text));
};
}  // namespace replicatest
using replicatest::ReplicaItem;

namespace {

std::string replica_url() {
  return test::service_url("PGORM_REPLICA_URL", "PGORM_REQUIRE_REPLICAS", "a streaming standby");
}

// The standby replays nothing while this lives.
struct ReplayPaused {
  Connection& standby;
  explicit ReplayPaused(Connection& s) : standby(s) {
    standby.execute("SELECT pg_wal_replay_pause()");
  }
  ~ReplayPaused() {
    try {
      standby.execute("SELECT pg_wal_replay_resume()");
    } catch (...) {
    }
  }
};

// replica_items in the public schema (the standby's connections have no test search_path), with
// `rows` rows, replayed on the standby.
struct Items {
  Connection admin{test::base_conninfo()};
  Connection standby;
  explicit Items(const std::string& url, int rows) : standby(url) {
    admin.execute_script(
        "DROP TABLE IF EXISTS replica_items; "
        "CREATE TABLE replica_items (id serial PRIMARY KEY, name text NOT NULL)");
    admin.exec("INSERT INTO replica_items (name) SELECT 'item-' || g FROM generate_series(1, $1) g",
               rows);
    test::wait_for_replay(admin, standby);
  }
  ~Items() {
    try {
      admin.execute_script("DROP TABLE IF EXISTS replica_items");
    } catch (...) {
    }
  }
  std::int64_t on_primary() {
    return admin.query<std::int64_t>("SELECT count(*) FROM replica_items").at(0);
  }
};

ClusterOptions patient() {
  ClusterOptions o;
  o.max_lag = std::chrono::hours(1);  // a paused standby is not skipped for lag
  return o;
}

}  // namespace

TEST_CASE("ReadPosition reads and writes the pg_lsn form", "[replica][unit]") {
  CHECK(ReadPosition::parse("16/B374D848").lsn() == ((0x16ull << 32) | 0xB374D848ull));
  CHECK(ReadPosition::parse("0/0").empty());
  CHECK(ReadPosition(0x1600000001ull).to_string() == "16/1");
  CHECK(ReadPosition::parse("16/B374D848") > ReadPosition::parse("16/B374D847"));
  CHECK(ReadPosition::parse("17/0") > ReadPosition::parse("16/FFFFFFFF"));
  for (const char* bad : {"", "16", "/1", "1/", "x/1", "1/2/3", "1/-2", "100000000/0"})
    CHECK_THROWS_AS(ReadPosition::parse(bad), InterfaceError);
}

// One test case: its sections share replica_items and pause the one standby, so they must not
// run in parallel processes.
TEST_CASE("sessions of a Cluster read from a real streaming standby", "[replica]") {
  auto url = replica_url();
  if (url.empty()) return;
  Items items(url, 10);
  Engine primary(test::base_conninfo());

  SECTION("plain reads run on the standby; locking reads, writes and forced reads on the primary") {
    Cluster cluster(primary, {Engine(url)}, patient());
    Session s(cluster);
    ReplayPaused paused(items.standby);
    items.admin.execute("INSERT INTO replica_items (name) VALUES ('primary only')");
    REQUIRE(items.on_primary() == 11);

    CHECK(s.count(select<ReplicaItem>()) == 10);  // the standby has not replayed the insert
    auto one = s.get<ReplicaItem>(3);
    REQUIRE(one);
    CHECK(one->name == "item-3");
    CHECK(cluster.stats().replica_reads == 2);
    CHECK(cluster.stats().primary_reads == 0);
    CHECK_FALSE(s.in_transaction());

    // FOR UPDATE is a write's read: the primary, in a transaction.
    CHECK(s.execute(select<ReplicaItem>().for_update()).size() == 11);
    CHECK(s.in_transaction());
    // Inside the transaction every read goes to the primary.
    CHECK(s.count(select<ReplicaItem>()) == 11);
    s.rollback();

    s.read_from_primary();
    CHECK(s.count(select<ReplicaItem>()) == 11);
    s.read_from_primary(false);
    CHECK(s.count(select<ReplicaItem>()) == 10);
    CHECK(cluster.stats().replica_reads == 3);
    CHECK(cluster.stats().primary_reads == 0);  // forced reads are not counted as fallbacks
  }

  SECTION("after its commit a session reads its writes: from the primary when the standby lags") {
    ClusterOptions o = patient();
    o.read_your_writes_wait = 100ms;
    Cluster cluster(primary, {Engine(url)}, o);
    Session s(cluster);
    CHECK(s.read_position().empty());
    std::int64_t before = 0;
    {
      ReplayPaused paused(items.standby);
      ReplicaItem item;
      item.name = "mine";
      s.add(std::move(item));
      s.commit();
      REQUIRE_FALSE(s.read_position().empty());
      REQUIRE(items.on_primary() == 11);
      auto t0 = std::chrono::steady_clock::now();
      CHECK(s.count(select<ReplicaItem>()) == 11);  // not the standby's 10
      CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
      CHECK(cluster.stats().wait_timeouts == 1);
      CHECK(cluster.stats().primary_reads == 1);
      // The choice holds until the session's connections go back: no second wait.
      CHECK(s.count(select<ReplicaItem>()) == 11);
      CHECK(cluster.stats().wait_timeouts == 1);
      before = static_cast<std::int64_t>(cluster.stats().replica_reads);
    }
    // Replay resumed: a new session handed the position reads the row on the standby.
    Session next(cluster);
    next.read_after(s.read_position());
    CHECK(next.count(select<ReplicaItem>().where(col<&ReplicaItem::name> == "mine")) == 1);
    CHECK(static_cast<std::int64_t>(cluster.stats().replica_reads) == before + 1);
  }

  SECTION("300 reads right after 300 commits all see the committed row") {
    Cluster cluster(primary, {Engine(url)});
    int seen = 0;
    for (int i = 0; i < 300; ++i) {
      Session writer(cluster);
      ReplicaItem item;
      item.name = "w-" + std::to_string(i);
      auto added = writer.add(std::move(item));
      writer.commit();
      // The next request, with the position as its token.
      Session reader(cluster);
      reader.read_after(ReadPosition::parse(writer.read_position().to_string()));
      auto names =
          reader.values(select(col<&ReplicaItem::name>).where(col<&ReplicaItem::id> == added->id));
      if (names.size() == 1 && names[0] == "w-" + std::to_string(i)) ++seen;
    }
    CHECK(seen == 300);
    auto stats = cluster.stats();
    INFO("replica reads " << stats.replica_reads << " (after a wait: " << stats.waits
                          << "), primary reads " << stats.primary_reads);
    CHECK(stats.replica_reads + stats.primary_reads == 300);
    CHECK(stats.replica_reads > 0);
    CHECK(stats.primary_reads == stats.wait_timeouts + stats.lag_skips);
  }

  SECTION("a standby lagging more than max_lag gets no reads") {
    ClusterOptions o;
    o.max_lag = 100ms;
    Cluster cluster(primary, {Engine(url)}, o);
    ReplayPaused paused(items.standby);
    items.admin.execute("INSERT INTO replica_items (name) VALUES ('while paused')");
    std::this_thread::sleep_for(300ms);  // the standby has received it and not replayed it
    Session s(cluster);
    CHECK(s.count(select<ReplicaItem>()) == 11);
    CHECK(cluster.stats().lag_skips == 1);
    CHECK(cluster.stats().primary_reads == 1);
    CHECK(cluster.stats().replica_reads == 0);
  }

  SECTION("a write sent to the standby is ReadOnlyTransaction (25006) and writes nothing") {
    Session s{Engine(url)};
    ReplicaItem item;
    item.name = "refused";
    s.add(std::move(item));
    try {
      s.commit();
      FAIL("expected ReadOnlyTransaction");
    } catch (const ReadOnlyTransaction& e) {
      CHECK(e.sqlstate() == "25006");
      CHECK(std::string(e.what()).find("25006") != std::string::npos);
    }
    CHECK(items.on_primary() == 10);
  }

  SECTION("a standby that is down: reads go to the primary, and it is not tried again at once") {
    EngineOptions down;
    down.connect_timeout = 2s;
    // A loopback port nothing listens on: the connection is refused at once.
    Cluster cluster(primary, {Engine("postgresql://127.0.0.1:1/none", down)});
    Session s(cluster);
    CHECK(s.count(select<ReplicaItem>()) == 10);
    s.commit();
    CHECK(s.count(select<ReplicaItem>()) == 10);
    CHECK(cluster.stats().replica_failures == 1);
    CHECK(cluster.stats().primary_reads == 2);
  }
}
