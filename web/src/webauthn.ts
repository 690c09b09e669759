// Browser WebAuthn ceremonies. The server's options arrive as JSON (binary fields base64url);
// credentials go back as JSON the same way. The PRF output stays in the page only long enough
// to hand it to src/crypto (it never goes to the server); the caller zeroes it (`.fill(0)`)
// right after. The PRF salt is always the constant of crypto.md D12 (`keyring.prfSalt()`),
// whatever salt the server's options name: a server choosing the salt could make the
// authenticator answer a PRF of its choice.
import { fromBase64Url, toBase64Url } from './crypto/base64'
import { t } from './i18n'

type Json = Record<string, unknown>

function bytes(v: unknown): Uint8Array<ArrayBuffer> {
  if (typeof v === 'string') return fromBase64Url(v) as Uint8Array<ArrayBuffer>
  if (v instanceof ArrayBuffer) return new Uint8Array(v)
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer)
  throw new Error(t('errors.passkeyOptionsUnreadable'))
}

/** The server's extensions, with the PRF evaluated at the constant salt (never the server's). */
function prfExtension(ext: unknown, prfSalt: Uint8Array): Json {
  const e = (ext && typeof ext === 'object' ? { ...(ext as Json) } : {}) as Json
  e.prf = { eval: { first: bytes(prfSalt) } }
  return e
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined
  return list.map((d: Json) => ({ ...(d as object), type: 'public-key', id: bytes(d.id) }) as PublicKeyCredentialDescriptor)
}

export function supported(): boolean {
  return typeof window !== 'undefined' && 'PublicKeyCredential' in window && window.isSecureContext
}

/** A view on the authenticator's own PRF buffer (no copy), so zeroing it wipes the only copy. */
function prfOutput(cred: PublicKeyCredential): Uint8Array | null {
  const results = cred.getClientExtensionResults() as { prf?: { results?: { first?: BufferSource } } }
  const first = results.prf?.results?.first
  if (!first) return null
  if (first instanceof ArrayBuffer) return new Uint8Array(first)
  if (ArrayBuffer.isView(first)) return new Uint8Array(first.buffer, first.byteOffset, first.byteLength)
  return bytes(first)
}

function credentialJson(cred: PublicKeyCredential): Json {
  const r = cred.response as AuthenticatorAttestationResponse & AuthenticatorAssertionResponse
  const response: Json = { clientDataJSON: toBase64Url(new Uint8Array(r.clientDataJSON)) }
  if ('attestationObject' in r && r.attestationObject) {
    response.attestationObject = toBase64Url(new Uint8Array(r.attestationObject))
    if (typeof r.getTransports === 'function') response.transports = r.getTransports()
  }
  if ('authenticatorData' in r && r.authenticatorData) {
    response.authenticatorData = toBase64Url(new Uint8Array(r.authenticatorData))
    response.signature = toBase64Url(new Uint8Array(r.signature))
    if (r.userHandle) response.userHandle = toBase64Url(new Uint8Array(r.userHandle))
  }
  // Client extension results are NOT sent: the PRF output is a secret.
  return { id: cred.id, rawId: toBase64Url(new Uint8Array(cred.rawId)), type: cred.type, response, extensions: {} }
}

export interface CeremonyResult { credential: Json; credentialId: string; prf: Uint8Array | null }

/** `navigator.credentials.create` with the server's registration options. */
/** The server's `publicKey` options: an object, whatever the document can say of it. */
function ceremonyOptions(v: unknown): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(t('errors.noPasskeyOptions'))
  return v as Json
}

export async function createPasskey(serverOptions: unknown, prfSalt: Uint8Array): Promise<CeremonyResult> {
  const publicKey = ceremonyOptions(serverOptions)
  const user = publicKey.user as Json
  const options = {
    ...(publicKey as object),
    challenge: bytes(publicKey.challenge),
    user: { ...(user as object), id: bytes(user.id) },
    excludeCredentials: descriptors(publicKey.excludeCredentials),
    extensions: prfExtension(publicKey.extensions, prfSalt),
  } as unknown as PublicKeyCredentialCreationOptions
  const cred = (await navigator.credentials.create({ publicKey: options })) as PublicKeyCredential | null
  if (!cred) throw new Error(t('errors.noPasskeyCreated'))
  return { credential: credentialJson(cred), credentialId: cred.id, prf: prfOutput(cred) }
}

/** `navigator.credentials.get` with the server's authentication options. */
export async function getPasskey(serverOptions: unknown, prfSalt: Uint8Array): Promise<CeremonyResult> {
  const publicKey = ceremonyOptions(serverOptions)
  const options = {
    ...(publicKey as object),
    challenge: bytes(publicKey.challenge),
    allowCredentials: descriptors(publicKey.allowCredentials),
    extensions: prfExtension(publicKey.extensions, prfSalt),
  } as PublicKeyCredentialRequestOptions
  const cred = (await navigator.credentials.get({ publicKey: options })) as PublicKeyCredential | null
  if (!cred) throw new Error(t('errors.noPasskeyUsed'))
  return { credential: credentialJson(cred), credentialId: cred.id, prf: prfOutput(cred) }
}

/**
 * A local assertion only to evaluate the PRF of one of the given credentials (enrolling or
 * opening a key slot, re-sealing slots during a rotation, confirming it is the owner before the
 * recovery code is shown). Nothing is sent to the server.
 */
export async function evaluatePrf(credentialIds: string[], prfSalt: Uint8Array): Promise<{ credentialId: string; prf: Uint8Array }> {
  const challenge = crypto.getRandomValues(new Uint8Array(32))
  const cred = (await navigator.credentials.get({
    publicKey: {
      challenge,
      allowCredentials: credentialIds.map((id) => ({ type: 'public-key' as const, id: bytes(id) })),
      userVerification: 'required',
      timeout: 60000,
      extensions: { prf: { eval: { first: bytes(prfSalt) } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null
  if (!cred) throw new Error(t('errors.noPasskeyUsed'))
  const prf = prfOutput(cred)
  if (!prf) throw new Error(t('errors.passkeyNoPrf'))
  return { credentialId: cred.id, prf }
}
