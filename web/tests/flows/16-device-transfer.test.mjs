// Flow 16: moving an identity to a new browser without typing the recovery key (issue 17,
// part 2; device transfer v2, commit-before-reveal). The new browser signs in with an email
// code and shows a transfer code; the old one reads it, both show the same 8 digits, and only
// "They match" on the old device sends the sealed seed. "They differ" sends nothing, an expired
// transfer is refused, and a server that shows the old device another commitment than the new
// device's screen is caught before the old device joins, and so is one that swaps the old
// device's key after the new device pinned it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, newUser, signInWithCode, addPlace, shot, requireEndpoints, IDENTITY_ENDPOINTS, figure, tamper } from '../harness.mjs'

const EMAIL = 'tess@example.com'
const SAS = /^\d{4} \d{4}$/
let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

function transfers(server) {
  return server.sql('SELECT id, sender_public, sealed_seed FROM device_transfers')
}

/** The new browser starts a transfer; returns the code it shows. */
async function startOnNew(page) {
  await page.click('[data-test=transfer-start]')
  await page.waitForSelector('[data-test=transfer-qr]')
  return page.inputValue('[data-test=transfer-code]')
}

async function pasteOnOld(page, server, code) {
  await page.goto(`${server.url}/settings`)
  await page.fill('[data-test=transfer-paste]', code)
  await page.click('[data-test=transfer-join]')
}

test('a new browser gets the identity only after the user confirms the codes match', async (t) => {
  const { server, browser } = fx
  if (!(await requireEndpoints(t, server, [...IDENTITY_ENDPOINTS, ['POST', '/device-transfer']]))) return
  const old = await newDevice(browser)
  await newUser(old.page, server, EMAIL, 'tess')
  await addPlace(old.page, 'Lighthouse café', '43.36', '-8.41')

  const neu = await newDevice(browser, { width: 420, height: 900, mobile: true })
  await signInWithCode(neu.page, server, EMAIL)
  await neu.page.waitForURL('**/unlock')

  // 1. The user says the codes differ: nothing is uploaded and the transfer is gone.
  let code = await startOnNew(neu.page)
  await shot(neu.page, '16-transfer-code-new-device')
  await pasteOnOld(old.page, server, code)
  await old.page.waitForSelector('[data-test=transfer-sas]')
  await neu.page.waitForSelector('[data-test=transfer-sas]')
  const shownOld = (await old.page.textContent('[data-test=transfer-sas]')).trim()
  assert.match(shownOld, SAS)
  assert.equal((await neu.page.textContent('[data-test=transfer-sas]')).trim(), shownOld, 'both screens show the same 8 digits')
  assert.deepEqual(transfers(server).map((r) => r.sealed_seed), [null], 'nothing is sealed before the user confirms')
  await old.page.click('[data-test=transfer-differ]')
  await old.page.waitForSelector('[data-test=transfer-cancelled]')
  assert.equal(transfers(server).length, 0, 'the cancelled transfer is deleted, nothing was uploaded')
  await neu.page.waitForSelector('[data-test=transfer-error]')
  assert.match(await neu.page.textContent('[data-test=transfer-error]'), /cancelled/)
  assert.equal(new URL(neu.page.url()).pathname, '/unlock', 'still locked')

  // 2. An expired transfer is refused on both devices.
  code = await startOnNew(neu.page)
  tamper(server, 'UPDATE device_transfers SET expires_at = 1')
  await pasteOnOld(old.page, server, code)
  await old.page.waitForSelector('[data-test=transfer-error]')
  assert.match(await old.page.textContent('[data-test=transfer-error]'), /expired/)
  await neu.page.waitForSelector('[data-test=transfer-error]:has-text("expired")')
  assert.deepEqual(transfers(server).map((r) => r.sender_public), [null], 'the old device did not join an expired transfer')

  // 3. A server that shows the old device another commitment than the new device displays:
  // the old device refuses to join.
  code = await startOnNew(neu.page)
  const lied = code.split(':')[1]
  tamper(server, `UPDATE device_transfers SET receiver_commitment = '${Buffer.alloc(32, 9).toString('base64')}' WHERE id = '${lied}'`)
  await pasteOnOld(old.page, server, code)
  await old.page.waitForSelector('[data-test=transfer-error]')
  assert.match(await old.page.textContent('[data-test=transfer-error]'), /another transfer/)
  assert.deepEqual(transfers(server).filter((r) => r.id === lied).map((r) => r.sender_public), [null], 'the old device did not join')
  await neu.page.click('[data-test=transfer-cancel]')
  await neu.page.waitForSelector('[data-test=transfer-start]')

  // 3b. A server that swaps the old device's key once the new device has pinned it (to
  // deliver a seed of its own): the new device stops and unlocks nothing.
  code = await startOnNew(neu.page)
  await pasteOnOld(old.page, server, code)
  await neu.page.waitForSelector('[data-test=transfer-sas]')
  await neu.page.click('[data-test=transfer-match]')
  tamper(server, `UPDATE device_transfers SET sender_public = '${Buffer.alloc(32, 9).toString('base64')}' WHERE id = '${code.split(':')[1]}'`)
  await neu.page.waitForSelector('[data-test=transfer-error]')
  assert.match(await neu.page.textContent('[data-test=transfer-error]'), /key changed/)
  assert.equal(new URL(neu.page.url()).pathname, '/unlock', 'still locked')
  await old.page.waitForSelector('[data-test=transfer-error], [data-test=transfer-cancelled]')

  // A pasted text that is not a transfer code.
  await pasteOnOld(old.page, server, 'P1-ABCD-EFGH')
  await old.page.waitForSelector('[data-test=transfer-error]')
  assert.match(await old.page.textContent('[data-test=transfer-error]'), /not a Parchment transfer code/)

  // 4. The codes match: the new browser unlocks with the same identity and reads the places.
  code = await startOnNew(neu.page)
  const started = Date.now()
  await pasteOnOld(old.page, server, code)
  await old.page.waitForSelector('[data-test=transfer-sas]')
  await neu.page.waitForSelector('[data-test=transfer-sas]')
  assert.equal((await neu.page.textContent('[data-test=transfer-sas]')).trim(), (await old.page.textContent('[data-test=transfer-sas]')).trim())
  assert.match(await old.page.textContent('[data-test=transfer-receiver]'), /Chrome on/, 'the old device names the new one')
  await old.page.waitForSelector('[data-test=transfer-pasted-warning]')
  await shot(old.page, '16-transfer-compare-old-device')
  await shot(neu.page, '16-transfer-compare-new-device')
  // Both users confirm: the new device first (it opens once the seed arrives), then the old.
  await neu.page.click('[data-test=transfer-match]')
  await old.page.click('[data-test=transfer-match]')
  await old.page.waitForSelector('[data-test=transfer-sent]')
  await neu.page.waitForURL((u) => u.pathname === '/', { timeout: 15000 })
  await neu.page.waitForSelector('[data-test=place-form]')
  figure('device_transfer_confirm_to_unlocked_ms', Date.now() - started, 'ms (paste → compare → confirm → new device unlocked, with 1 s polling)')
  await neu.page.waitForSelector('[data-test=place]:has-text("Lighthouse café")')
  assert.equal(server.sql('SELECT COUNT(*) AS n FROM device_transfers WHERE expires_at > 1')[0].n, 0, 'the transfer is deleted after success')
  // It stays unlocked on reload (the seed is wrapped for this device as after any unlock).
  await neu.page.reload()
  await neu.page.waitForSelector('[data-test=place-form]')
  // The seed never crossed in the clear: only ciphertext was in the table, now deleted.
  const recovery = await old.page.evaluate(() => localStorage.getItem('parchment-identity-seed'))
  assert.ok(recovery, 'the old device is still unlocked')
  // The cancelled and the expired transfer answered 404 on purpose (steps 1 and 2).
  const provoked = [/status of 404 .*\/device-transfer\//]
  old.assertNoConsoleErrors(provoked)
  neu.assertNoConsoleErrors(provoked)
  await old.close()
  await neu.close()
})
