// The command line over Migrator: argument parsing, the config file, and output formatting.
#include "pgorm/migrate/cli.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "pgorm/errors.hpp"
#include "pgorm/migrate/migrator.hpp"

namespace pgorm::migrate {
namespace {

constexpr std::string_view kConfigName = "pgorm-migrate.ini";

constexpr std::string_view kUsage = R"(usage: {0} [options] COMMAND [arguments]

commands (Alembic's, with the same meaning):
  init DIR                        create the versions directory and pgorm-migrate.ini
  revision -m MSG [--autogenerate] [--rev-id ID]
                                  new revision file; --autogenerate compares models and database
  upgrade [head|heads|REV|+N] [--sql [--from REV|base]]
                                  apply migrations (default head); --sql prints them instead
  downgrade -N|REV|base [--sql [--from REV]]
                                  revert migrations
  current [-v]                    the database's revision(s)
  history [-v]                    all revisions, newest first
  heads                           the revisions nothing builds on
  merge [-m MSG] [REV...]         a revision joining heads (all heads when none are named)
  stamp REV|head|base             set the version table without running migrations
  check                           exit 1 when the database is behind or differs from the models

options:
  --url URL            database (default: DATABASE_URL, else libpq's PG* variables)
  --dir DIR            versions directory (default: 'dir' in pgorm-migrate.ini)
  --config FILE        config file (default: ./pgorm-migrate.ini, optional)
  --schema NAME        schema to migrate (default: the connection's current schema)
  --version-table NAME (default: pgorm_version)
  --lock-timeout SECS  wait for another migrator this long (default: 60)
  --pooler MODE        none, session or transaction: what is between the migrator and the
                       server (transaction is refused: give the server's own address)
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

// key = value lines; '#' and ';' start comments; [sections] are ignored.
std::map<std::string, std::string> read_config(const std::filesystem::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw UsageError(fmt::format("{}:{}: expected 'key = value'", path.string(), number));
    std::string key = trim(line.substr(0, eq));
    if (key != "dir" && key != "url" && key != "schema" && key != "version_table" &&
        key != "lock_timeout" && key != "pooler")
      throw UsageError(
          fmt::format("{}:{}: unknown key '{}' (dir, url, schema, version_table, "
                      "lock_timeout, pooler)",
                      path.string(), number, key));
    out[key] = trim(line.substr(eq + 1));
  }
  return out;
}

std::chrono::milliseconds parse_seconds(const std::string& text) {
  try {
    std::size_t used = 0;
    double seconds = std::stod(text, &used);
    if (used != text.size() || seconds < 0) throw std::invalid_argument(text);
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  } catch (const std::exception&) {
    throw UsageError(fmt::format("bad lock timeout '{}': give seconds", text));
  }
}

struct Arguments {
  std::string command;
  std::vector<std::string> positional;
  std::optional<std::string> message, rev_id, from, url, dir, config, schema, version_table,
      lock_timeout, pooler;
  bool autogenerate = false, sql = false, verbose = false, help = false;
};

Arguments parse(int argc, char** argv) {
  Arguments a;
  auto value = [&](int& i, std::string_view name) -> std::string {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    if (eq != std::string::npos) return arg.substr(eq + 1);
    if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value", name));
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg.substr(0, arg.find('='));
    if (name == "-h" || name == "--help")
      a.help = true;
    else if (name == "-m" || name == "--message")
      a.message = value(i, name);
    else if (name == "--autogenerate")
      a.autogenerate = true;
    else if (name == "--sql")
      a.sql = true;
    else if (name == "-v" || name == "--verbose")
      a.verbose = true;
    else if (name == "--rev-id")
      a.rev_id = value(i, name);
    else if (name == "--from")
      a.from = value(i, name);
    else if (name == "--url")
      a.url = value(i, name);
    else if (name == "--dir")
      a.dir = value(i, name);
    else if (name == "--config")
      a.config = value(i, name);
    else if (name == "--schema")
      a.schema = value(i, name);
    else if (name == "--version-table")
      a.version_table = value(i, name);
    else if (name == "--lock-timeout")
      a.lock_timeout = value(i, name);
    else if (name == "--pooler")
      a.pooler = value(i, name);
    else if (arg.size() > 1 && arg[0] == '-' &&
             !(arg.size() > 1 && std::isdigit(static_cast<unsigned char>(arg[1]))) && arg != "-")
      throw UsageError(fmt::format("unknown option {}", arg));
    else if (a.command.empty())
      a.command = arg;
    else
      a.positional.push_back(arg);
  }
  return a;
}

void expect_positionals(const Arguments& a, std::size_t min, std::size_t max) {
  if (a.positional.size() < min || a.positional.size() > max)
    throw UsageError(fmt::format("wrong number of arguments for {}", a.command));
}

Pooler parse_pooler(std::string_view text) {
  if (text == "none") return Pooler::none;
  if (text == "session") return Pooler::session;
  if (text == "transaction") return Pooler::transaction;
  throw UsageError(fmt::format("unknown pooler '{}' (none, session or transaction)", text));
}

MigratorOptions options_for(const Arguments& a) {
  MigratorOptions o;
  std::filesystem::path config_path = a.config ? *a.config : std::string(kConfigName);
  std::map<std::string, std::string> config;
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    config = read_config(config_path);
  } else if (a.config) {
    throw UsageError(fmt::format("config file {} not found", config_path.string()));
  }
  if (a.dir) {
    o.directory = *a.dir;
  } else if (config.count("dir")) {
    std::filesystem::path dir = config["dir"];
    o.directory = dir.is_relative() ? config_path.parent_path() / dir : dir;
  }
  if (a.url)
    o.url = *a.url;
  else if (const char* env = std::getenv("DATABASE_URL"); env && *env)
    o.url = env;
  else if (config.count("url"))
    o.url = config["url"];
  if (a.schema)
    o.schema = *a.schema;
  else if (config.count("schema"))
    o.schema = config["schema"];
  if (a.version_table)
    o.version_table = *a.version_table;
  else if (config.count("version_table"))
    o.version_table = config["version_table"];
  if (a.lock_timeout)
    o.lock_timeout = parse_seconds(*a.lock_timeout);
  else if (config.count("lock_timeout"))
    o.lock_timeout = parse_seconds(config["lock_timeout"]);
  if (a.pooler)
    o.pooler = parse_pooler(*a.pooler);
  else if (config.count("pooler"))
    o.pooler = parse_pooler(config["pooler"]);
  return o;
}

std::string heads_suffix(const std::vector<std::string>& heads, const std::string& id) {
  return std::find(heads.begin(), heads.end(), id) != heads.end() ? " (head)" : "";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

int run(const Arguments& a, const Metadata& metadata, std::ostream& out, const char* program) {
  if (a.help || a.command.empty() || a.command == "help") {
    out << fmt::format(kUsage, program);
    return a.command.empty() && !a.help ? 2 : 0;
  }
  if (a.command == "init") {
    expect_positionals(a, 1, 1);
    std::filesystem::path dir = a.positional[0];
    Migrator::init(dir);
    out << "Created " << dir.string() << "\n";
    std::filesystem::path config = a.config ? *a.config : std::string(kConfigName);
    std::error_code ec;
    if (!std::filesystem::exists(config, ec)) {
      std::ofstream file(config);
      file << "# pgorm migrate settings (command-line options win over these)\n"
           << "dir = " << dir.string() << "\n";
      out << "Wrote " << config.string() << "\n";
    }
    return 0;
  }

  MigratorOptions options = options_for(a);
  bool quiet = a.sql;
  options.log = [&out, quiet](std::string_view line) {
    if (!quiet) out << line << "\n";
  };
  Migrator migrator(options);

  if (a.command == "revision") {
    expect_positionals(a, 0, 0);
    if (!a.message) throw UsageError("revision needs -m MESSAGE");
    NewRevision r =
        migrator.revision(*a.message, a.autogenerate ? &metadata : nullptr, a.rev_id.value_or(""));
    for (const auto& c : r.changes) out << "Detected " << c << "\n";
    if (a.autogenerate && r.changes.empty()) out << "No changes detected\n";
    out << "Generated " << r.file.path.string() << "\n";
    return 0;
  }
  if (a.command == "upgrade" || a.command == "downgrade") {
    bool up = a.command == "upgrade";
    expect_positionals(a, up ? 0 : 1, 1);
    std::string target = a.positional.empty() ? "head" : a.positional[0];
    std::string from = a.from.value_or("");
    if (auto colon = target.find(':'); colon != std::string::npos) {  // Alembic's FROM:TO
      from = target.substr(0, colon);
      target = target.substr(colon + 1);
    }
    if (!from.empty() && !a.sql) throw UsageError("a starting revision only goes with --sql");
    if (a.sql) {
      out << (up ? migrator.upgrade_sql(target, from) : migrator.downgrade_sql(target, from));
    } else if (up) {
      migrator.upgrade(target);
    } else {
      migrator.downgrade(target);
    }
    return 0;
  }
  if (a.command == "current") {
    expect_positionals(a, 0, 0);
    auto heads = migrator.heads();
    for (const auto& id : migrator.current()) {
      out << id << heads_suffix(heads, id);
      if (a.verbose) {
        auto map = migrator.load();
        if (map.contains(id)) out << ", " << map.get(id).message;
      }
      out << "\n";
    }
    return 0;
  }
  if (a.command == "history") {
    expect_positionals(a, 0, 0);
    for (const auto& e : migrator.history(a.verbose)) {
      std::string down = e.down_revisions.empty() ? "<base>" : join(e.down_revisions);
      if (a.verbose) {
        out << "Rev: " << e.revision << (e.is_head ? " (head)" : "")
            << (e.is_current ? " (current)" : "") << "\n"
            << "Parent: " << down << "\n"
            << "Path: " << e.path.string() << "\n"
            << "Created: " << e.created << "\n\n    " << e.message << "\n\n";
      } else {
        out << down << " -> " << e.revision << (e.is_head ? " (head)" : "") << ", " << e.message
            << "\n";
      }
    }
    return 0;
  }
  if (a.command == "heads") {
    expect_positionals(a, 0, 0);
    auto map = migrator.load();
    for (const auto& id : map.heads()) out << id << " (head), " << map.get(id).message << "\n";
    return 0;
  }
  if (a.command == "merge") {
    NewRevision r = migrator.merge(a.message.value_or(""), a.positional);
    out << "Generated " << r.file.path.string() << "\n";
    return 0;
  }
  if (a.command == "stamp") {
    expect_positionals(a, 1, 1);
    migrator.stamp(a.positional[0]);
    return 0;
  }
  if (a.command == "check") {
    expect_positionals(a, 0, 0);
    auto differences = migrator.check(metadata);
    if (differences.empty()) {
      out << "No new upgrade operations detected.\n";
      return 0;
    }
    out << "New upgrade operations detected:\n";
    for (const auto& d : differences) out << "  - " << d << "\n";
    return 1;
  }
  throw UsageError(fmt::format("unknown command '{}'", a.command));
}

}  // namespace

int main(int argc, char** argv, const Metadata& metadata, std::ostream& out, std::ostream& err) {
  const char* program = argc > 0 ? argv[0] : "migrate";
  try {
    return run(parse(argc, argv), metadata, out, program);
  } catch (const UsageError& e) {
    err << program << ": " << e.what() << "\n(run " << program << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    err << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

int main(int argc, char** argv, const Metadata& metadata) {
  return main(argc, argv, metadata, std::cout, std::cerr);
}

}  // namespace pgorm::migrate
