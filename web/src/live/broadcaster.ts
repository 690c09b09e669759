// Sending my live location: while the app is open and unlocked and sharing with at least one
// friend is on, the browser watches the position and, as the send throttle allows, seals it
// for each of those friends and hands it to our server (which delivers a signed
// LOCATION_UPDATE to the friend's server). Nothing readable leaves this page.
import { reactive, watch } from 'vue'
import { ApiError, errorMessage } from '../api/client'
import { friends as friendsApi } from '../api/endpoints'
import { keyring } from '../crypto'
import { t } from '../i18n'
import { friendByHandle } from '../stores/friends'
import { liveRecipients, reloadSharing, SHARE_ONCE_MS, sharingWith, startSharing } from '../stores/locationSharing'
import { session } from '../stores/session'
import { encodeFix, fixFromReading, type LocationFix } from './locationFix'
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

async function sendOne(me: string, handle: string, fix: LocationFix) {
  const setting = sharingWith(handle)
  if (!setting) return // turned off meanwhile
  const friend = friendByHandle(handle)
  if (!friend?.encryptionKey) throw new Error(t('live.noEncryptionKey', { handle }))
  const sentAt = new Date().toISOString()
  const encryptedLocation = keyring.sealFriendShare(friend.encryptionKey, encodeFix(fix), { senderId: me, recipientId: friend.handle, timestamp: sentAt })
  // `nonce` is the binding time (the original's wire shape); `expiresAt` lets both servers
  // drop the position when the share ends, with no message.
  const payload: Record<string, string> = { encryptedLocation, nonce: sentAt }
  // The same instant as the setting, written as the server expects it (ISO, milliseconds, Z).
  if (setting.expiresAt) payload.expiresAt = new Date(setting.expiresAt).toISOString()
  try {
    await friendsApi.send(friend.handle, { messageType: 'LOCATION_UPDATE', payload, ...keyring.signMessage('LOCATION_UPDATE', me, friend.handle, payload) })
  } catch (e) {
    // Turned off or expired elsewhere (another device, the server's clock): re-read the settings.
    if (e instanceof ApiError && e.code === 'location_sharing_off') {
      await reloadSharing().catch(() => {})
      return
    }
    throw e
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
  void sendTo(liveRecipients().map((s) => s.handle), fix).finally(() => {
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

/** Follows the sharing settings: watches the position exactly while someone gets live updates. */
export function startBroadcaster() {
  if (stopFollowing) return
  stopFollowing = watch(
    () => liveRecipients().map((s) => s.handle.toLowerCase()).sort().join('\n'),
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
 * Answers a friend's request with one position. When sharing with them is off it is turned on
 * for SHARE_ONCE_MS (the server refuses an update otherwise) and marked as an answer, so no
 * live updates follow; the friend sees that one position until it expires.
 */
export async function shareOnce(handle: string) {
  const me = session.handle
  if (!me) throw new Error(t('errors.aliasFirst'))
  const fix = await currentFix()
  if (!sharingWith(handle)) await startSharing(handle, new Date(Date.now() + SHARE_ONCE_MS).toISOString(), { once: true })
  await sendOne(me, handle, fix)
  broadcastState.lastSentAt = Date.now()
}
