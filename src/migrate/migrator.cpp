// The migration runner: plans (which revisions, in which order, with which version-table updates)
// are built once and then either executed or printed, so `--sql` shows exactly what upgrade runs.
#include "pgorm/migrate/migrator.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "pgorm/engine/connection.hpp"
#include "pgorm/errors.hpp"
#include "pgorm/migrate/reflect.hpp"
#include "pgorm/sql/quote.hpp"

namespace pgorm::migrate {
namespace {

[[noreturn]] void fail(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  throw MigrationError(std::move(info));
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

std::string or_base(const std::vector<std::string>& ids) {
  return ids.empty() ? std::string("base") : join(ids);
}

// Revision ids are checked to be [A-Za-z0-9_]{1,64}, so they can be written as plain literals
// (offline scripts have no bind parameters, and the online run sends the same text).
std::string literal(const std::string& id) {
  if (!valid_revision_id(id)) fail(fmt::format("bad revision id '{}'", id));
  return "'" + id + "'";
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : text) h = (h ^ c) * 16777619u;
  return h;
}

Connection open(const MigratorOptions& options) {
  if (options.pooler == Pooler::transaction) {
    ErrorInfo info;
    info.message =
        "the migrator cannot run through a transaction pooler (MigratorOptions::pooler is "
        "Pooler::transaction): it holds a session-level advisory lock and sets the session's "
        "search_path, which a transaction pooler does not keep between transactions; give it the "
        "server's own address or a session-mode pool; nothing was done";
    throw ConfigurationError(std::move(info));
  }
  Connection conn = options.url.empty() ? Connection::from_env() : Connection(options.url);
  conn.execute("SET client_min_messages = warning");
  if (!options.schema.empty())
    conn.exec("SELECT set_config('search_path', $1, false)", sql::quote_identifier(options.schema));
  return conn;
}

std::string create_version_table_sql(const std::string& table) {
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (version_num varchar(64) NOT NULL, CONSTRAINT {} PRIMARY KEY "
      "(version_num))",
      sql::quote_identifier(table), sql::quote_identifier(table + "_pkc"));
}

std::vector<std::string> read_versions(Connection& conn, const std::string& table) {
  auto exists = conn.query<std::optional<std::string>>("SELECT to_regclass($1)::text",
                                                       sql::quote_identifier(table));
  if (exists.empty() || !exists[0]) return {};
  return conn.query<std::string>(
      fmt::format("SELECT version_num FROM {} ORDER BY version_num", sql::quote_identifier(table)));
}

void check_known(const RevisionMap& map, const std::vector<std::string>& current,
                 const std::filesystem::path& directory) {
  for (const auto& id : current)
    if (!map.contains(id))
      fail(
          fmt::format("the database is at revision {}, which no file in {} defines (a missing "
                      "file, the wrong --dir, or a database migrated from another branch?); "
                      "nothing was applied",
                      id, directory.string()));
}

// Session-level advisory lock on a connection of its own, so that it outlives the migrations'
// transactions and is released when the process dies.
class MigrationLock {
 public:
  MigrationLock(const MigratorOptions& options, Connection& conn, const std::string& schema)
      : conn_(conn),
        objid_(static_cast<std::int32_t>(fnv1a(schema + "." + options.version_table))) {
    auto deadline = std::chrono::steady_clock::now() + options.lock_timeout;
    bool logged = false;
    for (;;) {
      if (conn_.query<bool>("SELECT pg_try_advisory_lock($1::integer, $2::integer)", kClassId,
                            objid_)[0])
        return;
      auto holders = conn_.query<std::int32_t>(
          "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
          "AND classid = $1::integer::oid AND objid = ($2::bigint & 4294967295)::oid "
          "AND objsubid = 2 AND database = (SELECT oid FROM pg_database "
          "WHERE datname = current_database())",
          kClassId, static_cast<std::int64_t>(objid_));
      std::string holder =
          holders.empty() ? std::string("another session") : fmt::format("pid {}", holders[0]);
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        ErrorInfo info;
        info.sqlstate = "55P03";
        info.message = fmt::format(
            "could not take the migration lock within {} ms: {} holds it (another upgrade or "
            "downgrade is running); nothing was applied",
            options.lock_timeout.count(), holder);
        throw MigrationError(std::move(info));
      }
      if (!logged && options.log) {
        options.log(fmt::format("Waiting for the migration lock held by {}", holder));
        logged = true;
      }
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      std::this_thread::sleep_for(std::min(remaining, std::chrono::milliseconds(50)));
    }
  }
  ~MigrationLock() {
    try {
      if (conn_.is_open())
        conn_.query<bool>("SELECT pg_advisory_unlock($1::integer, $2::integer)", kClassId, objid_);
    } catch (...) {
      // Closing the connection releases the lock anyway.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

 private:
  static constexpr std::int32_t kClassId = 0x70676f72;  // "pgor"
  Connection& conn_;
  std::int32_t objid_;
};

std::optional<int> parse_count(std::string_view text) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n <= 0) return std::nullopt;
  return n;
}

std::vector<std::string> split_ids(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item(text.substr(start, comma - start));
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

struct Migrator::Plan {
  struct Step {
    std::string sql;
    std::string comment;                     // written before the statement in --sql output
    const RevisionFile* revision = nullptr;  // the migration the step belongs to
    const Statement* statement = nullptr;    // the file's statement, for error messages
    std::string log;                         // a progress line to print before the step
  };
  std::vector<Step> steps;

  void add(std::string sql, const RevisionFile* revision = nullptr,
           const Statement* statement = nullptr) {
    steps.push_back({std::move(sql), {}, revision, statement, {}});
  }

  // One migration: its statements in transactions (split at -- +no-transaction statements),
  // the version-table update in the last one.
  void add_revision(const RevisionFile& r, bool upgrade, const std::vector<std::string>& versions,
                    std::string log_line) {
    const auto& statements = upgrade ? r.upgrade : r.downgrade;
    bool open = false;
    std::size_t first = steps.size();
    for (const auto& st : statements) {
      if (st.no_transaction) {
        if (open) add("COMMIT", &r);
        open = false;
      } else if (!open) {
        add("BEGIN", &r);
        open = true;
      }
      add(st.sql, &r, &st);
    }
    if (!open) add("BEGIN", &r);
    for (const auto& v : versions) add(v, &r);
    add("COMMIT", &r);
    steps[first].comment = log_line + (r.path.empty() ? "" : " (" + r.path.string() + ")");
    steps[first].log = log_line;
  }
};

Migrator::Migrator(MigratorOptions options) : options_(std::move(options)) {
  if (!valid_revision_id(options_.version_table))
    fail(fmt::format("bad version table name '{}'", options_.version_table));
}

void Migrator::init(const std::filesystem::path& directory) {
  std::error_code ec;
  if (std::filesystem::exists(directory, ec)) {
    if (!std::filesystem::is_directory(directory, ec))
      fail(fmt::format("{} exists and is not a directory", directory.string()));
    if (!std::filesystem::is_empty(directory, ec))
      fail(fmt::format("{} exists and is not empty", directory.string()));
  }
  std::filesystem::create_directories(directory, ec);
  if (ec) fail(fmt::format("cannot create {}: {}", directory.string(), ec.message()));
}

RevisionMap Migrator::load() const {
  if (options_.directory.empty())
    fail("no versions directory: pass --dir or write 'dir = ...' in pgorm-migrate.ini");
  return RevisionMap::load(options_.directory);
}

std::vector<std::string> Migrator::heads() const {
  return load().heads();
}

Migrator::Plan Migrator::plan_upgrade(const RevisionMap& map,
                                      const std::vector<std::string>& current,
                                      std::string_view target) const {
  std::set<std::string> applied = map.closure(current);
  std::vector<std::string> to_apply;
  if (!target.empty() && target.front() == '+') {
    auto n = parse_count(target.substr(1));
    if (!n) fail(fmt::format("bad relative target '{}': use +N with N > 0", target));
    std::set<std::string> simulated = applied;
    for (int step = 0; step < *n; ++step) {
      std::vector<std::string> candidates;
      if (simulated.empty()) {
        candidates = map.bases();
      } else {
        auto heads = map.heads_of(simulated);
        if (heads.size() != 1)
          fail(
              fmt::format("cannot upgrade {}: the database has several heads ({}); name a "
                          "revision",
                          target, join(heads)));
        for (const auto& child : map.children(heads[0])) {
          const auto& parents = map.get(child).down_revisions;
          if (std::all_of(parents.begin(), parents.end(),
                          [&](const std::string& p) { return simulated.count(p) > 0; }))
            candidates.push_back(child);
        }
      }
      if (candidates.empty())
        fail(fmt::format("cannot upgrade {}: only {} revision(s) above the current one", target,
                         step));
      if (candidates.size() > 1)
        fail(fmt::format("cannot upgrade {}: the history branches here ({}); name a revision",
                         target, join(candidates)));
      simulated.insert(candidates[0]);
      to_apply.push_back(candidates[0]);
    }
  } else {
    std::vector<std::string> targets;
    if (target == "head") {
      auto heads = map.heads();
      if (heads.size() > 1)
        fail(
            fmt::format("multiple heads: {}. Upgrade to one of them, to 'heads', or join them "
                        "with `merge`; nothing was applied",
                        join(heads)));
      targets = heads;
    } else if (target == "heads") {
      targets = map.heads();
    } else if (target != "base") {
      targets.push_back(map.get(target).revision);
      const std::string& id = targets[0];
      auto heads = map.heads_of(applied);
      if (applied.count(id) && std::find(heads.begin(), heads.end(), id) == heads.end())
        fail(fmt::format("revision {} is older than the database's ({}): use downgrade", id,
                         or_base(current)));
    }
    std::set<std::string> wanted = map.closure(targets);
    for (const auto& id : map.order())
      if (wanted.count(id) && !applied.count(id)) to_apply.push_back(id);
  }
  Plan plan;
  plan.add(create_version_table_sql(options_.version_table));
  std::string table = sql::quote_identifier(options_.version_table);
  for (const auto& id : to_apply) {
    const RevisionFile& r = map.get(id);
    std::vector<std::string> versions;
    if (!r.down_revisions.empty()) {
      std::string list;
      for (const auto& d : r.down_revisions) list += (list.empty() ? "" : ", ") + literal(d);
      versions.push_back(fmt::format("DELETE FROM {} WHERE version_num IN ({})", table, list));
    }
    versions.push_back(
        fmt::format("INSERT INTO {} (version_num) VALUES ({})", table, literal(r.revision)));
    plan.add_revision(r, true, versions,
                      fmt::format("Running upgrade {} -> {}, {}", or_base(r.down_revisions),
                                  r.revision, r.message));
  }
  return plan;
}

Migrator::Plan Migrator::plan_downgrade(const RevisionMap& map,
                                        const std::vector<std::string>& current,
                                        std::string_view target) const {
  std::set<std::string> applied = map.closure(current);
  std::vector<std::string> to_remove;  // children first
  if (!target.empty() && target.front() == '-') {
    auto n = parse_count(target.substr(1));
    if (!n) fail(fmt::format("bad relative target '{}': use -N with N > 0", target));
    std::set<std::string> simulated = applied;
    for (int step = 0; step < *n; ++step) {
      auto heads = map.heads_of(simulated);
      if (heads.empty())
        fail(fmt::format("cannot downgrade {}: only {} revision(s) are applied", target, step));
      if (heads.size() > 1)
        fail(fmt::format("cannot downgrade {}: several heads are applied ({}); name a revision",
                         target, join(heads)));
      simulated.erase(heads[0]);
      to_remove.push_back(heads[0]);
    }
  } else {
    std::set<std::string> removed;
    if (target == "base") {
      removed = applied;
    } else {
      const std::string& id = map.get(target).revision;
      if (!applied.count(id))
        fail(fmt::format("revision {} is not applied (the database is at {}): use upgrade", id,
                         or_base(current)));
      for (const auto& a : applied)
        if (a != id && map.closure({a}).count(id)) removed.insert(a);
    }
    for (auto it = map.order().rbegin(); it != map.order().rend(); ++it)
      if (removed.count(*it)) to_remove.push_back(*it);
  }
  Plan plan;
  plan.add(create_version_table_sql(options_.version_table));
  std::string table = sql::quote_identifier(options_.version_table);
  std::set<std::string> simulated = applied;
  for (const auto& id : to_remove) {
    const RevisionFile& r = map.get(id);
    simulated.erase(id);
    std::vector<std::string> versions{
        fmt::format("DELETE FROM {} WHERE version_num = {}", table, literal(id))};
    auto heads = map.heads_of(simulated);
    for (const auto& parent : r.down_revisions)
      if (std::find(heads.begin(), heads.end(), parent) != heads.end())
        versions.push_back(
            fmt::format("INSERT INTO {} (version_num) VALUES ({})", table, literal(parent)));
    plan.add_revision(r, false, versions,
                      fmt::format("Running downgrade {} -> {}, {}", r.revision,
                                  or_base(r.down_revisions), r.message));
  }
  return plan;
}

namespace {

// Runs a plan's steps; a failure rolls back the open transaction and names file, line, statement.
template <class Plan>
void execute(Connection& conn, const Plan& plan, const MigratorOptions& options) {
  bool in_transaction = false;
  for (const auto& step : plan.steps) {
    if (!step.log.empty() && options.log) options.log(step.log);
    if (options.on_statement) options.on_statement(step.sql);
    try {
      conn.execute(step.sql);
      if (step.sql == "BEGIN") in_transaction = true;
      if (step.sql == "COMMIT") in_transaction = false;
    } catch (const Error& e) {
      if (in_transaction && conn.is_open()) {
        try {
          conn.execute("ROLLBACK");
        } catch (...) {
        }
      }
      ErrorInfo info = e.info();
      info.statement = step.sql;
      std::string where;
      if (step.revision) {
        std::string file = step.revision->path.empty() ? "revision " + step.revision->revision
                                                       : step.revision->path.string();
        where = step.statement ? fmt::format("{}:{}", file, step.statement->line)
                               : fmt::format("{} (version table update)", file);
      } else {
        where = "version table setup";
      }
      info.message = fmt::format(
          "migration failed at {}: {}{}", where, e.info().message,
          in_transaction ? "; its transaction was rolled back"
                         : " (outside a transaction: earlier statements of this migration may "
                           "have been committed)");
      throw MigrationError(std::move(info));
    }
  }
}

template <class Plan>
std::string render(const Plan& plan, std::string_view title) {
  std::string out = fmt::format("-- {}\n-- Generated by pgorm migrate --sql.\n", title);
  for (const auto& step : plan.steps) {
    if (!step.comment.empty()) out += fmt::format("\n-- {}\n", step.comment);
    if (step.statement && step.statement->no_transaction) out += "-- +no-transaction\n";
    out += step.sql + ";\n";
  }
  return out;
}

}  // namespace

void Migrator::run(bool upgrade, std::string_view target) {
  RevisionMap map = load();  // every file checked before the database is touched
  Connection lock_conn = open(options_);
  std::string schema = options_.schema.empty() ? current_schema(lock_conn) : options_.schema;
  MigrationLock lock(options_, lock_conn, schema);
  Connection conn = open(options_);
  // Read after the lock is held: another instance may have just migrated. The plan creates the
  // version table if needed, so a plan that fails leaves the database untouched.
  std::vector<std::string> current = read_versions(conn, options_.version_table);
  check_known(map, current, options_.directory);
  Plan plan = upgrade ? plan_upgrade(map, current, target) : plan_downgrade(map, current, target);
  if (plan.steps.size() == 1 && options_.log)
    options_.log(fmt::format("Nothing to do: the database is at {}", or_base(current)));
  execute(conn, plan, options_);
}

void Migrator::upgrade(std::string_view target) {
  run(true, target);
}
void Migrator::downgrade(std::string_view target) {
  run(false, target);
}

std::string Migrator::script(bool upgrade, std::string_view target, std::string_view from) {
  RevisionMap map = load();
  std::vector<std::string> current;
  if (from.empty()) {
    Connection conn = open(options_);
    current = read_versions(conn, options_.version_table);
  } else if (from != "base") {
    for (const auto& id : split_ids(from)) current.push_back(map.get(id).revision);
  }
  check_known(map, current, options_.directory);
  Plan plan = upgrade ? plan_upgrade(map, current, target) : plan_downgrade(map, current, target);
  return render(plan, fmt::format("{} from {} to {}", upgrade ? "upgrade" : "downgrade",
                                  or_base(current), target));
}

std::string Migrator::upgrade_sql(std::string_view target, std::string_view from) {
  return script(true, target, from);
}
std::string Migrator::downgrade_sql(std::string_view target, std::string_view from) {
  return script(false, target, from);
}

void Migrator::stamp(std::string_view target) {
  RevisionMap map = load();
  std::vector<std::string> ids;
  if (target == "head") {
    ids = map.heads();
    if (ids.size() > 1)
      fail(fmt::format("multiple heads: {}; stamp 'heads' or name them", join(ids)));
  } else if (target == "heads") {
    ids = map.heads();
  } else if (target != "base") {
    for (const auto& id : split_ids(target)) ids.push_back(map.get(id).revision);
  }
  Connection lock_conn = open(options_);
  std::string schema = options_.schema.empty() ? current_schema(lock_conn) : options_.schema;
  MigrationLock lock(options_, lock_conn, schema);
  Connection conn = open(options_);
  Plan plan;
  std::string table = sql::quote_identifier(options_.version_table);
  plan.add(create_version_table_sql(options_.version_table));
  plan.add("BEGIN");
  plan.add("DELETE FROM " + table);
  for (const auto& id : map.heads_of(map.closure(ids)))
    plan.add(fmt::format("INSERT INTO {} (version_num) VALUES ({})", table, literal(id)));
  plan.add("COMMIT");
  if (options_.log) options_.log(fmt::format("Stamping the database at {}", or_base(ids)));
  execute(conn, plan, options_);
}

std::vector<std::string> Migrator::current() {
  Connection conn = open(options_);
  return read_versions(conn, options_.version_table);
}

std::vector<HistoryEntry> Migrator::history(bool mark_current) {
  RevisionMap map = load();
  std::vector<std::string> current;
  if (mark_current) current = this->current();
  auto heads = map.heads();
  std::vector<HistoryEntry> out;
  for (auto it = map.order().rbegin(); it != map.order().rend(); ++it) {
    const RevisionFile& r = map.get(*it);
    HistoryEntry e{r.revision, r.down_revisions, r.message, r.created, r.path, false, false};
    e.is_head = std::find(heads.begin(), heads.end(), r.revision) != heads.end();
    e.is_current = std::find(current.begin(), current.end(), r.revision) != current.end();
    out.push_back(std::move(e));
  }
  return out;
}

namespace {
NewRevision write_revision(RevisionFile file, std::vector<std::string> changes,
                           const std::filesystem::path& directory) {
  file.path = directory / revision_file_name(file);
  std::string text = render_revision(file);
  // The writer and the reader must agree; a mismatch is a bug here, not in the user's models.
  RevisionFile back = parse_revision(text, file.path);
  auto same = [](const std::vector<Statement>& a, const std::vector<Statement>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i].sql != b[i].sql || a[i].no_transaction != b[i].no_transaction) return false;
    return true;
  };
  auto nonempty = [](std::vector<Statement> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](const Statement& s) { return s.sql.empty(); }),
            v.end());
    return v;
  };
  if (!same(back.upgrade, nonempty(file.upgrade)) ||
      !same(back.downgrade, nonempty(file.downgrade)))
    fail(fmt::format("internal error: the generated file {} does not read back as written",
                     file.path.string()));
  std::error_code ec;
  if (std::filesystem::exists(file.path, ec))
    fail(fmt::format("{} already exists", file.path.string()));
  std::ofstream out(file.path, std::ios::binary);
  out << text;
  out.close();
  if (!out) fail(fmt::format("cannot write {}", file.path.string()));
  back.path = file.path;
  return {std::move(back), std::move(changes)};
}
}  // namespace

NewRevision Migrator::revision(std::string_view message, const Metadata* metadata,
                               std::string revision_id) {
  RevisionMap map = load();
  auto heads = map.heads();
  if (heads.size() > 1)
    fail(fmt::format("multiple heads: {}; join them with `merge` first", join(heads)));
  RevisionFile file;
  file.revision = revision_id.empty() ? new_revision_id() : std::move(revision_id);
  if (!valid_revision_id(file.revision))
    fail(fmt::format("bad revision id '{}' (use 1 to 64 characters of A-Z, a-z, 0-9, _)",
                     file.revision));
  if (map.contains(file.revision)) fail(fmt::format("revision {} exists already", file.revision));
  file.down_revisions = heads;
  file.message = std::string(message);
  file.created = now_iso();
  std::vector<std::string> changes;
  if (metadata) {
    Connection conn = open(options_);
    auto current = read_versions(conn, options_.version_table);
    check_known(map, current, options_.directory);
    if (std::set<std::string>(current.begin(), current.end()) !=
        std::set<std::string>(heads.begin(), heads.end()))
      fail(
          fmt::format("the database is not up to date (it is at {}, the head is {}): run "
                      "`upgrade head` before autogenerate, or the new file would repeat the "
                      "pending migrations",
                      or_base(current), or_base(heads)));
    Schema database = reflect(conn, options_.schema);
    Schema models = reflect_models(conn, *metadata);
    CompareOptions compare_options;
    compare_options.ignore_tables.push_back(options_.version_table);
    Diff up = compare(database, models, compare_options);
    Diff down = compare(models, database, compare_options);
    file.upgrade = std::move(up.statements);
    file.downgrade = std::move(down.statements);
    changes = std::move(up.changes);
  }
  return write_revision(std::move(file), std::move(changes), options_.directory);
}

NewRevision Migrator::merge(std::string_view message, std::vector<std::string> revisions) {
  RevisionMap map = load();
  if (revisions.empty()) revisions = map.heads();
  if (revisions.size() < 2) fail(fmt::format("nothing to merge: {} head(s)", revisions.size()));
  RevisionFile file;
  file.revision = new_revision_id();
  for (const auto& r : revisions) file.down_revisions.push_back(map.get(r).revision);
  file.message = std::string(message.empty() ? "merge " + join(file.down_revisions) : message);
  file.created = now_iso();
  return write_revision(std::move(file), {}, options_.directory);
}

std::vector<std::string> Migrator::check(const Metadata& metadata) {
  RevisionMap map = load();
  Connection conn = open(options_);
  auto current = read_versions(conn, options_.version_table);
  check_known(map, current, options_.directory);
  auto heads = map.heads();
  std::vector<std::string> out;
  if (std::set<std::string>(current.begin(), current.end()) !=
      std::set<std::string>(heads.begin(), heads.end()))
    out.push_back(fmt::format("the database is at {}, the head is {}: run upgrade",
                              or_base(current), or_base(heads)));
  CompareOptions compare_options;
  compare_options.ignore_tables.push_back(options_.version_table);
  Diff diff =
      compare(reflect(conn, options_.schema), reflect_models(conn, metadata), compare_options);
  for (auto& c : diff.changes) out.push_back(std::move(c));
  return out;
}

}  // namespace pgorm::migrate
