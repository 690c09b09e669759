// Flow 6: My places, stored as one encrypted personal blob: the server holds only ciphertext.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, shot, addPlace, apiFromPage, requireEndpoints, IDENTITY_ENDPOINTS, BLOB_ENDPOINTS } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('places are saved, survive a reload, and the server stores only ciphertext', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, [...IDENTITY_ENDPOINTS, ...BLOB_ENDPOINTS]))) return
  const dev = await newDevice(fx.browser)
  const { page } = dev
  await newUser(page, server, 'gina@example.com', 'gina')
  await page.waitForSelector('[data-test=no-places]')
  await shot(page, '06-places-empty')
  await addPlace(page, 'Secret Garden Cafe', '51.50722', '-0.12750', 'Best scones in town')
  await addPlace(page, 'Zanzibar Harbour', '-6.16394', '39.19793')
  // Invalid coordinates are refused before anything is sent.
  await page.fill('[data-test=place-name]', 'Nowhere')
  await page.fill('[data-test=place-lat]', '123')
  assert.equal(await page.isDisabled('[data-test=add-place]'), true)
  await page.fill('[data-test=place-name]', '')
  await page.fill('[data-test=place-lat]', '')
  await shot(page, '06-places')

  await page.reload()
  await page.waitForFunction(() => document.querySelectorAll('[data-test=place]').length === 2)
  const text = await page.textContent('[data-test=places]')
  assert.match(text, /Secret Garden Cafe/)
  assert.match(text, /Best scones in town/)

  // Server side: one blob of type "places", a v2 envelope, no plaintext anywhere in the DB.
  const rows = server.sql(`SELECT blob_type, encrypted_blob FROM encrypted_user_blobs`)
  assert.equal(rows.length, 1)
  assert.equal(rows[0].blob_type, 'places')
  const env = Buffer.from(rows[0].encrypted_blob, 'base64')
  assert.equal(env[0], 0x02, 'envelope version 2')
  assert.ok(env.length > 30)
  const raw = server.rawBytes()
  for (const plain of ['Secret Garden Cafe', 'Best scones', 'Zanzibar', '51.50722']) {
    assert.ok(!raw.includes(Buffer.from(plain)), `"${plain}" is not in the database`)
  }
  const api = await apiFromPage(page, 'GET', '/users/me/blobs/places')
  assert.equal(api.body.encryptedBlob, rows[0].encrypted_blob)

  // Remove one.
  await page.locator('[data-test=place]', { hasText: 'Zanzibar' }).locator('button', { hasText: 'Remove' }).click()
  await page.waitForFunction(() => document.querySelectorAll('[data-test=place]').length === 1)
  const after = server.sql(`SELECT encrypted_blob FROM encrypted_user_blobs`)[0].encrypted_blob
  assert.notEqual(after, rows[0].encrypted_blob)
  dev.assertNoConsoleErrors()
  await dev.close()
})

test('places at phone width', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, [...IDENTITY_ENDPOINTS, ...BLOB_ENDPOINTS]))) return
  const m = await newDevice(fx.browser, { mobile: true })
  await newUser(m.page, server, 'hana@example.com', 'hana')
  await addPlace(m.page, 'Kyoto Station', '34.98583', '135.75889', 'Meet at the big stairs')
  const overflow = await m.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
  assert.equal(overflow, false, 'no horizontal scrolling at 390 px')
  await shot(m.page, '06-places-phone')
  m.assertNoConsoleErrors()
  await m.close()
})
