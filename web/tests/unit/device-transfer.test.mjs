// Device transfer v2 as the app runs it: src/crypto's keyring on one side, the WASM package
// directly on the other (one tab is one side), and the transfer code the two screens share.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { build } from 'esbuild'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
let keyring, core, code

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-transfer-'))
  const coreUrl = pathToFileURL(createRequire(join(web, 'package.json')).resolve('@parchment/core').replace(/parchment_core\.js$/, 'node.js')).href
  for (const [entry, name] of [['src/crypto/index.ts', 'crypto.mjs'], ['src/transfer/code.ts', 'code.mjs']]) {
    const file = join(out, name)
    await build({ entryPoints: [join(web, entry)], bundle: true, format: 'esm', platform: 'node', outfile: file, external: ['@parchment/core'], logLevel: 'silent' })
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('"@parchment/core"', JSON.stringify(coreUrl)))
  }
  ;({ keyring } = await import(pathToFileURL(join(out, 'crypto.mjs')).href))
  code = await import(pathToFileURL(join(out, 'code.mjs')).href)
  core = await import(coreUrl)
  rmSync(out, { recursive: true, force: true })
})

test('the old device seals only to the committed key, and the new device opens it', async () => {
  const mine = await keyring.create()
  const receiver = core.DeviceTransferReceiver.generate()
  const senderPub = await keyring.startSending()
  const sas = keyring.sendingSas(receiver.commitment, receiver.publicKey, 'sess-1')
  assert.match(sas, /^\d{8}$/)
  assert.equal(sas, receiver.sasV2(senderPub, 'sess-1'), 'both screens show the same 8 digits')
  const sealed = keyring.sealForNewDevice(receiver.commitment, receiver.publicKey, 'sess-1')
  const opened = receiver.openV2('sess-1', senderPub, sealed, mine.signingKey)
  assert.equal(opened.signingPublicKey, mine.signingKey)
  // The sending key is gone after sealing: a second seal needs a new transfer.
  assert.throws(() => keyring.sealForNewDevice(receiver.commitment, receiver.publicKey, 'sess-1'))
})

test('a swapped key is refused before anything is sealed', async () => {
  await keyring.create()
  const receiver = core.DeviceTransferReceiver.generate()
  const relay = core.DeviceTransferReceiver.generate()
  await keyring.startSending()
  assert.throws(() => keyring.sendingSas(receiver.commitment, relay.publicKey, 'sess-2'), /in between/)
  assert.throws(() => keyring.sealForNewDevice(receiver.commitment, relay.publicKey, 'sess-2'))
})

test('the new device adopts only a seed of the account it signed in to', async () => {
  const account = core.Identity.generate()
  const stranger = core.Identity.generate()
  const { commitment, publicKey } = await keyring.startReceiving()
  const sender = core.DeviceTransferSender.generate()
  assert.equal(keyring.receivingSas(sender.publicKey, 'sess-3'), sender.sas(commitment, publicKey, 'sess-3'))
  // Signed and sealed by another identity: refused, and nothing is unlocked.
  keyring.lock()
  const foreign = stranger.sealDeviceTransferV2(sender, commitment, publicKey, 'sess-3')
  assert.throws(() => keyring.finishReceiving('sess-3', sender.publicKey, foreign, account.signingPublicKey), /not this account/)
  assert.equal(keyring.isUnlocked(), false)

  const again = await keyring.startReceiving()
  const sender2 = core.DeviceTransferSender.generate()
  const sealed = account.sealDeviceTransferV2(sender2, again.commitment, again.publicKey, 'sess-4')
  const keys = keyring.finishReceiving('sess-4', sender2.publicKey, sealed, account.signingPublicKey)
  assert.equal(keys.signingKey, account.signingPublicKey)
  assert.equal(keys.encryptionKey, account.encryptionPublicKey)
})

test('transfer codes: what the new device shows parses back; anything else is refused', () => {
  const commitment = Buffer.alloc(32, 7).toString('base64')
  const text = code.formatTransferCode({ sessionId: 'AbCdEfGhIjKlMnOpQrStUvWx', commitment })
  assert.deepEqual(code.parseTransferCode(` ${text.slice(0, 30)}\n${text.slice(30)} `), { sessionId: 'AbCdEfGhIjKlMnOpQrStUvWx', commitment })
  for (const bad of ['', 'hello', text.replace('v2', 'v1'), `${text}:extra`, text.replace(commitment, 'AAAA'), text.replace('AbCd', 'Ab/d')]) {
    assert.equal(code.parseTransferCode(bad), null, bad)
  }
  assert.equal(code.groupSas('12345678'), '1234 5678')
})
