// pgorm::migrate::Migrator: Alembic's commands as a C++ API (init, revision, upgrade, downgrade,
// current, history, heads, merge, stamp, check). The CLI (cli.hpp) is a thin layer over it.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgorm/engine/engine.hpp"
#include "pgorm/migrate/diff.hpp"
#include "pgorm/migrate/revisions.hpp"
#include "pgorm/migrate/script.hpp"
#include "pgorm/model/metadata.hpp"

namespace pgorm::migrate {

struct MigratorOptions {
  // A postgresql:// URL or libpq keyword string; empty: DATABASE_URL, else libpq's PG* variables.
  std::string url;
  // What sits between the migrator and PostgreSQL. Pooler::transaction is refused by every command
  // that connects (ConfigurationError, before connecting): the migrator holds a session-level
  // advisory lock and sets the session's search_path, which a transaction pooler does not keep
  // from one transaction to the next. Give the migrator the server's own address (or a
  // session-mode pool) instead.
  Pooler pooler = Pooler::none;
  // The versions directory: one <revision>_<slug>.sql file per revision.
  std::filesystem::path directory;
  // The schema migrated and reflected; empty: the connection's current_schema(). When set, the
  // migrator's connections use it as their search_path.
  std::string schema;
  // Holds the applied heads, like alembic_version.
  std::string version_table = "pgorm_version";
  // How long upgrade / downgrade / stamp wait for another migrator to finish.
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(60)};
  // Progress lines ("Running upgrade a -> b, message"); none when empty.
  std::function<void(std::string_view)> log;
  // Called with every statement upgrade / downgrade / stamp send as part of a plan, before it is
  // sent (BEGIN and COMMIT included): the same statements `--sql` prints.
  std::function<void(std::string_view)> on_statement;
};

// One revision as history() lists it.
struct HistoryEntry {
  std::string revision;
  std::vector<std::string> down_revisions;
  std::string message;
  std::string created;
  std::filesystem::path path;
  bool is_head = false;
  bool is_current = false;  // in the database's version table (only when history() was asked to)
};

// What revision() wrote.
struct NewRevision {
  RevisionFile file;
  std::vector<std::string> changes;  // autogenerate's findings, empty otherwise
};

class Migrator {
 public:
  explicit Migrator(MigratorOptions options);

  // Creates `directory` (it must not exist, or be empty). Needs no database.
  static void init(const std::filesystem::path& directory);

  // Writes a new revision file on top of the single head (several heads: MigrationError, merge
  // first). With `metadata` (autogenerate), the database must be at the head; the file then holds
  // the DDL that brings the database to the models, and back.
  NewRevision revision(std::string_view message, const Metadata* metadata = nullptr,
                       std::string revision_id = {});
  // A revision with no statements whose down_revisions are `revisions` (all heads when empty).
  NewRevision merge(std::string_view message, std::vector<std::string> revisions = {});

  // target: "head" (the single head), "heads", a revision id or unique prefix, or "+N".
  void upgrade(std::string_view target = "head");
  // target: "base", a revision id or prefix, or "-N".
  void downgrade(std::string_view target);
  // The script upgrade / downgrade would run. `from`: the revisions the database is assumed to be
  // at ("base" for an empty one; several separated by commas); empty: read from the database.
  std::string upgrade_sql(std::string_view target = "head", std::string_view from = {});
  std::string downgrade_sql(std::string_view target, std::string_view from = {});
  // Sets the version table to `target` ("base", "head", "heads" or revision ids, comma-separated)
  // without running any migration.
  void stamp(std::string_view target);

  // The revisions in the database's version table (empty: base, or no version table yet).
  std::vector<std::string> current();
  std::vector<std::string> heads() const;
  // Newest first. With `mark_current`, reads the database to set is_current.
  std::vector<HistoryEntry> history(bool mark_current = false);
  // The differences between the database and the models, as `check` reports them: empty when
  // the database is at the head and matches the models.
  std::vector<std::string> check(const Metadata& metadata);

  const MigratorOptions& options() const noexcept { return options_; }
  // The versions directory, loaded and checked.
  RevisionMap load() const;

 private:
  struct Plan;
  Plan plan_upgrade(const RevisionMap& map, const std::vector<std::string>& current,
                    std::string_view target) const;
  Plan plan_downgrade(const RevisionMap& map, const std::vector<std::string>& current,
                      std::string_view target) const;
  void run(bool upgrade, std::string_view target);
  std::string script(bool upgrade, std::string_view target, std::string_view from);
  MigratorOptions options_;
};

}  // namespace pgorm::migrate
