#!/usr/bin/env bash
# Builds the npm package @parchment/core into wasm/pkg/, installing whatever is missing:
#   - the wasm32-unknown-unknown Rust target;
#   - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock (the CLI
#     and the crate must agree, or the generated glue does not match the module);
#   - wasm-opt from the npm package `binaryen` pinned in wasm/package-lock.json. Not Debian's
#     binaryen (108): it is too old for wasm-bindgen's reference-types output; the module it
#     optimizes fails at init ("WebAssembly.Table.set(): Argument 1 is invalid for table"),
#     checked on this machine.
#
# Output (wasm/pkg/): parchment_core.js (ES module, wasm-bindgen --target web), its .d.ts,
# parchment_core_bg.wasm, node.js (Node entry that loads the .wasm from disk and initializes),
# package.json, README.md.
#
# Tuning knobs, for measuring (defaults are the chosen ones, see README.md "Build profile"):
#   WASM_OPT_LEVEL=-O3|-Oz|...            wasm-opt level
#   CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL  rustc opt-level of the wasm-release profile
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
wasm_opt_level="${WASM_OPT_LEVEL:--O3}"
say() { printf '[wasm/build.sh] %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ -z "$bindgen_version" ]; then
  echo "wasm-bindgen is not in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version"
  # --locked first (reproducible); a registry mirror that lags behind the CLI's own lock file
  # cannot satisfy it, so fall back to a fresh resolution of the same CLI version.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked --force ||
    cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

wasm_opt="$here/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  say "installing the package's npm devDependencies (binaryen, test and benchmark libraries)"
  (cd "$here" && npm ci --no-audit --no-fund)
fi

# --- build -------------------------------------------------------------------------------
say "cargo build (wasm32, profile wasm-release, +simd128)"
# SIMD128 (every browser since 2023: Chrome 91, Firefox 89, Safari 16.4; Node 16.4): measured
# +30 % on the AEADs and +10 % on signing, and a smaller module. Set for the wasm target only,
# so host builds of the workspace keep their cache.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} -C target-feature=+simd128"
cargo build -p parchment-wasm --target wasm32-unknown-unknown --profile wasm-release --locked
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
module="$target_dir/wasm32-unknown-unknown/wasm-release/parchment_wasm.wasm"

pkg="$here/pkg"
rm -rf "$pkg"
say "wasm-bindgen --target web"
wasm-bindgen --target web --out-dir "$pkg" --out-name parchment_core "$module"

say "wasm-opt $wasm_opt_level"
# The features rustc enables for wasm32 today (its defaults plus simd128); wasm-opt must
# accept them all.
"$wasm_opt" "$wasm_opt_level" \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals --enable-simd \
  "$pkg/parchment_core_bg.wasm" -o "$pkg/parchment_core_bg.wasm"

# --- package -----------------------------------------------------------------------------
cat >"$pkg/node.js" <<'EOF'
// Node entry of @parchment/core: Node 20's fetch cannot read file: URLs, so the module is read
// from disk and instantiated here, once, at import. Calling the default export (init) again
// is a no-op, so code written for browsers (`await init()`) runs unchanged.
import { readFile } from 'node:fs/promises';
import init from './parchment_core.js';

await init({ module_or_path: await readFile(new URL('./parchment_core_bg.wasm', import.meta.url)) });

export * from './parchment_core.js';
export { default } from './parchment_core.js';
EOF

version="$(awk -F'"' '/^version = / { print $2; exit }' "$here/Cargo.toml")"
cat >"$pkg/package.json" <<EOF
{
  "name": "@parchment/core",
  "version": "$version",
  "description": "Parchment client cryptography (seed, keys, signing, record encryption, federation envelopes) compiled to WebAssembly. Secrets stay inside the module.",
  "license": "AGPL-3.0-or-later",
  "type": "module",
  "main": "./node.js",
  "module": "./parchment_core.js",
  "types": "./parchment_core.d.ts",
  "exports": {
    ".": {
      "types": "./parchment_core.d.ts",
      "node": "./node.js",
      "default": "./parchment_core.js"
    },
    "./parchment_core_bg.wasm": "./parchment_core_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": ["parchment_core.js", "parchment_core.d.ts", "parchment_core_bg.wasm", "parchment_core_bg.wasm.d.ts", "node.js", "README.md"],
  "sideEffects": ["./node.js"]
}
EOF
cp "$here/README.md" "$pkg/README.md"

raw=$(wc -c <"$pkg/parchment_core_bg.wasm")
gz=$(gzip -9 -c "$pkg/parchment_core_bg.wasm" | wc -c)
say "built $pkg: parchment_core_bg.wasm $raw bytes raw, $gz bytes gzip -9"
