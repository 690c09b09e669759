// Flow 15: verifying a friend (issue 17, part 3). alice@A and bob@B see the same 60-digit
// version 2 safety number and QR code, alice checks bob's code and marks him verified (pinned in
// her browser). Then what A serves for bob changes, twice: A swaps only bob's encryption key (a
// server in the middle; v1 numbers could not tell), and bob starts over through the app and
// befriends alice again with new keys. Each time alice gets the warning, which no click takes
// away except comparing anew ("Verify again", then "Mark as verified").
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import QRCode from 'qrcode'
import { startTwoServers, stopTwoServers, newDevice, newUser, createIdentity, shot, requireEndpoints, IDENTITY_ENDPOINTS, befriend, tamper } from '../harness.mjs'

const ENDPOINTS = [...IDENTITY_ENDPOINTS, ['GET', '/friends'], ['POST', '/friends/invite'], ['POST', '/users/me/identity/reset']]
const V2 = /^\d{5}( \d{5}){11}$/
let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

/** Opens the safety panel and reads the number and the code as text. */
async function safety(page) {
  await page.click('[data-test=show-safety]')
  await page.waitForSelector('[data-test=safety-qr]')
  return {
    number: await page.textContent('[data-test=safety-number]'),
    code: await page.inputValue('[data-test=my-safety-code]'),
  }
}

/** The dark modules of the QR image shown, sampled at each module's centre. */
async function shownQrModules(page, size, margin = 2) {
  return page.evaluate(
    async ([size, margin]) => {
      const img = document.querySelector('[data-test=safety-qr]')
      await img.decode()
      const canvas = document.createElement('canvas')
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      const g = canvas.getContext('2d')
      g.drawImage(img, 0, 0)
      const scale = img.naturalWidth / (size + 2 * margin)
      const px = g.getImageData(0, 0, canvas.width, canvas.height).data
      const out = []
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const x = Math.floor((margin + c + 0.5) * scale)
          const y = Math.floor((margin + r + 0.5) * scale)
          out.push(px[(y * canvas.width + x) * 4] < 128 ? 1 : 0)
        }
      }
      return out
    },
    [size, margin],
  )
}

async function alertText(page) {
  return (await page.textContent('[data-test=key-change-alert]')).replace(/\s+/g, ' ')
}

test('alice verifies bob with the 60-digit number, then is warned when the keys A serves for bob change', async (t) => {
  if (!(await requireEndpoints(t, A, ENDPOINTS))) return
  const alice = await newDevice(browser)
  const bob = await newDevice(browser)
  await newUser(alice.page, A, 'alice@example.com', 'alice')
  await newUser(bob.page, B, 'bob@example.com', 'bob')
  const aliceHandle = `alice@localhost:${A.port}`
  const bobHandle = `bob@localhost:${B.port}`
  await befriend(alice, A, bob, B, bobHandle)

  // The same 60 digits on both screens; each screen's code is its own (mine first).
  const onAlice = await safety(alice.page)
  const onBob = await safety(bob.page)
  assert.match(onAlice.number, V2)
  assert.equal(onAlice.number, onBob.number, 'alice and bob see the same safety number')
  assert.notEqual(onAlice.code, onBob.code)
  // The QR image carries exactly the code shown as text.
  assert.match(await alice.page.getAttribute('[data-test=safety-qr]', 'src'), /^data:image\/png;base64,/)
  const qr = QRCode.create(onAlice.code, { errorCorrectionLevel: 'M' })
  assert.deepEqual(await shownQrModules(alice.page, qr.modules.size), [...qr.modules.data].map((m) => (m ? 1 : 0)), 'the QR code encodes the code')
  // Unverified, the screen does not claim that nobody is in the middle.
  assert.doesNotMatch(await alice.page.textContent('[data-test=safety-hint]'), /nobody is in the middle/)
  assert.equal(await alice.page.locator('[data-test=verified-badge]').count(), 0)

  // Alice compares bob's code (as scanned or pasted): it matches; her own does not.
  await alice.page.click('[data-test=safety-panel] summary')
  await alice.page.fill('[data-test=their-safety-code]', onAlice.code)
  await alice.page.click('[data-test=compare-code]')
  await alice.page.waitForSelector('[data-test=compare-result][data-result=mismatch]')
  await alice.page.fill('[data-test=their-safety-code]', onBob.code)
  await alice.page.click('[data-test=compare-code]')
  await alice.page.waitForSelector('[data-test=compare-result][data-result=match]')
  await shot(alice.page, '15-safety-number')

  // Mark as verified: pinned in her browser, per her account; the badge, and now the claim.
  await alice.page.click('[data-test=mark-verified]')
  await alice.page.waitForSelector('[data-test=verified-badge]')
  assert.match(await alice.page.textContent('[data-test=safety-hint]'), /nobody is in the middle/)
  const [aliceRow] = A.sql(`SELECT id FROM users WHERE email='alice@example.com'`)
  const [bobKeys] = B.sql(`SELECT signing_key, encryption_key FROM users WHERE email='bob@example.com'`)
  const pinned = await alice.page.evaluate((k) => JSON.parse(localStorage.getItem(k)), `parchment-verified-friends:${aliceRow.id}`)
  assert.deepEqual(Object.keys(pinned), [bobHandle.toLowerCase()])
  const pin = pinned[bobHandle.toLowerCase()]
  assert.deepEqual(
    { handle: pin.handle, signingKey: pin.signingKey, encryptionKey: pin.encryptionKey, safetyNumber: pin.safetyNumber },
    { handle: bobHandle, signingKey: bobKeys.signing_key, encryptionKey: bobKeys.encryption_key, safetyNumber: onAlice.number },
    'exactly the keys compared, and the number',
  )
  await alice.page.reload()
  await alice.page.waitForSelector('[data-test=verified-badge]')
  assert.equal(await alice.page.locator('[data-test=key-change-alert]').count(), 0)
  await shot(alice.page, '15-verified')

  // 1. A serves another encryption key for bob (a server in the middle). The signing key, and so
  //    the v1 number, is unchanged; the v2 number and the pin are not.
  const [{ encryption_key: mitmKey }] = A.sql(`SELECT encryption_key FROM users WHERE email='alice@example.com'`)
  tamper(A, `UPDATE friendships SET encryption_key='${mitmKey}' WHERE friend_handle='${bobHandle}'`)
  await alice.page.reload()
  await alice.page.waitForSelector('[data-test=key-change-alert]')
  assert.match(await alertText(alice.page), new RegExp(`The keys of ${bobHandle} changed since you verified them`))
  assert.match(await alertText(alice.page), /Changed: their encryption key\./)
  assert.equal(await alice.page.locator('[data-test=keys-changed-badge]').count(), 1)
  assert.equal(await alice.page.locator('[data-test=verified-badge]').count(), 0)
  assert.deepEqual(await alice.page.locator('[data-test=key-change-alert] button').evaluateAll((b) => b.map((x) => x.dataset.test)), ['verify-again'], 'nothing dismisses it but comparing again')
  await shot(alice.page, '15-warning-encryption-key')
  // Verify again: a new number, which bob's screen does not show, and his code does not match.
  await alice.page.click('[data-test=verify-again]')
  await alice.page.waitForSelector('[data-test=safety-qr]')
  const swapped = await alice.page.textContent('[data-test=safety-number]')
  assert.match(swapped, V2)
  assert.notEqual(swapped, onBob.number, 'the swapped key changes the number')
  assert.doesNotMatch(await alice.page.textContent('[data-test=safety-hint]'), /nobody is in the middle/)
  await alice.page.click('[data-test=safety-panel] summary')
  await alice.page.fill('[data-test=their-safety-code]', onBob.code)
  await alice.page.click('[data-test=compare-code]')
  await alice.page.waitForSelector('[data-test=compare-result][data-result=mismatch]')
  assert.equal(await alice.page.isDisabled('[data-test=mark-verified]'), true, 'a mismatching code cannot be marked verified')
  await shot(alice.page, '15-mismatch')
  // Sharing a collection with him now wraps no key to the served (swapped) one.
  const friendsUrl = alice.page.url()
  await alice.page.goto(`${A.url}/places`)
  await alice.page.fill('[data-test=collection-name]', 'Secret spots')
  await alice.page.click('[data-test=collection-create]')
  const secret = alice.page.locator('[data-test=collection][data-name="Secret spots"]')
  await secret.locator('[data-test=collection-share-friend]').selectOption(bobHandle)
  await secret.locator('[data-test=collection-share-submit]').click()
  await alice.page.waitForSelector('[data-test=collections-error]')
  assert.match(await alice.page.textContent('[data-test=collections-error]'), /keys changed since you verified/)
  assert.deepEqual(A.sql("SELECT COUNT(*) AS n FROM federation_outbox WHERE message_type = 'RESOURCE_SHARE'"), [{ n: 0 }])
  assert.equal(await secret.locator('[data-test=collection-share][data-handle]').count(), 0, 'not shared with him')
  await alice.page.goto(friendsUrl)
  // A reload does not make it go away; serving the verified key again does.
  await alice.page.reload()
  await alice.page.waitForSelector('[data-test=key-change-alert]')
  tamper(A, `UPDATE friendships SET encryption_key='${bobKeys.encryption_key}' WHERE friend_handle='${bobHandle}'`)
  await alice.page.reload()
  await alice.page.waitForSelector('[data-test=verified-badge]')
  assert.equal(await alice.page.locator('[data-test=key-change-alert]').count(), 0)

  // 2. Bob starts over through the app (new keys), tells alice's server, and they befriend again.
  await bob.page.goto(`${B.url}/start-over`)
  await bob.page.fill('[data-test=confirm-reset]', 'erase all my data')
  await bob.page.click('[data-test=do-reset]')
  await bob.page.waitForURL('**/setup')
  await createIdentity(bob.page, 'bob')
  await bob.page.waitForSelector('[data-test=pending-revocation]')
  await bob.page.click('[data-test=notify-all]')
  await bob.page.waitForSelector('[data-test=all-notified]', { timeout: 30000 })
  for (let i = 0; i < 40 && (await alice.page.locator('[data-test=friend]').count()); i++) {
    await alice.page.reload()
    await alice.page.waitForTimeout(250)
  }
  assert.equal(await alice.page.locator('[data-test=friend]').count(), 0, 'the revocation reached A')
  await befriend(bob, B, alice, A, aliceHandle)
  await alice.page.goto(`${A.url}/people`)
  await alice.page.waitForSelector('[data-test=key-change-alert]')
  assert.match(await alertText(alice.page), /Changed: their signing key and their encryption key\./)
  assert.match(await alertText(alice.page), new RegExp(bobHandle))
  await shot(alice.page, '15-warning-new-identity')

  // Alice compares the new number with bob and marks him verified again: the warning is gone.
  await alice.page.click('[data-test=verify-again]')
  await alice.page.waitForSelector('[data-test=safety-qr]')
  const again = await alice.page.textContent('[data-test=safety-number]')
  const bobAgain = await safety(bob.page)
  assert.equal(again, bobAgain.number)
  assert.notEqual(again, onAlice.number, 'new keys, new number')
  await alice.page.click('[data-test=mark-verified]')
  await alice.page.waitForSelector('[data-test=verified-badge]')
  assert.equal(await alice.page.locator('[data-test=key-change-alert]').count(), 0)
  const [newBobKeys] = B.sql(`SELECT signing_key, encryption_key FROM users WHERE email='bob@example.com'`)
  const repinned = await alice.page.evaluate((k) => JSON.parse(localStorage.getItem(k)), `parchment-verified-friends:${aliceRow.id}`)
  assert.equal(repinned[bobHandle.toLowerCase()].signingKey, newBobKeys.signing_key)
  assert.equal(repinned[bobHandle.toLowerCase()].encryptionKey, newBobKeys.encryption_key)
  assert.equal(repinned[bobHandle.toLowerCase()].safetyNumber, again)
  await shot(alice.page, '15-verified-again')

  alice.assertNoConsoleErrors()
  bob.assertNoConsoleErrors()
  await alice.close()
  await bob.close()
})
