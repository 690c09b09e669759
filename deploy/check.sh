#!/usr/bin/env bash
# Validates the deployment files in deploy/ with the tools a Debian machine has, without network
# (apart from apt-get installing a missing tool):
#   - shell syntax of deploy/*.sh (bash -n; shellcheck too when it is installed);
#   - nginx -t on deploy/nginx/parchment.conf (with a throwaway self-signed certificate, alone
#     and inside Debian's /etc/nginx/nginx.conf) and on parchment-lb-test.conf (placeholders
#     filled in);
#   - systemd-analyze verify and an offline security review of deploy/parchment.service;
#   - deploy/parchment.env.example names every environment variable of server/src/config.rs;
#   - caddy validate and caddy fmt on deploy/caddy/Caddyfile;
#   - the Dockerfile's COPY sources exist; compose.yaml (docker compose config when Compose v2
#     is installed, otherwise a structural check of the YAML).
# Installs nginx, caddy, systemd, openssl and python3-yaml with apt-get when missing (Debian);
# the nginx and caddy services that Debian starts on installing them are stopped and disabled
# again (only what this script installed).
# Exits non-zero when a check fails, and says what it skipped.
#   deploy/check.sh
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../scripts/lib/apt.sh
. "$root/scripts/lib/apt.sh"

tmp="$(mktemp -d /tmp/parchment-deploy-check.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

passed=0
failed=0
skipped=0
failures=()
skips=()
say() { printf '[deploy/check] %s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok: $1"; }
fail() {
  failed=$((failed + 1))
  failures+=("$1")
  say "FAILED: $1"
  if [ -n "${2:-}" ] && [ -s "$2" ]; then sed 's/^/    /' "$2"; fi
}
skip() { skipped=$((skipped + 1)); skips+=("$1"); say "skipped: $1"; }
# check NAME COMMAND...: runs the command, its output kept for a failure report.
check() {
  local name="$1"
  shift
  if "$@" >"$tmp/out" 2>&1; then pass "$name"; else fail "$name" "$tmp/out"; fi
}

# --- tools -----------------------------------------------------------------------------------
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
python3 -c 'import yaml' >/dev/null 2>&1 || missing+=(python3-yaml)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}" || say "apt-get could not install all of: ${missing[*]}"
fi
# Debian 12 has caddy, older releases have not (then its check is skipped).
if ! command -v caddy >/dev/null 2>&1; then
  missing+=(caddy)
  apt_install caddy || say "no caddy package here"
fi
# Only the tools are wanted: no web server left listening on port 80.
if [ -d /run/systemd/system ]; then
  for service in nginx caddy; do
    case " ${missing[*]-} " in
      *" $service "*)
        if systemctl is-enabled --quiet "$service" 2>/dev/null || systemctl is-active --quiet "$service" 2>/dev/null; then
          say "stopping and disabling the $service service that installing it started"
          sudo=""
          [ "$(id -u)" = 0 ] || sudo="sudo"
          $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
        ;;
    esac
  done
fi

# --- shell syntax ----------------------------------------------------------------------------
for script in "$here"/*.sh; do
  check "bash -n ${script#"$root"/}" bash -n "$script"
done
if command -v shellcheck >/dev/null 2>&1; then
  check "shellcheck deploy/*.sh" shellcheck -x -P SCRIPTDIR "$here"/*.sh
else
  skip "shellcheck (not installed; bash -n ran)"
fi

# --- nginx -----------------------------------------------------------------------------------
if command -v nginx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
  # Throwaway certificate in place of certbot's /etc/letsencrypt/live/<host>/.
  cert="$tmp/cert"
  mkdir -p "$cert"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=maps.example.com -keyout "$cert/privkey.pem" -out "$cert/fullchain.pem" \
    >"$tmp/openssl.log" 2>&1 || fail "self-signed certificate for nginx -t" "$tmp/openssl.log"
  sed "s|/etc/letsencrypt/live/maps.example.com|$cert|g" "$here/nginx/parchment.conf" >"$tmp/site.conf"

  # Alone, in a minimal main configuration (runs unprivileged).
  tls="$tmp/nginx-tls"
  mkdir -p "$tls"
  cat >"$tls/nginx.conf" <<EOF
error_log $tls/error.log;
events {}
http {
    client_body_temp_path $tls/client_body_temp;
    proxy_temp_path $tls/proxy_temp;
    fastcgi_temp_path $tls/fastcgi_temp;
    uwsgi_temp_path $tls/uwsgi_temp;
    scgi_temp_path $tls/scgi_temp;
    access_log $tls/access.log;
    include $tmp/site.conf;
}
EOF
  check "nginx -t deploy/nginx/parchment.conf" \
    nginx -t -q -p "$tls/" -c "$tls/nginx.conf" -g "pid $tls/nginx.pid;"

  # As installed: in Debian's nginx.conf, in place of sites-enabled (its paths need root).
  if [ "$(id -u)" = 0 ] && [ -f /etc/nginx/nginx.conf ] &&
    grep -q 'include /etc/nginx/sites-enabled/\*;' /etc/nginx/nginx.conf; then
    sed "s|include /etc/nginx/sites-enabled/\*;|include $tmp/site.conf;|" /etc/nginx/nginx.conf >"$tmp/debian-nginx.conf"
    check "nginx -t deploy/nginx/parchment.conf inside /etc/nginx/nginx.conf" \
      nginx -t -q -c "$tmp/debian-nginx.conf"
  else
    skip "nginx -t inside /etc/nginx/nginx.conf (needs root and Debian's nginx.conf)"
  fi

  lb="$tmp/nginx-lb"
  mkdir -p "$lb"
  sed -e 's/__PORT__/18080/' \
    -e 's/__UPSTREAMS__/server 127.0.0.1:8081 max_fails=3 fail_timeout=10s; server 127.0.0.1:8082 max_fails=3 fail_timeout=10s;/' \
    "$here/nginx/parchment-lb-test.conf" >"$lb/nginx.conf"
  if grep -n '__[A-Z]*__' "$lb/nginx.conf" >"$tmp/out"; then
    fail "parchment-lb-test.conf: placeholders other than __PORT__ and __UPSTREAMS__" "$tmp/out"
  fi
  check "nginx -t deploy/nginx/parchment-lb-test.conf (filled in)" \
    nginx -t -q -p "$lb/" -c "$lb/nginx.conf" -g "pid $lb/nginx.pid;"
else
  fail "nginx and openssl are needed (apt-get install nginx openssl)"
fi

# --- systemd ---------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify insists that ExecStart= is an executable: a stub stands in for the server.
  unit="$tmp/unit"
  mkdir -p "$unit"
  printf '#!/bin/sh\nexit 0\n' >"$unit/parchment-server"
  chmod 755 "$unit/parchment-server"
  sed "s|/usr/local/bin/parchment-server|$unit/parchment-server|g" "$here/parchment.service" >"$unit/parchment.service"
  # verify prints problems as warnings and still exits 0 for some: any output is a failure.
  if systemd-analyze verify "$unit/parchment.service" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
    pass "systemd-analyze verify deploy/parchment.service"
  else
    fail "systemd-analyze verify deploy/parchment.service" "$tmp/out"
  fi
  # The template for several replicas on one machine, made as the unit's header says.
  sed 's|^ExecStart=\(.*\) serve$|ExecStart=\1 serve --bind 127.0.0.1:%i --metrics-bind 127.0.0.1:1%i|' \
    "$unit/parchment.service" >"$unit/parchment@.service"
  if grep -q -- '--bind 127.0.0.1:%i' "$unit/parchment@.service" &&
    systemd-analyze verify "$unit/parchment@8081.service" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
    pass "systemd-analyze verify parchment@8081.service (the template of the unit's header)"
  else
    fail "systemd-analyze verify parchment@8081.service (the template of the unit's header)" "$tmp/out"
  fi
  # The sandbox scores 1.1 ("OK"); fail when it is loosened past 2.0 (the scale is 0-100).
  if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
    if systemd-analyze security --offline=true --threshold=20 "$unit/parchment.service" >"$tmp/out" 2>&1; then
      pass "systemd-analyze security deploy/parchment.service: $(grep -o 'exposure level.*' "$tmp/out")"
    else
      fail "systemd-analyze security deploy/parchment.service (exposure above 2.0)" "$tmp/out"
    fi
  else
    skip "systemd-analyze security --offline (systemd older than 250)"
  fi
else
  skip "systemd-analyze (not installed)"
fi

# --- the env file lists every variable of the server -------------------------------------------
config="$root/server/src/config.rs"
if [ -f "$config" ]; then
  grep -o 'env = "[A-Z0-9_]*"' "$config" | sed 's/env = "\(.*\)"/\1/' | sort -u >"$tmp/vars"
  : >"$tmp/out"
  while read -r var; do
    grep -Eq "^#?${var}=" "$here/parchment.env.example" || echo "$var is not in deploy/parchment.env.example" >>"$tmp/out"
  done <"$tmp/vars"
  if [ -s "$tmp/out" ]; then
    fail "parchment.env.example names every variable of server/src/config.rs" "$tmp/out"
  else
    pass "parchment.env.example names all $(wc -l <"$tmp/vars") variables of server/src/config.rs"
  fi
  # The other way round only informs: the file may document a variable that is being added.
  grep -Eo '^#?[A-Z][A-Z0-9_]*=' "$here/parchment.env.example" | tr -d '#=' | sort -u |
    grep -vx -e RUST_LOG | comm -23 - "$tmp/vars" | while read -r var; do
    say "note: $var is in parchment.env.example but not in server/src/config.rs"
  done
else
  skip "env file against server/src/config.rs (no server/src/config.rs)"
fi

# --- caddy -----------------------------------------------------------------------------------
if command -v caddy >/dev/null 2>&1; then
  # validate provisions the config (TLS automation, health checkers) without serving it.
  check "caddy validate deploy/caddy/Caddyfile ($(caddy version 2>/dev/null | cut -d' ' -f1))" \
    caddy validate --config "$here/caddy/Caddyfile" --adapter caddyfile
  if caddy fmt "$here/caddy/Caddyfile" 2>/dev/null | cmp -s - "$here/caddy/Caddyfile"; then
    pass "caddy fmt: deploy/caddy/Caddyfile is formatted"
  else
    caddy fmt --diff "$here/caddy/Caddyfile" >"$tmp/out" 2>&1
    fail "caddy fmt: deploy/caddy/Caddyfile is not formatted (caddy fmt --overwrite)" "$tmp/out"
  fi
else
  skip "caddy validate (no caddy package on this machine)"
fi

# --- Dockerfile and compose ------------------------------------------------------------------
# The build context is the repository root: every COPY source (not --from a stage) must exist.
: >"$tmp/out"
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$here/Dockerfile" | awk 'toupper($1) == "COPY"' |
  grep -v -- '--from=' | while read -r _ rest; do
  # shellcheck disable=SC2086 # word splitting is the point: sources, then the destination
  set -- $rest
  while [ $# -gt 1 ]; do
    case "$1" in --*) ;; *) [ -e "$root/$1" ] || echo "COPY source $1 is not in the repository" >>"$tmp/out" ;; esac
    shift
  done
done
for line in 'FROM rust:1-bookworm' 'FROM debian:bookworm-slim' 'cargo build --release -p parchment-server --locked' \
  'EXPOSE 8080' 'PARCHMENT_BIND=0.0.0.0:8080' '/healthz' 'USER 10001'; do
  grep -qF -- "$line" "$here/Dockerfile" || echo "Dockerfile has no '$line'" >>"$tmp/out"
done
if [ -s "$tmp/out" ]; then fail "Dockerfile: sources and essentials" "$tmp/out"; else pass "Dockerfile: COPY sources exist, essentials present"; fi
if command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  check "docker build --check deploy/Dockerfile" docker buildx build --check -f "$here/Dockerfile" "$root"
else
  skip "docker build --check (no Docker daemon with buildx); the image itself is not built here"
fi

cp "$here/compose.env.example" "$tmp/compose.env"
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  check "docker compose config deploy/compose.yaml" \
    docker compose -f "$here/compose.yaml" --env-file "$tmp/compose.env" config -q
else
  skip "docker compose config (Compose v2 not installed): structural check of the YAML instead"
  check "compose.yaml structure" python3 - "$here/compose.yaml" "$root" <<'EOF'
import os, sys, yaml
path, root = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(open(path))
errors = []
services = doc.get("services") or {}
pg, app = services.get("postgres"), services.get("parchment")
if not pg or not str(pg.get("image", "")).startswith("postgres:15"):
    errors.append("a postgres service on a postgres:15 image")
if not app:
    errors.append("a parchment service")
else:
    build = app.get("build") or {}
    context = os.path.normpath(os.path.join(os.path.dirname(path), build.get("context", ".")))
    if not os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))):
        errors.append("parchment.build: no Dockerfile at context/dockerfile")
    if context != os.path.normpath(root):
        errors.append("parchment.build.context is not the repository root")
    env = app.get("environment") or {}
    if "postgres:5432" not in str(env.get("DATABASE_URL", "")):
        errors.append("parchment.environment.DATABASE_URL does not name the postgres service")
    if (app.get("depends_on") or {}).get("postgres", {}).get("condition") != "service_healthy":
        errors.append("parchment.depends_on.postgres.condition is not service_healthy")
    for f in app.get("env_file") or []:
        if f != ".env":
            errors.append(f"env_file {f}: only .env (from compose.env.example) is documented")
for name, svc in services.items():
    if not (svc.get("healthcheck") or {}).get("test"):
        errors.append(f"{name}: no healthcheck")
    for volume in svc.get("volumes") or []:
        source = str(volume).split(":")[0]
        if not source.startswith((".", "/")) and source not in (doc.get("volumes") or {}):
            errors.append(f"{name}: volume {source} is not declared")
for e in errors:
    print("compose.yaml:", e)
sys.exit(1 if errors else 0)
EOF
fi

# --- summary ---------------------------------------------------------------------------------
if [ "${#skips[@]}" -gt 0 ]; then
  say "skipped:"
  for s in "${skips[@]}"; do say "  - $s"; done
fi
if [ "${#failures[@]}" -gt 0 ]; then
  say "failed:"
  for f in "${failures[@]}"; do say "  - $f"; done
fi
echo "deploy: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
