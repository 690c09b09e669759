// Flow 8: friends across two servers. Invite alias@domain, accept, compare safety numbers, remove.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTwoServers, stopTwoServers, newDevice, newUser, shot, requireEndpoints, IDENTITY_ENDPOINTS } from '../harness.mjs'

const FRIEND_ENDPOINTS = [...IDENTITY_ENDPOINTS, ['GET', '/friends'], ['POST', '/friends/invite'], ['GET', '/friends/invitations?direction=incoming']]
let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

test('alice@A and bob@B become friends, see the same safety number, and bob removes alice', async (t) => {
  if (!(await requireEndpoints(t, A, FRIEND_ENDPOINTS))) return
  const alice = await newDevice(browser)
  const bob = await newDevice(browser)
  await newUser(alice.page, A, 'alice@example.com', 'alice')
  await newUser(bob.page, B, 'bob@example.com', 'bob')
  const bobHandle = `bob@localhost:${B.port}`
  const aliceHandle = `alice@localhost:${A.port}`

  await alice.page.goto(`${A.url}/people`)
  await alice.page.fill('[data-test=invite-handle]', bobHandle)
  await alice.page.click('[data-test=invite]')
  await alice.page.waitForSelector('[data-test=outgoing-invite]')
  await shot(alice.page, '08-friends-invited')

  await bob.page.goto(`${B.url}/people`)
  await bob.page.waitForSelector('[data-test=incoming-invite]', { timeout: 20000 })
  assert.match(await bob.page.textContent('[data-test=incoming-invite]'), new RegExp(aliceHandle))
  await bob.page.click('[data-test=accept]')
  await bob.page.waitForSelector('[data-test=friend]')

  await alice.page.waitForFunction(async () => true)
  for (let i = 0; i < 40 && !(await alice.page.locator('[data-test=friend]').count()); i++) {
    await alice.page.reload()
    await alice.page.waitForTimeout(250)
  }
  await alice.page.click('[data-test=show-safety]')
  await bob.page.click('[data-test=show-safety]')
  const sa = await alice.page.textContent('[data-test=safety-number]')
  const sb = await bob.page.textContent('[data-test=safety-number]')
  assert.match(sa, /^\d{5}( \d{5}){11}$/, 'the version 2 number: 60 digits (flow 15 verifies with it)')
  assert.equal(sa, sb, 'both sides compute the same safety number')
  await shot(alice.page, '08-friends')

  await bob.page.click('[data-test=remove-friend]')
  await bob.page.waitForFunction(() => document.querySelectorAll('[data-test=friend]').length === 0)
  for (let i = 0; i < 40 && (await alice.page.locator('[data-test=friend]').count()); i++) {
    await alice.page.reload()
    await alice.page.waitForTimeout(250)
  }
  assert.equal(await alice.page.locator('[data-test=friend]').count(), 0, 'the removal reached alice\'s server')
  await alice.close()
  await bob.close()
})

test('the friends screen renders (invite form, or a clear notice when the server lacks federation)', async () => {
  const dev = await newDevice(browser)
  await newUser(dev.page, A, 'carol@example.com', 'carol')
  await dev.page.goto(`${A.url}/people`)
  await dev.page.waitForSelector('[data-test=friends-unavailable], [data-test=invite-handle]')
  await shot(dev.page, '08-friends-screen')
  dev.assertNoConsoleErrors([/\/friends/])
  await dev.close()
})
