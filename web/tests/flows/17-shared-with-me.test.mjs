// Flow 17: what a friend on another server shares arrives under "Shared with me" (issue 17,
// part 1, the receiving side). alice@A shares two collections with bob@B as the original's
// client does (a signed RESOURCE_SHARE whose description is sealed to bob's key); bob sees the
// names, opened in his browser, accepts one and declines the other, which leaves no row on his
// server; a share whose signature is not alice's is flagged and cannot be accepted. Neither
// collection name is in B's database.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTwoServers, stopTwoServers, newDevice, newUser, apiFromPage, shot, requireEndpoints, IDENTITY_ENDPOINTS, befriend, tamper } from '../harness.mjs'

let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

/** alice shares a collection named `name` with bob: signed in Node with her identity, sent through her server. */
async function share(alice, aliceIdentity, bobHandle, bobEncryptionKey, collectionId, name, role) {
  const description = new TextEncoder().encode(JSON.stringify({ collectionId, scheme: 'user-e2ee', metadata: { name, description: '' } }))
  const { ciphertext, nonce } = aliceIdentity.encryptForFriend(bobEncryptionKey, description, 'parchment-share-collection-v1')
  const payload = { resourceType: 'collection', resourceId: collectionId, encryptedData: ciphertext, nonce, role }
  const signed = aliceIdentity.signFederationEnvelope({ message_type: 'RESOURCE_SHARE', from: alice.handle, to: bobHandle, payload })
  const sent = await apiFromPage(alice.page, 'POST', `/friends/${encodeURIComponent(bobHandle)}/messages`, {
    messageType: 'RESOURCE_SHARE',
    payload,
    signature: signed.signature,
    nonce: signed.nonce,
    timestamp: signed.timestamp,
  })
  assert.ok(sent.status < 300, JSON.stringify(sent))
}

const shareRow = (page, name) => page.locator('[data-test=incoming-share]', { hasText: name })

test('bob accepts one share from alice@A and declines another; a forged one is flagged', async (t) => {
  if (!(await requireEndpoints(t, B, [...IDENTITY_ENDPOINTS, ['GET', '/sharing/incoming']]))) return
  const alice = await newDevice(browser)
  const bob = await newDevice(browser)
  const aliceKey = await newUser(alice.page, A, 'alice@example.com', 'alice')
  await newUser(bob.page, B, 'bob@example.com', 'bob')
  alice.handle = (await apiFromPage(alice.page, 'GET', '/users/me/identity')).body.handle
  const bobHandle = (await apiFromPage(bob.page, 'GET', '/users/me/identity')).body.handle
  await befriend(alice, A, bob, B, bobHandle)
  const bobKey = (await apiFromPage(alice.page, 'GET', '/friends')).body.friends.find((f) => f.handle === bobHandle).encryptionKey
  const { Identity } = await import('@parchment/core')
  const aliceIdentity = Identity.fromRecoveryKey(aliceKey.replace(/\s+/g, ''))

  await share(alice, aliceIdentity, bobHandle, bobKey, 'col-cafes', 'Cafés in Lisbon', 'viewer')
  await share(alice, aliceIdentity, bobHandle, bobKey, 'col-walks', 'Sunday walks', 'editor')
  await bob.page.goto(`${B.url}/`)
  await shareRow(bob.page, 'Cafés in Lisbon').waitFor({ timeout: 20000 })
  await shareRow(bob.page, 'Sunday walks').waitFor({ timeout: 20000 })
  await shot(bob.page, '17-shared-with-me')
  assert.match(await shareRow(bob.page, 'Sunday walks').textContent(), /can edit/)

  // Accept one: it stays, accepted.
  await shareRow(bob.page, 'Cafés in Lisbon').locator('[data-test=share-accept]').click()
  await bob.page.waitForSelector('[data-test=incoming-share][data-status=accepted]')
  // Decline the other: gone from the page and from B's database.
  await shareRow(bob.page, 'Sunday walks').locator('[data-test=share-decline]').click()
  await shareRow(bob.page, 'Sunday walks').waitFor({ state: 'detached' })
  assert.deepEqual(B.sql("SELECT resource_id, status FROM incoming_shares"), [{ resource_id: 'col-cafes', status: 'accepted' }])

  // A share whose envelope is not alice's signature (the server swapped its description):
  // flagged, and only declining is offered.
  await share(alice, aliceIdentity, bobHandle, bobKey, 'col-tampered', 'Tampered', 'viewer')
  for (let i = 0; i < 100 && !B.sql("SELECT id FROM incoming_shares WHERE resource_id = 'col-tampered'").length; i++) await bob.page.waitForTimeout(100)
  tamper(B, "UPDATE incoming_shares SET envelope = replace(envelope, '\"viewer\"', '\"editor\"') WHERE resource_id = 'col-tampered'")
  await bob.page.reload()
  await bob.page.waitForSelector('[data-test=share-untrusted]')
  const flagged = bob.page.locator('[data-test=incoming-share]', { has: bob.page.locator('[data-test=share-untrusted]') })
  assert.equal(await flagged.locator('[data-test=share-accept]').count(), 0, 'no accept for a forged share')
  await flagged.locator('[data-test=share-decline]').click()
  await bob.page.waitForFunction(() => !document.querySelector('[data-test=share-untrusted]'))

  // A server that changes a field beside a message alice really signed (the role) is caught.
  await share(alice, aliceIdentity, bobHandle, bobKey, 'col-role', 'Role swap', 'viewer')
  for (let i = 0; i < 100 && !B.sql("SELECT id FROM incoming_shares WHERE resource_id = 'col-role'").length; i++) await bob.page.waitForTimeout(100)
  tamper(B, "UPDATE incoming_shares SET role = 'editor' WHERE resource_id = 'col-role'")
  await bob.page.reload()
  await bob.page.waitForSelector('[data-test=share-untrusted]')
  assert.equal(await bob.page.locator('[data-test=incoming-share]', { hasText: 'Role swap' }).count(), 0, 'its name is not even opened')

  // The names travelled sealed: B's files never held them.
  const raw = B.dataDirBytes().bytes
  for (const name of ['Cafés in Lisbon', 'Sunday walks']) assert.equal(raw.includes(Buffer.from(name)), false, `${name} is not in B's files`)
  aliceIdentity.free()
  alice.assertNoConsoleErrors()
  bob.assertNoConsoleErrors()
  await alice.close()
  await bob.close()
})
