// Flow 5: settings. Profile, preferences, alias, sessions, passkeys and key slots.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, signInWithCode, shot, addPasskey, requireEndpoints, IDENTITY_ENDPOINTS, SLOT_ENDPOINTS } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('profile, preferences, alias, sessions, passkeys and key slots', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, IDENTITY_ENDPOINTS))) return
  const a = await newDevice(fx.browser)
  const { page } = a
  const recoveryKey = await newUser(page, server, 'finn@example.com', 'finn')
  await page.goto(`${server.url}/settings`)

  // Profile.
  await page.fill('[data-test=first-name]', 'Finn')
  await page.fill('[data-test=last-name]', 'Mertens')
  await page.click('[data-test=save-profile]')
  await page.waitForSelector('[data-test=profile] .success')
  let [u] = server.sql(`SELECT first_name, last_name FROM users WHERE email='finn@example.com'`)
  assert.deepEqual(u, { first_name: 'Finn', last_name: 'Mertens' })

  // Preferences.
  await page.waitForSelector('[data-test=language]')
  await page.selectOption('[data-test=language]', 'es-ES')
  await page.selectOption('[data-test=units]', 'imperial')
  await page.click('[data-test=save-preferences]')
  await page.waitForSelector('[data-test=preferences] .success')
  const [p] = server.sql(`SELECT language, unit_system FROM user_preferences`)
  assert.deepEqual(p, { language: 'es-ES', unit_system: 'imperial' })
  await page.reload()
  await page.waitForSelector('[data-test=language]')
  assert.equal(await page.inputValue('[data-test=units]'), 'imperial')

  // Alias: change it; another user cannot take it.
  await page.fill('[data-test=alias-input]', 'finn_the_human')
  await page.click('[data-test=save-alias]')
  await page.waitForSelector('[data-test=alias-section] .success')
  assert.match(await page.textContent('[data-test=handle]'), /^finn_the_human@localhost:\d+$/)
  ;[u] = server.sql(`SELECT alias FROM users WHERE email='finn@example.com'`)
  assert.equal(u.alias, 'finn_the_human')

  const other = await newDevice(fx.browser)
  await newUser(other.page, server, 'jake@example.com', 'jake')
  await other.page.goto(`${server.url}/settings`)
  await other.page.fill('[data-test=alias-input]', 'FINN_the_human')
  await other.page.click('[data-test=save-alias]')
  await other.page.waitForSelector('[data-test=alias-error]')
  assert.match(await other.page.textContent('[data-test=alias-error]'), /taken/i)
  await other.close()

  // Sessions: a second device of finn shows up; sign it out from here.
  const second = await newDevice(fx.browser)
  await signInWithCode(second.page, server, 'finn@example.com')
  await page.reload()
  await page.waitForFunction(() => document.querySelectorAll('[data-test=session]').length === 2)
  await shot(page, '05-settings')
  await page.click('[data-test=revoke-session]')
  await page.waitForFunction(() => document.querySelectorAll('[data-test=session]').length === 1)
  const finnId = server.sql(`SELECT id FROM users WHERE email='finn@example.com'`)[0].id
  assert.equal(server.sql(`SELECT COUNT(*) AS n FROM sessions WHERE user_id='${finnId}'`)[0].n, 1)
  // The revoked device finds out on its next call, without a reload.
  await second.page.click('[data-test=unlock-passkey]')
  await second.page.waitForURL('**/sign-in')
  // Sign out others.
  await signInWithCode(second.page, server, 'finn@example.com')
  await page.reload()
  await page.waitForFunction(() => document.querySelectorAll('[data-test=session]').length === 2)
  await page.click('[data-test=sign-out-others]')
  await page.waitForFunction(() => document.querySelectorAll('[data-test=session]').length === 1)
  await second.close()

  // Passkeys and key slots.
  if (await requireEndpoints(t, server, SLOT_ENDPOINTS)) {
    await addPasskey(page, server, 'Laptop')
    await page.waitForSelector('[data-test=has-slot]')
    assert.equal(server.sql(`SELECT COUNT(*) AS n FROM wrapped_master_keys`)[0].n, 1)
    await page.click('[data-test=remove-slot]')
    await page.waitForSelector('[data-test=enroll-slot]')
    assert.equal(server.sql(`SELECT COUNT(*) AS n FROM wrapped_master_keys`)[0].n, 0)
    await page.click('[data-test=enroll-slot]')
    await page.waitForSelector('[data-test=has-slot]')
    assert.equal(server.sql(`SELECT COUNT(*) AS n FROM wrapped_master_keys`)[0].n, 1)
    await shot(page, '05-settings-passkeys')
    await page.click('[data-test=remove-passkey]')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=passkey]').length === 0)
    assert.equal(server.sql(`SELECT COUNT(*) AS n FROM passkeys`)[0].n, 0)
  }
  assert.ok(recoveryKey)
  a.assertNoConsoleErrors()
  await a.close()
})

test('settings work at phone width', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, IDENTITY_ENDPOINTS))) return
  const m = await newDevice(fx.browser, { mobile: true })
  await newUser(m.page, server, 'phone@example.com', 'phone_user')
  await m.page.goto(`${server.url}/settings`)
  await m.page.waitForSelector('[data-test=session]')
  const overflow = await m.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
  assert.equal(overflow, false, 'no horizontal scrolling at 390 px')
  await shot(m.page, '05-settings-phone')
  m.assertNoConsoleErrors()
  await m.close()
})
