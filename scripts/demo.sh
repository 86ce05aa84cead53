#!/usr/bin/env bash
# Runs the example apps end to end: installs what is missing, builds, starts a throwaway
# PostgreSQL (unless DATABASE_URL is set), then runs the todo service (examples/todo) and the same
# service written with coroutines (examples/async_todo), each creating and dropping its schema.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_deps
# A build directory of its own: the test command's builds keep their options.
build build/demo -DCMAKE_BUILD_TYPE=Release -DPGORM_BUILD_TESTS=OFF -DPGORM_BUILD_EXAMPLES=ON
with_database bash -c \
  './build/demo/examples/todo/todo_app && ./build/demo/examples/async_todo/async_todo_app'
