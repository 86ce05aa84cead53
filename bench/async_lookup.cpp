// Lookups by primary key: pgorm's async layer pipelining many lookups on one connection against
// raw libpq doing them one round trip at a time (PQexecPrepared), in the same run. Prints the
// rates and their ratios (the target: at least 4x the sequential raw libpq rate).
//   DATABASE_URL=... build/bench/async_lookup [lookups] [in_flight]
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <pgorm/async.hpp>

#include "models.hpp"  // examples/todo: the seed's User

using Clock = std::chrono::steady_clock;
using todo::User;

namespace {

constexpr int kRows = 10000;
const char* kLookupSql =
    "SELECT \"id\", \"email\", \"created_at\", \"updated_at\" FROM \"users\" WHERE \"id\" = $1";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One query per round trip, the way a plain synchronous program does it: the baseline.
double raw_libpq_sequential(const std::string& conninfo, int lookups) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  PQclear(PQprepare(conn, "lookup", kLookupSql, 1, nullptr));
  std::size_t bytes = 0;
  auto start = Clock::now();
  for (int i = 0; i < lookups; ++i) {
    std::string id = std::to_string(i % kRows + 1);
    const char* values[] = {id.c_str()};
    PGresult* r = PQexecPrepared(conn, "lookup", 1, values, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
      throw std::runtime_error("raw lookup failed");
    bytes += static_cast<std::size_t>(PQgetlength(r, 0, 1));
    PQclear(r);
  }
  double elapsed = seconds_since(start);
  PQfinish(conn);
  if (bytes == 0) throw std::runtime_error("no data");
  return lookups / elapsed;
}

// The ceiling: raw libpq in pipeline mode, `depth` lookups per Sync, blocking I/O.
double raw_libpq_pipelined(const std::string& conninfo, int lookups, int depth) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  PQclear(PQprepare(conn, "lookup", kLookupSql, 1, nullptr));
  PQenterPipelineMode(conn);
  auto start = Clock::now();
  for (int done = 0; done < lookups; done += depth) {
    for (int k = 0; k < depth; ++k) {
      std::string id = std::to_string((done + k) % kRows + 1);
      const char* values[] = {id.c_str()};
      PQsendQueryPrepared(conn, "lookup", 1, values, nullptr, nullptr, 0);
    }
    PQpipelineSync(conn);
    for (int k = 0; k < depth; ++k) {
      PGresult* r = PQgetResult(conn);
      if (PQresultStatus(r) != PGRES_TUPLES_OK) throw std::runtime_error("pipelined lookup failed");
      PQclear(r);
      PQclear(PQgetResult(conn));  // the NULL after each query
    }
    PQclear(PQgetResult(conn));  // PGRES_PIPELINE_SYNC
  }
  double elapsed = seconds_since(start);
  PQfinish(conn);
  return lookups / elapsed;
}

// `in_flight` coroutines on one io_context thread share one connection; the async connection
// writes their statements together and reads the results back in order.
template <class Lookup>
double pipelined(asio::io_context& io, int lookups, int in_flight, Lookup lookup) {
  int next = 0;
  int done = 0;
  auto worker = [&]() -> asio::awaitable<void> {
    while (next < lookups) {
      int id = next++ % kRows + 1;
      co_await lookup(id);
      ++done;
    }
  };
  auto start = Clock::now();
  for (int w = 0; w < in_flight; ++w) asio::co_spawn(io, worker(), asio::detached);
  io.restart();
  io.run();
  if (done != lookups) throw std::runtime_error("lookups missing");
  return lookups / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) try {
  int lookups = argc > 1 ? std::atoi(argv[1]) : 20000;
  int in_flight = argc > 2 ? std::atoi(argv[2]) : 100;

  pgorm::Url url = pgorm::Url::from_env();
  std::string options = url.param("options").value_or("");
  url.set_param("options",
                options + (options.empty() ? "" : " ") + "-csearch_path=pgorm_async_lookup");
  {
    pgorm::Connection admin = pgorm::Connection::from_env();
    admin.execute_script(
        "DROP SCHEMA IF EXISTS pgorm_async_lookup CASCADE; "
        "CREATE SCHEMA pgorm_async_lookup");
    pgorm::Connection conn(url.conninfo());
    pgorm::Metadata::of<User>().create_all(conn);
    conn.exec(
        "INSERT INTO users (email) SELECT 'user' || g || '@example.com' "
        "FROM generate_series(1, $1) g",
        kRows);
  }

  double raw = raw_libpq_sequential(url.conninfo(), lookups);
  double ceiling = raw_libpq_pipelined(url.conninfo(), lookups, in_flight);

  asio::io_context io;
  pgorm::AsyncEngineOptions engine_options;
  engine_options.pool_size = 1;
  engine_options.max_overflow = 0;
  pgorm::AsyncEngine engine(io, url.conninfo(), engine_options);

  // 1. The async connection: one coroutine per lookup, statements pipelined (reads sharing their
  //    Sync), rows read into User objects.
  pgorm::AsyncPooledConnection lease;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { lease = co_await engine.connect(); }, asio::detached);
  io.run();
  std::size_t checked = 0;
  double connection_rate = pipelined(io, lookups, in_flight, [&](int id) -> asio::awaitable<void> {
    pgorm::Params params;
    params.add(id);
    std::vector<pgorm::PipelineStatement> one;
    one.push_back({kLookupSql, std::move(params), true});
    auto outcomes =
        co_await lease->pipeline(std::move(one), std::nullopt, pgorm::Segments::shared_reads);
    checked += outcomes.front().get().as<User>().size();
  });
  std::uint64_t trips = lease->round_trips();

  // 2. The same lookups handed over `in_flight` at a time in one call (one segment), without a
  //    coroutine per lookup.
  int batches = 0;
  double batch_rate = pipelined(io, lookups / in_flight, 1,
                                [&](int first) -> asio::awaitable<void> {
                                  std::vector<pgorm::PipelineStatement> many;
                                  many.reserve(static_cast<std::size_t>(in_flight));
                                  for (int k = 0; k < in_flight; ++k) {
                                    pgorm::Params params;
                                    params.add((first * in_flight + k) % kRows + 1);
                                    many.push_back({kLookupSql, std::move(params), true});
                                  }
                                  auto outcomes = co_await lease->pipeline(
                                      std::move(many), std::nullopt, pgorm::Segments::one);
                                  for (auto& o : outcomes) checked += o.get().as<User>().size();
                                  ++batches;
                                }) *
                      in_flight;
  lease.release();

  // 3. The ORM: AsyncSession::get<User>(id) from many coroutines sharing one session (the
  //    identity map is cleared between lookups of the same id, so every get reaches the server).
  pgorm::AsyncSession session(engine);
  double session_rate = pipelined(io, lookups, in_flight, [&](int id) -> asio::awaitable<void> {
    if (id == 1) session.expire_all();
    auto user = co_await session.get<User>(id);
    if (user) ++checked;
  });
  asio::co_spawn(io, session.close(), asio::detached);
  io.restart();
  io.run();

  if (checked != static_cast<std::size_t>(2 * lookups + batches * in_flight))
    throw std::runtime_error("rows missing");
  fmt::print("lookups by primary key, {} lookups, {} in flight, one connection\n", lookups,
             in_flight);
  fmt::print("  raw libpq, sequential PQexecPrepared : {:>9.0f} /s\n", raw);
  fmt::print("  raw libpq pipeline, {} per Sync (ceiling): {:>9.0f} /s  ({:.1f}x)\n", in_flight,
             ceiling, ceiling / raw);
  fmt::print("  AsyncConnection pipeline -> User      : {:>9.0f} /s  ({:.1f}x, {} writes)\n",
             connection_rate, connection_rate / raw, trips);
  fmt::print("  AsyncConnection, {} per call -> User   : {:>9.0f} /s  ({:.1f}x)\n", in_flight,
             batch_rate, batch_rate / raw);
  fmt::print("  AsyncSession::get<User>, pipelined    : {:>9.0f} /s  ({:.1f}x)\n", session_rate,
             session_rate / raw);
  pgorm::Connection admin = pgorm::Connection::from_env();
  admin.execute_script("DROP SCHEMA IF EXISTS pgorm_async_lookup CASCADE");
  return EXIT_SUCCESS;
} catch (const std::exception& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  return EXIT_FAILURE;
}
