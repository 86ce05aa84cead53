#!/usr/bin/env bash
# Runs the example apps end to end: installs what is missing, builds, starts a throwaway
# PostgreSQL (unless DATABASE_URL is set), then runs the todo service (examples/todo) and the same
# service written with coroutines (examples/async_todo), each creating and dropping its schema.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_deps
build build/release -DPGORM_BUILD_TESTS=OFF -DPGORM_BUILD_EXAMPLES=ON
with_database bash -c \
  './build/release/examples/todo/todo_app && ./build/release/examples/async_todo/async_todo_app'
