#!/usr/bin/env bash
# Runs the example app (examples/todo) end to end: installs what is missing, builds, starts a
# throwaway PostgreSQL (unless DATABASE_URL is set), creates the schema and runs the CRUD demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_deps
build build/release -DPGORM_BUILD_TESTS=OFF -DPGORM_BUILD_EXAMPLES=ON
with_database ./build/release/examples/todo/todo_app
