// Sending my live location: while the app is open and unlocked and sharing with at least one
// friend is on, the browser watches the position and, as the send throttle allows, seals it
// for each of those friends and hands it to our server (which delivers a signed
// LOCATION_UPDATE to the friend's server). Nothing readable leaves this page.
import { reactive, watch } from 'vue'
import { ApiError, errorMessage } from '../api/client'
import { friends as friendsApi } from '../api/endpoints'
import { keyring } from '../crypto'
import { t } from '../i18n'
import type { Friend } from '../api/types'
import { friendByHandle, friendsState, reloadFriends } from '../stores/friends'
import { onExpiryChange, reloadSharing, sharingState, sharingWith } from '../stores/locationSharing'
import { session } from '../stores/session'
import { verificationOf } from '../stores/verifiedFriends'
import { encodeFix, fixFromReading, type LocationFix } from './locationFix'
import { answerExpiry, expiryChange, liveTargets } from './recipients'
import { sendDelay, type Sent } from './sendThrottle'

export const broadcastState = reactive({
  /** The position is being watched (some friend gets live updates). */
  watching: false,
  /** Why friends may not be seeing me (no permission, a failed send), for the friends screen. */
  error: null as string | null,
  /** When an update last went out (epoch ms). */
  lastSentAt: null as number | null,
})

let watchId: number | null = null
let latest: LocationFix | null = null
/** The newest fix the watch gave, kept when it ends (until the broadcaster stops). */
let lastFix: LocationFix | null = null
let last: Sent | null = null
let timer: ReturnType<typeof setTimeout> | undefined
let sending = false
let stopFollowing: (() => void) | null = null
/** Recipients as of the last change, to spot a friend just added. */
let recipients = new Set<string>()

function fixOf(p: GeolocationPosition): LocationFix {
  // GeolocationCoordinates keeps its values in prototype getters: spreading it gives {}.
  const c = p.coords
  return fixFromReading({
    latitude: c.latitude,
    longitude: c.longitude,
    accuracy: c.accuracy,
    altitude: c.altitude,
    altitudeAccuracy: c.altitudeAccuracy,
    speed: c.speed,
    heading: c.heading,
    timestamp: p.timestamp,
  })
}

function geoProblem(e: GeolocationPositionError): string {
  if (e.code === e.PERMISSION_DENIED) return t('live.geo.denied')
  if (e.code === e.TIMEOUT) return t('live.geo.timeout')
  return t('live.geo.unavailable')
}

/**
 * A friend the user verified whose keys the server now serves differently: nothing is sealed for
 * them (the served encryption key may be an attacker's) until the user verifies them again or
 * drops the verification. Reactive (verifiedFriends bumps a revision on every change).
 */
export function sendingPaused(friend: { handle: string; signingKey?: string; encryptionKey?: string | null }): boolean {
  if (friend.signingKey === undefined) return false
  return verificationOf(session.user?.id, { handle: friend.handle, signingKey: friend.signingKey, encryptionKey: friend.encryptionKey }).state === 'changed'
}

/** Seals `fix` for the friend and hands it to our server, ending at `expiresAt` (ISO) or not. */
async function sendSealed(me: string, friend: Friend, fix: LocationFix, expiresAt: string | null) {
  await keyring.loadExtras()
  if (sendingPaused(friend)) throw new Error(t('sharing.pausedKeysChanged'))
  if (!friend.encryptionKey) throw new Error(t('live.noEncryptionKey', { handle: friend.handle }))
  const sentAt = new Date().toISOString()
  const encryptedLocation = keyring.sealFriendShare(friend.encryptionKey, encodeFix(fix), { senderId: me, recipientId: friend.handle, timestamp: sentAt })
  // `nonce` is the binding time (the original's wire shape); `expiresAt` lets both servers
  // drop the position when the share ends, with no message.
  const payload: Record<string, string> = { encryptedLocation, nonce: sentAt }
  // The same instant as the setting, written as the server expects it (ISO, milliseconds, Z).
  if (expiresAt) payload.expiresAt = new Date(expiresAt).toISOString()
  await friendsApi.send(friend.handle, { messageType: 'LOCATION_UPDATE', payload, ...keyring.signMessage('LOCATION_UPDATE', me, friend.handle, payload) })
}

/** One live update to a friend I share with; `false` when nothing was sent. */
async function sendOne(me: string, handle: string, fix: LocationFix): Promise<boolean> {
  const setting = sharingWith(handle)
  if (!setting) return false // turned off meanwhile
  const friend = friendByHandle(handle)
  if (!friend) return false // not in the friends list (yet): sent to when it is (the watch below)
  if (sendingPaused(friend)) return false // keys changed since verified: sent to when resolved (the watch below)
  try {
    await sendSealed(me, friend, fix, setting.expiresAt ?? null)
    return true
  } catch (e) {
    // Turned off or expired elsewhere (another device, the server's clock): re-read the settings.
    if (e instanceof ApiError && e.code === 'location_sharing_off') {
      await reloadSharing().catch(() => {})
      return false
    }
    throw e
  }
}

/** Our server refused an update's `payload.expiresAt`: it is not the end it has for the share. */
function expiryRefused(e: unknown): boolean {
  return e instanceof ApiError && e.status === 422 && e.message.startsWith('payload.expiresAt')
}

/**
 * A share that was on now ends at another time (`before` was its end). The friend's server keeps
 * my last position with the end it came with, and would keep showing it until then if this page
 * closed now: it gets my position again at once, with the new end. That is the watch's newest
 * fix, else the last one this page had; with none at all there is nothing to send (the watch's
 * first fix goes out with the new end anyway). A shortened share refused because the server has
 * yet another end (changed on another device meanwhile) is read again and sent once more.
 */
async function sendNewExpiry(handle: string, before: string | null) {
  const me = session.handle
  const fix = latest ?? lastFix
  const setting = sharingWith(handle)
  if (!me || !keyring.isUnlocked() || !fix || !setting) return
  const { shortened } = expiryChange(before, setting.expiresAt)
  try {
    let sent: boolean
    try {
      sent = await sendOne(me, handle, fix)
    } catch (e) {
      if (!shortened || !expiryRefused(e)) throw e
      await reloadSharing().catch(() => {})
      sent = await sendOne(me, handle, fix)
    }
    if (sent) {
      broadcastState.error = null
      broadcastState.lastSentAt = Date.now()
    }
  } catch (e) {
    broadcastState.error = errorMessage(e)
  }
}

async function sendTo(handles: string[], fix: LocationFix) {
  const me = session.handle
  if (!me || !keyring.isUnlocked() || !handles.length) return
  const results = await Promise.allSettled(handles.map((h) => sendOne(me, h, fix)))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  broadcastState.error = failed ? errorMessage(failed.reason) : null
  if (results.some((r) => r.status === 'fulfilled')) broadcastState.lastSentAt = Date.now()
}

/** Sends the newest position when the throttle allows, otherwise asks again when it will. */
function schedule() {
  clearTimeout(timer)
  if (!latest || sending) return
  const delay = sendDelay(last, latest, Date.now())
  if (delay > 0) {
    timer = setTimeout(schedule, delay)
    return
  }
  const fix = latest
  sending = true
  last = { lat: fix.lat, lng: fix.lng, at: Date.now() }
  void sendTo(targets(), fix).finally(() => {
    sending = false
    schedule()
  })
}

function beginWatch() {
  if (watchId !== null) return
  if (!('geolocation' in navigator)) {
    broadcastState.error = t('live.geo.noGeolocation')
    return
  }
  watchId = navigator.geolocation.watchPosition(
    (p) => {
      latest = fixOf(p)
      lastFix = latest
      // (The words of live.geo.* in each catalog: "position", "location", "posición", "ubicación".)
      if (broadcastState.error && /position|location|posición|ubicación/.test(broadcastState.error)) broadcastState.error = null
      schedule()
    },
    (e) => {
      broadcastState.error = geoProblem(e)
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 60_000 },
  )
  broadcastState.watching = true
}

function endWatch() {
  if (watchId !== null) navigator.geolocation.clearWatch(watchId)
  watchId = null
  clearTimeout(timer)
  latest = null
  last = null
  broadcastState.watching = false
}

/**
 * The friends who get live updates now: none before the friends list has loaded (after a
 * reload the sharing settings may come first, and a friend's key comes with that list).
 */
function targets(): string[] {
  return liveTargets(sharingState.entries, friendsState.loaded ? friendsState.friends : null, Date.now(), sendingPaused)
}

/**
 * Follows the sharing settings and the friends list: watches the position exactly while
 * someone gets live updates, and sends to a friend as soon as they are one of them.
 */
export function startBroadcaster() {
  if (stopFollowing) return
  onExpiryChange(sendNewExpiry)
  stopFollowing = watch(
    () => targets().map((h) => h.toLowerCase()).sort().join('\n'),
    (joined) => {
      const now = joined ? joined.split('\n') : []
      if (now.length) beginWatch()
      else endWatch()
      // A friend just added sees me now, not at my next move.
      const added = now.filter((h) => !recipients.has(h))
      recipients = new Set(now)
      if (latest && added.length) void sendTo(added, latest)
    },
    { immediate: true },
  )
}

export function stopBroadcaster() {
  stopFollowing?.()
  stopFollowing = null
  onExpiryChange(null)
  lastFix = null
  recipients = new Set()
  endWatch()
  broadcastState.error = null
  broadcastState.lastSentAt = null
}

function currentFix(): Promise<LocationFix> {
  if (latest && Date.now() - latest.timestamp < 60_000) return Promise.resolve(latest)
  if (!('geolocation' in navigator)) return Promise.reject(new Error(t('live.geo.cannotTell')))
  return new Promise((resolve, reject) =>
    navigator.geolocation.getCurrentPosition(
      (p) => resolve(fixOf(p)),
      (e) => reject(new Error(geoProblem(e))),
      // Asked "where are you": a fresh reading, not one the browser cached minutes ago.
      { enableHighAccuracy: true, maximumAge: 0, timeout: 30_000 },
    ),
  )
}

/**
 * Answers a friend's request with one position. With live sharing on, that is a live update
 * sent now; with it off, the server takes one update in answer to the friend's pending
 * request (used up by it), ending SHARE_ONCE_MS from now: no setting changes, so no live
 * updates follow, from this page or any other of mine. When the settings changed elsewhere
 * (another tab or device turned sharing on or off), they are read again and it is tried once
 * more; with sharing off and no request pending (answered already, on any of my devices), the
 * server answers 409 `location_sharing_off` and nothing is sent.
 */
export async function shareOnce(handle: string) {
  const me = session.handle
  if (!me) throw new Error(t('errors.aliasFirst'))
  if (!friendsState.loaded) await reloadFriends()
  const friend = friendByHandle(handle)
  if (!friend) throw new Error(t('live.notAFriend', { handle }))
  const fix = await currentFix()
  for (let retried = false; ; retried = true) {
    const setting = sharingWith(handle)
    try {
      await sendSealed(me, friend, fix, setting ? setting.expiresAt ?? null : answerExpiry(Date.now()))
      break
    } catch (e) {
      // 409 (sharing off there) or 422 (the expiry is not the setting's): is it on or off?
      if (retried || !(e instanceof ApiError && (e.status === 409 || e.status === 422))) throw e
      await reloadSharing().catch(() => {})
      if (!!sharingWith(handle) === !!setting) throw e
    }
  }
  broadcastState.lastSentAt = Date.now()
}
