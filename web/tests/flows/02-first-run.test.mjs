// Flow 2: first run. Identity made in WASM, recovery key shown with copy and download, a part
// of it re-typed, alias chosen, public keys uploaded.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { readRecoveryKey, fixture, newDevice, signInWithCode, shot, apiFromPage, requireEndpoints, IDENTITY_ENDPOINTS } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('first run creates keys in the browser and publishes only public keys', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, IDENTITY_ENDPOINTS))) return
  const dev = await newDevice(fx.browser)
  const { page } = dev
  await signInWithCode(page, server, 'first@example.com')
  await page.waitForURL('**/setup')
  await shot(page, '02-setup-start')
  await page.click('[data-test=create-identity]')
  const recoveryKey = await readRecoveryKey(page)
  assert.match(recoveryKey, /^P1(-[0-9A-HJKMNP-TV-Z]{4}){14}$/, 'a checksummed recovery code')
  // The seed behind it, for the at-rest checks below.
  const { Identity } = await import('@parchment/core')
  const seedB64 = Identity.fromRecoveryKey(recoveryKey).exportRecoveryKey()
  await shot(page, '02-setup-recovery-key')

  // Download gives a file with the key.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=download-key]')])
  assert.equal(download.suggestedFilename(), 'parchment-recovery-key.txt')
  assert.ok(readFileSync(await download.path(), 'utf8').includes(recoveryKey))

  // Re-typing: a wrong group is refused, the right one continues.
  await page.click('[data-test=saved-key]')
  const n = Number(await page.textContent('[data-test=ask-group]'))
  const group = recoveryKey.split('-')[n - 1]
  await page.fill('[data-test=retype]', group === 'AAAA' ? 'BBBB' : 'AAAA')
  await page.click('[data-test=confirm-retype]')
  await page.waitForSelector('[data-test=error]')
  await shot(page, '02-setup-retype-wrong')
  await page.fill('[data-test=retype]', group)
  await page.click('[data-test=confirm-retype]')

  // Alias, then publish.
  await page.fill('[data-test=alias]', 'ab') // too short: refused by the form/client
  await page.click('[data-test=finish-setup]')
  await page.fill('[data-test=alias]', 'first_user')
  await shot(page, '02-setup-alias')
  await page.click('[data-test=finish-setup]')
  await page.waitForURL((u) => u.pathname === '/')
  await page.waitForSelector('[data-test=place-form]')
  assert.match(await page.textContent('[data-test=who]'), /first_user@localhost/)
  await shot(page, '02-first-run-done')

  // The server: public keys and alias; the identity it publishes matches.
  const [row] = server.sql(`SELECT alias, signing_key, encryption_key FROM users WHERE email='first@example.com'`)
  assert.equal(row.alias, 'first_user')
  assert.match(row.signing_key, /^[A-Za-z0-9+/]{43}=$/)
  assert.match(row.encryption_key, /^[A-Za-z0-9+/]{43}=$/)
  const id = await apiFromPage(page, 'GET', '/users/me/identity')
  assert.equal(id.body.signingKey, row.signing_key)
  assert.match(id.body.handle, /^first_user@localhost:\d+$/)
  // Nothing secret at rest on the server, and the device keeps only a wrapped seed.
  const raw = server.rawBytes()
  assert.ok(!raw.includes(Buffer.from(recoveryKey)), 'recovery key not in the database')
  assert.ok(!raw.includes(Buffer.from(seedB64, 'base64')), 'seed bytes not in the database')
  const stored = await page.evaluate(() => ({ seed: localStorage.getItem('parchment-identity-seed'), device: localStorage.getItem('parchment-device-id') }))
  assert.ok(stored.seed && stored.seed !== recoveryKey && !stored.seed.includes(recoveryKey))
  assert.ok(!Buffer.from(stored.seed, 'base64').includes(Buffer.from(seedB64, 'base64')), 'the device copy is encrypted')
  assert.match(stored.device, /^[a-zA-Z0-9-]{8,64}$/)
  dev.assertNoConsoleErrors()
  await dev.close()
})
