// Flow 7: rotate the master key. Blobs and key slots re-encrypted under a new K_m, committed
// with compare-and-swap; a 409 (another device rotated first) is explained and retried after reload.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readRecoveryKey, fixture, newDevice, newUser, signInWithCode, shot, addPlace, addPasskey, apiFromPage, figure, requireEndpoints, IDENTITY_ENDPOINTS, BLOB_ENDPOINTS, SLOT_ENDPOINTS } from '../harness.mjs'

const ROTATE_ENDPOINTS = [...IDENTITY_ENDPOINTS, ...BLOB_ENDPOINTS, ['GET', '/users/me/km-version'], ['POST', '/users/me/km-version/commit']]

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

async function rotate(page, server) {
  await page.goto(`${server.url}/settings`)
  await page.click('[data-test=rotate]')
  await page.waitForSelector('[data-test=rotated], [data-test=rotate-error]')
  if (await page.locator('[data-test=rotate-error]').count()) throw new Error(await page.textContent('[data-test=rotate-error]'))
  const key = await readRecoveryKey(page, '[data-test=rotated]')
  const summary = await page.textContent('[data-test=rotated] .success')
  return { key, ms: Number(summary.match(/in (\d+) ms/)[1]), cryptoMs: Number(summary.match(/re-encryption (\d+) ms/)[1]) }
}

test('rotation re-encrypts everything; the old recovery key stops working', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, ROTATE_ENDPOINTS))) return
  const slots = await requireEndpoints(t, server, SLOT_ENDPOINTS)
  const a = await newDevice(fx.browser)
  const oldKey = await newUser(a.page, server, 'ivy@example.com', 'ivy')
  await addPlace(a.page, 'Old Mill', '52.1', '5.1')
  // A collection: its key derives from the seed, so the rotation must re-seal its content.
  await a.page.fill('[data-test=collection-name]', 'Windmills')
  await a.page.click('[data-test=collection-create]')
  await a.page.locator('[data-test=collection][data-name="Windmills"] [data-test=collection-add-name]').fill('De Adriaan')
  await a.page.locator('[data-test=collection][data-name="Windmills"] [data-test=collection-add]').click()
  await a.page.locator('[data-test=collection-place]', { hasText: 'De Adriaan' }).waitFor()
  const contentBefore = server.sql('SELECT content_encrypted FROM collections')[0].content_encrypted
  if (slots) await addPasskey(a.page, server, 'Key')
  const before = server.sql(`SELECT signing_key, km_version FROM users WHERE email='ivy@example.com'`)[0]
  const blobBefore = server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`)[0].encrypted_blob
  const slotBefore = slots ? server.sql(`SELECT wrapped_km FROM wrapped_master_keys`)[0].wrapped_km : null

  const { key: newKey } = await rotate(a.page, server)
  assert.notEqual(newKey, oldKey)
  await shot(a.page, '07-rotated')
  const after = server.sql(`SELECT signing_key, km_version FROM users WHERE email='ivy@example.com'`)[0]
  assert.equal(after.km_version, before.km_version + 1)
  assert.notEqual(after.signing_key, before.signing_key)
  assert.notEqual(server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`)[0].encrypted_blob, blobBefore)
  if (slots) assert.notEqual(server.sql(`SELECT wrapped_km FROM wrapped_master_keys`)[0].wrapped_km, slotBefore)

  assert.notEqual(server.sql('SELECT content_encrypted FROM collections')[0].content_encrypted, contentBefore)

  // This device stays unlocked with the new key; places and the collection still decrypt.
  await a.page.goto(server.url)
  await a.page.waitForSelector('[data-test=place]')
  await a.page.reload()
  await a.page.waitForSelector('[data-test=place]')
  await a.page.locator('[data-test=collection-place]', { hasText: 'De Adriaan' }).waitFor()

  // A new device: the old recovery key is refused, the new one works.
  const b = await newDevice(fx.browser)
  await signInWithCode(b.page, server, 'ivy@example.com')
  await b.page.waitForURL('**/unlock')
  await b.page.fill('[data-test=recovery-input]', oldKey)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForSelector('[data-test=error]')
  await b.page.fill('[data-test=recovery-input]', newKey)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForSelector('[data-test=place]')
  assert.match(await b.page.textContent('[data-test=places]'), /Old Mill/)
  if (slots) {
    // The re-sealed slot opens with the passkey: sign in with it on a cleared device.
    await a.context.clearCookies()
    await a.page.evaluate(() => localStorage.clear())
    await a.page.goto(`${server.url}/sign-in`)
    await a.page.click('[data-test=passkey-sign-in]')
    await a.page.waitForSelector('[data-test=place]')
  }
  a.assertNoConsoleErrors([/library\/collections/])
  b.assertNoConsoleErrors([/library\/collections/])
  await a.close()
  await b.close()
})

test('two devices rotate: the second gets a clear 409, reloads, and retries', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, ROTATE_ENDPOINTS))) return
  const a = await newDevice(fx.browser)
  const key = await newUser(a.page, server, 'jo@example.com', 'jojo')
  await addPlace(a.page, 'Pier', '1', '2')
  const b = await newDevice(fx.browser)
  await signInWithCode(b.page, server, 'jo@example.com')
  await b.page.fill('[data-test=recovery-input]', key)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForSelector('[data-test=place]')
  await b.page.goto(`${server.url}/settings`)
  await b.page.waitForSelector('[data-test=rotate]')

  const { key: keyA } = await rotate(a.page, server)
  // B still holds the old key (no reload): its places screen says so, and a save is refused
  // rather than overwriting A's re-encrypted blob with old-key ciphertext.
  const blobAfterA = server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`)
  await b.page.click('nav a[href="/"]')
  await b.page.waitForSelector('[data-test=load-error] [data-test=reload-stale]')
  assert.match(await b.page.textContent('[data-test=load-error]'), /rotated on another device/)
  await b.page.fill('[data-test=place-name]', 'Written with the old key')
  await b.page.click('[data-test=add-place]')
  await b.page.waitForSelector('[data-test=error] [data-test=reload-stale]')
  assert.deepEqual(server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`), blobAfterA, 'nothing overwritten')
  await shot(b.page, '07-places-stale-key')
  await b.page.click('nav a[href="/settings"]')
  await b.page.waitForSelector('[data-test=rotate]')
  await b.page.click('[data-test=rotate]')
  const err = await b.page.waitForSelector('[data-test=rotate-error]')
  assert.match(await err.textContent(), /Another device rotated/)
  await shot(b.page, '07-rotate-conflict')
  assert.equal(server.sql(`SELECT km_version FROM users WHERE email='jo@example.com'`)[0].km_version, 2, 'nothing more was written')
  await b.page.click('[data-test=reload-after-conflict]')
  await b.page.waitForURL('**/unlock')
  await b.page.fill('[data-test=recovery-input]', keyA)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForSelector('[data-test=place]')
  const { key: keyB } = await rotate(b.page, server)
  assert.ok(keyB)
  assert.equal(server.sql(`SELECT km_version FROM users WHERE email='jo@example.com'`)[0].km_version, 3)
  a.assertNoConsoleErrors([/library\/collections/])
  b.assertNoConsoleErrors([/library\/collections/, /km-version\/commit/])
  await a.close()
  await b.close()
})

test('a true race: both devices prepared a commit; the server\'s compare-and-swap refuses the second (409)', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, ROTATE_ENDPOINTS))) return
  const a = await newDevice(fx.browser)
  const key = await newUser(a.page, server, 'lu@example.com', 'lulu')
  await addPlace(a.page, 'Dock', '3', '4')
  const b = await newDevice(fx.browser)
  await signInWithCode(b.page, server, 'lu@example.com')
  await b.page.fill('[data-test=recovery-input]', key)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForSelector('[data-test=place]')
  await b.page.goto(`${server.url}/settings`)
  // Hold B's commit until A has rotated.
  let release
  const held = new Promise((r) => (release = r))
  await b.page.route('**/users/me/km-version/commit', async (route) => {
    release()
    await aDone
    await route.continue()
  })
  let aDoneResolve
  const aDone = new Promise((r) => (aDoneResolve = r))
  await b.page.click('[data-test=rotate]')
  await held
  await rotate(a.page, server)
  const blobAfterA = server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`)
  aDoneResolve()
  const err = await b.page.waitForSelector('[data-test=rotate-error]')
  assert.match(await err.textContent(), /Another device rotated/)
  assert.equal(server.sql(`SELECT km_version FROM users WHERE email='lu@example.com'`)[0].km_version, 2)
  assert.deepEqual(server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`), blobAfterA, 'the refused commit wrote nothing')
  a.assertNoConsoleErrors([/library\/collections/])
  b.assertNoConsoleErrors([/library\/collections/, /km-version\/commit/])
  await a.close()
  await b.close()
})

test('rotation time with 100 blobs', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, ROTATE_ENDPOINTS))) return
  const a = await newDevice(fx.browser)
  const key = await newUser(a.page, server, 'kim@example.com', 'kim')
  // 100 personal blobs encrypted with the same package in Node (the test knows the recovery key).
  const { Identity } = await import('@parchment/core')
  const id = Identity.fromRecoveryKey(key)
  const userId = server.sql(`SELECT id FROM users WHERE email='kim@example.com'`)[0].id
  const plain = new TextEncoder().encode(JSON.stringify({ filler: 'x'.repeat(900) }))
  for (let i = 0; i < 100; i++) {
    const blobType = `bench-${i}`
    const env = id.encryptRecord('personal', { userId, recordType: 'personal-blob', recordId: blobType, keyContext: 'parchment-personal-v1' }, plain)
    const r = await apiFromPage(a.page, 'PUT', `/users/me/blobs/${blobType}`, { encryptedBlob: Buffer.from(env).toString('base64') })
    assert.ok(r.status < 300, `PUT blob ${i}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  id.free()
  const { ms, cryptoMs } = await rotate(a.page, server)
  figure('rotate_100_blobs_ms', ms, `ms (fetch 100 × 1 KiB blobs, re-encrypt in WASM, commit; UI-measured, debug server build)`)
  figure('rotate_100_blobs_reencrypt_ms', cryptoMs, 'ms (decrypt + encrypt 100 × 1 KiB blobs in WASM, new identity)')
  assert.equal(server.sql(`SELECT COUNT(*) AS n FROM encrypted_user_blobs WHERE km_version = 2 AND user_id = '${userId}'`)[0].n, 100)
  a.assertNoConsoleErrors([/library\/collections/])
  await a.close()
})
