// Flow 3: this device stays unlocked across reloads (seed wrapped under the device secret);
// "sign out everywhere" deletes the envelope and rotates the secrets (a kept copy no longer
// opens), and the app asks for the recovery key.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, signInWithCode, shot, requireEndpoints, IDENTITY_ENDPOINTS, figure } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('reload stays unlocked; sign out everywhere locks the cached key', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, IDENTITY_ENDPOINTS))) return
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const recoveryKey = await newUser(page, server, 'dora@example.com', 'dora')

  // Reload: unlocked without asking, several times; time to unlocked from navigation start.
  const times = []
  for (let i = 0; i < 5; i++) {
    await page.reload()
    await page.waitForSelector('[data-test=place-form]')
    assert.equal(new URL(page.url()).pathname, '/')
    times.push(await page.evaluate(() => performance.getEntriesByName('parchment-unlocked')[0]?.startTime ?? -1))
  }
  assert.ok(times.every((x) => x > 0), 'the unlocked mark is set')
  times.sort((a, b) => a - b)
  figure('reload_to_unlocked_ms_median', Math.round(times[2]), 'ms (navigation start → unlocked, median of 5, local server)')

  const deviceId = await page.evaluate(() => localStorage.getItem('parchment-device-id'))
  const [before] = server.sql(`SELECT secret FROM device_wrap_secrets WHERE device_id='${deviceId}'`)
  assert.ok(before?.secret, 'the device secret exists on the server')

  // Sign out everywhere: the envelope here is deleted, the secrets rotate, and a copy of the
  // envelope (put back below) stops opening.
  const copied = await page.evaluate(() => localStorage.getItem('parchment-identity-seed'))
  await page.goto(`${server.url}/settings`)
  await page.click('[data-test=sign-out-everywhere]')
  await page.waitForURL('**/sign-in')
  assert.equal(await page.evaluate(() => localStorage.getItem('parchment-identity-seed')), null, 'the envelope is deleted')
  await page.evaluate((v) => localStorage.setItem('parchment-identity-seed', v), copied)
  const [afterRow] = server.sql(`SELECT secret FROM device_wrap_secrets WHERE device_id='${deviceId}'`)
  assert.notEqual(afterRow.secret, before.secret, 'the device secret was rotated')
  assert.equal(server.sql(`SELECT COUNT(*) AS n FROM sessions`)[0].n, 0, 'every session is gone')

  await signInWithCode(page, server, 'dora@example.com')
  await page.waitForURL('**/unlock')
  await page.waitForSelector('[data-test=lock-reason]')
  await shot(page, '03-unlock-after-sign-out-everywhere')

  // A wrong (but well-formed) recovery key is refused; the right one unlocks and re-wraps.
  const other = Buffer.alloc(32, 7).toString('base64')
  await page.fill('[data-test=recovery-input]', other)
  await page.click('[data-test=unlock-recovery]')
  await page.waitForSelector('[data-test=error]')
  assert.match(await page.textContent('[data-test=error]'), /does not match/)
  await page.fill('[data-test=recovery-input]', recoveryKey)
  await page.click('[data-test=unlock-recovery]')
  await page.waitForURL((u) => u.pathname === '/')
  await page.waitForSelector('[data-test=place-form]')
  await page.reload()
  await page.waitForSelector('[data-test=place-form]')
  dev.assertNoConsoleErrors()
  await dev.close()
})

test('a new browser: sign-in to unlocked fetches one WebAssembly module, and how many bytes', async (t) => {
  const { server } = fx
  if (!(await requireEndpoints(t, server, IDENTITY_ENDPOINTS))) return
  const first = await newDevice(fx.browser)
  const recoveryKey = await newUser(first.page, server, 'wren@example.com', 'wren')
  await first.close()

  // A cold browser (empty cache): sign in with an emailed code, unlock with the recovery key.
  const dev = await newDevice(fx.browser)
  const { page, cdp } = dev
  await cdp.send('Network.enable')
  let wire = 0
  cdp.on('Network.loadingFinished', (e) => {
    wire += e.encodedDataLength
  })
  await signInWithCode(page, server, 'wren@example.com')
  await page.waitForURL('**/unlock')
  await page.fill('[data-test=recovery-input]', recoveryKey)
  await page.click('[data-test=unlock-recovery]')
  await page.waitForURL((u) => u.pathname === '/')
  await page.waitForSelector('[data-test=place-form]')
  const wasm = await page.evaluate(() => performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.wasm')).map((r) => ({ name: new URL(r.name).pathname, wire: r.transferSize, raw: r.decodedBodySize })))
  // The start module only: key slots, friend shares, safety numbers and device transfer are in
  // the second one, fetched on first use.
  assert.equal(wasm.length, 1, JSON.stringify(wasm))
  figure('cold_sign_in_to_unlocked_bytes_on_wire', wire, 'B (every response, headers included: sign-in page, code, unlock, places page)')
  figure('start_module_bytes_on_wire', wasm[0].wire, `B (brotli; ${wasm[0].raw} B raw)`)

  // A return visit: the same browser opens the app again. The hashed assets and the module are
  // immutable, so they come from its cache without a request; index.html is revalidated (304).
  // (The same address as the first visit: the browser's cache is keyed by it.)
  const firstAddress = await page.evaluate(() => performance.getEntriesByType('navigation')[0].name)
  wire = 0
  await page.goto(firstAddress)
  await page.waitForSelector('[data-test=place-form]')
  const assets = await page.evaluate(() => performance.getEntriesByType('resource').filter((r) => /\/assets\/|\.wasm$/.test(r.name)).map((r) => ({ path: new URL(r.name).pathname, transfer: r.transferSize })))
  assert.ok(assets.some((a) => a.path.endsWith('.wasm')), `the module is used again: ${JSON.stringify(assets)}`)
  assert.deepEqual(assets.filter((a) => a.transfer > 0), [], 'no asset or module is downloaded again')
  const [navigation] = await page.evaluate(() => performance.getEntriesByType('navigation').map((n) => ({ body: n.encodedBodySize, transfer: n.transferSize })))
  // Resource Timing counts a response from the network as its body + 300 (a fixed figure for the
  // headers), a 304 as 300 and a cache hit as 0.
  assert.equal(navigation.transfer, 300, `index.html is revalidated (304), not sent again: ${JSON.stringify(navigation)}`)
  figure('return_visit_bytes_on_wire', wire, 'B (every response, headers included: index.html revalidated, the API calls of unlocking and the places page)')
  dev.assertNoConsoleErrors()
  await dev.close()
})
