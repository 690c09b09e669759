// The package in a real browser: headless Chromium (Debian's, driven by playwright-core)
// loads a page from a tiny static server on localhost. The page imports the package as a plain
// `<script type="module">`, derives an identity from a vector seed, signs and verifies, and
// opens one of the original's envelopes; the test compares with the vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

import { pkgDir, vectors } from '../support/helpers.mjs';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

const derivation = vectors('derivation.json').cases.find((c) => c.name === 'counting');
const federation = vectors('federation-envelope.json').cases.find((c) => c.version === 2);
const application = vectors('envelope.json').applications.find((c) => c.aad.recordType === 'user-metadata');

// The page: everything it computes goes into window.result.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>@parchment/core in Chromium</title>
<script type="module">
  import init, { Identity, verify, verifyFederationEnvelope, safetyNumber, loadExtras, extrasLoaded } from '/pkg/parchment_core.js';
  try {
    await init();
    // The start module alone: a function of the second one says what to do.
    let beforeExtras = null;
    try { safetyNumber('', ''); } catch (e) { beforeExtras = e.message; }
    const wasmBefore = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.wasm')).map((r) => new URL(r.name).pathname);
    const input = await (await fetch('/input.json')).json();
    const fromHex = (h) => Uint8Array.from(h.match(/../g).map((b) => parseInt(b, 16)));
    const id = Identity.fromSeed(fromHex(input.seedHex));
    const message = new TextEncoder().encode('signed in the browser');
    const signature = id.sign(message);
    const envelope = Uint8Array.from(atob(input.envelope), (c) => c.charCodeAt(0));
    const signed = id.signFederationEnvelope(input.fields);
    window.result = {
      signingPublicKey: id.signingPublicKey,
      encryptionPublicKey: id.encryptionPublicKey,
      recoveryKey: id.exportRecoveryKey(),
      signature,
      verified: verify(id.signingPublicKey, message, signature),
      tamperedVerified: verify(id.signingPublicKey, new TextEncoder().encode('signed in the browseR'), signature),
      federationSignature: signed.signature,
      federationVerified: verifyFederationEnvelope(signed, id.signingPublicKey),
      // The vector record is the original's AES-256-GCM: the second module opens it.
      decryptedBefore: (() => { try { id.decryptRecord('metadata', input.aad, envelope); return 'opened'; } catch (e) { return e.message; } })(),
      roundTrip: new TextDecoder().decode(id.decryptRecord('personal', input.aad, id.encryptRecord('personal', input.aad, new TextEncoder().encode('round trip')))),
      beforeExtras,
      wasmBefore,
      extrasBefore: extrasLoaded(),
      safety: (await loadExtras(), safetyNumber(id.signingPublicKey, id.signingPublicKey)),
      decrypted: new TextDecoder().decode(id.decryptRecord('metadata', input.aad, envelope)),
      // A start-module identity moves into the second module for a second-module method.
      sealed: id.encryptForFriend(Identity.generate().encryptionPublicKey, new TextEncoder().encode('x'), 'parchment-share-v1').nonce.length,
      stillSigns: verify(id.signingPublicKey, message, id.sign(message)),
      wasmAfter: performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.wasm')).map((r) => new URL(r.name).pathname),
      generated: Identity.generate().signingPublicKey.length,
    };
    id.free();
    try { id.sign(message); } catch (e) { window.result.afterFree = e.message; }
  } catch (e) {
    window.result = { error: String(e && e.stack || e) };
  }
</script>`;

function serve() {
  const input = JSON.stringify({ seedHex: derivation.seed_hex, fields: federation.fields, envelope: application.envelope_base64, aad: application.aad });
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let body;
    let type = 'text/html';
    if (url.pathname === '/') body = PAGE;
    else if (url.pathname === '/input.json') [body, type] = [input, TYPES['.json']];
    else if (url.pathname.startsWith('/pkg/')) {
      const file = normalize(join(pkgDir, url.pathname.slice('/pkg/'.length)));
      if (file.startsWith(pkgDir) && existsSync(file)) [body, type] = [readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream'];
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('Chromium loads the package, derives a vector identity, signs and verifies', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(executablePath), `${executablePath} missing: scripts/test installs Debian's chromium`);
  const server = await serve();
  const profile = mkdtempSync(join(tmpdir(), 'parchment-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://localhost:${server.address().port}/`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 60_000 });
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(errors, []);
    assert.equal(result.error, undefined, result.error);

    assert.equal(result.signingPublicKey, derivation.signing.public_key);
    assert.equal(result.encryptionPublicKey, derivation.encryption.public_key);
    assert.equal(result.recoveryKey, derivation.recovery_key);
    // Ed25519 is deterministic: the same signature as the package computes in Node.
    const { Identity } = await import('../support/package.mjs');
    const node = Identity.fromRecoveryKey(derivation.recovery_key);
    assert.equal(result.signature, node.sign(new TextEncoder().encode('signed in the browser')));
    node.free();
    assert.equal(result.verified, true);
    assert.equal(result.tamperedVerified, false);
    assert.equal(result.federationSignature, federation.signature);
    assert.equal(result.federationVerified, true);
    assert.equal(result.decrypted, application.plaintext_utf8);
    assert.match(result.decryptedBefore, /AES-256-GCM envelope is in the second module/);
    assert.equal(result.roundTrip, 'round trip');
    assert.match(result.safety, /^\d{3} \d{3} \d{3} \d{3}$/);
    // Two modules: only the start one before loadExtras(), the second one after.
    assert.match(result.beforeExtras, /second module; call `await loadExtras\(\)` first/);
    assert.equal(result.extrasBefore, false);
    assert.deepEqual(result.wasmBefore, ['/pkg/start/parchment_core_bg.wasm']);
    assert.deepEqual(result.wasmAfter, ['/pkg/start/parchment_core_bg.wasm', '/pkg/full/parchment_core_bg.wasm']);
    assert.equal(result.sealed, 16, 'the identity moved into the second module and encrypts there');
    assert.equal(result.stillSigns, true);
    assert.equal(result.generated, 44);
    assert.equal(result.afterFree, 'this Identity has been freed; create a new one');
  } finally {
    await browser.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
