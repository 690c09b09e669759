// The push channel: one Server-Sent Events connection to `GET /events` for the whole app
// (session cookie, same origin). The browser reconnects by itself and resumes with
// Last-Event-ID; when it gives up (an HTTP error, the server away longer than its retries),
// this module opens a new connection with `?after=<last id>` so nothing in between is lost.
// A fresh connection (nothing to resume from) starts with `ready`: state loaded after it misses
// nothing. The server sends `resync` when what was missed is too old to replay.
import { reactive } from 'vue'

export type PushEventName =
  | 'ready'
  | 'location'
  | 'location-stopped'
  | 'location-request'
  | 'invitation'
  | 'friend-added'
  | 'invitation-rejected'
  | 'friend-removed'
  | 'share'
  | 'share-withdrawn'
  | 'resync'

const NAMES: PushEventName[] = ['ready', 'location', 'location-stopped', 'location-request', 'invitation', 'friend-added', 'invitation-rejected', 'friend-removed', 'share', 'share-withdrawn', 'resync']

/** An event's `data`, parsed; its members are checked by each handler (it is the server's word). */
export type PushData = Record<string, unknown>
type Handler = (data: PushData) => void

export const pushState = reactive({ connected: false })

const handlers = new Map<PushEventName, Set<Handler>>()
let source: EventSource | null = null
let lastId: string | null = null
let wanted = false
let retryTimer: ReturnType<typeof setTimeout> | undefined
let retryDelay = 1000

export function onPush(name: PushEventName, handler: Handler): () => void {
  let set = handlers.get(name)
  if (!set) handlers.set(name, (set = new Set()))
  set.add(handler)
  return () => set.delete(handler)
}

function dispatch(name: PushEventName, data: PushData) {
  for (const h of handlers.get(name) ?? []) {
    try {
      h(data)
    } catch (e) {
      // One bad handler must not stop the others or the connection.
      console.warn(`push event ${name}:`, e)
    }
  }
}

function open() {
  const url = lastId ? `/events?after=${encodeURIComponent(lastId)}` : '/events'
  const es = new EventSource(url, { withCredentials: true })
  source = es
  for (const name of NAMES) {
    es.addEventListener(name, (e) => {
      const m = e as MessageEvent<string>
      if (m.lastEventId) lastId = m.lastEventId
      let data: unknown
      try {
        data = JSON.parse(m.data)
      } catch {
        return
      }
      if (data && typeof data === 'object' && !Array.isArray(data)) dispatch(name, data as PushData)
    })
  }
  es.onopen = () => {
    if (source !== es) return
    pushState.connected = true
    retryDelay = 1000
  }
  es.onerror = () => {
    if (source !== es) return
    pushState.connected = false
    // CONNECTING: the browser retries by itself (with Last-Event-ID). CLOSED: it gave up.
    if (es.readyState === EventSource.CLOSED && wanted) {
      es.close()
      source = null
      clearTimeout(retryTimer)
      retryTimer = setTimeout(() => wanted && !source && open(), retryDelay)
      retryDelay = Math.min(retryDelay * 2, 30_000)
    }
  }
}

/** Opens the channel (once; later calls do nothing while it is wanted). */
export function connectPush() {
  if (wanted) return
  wanted = true
  open()
}

/** Closes it and forgets the resume point (a new session starts from a fresh load). */
export function disconnectPush() {
  wanted = false
  clearTimeout(retryTimer)
  source?.close()
  source = null
  lastId = null
  retryDelay = 1000
  pushState.connected = false
}
