#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds with -Werror (plain with clang 19,
# ASan+UBSan and TSan with GCC 12), starts a throwaway PostgreSQL (unless DATABASE_URL is set) and
# runs ctest in each build (TSan: the concurrency tests), then installs the package and builds
# separate consumer projects with find_package(pgorm) and pkg-config (with GCC).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_deps clang-19
start=$(date +%s)
# Every option is given, so that an earlier configure of the same directory cannot drop the tests.
# Two compilers, no extra build: clang 19 builds the plain one (library, tests, examples, and its
# compile-fail checks), GCC the sanitizer ones.
build build/clang -DCMAKE_CXX_COMPILER=clang++-19 -DPGORM_WERROR=ON -DPGORM_BUILD_TESTS=ON \
  -DPGORM_BUILD_EXAMPLES=ON -DPGORM_SANITIZE=
build build/asan -DCMAKE_CXX_COMPILER=g++ -DPGORM_WERROR=ON -DPGORM_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF
build build/tsan -DCMAKE_CXX_COMPILER=g++ -DPGORM_WERROR=ON -DPGORM_SANITIZE=thread \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF
echo "== builds took $(( $(date +%s) - start )) s"
with_database bash scripts/run-tests.sh
echo "== all done in $(( $(date +%s) - start )) s"
