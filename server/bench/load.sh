#!/usr/bin/env bash
# Load benchmark: an authenticated GET (default /users/me/preferences) on loopback with wrk,
# on SQLite and on PostgreSQL (rate limits off). Prints req/s and latency percentiles.
#   server/bench/load.sh [seconds] [connections] [path]
#   server/bench/load.sh 10 64 /users/me/devices/bench-device-1/wrap-secret
# PostgreSQL: uses PARCHMENT_TEST_POSTGRES_URL if set, else starts a throwaway cluster.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
duration="${1:-10}"
connections="${2:-64}"
path="${3:-/users/me/preferences}"

command -v wrk >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
}
cargo build -q --release -p parchment-server
bin="$root/target/release/parchment-server"

if [ -z "${PARCHMENT_TEST_POSTGRES_URL:-}" ]; then
  . "$root/scripts/lib/postgres.sh"
  start_test_postgres
fi

work=$(mktemp -d /tmp/parchment-bench.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if declare -F stop_test_postgres >/dev/null; then stop_test_postgres; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

run_one() {
  local name=$1 url=$2 port token
  port=$(free_port)
  export PARCHMENT_DATA_DIR="$work/$name" DATABASE_URL="$url" RUST_LOG=warn
  mkdir -p "$PARCHMENT_DATA_DIR"
  "$bin" admin create-user --email bench@example.com --first-name Bench --last-name User >/dev/null
  token=$("$bin" admin issue-token --email bench@example.com)
  PARCHMENT_RATE_LIMITS=off "$bin" serve --bind "127.0.0.1:$port" &
  server_pid=$!
  for _ in $(seq 1 50); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" && break
    sleep 0.1
  done
  # Warm-up, then the measured run.
  wrk -t2 -c"$connections" -d2s -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" >/dev/null
  echo "== $name: GET $path, ${duration}s, $connections connections"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|errors"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=
  unset DATABASE_URL
}

run_one sqlite "sqlite://$work/sqlite/parchment.db?mode=rwc"

pg_db="bench_$(date +%s)"
psql -q "$PARCHMENT_TEST_POSTGRES_URL" -c "CREATE DATABASE $pg_db"
run_one postgres "${PARCHMENT_TEST_POSTGRES_URL%/*}/$pg_db"
psql -q "$PARCHMENT_TEST_POSTGRES_URL" -c "DROP DATABASE $pg_db WITH (FORCE)" || true
