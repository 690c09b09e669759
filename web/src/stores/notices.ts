// What a friend asked or sent while the app was open, waiting for the user: a request for my
// location (answered with "Share once" or dismissed) and shares of a collection or place.
import { reactive } from 'vue'
import { sameHandle } from './friends'

export interface Notice {
  id: number
  kind: 'location-request' | 'share'
  handle: string
  /** For a share: what was shared (`collection`, …). */
  resourceType?: string
  at: number
}

export const notices = reactive<Notice[]>([])
let nextId = 1

export function addNotice(n: Omit<Notice, 'id' | 'at'>) {
  // A friend asking twice is one request; a friend sharing (or updating what they share) twice
  // is one notice.
  if (n.kind === 'location-request' || n.kind === 'share') dismissWhere((x) => x.kind === n.kind && sameHandle(x.handle, n.handle))
  notices.push({ ...n, id: nextId++, at: Date.now() })
}

export function dismissNotice(id: number) {
  dismissWhere((x) => x.id === id)
}

/** The friendship ended: their requests are void. */
export function dismissFrom(handle: string) {
  dismissWhere((x) => sameHandle(x.handle, handle))
}

function dismissWhere(match: (n: Notice) => boolean) {
  for (let i = notices.length - 1; i >= 0; i--) if (match(notices[i])) notices.splice(i, 1)
}

export function clearNotices() {
  notices.splice(0)
}
