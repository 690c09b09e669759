# Sourced by scripts/test. Debian's chromium for the headless browser tests (playwright-core
# drives it; Playwright's own browser download cannot work on these machines).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  echo "installing Debian's chromium"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
}
