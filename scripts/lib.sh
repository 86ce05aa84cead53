# Shared steps of the README commands: install what is missing, build, run against PostgreSQL.
# Sourced by scripts/demo.sh and scripts/test.sh (and by pgbouncer.sh and replicas.sh for the
# loopback helpers at the end); defines only; works as root on a fresh Debian 12 machine.

PGORM_PACKAGES=(build-essential cmake pkg-config libpqxx-dev libpq-dev libfmt-dev catch2
                libasio-dev postgresql-15 postgresql-common pgbouncer)

# install_deps [PACKAGE...]: installs the Debian packages pgorm needs, and the ones named, that are
# not installed yet (apt-get update only when needed).
install_deps() {
  local missing=()
  for p in "${PGORM_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# build DIR [cmake options...]: configure and build into DIR.
build() {
  local dir=$1 start
  shift
  start=$(date +%s)
  echo "== building $dir"
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" > "$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" -j "$(nproc)"
  echo "== $dir built in $(($(date +%s) - start)) s"
}

# with_database COMMAND...: runs COMMAND against the server in DATABASE_URL if set, otherwise in
# a throwaway PostgreSQL 15 cluster made by pg_virtualenv (which exports PGHOST, PGPORT, ...).
with_database() {
  if [ -n "${DATABASE_URL:-}" ]; then
    "$@"
  else
    pg_virtualenv -t -v 15 -o 'max_connections=200' -o 'fsync=off' "$@"
  fi
}

# free_port START: a loopback port from START on that nothing listens on (bounded search).
free_port() {
  local port
  for port in $(seq "$1" $(($1 + 100))); do
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port in $1-$(($1 + 100))" >&2
  return 1
}

# as_pg_owner COMMAND...: runs it as postgres when we are root (PostgreSQL and PgBouncer refuse
# to run as root), else as ourselves.
as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
