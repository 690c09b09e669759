// The one place that talks HTTP to parchment-server: same origin, cookie session, JSON bodies,
// through openapi-fetch typed by the generated schema.d.ts. Every non-2xx answer becomes an
// ApiError carrying the server's `{code, message}`.
import createClient from 'openapi-fetch'
import { locale, t, te } from '../i18n'
import type { paths } from './schema'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly body: unknown
  /** The message is the server's own (English) text, not one the app wrote in the user's language. */
  readonly fromServer: boolean
  constructor(status: number, code: string, message: string, body?: unknown, fromServer = false) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.body = body
    this.fromServer = fromServer
  }
}

let unauthorized: (() => void) | null = null

/** Called when a signed-in call answers 401 (the session ended elsewhere or expired). */
export function onUnauthorized(handler: () => void) {
  unauthorized = handler
}

// Sign-in calls answer 401 for a wrong code or passkey: that is not "the session ended".
const SIGN_IN_PATHS = ['/auth/verify', '/auth/sessions', '/auth/passkeys/authenticate/']

function describeStatus(status: number): string {
  if (status === 401) return t('errors.status.unauthorized')
  if (status === 403) return t('errors.status.forbidden')
  if (status === 404) return t('errors.status.notFound')
  if (status === 409) return t('errors.status.conflict')
  if (status === 429) return t('errors.status.tooMany')
  if (status >= 500) return t('errors.status.serverFailed')
  return t('errors.status.other', { status })
}

/** The typed HTTP client: every path, parameter and body is checked against schema.d.ts. */
export const http = createClient<paths>({
  credentials: 'include',
  headers: { Accept: 'application/json' },
})

http.use({
  onResponse({ request, response }) {
    // Paths the server does not route fall through to the web app's index.html (SPA fallback):
    // an HTML answer to an API call means "no such endpoint on this server".
    const type = response.headers.get('content-type') ?? ''
    if (response.ok && response.status !== 204 && type.includes('text/html')) {
      return Response.json({ code: 'not_found', message: t('errors.notOffered') }, { status: 404 })
    }
    if (response.status === 401 && unauthorized) {
      const path = new URL(request.url).pathname
      if (!(request.method === 'POST' && SIGN_IN_PATHS.some((p) => path.startsWith(p)))) unauthorized()
    }
    return undefined
  },
})

interface Answer<T> { data?: T; error?: unknown; response: Response }

/**
 * Waits for a typed call; resolves to its parsed JSON body, or `null` for an empty (204)
 * answer. Every non-2xx answer becomes an ApiError with the server's `{code, message}`.
 */
export async function call<T>(pending: Promise<Answer<T>>): Promise<T | null> {
  let answer: Answer<T>
  try {
    answer = await pending
  } catch (e) {
    if (e instanceof SyntaxError) throw new ApiError(502, 'bad_response', t('errors.badResponse'))
    throw new ApiError(0, 'network', t('errors.network'))
  }
  const { response } = answer
  if (!response.ok) {
    const body = answer.error
    const obj = (body && typeof body === 'object' ? body : {}) as { code?: unknown; message?: unknown }
    const code = typeof obj.code === 'string' ? obj.code : `http_${response.status}`
    const fromServer = typeof obj.message === 'string' && !!obj.message
    const message = fromServer ? (obj.message as string) : describeStatus(response.status)
    throw new ApiError(response.status, code, message, body, fromServer)
  }
  return answer.data ?? null
}

/** As `call`, for operations whose success always has a body. */
export async function callBody<T>(pending: Promise<Answer<T>>): Promise<T> {
  const data = await call(pending)
  if (data === null) throw new ApiError(502, 'bad_response', t('errors.emptyResponse'))
  return data
}

/**
 * A message fit to show a person, whatever was thrown. The server writes its messages in
 * English: in another language the app says what the error code means, or what the status means.
 */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (!e.fromServer || locale().startsWith('en')) return e.message
    const known = `apiErrors.${e.code}`
    return te(known) ? t(known) : describeStatus(e.status)
  }
  if (e instanceof DOMException && e.name === 'NotAllowedError') return t('errors.passkeyCancelled')
  if (e instanceof Error) return e.message
  return String(e)
}
