#!/usr/bin/env bash
# The part of scripts/test.sh that needs the database: ctest in each build, then the consumer test.
set -euo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# PgBouncer in front of the throwaway server for the [pgbouncer] tests, a streaming standby of it
# for the [replica] tests and a primary/standby pair for the [failover] test (not for a server of
# your own given by DATABASE_URL: those tests then say they were skipped).
source scripts/pgbouncer.sh
source scripts/replicas.sh
prefix=$(mktemp -d)
trap 'stop_pgbouncer; stop_replicas; rm -rf "$prefix"' EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  start_pgbouncer
  start_replicas
fi
for dir in build/clang build/asan; do
  # The [failover] test stops the pair's primary: each run gets a new pair.
  if [ -n "${PGORM_REPLICAS_DIR:-}" ] && [ "$dir" != build/clang ]; then start_failover_pair; fi
  echo "== ctest in $dir"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$(nproc)" --timeout 300
done
echo "== examples/hooks: slow-query log and N+1 detector (checks itself)"
build/clang/examples/hooks/hooks_app
echo "== concurrency tests under ThreadSanitizer"
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
  build/tsan/tests/pgorm_tests "[concurrency]"
echo "== consumer project against the installed package"
# From the clang 16 build: it uses Debian's libpqxx, which the consumers find (build/clang links
# a private libpqxx 7).
cmake --install build/clang16 --prefix "$prefix" > /dev/null
# The example app is the consumer: built alone, it finds pgorm only through find_package.
cmake -S examples/todo -B "$prefix/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$prefix/build" -j "$(nproc)"
"$prefix/build/todo_app"
cmake -S examples/async_todo -B "$prefix/build-async" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$prefix/build-async" -j "$(nproc)"
"$prefix/build-async/async_todo_app"
# And through pkg-config.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ tests/consumer/pkg_config_check.cpp -o "$prefix/pc_check" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs pgorm)
"$prefix/pc_check"
# A consumer that includes <string> before <pgorm/async.hpp>, under ASan: it must agree with the
# library on Asio's allocation functions (the package exports ASIO_DISABLE_STD_ALIGNED_ALLOC).
c++ -O0 -fsanitize=address -fno-omit-frame-pointer tests/consumer/asan_async_check.cpp \
  -o "$prefix/asan_async_check" $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs pgorm)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:alloc_dealloc_mismatch=1 "$prefix/asan_async_check"
