# Sourced by scripts/run-tests.sh: starts PgBouncer on loopback in front of the test server
# (PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, as pg_virtualenv exports them) with two pools --
# transaction mode (database "<PGDATABASE>") and session mode ("<PGDATABASE>_session") -- and
# exports PGORM_PGBOUNCER_URL and PGORM_PGBOUNCER_SESSION_URL for the [pgbouncer] tests.
# start_pgbouncer; ...; stop_pgbouncer

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, as_pg_owner

start_pgbouncer() {
  PGORM_PGBOUNCER_DIR=$(mktemp -d)
  local dir=$PGORM_PGBOUNCER_DIR port
  port=$(free_port 16432)
  local server="host=127.0.0.1 port=${PGPORT:-5432} dbname=${PGDATABASE:-postgres}"
  server+=" user=${PGUSER:-postgres} password=${PGPASSWORD:-}"
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
${PGDATABASE:-postgres} = $server pool_mode=transaction
${PGDATABASE:-postgres}_session = $server pool_mode=session

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 8
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  printf '"%s" ""\n' "${PGUSER:-postgres}" > "$dir/userlist.txt"
  # PgBouncer refuses to run as root.
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  as_pg_owner pgbouncer -d "$dir/pgbouncer.ini"
  local tries=0
  until (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do
    tries=$((tries + 1))
    if [ $tries -gt 50 ]; then
      echo "PgBouncer did not start:"; cat "$dir/pgbouncer.log"; return 1
    fi
    sleep 0.1
  done
  local base="postgresql://${PGUSER:-postgres}@127.0.0.1:$port"
  export PGORM_PGBOUNCER_URL="$base/${PGDATABASE:-postgres}"
  export PGORM_PGBOUNCER_SESSION_URL="$base/${PGDATABASE:-postgres}_session"
  export PGORM_REQUIRE_PGBOUNCER=1  # the [pgbouncer] test fails rather than skips without them
  echo "== PgBouncer 127.0.0.1:$port (transaction and session pools)"
}

stop_pgbouncer() {
  local dir=${PGORM_PGBOUNCER_DIR:-}
  [ -n "$dir" ] || return 0
  [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2> /dev/null || true
  rm -rf "$dir"
}
