// Where my friends are: the newest position of each friend who shares with me, opened in this
// browser. A share that does not open (wrong signer, wrong binding, garbage) is dropped; a
// position disappears when its share expires, when the friend stops, or when the friendship ends.
import { reactive } from 'vue'
import { ApiError } from '../api/client'
import { locationSharing as sharingApi } from '../api/endpoints'
import { keyring } from '../crypto'
import { decodeFix, type LocationFix } from '../live/locationFix'
import { friendByHandle, reloadFriends } from './friends'
import { session } from './session'
import { singleFlight } from './singleFlight'

/** A sealed position as the server hands it over (`GET /friends/locations` or a push event). */
export interface SealedLocation {
  fromHandle: string
  encryptedLocation: string
  sentAt: string
  expiresAt?: string | null
  /** The signed envelope it arrived in (the snapshot has it; the payload's `nonce` is the binding time). */
  envelope?: string
}

export interface FriendPosition {
  handle: string
  name: string
  lat: number
  lng: number
  /** Metres; `null` when the friend's device did not say. */
  accuracy: number | null
  /** When it was sent (epoch ms), the time the sealed share is bound to. */
  sentAt: number
  expiresAt: string | null
  fix: LocationFix
}

/** Keyed by lower-case handle. */
export const friendPositions = reactive<Record<string, FriendPosition>>({})

const key = (handle: string) => handle.toLowerCase()

let expiryTimer: ReturnType<typeof setTimeout> | undefined

function isExpired(expiresAt: string | null | undefined, now = Date.now()): boolean {
  return !!expiresAt && Date.parse(expiresAt) <= now
}

/** Removes expired positions and sleeps until the next expiry: no message is needed for it. */
function pruneExpired() {
  clearTimeout(expiryTimer)
  const now = Date.now()
  let next = Infinity
  for (const [k, p] of Object.entries(friendPositions)) {
    if (isExpired(p.expiresAt, now)) delete friendPositions[k]
    else if (p.expiresAt) next = Math.min(next, Date.parse(p.expiresAt))
  }
  if (Number.isFinite(next)) expiryTimer = setTimeout(pruneExpired, Math.min(next - now + 50, 86_400_000))
}

/** The binding times to try: the signed payload's `nonce` when the envelope is at hand, then `sentAt`. */
function bindingTimes(entry: SealedLocation): string[] {
  const times: string[] = []
  if (entry.envelope) {
    try {
      const nonce = (JSON.parse(entry.envelope) as { payload?: { nonce?: unknown } }).payload?.nonce
      if (typeof nonce === 'string') times.push(nonce)
    } catch {
      /* no usable envelope: sentAt alone */
    }
  }
  if (!times.includes(entry.sentAt)) times.push(entry.sentAt)
  return times
}

/**
 * While a snapshot loads, pushed events may be newer than what it read: a stop must not be
 * undone by it, and a position pushed meanwhile must not be swept as "no longer listed".
 */
let duringLoad: { stopped: Set<string>; arrived: Set<string> } | null = null

/**
 * Opens one sealed position and shows it if it is newer than what is shown. `false` when it was
 * dropped (not a friend, not openable, not a position, expired, or older).
 */
export async function applySealedLocation(entry: SealedLocation, { fromSnapshot = false } = {}): Promise<boolean> {
  // Friend shares open in the package's second module: fetched on first use, before any check
  // below, so a stop that arrives meanwhile is seen by them.
  try {
    await keyring.loadExtras()
  } catch {
    return false
  }
  const me = session.handle
  if (!me || !keyring.isUnlocked()) return false
  if (isExpired(entry.expiresAt)) return false
  let friend = friendByHandle(entry.fromHandle)
  // Accepted a moment ago: the list may not know them yet.
  if (!friend) {
    await reloadFriends().catch(() => {})
    friend = friendByHandle(entry.fromHandle)
  }
  if (!friend?.signingKey) return false
  if (fromSnapshot && duringLoad?.stopped.has(key(friend.handle))) return false
  for (const timestamp of bindingTimes(entry)) {
    let bytes: Uint8Array
    try {
      bytes = keyring.openFriendShare(entry.encryptedLocation, friend.signingKey, { senderId: friend.handle, recipientId: me, timestamp })
    } catch {
      continue
    }
    const fix = decodeFix(bytes)
    if (!fix) return false
    const sentAt = Date.parse(timestamp)
    const shown = friendPositions[key(friend.handle)]
    if (shown && shown.sentAt > sentAt) return false
    friendPositions[key(friend.handle)] = {
      handle: friend.handle,
      name: friend.name || friend.handle,
      lat: fix.lat,
      lng: fix.lng,
      accuracy: fix.accuracy ?? null,
      sentAt: Number.isFinite(sentAt) ? sentAt : Date.now(),
      expiresAt: entry.expiresAt ?? null,
      fix,
    }
    if (!fromSnapshot) duringLoad?.arrived.add(key(friend.handle))
    pruneExpired()
    return true
  }
  return false
}

/** The friend stopped sharing, or the friendship ended: their marker goes at once. */
export function removeFriendPosition(handle: string) {
  duringLoad?.stopped.add(key(handle))
  delete friendPositions[key(handle)]
}

/**
 * Loads the newest position of every friend sharing with me (on opening the app and after a
 * resync) and drops any shown position the server no longer has.
 */
export const loadFriendPositions = singleFlight(async () => {
  const load = (duringLoad = { stopped: new Set(), arrived: new Set() })
  try {
    let locations: SealedLocation[]
    try {
      locations = (await sharingApi.friendsLocations()).locations
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return
      throw e
    }
    const listed = new Set(locations.map((l) => key(l.fromHandle)))
    for (const k of Object.keys(friendPositions)) if (!listed.has(k) && !load.arrived.has(k)) delete friendPositions[k]
    const current = locations.filter((l) => !load.stopped.has(key(l.fromHandle)))
    await Promise.all(current.map((l) => applySealedLocation(l, { fromSnapshot: true })))
  } finally {
    duringLoad = null
  }
})

export function clearFriendPositions() {
  clearTimeout(expiryTimer)
  for (const k of Object.keys(friendPositions)) delete friendPositions[k]
}
