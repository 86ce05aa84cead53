#!/usr/bin/env bash
# Compile time of a pgorm user's translation units: g++ -std=c++20 -O2 -c, the median of N runs
# (default 3) of user+system CPU seconds, so that other load on the machine changes it little.
#   bash bench/compile_time.sh [N]
# Prints one line per TU: an empty TU with only <pgorm/pgorm.hpp>, the same with
# <pgorm/async.hpp>, examples/todo/main.cpp (the example app's main file with its headers) as it
# is, with its models' code declared extern (PGORM_EXTERN_MODEL, compiled once in models.cpp), and
# the same file without those declarations, and models.cpp itself.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cxx=${CXX:-g++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#include <pgorm/pgorm.hpp>\nint main() { return 0; }\n' > "$work/pgorm_only.cpp"
printf '#include <pgorm/async.hpp>\nint main() { return 0; }\n' > "$work/async_only.cpp"
mkdir "$work/todo"
cp examples/todo/main.cpp examples/todo/todo_service.hpp "$work/todo/"
sed '/^PGORM_EXTERN_MODEL/d' examples/todo/models.hpp > "$work/todo/models.hpp"
flags=(-std=c++20 -O2 -Iinclude $(pkg-config --cflags libpq libpqxx) -DASIO_DISABLE_STD_ALIGNED_ALLOC)
measure() {
  local name=$1 source=$2
  local times=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%U %S' -o "$work/t" "$cxx" "${flags[@]}" -Iexamples/todo -c "$source" \
      -o "$work/out.o"
    times+=("$(awk '{ printf "%.2f", $1 + $2 }' "$work/t")")
  done
  printf '%-28s %s s (runs: %s)\n' "$name" \
    "$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')" \
    "${times[*]}"
}
echo "compiler: $("$cxx" --version | head -1)"
measure "<pgorm/pgorm.hpp> only" "$work/pgorm_only.cpp"
measure "<pgorm/async.hpp> only" "$work/async_only.cpp"
measure "examples/todo/main.cpp" examples/todo/main.cpp
measure "  without PGORM_EXTERN_MODEL" "$work/todo/main.cpp"
measure "examples/todo/models.cpp" examples/todo/models.cpp
