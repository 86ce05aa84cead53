#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds with -Werror (plain and with
# ASan+UBSan, and with TSan for the concurrency tests), starts a throwaway PostgreSQL (unless DATABASE_URL is set) and runs ctest in each
# build, then installs the package and builds a separate consumer project with find_package(pgorm).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_deps
start=$(date +%s)
# Every option is given, so that an earlier configure of the same directory cannot drop the tests.
build build/release -DPGORM_WERROR=ON -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=ON \
  -DPGORM_SANITIZE=
build build/asan -DPGORM_WERROR=ON -DPGORM_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug \
  -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF
build build/tsan -DPGORM_WERROR=ON -DPGORM_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF
echo "== builds took $(( $(date +%s) - start )) s"
with_database bash scripts/run-tests.sh
echo "== all done in $(( $(date +%s) - start )) s"
