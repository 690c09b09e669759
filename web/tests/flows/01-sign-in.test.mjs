// Flow 1: sign in by emailed code; register a passkey after the first sign-in, then sign in with it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, readCode, mailCount, shot, createIdentity, hasEndpoint } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('email code: a wrong code is refused with the server message, the right one signs in', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  await page.goto(server.url)
  await page.waitForURL('**/sign-in')
  await page.waitForSelector('[data-test=email]')
  await shot(page, '01-sign-in')
  const email = 'ada@example.com'
  await page.fill('[data-test=email]', email)
  await page.click('[data-test=send-code]')
  await page.waitForSelector('[data-test=code]')
  const code = await readCode(server, email)
  assert.match(code, /^\d{8}$/)
  const wrong = code === '00000000' ? '11111111' : '00000000'
  await page.fill('[data-test=code]', wrong)
  await page.click('[data-test=verify-code]')
  const err = await page.waitForSelector('[data-test=error]')
  const message = (await err.textContent()).trim()
  assert.ok(message.length > 5, 'an error is shown')
  assert.doesNotMatch(message, /HTTP \d+/, 'the message is the server\'s, not a status code')
  await shot(page, '01-sign-in-wrong-code')
  await page.fill('[data-test=code]', code)
  await page.click('[data-test=verify-code]')
  await page.waitForURL('**/setup')
  await page.waitForSelector('[data-test=create-identity]')
  // What the server stored: the user, one session; the cookie is HttpOnly.
  const users = server.sql(`SELECT email FROM users`)
  assert.deepEqual(users.map((u) => u.email), [email])
  const cookies = await dev.context.cookies()
  const session = cookies.find((c) => c.httpOnly)
  assert.ok(session, 'an HttpOnly session cookie is set')
  const tables = server.sql(`SELECT name FROM sqlite_master WHERE type='table'`).map((t) => t.name)
  const sessionTable = tables.find((t) => t === 'sessions')
  if (sessionTable) {
    const rows = server.sql(`SELECT * FROM sessions`)
    assert.equal(rows.length, 1)
    assert.ok(!JSON.stringify(rows).includes(session.value), 'the session token is not stored in clear')
  }
  // A used code cannot be used again.
  assert.equal(mailCount(server, email), 1)
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})

test('passkey: register after the first sign-in, sign out, sign in with the passkey', async (t) => {
  const { server } = fx
  if (!(await hasEndpoint(server, 'PUT', '/users/me/keys'))) {
    t.skip('server has no identity endpoints yet (PUT /users/me/keys): passkeys live in Settings, behind setup')
    return
  }
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const email = 'grace@example.com'
  await page.goto(`${server.url}/sign-in`)
  await page.fill('[data-test=email]', email)
  await page.click('[data-test=send-code]')
  await page.fill('[data-test=code]', await readCode(server, email))
  await page.click('[data-test=verify-code]')
  await page.waitForURL('**/setup')
  await createIdentity(page, 'grace')
  await page.goto(`${server.url}/settings`)
  await page.fill('[data-test=passkey-name]', 'Test laptop')
  await page.click('[data-test=add-passkey]')
  await page.waitForSelector('[data-test=passkey]')
  await page.waitForSelector('[data-test=passkey-done]')
  assert.match(await page.textContent('[data-test=passkey]'), /Test laptop/)
  await shot(page, '01-passkey-added')
  const creds = await dev.credentials()
  assert.equal(creds.length, 1, 'the authenticator holds one credential')
  const rows = server.sql(`SELECT * FROM passkeys`)
  assert.equal(rows.length, 1, 'the server stored one passkey')
  // Sign out, then back in with the passkey alone (no email, no code).
  const mails = mailCount(server, email)
  await page.click('[data-test=sign-out]')
  await page.waitForURL('**/sign-in')
  await page.click('[data-test=passkey-sign-in]')
  await page.waitForURL((u) => u.pathname === '/')
  await page.waitForSelector('[data-test=place-form]')
  assert.equal(mailCount(server, email), mails, 'no code was mailed')
  assert.match(await page.textContent('[data-test=who]'), /grace@/)
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})
