// Flow 18: sharing a collection across servers, end to end in two browsers (issue 17, part 1).
// alice@A creates a collection and shares it with bob@B as an editor; bob accepts and sees its
// places, opened in his browser with the key alice wrapped for him; alice adds a place and bob
// sees it; bob adds one, alice's app applies his change and re-sends it; alice stops sharing:
// the collection moves to key version 2, bob's view empties, and the key wrap bob's server
// kept cannot open version 2. alice's own server cannot add a recipient or roll the collection
// back to version 1. Neither server's files hold a place or collection name.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTwoServers, stopTwoServers, newDevice, newUser, apiFromPage, shot, requireEndpoints, IDENTITY_ENDPOINTS, befriend, tamper } from '../harness.mjs'

let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

const collection = (page, name) => page.locator(`[data-test=collection][data-name="${name}"]`)
const shared = (page, name) => page.locator('[data-test=incoming-share]', { hasText: name })

test('alice shares a collection with bob@B, both edit it, and revoking moves it to a key bob never gets', async (t) => {
  if (!(await requireEndpoints(t, A, [...IDENTITY_ENDPOINTS, ['PUT', '/library/collections/x/content']]))) return
  const alice = await newDevice(browser)
  const bob = await newDevice(browser)
  await newUser(alice.page, A, 'alice@example.com', 'alice')
  const bobKey = await newUser(bob.page, B, 'bob@example.com', 'bob')
  alice.handle = (await apiFromPage(alice.page, 'GET', '/users/me/identity')).body.handle
  const bobHandle = (await apiFromPage(bob.page, 'GET', '/users/me/identity')).body.handle
  await befriend(alice, A, bob, B, bobHandle)

  // alice: a collection with one place, shared with bob as an editor.
  await alice.page.goto(`${A.url}/places`)
  await alice.page.fill('[data-test=collection-name]', 'Lisbon cafés')
  await alice.page.click('[data-test=collection-create]')
  const mine = collection(alice.page, 'Lisbon cafés')
  await mine.waitFor()
  await mine.locator('[data-test=collection-add-name]').fill('Café A Brasileira')
  await mine.locator('[data-test=collection-add]').click()
  await mine.locator('[data-test=collection-place]', { hasText: 'Café A Brasileira' }).waitFor()
  await mine.locator('[data-test=collection-share-friend]').selectOption(bobHandle)
  await mine.locator('[data-test=collection-share-role]').selectOption('editor')
  await mine.locator('[data-test=collection-share-submit]').click()
  await mine.locator(`[data-test=collection-share][data-handle="${bobHandle}"]`).waitFor()

  // bob: pending, accepted, its place opened in his browser.
  await bob.page.goto(`${B.url}/places`)
  await shared(bob.page, 'Lisbon cafés').waitFor({ timeout: 20000 })
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=share-accept]').click()
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-place]', { hasText: 'Café A Brasileira' }).waitFor()

  // alice adds a place: bob sees it (pushed, no reload).
  await mine.locator('[data-test=collection-add-name]').fill('Pastéis de Belém')
  await mine.locator('[data-test=collection-add]').click()
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-place]', { hasText: 'Pastéis de Belém' }).waitFor({ timeout: 20000 })
  assert.equal(await shared(bob.page, 'Lisbon cafés').getAttribute('data-status'), 'accepted', 'an update keeps it accepted')

  // bob, an editor, adds one: alice's app applies it and sends it back to him.
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-add-name]').fill('Time Out Market')
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-add]').click()
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-edit-sent]').waitFor()
  assert.equal(await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-add-name]').inputValue(), '')
  await mine.locator('[data-test=collection-place]', { hasText: 'Time Out Market' }).waitFor({ timeout: 20000 })
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-place]', { hasText: 'Time Out Market' }).waitFor({ timeout: 20000 })
  assert.deepEqual(A.sql("SELECT COUNT(*) AS n FROM incoming_shares WHERE resource_type = 'collection-edit'"), [{ n: 0 }], 'the applied change is deleted')
  await shot(bob.page, '18-shared-collection')
  assert.equal(await bob.page.locator('[data-test=notice]').count() <= 1, true, 'one notice per friend, however many updates')

  // alice's server adds a recipient and promotes nobody: her app sends to whom she sealed, only.
  tamper(A, "INSERT INTO collection_shares (collection_id, user_id, peer_key, recipient_handle, role, created_at) SELECT id, user_id, 'mallory@evil.example', 'mallory@evil.example', 'editor', 0 FROM collections")
  await alice.page.reload()
  await mine.locator('[data-test=collection-add-name]').fill('Miradouro')
  await mine.locator('[data-test=collection-add]').click()
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-place]', { hasText: 'Miradouro' }).waitFor({ timeout: 20000 })
  assert.deepEqual(A.sql("SELECT COUNT(*) AS n FROM federation_outbox WHERE to_handle LIKE 'mallory%'"), [{ n: 0 }], 'no key went to a recipient only the server listed')
  assert.equal(await alice.page.locator('[data-handle="mallory@evil.example"]').count(), 0)

  // A send alice's server refuses (unavailable) leaves the write standing and says so; one
  // click on "Send again" then sends it as it is.
  const revisionAtB = () => Number(B.sql("SELECT revision FROM incoming_shares WHERE resource_type = 'collection'")[0].revision)
  const unavailable = (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ code: 'unavailable', message: 'try again later' }) })
  await alice.page.route('**/friends/*/messages', unavailable)
  await mine.locator('[data-test=collection-add-name]').fill('Ginjinha Sem Rival')
  await mine.locator('[data-test=collection-add]').click()
  await alice.page.locator('[data-test=collections-error]', { hasText: bobHandle }).waitFor()
  await mine.locator('[data-test=collection-place]', { hasText: 'Ginjinha Sem Rival' }).waitFor()
  await alice.page.unroute('**/friends/*/messages', unavailable)
  const sentBefore = revisionAtB()
  await mine.locator('[data-test=collection-resend]').click()
  await alice.page.locator('[data-test=collections-done]').waitFor()
  await shared(bob.page, 'Lisbon cafés').locator('[data-test=shared-place]', { hasText: 'Ginjinha Sem Rival' }).waitFor({ timeout: 20000 })
  assert.ok(revisionAtB() > sentBefore, 'bob got a newer revision')

  // What bob's server holds now: the signed share with version 1's wrap.
  const [{ envelope: before }] = B.sql("SELECT envelope FROM incoming_shares WHERE resource_type = 'collection'")
  const oldShare = JSON.parse(before).payload
  assert.equal(oldShare.keyVersion, 1)

  const [v1Row] = A.sql('SELECT content_encrypted, owner_encrypted, key_version, revision FROM collections')

  // alice stops sharing: version 2, bob's view empties, his server keeps no ciphertext.
  await mine.locator(`[data-test=collection-share][data-handle="${bobHandle}"] [data-test=collection-unshare]`).click()
  await alice.page.locator('[data-test=collection][data-key-version="2"]').waitFor()
  await shared(bob.page, 'Lisbon cafés').waitFor({ state: 'detached', timeout: 20000 })
  assert.deepEqual(B.sql("SELECT status, encrypted_data FROM incoming_shares WHERE resource_type = 'collection'"), [{ status: 'revoked', encrypted_data: '' }])
  await bob.page.reload()
  await bob.page.locator('[data-test=shared-with-me]').waitFor()
  assert.equal(await shared(bob.page, 'Lisbon cafés').count(), 0)

  // The wrap bob's server kept opens version 1 only: alice's version 2 content stays shut.
  const { Identity } = await import('@parchment/core')
  const bobIdentity = Identity.fromRecoveryKey(bobKey.replace(/\s+/g, ''))
  const [row] = A.sql('SELECT id, content_encrypted, key_version FROM collections')
  assert.equal(Number(row.key_version), 2)
  const aliceEncryptionKey = (await apiFromPage(bob.page, 'GET', '/friends')).body.friends.find((f) => f.handle === alice.handle).encryptionKey
  const wrap = { ciphertext: oldShare.keyWrap, nonce: oldShare.keyWrapNonce }
  const ctx = (v) => ({ userId: alice.handle.toLowerCase(), recordType: 'collection-content', recordId: row.id, keyContext: `parchment-collection-${row.id}-v${v}` })
  const v1 = JSON.parse(new TextDecoder().decode(bobIdentity.decryptSharedCollectionRecord(wrap, aliceEncryptionKey, row.id, ctx(1), Buffer.from(oldShare.content, 'base64'))))
  assert.equal(v1.name, 'Lisbon cafés', 'the old wrap opens what bob already had')
  assert.throws(() => bobIdentity.decryptSharedCollectionRecord(wrap, aliceEncryptionKey, row.id, ctx(2), Buffer.from(row.content_encrypted, 'base64')), /authentication failed/)
  bobIdentity.free()

  // alice's server replays an older state of version 2 (sealed by alice, under a higher
  // revision of its own): her sealed write counter says it is old; refused.
  const rowOf = () => A.sql('SELECT content_encrypted, owner_encrypted, key_version, revision FROM collections')[0]
  const put = (r, revision = r.revision) => tamper(A, `UPDATE collections SET content_encrypted = '${r.content_encrypted}', owner_encrypted = '${r.owner_encrypted}', key_version = ${r.key_version}, revision = ${revision}`)
  const v2a = rowOf()
  await mine.locator('[data-test=collection-add-name]').fill('Alfama')
  await mine.locator('[data-test=collection-add]').click()
  await mine.locator('[data-test=collection-place]', { hasText: 'Alfama' }).waitFor()
  const v2b = rowOf()
  put(v2a, Number(v2b.revision) + 5)
  await alice.page.reload()
  await alice.page.locator('[data-test=collection-unreadable]').waitFor()
  put(v2b)
  await alice.page.reload()
  await mine.locator('[data-test=collection-place]', { hasText: 'Alfama' }).waitFor()

  // alice's server rolls the collection back to version 1 (sealed by alice, but older than
  // what this browser saw): refused, shown as such, and nothing more is sealed under key 1.
  put(v1Row)
  await alice.page.reload()
  await alice.page.locator('[data-test=collection-unreadable]').waitFor()
  assert.equal(await alice.page.locator('[data-test=collection-add]').isDisabled(), true)

  // Every name travelled and rests sealed.
  for (const server of [A, B]) {
    const raw = server.dataDirBytes().bytes
    for (const name of ['Lisbon cafés', 'Café A Brasileira', 'Pastéis de Belém', 'Time Out Market', 'Miradouro', 'Alfama']) {
      assert.equal(raw.includes(Buffer.from(name)), false, `${name} is not in ${server === A ? 'A' : 'B'}'s files`)
    }
  }
  alice.assertNoConsoleErrors([/503/])
  bob.assertNoConsoleErrors()
  await alice.close()
  await bob.close()
})
