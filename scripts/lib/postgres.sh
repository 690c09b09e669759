# Sourced: starts a throwaway PostgreSQL cluster for the tests and exports
# PARCHMENT_TEST_POSTGRES_URL. The cluster is stopped and removed when the shell exits.
#   . scripts/lib/postgres.sh && start_test_postgres

start_test_postgres() {
  local bindir initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$initdb" ]; then
    echo "installing postgresql (Debian)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null
    }
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
  fi
  bindir=$(dirname "$initdb")

  # PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
  local run_as=()
  if [ "$(id -u)" = 0 ]; then
    run_as=(runuser -u postgres --)
  fi

  PG_TEST_DIR=$(mktemp -d /tmp/parchment-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_TEST_DIR"
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

  "${run_as[@]}" "$bindir/initdb" -D "$PG_TEST_DIR/data" -U postgres \
    --auth-local=trust --auth-host=trust >"$PG_TEST_DIR/initdb.log" 2>&1 || {
    cat "$PG_TEST_DIR/initdb.log" >&2
    return 1
  }
  # Throwaway data: durability off makes the per-test databases fast to create.
  "${run_as[@]}" "$bindir/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    -w start >/dev/null || {
    cat "$PG_TEST_DIR/server.log" >&2
    return 1
  }
  PG_TEST_BINDIR=$bindir
  PG_TEST_RUN_AS=("${run_as[@]}")
  export PARCHMENT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  trap stop_test_postgres EXIT
  echo "PostgreSQL test cluster on port $port ($PG_TEST_DIR)" >&2
}

stop_test_postgres() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    "${PG_TEST_RUN_AS[@]}" "$PG_TEST_BINDIR/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
  fi
  PG_TEST_DIR=
}
