// src/stores/verifiedFriends.ts, bundled with esbuild and run in Node over a Map-backed
// localStorage: what a verified friend's pin holds, per account, and when the keys a server
// serves later count as changed. Then src/crypto's v2 safety number and code comparison, which
// the friends screen pins.
import { test, before, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const store = new Map()
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
}
let pins, keyring

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-verified-'))
  const file = join(out, 'verified.mjs')
  await build({ entryPoints: [join(web, 'src/stores/verifiedFriends.ts')], bundle: true, format: 'esm', platform: 'node', outfile: file, logLevel: 'silent' })
  pins = await import(pathToFileURL(file).href)
  // src/crypto against the real package (its Node entry), as crypto.test.mjs does.
  const crypto = join(out, 'crypto.mjs')
  await build({ entryPoints: [join(web, 'src/crypto/index.ts')], bundle: true, format: 'esm', platform: 'node', outfile: crypto, external: ['@parchment/core'], logLevel: 'silent' })
  const corePath = createRequire(join(web, 'package.json')).resolve('@parchment/core')
  const node = pathToFileURL(corePath.replace(/parchment_core\.js$/, 'node.js')).href
  writeFileSync(crypto, readFileSync(crypto, 'utf8').replaceAll('"@parchment/core"', JSON.stringify(node)))
  ;({ keyring } = await import(pathToFileURL(crypto).href))
  rmSync(out, { recursive: true, force: true })
})
beforeEach(() => store.clear())

const bob = { handle: 'bob@b.example', signingKey: 'S1', encryptionKey: 'E1' }

test('nobody verified: unverified', () => {
  assert.deepEqual(pins.verificationOf('u1', bob), { state: 'unverified' })
  assert.deepEqual(pins.verificationOf(undefined, bob), { state: 'unverified' })
})

test('marked verified: exactly those keys and the number are pinned, per account', () => {
  pins.markVerified('u1', { ...bob, safetyNumber: '12345 …' }, 1000)
  const v = pins.verificationOf('u1', bob)
  assert.equal(v.state, 'verified')
  assert.deepEqual(v.pin, { ...bob, safetyNumber: '12345 …', verifiedAt: 1000 })
  assert.deepEqual(JSON.parse(store.get('parchment-verified-friends:u1')), { 'bob@b.example': v.pin })
  assert.equal(pins.verificationOf('u2', bob).state, 'unverified', 'another account of this browser')
  assert.equal(pins.verificationOf('u1', { ...bob, handle: 'BOB@B.example' }).state, 'verified', 'handles compare case-insensitively')
})

test('any key served differently later: changed, naming which', () => {
  pins.markVerified('u1', { ...bob, safetyNumber: 'n' })
  assert.deepEqual(pins.verificationOf('u1', { ...bob, encryptionKey: 'E2' }).changed, ['encryptionKey'])
  assert.deepEqual(pins.verificationOf('u1', { ...bob, signingKey: 'S2' }).changed, ['signingKey'])
  assert.deepEqual(pins.verificationOf('u1', { ...bob, signingKey: 'S2', encryptionKey: null }).changed, ['signingKey', 'encryptionKey'])
  assert.equal(pins.verificationOf('u1', { ...bob, encryptionKey: undefined }).state, 'changed', 'a key no longer served')
  // Verifying again pins the new keys; forgetting drops the pin.
  pins.markVerified('u1', { ...bob, encryptionKey: 'E2', safetyNumber: 'n2' })
  assert.equal(pins.verificationOf('u1', { ...bob, encryptionKey: 'E2' }).state, 'verified')
  assert.equal(pins.verificationOf('u1', bob).state, 'changed')
  pins.forgetVerification('u1', 'Bob@b.example')
  assert.equal(pins.verificationOf('u1', bob).state, 'unverified')
})

test('an unreadable or foreign entry reads as no pins', () => {
  store.set('parchment-verified-friends:u1', '{not json')
  assert.equal(pins.verificationOf('u1', bob).state, 'unverified')
  store.set('parchment-verified-friends:u1', JSON.stringify({ 'bob@b.example': { handle: 'bob@b.example' } }))
  assert.equal(pins.verificationOf('u1', bob).state, 'unverified')
})

test('keyring.safetyV2: 60 digits both sides see, and codes that match only the friend\'s screen', async () => {
  const a = await keyring.create()
  const b = await keyring.create()
  const alice = { handle: 'alice@a.example', ...a }
  const bobby = { handle: 'bob@b.example', ...b }
  const onAlice = await keyring.safetyV2(alice, bobby)
  const onBob = await keyring.safetyV2(bobby, alice)
  assert.match(onAlice.number, /^\d{5}( \d{5}){11}$/)
  assert.equal(onAlice.number, onBob.number)
  assert.match(onAlice.code, /^[A-Za-z0-9+/]{86}[A-Za-z0-9+/=]{2}$/, '65 bytes of base64')
  assert.equal(await keyring.compareSafetyCode(alice, bobby, onBob.code), 'match')
  assert.equal(await keyring.compareSafetyCode(alice, bobby, ` ${onBob.code.slice(0, 40)}\n${onBob.code.slice(40)} `), 'match', 'pasted with line breaks')
  assert.equal(await keyring.compareSafetyCode(alice, bobby, onAlice.code), 'mismatch', 'my own code')
  const other = await keyring.create()
  assert.equal(await keyring.compareSafetyCode(alice, { ...bobby, encryptionKey: other.encryptionKey }, onBob.code), 'mismatch', 'a swapped encryption key')
  assert.equal(await keyring.compareSafetyCode(alice, bobby, onBob.code.slice(0, 40)), 'unreadable')
  assert.equal(await keyring.compareSafetyCode(alice, bobby, 'not base64 at all!'), 'unreadable')
})
