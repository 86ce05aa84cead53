// Everything of pgorm's migrations (not part of <pgorm/pgorm.hpp>: include it in the migration
// tool only): the C++ API (Migrator), the CLI entry point, reflection and the comparison.
#pragma once

#include "pgorm/errors.hpp"
#include "pgorm/migrate/cli.hpp"
#include "pgorm/migrate/diff.hpp"
#include "pgorm/migrate/migrator.hpp"
#include "pgorm/migrate/reflect.hpp"
#include "pgorm/migrate/revisions.hpp"
#include "pgorm/migrate/script.hpp"
