// Live features while the app is unlocked: the push channel feeds the stores (friends,
// invitations, friends' positions, requests), and my position goes out to the friends I share
// with. Started and stopped by App.vue as the session unlocks and locks.
import { friendByHandle, reloadFriends, reloadInvitations, clearFriends } from '../stores/friends'
import { applySealedLocation, clearFriendPositions, loadFriendPositions, removeFriendPosition } from '../stores/friendLocations'
import { clearSharing, forgetSharing, reloadSharing } from '../stores/locationSharing'
import { addNotice, clearNotices, dismissFrom } from '../stores/notices'
import { startBroadcaster, stopBroadcaster } from './broadcaster'
import { connectPush, disconnectPush, onPush, type PushData } from './events'

let unsubscribe: (() => void)[] = []

const text = (d: PushData, k: string): string | null => (typeof d[k] === 'string' ? (d[k] as string) : null)

/**
 * Everything from scratch: on opening the app (at once, so the map fills quickly), and again on
 * `ready` (the push connection is subscribed: nothing after this load can be missed) and on
 * `resync` (events were missed). Concurrent reloads of one list run at most twice.
 */
async function reloadAll() {
  await Promise.allSettled([
    // Positions open with the friends' keys: the friends list first.
    reloadFriends().then(() => loadFriendPositions()),
    reloadInvitations(),
    reloadSharing(),
  ])
}

/** A friendship ended (either side): their position, my sharing with them and their requests go. */
export function friendGone(handle: string) {
  removeFriendPosition(handle)
  forgetSharing(handle)
  dismissFrom(handle)
}

export function startLive() {
  if (unsubscribe.length) return
  const quietly = (p: Promise<unknown>) => void p.catch(() => {})
  unsubscribe = [
    onPush('location', (d) => {
      const fromHandle = text(d, 'fromHandle')
      const encryptedLocation = text(d, 'encryptedLocation')
      const sentAt = text(d, 'sentAt')
      if (fromHandle && encryptedLocation && sentAt) quietly(applySealedLocation({ fromHandle, encryptedLocation, sentAt, expiresAt: text(d, 'expiresAt') }))
    }),
    onPush('location-stopped', (d) => {
      const h = text(d, 'fromHandle')
      if (h) removeFriendPosition(h)
    }),
    onPush('location-request', (d) => {
      const h = text(d, 'fromHandle')
      if (h && friendByHandle(h)) addNotice({ kind: 'location-request', handle: h })
    }),
    onPush('share', (d) => {
      const h = text(d, 'fromHandle')
      // An editor's change to my collection is applied by the collections card, not announced.
      const kind = text(d, 'resourceType')
      if (h && kind !== 'collection-edit') addNotice({ kind: 'share', handle: h, resourceType: kind ?? undefined })
    }),
    onPush('invitation', () => quietly(reloadInvitations())),
    onPush('invitation-rejected', () => quietly(reloadInvitations())),
    onPush('friend-added', () => quietly(Promise.all([reloadFriends(), reloadInvitations()]))),
    onPush('friend-removed', (d) => {
      const h = text(d, 'handle')
      if (h) friendGone(h)
      quietly(Promise.all([reloadFriends(), reloadInvitations()]))
    }),
    onPush('ready', () => quietly(reloadAll())),
    onPush('resync', () => quietly(reloadAll())),
  ]
  connectPush()
  quietly(reloadAll())
  startBroadcaster()
}

/** Locked or signed out: nothing live, nothing kept. */
export function stopLive() {
  unsubscribe.forEach((off) => off())
  unsubscribe = []
  disconnectPush()
  stopBroadcaster()
  clearFriendPositions()
  clearSharing()
  clearNotices()
  clearFriends()
}
