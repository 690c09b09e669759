# shellcheck shell=bash
# Sourced: the replica-crash test of issue 19 (scale-out on PostgreSQL behind a load balancer).
#   . scripts/lib/replicas.sh && test_replicas target/debug/parchment-server [driver options]
# Three `parchment-server serve` replicas on one fresh PostgreSQL database (in the cluster of
# PARCHMENT_TEST_POSTGRES_URL, which scripts/test exports; a throwaway cluster is started
# here when it is unset), nginx from deploy/nginx/parchment-lb-test.conf in front of them and
# a fake federation peer; mixed load through nginx, one replica SIGKILLed in the middle and
# restarted; then the checks and the figures (scripts/lib/replicas.py says which). About
# 80 s (the outbox lease, 60 s, is waited out). Fails with the failed checks listed.
# Needs nginx and psql (installed with apt-get when missing) and python3 with `cryptography`
# (pinned, from PyPI, into target/pytools like the API contract's tools).
# PARCHMENT_REPLICAS_KEEP=1 keeps the temporary directory (logs, nginx access log) and the
# database of a run.

ensure_replica_tools() {
  local root venv missing=()
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  venv="$root/target/pytools"
  if ! "$venv/bin/python" -c 'import cryptography' >/dev/null 2>&1; then
    if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
      # shellcheck source=apt.sh
      . "$root/scripts/lib/apt.sh"
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check cryptography==46.0.3
  fi
  REPLICA_PYTHON="$venv/bin/python"

  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v psql >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/psql >/dev/null 2>&1 ||
    missing+=(postgresql-client)
  if [ "${#missing[@]}" -gt 0 ]; then
    # shellcheck source=apt.sh
    . "$root/scripts/lib/apt.sh"
    apt_install "${missing[@]}"
    # Only the binary is wanted: no web server left listening on port 80 (as deploy/check.sh).
    case " ${missing[*]} " in
      *" nginx "*)
        if [ -d /run/systemd/system ]; then
          local sudo=""
          [ "$(id -u)" = 0 ] || sudo="sudo"
          $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
        fi
        ;;
    esac
  fi
}

test_replicas() {
  local root bin
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="${1:?usage: test_replicas <parchment-server binary> [driver options]}"
  shift
  ensure_replica_tools
  if [ -z "${PARCHMENT_TEST_POSTGRES_URL:-}" ]; then
    # shellcheck source=postgres.sh
    . "$root/scripts/lib/postgres.sh"
    start_test_postgres
  fi
  "$REPLICA_PYTHON" "$root/scripts/lib/replicas.py" \
    --server-bin "$bin" --postgres-url "$PARCHMENT_TEST_POSTGRES_URL" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  test_replicas "${1:-target/debug/parchment-server}" "${@:2}"
fi
