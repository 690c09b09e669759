// The one place that talks HTTP to parchment-server: same origin, cookie session, JSON bodies.
// Every non-2xx answer becomes an ApiError carrying the server's `{code, message}`.

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly body: unknown
  constructor(status: number, code: string, message: string, body?: unknown) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.body = body
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

let unauthorized: (() => void) | null = null

/** Called when a signed-in call answers 401 (the session ended elsewhere or expired). */
export function onUnauthorized(handler: () => void) {
  unauthorized = handler
}

// Sign-in calls answer 401 for a wrong code or passkey: that is not "the session ended".
const SIGN_IN_PATHS = ['/auth/verify', '/auth/sessions', '/auth/passkeys/authenticate/']

function describeStatus(status: number): string {
  if (status === 401) return 'You are signed out. Sign in again.'
  if (status === 403) return "You don't have permission to do that."
  if (status === 404) return 'Not found.'
  if (status === 409) return 'That conflicts with the current state.'
  if (status === 429) return 'Too many requests. Wait a minute and try again.'
  if (status >= 500) return 'The server failed. Try again in a moment.'
  return `Request failed (HTTP ${status}).`
}

/** Sends a request; resolves to the parsed JSON body, or `null` for an empty (204) answer. */
export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'include',
    headers: { Accept: 'application/json' },
  }
  if (body !== undefined) {
    ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res: Response
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.')
  }
  const text = await res.text()
  // Paths the server does not route fall through to the web app's index.html (SPA fallback):
  // an HTML answer to an API call means "no such endpoint on this server".
  const type = res.headers.get('content-type') ?? ''
  if (res.ok && text && type.includes('text/html')) {
    throw new ApiError(404, 'not_found', 'This server does not offer that feature yet.')
  }
  let parsed: unknown = null
  if (text) {
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = text
    }
  }
  if (!res.ok) {
    const obj = (parsed && typeof parsed === 'object' ? parsed : {}) as { code?: unknown; message?: unknown }
    const code = typeof obj.code === 'string' ? obj.code : `http_${res.status}`
    const message = typeof obj.message === 'string' && obj.message ? obj.message : describeStatus(res.status)
    if (res.status === 401 && unauthorized && !(method === 'POST' && SIGN_IN_PATHS.some((p) => path.startsWith(p)))) {
      unauthorized()
    }
    throw new ApiError(res.status, code, message, parsed)
  }
  return parsed as T
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body ?? {}),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body ?? {}),
  del: <T>(path: string, body?: unknown) => request<T>('DELETE', path, body),
}

/** A message fit to show a person, whatever was thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof DOMException && e.name === 'NotAllowedError') return 'The passkey prompt was cancelled or timed out.'
  if (e instanceof Error) return e.message
  return String(e)
}
