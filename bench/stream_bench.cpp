// Streaming a huge result: pgorm's Session::stream() / stream_values() against raw libpq reading
// the same rows through the same server-side cursor (and through single-row mode, the other way
// libpq can read a result in pieces), in the same run. Every contender runs in a forked child,
// rounds interleaved, and reports its time and its peak RSS growth over the RSS it started with;
// every contender must read the same checksum. Prints a markdown table.
//   DATABASE_URL=... build/bench/bench/stream_bench [rows] [rounds] [chunk_rows]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <pgorm/pgorm.hpp>

#include "common.hpp"  // hand-written decoders of the raw contenders
#include "models.hpp"  // examples/todo: the seed's User

using Clock = std::chrono::steady_clock;
using todo::User;

namespace {

std::size_t g_chunk = 1000;

// What a contender read: rows and a checksum of their values (sum of ids, email lengths and
// created_at seconds), the same for every contender.
struct Read {
  std::int64_t rows = 0;
  std::int64_t checksum = 0;
  void add(std::int32_t id, std::size_t email_length, std::int64_t created_micros) {
    ++rows;
    checksum += id + static_cast<std::int64_t>(email_length) + created_micros / 1000000;
  }
};

// The SQL pgorm sends for select<User>(): the raw contenders send the same text.
std::string select_sql() {
  return pgorm::select<User>().statement().sql;
}

void check(PGconn* conn, PGresult* r, ExecStatusType want) {
  if (PQresultStatus(r) != want) {
    std::string message = PQerrorMessage(conn);
    PQclear(r);
    throw std::runtime_error("raw libpq: " + message);
  }
}

// Hand decoding of one users row into a reused struct, as a careful libpq program does.
void decode_user(PGresult* r, int row, bench::UserRow& u) {
  u.id = bench::parse_int(PQgetvalue(r, row, 0));
  u.email.assign(PQgetvalue(r, row, 1), static_cast<std::size_t>(PQgetlength(r, row, 1)));
  u.created_at = bench::parse_timestamp(PQgetvalue(r, row, 2));
  u.updated_at = bench::parse_timestamp(PQgetvalue(r, row, 3));
}

// Raw libpq through the cursor pgorm uses: BEGIN, DECLARE, FETCH FORWARD n until short, COMMIT.
Read raw_cursor(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  Read read;
  check(conn, PQexec(conn, "BEGIN"), PGRES_COMMAND_OK);
  std::string declare = "DECLARE \"pgorm_stream_1\" NO SCROLL CURSOR FOR " + select_sql();
  check(conn, PQexecParams(conn, declare.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0),
        PGRES_COMMAND_OK);
  std::string fetch = fmt::format("FETCH FORWARD {} FROM \"pgorm_stream_1\"", g_chunk);
  bench::UserRow u;
  for (;;) {
    PGresult* r = PQexecParams(conn, fetch.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
    check(conn, r, PGRES_TUPLES_OK);
    int n = PQntuples(r);
    for (int i = 0; i < n; ++i) {
      decode_user(r, i, u);
      read.add(u.id, u.email.size(), u.created_at);
    }
    PQclear(r);
    if (static_cast<std::size_t>(n) < g_chunk) break;
  }
  check(conn, PQexec(conn, "COMMIT"), PGRES_COMMAND_OK);
  PQfinish(conn);
  return read;
}

// Raw libpq in single-row mode: one PGresult per row, no transaction needed.
Read raw_single_row(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
  Read read;
  std::string sql = select_sql();
  if (PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1 ||
      PQsetSingleRowMode(conn) != 1)
    throw std::runtime_error(PQerrorMessage(conn));
  bench::UserRow u;
  while (PGresult* r = PQgetResult(conn)) {
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_SINGLE_TUPLE) {
      decode_user(r, 0, u);
      read.add(u.id, u.email.size(), u.created_at);
    } else if (status != PGRES_TUPLES_OK) {
      check(conn, r, PGRES_TUPLES_OK);
    }
    PQclear(r);
  }
  PQfinish(conn);
  return read;
}

std::int64_t micros(const pgorm::Timestamp& t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

Read pgorm_stream_values(const std::string& conninfo) {
  pgorm::Engine engine(conninfo);
  pgorm::Session session(engine);
  Read read;
  for (const User& u : session.stream_values(pgorm::select<User>(), {.chunk_rows = g_chunk}))
    read.add(u.id, u.email.size(), micros(u.created_at));
  return read;
}

Read pgorm_stream_tracked(const std::string& conninfo) {
  pgorm::Engine engine(conninfo);
  pgorm::Session session(engine);
  Read read;
  for (const auto& u : session.stream(pgorm::select<User>(), {.chunk_rows = g_chunk}))
    read.add(u->id, u->email.size(), micros(u->created_at));
  return read;
}

// For contrast: everything at once (what stream() avoids).
Read pgorm_values_all(const std::string& conninfo) {
  pgorm::Engine engine(conninfo);
  pgorm::Session session(engine);
  Read read;
  for (const User& u : session.values(pgorm::select<User>()))
    read.add(u.id, u.email.size(), micros(u.created_at));
  return read;
}

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

struct Sample {
  double seconds = 0;
  long peak_growth_kib = 0;
  Read read;
};

// Runs the contender in a forked child: its time and its peak RSS growth.
Sample probe(Read (*contender)(const std::string&), const std::string& conninfo) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    {
      std::ofstream reset("/proc/self/clear_refs");
      reset << "5";  // resets VmHWM to the current RSS
    }
    long before = status_kib("VmRSS:");
    auto start = Clock::now();
    Read r = contender(conninfo);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    long peak = status_kib("VmHWM:");
    std::string line = fmt::format("{} {} {} {}", seconds, peak - before, r.rows, r.checksum);
    if (write(fds[1], line.data(), line.size()) < 0) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[256];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
    out.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty())
    throw std::runtime_error("a contender's child failed");
  Sample s;
  long long rows = 0, checksum = 0;
  if (std::sscanf(out.c_str(), "%lf %ld %lld %lld", &s.seconds, &s.peak_growth_kib, &rows,
                  &checksum) != 4)
    throw std::runtime_error("bad child output: " + out);
  s.read.rows = rows;
  s.read.checksum = checksum;
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  int rows = argc > 1 ? std::atoi(argv[1]) : 1000000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (argc > 3) g_chunk = static_cast<std::size_t>(std::atol(argv[3]));

  pgorm::Url url = pgorm::Url::from_env();
  std::string options = url.param("options").value_or("");
  url.set_param("options",
                options + (options.empty() ? "" : " ") + "-csearch_path=pgorm_stream_bench");
  {
    pgorm::Connection admin = pgorm::Connection::from_env();
    admin.execute_script(
        "DROP SCHEMA IF EXISTS pgorm_stream_bench CASCADE; CREATE SCHEMA pgorm_stream_bench");
    pgorm::Connection conn(url.conninfo());
    pgorm::Metadata::of<User>().create_all(conn);
    conn.exec(
        "INSERT INTO users (email) SELECT 'user' || g || '@example.com' "
        "FROM generate_series(1, $1) g",
        rows);
    conn.execute_script("VACUUM ANALYZE users");
  }
  const std::string conninfo = url.conninfo();

  struct Contender {
    const char* name;
    Read (*run)(const std::string&);
  };
  const std::vector<Contender> contenders = {
      {"libpq cursor (FETCH)", raw_cursor},
      {"libpq single-row mode", raw_single_row},
      {"pgorm stream_values()", pgorm_stream_values},
      {"pgorm stream() tracked", pgorm_stream_tracked},
      {"pgorm values() (all at once)", pgorm_values_all},
  };
  std::map<std::string, std::vector<double>> seconds, growth_mib, ratio;
  std::optional<Read> expected;
  for (int round = 0; round < rounds; ++round) {
    double baseline = 0;
    for (const auto& c : contenders) {
      Sample s = probe(c.run, conninfo);
      if (!expected) expected = s.read;
      if (s.read.rows != expected->rows || s.read.checksum != expected->checksum)
        throw std::runtime_error(fmt::format("{} read {} rows (checksum {}), expected {} ({})",
                                             c.name, s.read.rows, s.read.checksum, expected->rows,
                                             expected->checksum));
      if (baseline == 0) baseline = s.seconds;
      seconds[c.name].push_back(s.seconds);
      growth_mib[c.name].push_back(static_cast<double>(s.peak_growth_kib) / 1024.0);
      ratio[c.name].push_back(s.seconds / baseline);
    }
  }
  fmt::print("{} rows, chunks of {} rows, {} rounds (medians)\n\n", rows, g_chunk, rounds);
  fmt::print("| contender | time | rows/s | vs libpq cursor | peak RSS growth |\n");
  fmt::print("|---|---|---|---|---|\n");
  for (const auto& c : contenders) {
    double t = median(seconds[c.name]);
    fmt::print("| {} | {:.0f} ms | {:.2f} M | {:.2f}x | {:.1f} MiB |\n", c.name, t * 1000,
               rows / t / 1e6, median(ratio[c.name]), median(growth_mib[c.name]));
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "stream_bench: {}\n", e.what());
  return 1;
}
