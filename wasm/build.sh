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
say "cargo build (wasm32, profile wasm-release, +simd128), twice: the start module and the full one"
# SIMD128 (every browser since 2023: Chrome 91, Firefox 89, Safari 16.4; Node 16.4): measured
# +30 % on the AEADs and +10 % on signing, and a smaller module. Set for the wasm target only,
# so host builds of the workspace keep their cache.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} -C target-feature=+simd128"
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
module="$target_dir/wasm32-unknown-unknown/wasm-release/parchment_wasm.wasm"

pkg="$here/pkg"
rm -rf "$pkg"
mkdir -p "$pkg"
# start: without the `extra` feature (what the app loads before unlock); full: everything (what
# loadExtras() brings in). One cargo output path, so each is bound and optimized before the next.
for variant in start full; do
  if [ "$variant" = start ]; then features=(--no-default-features); else features=(); fi
  cargo build -p parchment-wasm --target wasm32-unknown-unknown --profile wasm-release --locked "${features[@]}"
  say "wasm-bindgen --target web ($variant)"
  wasm-bindgen --target web --out-dir "$pkg/$variant" --out-name parchment_core "$module"
  say "wasm-opt $wasm_opt_level ($variant)"
  # The features rustc enables for wasm32 today (its defaults plus simd128); wasm-opt must
  # accept them all.
  "$wasm_opt" "$wasm_opt_level" \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --enable-mutable-globals --enable-simd \
    "$pkg/$variant/parchment_core_bg.wasm" -o "$pkg/$variant/parchment_core_bg.wasm"
done

# --- package -----------------------------------------------------------------------------
# The entry: wasm/js/parchment_core.js, one API over both modules (see its header).
cp "$here/js/parchment_core.js" "$here/js/extras_source.js" "$pkg/"
cat >"$pkg/parchment_core.d.ts" <<'EOF'
// The API of both modules (the full module's types), plus the two functions of the split.
export * from './full/parchment_core.js';
export { default, initSync } from './full/parchment_core.js';
/** Loads the second module (key slots, friend shares, legacy static-DH, sealed boxes, device transfer, safety numbers); call once before using them. */
export function loadExtras(): Promise<void>;
/** Whether `loadExtras()` has resolved. */
export function extrasLoaded(): boolean;
EOF
cat >"$pkg/node.js" <<'EOF'
// Node entry of @parchment/core: Node 20's fetch cannot read file: URLs, so both modules are read
// from disk and instantiated here, once, at import (no download to save in Node: the second
// module is loaded at once too, so Node code never needs `loadExtras()`). Calling the default
// export (init) or loadExtras() again is a no-op, so code written for browsers runs unchanged.
import { readFile } from 'node:fs/promises';
import init, { loadExtras } from './parchment_core.js';
import { setExtrasSource } from './extras_source.js';

await init({ module_or_path: await readFile(new URL('./start/parchment_core_bg.wasm', import.meta.url)) });
setExtrasSource(() => readFile(new URL('./full/parchment_core_bg.wasm', import.meta.url)));
await loadExtras();

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
    "./start/parchment_core_bg.wasm": "./start/parchment_core_bg.wasm",
    "./full/parchment_core_bg.wasm": "./full/parchment_core_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": ["parchment_core.js", "extras_source.js", "parchment_core.d.ts", "start", "full", "node.js", "README.md"],
  "sideEffects": ["./node.js"]
}
EOF
cp "$here/README.md" "$pkg/README.md"

for variant in start full; do
  wasm="$pkg/$variant/parchment_core_bg.wasm"
  raw=$(wc -c <"$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  br=$(node -e 'const z=require("zlib");const b=require("fs").readFileSync(process.argv[1]);console.log(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length)' "$wasm")
  say "built $pkg/$variant: parchment_core_bg.wasm $raw bytes raw, $gz gzip -9, $br brotli 11"
done
