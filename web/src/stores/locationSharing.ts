// Who sees my live location, and until when. The server keeps these settings (never a
// position); this store mirrors them and drops a setting the moment it expires. Answering a
// friend's request once ("Share once") changes no setting: the server takes that one update
// with sharing off, in answer to the request (src/live/broadcaster.ts).
import { reactive } from 'vue'
import { ApiError } from '../api/client'
import { locationSharing as sharingApi } from '../api/endpoints'
import type { LocationSharing } from '../api/types'
import { keyring } from '../crypto'
import { t } from '../i18n'
import { expiryChange } from '../live/recipients'
import { sameHandle } from './friends'
import { session } from './session'
import { singleFlight } from './singleFlight'

interface SharingState {
  entries: LocationSharing[]
  loaded: boolean
  unavailable: boolean
}

export const sharingState = reactive<SharingState>({ entries: [], loaded: false, unavailable: false })

function expired(s: LocationSharing, now = Date.now()): boolean {
  return !!s.expiresAt && Date.parse(s.expiresAt) <= now
}

let expiryTimer: ReturnType<typeof setTimeout> | undefined

/** Drops expired settings now and wakes up again at the next expiry (the server does the same). */
function pruneExpired() {
  clearTimeout(expiryTimer)
  const now = Date.now()
  if (sharingState.entries.some((s) => expired(s, now))) sharingState.entries = sharingState.entries.filter((s) => !expired(s, now))
  const next = Math.min(...sharingState.entries.map((s) => (s.expiresAt ? Date.parse(s.expiresAt) : Infinity)))
  // setTimeout runs at once for delays beyond 2^31-1 ms; check again daily instead.
  if (Number.isFinite(next)) expiryTimer = setTimeout(pruneExpired, Math.min(next - now + 50, 86_400_000))
}

export const reloadSharing = singleFlight(async () => {
  try {
    sharingState.entries = (await sharingApi.list()).sharing
  } catch (e) {
    if (!(e instanceof ApiError && (e.status === 404 || e.status === 405))) throw e
    sharingState.unavailable = true
  } finally {
    sharingState.loaded = true
  }
  pruneExpired()
})

export function sharingWith(handle: string): LocationSharing | undefined {
  return sharingState.entries.find((s) => sameHandle(s.handle, handle) && !expired(s))
}

function put(entry: LocationSharing) {
  sharingState.entries = [...sharingState.entries.filter((s) => !sameHandle(s.handle, entry.handle)), entry]
  pruneExpired()
}

/** Told that a share which was on now ends at another time: `before` is its old end (ISO or none). */
type ExpiryListener = (handle: string, before: string | null) => Promise<void>
let expiryListener: ExpiryListener | null = null

/**
 * Set by the broadcaster while it runs: the friend's server keeps my last position with the end
 * it was sent with, so a changed end is sent to them at once (src/live/broadcaster.ts).
 */
export function onExpiryChange(listener: ExpiryListener | null) {
  expiryListener = listener
}

/**
 * Turns sharing on (or changes its expiry). When it was on and now ends at another time, the
 * friend is sent my position again with the new end before this resolves.
 */
export async function startSharing(handle: string, expiresAt: string | null) {
  const before = sharingWith(handle)
  const saved = await sharingApi.start(handle, expiresAt)
  put(saved)
  if (before && expiryChange(before.expiresAt, saved.expiresAt).changed) {
    // The setting is saved whatever happens to that send (the broadcaster reports its failures).
    await expiryListener?.(saved.handle, before.expiresAt ?? null).catch(() => {})
  }
  return saved
}

/** Turns sharing off; the friend's server is told at once, with a stop signed by my key. */
export async function stopSharing(handle: string) {
  if (!session.handle) throw new Error(t('errors.aliasFirst'))
  await sharingApi.stop(handle, keyring.signMessage('LOCATION_UPDATE', session.handle, handle, { stopped: true }))
  sharingState.entries = sharingState.entries.filter((s) => !sameHandle(s.handle, handle))
  pruneExpired()
}

/** The friend is gone (removed on either side): the server dropped the setting with the friendship. */
export function forgetSharing(handle: string) {
  sharingState.entries = sharingState.entries.filter((s) => !sameHandle(s.handle, handle))
}

export function clearSharing() {
  clearTimeout(expiryTimer)
  Object.assign(sharingState, { entries: [], loaded: false, unavailable: false })
}
