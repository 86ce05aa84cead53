# Sourced by scripts/run-tests.sh: streaming hot standbys on loopback for the [replica] and
# [failover] tests.
#
# start_replicas
#   - a standby of the test server (PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, as pg_virtualenv
#     exports them), made with pg_basebackup -R: PGORM_REPLICA_URL;
#   - a primary and standby pair of their own, which the [failover] test stops and promotes:
#     PGORM_FAILOVER_URL (both hosts, target_session_attrs=read-write), PGORM_FAILOVER_PRIMARY_URL,
#     PGORM_FAILOVER_STANDBY_URL, PGORM_FAILOVER_STOP_PRIMARY and PGORM_FAILOVER_PROMOTE (shell
#     commands). Its standby cancels conflicting queries at once (max_standby_streaming_delay=0).
# stop_replicas

PGORM_PG_BIN=${PGORM_PG_BIN:-/usr/lib/postgresql/15/bin}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, as_pg_owner

# wait_for_server PORT: until a server on PORT accepts connections (bounded: 30 s).
wait_for_server() {
  local tries=0
  until "$PGORM_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1"; do
    tries=$((tries + 1))
    if [ $tries -gt 300 ]; then
      echo "no server on port $1 after 30 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_server DIR PORT [extra postgres options]
start_server() {
  local dir=$1 port=$2
  shift 2
  as_pg_owner "$PGORM_PG_BIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 30 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' $*" start > /dev/null
  wait_for_server "$port"
}

start_replicas() {
  PGORM_REPLICAS_DIR=$(mktemp -d)
  local dir=$PGORM_REPLICAS_DIR
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  local user=${PGUSER:-postgres} db=${PGDATABASE:-postgres}

  # A standby of the test server.
  local port
  port=$(free_port 17432)
  as_pg_owner env PGPASSWORD="${PGPASSWORD:-}" "$PGORM_PG_BIN/pg_basebackup" -h 127.0.0.1 \
    -p "${PGPORT:-5432}" -U "$user" -D "$dir/standby" -R -X stream -c fast
  # A Debian cluster (pg_virtualenv's) keeps its configuration outside the data directory: the
  # standby gets the primary's pg_hba.conf and an empty postgresql.conf (its settings come below).
  if [ ! -f "$dir/standby/postgresql.conf" ]; then
    cp "$(psql -h 127.0.0.1 -p "${PGPORT:-5432}" -U "$user" -d "$db" -Atc "SHOW hba_file")" \
      "$dir/standby/pg_hba.conf"
    : > "$dir/standby/postgresql.conf"
    : > "$dir/standby/pg_ident.conf"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/standby/"*.conf
  fi
  # A hot standby needs at least the primary's max_connections (and the like) or it stops.
  local settings="" name value
  for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
    max_locks_per_transaction; do
    value=$(psql -h 127.0.0.1 -p "${PGPORT:-5432}" -U "$user" -d "$db" -Atc "SHOW $name")
    settings+=" -c $name=$value"
  done
  start_server "$dir/standby" "$port" "$settings"
  # No password in the URL: libpq takes PGPASSWORD, as for the test server.
  export PGORM_REPLICA_URL="postgresql://$user@127.0.0.1:$port/$db"

  export PGORM_REQUIRE_REPLICAS=1  # the [replica] and [failover] tests fail rather than skip
  echo "== streaming standby 127.0.0.1:$port"
  start_failover_pair
}

# A fresh primary and standby pair (the [failover] test leaves its pair failed over, so the test
# command makes a new one before each ctest run).
start_failover_pair() {
  local dir=$PGORM_REPLICAS_DIR
  stop_failover_pair
  local p1 p2
  p1=$(free_port 17500)
  as_pg_owner "$PGORM_PG_BIN/initdb" -D "$dir/pair-primary" -A trust -U postgres > /dev/null
  start_server "$dir/pair-primary" "$p1"
  p2=$(free_port $((p1 + 1)))
  as_pg_owner "$PGORM_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres \
    -D "$dir/pair-standby" -R -X stream -c fast
  start_server "$dir/pair-standby" "$p2" "-c max_standby_streaming_delay=0"
  export PGORM_FAILOVER_PRIMARY_URL="postgresql://postgres@127.0.0.1:$p1/postgres"
  export PGORM_FAILOVER_STANDBY_URL="postgresql://postgres@127.0.0.1:$p2/postgres"
  export PGORM_FAILOVER_URL="postgresql://postgres@127.0.0.1:$p1,127.0.0.1:$p2/postgres?target_session_attrs=read-write"
  local ctl="$PGORM_PG_BIN/pg_ctl"
  [ "$(id -u)" = 0 ] && ctl="runuser -u postgres -- $ctl"
  export PGORM_FAILOVER_STOP_PRIMARY="$ctl -D $dir/pair-primary -m immediate -w stop > /dev/null"
  export PGORM_FAILOVER_PROMOTE="$ctl -D $dir/pair-standby -w promote > /dev/null"
  echo "== failover pair 127.0.0.1:$p1 -> 127.0.0.1:$p2"
}

stop_failover_pair() {
  local dir=${PGORM_REPLICAS_DIR:-} d
  [ -n "$dir" ] || return 0
  for d in pair-standby pair-primary; do
    [ -f "$dir/$d/postmaster.pid" ] &&
      as_pg_owner "$PGORM_PG_BIN/pg_ctl" -D "$dir/$d" -m immediate stop > /dev/null 2>&1
  done
  rm -rf "$dir/pair-standby" "$dir/pair-primary" "$dir/pair-standby.log" "$dir/pair-primary.log"
  return 0
}

stop_replicas() {
  local dir=${PGORM_REPLICAS_DIR:-}
  [ -n "$dir" ] || return 0
  stop_failover_pair
  [ -f "$dir/standby/postmaster.pid" ] &&
    as_pg_owner "$PGORM_PG_BIN/pg_ctl" -D "$dir/standby" -m immediate stop > /dev/null 2>&1
  rm -rf "$dir"
}
