#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds with -Werror (clang 19 against
# libpqxx 7.8.1, built first into build/libpqxx7; clang 16, ASan+UBSan and TSan with GCC 12 against
# Debian's libpqxx 6.4), starts a throwaway PostgreSQL (unless DATABASE_URL is set) and runs ctest
# in the clang 19 and ASan builds (TSan: the concurrency tests, built alone), then installs the clang 16 build
# and builds separate consumer projects with find_package(pgorm) and pkg-config (with GCC).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/libpqxx7.sh
install_deps clang-19 clang-16
start=$(date +%s)
# Every option is given, so that an earlier configure of the same directory cannot drop the tests.
# Each compiler and libpqxx once, no extra build: clang 19 builds the plain one (library, tests,
# examples, and its compile-fail checks) against libpqxx 7; clang 16 the library and examples;
# GCC the sanitizer ones. The clang 19 build is optimized as users build (-O2, asserts off) but
# without debug information, which nothing here reads and which costs a quarter of its compile
# time.
build_libpqxx7 clang++-19
forget_other_libpqxx build/clang
build build/clang -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_PREFIX_PATH="$PGORM_LIBPQXX7_PREFIX" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DPGORM_WERROR=ON \
  -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=ON -DPGORM_SANITIZE= \
  -DPGORM_CONCURRENCY_TESTS_ONLY=OFF
build build/clang16 -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Release -DPGORM_WERROR=ON \
  -DPGORM_BUILD_TESTS=OFF -DPGORM_BUILD_EXAMPLES=ON -DPGORM_SANITIZE=
build build/asan -DCMAKE_CXX_COMPILER=g++ -DPGORM_WERROR=ON -DPGORM_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF \
  -DPGORM_CONCURRENCY_TESTS_ONLY=OFF
build build/tsan -DCMAKE_CXX_COMPILER=g++ -DPGORM_WERROR=ON -DPGORM_SANITIZE=thread \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGORM_BUILD_TESTS=ON -DPGORM_BUILD_EXAMPLES=OFF \
  -DPGORM_CONCURRENCY_TESTS_ONLY=ON
echo "== builds took $(( $(date +%s) - start )) s"
with_database bash scripts/run-tests.sh
echo "== all done in $(( $(date +%s) - start )) s"
