// The benchmark itself, shared by the Node runner (bench.mjs) and the Chromium one
// (browser.mjs): @parchment/core against the original client's libraries, side by side in one
// run, same inputs: @noble/ed25519 3.0.0, @noble/curves 2.0.1, @noble/hashes 2.0.1,
// @noble/ciphers 2.1.1 (the versions of the original's lock files). No Node API here: the
// browser runs this file as it is.
import { gcm } from '@noble/ciphers/aes.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import * as ed from '@noble/ed25519';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;
const encoder = new TextEncoder();
const utf8 = (s) => encoder.encode(s);

/** The AAD bytes of a record context (crypto.md §2): four u16-length-prefixed UTF-8 fields. */
function aadBytes(ctx) {
  const parts = [ctx.userId, ctx.recordType, ctx.recordId, ctx.keyContext].map(utf8);
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at] = p.length >> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

/** Operations per second of `fn`, timed over about `seconds` after a short warm-up. */
function opsPerSecond(fn, seconds) {
  const warmEnd = performance.now() + 100;
  while (performance.now() < warmEnd) fn();
  let calls = 0;
  let batch = 1;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    now = performance.now();
    if (now - start < 50) batch *= 2;
  }
  return (calls * 1000) / (now - start);
}

/**
 * The first key derivation after the module loads, and the one after it, in milliseconds. The
 * first also builds the Ed25519 base-point table (once per page: the start module computes it
 * instead of downloading 30 KB of it) and pays the engine's first-call costs. Call before
 * anything else has used the module.
 */
export function firstDerivation(core) {
  const seed = new Uint8Array(32).fill(7);
  const time = () => {
    const start = performance.now();
    core.Identity.fromSeed(seed).free();
    return performance.now() - start;
  };
  const first = time();
  return { first, next: time() };
}

/** One line for `firstDerivation`'s result. */
export function firstDerivationLine({ first, next }) {
  return `first key derivation after load: ${first.toFixed(2)} ms (builds the base-point table); the next: ${next.toFixed(3)} ms`;
}

/**
 * Runs every row, alternating ours and noble for `rounds` rounds (best of each: the machine is
 * shared, and the best round is the least disturbed). `core` is the package's exports.
 * Returns `[{name, native, ours, noble, target, perByte, nobleLabel}]` in operations per second.
 */
export function runBenchmark(core, { seconds = 0.4, rounds = 3 } = {}) {
  const { Identity, canonicalJson, verify } = core;
  const INFO = Object.fromEntries(['parchment-signing-v1', 'parchment-encryption-v1', 'parchment-personal-v1'].map((s) => [s, utf8(s)]));
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const identity = Identity.fromSeed(seed);
  const nobleSigningSeed = hkdf(sha256, seed, undefined, INFO['parchment-signing-v1'], 32);
  const noblePublic = ed.getPublicKey(nobleSigningSeed);
  const personalKey = hkdf(sha256, seed, undefined, INFO['parchment-personal-v1'], 32);
  const message200 = randomBytes(200);
  const signature = identity.sign(message200);
  const publicB64 = identity.signingPublicKey;
  const nobleSignature = ed.sign(message200, nobleSigningSeed);
  const ctx = { userId: 'user-123', recordType: 'personal-blob', recordId: 'bench', keyContext: 'parchment-personal-v1' };
  const aad = aadBytes(ctx);
  const kib = randomBytes(1024);
  // getRandomValues is capped at 64 KiB per call; the content does not matter for speed.
  const mib = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7919) & 0xff);
  // An AES-256-GCM envelope as the original writes it, under the personal key.
  const aesNonce = randomBytes(12);
  const aesEnvelope = Uint8Array.from([2, 1, ...aesNonce, ...gcm(personalKey, aesNonce, aad).encrypt(mib)]);
  // About 2 KiB of federation-like JSON with nested objects and arrays.
  const json2k = {
    to: 'bob@b.example',
    from: 'alice@a.example',
    message_type: 'RESOURCE_SHARE',
    timestamp: '2026-04-20T12:00:00.000Z',
    payload: {
      role: 'viewer',
      resourceType: 'collection',
      items: Array.from({ length: 21 }, (_, i) => ({ name: `point ${i}`, lng: -122.4 + i / 100, lat: 37.7 + i / 100, tags: ['cafe', 'wifi'], z: i % 2 === 0 })),
    },
  };
  const sortObjectKeys = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(sortObjectKeys);
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortObjectKeys(v[k]);
    return out;
  };
  const jsonBytes = utf8(JSON.stringify(json2k)).length;
  if (canonicalJson(json2k) !== JSON.stringify(sortObjectKeys(json2k))) throw new Error('canonical JSON disagrees');
  // The checks that make the comparison fair: both sides compute the same thing.
  if (publicB64 !== btoa(String.fromCharCode(...noblePublic))) throw new Error('signing keys differ');
  if (!verify(publicB64, message200, btoa(String.fromCharCode(...nobleSignature)))) throw new Error('noble signature does not verify');

  const rows = [
    {
      name: 'derive identity from seed',
      native: 'derive_identity',
      ours: () => Identity.fromSeed(seed).free(),
      noble: () => {
        const s = hkdf(sha256, seed, undefined, INFO['parchment-signing-v1'], 32);
        const e = hkdf(sha256, seed, undefined, INFO['parchment-encryption-v1'], 32);
        ed.getPublicKey(s);
        x25519.getPublicKey(e);
      },
      target: 10,
    },
    { name: 'Ed25519 sign 200 B', native: 'sign_200', ours: () => identity.sign(message200), noble: () => ed.sign(message200, nobleSigningSeed), target: 10 },
    { name: 'Ed25519 verify 200 B', native: 'verify_200', ours: () => verify(publicB64, message200, signature), noble: () => ed.verify(nobleSignature, message200, noblePublic), target: 15 },
    {
      name: 'XChaCha20-Poly1305 seal 1 KiB',
      native: 'xchacha_seal_1k',
      ours: () => identity.encryptRecord('personal', ctx, kib),
      noble: () => xchacha20poly1305(personalKey, randomBytes(24), aad).encrypt(kib),
    },
    {
      name: 'XChaCha20-Poly1305 seal 1 MiB',
      native: 'xchacha_seal_1m',
      ours: () => identity.encryptRecord('personal', ctx, mib),
      noble: () => xchacha20poly1305(personalKey, randomBytes(24), aad).encrypt(mib),
      target: 3,
      perByte: mib.length,
    },
    {
      name: 'AES-256-GCM open 1 MiB',
      native: 'aes_gcm_open_1m',
      ours: () => identity.decryptRecord('personal', ctx, aesEnvelope),
      noble: () => gcm(personalKey, aesEnvelope.subarray(2, 14), aad).decrypt(aesEnvelope.subarray(14)),
      target: 3,
      perByte: mib.length,
    },
    {
      name: `canonical JSON ${(jsonBytes / 1024).toFixed(1)} KiB`,
      native: 'canonical_2k',
      ours: () => canonicalJson(json2k),
      noble: () => JSON.stringify(sortObjectKeys(json2k)),
      nobleLabel: 'JS sortObjectKeys',
    },
  ];
  const results = [];
  for (const row of rows) {
    let ours = 0;
    let noble = 0;
    for (let round = 0; round < rounds; round++) {
      ours = Math.max(ours, opsPerSecond(row.ours, seconds));
      noble = Math.max(noble, opsPerSecond(row.noble, seconds));
    }
    results.push({ name: row.name, native: row.native, ours, noble, target: row.target ?? null, perByte: row.perByte ?? 0, nobleLabel: row.nobleLabel ?? null });
  }
  identity.free();
  return results;
}

const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const mbps = (ops, bytes) => (bytes ? ` (${((ops * bytes) / 1048576).toFixed(0)} MiB/s)` : '');

/** The results as a Markdown table; `nativeOps(id)` adds the native column when it knows it. */
export function table(results, nativeOps = () => null) {
  const header = ['operation', 'ours ops/s', 'noble ops/s', 'ours/noble', 'target', 'native ops/s', 'wasm/native'];
  const rows = [header];
  for (const r of results) {
    const native = nativeOps(r.native);
    const ratio = r.ours / r.noble;
    rows.push([
      r.name,
      fmt(r.ours) + mbps(r.ours, r.perByte),
      fmt(r.noble) + mbps(r.noble, r.perByte) + (r.nobleLabel ? ` [${r.nobleLabel}]` : ''),
      `${ratio.toFixed(2)}×`,
      r.target ? `≥${r.target}× ${ratio >= r.target ? 'met' : 'MISSED'}` : '',
      native ? fmt(native) + mbps(native, r.perByte) : 'n/a',
      native ? `${(native / r.ours).toFixed(2)}× slower` : '',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
