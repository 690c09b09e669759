// When a new position is worth sending to friends. Every update costs one sealed message per
// friend through two servers, so GPS jitter must not become a stream, while a friend watching
// a moving marker should not wait long for it.

export interface Point { lat: number; lng: number }

/** The last update that went out. */
export interface Sent extends Point { at: number }

export const SEND_RULES = {
  /** Moving at least this far sends right away (subject to `floorMs`). */
  minDistanceM: 25,
  /** Smaller moves wait this long since the last update. */
  minIntervalMs: 15_000,
  /** Moves under this are GPS noise: only the stationary refresh sends them. */
  jitterM: 5,
  /** A device at rest still says it is alive this often. */
  stationaryRefreshMs: 3 * 60_000,
  /** Never more often than this: some browsers report several fixes in a burst. */
  floorMs: 1_000,
}

export type SendRules = typeof SEND_RULES

/** Distance in metres (haversine; exact enough for the thresholds above at any distance). */
export function distanceM(a: Point, b: Point): number {
  const R = 6_371_008.8
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLng = (b.lng - a.lng) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)))
}

/**
 * Milliseconds until `position` should be sent, given the last update: 0 means now. The
 * caller keeps only the newest position and asks again when that time comes or a new fix
 * arrives, so a burst of fixes ends in one update carrying the latest.
 */
export function sendDelay(last: Sent | null, position: Point, now: number, rules: SendRules = SEND_RULES): number {
  if (!last) return 0
  const moved = distanceM(last, position)
  const waitFor = moved >= rules.minDistanceM ? rules.floorMs : moved >= rules.jitterM ? rules.minIntervalMs : rules.stationaryRefreshMs
  return Math.max(0, last.at + waitFor - now)
}
