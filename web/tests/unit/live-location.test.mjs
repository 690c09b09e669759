// The pure parts of live location, bundled with esbuild and run in Node: the send throttle,
// the location plaintext (the original's ecies-friend-v2 format, checked against its vector),
// sharing expiries, who gets live updates and when a "Share once" answer ends, the age label,
// the accuracy circle and the reload coalescing that keeps a burst of pushed events from
// becoming a burst of requests.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const vectors = process.env.PARCHMENT_VECTORS_DIR ?? join(web, '..', '..', 'shared', 'vectors')
let m

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-live-'))
  const entry = join(out, 'entry.ts')
  writeFileSync(
    entry,
    ['live/sendThrottle', 'live/locationFix', 'live/sharingExpiry', 'live/recipients', 'live/age', 'map/accuracyCircle', 'stores/singleFlight']
      .map((f) => `export * from ${JSON.stringify(join(web, 'src', f + '.ts'))}`)
      .join('\n'),
  )
  const file = join(out, 'live.mjs')
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: file, logLevel: 'silent' })
  m = await import(pathToFileURL(file).href)
  rmSync(out, { recursive: true, force: true })
})

/** A point `metres` east of `p` (small distances). */
const east = (p, metres) => ({ lat: p.lat, lng: p.lng + metres / (111_320 * Math.cos((p.lat * Math.PI) / 180)) })

test('distance: known city pair and a small offset', () => {
  const paris = { lat: 48.8566, lng: 2.3522 }
  const london = { lat: 51.5074, lng: -0.1278 }
  assert.ok(Math.abs(m.distanceM(paris, london) - 343_560) < 1_500, String(m.distanceM(paris, london)))
  assert.ok(Math.abs(m.distanceM(paris, east(paris, 25)) - 25) < 0.1)
})

test('throttle: first fix now, then 25 m or 15 s, jitter only at the stationary refresh', () => {
  const here = { lat: 52.37, lng: 4.89 }
  const R = m.SEND_RULES
  const t0 = 1_000_000
  assert.equal(m.sendDelay(null, here, t0), 0, 'the first position goes out at once')
  const last = { ...here, at: t0 }
  // Moved far: at once, except inside the burst floor, where it waits for the floor's end.
  assert.equal(m.sendDelay(last, east(here, 30), t0 + 400), R.floorMs - 400)
  assert.equal(m.sendDelay(last, east(here, 30), t0 + R.floorMs), 0)
  assert.equal(m.sendDelay(last, east(here, 1_000), t0 + 2_000), 0)
  // Moved a little: not before 15 s.
  assert.equal(m.sendDelay(last, east(here, 10), t0 + 5_000), R.minIntervalMs - 5_000)
  assert.equal(m.sendDelay(last, east(here, 10), t0 + R.minIntervalMs), 0)
  // GPS noise or not moved: only the stationary refresh, a few minutes on.
  assert.equal(m.sendDelay(last, east(here, 2), t0 + 60_000), R.stationaryRefreshMs - 60_000)
  assert.equal(m.sendDelay(last, here, t0 + R.stationaryRefreshMs), 0)
  assert.ok(R.stationaryRefreshMs >= 60_000 && R.stationaryRefreshMs <= 5 * 60_000, 'every few minutes')
  assert.equal(R.minDistanceM, 25)
  assert.equal(R.minIntervalMs, 15_000)
})

test('throttle: a walk with a fix every second sends about one update per 25 m', () => {
  let last = null
  let sent = 0
  let p = { lat: 45, lng: 7 }
  // 1.4 m/s for ten minutes.
  for (let s = 0; s < 600; s++) {
    p = east(p, 1.4)
    const now = s * 1000
    if (m.sendDelay(last, p, now) === 0) {
      last = { ...p, at: now }
      sent++
    }
  }
  // 840 m / 25 m ≈ 34 (each send waits for ≥ 25 m or 15 s: whichever comes first is 15 s at 1.4 m/s ≈ 21 m).
  assert.ok(sent >= 30 && sent <= 45, `sent ${sent}`)
})

test('location plaintext: the original’s LocationData JSON, members in its order, unknowns left out', () => {
  const fix = m.fixFromReading({ latitude: 48.8583701, longitude: 2.2944813, accuracy: 12, altitude: null, altitudeAccuracy: null, speed: 0, heading: NaN, timestamp: 1748779200000 })
  assert.equal(new TextDecoder().decode(m.encodeFix(fix)), '{"lat":48.8583701,"lng":2.2944813,"accuracy":12,"speed":0,"timestamp":1748779200000}')
  // The original's vector plaintext reads, and writes back byte for byte.
  const vector = JSON.parse(readFileSync(join(vectors, 'ecies.json'), 'utf8')).cases[0]
  const bytes = new TextEncoder().encode(vector.plaintext_utf8)
  const decoded = m.decodeFix(bytes)
  assert.deepEqual(decoded, { lat: 37.7765, lng: -122.4172, accuracy: 12.5, speed: 0, battery: 0.83, batteryCharging: false, timestamp: 1748779200000 })
  assert.deepEqual(m.encodeFix(decoded), bytes)
})

test('location plaintext: anything that is not a plausible position is refused', () => {
  const enc = (v) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
  for (const bad of ['not json', '[1,2]', 'null', { lat: 91, lng: 0, timestamp: 1 }, { lat: 0, lng: -181, timestamp: 1 }, { lat: '1', lng: 2, timestamp: 1 }, { lat: 1, lng: 2 }, '{"lat":1e999,"lng":2,"timestamp":1}']) {
    assert.equal(m.decodeFix(enc(bad)), null, JSON.stringify(bad))
  }
  // Unknown members are dropped, a negative accuracy ignored.
  assert.deepEqual(m.decodeFix(enc({ lat: 1, lng: 2, accuracy: -5, evil: '<img>', timestamp: 3 })), { lat: 1, lng: 2, timestamp: 3 })
})

test('sharing expiry: one hour, tonight at 23:59:59 local time, or none', () => {
  const now = new Date(2026, 5, 1, 14, 30, 0)
  assert.equal(m.expiryFor('hour', now), new Date(2026, 5, 1, 15, 30, 0).toISOString())
  assert.equal(m.expiryFor('tonight', now), new Date(2026, 5, 1, 23, 59, 59).toISOString())
  assert.equal(m.expiryFor('always', now), null)
  // In the day's last second, tonight is tomorrow night (the server refuses a past expiry).
  assert.equal(m.expiryFor('tonight', new Date(2026, 5, 1, 23, 59, 59, 500)), new Date(2026, 5, 2, 23, 59, 59).toISOString())
  assert.match(m.describeExpiry(new Date(2026, 5, 1, 23, 59, 59).toISOString(), now), /^until \d\d?:\d\d/)
  assert.match(m.describeExpiry(new Date(2026, 5, 2, 9, 0).toISOString(), now), /^until tomorrow /)
  assert.equal(m.describeExpiry(null, now), 'until you turn it off')
})

test('live updates: nobody before the friends list has loaded, then the unexpired settings of listed friends', () => {
  const now = Date.parse('2026-05-04T12:00:00Z')
  const settings = [
    { handle: 'bob@b.example', expiresAt: null },
    { handle: 'Cy@c.example', expiresAt: '2026-05-04T13:00:00.000Z' },
    { handle: 'dee@d.example', expiresAt: '2026-05-04T11:59:59.000Z' }, // expired
    { handle: 'eve@e.example' }, // not in the friends list (yet)
  ]
  const friends = [
    { handle: 'Bob@b.example', encryptionKey: 'k1' },
    { handle: 'cy@C.example', encryptionKey: null }, // kept: the missing key is for the user to see
    { handle: 'dee@d.example', encryptionKey: 'k3' },
  ]
  // After a reload the settings can arrive before the friends (and their keys): send to nobody yet.
  assert.deepEqual(m.liveTargets(settings, null, now), [])
  assert.deepEqual(m.liveTargets(settings, friends, now), ['bob@b.example', 'Cy@c.example'])
  assert.deepEqual(m.liveTargets(settings, [...friends, { handle: 'eve@e.example', encryptionKey: 'k5' }], now), ['bob@b.example', 'Cy@c.example', 'eve@e.example'])
  assert.deepEqual(m.liveTargets([], friends, now), [])
})

test('a share saved again: its end changed (sent to the friend again) and whether it is sooner', () => {
  const hour = '2026-05-04T13:00:00.000Z'
  const tonight = '2026-05-04T23:59:59.000Z'
  assert.deepEqual(m.expiryChange(null, hour), { changed: true, shortened: true }, '"always" to a time')
  assert.deepEqual(m.expiryChange(undefined, hour), { changed: true, shortened: true })
  assert.deepEqual(m.expiryChange(tonight, hour), { changed: true, shortened: true }, 'a time to a sooner one')
  assert.deepEqual(m.expiryChange(hour, tonight), { changed: true, shortened: false }, 'a time to a later one')
  assert.deepEqual(m.expiryChange(hour, null), { changed: true, shortened: false }, 'a time to "always"')
  assert.deepEqual(m.expiryChange(null, null), { changed: false, shortened: false })
  assert.deepEqual(m.expiryChange(null, undefined), { changed: false, shortened: false })
  // The same instant written another way is no change.
  assert.deepEqual(m.expiryChange('2026-05-04T13:00:00Z', hour), { changed: false, shortened: false })
})

test('share once: the answer ends 15 minutes on, inside the hour the server allows', () => {
  const now = Date.parse('2026-05-04T12:00:00.250Z')
  assert.equal(m.SHARE_ONCE_MS, 15 * 60_000)
  assert.equal(m.answerExpiry(now), '2026-05-04T12:15:00.250Z')
  const ends = Date.parse(m.answerExpiry(now)) - now
  assert.ok(ends > 0 && ends <= 60 * 60_000)
})

test('age of a fix', () => {
  const t = 10_000_000
  assert.equal(m.formatAge(t, t + 3_000), 'just now')
  assert.equal(m.formatAge(t, t + 40_000), '40 s ago')
  assert.equal(m.formatAge(t, t + 125_000), '2 min ago')
  assert.equal(m.formatAge(t, t + 3 * 3_600_000), '3 h ago')
  assert.equal(m.formatAge(t, t + 72 * 3_600_000), '3 days ago')
  assert.equal(m.formatAge(t + 5_000, t), 'just now', 'a sender clock a little ahead')
})

test('accuracy circle: a closed ring whose vertices lie the radius away', () => {
  for (const [center, radius] of [[{ lat: 52.37, lng: 4.89 }, 35], [{ lat: -33.9, lng: 151.2 }, 2_000], [{ lat: 10, lng: 179.9999 }, 500]]) {
    const poly = m.accuracyCircle(center, radius)
    const ring = poly.coordinates[0]
    assert.equal(poly.type, 'Polygon')
    assert.equal(ring.length, 49)
    assert.deepEqual(ring[0], ring[ring.length - 1])
    for (const [lng, lat] of ring) {
      assert.ok(Math.abs(lng) <= 180 && Math.abs(lat) <= 90)
      const d = m.distanceM(center, { lat, lng })
      assert.ok(Math.abs(d - radius) < radius * 0.001 + 0.01, `${d} vs ${radius}`)
    }
  }
})

test('reloads: one at a time, a call during one runs it once more, every caller sees a fresh run', async () => {
  let runs = 0
  let state = 0
  const gates = []
  const reload = m.singleFlight(async () => {
    runs++
    const seen = state
    await new Promise((r) => gates.push(r))
    return seen
  })
  const first = reload()
  state = 1 // changed after the first run started reading
  const second = reload()
  const third = reload()
  assert.equal(runs, 1, 'no second run while the first is in flight')
  gates.shift()()
  await first
  await new Promise((r) => setImmediate(r))
  assert.equal(runs, 2, 'one more run for the calls made during the first')
  gates.shift()()
  await Promise.all([second, third])
  assert.equal(runs, 2, 'the two waiting calls shared that run')
  // A failing run does not wedge the ones after it.
  let fail = true
  const flaky = m.singleFlight(async () => {
    if (fail) throw new Error('down')
  })
  await assert.rejects(flaky(), /down/)
  fail = false
  await flaky()
})

test('recipients: a friend whose keys changed since verified gets no live updates', () => {
  const now = Date.parse('2025-03-01T12:00:00Z')
  const settings = [{ handle: 'bob@b.example' }, { handle: 'carol@c.example' }]
  const friends = [
    { handle: 'bob@b.example', signingKey: 'S1', encryptionKey: 'E1' },
    { handle: 'carol@c.example', signingKey: 'S2', encryptionKey: 'E-served' },
  ]
  // As verifiedFriends.verificationOf: carol's pinned encryption key is not the served one.
  const pinned = { 'bob@b.example': 'E1', 'carol@c.example': 'E2' }
  const changed = (f) => pinned[f.handle.toLowerCase()] !== undefined && pinned[f.handle.toLowerCase()] !== f.encryptionKey
  assert.deepEqual(m.liveTargets(settings, friends, now, changed), ['bob@b.example'])
  // Verified again (the pin matches) or verification dropped: carol gets updates again.
  assert.deepEqual(m.liveTargets(settings, friends, now, () => false), ['bob@b.example', 'carol@c.example'])
  assert.deepEqual(m.liveTargets(settings, friends, now), ['bob@b.example', 'carol@c.example'])
})
