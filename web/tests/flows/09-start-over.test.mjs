// Flow 9: start over. Identity reset behind a typed confirmation, a new identity, then the
// pending revocations are signed in WASM and flushed to the former friend's server.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTwoServers, stopTwoServers, newDevice, newUser, createIdentity, shot, addPlace, requireEndpoints, IDENTITY_ENDPOINTS } from '../harness.mjs'

const RESET_ENDPOINTS = [...IDENTITY_ENDPOINTS, ['POST', '/users/me/identity/reset'], ['GET', '/users/me/revocations/pending']]
const FRIEND_ENDPOINTS = [['GET', '/friends'], ['POST', '/friends/invite']]
let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

test('reset wipes encrypted data, keeps the account, and notifies former friends', async (t) => {
  if (!(await requireEndpoints(t, A, RESET_ENDPOINTS))) return
  const withFriends = await requireEndpoints(t, A, FRIEND_ENDPOINTS)
  const alice = await newDevice(browser)
  await newUser(alice.page, A, 'alice@example.com', 'alice')
  await addPlace(alice.page, 'Home', '1', '1')
  const bobHandle = `bob@localhost:${B.port}`
  let bob
  if (withFriends) {
    bob = await newDevice(browser)
    await newUser(bob.page, B, 'bob@example.com', 'bob')
    await alice.page.goto(`${A.url}/people`)
    await alice.page.fill('[data-test=invite-handle]', bobHandle)
    await alice.page.click('[data-test=invite]')
    await bob.page.goto(`${B.url}/people`)
    await bob.page.waitForSelector('[data-test=incoming-invite]', { timeout: 20000 })
    await bob.page.click('[data-test=accept]')
    await bob.page.waitForSelector('[data-test=friend]')
  }

  await alice.page.goto(`${A.url}/start-over`)
  assert.equal(await alice.page.isDisabled('[data-test=do-reset]'), true, 'needs the typed confirmation')
  await alice.page.fill('[data-test=confirm-reset]', 'erase all my data')
  await shot(alice.page, '09-start-over')
  await alice.page.click('[data-test=do-reset]')
  await alice.page.waitForURL('**/setup')
  const [u] = A.sql(`SELECT alias, signing_key, km_version FROM users WHERE email='alice@example.com'`)
  assert.equal(u.alias, 'alice', 'the alias is kept')
  assert.equal(u.signing_key, null)
  assert.equal(A.sql(`SELECT COUNT(*) AS n FROM encrypted_user_blobs`)[0].n, 0, 'encrypted data wiped')

  await createIdentity(alice.page, 'alice')
  if (withFriends) {
    await alice.page.waitForSelector('[data-test=pending-revocation]')
    assert.match(await alice.page.textContent('[data-test=revocations]'), new RegExp(bobHandle))
    await shot(alice.page, '09-revocations')
    await alice.page.click('[data-test=notify-all]')
    await alice.page.waitForSelector('[data-test=all-notified]', { timeout: 30000 })
    await bob.page.reload()
    await bob.page.waitForFunction(() => document.querySelectorAll('[data-test=friend]').length === 0)
    await bob.close()
  }
  await alice.close()
})

test('start over needs the typed confirmation', async () => {
  const dev = await newDevice(browser)
  await newUser(dev.page, A, 'dan@example.com', 'dan_the_man')
  await dev.page.goto(`${A.url}/settings`)
  await dev.page.click('[data-test=start-over]')
  await dev.page.waitForURL('**/start-over')
  assert.equal(await dev.page.isDisabled('[data-test=do-reset]'), true)
  await dev.page.fill('[data-test=confirm-reset]', 'erase all my dat')
  assert.equal(await dev.page.isDisabled('[data-test=do-reset]'), true)
  await dev.page.fill('[data-test=confirm-reset]', 'erase all my data')
  assert.equal(await dev.page.isDisabled('[data-test=do-reset]'), false)
  await shot(dev.page, '09-start-over-confirm')
  dev.assertNoConsoleErrors()
  await dev.close()
})
