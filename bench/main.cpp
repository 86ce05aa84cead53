// pgorm_bench: creates and seeds the seed's schema, then runs every workload for every contender,
// interleaved round by round, and writes one JSON line per measurement for bench/report.py.
//
//   pgorm_bench --out results.jsonl [--rounds 5] [--python bench/python_bench.py]
//   pgorm_bench --rss rss.json           peak RSS of loading 100,000 rows, one child per contender
//   valgrind --tool=callgrind --collect-atstart=no pgorm_bench --callgrind
//                                        one measured round, a callgrind dump per
//                                        workload/contender
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pqxx/version>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common.hpp"

namespace bench {
void create_schema(const std::string& conninfo);
}

namespace {

using namespace bench;

// The workloads in the order each round runs them.
const std::vector<std::string> kWorkloads = {"insert_one",   "bulk_insert", "get_pk",
                                             "get_pk_in_tx", "load_10k",    "load_100k",
                                             "users_todos",  "update_1000", "list_page"};

struct Options {
  std::string out = "bench-results.jsonl";
  int rounds = 5;
  int warmup = 1;
  std::string python;  // path of python_bench.py; empty: no Python contenders
  std::string python_exe = "/usr/bin/python3";
  std::set<std::string> only;  // workloads to run (all when empty)
  std::string contenders;      // substring filter on contender names
  bool callgrind = false;
  std::string rss;
};

[[noreturn]] void usage() {
  std::cerr << "usage: pgorm_bench [--out FILE] [--rounds N] [--warmup N] [--python SCRIPT]\n"
               "                   [--python-exe PATH] [--only w1,w2] [--contenders SUBSTRING]\n"
               "                   [--callgrind] [--rss FILE]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--out")
      o.out = next();
    else if (a == "--rounds")
      o.rounds = std::stoi(next());
    else if (a == "--warmup")
      o.warmup = std::stoi(next());
    else if (a == "--python")
      o.python = next();
    else if (a == "--python-exe")
      o.python_exe = next();
    else if (a == "--contenders")
      o.contenders = next();
    else if (a == "--callgrind")
      o.callgrind = true;
    else if (a == "--rss")
      o.rss = next();
    else if (a == "--only") {
      std::stringstream list(next());
      for (std::string w; std::getline(list, w, ',');) o.only.insert(w);
    } else {
      usage();
    }
  }
  return o;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// The connection the harness itself uses for seeding and cleaning up between runs.
class Admin {
 public:
  explicit Admin(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK)
      throw std::runtime_error(std::string("cannot connect: ") + PQerrorMessage(conn_));
  }
  ~Admin() { PQfinish(conn_); }
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    auto status = PQresultStatus(r);
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw std::runtime_error("admin: " + error + " in: " + sql);
  }
  std::string scalar(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string out = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

void seed(Admin& admin) {
  admin.exec(
      "INSERT INTO users (email, created_at, updated_at) SELECT 'user' || i || '@example.com', "
      "now() - i * interval '1 minute', now() - i * interval '1 minute' "
      "FROM generate_series(1, " +
      std::to_string(kUsers) + ") i");
  admin.exec(
      "INSERT INTO todos (title, description, status, user_id, created_at, updated_at, deleted_at) "
      "SELECT CASE WHEN i % 10 = 0 THEN 'Buy milk and bread for the week #' || i "
      "            ELSE 'Write the weekly status report #' || i END, "
      "       CASE WHEN i % 2 = 0 THEN 'A longer description of what there is to do, #' || i END, "
      "       (ARRAY['pending', 'completed', 'archived'])[1 + i % 3]::todo_status, "
      "       1 + (i - 1) / " +
      std::to_string(kTodosPerUser) +
      ", "
      "       now() - i * interval '1 second', now() - i * interval '1 second', "
      "       CASE WHEN i % 97 = 0 THEN now() END "
      "FROM generate_series(1, " +
      std::to_string(kTodos) + ") i");
  // The index an application would add for its main list (pending todos, newest first): without
  // it, every page is a scan of all 100,000 rows and the workload measures only the server.
  admin.exec("CREATE INDEX todos_status_created_at ON todos (status, created_at DESC)");
  admin.exec("VACUUM ANALYZE users");
  admin.exec("VACUUM ANALYZE todos");
}

// Puts the tables back as seeded after a workload that wrote (untimed).
void restore(Admin& admin, const std::string& workload) {
  if (workload == "insert_one" || workload == "bulk_insert") {
    admin.exec("DELETE FROM todos WHERE id > " + std::to_string(kTodos));
    admin.exec("VACUUM ANALYZE todos");
  } else if (workload == "update_1000") {
    admin.exec("VACUUM ANALYZE todos");
  }
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string meta_line(Admin& admin) {
  std::ostringstream out;
  out << "{\"meta\": {\"nproc\": " << sysconf(_SC_NPROCESSORS_ONLN)
      << ", \"cpu\": " << json_string(cpu_model())
      << ", \"compiler\": " << json_string("g++ " __VERSION__) << ", \"libpq\": " << PQlibVersion()
      << ", \"libpqxx\": " << json_string(PQXX_VERSION)
      << ", \"server\": " << json_string(admin.scalar("SHOW server_version")) << ", \"seed\": "
      << json_string(std::to_string(kUsers) + " users, " + std::to_string(kTodos) + " todos")
      << "}}";
  return out.str();
}

// Runs the Python contenders for one round; returns their JSON lines.
std::vector<std::string> run_python(const Options& o, int round) {
  std::string command = o.python_exe + " " + o.python + " --round " + std::to_string(round);
  if (!o.only.empty()) {
    command += " --only ";
    bool first = true;
    for (const auto& w : o.only) command += (first ? "" : ",") + w, first = false;
  }
  std::vector<std::string> lines;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  char buffer[4096];
  std::string line;
  while (fgets(buffer, sizeof buffer, pipe)) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      if (!line.empty() && line.front() == '{') lines.push_back(line);
      line.clear();
    }
  }
  int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("the Python contenders failed: " + command);
  return lines;
}

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

// Loads every todo in a forked child and reports its peak RSS growth over the RSS it started with.
std::string rss_probe(const std::string& name, Loaded (*load)(const std::string&),
                      const std::string& conninfo) {
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
    Loaded l = load(conninfo);
    long peak = status_kib("VmHWM:");
    std::string line = "{\"contender\": " + json_string(name) +
                       ", \"rows\": " + std::to_string(l.rows) +
                       ", \"object_bytes\": " + std::to_string(l.object_bytes) +
                       ", \"rss_before_kib\": " + std::to_string(before) +
                       ", \"peak_rss_kib\": " + std::to_string(peak) + "}";
    if (write(fds[1], line.data(), line.size()) < 0) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty())
    throw std::runtime_error("the RSS probe for " + name + " failed");
  return out;
}

int run(const Options& o) {
  const char* url = std::getenv("DATABASE_URL");
  const std::string conninfo = url ? url : "";
  Admin admin(conninfo);
  std::cerr << "== schema and seed (" << kUsers << " users, " << kTodos << " todos)\n";
  create_schema(conninfo);
  seed(admin);

  if (!o.rss.empty()) {
    std::ofstream out(o.rss);
    out << "[";
    bool first = true;
    for (int rep = 0; rep < 3; ++rep) {
      for (auto [name, load] : {std::pair{"libpq", &load_all_libpq},
                                std::pair{"pgorm values()", &load_all_pgorm_values},
                                std::pair{"pgorm", &load_all_pgorm_tracked}}) {
        std::string line = rss_probe(name, load, conninfo);
        std::cerr << line << "\n";
        out << (first ? "\n" : ",\n") << line;
        first = false;
      }
    }
    out << "\n]\n";
    return 0;
  }

  Registry registry;
  register_libpq(registry, conninfo);
  register_pqxx(registry, conninfo);
  register_pgorm(registry, conninfo);

  std::map<std::string, std::vector<Entry*>> by_workload;
  for (auto& e : registry.entries())
    if (o.contenders.empty() || e.contender.find(o.contenders) != std::string::npos)
      by_workload[e.workload].push_back(&e);

  std::ofstream out(o.out);
  out << meta_line(admin) << "\n";
  std::map<std::pair<std::string, std::string>, std::set<std::int64_t>> checks;
  const int rounds = o.callgrind ? 1 : o.rounds;
  // Under callgrind, one round with no warm-up: every workload repeats its operation thousands of
  // times (or decodes thousands of rows), so one-time costs are amortized, and counts are exact.
  const int warmup = o.callgrind ? 0 : o.warmup;
  for (int round = -warmup; round < rounds; ++round) {
    const bool measured = round >= 0;
    std::cerr << "== round " << round + 1 << "/" << rounds << (measured ? "" : " (warm-up)")
              << "\n";
    for (const auto& workload : kWorkloads) {
      if (!o.only.empty() && !o.only.count(workload)) continue;
      auto& entries = by_workload[workload];
      if (entries.empty()) continue;
      // Interleave: each round starts with the next contender, so none always runs first.
      std::size_t start = static_cast<std::size_t>(round + warmup) % entries.size();
      for (std::size_t i = 0; i < entries.size(); ++i) {
        Entry& e = *entries[(start + i) % entries.size()];
        if (o.callgrind && measured) CALLGRIND_ZERO_STATS;
        Outcome r = e.run();
        if (o.callgrind && measured) {
          std::string label = e.workload + "|" + e.contender;
          CALLGRIND_DUMP_STATS_AT(label.c_str());
        }
        restore(admin, workload);
        checks[{e.workload, e.contender}].insert(r.rows);
        if (!measured) continue;
        out << "{\"workload\": " << json_string(e.workload)
            << ", \"contender\": " << json_string(e.contender) << ", \"round\": " << round
            << ", \"seconds\": " << r.seconds << ", \"rows\": " << r.rows << "}\n";
        std::cerr << "  " << e.workload << " / " << e.contender << ": " << r.seconds * 1000
                  << " ms (" << r.rows << " rows)\n";
      }
    }
    if (!o.python.empty() && !o.callgrind) {
      std::cerr << "  python contenders...\n";
      for (const auto& line : run_python(o, round))
        if (measured) out << line << "\n";
    }
    out.flush();
  }

  // Every contender of a workload must have done the same work.
  int mismatches = 0;
  for (const auto& workload : kWorkloads) {
    std::set<std::int64_t> seen;
    for (const auto& [key, rows] : checks)
      if (key.first == workload) seen.insert(rows.begin(), rows.end());
    if (seen.size() > 1) {
      ++mismatches;
      std::cerr << "!! " << workload << ": contenders disagree on the rows done:";
      for (const auto& [key, rows] : checks)
        if (key.first == workload)
          for (auto r : rows) std::cerr << " " << key.second << "=" << r;
      std::cerr << "\n";
    }
  }
  return mismatches ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "pgorm_bench: " << e.what() << "\n";
    return 1;
  }
}
