// The built package as a consumer sees it: `import '@parchment/core'` resolves through
// package.json's exports (Node gets the self-initializing entry, browsers and bundlers the
// wasm-bindgen module), and the TypeScript declarations carry the pinned names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pkgDir } from '../support/helpers.mjs';

test('package.json names @parchment/core with node and browser entries', () => {
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  assert.equal(manifest.name, '@parchment/core');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].node, './node.js');
  assert.equal(manifest.exports['.'].default, './parchment_core.js');
  assert.equal(manifest.exports['.'].types, './parchment_core.d.ts');
  for (const file of manifest.files) {
    if (file === 'start' || file === 'full') readFileSync(join(pkgDir, file, 'parchment_core_bg.wasm'));
    else readFileSync(join(pkgDir, file));
  }
});

test('import "@parchment/core" works in Node 20 right after import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parchment-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules', '@parchment'), { recursive: true });
    symlinkSync(pkgDir, join(dir, 'node_modules', '@parchment', 'core'), 'dir');
    writeFileSync(join(dir, 'main.mjs'), `
      import init, { Identity, verify } from '@parchment/core';
      await init(); // a no-op in Node: browser code runs unchanged
      const id = Identity.fromRecoveryKey('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
      const m = new Uint8Array([1, 2, 3]);
      console.log(id.signingPublicKey, verify(id.signingPublicKey, m, id.sign(m)));
    `);
    const out = execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' });
    assert.equal(out.trim(), '+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI= true');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the TypeScript declarations carry the pinned API', () => {
  // The entry re-exports the full module's declarations and adds the split's two functions.
  const entry = readFileSync(join(pkgDir, 'parchment_core.d.ts'), 'utf8');
  assert.ok(entry.includes("export * from './full/parchment_core.js';"));
  assert.ok(entry.includes('export function loadExtras(): Promise<void>;'));
  assert.ok(entry.includes('export function extrasLoaded(): boolean;'));
  const dts = readFileSync(join(pkgDir, 'full', 'parchment_core.d.ts'), 'utf8');
  for (const signature of [
    'static generate(): Identity;',
    'static fromSeed(seed: Uint8Array): Identity;',
    'static fromRecoveryKey(text: string): Identity;',
    'exportRecoveryKey(): string;',
    'exportRecoveryCode(): string;',
    'readonly signingPublicKey: string;',
    'readonly encryptionPublicKey: string;',
    'sign(message: Uint8Array): string;',
    'signFederationEnvelope(envelope: UnsignedFederationEnvelope): FederationEnvelope;',
    'encryptRecord(key: string, ctx: RecordContext, plaintext: Uint8Array): Uint8Array;',
    'decryptRecord(key: string, ctx: RecordContext, envelope: Uint8Array): Uint8Array;',
    'wrapSeed(deviceSecret: string, deviceId: string): string;',
    'static unwrapSeed(deviceSecret: string, deviceId: string, wrapped: string): Identity;',
    'createKeySlot(userId: string, credentialId: string, prfOutput: Uint8Array): KeySlot;',
    'static fromKeySlot(slot: KeySlot, userId: string, prfOutput: Uint8Array, signingPublicKey: string): Identity;',
    'openSealed(sealed: Uint8Array): Uint8Array;',
    'export function verify(publicKey: string, message: Uint8Array, signature: string): boolean;',
    'export function verifyFederationEnvelope(envelope: FederationEnvelope, signingPublicKey: string): boolean;',
    'export function canonicalJson(value: any): string;',
    'export function safetyNumber(pubA: string, pubB: string): string;',
    'export function safetyNumberV2(me: SafetyParty, friend: SafetyParty): string;',
    'export function safetyQrPayload(me: SafetyParty, friend: SafetyParty): Uint8Array;',
    'export function compareSafetyQr(me: SafetyParty, friend: SafetyParty, scanned: Uint8Array): boolean;',
    'export interface SafetyParty',
    'export function sealTo(recipientEncryptionPublicKey: string, plaintext: Uint8Array): Uint8Array;',
    'export function prfSalt(): Uint8Array;',
    'export interface RecordContext',
  ]) {
    assert.ok(dts.includes(signature), `missing in .d.ts: ${signature}`);
  }
});
