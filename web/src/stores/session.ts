// App state: who is signed in, and whether this device holds their unlocked identity.
import { reactive, readonly } from 'vue'
import { ApiError } from '../api/client'
import { auth, identity as identityApi, slots as slotsApi } from '../api/endpoints'
import type { User } from '../api/types'
import { keyring } from '../crypto'
import { t } from '../i18n'
import * as webauthn from '../webauthn'
import * as keyHistory from './keyHistory'
import { forgetPreferences, loadPreferences } from './preferences'

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
  /** Set when the server serves an older key than this browser saw (keyHistory): nothing unlocks. */
  keyRollback: string | null
  /** The rollback is a key version that went down, as after starting over on another device. */
  keyRestartOffered: boolean
}

const state = reactive<State>({
  status: 'loading',
  user: null,
  permissions: [],
  roles: [],
  handle: null,
  domain: null,
  lockReason: null,
  keyRollback: null,
  keyRestartOffered: false,
})

/**
 * PRF output of the passkey used to sign in, until `refresh()` tries it on that passkey's key
 * slot. Deliberately not in the reactive state; zeroed by `signInWithPasskey` after use.
 */
let pendingPrf: { credentialId: string; prf: Uint8Array } | null = null

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
  state.keyRollback = null
  state.keyRestartOffered = false
  pendingPrf?.prf.fill(0)
  pendingPrf = null
  forgetPreferences()
}

async function loadIdentity() {
  try {
    const id = await identityApi.get()
    state.handle = id.handle ?? null
    state.domain = id.domain
  } catch {
    state.handle = state.user?.alias ? state.user.alias : null
  }
}

const keptForNextTry = () => t('session.keptForNextTry')

/** Unwraps the seed this device keeps (crypto.md §6.1). `secret` may already be on its way. */
async function unlockFromDevice(user: User, secret?: Promise<string | null>): Promise<boolean> {
  const wrapped = localStorage.getItem(SEED_KEY)
  if (!wrapped) return false
  const deviceSecret = await (secret ?? fetchDeviceSecret())
  // Network or session trouble: keep the envelope for the next try.
  if (!deviceSecret) {
    state.lockReason = keptForNextTry()
    return false
  }
  const outcome = await keyring.unlockFromDevice(deviceSecret, deviceId(), wrapped, user.signingKey ?? null)
  if (outcome === 'wrong-secret' || outcome === 'not-current-key') {
    // The envelope can never open again (secret forgotten or rotated, or a replaced key): drop it.
    localStorage.removeItem(SEED_KEY)
    state.lockReason = t('session.savedKeyGone')
  } else if (outcome === 'unreadable') {
    state.lockReason = keptForNextTry()
  }
  return outcome === 'unlocked'
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
  const pending = pendingPrf
  pendingPrf = null
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
  // An older key than this browser saw is never adopted, whatever would open it.
  state.keyRollback = user.signingKey ? keyHistory.rollbackOf(user.id, user.signingKey, user.kmVersion) : null
  state.keyRestartOffered = !!user.signingKey && !!state.keyRollback && keyHistory.isVersionRestart(user.id, user.signingKey, user.kmVersion)
  if (state.keyRollback) keyring.lock()
  const unlockedAlready = keyring.isUnlocked() && keyring.publicKeys().signingKey === user.signingKey
  // On a reload the device secret, the WASM module and the rest load side by side.
  const secret =
    user.signingKey && !state.keyRollback && !unlockedAlready && localStorage.getItem(SEED_KEY) ? fetchDeviceSecret() : undefined
  const [perms] = await Promise.all([
    auth.permissions().catch(() => ({ roles: [], permissions: [] })),
    loadIdentity(),
    keyring.ready(),
    // The user's language, before anything of theirs is shown.
    loadPreferences(),
  ])
  state.permissions = perms.permissions
  state.roles = perms.roles
  // Said again now that the user's language is known.
  if (state.keyRollback && user.signingKey) state.keyRollback = keyHistory.rollbackOf(user.id, user.signingKey, user.kmVersion)
  if (!user.signingKey) {
    keyring.lock()
    state.status = 'needs-setup'
  } else if (state.keyRollback) {
    state.lockReason = state.keyRollback
    state.status = 'locked'
  } else if (unlockedAlready) {
    state.status = 'unlocked'
  } else if ((await unlockFromDevice(user, secret)) || (await tryPendingPrf(user))) {
    state.status = 'unlocked'
    state.lockReason = null
  } else {
    keyring.lock()
    state.status = 'locked'
  }
  if (state.status === 'unlocked' && user.signingKey) {
    keyHistory.adopt(user.id, user.signingKey, user.kmVersion)
    performance.mark('parchment-unlocked')
  }
  return state.status
}

export async function signInWithCode(email: string, code: string) {
  await auth.signInWithCode(email.trim(), code.trim())
  return refresh()
}

export async function signInWithPasskey() {
  const { challengeId, publicKey } = await auth.passkeyAuthOptions()
  const result = await webauthn.getPasskey(publicKey, await keyring.prfSalt())
  try {
    await auth.passkeyAuthVerify(challengeId, result.credential)
    if (result.prf) pendingPrf = { credentialId: result.credentialId, prf: result.prf }
    return await refresh()
  } finally {
    result.prf?.fill(0)
    pendingPrf = null
  }
}

export async function unlockWithRecoveryKey(text: string) {
  if (!state.user) throw new Error(t('errors.signInFirst'))
  if (state.keyRollback) throw new Error(state.keyRollback)
  await keyring.unlockWithRecoveryKey(text, state.user.signingKey ?? null)
  await rememberOnDevice()
  state.lockReason = null
  return refresh()
}

/**
 * Unlock with the seed another device of this account sealed to this one (device transfer
 * v2): it must be signed by, and derive, the signing key the server publishes for the account.
 */
export async function unlockWithTransfer(sessionId: string, senderEphemeralPub: string, sealed: { sealedSeed: string; senderSignature: string }) {
  const signingKey = state.user?.signingKey
  if (!signingKey) throw new Error(t('errors.signInFirst'))
  if (state.keyRollback) throw new Error(state.keyRollback)
  keyring.finishReceiving(sessionId, senderEphemeralPub, sealed, signingKey)
  await rememberOnDevice()
  state.lockReason = null
  return refresh()
}

/** Unlock with any passkey that holds a key slot (a local PRF evaluation, nothing sent). */
export async function unlockWithPasskey() {
  const user = state.user
  if (!user?.signingKey) throw new Error(t('errors.signInFirst'))
  if (state.keyRollback) throw new Error(state.keyRollback)
  const { slots } = await slotsApi.list()
  if (!slots.length) throw new Error(t('errors.noKeySlotYet'))
  const { credentialId, prf } = await webauthn.evaluatePrf(slots.map((s) => s.credentialId), await keyring.prfSalt())
  try {
    const slot = slots.find((s) => s.credentialId === credentialId)
    if (!slot) throw new Error(t('errors.passkeyHoldsNoSlot'))
    await keyring.unlockWithKeySlot(slot, user.id, prf, user.signingKey)
    slotsApi.markUsed(slot.credentialId).catch(() => {})
  } finally {
    prf.fill(0)
  }
  await rememberOnDevice()
  state.lockReason = null
  return refresh()
}

/** The owner confirms they started over on another device: key versions count from 1 again. */
export async function acceptKeyRestart() {
  if (!state.user || !state.keyRestartOffered) return state.status
  keyHistory.allowRestart(state.user.id)
  state.lockReason = null
  return refresh()
}

/**
 * Re-authentication before a secret is shown again, with an emailed code (`auth.sendCode`
 * first). The sign-in makes a new session; the one it replaces is ended.
 */
export async function confirmOwnerWithCode(code: string) {
  const user = state.user
  if (!user) throw new Error(t('errors.signInFirst'))
  const replaced = (await auth.sessions()).find((s) => s.current)?.id
  const signedIn = await auth.signInWithCode(user.email, code.trim())
  if (signedIn.user.id !== user.id) throw new Error(t('errors.codeForAnotherAccount'))
  if (replaced) await auth.deleteSession(replaced).catch(() => {})
}

/** Re-authentication with a passkey whose key slot opens to the unlocked identity (local, nothing sent). */
export async function confirmOwnerWithPasskey() {
  const user = state.user
  if (!user) throw new Error(t('errors.signInFirst'))
  const { slots } = await slotsApi.list()
  if (!slots.length) throw new Error(t('errors.noKeySlotConfirmWithCode'))
  const { credentialId, prf } = await webauthn.evaluatePrf(slots.map((s) => s.credentialId), await keyring.prfSalt())
  try {
    const slot = slots.find((s) => s.credentialId === credentialId)
    if (!slot || !(await keyring.keySlotOpensToCurrent(slot, user.id, prf))) throw new Error(t('errors.passkeyNotCurrent'))
  } finally {
    prf.fill(0)
  }
}

/** First run finished: keys made here and uploaded, seed kept on this device. */
export async function completeSetup() {
  // A new seed made on this device: its key version starts at 1 whatever came before.
  if (state.user) keyHistory.allowRestart(state.user.id)
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

/**
 * Signs out this session. The seed cached here goes with it: the envelope is deleted and the
 * server forgets this device's wrap secret, so a later session in this browser (an emailed code
 * is enough for one) cannot open a copy of it either.
 */
export async function signOut() {
  localStorage.removeItem(SEED_KEY)
  try {
    await identityApi.forgetWrapSecret(deviceId()).catch(() => {})
    await auth.signOut()
  } finally {
    clear()
    state.status = 'signed-out'
  }
}

/** Signs out every session and rotates every device secret; this device's saved key stops opening. */
export async function signOutEverywhere() {
  localStorage.removeItem(SEED_KEY)
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
