// App state: who is signed in, and whether this device holds their unlocked identity.
import { reactive, readonly } from 'vue'
import { ApiError } from '../api/client'
import { auth, identity as identityApi, slots as slotsApi } from '../api/endpoints'
import type { User } from '../api/types'
import { keyring } from '../crypto'
import * as webauthn from '../webauthn'

export const DEVICE_ID_KEY = 'parchment-device-id'
export const SEED_KEY = 'parchment-identity-seed'
/** sessionStorage flag: an identity reset happened, former friends may need notifying. */
export const AFTER_RESET = 'parchment-after-reset'

export type Status = 'loading' | 'signed-out' | 'needs-setup' | 'locked' | 'unlocked'

interface State {
  status: Status
  user: User | null
  permissions: string[]
  roles: string[]
  handle: string | null
  domain: string | null
  /** Why the device is locked, shown on the unlock screen. */
  lockReason: string | null
  /** PRF output of the passkey used to sign in, kept until it unlocks (or not) the identity. */
  pendingPrf: { credentialId: string; prf: Uint8Array } | null
}

const state = reactive<State>({
  status: 'loading',
  user: null,
  permissions: [],
  roles: [],
  handle: null,
  domain: null,
  lockReason: null,
  pendingPrf: null,
})

export const session = readonly(state)

/** Set when the first contact with the server failed (App.vue offers a retry). */
export const boot = reactive({ error: null as string | null })

export function deviceId(): string {
  let id = localStorage.getItem(DEVICE_ID_KEY)
  if (!id || !/^[a-zA-Z0-9-]{8,64}$/.test(id)) {
    id = crypto.randomUUID()
    localStorage.setItem(DEVICE_ID_KEY, id)
  }
  return id
}

export function can(permission: string): boolean {
  return state.permissions.includes(permission)
}

function clear() {
  keyring.lock()
  state.user = null
  state.permissions = []
  state.roles = []
  state.handle = null
  state.domain = null
  state.pendingPrf = null
}

async function loadIdentity() {
  try {
    const id = await identityApi.get()
    state.handle = id.handle
    state.domain = id.domain
  } catch {
    state.handle = state.user?.alias ? state.user.alias : null
  }
}

/** Unwraps the seed this device keeps (crypto.md §6.1). `secret` may already be on its way. */
async function unlockFromDevice(user: User, secret?: Promise<string | null>): Promise<boolean> {
  const wrapped = localStorage.getItem(SEED_KEY)
  if (!wrapped) return false
  const deviceSecret = await (secret ?? fetchDeviceSecret())
  // Network or session trouble: keep the envelope for the next try.
  if (!deviceSecret) return false
  const ok = await keyring.unlockFromDevice(deviceSecret, deviceId(), wrapped, user.signingKey)
  if (!ok) {
    localStorage.removeItem(SEED_KEY)
    state.lockReason =
      'This device was signed out everywhere or its keys were rotated, so its saved key no longer opens. Unlock with your recovery key or a passkey.'
  }
  return ok
}

function fetchDeviceSecret(): Promise<string | null> {
  return identityApi.wrapSecret(deviceId()).then(
    (r) => r.secret,
    () => null,
  )
}

/** Keeps the unlocked seed on this device, wrapped under the server-held device secret. */
export async function rememberOnDevice(): Promise<void> {
  const { secret } = await identityApi.wrapSecret(deviceId())
  localStorage.setItem(SEED_KEY, keyring.wrapForDevice(secret, deviceId()))
}

async function tryPendingPrf(user: User): Promise<boolean> {
  const pending = state.pendingPrf
  state.pendingPrf = null
  if (!pending || !user.signingKey) return false
  try {
    const { slots } = await slotsApi.list()
    const slot = slots.find((s) => s.credentialId === pending.credentialId)
    if (!slot) return false
    await keyring.unlockWithKeySlot(slot, user.id, pending.prf, user.signingKey)
    slotsApi.markUsed(slot.credentialId).catch(() => {})
    await rememberOnDevice()
    return true
  } catch {
    return false
  }
}

/** Asks the server who we are and settles the status; called on load and after sign-in. */
export async function refresh(): Promise<Status> {
  // Start fetching and compiling the WASM module now if this device holds a key to unwrap.
  if (localStorage.getItem(SEED_KEY)) keyring.ready().catch(() => {})
  let current
  try {
    current = await auth.current()
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) current = null
    else throw e
  }
  if (!current) {
    clear()
    state.status = 'signed-out'
    return state.status
  }
  const user = current.user
  const sameUser = state.user?.id === user.id
  state.user = user
  if (!sameUser) keyring.lock()
  const unlockedAlready = keyring.isUnlocked() && keyring.publicKeys().signingKey === user.signingKey
  // On a reload the device secret, the WASM module and the rest load side by side.
  const secret =
    user.signingKey && !unlockedAlready && localStorage.getItem(SEED_KEY) ? fetchDeviceSecret() : undefined
  const [perms] = await Promise.all([
    auth.permissions().catch(() => ({ roles: [], permissions: [] })),
    loadIdentity(),
    keyring.ready(),
  ])
  state.permissions = perms.permissions
  state.roles = perms.roles
  if (!user.signingKey) {
    keyring.lock()
    state.status = 'needs-setup'
  } else if (unlockedAlready) {
    state.status = 'unlocked'
  } else if ((await unlockFromDevice(user, secret)) || (await tryPendingPrf(user))) {
    state.status = 'unlocked'
    state.lockReason = null
  } else {
    keyring.lock()
    state.status = 'locked'
  }
  if (state.status === 'unlocked') performance.mark('parchment-unlocked')
  return state.status
}

export async function signInWithCode(email: string, code: string) {
  await auth.signInWithCode(email.trim(), code.trim())
  return refresh()
}

export async function signInWithPasskey() {
  const { challengeId, publicKey } = await auth.passkeyAuthOptions()
  const result = await webauthn.getPasskey(publicKey)
  await auth.passkeyAuthVerify(challengeId, result.credential)
  if (result.prf) state.pendingPrf = { credentialId: result.credentialId, prf: result.prf }
  return refresh()
}

export async function unlockWithRecoveryKey(text: string) {
  if (!state.user) throw new Error('Sign in first.')
  await keyring.unlockWithRecoveryKey(text, state.user.signingKey)
  await rememberOnDevice()
  state.lockReason = null
  return refresh()
}

/** Unlock with any passkey that holds a key slot (a local PRF evaluation, nothing sent). */
export async function unlockWithPasskey() {
  const user = state.user
  if (!user?.signingKey) throw new Error('Sign in first.')
  const { slots } = await slotsApi.list()
  if (!slots.length) throw new Error('No passkey holds a key slot for this account yet. Use your recovery key, then enroll a passkey in Settings.')
  const salt = await keyring.prfSalt()
  const challenge = crypto.getRandomValues(new Uint8Array(32))
  const cred = (await navigator.credentials.get({
    publicKey: {
      challenge,
      allowCredentials: slots.map((s) => ({ type: 'public-key' as const, id: fromB64Url(s.credentialId) })),
      userVerification: 'required',
      extensions: { prf: { eval: { first: salt } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null
  if (!cred) throw new Error('No passkey was used.')
  const first = (cred.getClientExtensionResults() as { prf?: { results?: { first?: ArrayBuffer } } }).prf?.results?.first
  if (!first) throw new Error('This passkey does not support the PRF extension.')
  const slot = slots.find((s) => s.credentialId === cred.id)
  if (!slot) throw new Error('That passkey holds no key slot.')
  await keyring.unlockWithKeySlot(slot, user.id, new Uint8Array(first), user.signingKey)
  slotsApi.markUsed(slot.credentialId).catch(() => {})
  await rememberOnDevice()
  state.lockReason = null
  return refresh()
}

function fromB64Url(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4))
  const out = new Uint8Array(b.length)
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i)
  return out
}

/** First run finished: keys uploaded, seed kept on this device. */
export async function completeSetup() {
  await rememberOnDevice()
  return refresh()
}

export function setUser(user: Partial<User>) {
  if (state.user) Object.assign(state.user, user)
}

export function setHandle(handle: string | null) {
  state.handle = handle
}

/** The server says our session is gone: forget it (returns whether we had one). */
export function sessionEnded(): boolean {
  if (state.status === 'signed-out' || state.status === 'loading') return false
  clear()
  state.status = 'signed-out'
  return true
}

export async function signOut() {
  try {
    await auth.signOut()
  } finally {
    clear()
    state.status = 'signed-out'
  }
}

/** Signs out every session and rotates every device secret; this device's saved key stops opening. */
export async function signOutEverywhere() {
  try {
    await auth.signOutAll()
  } finally {
    clear()
    state.status = 'signed-out'
  }
}

/** After the master key changed (rotation, reset), re-read the user and re-wrap for this device. */
export async function identityChanged() {
  if (keyring.isUnlocked()) await rememberOnDevice()
  else localStorage.removeItem(SEED_KEY)
  return refresh()
}
