// Flow 12: the client keeps nothing it should not (issue 13 item 10).
// - sign-out deletes the cached seed envelope and makes the server forget this device's wrap
//   secret: a later email-code session in the same browser cannot open a copy of it;
// - only a wrong key (the AEAD's authentication failure) deletes the envelope; a malformed
//   secret or a failing server keeps it;
// - passkey PRF: always the constant salt (crypto.md D12), whatever the server's options say,
//   and the PRF output is zeroed once used;
// - a server re-serving the pre-rotation key (and its key slot) is refused, not re-adopted;
// - the recovery code is shown again only after re-authentication, is gone when the screen is
//   left, and a refused recovery key is never quoted back.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, signInWithCode, addPasskey, readCode, mailCount, readRecoveryKey, apiFromPage, shot } from '../harness.mjs'

const SEED = 'parchment-identity-seed'
/** crypto.md D12, the constant PRF salt. */
const D12_HEX = '31e086b6b7ef54baf0a1f0baa6727ad011a331b369065f9c0e89b3c9a945a076'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

const envelope = (page) => page.evaluate((k) => localStorage.getItem(k), SEED)
const userId = (server, email) => server.sql(`SELECT id FROM users WHERE email='${email}'`)[0].id
const secretRow = (server, email, deviceId) =>
  server.sql(`SELECT secret FROM device_wrap_secrets WHERE user_id='${userId(server, email)}' AND device_id='${deviceId}'`)[0]?.secret ?? null

test('sign-out deletes the envelope and this device\'s wrap secret; a later session cannot open a copy', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const email = 'signout@example.com'
  const recoveryKey = await newUser(page, server, email, 'signout')
  const deviceId = await page.evaluate(() => localStorage.getItem('parchment-device-id'))
  const copied = await envelope(page)
  const secretBefore = secretRow(server, email, deviceId)
  assert.ok(copied && secretBefore, 'an envelope here, a secret on the server')

  const forgets = []
  page.on('request', (r) => {
    if (r.method() === 'DELETE' && r.url().endsWith(`/users/me/devices/${deviceId}/wrap-secret`)) forgets.push(r.url())
  })
  await page.click('[data-test=sign-out]')
  await page.waitForURL('**/sign-in')
  assert.equal(await envelope(page), null, 'the envelope is deleted')
  assert.equal(forgets.length, 1, 'DELETE …/wrap-secret was called for this device')
  assert.equal(secretRow(server, email, deviceId), null, 'the server forgot the secret')

  // Someone kept a copy of the envelope and signs in with an emailed code in the same browser.
  await page.evaluate(([k, v]) => localStorage.setItem(k, v), [SEED, copied])
  await signInWithCode(page, server, email)
  await page.waitForURL('**/unlock')
  await page.waitForSelector('[data-test=lock-reason]')
  assert.notEqual(secretRow(server, email, deviceId), secretBefore, 'a new secret was made')
  assert.equal(await envelope(page), null, 'the copy did not open (wrong key) and is gone')
  // The owner still unlocks with the recovery key.
  await page.fill('[data-test=recovery-input]', recoveryKey)
  await page.click('[data-test=unlock-recovery]')
  await page.waitForSelector('[data-test=place-form]')
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})

test('only a wrong key deletes the envelope: a malformed secret or a failing server keeps it', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  await newUser(page, server, 'unwrap@example.com', 'unwrap')
  const kept = await envelope(page)
  const wrapSecret = '**/users/me/devices/*/wrap-secret'
  const serve = (answer) => page.route(wrapSecret, (route) => (route.request().method() === 'GET' ? answer(route) : route.continue()))

  for (const [what, answer] of [
    ['a secret that is not base64', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ secret: 'not base64!' }) })],
    ['a secret of the wrong length', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ secret: Buffer.alloc(16, 1).toString('base64') }) })],
    ['a secret that is not a string', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ secret: 42 }) })],
    ['a server error', (r) => r.fulfill({ status: 500, contentType: 'application/json', body: '{"code":"internal","message":"boom"}' })],
  ]) {
    await serve(answer)
    await page.reload()
    await page.waitForURL('**/unlock')
    assert.match(await page.textContent('[data-test=lock-reason]'), /kept for the next try/, what)
    assert.equal(await envelope(page), kept, `${what}: the envelope is kept`)
    await page.unroute(wrapSecret)
  }
  // Back to the real secret: the kept envelope still opens.
  await page.reload()
  await page.waitForSelector('[data-test=place-form]')
  assert.equal(new URL(page.url()).pathname, '/')

  // A well-formed secret that is not the one it was sealed under: the AEAD says no, it is deleted.
  await serve((r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ secret: Buffer.alloc(32, 7).toString('base64') }) }))
  await page.reload()
  await page.waitForURL('**/unlock')
  assert.match(await page.textContent('[data-test=lock-reason]'), /no longer opens/)
  assert.equal(await envelope(page), null)
  await page.unroute(wrapSecret)
  dev.assertNoConsoleErrors([/500/, /Failed to load resource/])
  await dev.close()
})

/** Records the PRF salts the page asks authenticators for, and keeps the PRF outputs they return. */
async function watchPrf(dev) {
  await dev.context.addInitScript(() => {
    const hex = (b) => [...new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))].map((x) => x.toString(16).padStart(2, '0')).join('')
    window.__prf = { salts: [], outputs: [] }
    for (const name of ['create', 'get']) {
      const original = navigator.credentials[name].bind(navigator.credentials)
      navigator.credentials[name] = (options) => {
        const first = options?.publicKey?.extensions?.prf?.eval?.first
        if (first) window.__prf.salts.push(hex(first))
        return original(options)
      }
    }
    const results = PublicKeyCredential.prototype.getClientExtensionResults
    PublicKeyCredential.prototype.getClientExtensionResults = function () {
      const r = results.call(this)
      if (r.prf?.results?.first) window.__prf.outputs.push(r.prf.results.first)
      return r
    }
    window.__prfState = () => ({
      salts: window.__prf.salts,
      outputs: window.__prf.outputs.map((o) => ({ length: (o.byteLength ?? 0), zero: new Uint8Array(o instanceof ArrayBuffer ? o : o.buffer).every((x) => x === 0) })),
    })
  })
  return () => dev.page.evaluate(() => window.__prfState())
}

/** Puts a salt of the server's (here: a hostile one) into every passkey ceremony's options. */
async function tamperPrfSalts(page) {
  const salts = []
  const tamper = (v) => {
    if (v && typeof v === 'object') {
      if (v.prf?.eval) {
        const salt = Buffer.alloc(32, salts.length + 1).toString('base64url')
        salts.push(Buffer.from(salt, 'base64url').toString('hex'))
        v.prf.eval.first = salt
      }
      Object.values(v).forEach(tamper)
    }
  }
  await page.route(/\/auth\/passkeys\/(register|authenticate)\/options$/, async (route) => {
    const res = await route.fetch()
    const body = await res.json()
    tamper(body)
    await route.fulfill({ response: res, body: JSON.stringify(body) })
  })
  return salts
}

test('PRF: the constant salt whatever the server sends, and every PRF output zeroed after use', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const prfState = await watchPrf(dev)
  const hostile = await tamperPrfSalts(page)
  await newUser(page, server, 'prf@example.com', 'prf_user')

  // Enrolment: created with PRF, sealed as a key slot.
  await addPasskey(page, server, 'Laptop')
  await page.waitForSelector('[data-test=has-slot]')
  let s = await prfState()
  assert.ok(hostile.length >= 1, 'the server\'s options named a PRF salt (replaced by a hostile one)')
  assert.ok(s.salts.length >= 1 && s.salts.every((x) => x === D12_HEX), `salts asked for: ${s.salts}`)
  assert.ok(s.outputs.length >= 1 && s.outputs.every((o) => o.length === 32 && o.zero), `PRF outputs after enrolment: ${JSON.stringify(s.outputs)}`)

  // Sign out (the envelope goes), sign in with the passkey alone: its PRF opens the slot that the
  // enrolment sealed. With the server's salts (a different one each ceremony) it could not.
  await page.click('[data-test=sign-out]')
  await page.waitForURL('**/sign-in')
  await page.reload() // a fresh record of salts and outputs
  await page.click('[data-test=passkey-sign-in]')
  await page.waitForSelector('[data-test=place-form]')
  s = await prfState()
  assert.ok(hostile.length >= 2)
  assert.deepEqual(s.salts, [D12_HEX])
  assert.ok(s.outputs.length === 1 && s.outputs[0].zero, `PRF output after the passkey sign-in: ${JSON.stringify(s.outputs)}`)

  // The unlock screen's passkey button, the same.
  await page.evaluate((k) => localStorage.removeItem(k), SEED)
  await page.reload()
  await page.waitForURL('**/unlock')
  await page.click('[data-test=unlock-passkey]')
  await page.waitForSelector('[data-test=place-form]')
  s = await prfState()
  assert.deepEqual(s.salts, [D12_HEX])
  assert.ok(s.outputs.length === 1 && s.outputs[0].zero)

  // Rotation re-seals the slot with a fresh PRF evaluation: zeroed too.
  await page.goto(`${server.url}/settings`)
  await page.click('[data-test=rotate]')
  await page.waitForSelector('[data-test=rotated]')
  s = await prfState()
  assert.deepEqual(s.salts, [D12_HEX])
  assert.ok(s.outputs.length === 1 && s.outputs[0].zero)
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})

test('a server re-serving the pre-rotation key and key slot is refused, not re-adopted', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const email = 'rollback@example.com'
  const oldRecovery = await newUser(page, server, email, 'rollback')
  await addPasskey(page, server, 'Laptop')
  await page.waitForSelector('[data-test=has-slot]')
  const oldCurrent = (await apiFromPage(page, 'GET', '/auth/sessions/current')).body
  const oldSlots = (await apiFromPage(page, 'GET', '/users/me/wrapped-keys')).body
  assert.equal(oldCurrent.user.kmVersion, 1)

  // Rotate: version 2, a new signing key, the slot re-sealed.
  await page.goto(`${server.url}/settings`)
  await page.click('[data-test=rotate]')
  await page.waitForSelector('[data-test=rotated]')
  await page.reload()
  await page.waitForSelector('[data-test=km-version]')
  assert.equal(await page.textContent('[data-test=km-version]'), '2')
  const kept = await envelope(page)

  // The server (or whoever answers for it) serves the old account record and the old slot.
  const json = (body) => ({ status: 200, contentType: 'application/json', body: JSON.stringify(body) })
  const serveOld = async (user) => {
    await page.route('**/auth/sessions/current', (r) => r.fulfill(json({ ...oldCurrent, user: { ...oldCurrent.user, ...user } })))
    await page.route('**/users/me/wrapped-keys', (r) => (r.request().method() === 'GET' ? r.fulfill(json(oldSlots)) : r.continue()))
  }
  await serveOld({})
  await page.reload()
  await page.waitForURL('**/unlock')
  const refusal = await page.textContent('[data-test=key-rollback]')
  assert.match(refusal, /replaced/)
  await shot(page, '12-key-rollback')
  assert.equal(await page.locator('[data-test=unlock-passkey], [data-test=unlock-recovery]').count(), 0, 'nothing offers to unlock the old key')
  assert.equal(await page.locator('[data-test=accept-restart]').count(), 0, 'a replaced key is no restart')
  assert.equal(await envelope(page), kept, 'the envelope of the current key is untouched')
  await page.goto(`${server.url}/`)
  await page.waitForURL('**/unlock')
  assert.equal(await page.locator('[data-test=place-form]').count(), 0)
  assert.ok(oldRecovery)

  // A lower version with a key never seen (what starting over elsewhere looks like): refused too,
  // with the owner's way out offered.
  await page.unroute('**/auth/sessions/current')
  await page.unroute('**/users/me/wrapped-keys')
  await serveOld({ signingKey: Buffer.alloc(32, 3).toString('base64') })
  await page.reload()
  await page.waitForURL('**/unlock')
  assert.match(await page.textContent('[data-test=key-rollback]'), /version 1, older than version 2/)
  await page.waitForSelector('[data-test=accept-restart]')

  // The real server again: the current key unlocks from the kept envelope.
  await page.unroute('**/auth/sessions/current')
  await page.unroute('**/users/me/wrapped-keys')
  await page.reload()
  await page.waitForSelector('[data-test=place-form]')
  dev.assertNoConsoleErrors()
  await dev.close()
})

test('the recovery code needs re-authentication, leaves with the screen, and typed keys are never echoed', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const email = 'reveal@example.com'
  const recoveryCode = await newUser(page, server, email, 'reveal')
  const groups = recoveryCode.split('-').slice(1)
  const shows = async () => (await page.evaluate(() => document.body.innerText)).replace(/\s+/g, '').includes(groups.slice(0, 4).join(''))

  await page.goto(`${server.url}/settings`)
  await page.waitForSelector('[data-test=show-recovery]')
  await page.click('[data-test=show-recovery]')
  await page.waitForSelector('[data-test=recovery-confirm]')
  assert.equal(await page.locator('[data-test=recovery-code] [data-test=recovery-key]').count(), 0, 'not shown before re-authentication')
  const mails = mailCount(server, email)
  await page.click('[data-test=confirm-mail-code]')
  const code = await readCode(server, email, mails)
  const wrong = code === '00000000' ? '11111111' : '00000000'
  await page.fill('[data-test=confirm-code]', wrong)
  await page.click('[data-test=confirm-code-submit]')
  await page.waitForSelector('[data-test=recovery-confirm-error]')
  assert.equal(await shows(), false, 'a wrong code shows nothing')
  assert.ok(!(await page.textContent('[data-test=recovery-confirm-error]')).includes(wrong), 'the typed code is not echoed')
  await page.fill('[data-test=confirm-code]', code)
  await page.click('[data-test=confirm-code-submit]')
  assert.equal(await readRecoveryKey(page, '[data-test=recovery-code]'), recoveryCode)
  const uid = userId(server, email)
  assert.equal(server.sql(`SELECT COUNT(*) AS n FROM sessions WHERE user_id='${uid}'`)[0].n, 1, 'the re-authentication replaced the session')

  // Leaving the screen takes it along; coming back asks again.
  await page.click('a[href="/people"]')
  await page.waitForURL('**/people')
  assert.equal(await shows(), false)
  await page.click('a[href="/settings"]')
  await page.waitForSelector('[data-test=show-recovery]')
  assert.equal(await shows(), false)

  // With a passkey holding a key slot, confirmed locally.
  await addPasskey(page, server, 'Laptop')
  await page.waitForSelector('[data-test=has-slot]')
  await page.click('[data-test=show-recovery]')
  await page.click('[data-test=confirm-passkey]')
  assert.equal(await readRecoveryKey(page, '[data-test=recovery-code]'), recoveryCode)
  await page.click('[data-test=hide-recovery]')
  assert.equal(await shows(), false)

  // The unlock screen: refused keys come back as reasons, never as what was typed.
  await page.evaluate((k) => localStorage.removeItem(k), SEED)
  await page.reload()
  await page.waitForURL('**/unlock')
  const last = groups[groups.length - 1]
  const typo = recoveryCode.slice(0, -1) + (recoveryCode.endsWith('A') ? 'B' : 'A')
  for (const typed of [typo, recoveryCode.slice(0, -4) + 'U#%Z', 'P1-SECRETGROUP', 'not-my-secret-words']) {
    await page.fill('[data-test=recovery-input]', typed)
    await page.click('[data-test=unlock-recovery]')
    await page.waitForFunction(() => !document.querySelector('[data-test=unlock-recovery]').disabled && document.querySelector('[data-test=error]'))
    const text = await page.textContent('[data-test=error]')
    for (const piece of [typed, ...typed.split('-').filter((g) => g.length >= 4), last, '#', 'SECRET', 'secret-words']) {
      assert.ok(!text.includes(piece), `"${text}" echoes "${piece}"`)
    }
  }
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})
