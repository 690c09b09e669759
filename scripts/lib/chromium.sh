# Sourced by scripts/test. Debian's chromium for the headless browser tests (playwright-core
# drives it; Playwright's own browser download cannot work on these machines).
# shellcheck source=apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}
