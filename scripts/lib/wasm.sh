# Sourced by scripts/test. Node and the npm package @parchment/core (wasm/pkg/).
# wasm/build.sh itself installs the wasm32 target and wasm-bindgen-cli at the Cargo.lock
# version; this adds Node when missing and the locked npm devDependencies of wasm/ (binaryen's
# wasm-opt, playwright-core, the noble libraries the tests and benchmark compare against).
ensure_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    return
  fi
  echo "installing Debian's nodejs and npm"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y nodejs npm
}

# Installs the npm dependencies from wasm/package-lock.json and builds the package once.
build_wasm_package() {
  ensure_node
  (cd "$root/wasm" && npm ci --no-audit --no-fund)
  "$root/wasm/build.sh"
}
