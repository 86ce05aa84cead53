#!/usr/bin/env bash
# Runs the benchmark suite (issue 7) and rewrites the generated parts of docs/PERFORMANCE.md:
# installs what is missing, builds bench/ in Release with -Werror, then, in a throwaway
# PostgreSQL 15 (pg_virtualenv, fsync=off), runs pgorm against raw libpq, raw libpqxx,
# SQLAlchemy 1.4 ORM and asyncpg, measures the peak RSS of loading 100,000 rows and, with
# --callgrind, the client-side instruction counts of every workload.
#
#   bash scripts/bench.sh                 timings + memory (about 5 minutes on 2 cores)
#   bash scripts/bench.sh --callgrind     also instruction counts and profiles (about 10 more)
#   bash scripts/bench.sh --rounds 3      fewer rounds (default 5, plus one warm-up round)
#   bash scripts/bench.sh --no-doc        leave docs/PERFORMANCE.md alone (results in build/bench/)
#   bash scripts/bench.sh --deployment    only the deployment table (direct, PgBouncer, replica,
#                                         read-your-writes) for docs/deployment.md
#   bash scripts/bench.sh --stream        only the streaming table (stream() over 100,000 and
#                                         1,000,000 rows against raw libpq: time, peak RSS) for
#                                         docs/PERFORMANCE.md, "Streaming"
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

callgrind=0
rounds=5
write_doc=1
deployment=0
stream=0
while [ $# -gt 0 ]; do
  case "$1" in
    --callgrind) callgrind=1 ;;
    --rounds) rounds=$2; shift ;;
    --no-doc) write_doc=0 ;;
    --deployment) deployment=1 ;;
    --stream) stream=1 ;;
    *) echo "usage: bash scripts/bench.sh [--callgrind] [--rounds N] [--no-doc] [--deployment] [--stream]" >&2; exit 2 ;;
  esac
  shift
done

out=build/bench/results
py=/usr/bin/python3  # Debian's python3 packages live there; another python3 may come first on PATH

# The part that needs the database (pg_virtualenv exports PGHOST, PGPORT, PGUSER, PGPASSWORD).
if [ "${BENCH_INSIDE:-}" = deployment ]; then
  source scripts/pgbouncer.sh
  source scripts/replicas.sh
  trap 'stop_pgbouncer; stop_replicas' EXIT
  start_pgbouncer
  start_replicas
  build/bench/bench/deployment_bench "$rounds" | tee "$out/deployment.md"
  exit 0
fi
if [ "${BENCH_INSIDE:-}" = stream ]; then
  for rows in 100000 1000000; do
    build/bench/bench/stream_bench "$rows" "$rounds"
    echo
  done | tee "$out/stream.md"
  exit 0
fi
if [ "${BENCH_INSIDE:-}" = 1 ]; then
  bin=build/bench/bench/pgorm_bench
  echo "== timings: $rounds rounds, C++ and Python contenders interleaved"
  "$bin" --rounds "$rounds" --out "$out/results.jsonl" --python bench/python_bench.py --python-exe "$py"
  echo "== peak RSS of loading 100,000 rows"
  "$bin" --rss "$out/rss.json"
  "$py" bench/python_bench.py --versions > "$out/python-versions.json"
  if [ "$callgrind" = 1 ]; then
    echo "== instruction counts (valgrind --tool=callgrind), twice to show they are stable"
    for run in 1 2; do
      rm -rf "$out/callgrind.$run" && mkdir -p "$out/callgrind.$run"
      valgrind --tool=callgrind --collect-atstart=no --dump-instr=no \
        --callgrind-out-file="$out/callgrind.$run/callgrind.out" \
        "$bin" --callgrind --out "$out/callgrind.$run/results.jsonl" 2> "$out/callgrind.$run/log"
    done
  fi
  exit 0
fi

# Debian packages the benchmark needs beyond the library's (scripts/lib.sh installs those).
BENCH_PACKAGES=(python3-sqlalchemy python3-psycopg2 python3-asyncpg)
[ "$callgrind" = 1 ] && BENCH_PACKAGES+=(valgrind)
install_deps "${BENCH_PACKAGES[@]}"

# pgorm_bench itself always compiles with -Werror (bench/CMakeLists.txt); the library keeps its
# own PGORM_WERROR setting (off here: -O3 shows a -Wrestrict false positive in libstdc++).
echo "== building build/bench (Release)"
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DPGORM_BUILD_BENCH=ON -DPGORM_BUILD_TESTS=OFF \
  -DPGORM_BUILD_EXAMPLES=OFF > build/bench.configure.log 2>&1 ||
  { cat build/bench.configure.log; exit 1; }
# Two cores are shared with other builds: never more than -j2.
target=pgorm_bench
[ "$deployment" = 1 ] && target=deployment_bench
[ "$stream" = 1 ] && target=stream_bench
cmake --build build/bench -j 2 --target "$target"

mkdir -p "$out"
rm -f "$out/results.jsonl" "$out/rss.json"
# Always a throwaway cluster (the benchmark drops and recreates the seed's tables).
unset DATABASE_URL
if [ "$deployment" = 1 ]; then
  install_deps pgbouncer
  BENCH_INSIDE=deployment pg_virtualenv -t -v 15 -o fsync=off -o max_connections=200 \
    bash scripts/bench.sh --rounds "$rounds"
  echo "== results in $out/deployment.md (copy them into docs/deployment.md)"
  exit 0
fi
if [ "$stream" = 1 ]; then
  BENCH_INSIDE=stream pg_virtualenv -t -v 15 -o fsync=off -o max_connections=200 \
    bash scripts/bench.sh --rounds "$rounds"
  echo "== results in $out/stream.md (copy them into docs/PERFORMANCE.md, \"Streaming\")"
  exit 0
fi
BENCH_INSIDE=1 pg_virtualenv -t -v 15 -o fsync=off -o max_connections=200 \
  bash scripts/bench.sh --rounds "$rounds" $([ "$callgrind" = 1 ] && echo --callgrind)

report_args=(--results "$out/results.jsonl" --rss "$out/rss.json"
             --python-versions "$out/python-versions.json")
[ "$callgrind" = 1 ] && report_args+=(--callgrind "$out/callgrind.1" --callgrind-again "$out/callgrind.2")
if [ "$write_doc" = 1 ]; then
  "$py" bench/report.py "${report_args[@]}" --doc docs/PERFORMANCE.md
  echo "== docs/PERFORMANCE.md updated"
else
  "$py" bench/report.py "${report_args[@]}"
fi
