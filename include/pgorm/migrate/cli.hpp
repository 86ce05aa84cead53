// The migration command line, run from the application's own small binary (autogenerate needs
// the compiled models):
//
//   #include <pgorm/migrate/migrate.hpp>
//   int main(int argc, char** argv) { return pgorm::migrate::main(argc, argv, app::metadata()); }
//
// Commands: init DIR | revision -m MSG [--autogenerate] [--rev-id ID] | upgrade [head|heads|REV|+N]
// [--sql [--from REV]] | downgrade -N|REV|base [--sql [--from REV]] | current [-v] | history [-v] |
// heads | merge [-m MSG] [REV...] | stamp REV | check. Options: --url URL (else DATABASE_URL, else
// libpq's PG* variables), --dir DIR, --config FILE (default ./pgorm-migrate.ini), --schema NAME,
// --version-table NAME, --lock-timeout SECONDS. `pgorm_add_migrate_tool` in CMake builds the
// binary.
#pragma once

#include <ostream>

#include "pgorm/model/metadata.hpp"

namespace pgorm::migrate {

// Returns the process exit code: 0 on success, 1 when a command fails or `check` finds
// differences, 2 for a usage error.
int main(int argc, char** argv, const Metadata& metadata);
// The same with explicit streams (tests).
int main(int argc, char** argv, const Metadata& metadata, std::ostream& out, std::ostream& err);

}  // namespace pgorm::migrate
