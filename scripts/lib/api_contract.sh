# Sourced: checks the published OpenAPI document and the server against it.
#   . scripts/lib/api_contract.sh && check_api_contract target/debug/parchment-server
# 1. openapi-spec-validator: openapi/openapi.json is a valid OpenAPI 3.0 document;
# 2. schemathesis (every check, every phase, stateful included) against a real server with a
#    signed-in administrator. Findings fail the run, except those in
#    openapi/schemathesis-baseline.json, each with its reason. Signing out (DELETE
#    /auth/sessions, /auth/sessions/all) is left out: it would end the run's own session.
# The Python tools live in target/pytools (pinned versions, from PyPI).
# SCHEMATHESIS_BASELINE_UPDATE=1 merges this run's findings into the baseline: give each new
# entry its reason in openapi/schemathesis-exceptions.md before committing it.

ensure_python_tools() {
  local root venv
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  venv="$root/target/pytools"
  if [ ! -x "$venv/bin/st" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
      openapi-spec-validator==0.9.0 schemathesis==4.32.5
  fi
  PYTOOLS="$venv/bin"
}

check_api_contract() {
  local root bin dir port token status=0
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="${1:?usage: check_api_contract <parchment-server binary>}"
  ensure_python_tools
  "$PYTOOLS/openapi-spec-validator" "$root/openapi/openapi.json"

  dir=$(mktemp -d /tmp/parchment-st.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  export PARCHMENT_DATA_DIR="$dir/data"
  "$bin" migrate >/dev/null
  "$bin" admin create-user --email st-admin@example.com --first-name Schema --last-name Thesis \
    --role admin >/dev/null
  token=$("$bin" admin issue-token --email st-admin@example.com)
  # Rate limits off: the fuzzer sends thousands of requests; limits have their own tests.
  "$bin" serve --bind "127.0.0.1:$port" --public-url "http://localhost:$port" \
    --mail-dir "$dir/mail" --rate-limits off >"$dir/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$port/.well-known/parchment-server" 2>/dev/null && break
    sleep 0.1
  done
  (
    cd "$dir"
    "$PYTOOLS/st" run "$root/openapi/openapi.json" \
      --url "http://127.0.0.1:$port" \
      --header "Authorization: Bearer $token" \
      --checks all \
      --exclude-operation-id deleteAuthSessions \
      --exclude-operation-id deleteAuthSessionsAll \
      --exclude-operation-id getEvents \
      --phases examples,coverage,fuzzing,stateful \
      --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
      --workers 2 \
      --seed 1 \
      --baseline "$root/openapi/schemathesis-baseline.json" \
      ${SCHEMATHESIS_BASELINE_UPDATE:+--baseline-update} \
      --no-color
  ) || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$status" != 0 ]; then
    echo "schemathesis found problems (server log: $dir/server.log)" >&2
    return "$status"
  fi
  rm -rf "$dir"
  unset PARCHMENT_DATA_DIR
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  check_api_contract "${1:-target/debug/parchment-server}"
fi
