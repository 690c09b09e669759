// Flow 13: friends see each other live on a map (issue 16). Two real servers, two browser
// contexts with the location permission granted and positions set by the test: alice shares
// with bob, bob's map follows her within 2 s of each move without a reload, and his server has
// her new end within 2 s when she changes how long she shares (also when another device changed
// it meanwhile: the refused update is sent again with the end read anew); it stops when she
// stops, when her share expires and when she ends the friendship; a reload while sharing sends
// again with no error; "Ask for location" and "Share once" answer with exactly one position,
// without turning sharing on, and only once per request. The same with both users on one server.
// Afterwards neither server's data dir holds any coordinate as a decimal string.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startTwoServers, stopTwoServers, newDevice, newUser, shot, requireEndpoints, figure, addPlace, apiFromPage, IDENTITY_ENDPOINTS } from '../harness.mjs'

const LIVE_ENDPOINTS = [
  ...IDENTITY_ENDPOINTS,
  ['GET', '/config'],
  ['GET', '/events'],
  ['GET', '/friends'],
  ['GET', '/friends/location-sharing'],
  ['GET', '/friends/locations'],
]

// Positions with many decimals, so a search of the raw database files cannot miss them.
const ACROSS = [
  { latitude: 48.8583701, longitude: 2.2944813, accuracy: 12 },
  { latitude: 48.8606111, longitude: 2.3376439, accuracy: 35 },
  { latitude: 48.8529682, longitude: 2.3499021, accuracy: 20 },
  { latitude: 48.8738321, longitude: 2.2950487, accuracy: 15 },
  { latitude: 48.8462218, longitude: 2.3371605, accuracy: 10 },
]
const LOCAL = [
  { latitude: 51.5007292, longitude: -0.1246254, accuracy: 12 },
  { latitude: 51.5194133, longitude: -0.1269566, accuracy: 35 },
  { latitude: 51.5081124, longitude: -0.0759493, accuracy: 20 },
  { latitude: 51.5138453, longitude: -0.0983506, accuracy: 15 },
  { latitude: 51.5031864, longitude: -0.1195192, accuracy: 10 },
]
/** Bob's own device has a position too (granted, never shared): it must not leak either. */
const BOB_AT = { latitude: 40.4167754, longitude: -3.7037902 }

let A, B, browser
before(async () => ({ A, B, browser } = await startTwoServers()))
after(() => stopTwoServers({ A, B, browser }))

/** Waits until `page`'s map shows `handle` at `pos` (the marker's data-lat/data-lng). */
async function markerAt(page, handle, pos, timeout = 15000) {
  try {
    await page.waitForFunction(
      ([h, lat, lng]) => {
        const m = [...document.querySelectorAll('[data-test=friend-marker]')].find((e) => e.dataset.handle?.toLowerCase() === h.toLowerCase())
        return !!m && m.dataset.lat === String(lat) && m.dataset.lng === String(lng)
      },
      [handle, pos.latitude, pos.longitude],
      { timeout, polling: 50 },
    )
  } catch (e) {
    // Say what the page had instead: the markers and what its server lists.
    const shown = await page.evaluate(() => [...document.querySelectorAll('[data-test=friend-marker]')].map((m) => ({ ...m.dataset })))
    const listed = await apiFromPage(page, 'GET', '/friends/locations')
    throw new Error(`${handle} not shown at ${pos.latitude},${pos.longitude}: markers ${JSON.stringify(shown)}, server lists ${JSON.stringify(listed.body)}`, { cause: e })
  }
}

/** Whether a response is to a sealed message the page sent a friend (`POST /friends/{handle}/messages`). */
function isMessagePost(r) {
  return r.request().method() === 'POST' && /^\/friends\/[^/]+\/messages$/.test(new URL(r.url()).pathname)
}

/** The statuses of the messages `page` sends friends from now on. */
function recordMessagePosts(page) {
  const statuses = []
  page.on('response', (r) => isMessagePost(r) && statuses.push(r.status()))
  return statuses
}

async function markerCount(page) {
  return page.locator('[data-test=friend-marker]').count()
}

async function markerGone(page, timeout = 15000) {
  await page.waitForFunction(() => document.querySelectorAll('[data-test=friend-marker]').length === 0, null, { timeout, polling: 50 })
}

/** When the friend's position that `page`'s server lists ends (`GET /friends/locations`), or null. */
async function listedEnd(page) {
  const { body } = await apiFromPage(page, 'GET', '/friends/locations')
  assert.equal(body.locations.length, 1, JSON.stringify(body))
  return body.locations[0].expiresAt ?? null
}

/** Waits up to `timeout` ms until `page`'s server lists the friend's position with an end that `ok`. */
async function endListed(page, ok, what, timeout = 2000) {
  const since = Date.now()
  let end = await listedEnd(page)
  while (!ok(end) && Date.now() - since < timeout) {
    await page.waitForTimeout(50)
    end = await listedEnd(page)
  }
  assert.ok(ok(end), `within ${timeout} ms the position is listed ${what}: ${end}`)
  return end
}

async function openMap(page, server) {
  await page.goto(`${server.url}/map`)
  await page.waitForSelector('[data-test=map][data-ready=true]', { timeout: 20000 })
  await page.waitForSelector('[data-test=push-status][data-live=true]', { timeout: 10000 })
}

async function openFriends(page, server) {
  await page.goto(`${server.url}/people`)
  await page.waitForSelector('[data-test=invite-handle]')
  await page.waitForSelector('[data-test=push-status][data-live=true]', { timeout: 10000 })
}

/** The decimal forms a position could be stored in. */
function decimalForms(positions) {
  return positions.flatMap((p) => [p.latitude, p.longitude]).flatMap((v) => [String(v), v.toFixed(5)])
}

function assertNoCoordinates(servers, positions, knownText) {
  for (const server of servers) {
    const { files, bytes } = server.dataDirBytes()
    assert.ok(files.some((f) => f.endsWith('-wal')) || files.length > 1, `read the data dir of ${server.url}: ${files.join(', ')}`)
    // The search reads the right files: what the flow stored in the clear is found.
    assert.ok(bytes.includes(Buffer.from(knownText)), `"${knownText}" is in ${server.url}'s data dir`)
    const logs = server.log.join('')
    for (const s of decimalForms(positions)) {
      assert.ok(!bytes.includes(Buffer.from(s)), `${s} is not in ${server.url}'s data files`)
      assert.ok(!logs.includes(s), `${s} is not in ${server.url}'s log`)
    }
  }
}

/**
 * The whole story between alice@serverA and bob@serverB (which may be the same server).
 * Returns the figures measured.
 */
async function liveStory(t, { serverA, serverB, label, P }) {
  const alice = await newDevice(browser, { geolocation: P[0] })
  const bob = await newDevice(browser, { geolocation: BOB_AT })
  await newUser(alice.page, serverA, `alice-${label}@example.com`, `alice${label}`)
  await newUser(bob.page, serverB, `bob-${label}@example.com`, `bob${label}`)
  const aliceHandle = `alice${label}@localhost:${serverA.port}`
  const bobHandle = `bob${label}@localhost:${serverB.port}`

  // Friends, with no reload on either side: the invitation and the accept are pushed.
  await openFriends(bob.page, serverB)
  await openFriends(alice.page, serverA)
  await alice.page.fill('[data-test=invite-handle]', bobHandle)
  await alice.page.click('[data-test=invite]')
  await bob.page.waitForSelector('[data-test=incoming-invite]', { timeout: 20000 })
  await bob.page.click('[data-test=accept]')
  await alice.page.waitForSelector('[data-test=friend] [data-test=location-sharing]', { timeout: 20000 })
  assert.equal(await alice.page.locator('[data-test=sharing-status]').count(), 0, 'sharing is off by default')

  // Nothing shared yet: bob's map is empty.
  await openMap(bob.page, serverB)
  assert.equal(await markerCount(bob.page), 0)
  const none = await apiFromPage(bob.page, 'GET', '/friends/locations')
  assert.deepEqual(none.body.locations, [])

  // alice shares until she turns it off; bob's open map shows her where she is.
  await alice.page.selectOption('[data-test=share-choice]', 'always')
  await alice.page.click('[data-test=share-location]')
  await alice.page.waitForSelector('[data-test=sharing-status]')
  await markerAt(bob.page, aliceHandle, P[0])
  const marker = bob.page.locator('[data-test=friend-marker]')
  assert.equal(await marker.getAttribute('data-accuracy'), String(P[0].accuracy))
  assert.match(await marker.textContent(), new RegExp(`alice${label}@`))
  assert.match(await marker.textContent(), /just now|s ago/)
  assert.match(await bob.page.textContent('[data-test=friend-positions]'), /within 12 m/)

  // She changes the share to an hour: bob's server gets her position again at once with the new
  // end (it must not keep showing the last one "until turned off" if her app closed now).
  const aliceSent = recordMessagePosts(alice.page)
  const sharingPath = `/friends/${encodeURIComponent(bobHandle)}/location-sharing`
  assert.equal(await listedEnd(bob.page), null, 'shared until turned off: no end')
  await alice.page.waitForTimeout(1200) // past the throttle's burst floor: not what sends it
  await alice.page.selectOption('[data-test=share-choice]', 'hour')
  const changed = Date.now()
  await alice.page.click('[data-test=share-location]')
  const end = await endListed(bob.page, (e) => e !== null, 'with an end')
  figure(`live-location-expiry-change-${label}`, Date.now() - changed, 'ms')
  const ahead = Date.parse(end) - changed
  assert.ok(ahead > 59 * 60_000 && ahead <= 61 * 60_000, `the end is an hour ahead: ${end}`)
  assert.doesNotMatch(await alice.page.textContent('[data-test=sharing-status]'), /turn it off/)
  await markerAt(bob.page, aliceHandle, P[0], 100)
  // Back to "until turned off": bob's server drops the end at once too.
  await alice.page.selectOption('[data-test=share-choice]', 'always')
  await alice.page.click('[data-test=share-location]')
  await endListed(bob.page, (e) => e === null, 'with no end')
  // Shortened again while another device of hers sets yet another end before the update that
  // carries hers: our server refuses it (422), the app reads the settings again and sends once
  // more, with the end the server has.
  const elsewhere = new Date(Date.now() + 30 * 60_000).toISOString()
  let raced = null
  const messages = (url) => /^\/friends\/[^/]+\/messages$/.test(url.pathname)
  await alice.page.route(messages, async (route) => {
    raced ??= await apiFromPage(alice.page, 'PUT', sharingPath, { expiresAt: elsewhere }).catch((e) => ({ status: String(e) }))
    await route.continue().catch(() => {})
  })
  const before = aliceSent.length
  await alice.page.selectOption('[data-test=share-choice]', 'hour')
  await alice.page.click('[data-test=share-location]')
  await endListed(bob.page, (e) => e !== null && Date.parse(e) === Date.parse(elsewhere), `ending at ${elsewhere}`)
  await alice.page.unroute(messages)
  assert.equal(raced.status, 200, `the other device's change: ${JSON.stringify(raced)}`)
  assert.deepEqual(aliceSent.slice(before).map((s) => (s < 300 ? 'ok' : s)), [422, 'ok'], 'refused once, then sent with the end read again')
  assert.equal(await alice.page.locator('[data-test=broadcast-error]').count(), 0, 'no error left to show')
  await markerAt(bob.page, aliceHandle, P[0], 100)

  // She moves: bob's marker follows within 2 s, without a reload.
  await alice.page.waitForTimeout(1200) // past the throttle's burst floor
  const navigations = []
  bob.page.on('framenavigated', (f) => f === bob.page.mainFrame() && navigations.push(f.url()))
  const moved = Date.now()
  await alice.context.setGeolocation(P[1])
  await markerAt(bob.page, aliceHandle, P[1], 2000)
  const latency = Date.now() - moved
  assert.deepEqual(navigations, [], 'bob did not reload')
  assert.equal(await marker.getAttribute('data-accuracy'), String(P[1].accuracy))
  const inView = await bob.page.evaluate(() => {
    const m = document.querySelector('[data-test=friend-marker]').getBoundingClientRect()
    const c = document.querySelector('[data-test=map]').getBoundingClientRect()
    return m.left >= c.left && m.right <= c.right && m.top >= c.top && m.bottom <= c.bottom
  })
  assert.ok(inView, 'the camera follows her into view')
  await shot(bob.page, label === 'across' ? '13-live-location-map' : `13-live-location-map-${label}`)

  // alice reloads while sharing. The friends list (with bob's key) is held back, so the sharing
  // settings and her position come first: the app waits for it and then sends, with no "has no
  // encryption key" error in between; her next move reaches bob.
  const slowFriends = (url) => url.pathname === '/friends'
  await alice.page.route(slowFriends, async (route) => {
    await new Promise((r) => setTimeout(r, 1500))
    await route.continue().catch(() => {})
  })
  const resent = alice.page.waitForResponse(isMessagePost, { timeout: 20000 })
  await alice.page.reload()
  await alice.page.waitForSelector('[data-test=friend] [data-test=location-sharing]', { timeout: 20000 })
  assert.equal(await alice.page.locator('[data-test=broadcast-error]').count(), 0, 'no error while the friends list loads')
  const afterReload = await resent
  assert.ok(afterReload.ok(), `the update after the reload was taken: ${afterReload.status()}`)
  await alice.page.unroute(slowFriends)
  await alice.page.waitForSelector('[data-test=push-status][data-live=true]', { timeout: 10000 })
  await alice.page.waitForTimeout(1200) // past the throttle's burst floor
  await alice.context.setGeolocation(P[4])
  await markerAt(bob.page, aliceHandle, P[4], 5000)
  assert.equal(await alice.page.locator('[data-test=broadcast-error]').count(), 0, 'no error after the reload')

  // She stops: the marker goes at once; a reload does not bring it back.
  await alice.page.click('[data-test=stop-sharing]')
  await markerGone(bob.page, 5000)
  await openMap(bob.page, serverB)
  assert.equal(await markerCount(bob.page), 0)

  // A share that expires ends on both sides with no message: the timer takes the marker away.
  const expiresAt = new Date(Date.now() + 8000).toISOString()
  const put = await apiFromPage(alice.page, 'PUT', `/friends/${encodeURIComponent(bobHandle)}/location-sharing`, { expiresAt })
  assert.equal(put.status, 200, JSON.stringify(put.body))
  await alice.page.reload() // the app reads the setting and sends, with the expiry
  await markerAt(bob.page, aliceHandle, P[4], 7000)
  await markerGone(bob.page, Date.parse(expiresAt) - Date.now() + 3000)
  assert.deepEqual((await apiFromPage(bob.page, 'GET', '/friends/locations')).body.locations, [], 'expired on bob’s server too')
  assert.deepEqual((await apiFromPage(alice.page, 'GET', '/friends/location-sharing')).body.sharing, [], 'and on alice’s')

  // bob asks; alice, not sharing, answers with one position: no sharing is turned on and no live
  // updates follow it. A second tab of hers got the same request: answering it there too, the
  // request used up, is refused (409) and sends nothing.
  const alice2 = await alice.context.newPage()
  const alice2Errors = []
  alice2.on('console', (m) => m.type() === 'error' && alice2Errors.push(m.text()))
  alice2.on('pageerror', (e) => alice2Errors.push(String(e)))
  const alice2Posts = recordMessagePosts(alice2)
  await openFriends(alice2, serverA)
  await openFriends(bob.page, serverB)
  await bob.page.click('[data-test=ask-location]')
  await alice.page.waitForSelector('[data-test=location-request]', { timeout: 20000 })
  await alice2.waitForSelector('[data-test=location-request]', { timeout: 20000 })
  const request = await alice.page.textContent('[data-test=location-request]')
  assert.match(request, new RegExp(`bob${label}@`))
  assert.match(request, /without turning location sharing on/)
  await alice.context.setGeolocation(P[2])
  const alicePosts = recordMessagePosts(alice.page)
  await alice.page.click('[data-test=share-once]')
  await alice.page.waitForSelector('[data-test=location-request]', { state: 'detached' })
  await openMap(bob.page, serverB)
  await markerAt(bob.page, aliceHandle, P[2], 10000)
  assert.deepEqual(alicePosts.map((s) => s < 300), [true], `one update sent: ${alicePosts}`)
  const answered = (await apiFromPage(bob.page, 'GET', '/friends/locations')).body.locations
  assert.equal(answered.length, 1)
  const left = Date.parse(answered[0].expiresAt) - Date.now()
  assert.ok(left > 13 * 60_000 && left <= 15 * 60_000, `the answer ends in 15 minutes: ${answered[0].expiresAt}`)
  assert.deepEqual((await apiFromPage(alice.page, 'GET', '/friends/location-sharing')).body.sharing, [], 'answering turned no sharing on')
  assert.equal(await alice.page.locator('[data-test=sharing-status]').count(), 0)

  await alice.context.setGeolocation(P[3])
  await alice2.click('[data-test=share-once]')
  await alice2.waitForSelector('[data-test=share-once-error]', { timeout: 10000 })
  assert.match(await alice2.textContent('[data-test=share-once-error]'), /already been answered/)
  assert.deepEqual(alice2Posts, [409], 'the second answer was refused')
  await bob.page.waitForTimeout(2500)
  await markerAt(bob.page, aliceHandle, P[2], 100) // still the one position she agreed to send
  assert.deepEqual(alicePosts.map((s) => s < 300), [true], 'and no live update followed it')
  assert.equal((await apiFromPage(bob.page, 'GET', '/friends/locations')).body.locations.length, 1)
  assert.deepEqual((await apiFromPage(alice.page, 'GET', '/friends/location-sharing')).body.sharing, [], 'still no sharing')
  assert.deepEqual(alice2Errors.filter((e) => !/status of 409/.test(e)), [], 'no other console error in her second tab')
  await alice2.close()

  // Shared again for an hour: bob sees her current position; then alice ends the friendship.
  await alice.page.selectOption('[data-test=share-choice]', 'hour')
  await alice.page.click('[data-test=share-location]')
  await markerAt(bob.page, aliceHandle, P[3])
  const beforeRemoval = await apiFromPage(bob.page, 'GET', '/friends/locations')
  assert.equal(beforeRemoval.body.locations.length, 1)
  assert.ok(beforeRemoval.body.locations[0].expiresAt, 'an hour-long share carries its expiry')
  await alice.page.click('[data-test=remove-friend]')
  await alice.page.waitForFunction(() => document.querySelectorAll('[data-test=friend]').length === 0)
  await markerGone(bob.page, 20000)
  // alice keeps moving: bob receives nothing more, live or after a reload.
  await alice.context.setGeolocation(P[0])
  await bob.page.waitForTimeout(3000)
  assert.equal(await markerCount(bob.page), 0)
  await openMap(bob.page, serverB)
  assert.equal(await markerCount(bob.page), 0)
  assert.deepEqual((await apiFromPage(bob.page, 'GET', '/friends/locations')).body.locations, [])
  assert.deepEqual((await apiFromPage(alice.page, 'GET', '/friends/location-sharing')).body.sharing, [], 'the setting went with the friendship')

  // Refused sends (409 after a stop raced an update, the one 422 provoked above) are expected;
  // nothing else.
  assert.equal(aliceSent.filter((s) => s === 422).length, 1, `one refused end: ${aliceSent}`)
  alice.assertNoConsoleErrors([/Failed to load resource: the server responded with a status of (409|422)/])
  bob.assertNoConsoleErrors()
  await alice.close()
  await bob.close()
  return { latency }
}

test('across two servers: bob’s map follows alice live, and stops when she stops, her share expires or she unfriends him', async (t) => {
  if (!(await requireEndpoints(t, A, LIVE_ENDPOINTS))) return
  const { latency } = await liveStory(t, { serverA: A, serverB: B, label: 'across', P: ACROSS })
  figure('live-location-latency-two-servers', latency, 'ms')
  assertNoCoordinates([A, B], [...ACROSS, BOB_AT], 'aliceacross')
})

test('on one server: the same story', async (t) => {
  if (!(await requireEndpoints(t, A, LIVE_ENDPOINTS))) return
  const { latency } = await liveStory(t, { serverA: A, serverB: A, label: 'local', P: LOCAL })
  figure('live-location-latency-one-server', latency, 'ms')
  assertNoCoordinates([A], [...LOCAL, BOB_AT], 'alicelocal')
})

test('the map draws offline with my places, and a click saves a place there', async (t) => {
  if (!(await requireEndpoints(t, A, LIVE_ENDPOINTS))) return
  const dev = await newDevice(browser)
  const { page } = dev
  const foreign = []
  page.on('request', (r) => {
    const u = r.url()
    if (!u.startsWith(A.url) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u)
  })
  await newUser(page, A, 'mara@example.com', 'mara')
  await addPlace(page, 'Canal house', '52.3731', '4.8922')
  await page.goto(`${A.url}/map`)
  await page.waitForSelector('[data-test=map][data-ready=true]', { timeout: 20000 })
  assert.equal(await page.getAttribute('[data-test=map]', 'data-style'), 'offline', 'no style configured: the built-in one')
  const place = page.locator('[data-test=map-place]')
  assert.equal(await place.count(), 1)
  assert.equal(await place.getAttribute('data-lat'), '52.3731')
  // The map canvas really draws (WebGL): it is not blank.
  const box = await page.locator('[data-test=map] canvas').boundingBox()
  assert.ok(box && box.width > 200 && box.height > 200)

  await page.mouse.click(box.x + box.width / 2 + 40, box.y + box.height / 2 + 30)
  await page.waitForSelector('[data-test=map-add-form]')
  const coords = (await page.textContent('[data-test=map-add-coords]')).split(',').map((s) => Number(s.trim()))
  assert.ok(Math.abs(coords[0] - 52.3731) < 0.05 && Math.abs(coords[1] - 4.8922) < 0.05, `near the place: ${coords}`)
  await page.fill('[data-test=map-add-name]', 'Clicked on the map')
  await page.click('[data-test=map-add-save]')
  await page.waitForSelector('[data-test=map-add-done]')
  await page.waitForFunction(() => document.querySelectorAll('[data-test=map-place]').length === 2)
  await shot(page, '13-map-places')

  await page.goto(`${A.url}/`)
  await page.waitForFunction(() => document.querySelectorAll('[data-test=place]').length === 2)
  assert.match(await page.textContent('[data-test=places]'), new RegExp(`Clicked on the map[\\s\\S]*${coords[0].toFixed(5)}, ${coords[1].toFixed(5)}`))
  assert.deepEqual(foreign, [], 'the offline map asks nothing of another origin')
  dev.assertNoConsoleErrors()
  await dev.close()
})
