#!/usr/bin/env bash
# Builds the web app (web/dist) from web/: wasm/pkg first if it is missing (wasm/build.sh; the app
# depends on it as a local file package), npm ci when node_modules is missing or stale, then
# npm run build (type check + vite build). Sourced by scripts/test and scripts/run; callable alone too.
#   source scripts/lib/web.sh && build_web
#   test_web <path to parchment-server>   # the Playwright flows in headless Chromium
build_web() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [ ! -f "$root/wasm/pkg/package.json" ]; then
    if [ -x "$root/wasm/build.sh" ]; then
      "$root/wasm/build.sh"
    else
      echo "web: wasm/pkg is missing and there is no wasm/build.sh to make it" >&2
      return 1
    fi
  fi
  (
    cd "$root/web"
    # Reinstall when the lock file is newer than the install (or nothing is installed).
    # @parchment/core is a symlink to ../wasm/pkg, so a wasm rebuild needs no reinstall.
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      # `npm ci` only: it installs exactly the lock file and never rewrites it (`npm install`
      # would, leaving a changed tracked file on a newcomer's machine).
      if ! npm ci --no-audit --no-fund; then
        echo "web: npm ci refused web/package-lock.json (out of sync with package.json, or a" >&2
        echo "web: locked version this registry does not serve). Regenerate it deliberately with" >&2
        echo "web: 'cd web && npm install', review the diff, and commit it." >&2
        exit 1
      fi
    fi
    npm run build
  )
}

test_web() {
  local root bin
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="${1:-${PARCHMENT_SERVER_BIN:-$root/target/debug/parchment-server}}"
  # shellcheck source=chromium.sh
  . "$root/scripts/lib/chromium.sh"
  ensure_chromium
  command -v sqlite3 >/dev/null 2>&1 || apt_install sqlite3
  PARCHMENT_SERVER_BIN="$bin" node "$root/web/tests/run.mjs"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  build_web
fi
