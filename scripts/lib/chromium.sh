# Sourced by scripts/test. Debian's chromium for the headless browser tests (playwright-core
# drives it; Playwright's own browser download cannot work on these machines).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# Installs Debian packages, refreshing the package lists first (a fresh machine has none).
apt_install() {
  echo "installing Debian packages: $*"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@"
}
