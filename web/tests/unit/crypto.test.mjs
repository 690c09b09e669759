// src/crypto (the app's only door to @parchment/core), bundled with esbuild and run in Node:
// the operations the flows rely on, including the federation signatures of flows 8 and 9,
// which are checked against the exact v2 envelope the server builds (api.md §7.3).
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const vectors = process.env.PARCHMENT_VECTORS_DIR ?? join(web, '..', '..', 'shared', 'vectors')
let keyring, core

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-crypto-'))
  await build({
    entryPoints: [join(web, 'src/crypto/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: join(out, 'crypto.mjs'),
    external: ['@parchment/core'],
    logLevel: 'silent',
  })
  // Resolve @parchment/core from web/node_modules.
  const { createRequire } = await import('node:module')
  const corePath = createRequire(join(web, 'package.json')).resolve('@parchment/core')
  const { readFileSync, writeFileSync } = await import('node:fs')
  const file = join(out, 'crypto.mjs')
  writeFileSync(file, readFileSync(file, 'utf8').replaceAll('"@parchment/core"', JSON.stringify(pathToFileURL(corePath.replace(/parchment_core\.js$/, 'node.js')).href)))
  ;({ keyring } = await import(pathToFileURL(file).href))
  core = await import(pathToFileURL(corePath.replace(/parchment_core\.js$/, 'node.js')).href)
  rmSync(out, { recursive: true, force: true })
})

test('create, export, restore: the recovery key round-trips and a wrong one is refused', async () => {
  const keys = await keyring.create()
  const rk = keyring.exportRecoveryKey()
  assert.match(rk, /^[A-Za-z0-9+/]{43}=$/)
  keyring.lock()
  assert.equal(keyring.isUnlocked(), false)
  assert.deepEqual(await keyring.unlockWithRecoveryKey(`  ${rk}\n`, keys.signingKey), keys)
  keyring.lock()
  const grouped = rk.match(/.{1,4}/g).join(' ')
  assert.deepEqual(await keyring.unlockWithRecoveryKey(grouped, keys.signingKey), keys, 'grouped as displayed')
  keyring.lock()
  await assert.rejects(keyring.unlockWithRecoveryKey(Buffer.alloc(32, 1).toString('base64'), keys.signingKey), /does not match/)
  await assert.rejects(keyring.unlockWithRecoveryKey('not a key', keys.signingKey), /not a valid recovery key/)
  assert.equal(keyring.isUnlocked(), false)
})

test('device wrap: opens with its secret and device id only; only a wrong key kills the envelope', async () => {
  const keys = await keyring.create()
  const secret = Buffer.alloc(32, 9).toString('base64')
  const wrapped = keyring.wrapForDevice(secret, 'device-1234')
  assert.ok(!wrapped.includes(keyring.exportRecoveryKey()))
  keyring.lock()
  // The AEAD refuses the key: the envelope is dead (the caller deletes it).
  assert.equal(await keyring.unlockFromDevice(Buffer.alloc(32, 8).toString('base64'), 'device-1234', wrapped, keys.signingKey), 'wrong-secret', 'rotated secret')
  assert.equal(await keyring.unlockFromDevice(secret, 'device-9999', wrapped, keys.signingKey), 'wrong-secret', 'other device')
  assert.equal(await keyring.unlockFromDevice(secret, 'device-1234', wrapped, 'x'.repeat(43) + '='), 'not-current-key', 'other account')
  // Anything else keeps it: a malformed secret, a secret of the wrong length, a damaged envelope.
  for (const bad of ['not base64!', Buffer.alloc(16, 9).toString('base64'), '']) {
    assert.equal(await keyring.unlockFromDevice(bad, 'device-1234', wrapped, keys.signingKey), 'unreadable', `secret ${JSON.stringify(bad)}`)
  }
  assert.equal(await keyring.unlockFromDevice(secret, 'device-1234', wrapped.slice(0, 20), keys.signingKey), 'unreadable', 'truncated envelope')
  assert.equal(keyring.isUnlocked(), false)
  assert.equal(await keyring.unlockFromDevice(secret, 'device-1234', wrapped, keys.signingKey), 'unlocked')
  assert.deepEqual(keyring.publicKeys(), keys)
})

test('a refused recovery key is never quoted back', async () => {
  const keys = await keyring.create()
  const code = keyring.exportRecoveryCode()
  keyring.lock()
  const groups = code.split('-')
  const typo = [...groups.slice(0, 3), groups[3].slice(0, 3) + (groups[3][3] === 'A' ? 'B' : 'A'), ...groups.slice(4)].join('-')
  const cases = [typo, code.replace(/.$/, '#'), code.slice(0, 30), 'X9-' + code.slice(3), 'SECRETSECRET', Buffer.alloc(31, 3).toString('base64')]
  for (const typed of cases) {
    const e = await keyring.unlockWithRecoveryKey(typed, keys.signingKey).then(() => null, (e) => e)
    assert.ok(e instanceof Error, `refused: ${typed}`)
    for (const piece of typed.split('-').filter((g) => g.length >= 4)) assert.ok(!e.message.includes(piece), `"${e.message}" quotes "${piece}"`)
    assert.ok(!e.message.includes('#'), e.message)
  }
})

test('personal blobs are bound to user and blob type', async () => {
  await keyring.create()
  const env = keyring.encryptPersonal('u1', 'places', { places: [{ name: 'Home' }] })
  assert.equal(Buffer.from(env, 'base64')[0], 2)
  assert.deepEqual(keyring.decryptPersonal('u1', 'places', env), { places: [{ name: 'Home' }] })
  assert.throws(() => keyring.decryptPersonal('u2', 'places', env))
  assert.throws(() => keyring.decryptPersonal('u1', 'other', env))
})

test('federation actions verify as the exact v2 envelope the server forwards', async () => {
  const { signingKey } = await keyring.create()
  for (const type of ['FRIEND_INVITE', 'FRIEND_ACCEPT', 'FRIEND_REJECT', 'RELATIONSHIP_REVOKE']) {
    const s = keyring.signAction(type, 'alice@a.example', 'bob@b.example:8443')
    assert.equal(Buffer.from(s.nonce, 'base64').length, 16)
    assert.match(s.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const envelope = { protocol_version: 2, message_type: type, message_version: 1, nonce: s.nonce, timestamp: s.timestamp, from: 'alice@a.example', to: 'bob@b.example:8443', signature: s.signature, payload: {} }
    assert.equal(core.verifyFederationEnvelope(envelope, signingKey), true, type)
    assert.equal(core.verifyFederationEnvelope({ ...envelope, to: 'eve@b.example' }, signingKey), false)
  }
})

test('signMessage: the payload is signed with the envelope (LOCATION_UPDATE, the signed stop)', async () => {
  const { signingKey } = await keyring.create()
  for (const payload of [{ encryptedLocation: 'AAAA', nonce: '2026-06-01T12:00:00.000Z', expiresAt: '2026-06-01T13:00:00.000Z' }, { stopped: true }]) {
    const s = keyring.signMessage('LOCATION_UPDATE', 'alice@a.example', 'bob@b.example', payload)
    const envelope = { protocol_version: 2, message_type: 'LOCATION_UPDATE', message_version: 1, nonce: s.nonce, timestamp: s.timestamp, from: 'alice@a.example', to: 'bob@b.example', signature: s.signature, payload }
    assert.equal(core.verifyFederationEnvelope(envelope, signingKey), true)
    assert.equal(core.verifyFederationEnvelope({ ...envelope, payload: { ...payload, nonce: 'other' } }, signingKey), false, 'a changed payload fails')
    assert.equal(core.verifyFederationEnvelope({ ...envelope, payload: {} }, signingKey), false)
  }
})

test('friend shares: sealed for one friend, opened only by them, for the same sender and binding', async () => {
  const bob = await keyring.create()
  const bobKey = keyring.exportRecoveryKey()
  const alice = await keyring.create()
  const binding = { senderId: 'alice@a.example', recipientId: 'bob@b.example:8443', timestamp: '2026-06-01T12:00:00.000Z' }
  const plain = new TextEncoder().encode('{"lat":1.5,"lng":2.5,"timestamp":1}')
  const blob = keyring.sealFriendShare(bob.encryptionKey, plain, binding)
  assert.match(blob, /^[A-Za-z0-9+/]+=*$/)
  assert.ok(!Buffer.from(blob, 'base64').includes(Buffer.from('1.5')), 'no plaintext in the blob')
  assert.throws(() => keyring.openFriendShare(blob, alice.signingKey, binding), 'alice cannot open what she sealed for bob')
  await keyring.unlockWithRecoveryKey(bobKey, bob.signingKey)
  assert.deepEqual(keyring.openFriendShare(blob, alice.signingKey, binding), plain)
  assert.throws(() => keyring.openFriendShare(blob, bob.signingKey, binding), 'another signer')
  for (const change of [{ senderId: 'mallory@a.example' }, { recipientId: 'bob@b.example' }, { timestamp: '2026-06-01T12:00:00Z' }]) {
    assert.throws(() => keyring.openFriendShare(blob, alice.signingKey, { ...binding, ...change }), JSON.stringify(change))
  }
})

test('friend shares: the original’s location blob (ecies.json) opens here', async () => {
  const ecies = JSON.parse(readFileSync(join(vectors, 'ecies.json'), 'utf8'))
  const derivation = JSON.parse(readFileSync(join(vectors, 'derivation.json'), 'utf8'))
  const c = ecies.cases[0]
  const bob = derivation.cases.find((d) => d.name === c.recipient_seed_name)
  assert.ok(bob, 'the recipient seed is in derivation.json')
  await keyring.unlockWithRecoveryKey(bob.recovery_key, null)
  assert.equal(keyring.publicKeys().encryptionKey, c.recipient_encryption_public_key)
  const { senderId, recipientId, timestamp } = c.binding
  const bytes = keyring.openFriendShare(c.blob_base64, c.sender_signing_public_key, { senderId, recipientId, timestamp })
  assert.equal(new TextDecoder().decode(bytes), c.plaintext_utf8)
  for (const n of ecies.negative) {
    const b = n.binding
    assert.throws(() => keyring.openFriendShare(n.blob_base64, c.sender_signing_public_key, { senderId: b.senderId, recipientId: b.recipientId, timestamp: b.timestamp }), n.name)
  }
})

test('rotation re-encrypts under a new identity and only switches on finish()', async () => {
  const old = await keyring.create()
  const blob = keyring.encryptPersonal('u1', 'places', { n: 1 })
  const plan = await keyring.prepareRotation('u1', 1, { blobs: [{ blobType: 'places', encryptedBlob: blob }], collections: [], slots: [] })
  assert.notEqual(plan.signingKey, old.signingKey)
  assert.deepEqual(keyring.publicKeys(), old, 'still the old identity before finish')
  plan.finish()
  assert.equal(keyring.publicKeys().signingKey, plan.signingKey)
  assert.deepEqual(keyring.decryptPersonal('u1', 'places', plan.blobs[0].encryptedBlob), { n: 1 })
  assert.throws(() => keyring.decryptPersonal('u1', 'places', blob), 'the old ciphertext no longer opens')
})

test('key slots: a PRF output seals the seed; another one does not open it', async () => {
  const keys = await keyring.create()
  const prf = new Uint8Array(32).fill(5)
  const slot = keyring.createKeySlot('u1', 'cred-1', prf)
  assert.equal(core.verifyKeySlot(slot, 'u1', keys.signingKey), true)
  keyring.lock()
  await assert.rejects(keyring.unlockWithKeySlot(slot, 'u1', new Uint8Array(32).fill(6), keys.signingKey))
  assert.deepEqual(await keyring.unlockWithKeySlot(slot, 'u1', prf, keys.signingKey), keys)
})

test('v1 safety numbers (the original\'s, kept for interop) are symmetric and 12 digits', async () => {
  const a = (await keyring.create()).signingKey
  const b = (await keyring.create()).signingKey
  const n = await keyring.safetyNumber(a, b)
  assert.match(n, /^\d{3} \d{3} \d{3} \d{3}$/)
  assert.equal(await keyring.safetyNumber(b, a), n)
})
