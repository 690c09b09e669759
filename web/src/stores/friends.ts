// Friends and invitations, shared by the friends screen, the map and the push channel (which
// reloads them when a friend invites, accepts, declines or removes).
import { reactive } from 'vue'
import { ApiError } from '../api/client'
import { friends as friendsApi } from '../api/endpoints'
import type { Friend, Invitation } from '../api/types'
import { singleFlight } from './singleFlight'

interface FriendsState {
  friends: Friend[]
  incoming: Invitation[]
  outgoing: Invitation[]
  /** The first load finished (with or without friends). */
  loaded: boolean
  /** This server has no friends endpoints. */
  unavailable: boolean
}

export const friendsState = reactive<FriendsState>({ friends: [], incoming: [], outgoing: [], loaded: false, unavailable: false })

const pending = (list: Invitation[]) => list.filter((x) => !x.status || x.status === 'pending')

function missing(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || e.status === 405)
}

export const reloadFriends = singleFlight(async () => {
  try {
    friendsState.friends = (await friendsApi.list()).friends
  } catch (e) {
    if (!missing(e)) throw e
    friendsState.unavailable = true
  } finally {
    friendsState.loaded = true
  }
})

export const reloadInvitations = singleFlight(async () => {
  try {
    const [i, o] = await Promise.all([friendsApi.invitations('incoming'), friendsApi.invitations('outgoing')])
    friendsState.incoming = pending(i.invitations)
    friendsState.outgoing = pending(o.invitations)
  } catch (e) {
    if (!missing(e)) throw e
    friendsState.unavailable = true
  }
})

/** Handles compare case-insensitively (the domain part is a host name). */
export function sameHandle(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

export function friendByHandle(handle: string): Friend | undefined {
  return friendsState.friends.find((f) => sameHandle(f.handle, handle))
}

export function clearFriends() {
  Object.assign(friendsState, { friends: [], incoming: [], outgoing: [], loaded: false, unavailable: false })
}
