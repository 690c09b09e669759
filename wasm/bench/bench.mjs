// Benchmark of @parchment/core (wasm/pkg) against the original client's libraries in Node; the
// same cases run in headless Chromium with browser.mjs. The cases are in cases.mjs.
//
//   node wasm/bench/bench.mjs            (after wasm/build.sh)
//   BENCH_SECONDS=1 BENCH_ROUNDS=5 ...  time per measurement (0.4 s) and rounds (3, best kept)
//
// When the native criterion benchmark has run (`cargo bench -p parchment-wasm --bench native`),
// its figures for the same operations are read from target/criterion and shown with the
// WASM/native ratio. Then the sizes of the two modules, raw and compressed.
import { existsSync, readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { join } from 'node:path';

import * as core from '../support/package.mjs';
import { pkgDir, repoDir } from '../support/helpers.mjs';
import { firstDerivation, firstDerivationLine, runBenchmark, table } from './cases.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 0.4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

function nativeOps(id) {
  const file = join(process.env.CARGO_TARGET_DIR ?? join(repoDir, 'target'), 'criterion', id, 'new', 'estimates.json');
  if (!existsSync(file)) return null;
  const ns = JSON.parse(readFileSync(file, 'utf8')).mean.point_estimate;
  return 1e9 / ns;
}

const first = firstDerivation(core);
console.log(`@parchment/core vs noble — node ${process.version}, best of ${rounds} rounds of ${seconds}s\n`);
console.log(`${firstDerivationLine(first)}\n`);
console.log(table(runBenchmark(core, { seconds, rounds }), nativeOps));

// What the app downloads: the start module before unlock, the second one on first use. Served
// precompressed (brotli to browsers that accept it, which is all of them).
console.log('');
for (const variant of ['start', 'full']) {
  const bytes = readFileSync(join(pkgDir, variant, 'parchment_core_bg.wasm'));
  const gz = gzipSync(bytes, { level: 9 }).length;
  const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const goal = variant === 'start' ? ` (goal ≤ 100,000 on the wire: ${br <= 100000 ? 'met' : 'MISSED'})` : '';
  console.log(`${variant}/parchment_core_bg.wasm: ${bytes.length.toLocaleString('en-US')} B raw, ${gz.toLocaleString('en-US')} B gzip -9, ${br.toLocaleString('en-US')} B brotli 11${goal}`);
}
