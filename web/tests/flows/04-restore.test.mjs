// Flow 4: restore on a new device, with the recovery key or with a passkey-PRF key slot.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, signInWithCode, shot, addPlace, addPasskey, requireEndpoints, IDENTITY_ENDPOINTS, BLOB_ENDPOINTS, SLOT_ENDPOINTS } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('a new device restores with the recovery key, or with a passkey key slot', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, [...IDENTITY_ENDPOINTS, ...BLOB_ENDPOINTS, ...SLOT_ENDPOINTS]))) return
  const a = await newDevice(fx.browser)
  const recoveryKey = await newUser(a.page, server, 'eve@example.com', 'eve')
  await addPlace(a.page, 'Lighthouse', '43.7384', '7.4246')
  await addPasskey(a.page, server, 'Phone')
  await a.page.waitForSelector('[data-test=has-slot]')
  const [slot] = server.sql(`SELECT * FROM wrapped_master_keys`)
  assert.ok(slot, 'a key slot is stored')
  assert.ok(!JSON.stringify(slot).includes(recoveryKey), 'the slot holds no plaintext seed')

  // New device, recovery key.
  const b = await newDevice(fx.browser)
  await signInWithCode(b.page, server, 'eve@example.com')
  await b.page.waitForURL('**/unlock')
  await shot(b.page, '04-unlock-new-device')
  await b.page.fill('[data-test=recovery-input]', recoveryKey)
  await b.page.click('[data-test=unlock-recovery]')
  await b.page.waitForURL((u) => u.pathname === '/')
  await b.page.waitForSelector('[data-test=place]')
  assert.match(await b.page.textContent('[data-test=places]'), /Lighthouse/)
  b.assertNoConsoleErrors()
  await b.close()

  // "New device" with the passkey: the same authenticator, but no session and no stored seed.
  await a.context.clearCookies()
  await a.page.evaluate(() => localStorage.clear())
  await a.page.goto(`${server.url}/sign-in`)
  await a.page.click('[data-test=passkey-sign-in]')
  await a.page.waitForURL((u) => u.pathname === '/')
  await a.page.waitForSelector('[data-test=place]')
  assert.match(await a.page.textContent('[data-test=places]'), /Lighthouse/)
  const [used] = server.sql(`SELECT last_used_at FROM wrapped_master_keys`)
  assert.ok(used.last_used_at, 'the slot was marked used')

  // Signed in but no stored seed: the unlock screen's passkey button.
  await a.page.evaluate(() => localStorage.removeItem('parchment-identity-seed'))
  await a.page.reload()
  await a.page.waitForURL('**/unlock')
  await a.page.click('[data-test=unlock-passkey]')
  await a.page.waitForURL((u) => u.pathname === '/')
  await a.page.waitForSelector('[data-test=place]')
  a.assertNoConsoleErrors()
  await a.close()
})
