// The benchmark of cases.mjs in headless Chromium (Debian's chromium, through playwright-core):
// a page on a local static server imports the package (start module via init(), the second via
// loadExtras()) and noble from wasm/node_modules through an import map, and runs the same rows.
//
//   node wasm/bench/browser.mjs          (after wasm/build.sh; CHROMIUM_PATH overrides the browser)
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

import { pkgDir, wasmDir } from '../support/helpers.mjs';
import { firstDerivationLine, table } from './cases.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 0.4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const ROOTS = { '/pkg/': pkgDir, '/node_modules/': join(wasmDir, 'node_modules'), '/bench/': join(wasmDir, 'bench') };

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>@parchment/core benchmark</title>
<script type="importmap">
{ "imports": {
  "@noble/ed25519": "/node_modules/@noble/ed25519/index.js",
  "@noble/ciphers/": "/node_modules/@noble/ciphers/",
  "@noble/curves/": "/node_modules/@noble/curves/",
  "@noble/hashes/": "/node_modules/@noble/hashes/"
} }
</script>
<script type="module">
  import init, * as core from '/pkg/parchment_core.js';
  import { firstDerivation, runBenchmark } from '/bench/cases.mjs';
  try {
    await init();
    const first = firstDerivation(core);
    await core.loadExtras();
    window.results = { first, rows: runBenchmark(core, ${JSON.stringify({ seconds, rounds })}) };
  } catch (e) {
    window.results = { error: String(e && e.stack || e) };
  }
</script>`;

function serve() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    for (const [prefix, dir] of Object.entries(ROOTS)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = normalize(join(dir, url.pathname.slice(prefix.length)));
      if (file.startsWith(dir) && existsSync(file)) {
        return res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      }
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const server = await serve();
const profile = mkdtempSync(join(tmpdir(), 'parchment-bench-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.results !== undefined, null, { timeout: 300_000 });
  const results = await page.evaluate(() => window.results);
  if (results.error) throw new Error(results.error);
  console.log(`@parchment/core vs noble — ${browser.browser()?.version() ?? 'Chromium'} (headless), best of ${rounds} rounds of ${seconds}s\n`);
  console.log(`${firstDerivationLine(results.first)}\n`);
  console.log(table(results.rows));
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
