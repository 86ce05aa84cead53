// Where production runs: the same short unit of work directly, through PgBouncer (session and
// transaction mode) and with reads on a streaming replica, each against raw libpq on the same
// route in the same run; then the cost of read-your-writes. Prints a markdown table.
//   bash scripts/bench.sh --deployment   (starts PgBouncer and a standby, then runs this)
// Environment: PG* (or DATABASE_URL) for the primary, PGORM_PGBOUNCER_URL,
// PGORM_PGBOUNCER_SESSION_URL, PGORM_REPLICA_URL.
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <pgorm/pgorm.hpp>

using Clock = std::chrono::steady_clock;

namespace deploy {
struct Account : pgorm::Model<Account, pgorm::TableName<"bench_deploy_accounts">> {
  std::string name;
  std::int64_t balance = 0;
  static constexpr auto columns = pgorm::columns(pgorm::column<&Account::name>(pgorm::text),
                                                 pgorm::column<&Account::balance>());
};
}  // namespace deploy
using deploy::Account;

namespace {

constexpr int kRows = 10000;
constexpr int kLookups = 10;  // per unit of work
const char* kLookupSql =
    "SELECT \"id\", \"name\", \"balance\" FROM \"bench_deploy_accounts\" WHERE \"id\" = $1";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::runtime_error(fmt::format("{} is not set", name));
  return v;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The floor on a route: one connection (opened once, like a pool's), kLookups lookups per unit
// and nothing else (autocommit reads need no BEGIN/COMMIT), named or unnamed statements.
class Raw {
 public:
  Raw(const std::string& conninfo, bool named)
      : conn_(PQconnectdb(conninfo.c_str())), named_(named) {
    if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_));
    if (named_) PQclear(PQprepare(conn_, "lookup", kLookupSql, 1, nullptr));
  }
  ~Raw() { PQfinish(conn_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  double units(int units) {
    auto start = Clock::now();
    for (int u = 0; u < units; ++u) {
      for (int i = 0; i < kLookups; ++i) {
        std::string id = std::to_string((u * 7919 + i * 104729) % kRows + 1);
        const char* values[] = {id.c_str()};
        PGresult* r =
            named_ ? PQexecPrepared(conn_, "lookup", 1, values, nullptr, nullptr, 0)
                   : PQexecParams(conn_, kLookupSql, 1, nullptr, values, nullptr, nullptr, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
          throw std::runtime_error("raw lookup failed");
        PQclear(r);
      }
    }
    return units / seconds_since(start);
  }

 private:
  PGconn* conn_;
  bool named_;
};

// pgorm: a new session per unit, kLookups get<Account>(id), commit().
double pgorm_units(const std::function<pgorm::Session()>& make, int units) {
  auto start = Clock::now();
  for (int u = 0; u < units; ++u) {
    auto s = make();
    for (int i = 0; i < kLookups; ++i) {
      auto a = s.get<Account>(static_cast<std::int32_t>((u * 7919 + i * 104729) % kRows + 1));
      if (!a) throw std::runtime_error("lookup found nothing");
    }
    s.commit();
  }
  return units / seconds_since(start);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) try {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  const int units = 300;
  std::string direct = pgorm::Url::from_env().conninfo();
  std::string tx_pool = env("PGORM_PGBOUNCER_URL");
  std::string session_pool = env("PGORM_PGBOUNCER_SESSION_URL");
  std::string replica = env("PGORM_REPLICA_URL");
  {
    pgorm::Connection admin(direct);
    admin.execute_script(
        "DROP TABLE IF EXISTS bench_deploy_accounts; "
        "CREATE TABLE bench_deploy_accounts (id serial PRIMARY KEY, name text NOT NULL, "
        "balance bigint NOT NULL)");
    admin.exec(
        "INSERT INTO bench_deploy_accounts (name, balance) "
        "SELECT 'account-' || g, g FROM generate_series(1, $1) g",
        kRows);
    admin.execute("ANALYZE bench_deploy_accounts");
    // Wait for the standby to have the table (bounded).
    auto lsn = admin.query<std::string>("SELECT pg_current_wal_flush_lsn()::text").at(0);
    pgorm::Connection standby(replica);
    for (int i = 0; i < 1000; ++i) {
      if (standby.query<bool>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).at(0)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  pgorm::EngineOptions none;
  pgorm::EngineOptions unnamed;
  unnamed.prepared_statements = false;
  pgorm::EngineOptions session_mode;
  session_mode.pooler = pgorm::Pooler::session;
  pgorm::EngineOptions tx_mode;
  tx_mode.pooler = pgorm::Pooler::transaction;
  pgorm::Engine e_direct(direct, none);
  pgorm::Engine e_unnamed(direct, unnamed);
  pgorm::Engine e_session(session_pool, session_mode);
  pgorm::Engine e_tx(tx_pool, tx_mode);
  pgorm::Cluster cluster(e_direct, {pgorm::Engine(replica, none)});

  Raw raw_direct(direct, true);
  Raw raw_direct_unnamed(direct, false);
  Raw raw_session(session_pool, true);
  Raw raw_tx(tx_pool, false);
  Raw raw_replica(replica, true);
  struct Row {
    std::string route;
    std::string contender;
    std::function<double()> run;
  };
  std::vector<Row> rows{
      {"direct", "libpq, named statements", [&] { return raw_direct.units(units); }},
      {"direct", "**pgorm**",
       [&] { return pgorm_units([&] { return pgorm::Session(e_direct); }, units); }},
      {"direct", "libpq, unnamed statements", [&] { return raw_direct_unnamed.units(units); }},
      {"direct", "**pgorm**, prepared_statements = false",
       [&] { return pgorm_units([&] { return pgorm::Session(e_unnamed); }, units); }},
      {"PgBouncer session mode", "libpq, named statements",
       [&] { return raw_session.units(units); }},
      {"PgBouncer session mode", "**pgorm** (Pooler::session)",
       [&] { return pgorm_units([&] { return pgorm::Session(e_session); }, units); }},
      {"PgBouncer transaction mode", "libpq, unnamed statements",
       [&] { return raw_tx.units(units); }},
      {"PgBouncer transaction mode", "**pgorm** (Pooler::transaction)",
       [&] { return pgorm_units([&] { return pgorm::Session(e_tx); }, units); }},
      {"streaming replica", "libpq on the replica, named statements",
       [&] { return raw_replica.units(units); }},
      {"streaming replica", "**pgorm** Cluster (reads on the replica)",
       [&] { return pgorm_units([&] { return pgorm::Session(cluster); }, units); }},
  };
  std::map<std::size_t, std::vector<double>> rates;
  // Round -1 warms up; odd rounds run the rows in reverse, so that no contender always follows
  // the same one.
  for (int r = -1; r < rounds; ++r)
    for (std::size_t k = 0; k < rows.size(); ++k) {
      std::size_t i = r % 2 ? rows.size() - 1 - k : k;
      double rate = rows[i].run();
      if (r >= 0) rates[i].push_back(rate);
    }
  fmt::print(
      "Units of work of {} lookups by primary key each (pgorm: a new session, {} x get, "
      "commit), {} per round, median of {} rounds:\n\n",
      kLookups, kLookups, units, rounds);
  fmt::print("| route | contender | units/s | ratio to libpq on the same route |\n");
  fmt::print("|---|---|---:|---:|\n");
  double direct_named = median(rates[0]);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double m = median(rates[i]);
    double floor = (i % 2 == 1) ? median(rates[i - 1]) : m;
    std::string ratio = i % 2 == 1 ? fmt::format("{:.2f}x", floor / m) : "1.00x";
    if (i % 2 == 0 && i != 0) ratio = fmt::format("(direct: {:.2f}x)", direct_named / m);
    fmt::print("| {} | {} | {:.0f} | {} |\n", rows[i].route, rows[i].contender, m, ratio);
  }

  // Read-your-writes: commit on the primary, then a new session given the position reads the row.
  std::vector<double> after_commit;
  std::vector<double> plain;
  auto before = cluster.stats();
  for (int i = 0; i < 1000; ++i) {
    pgorm::Session writer(cluster);
    Account a;
    a.name = "ryw-" + std::to_string(i);
    auto added = writer.add(std::move(a));
    writer.commit();
    pgorm::Session reader(cluster);
    reader.read_after(writer.read_position());
    auto t0 = Clock::now();
    auto names = reader.values(
        pgorm::select(pgorm::col<&Account::name>).where(pgorm::col<&Account::id> == added->id));
    after_commit.push_back(seconds_since(t0) * 1e6);
    if (names.size() != 1) throw std::runtime_error("read-your-writes missed the row");
    pgorm::Session other(cluster);
    t0 = Clock::now();
    other.values(pgorm::select(pgorm::col<&Account::name>)
                     .where(pgorm::col<&Account::id> == static_cast<std::int32_t>(i % kRows + 1)));
    plain.push_back(seconds_since(t0) * 1e6);
  }
  auto after = cluster.stats();
  fmt::print(
      "\nRead-your-writes, 1,000 commits each followed by a read of the row in a new session "
      "given the position: the read took p50 {:.0f} µs / p99 {:.0f} µs (a read without a "
      "position: p50 {:.0f} µs / p99 {:.0f} µs); {} reads waited for replay, {} waits ran out "
      "(read on the primary), {} reads ran on the replica.\n",
      percentile(after_commit, 0.5), percentile(after_commit, 0.99), percentile(plain, 0.5),
      percentile(plain, 0.99), after.waits - before.waits,
      after.wait_timeouts - before.wait_timeouts, after.replica_reads - before.replica_reads);
  pgorm::Connection(direct).execute("DROP TABLE bench_deploy_accounts");
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "deployment_bench: {}\n", e.what());
  return 1;
}
