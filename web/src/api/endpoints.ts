// Typed calls, one per server endpoint the app uses. Paths, parameters, bodies and answers are
// checked by the compiler against schema.d.ts (generated from the server's OpenAPI document).
import { call, callBody, http } from './client'
import type { CommitBody, Direction, FlushItem, FriendMessage, KeySlot, NewUser, PreferencesUpdate, ProfilePatch, SignedAction } from './types'

export type { FriendMessage, SignedAction } from './types'

/** The operator's settings the app needs before sign-in (no session required). */
export const config = {
  get: () => callBody(http.GET('/config')),
}

export const auth = {
  sendCode: (email: string) => call(http.POST('/auth/verify', { body: { email } })),
  signInWithCode: (email: string, token: string) =>
    callBody(http.POST('/auth/sessions', { body: { method: 'otp', email, token } })),
  /** `null` when signed out (the server answers 204). */
  current: () => call(http.GET('/auth/sessions/current')),
  permissions: () => callBody(http.GET('/auth/sessions/current/permissions')),
  sessions: () => callBody(http.GET('/auth/sessions')),
  signOut: () => call(http.DELETE('/auth/sessions')),
  signOutAll: () => call(http.DELETE('/auth/sessions/all')),
  signOutOthers: (deviceId: string) => call(http.DELETE('/auth/sessions/others', { params: { query: { deviceId } } })),
  deleteSession: (sessionId: string) => call(http.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId } } })),
  passkeyRegisterOptions: () => callBody(http.POST('/auth/passkeys/register/options')),
  passkeyRegisterVerify: (challengeId: string, credential: unknown, name?: string) =>
    callBody(http.POST('/auth/passkeys/register/verify', { body: { challengeId, credential, name } })),
  passkeyAuthOptions: () => callBody(http.POST('/auth/passkeys/authenticate/options')),
  passkeyAuthVerify: (challengeId: string, credential: unknown) =>
    callBody(http.POST('/auth/passkeys/authenticate/verify', { body: { challengeId, credential } })),
  passkeys: () => callBody(http.GET('/auth/passkeys')),
  deletePasskey: (id: string) => call(http.DELETE('/auth/passkeys/{id}', { params: { path: { id } } })),
}

export const users = {
  updateProfile: (patch: ProfilePatch) => callBody(http.PATCH('/users/me/profile', { body: patch })),
  preferences: () => callBody(http.GET('/users/me/preferences')),
  setPreferences: (p: PreferencesUpdate) => callBody(http.PUT('/users/me/preferences', { body: p })),
  list: (page = 1, limit = 25) => callBody(http.GET('/users', { params: { query: { page, limit } } })),
  create: (body: NewUser) => callBody(http.POST('/users', { body })),
  roles: () => callBody(http.GET('/users/roles')),
  permissions: () => callBody(http.GET('/users/permissions')),
}

export const identity = {
  get: () => callBody(http.GET('/users/me/identity')),
  setAlias: (alias: string) => callBody(http.PATCH('/users/me/alias', { body: { alias } })),
  putKeys: (signingKey: string, encryptionKey: string) =>
    callBody(http.PUT('/users/me/keys', { body: { signingKey, encryptionKey } })),
  kmVersion: () => callBody(http.GET('/users/me/km-version')),
  commit: (body: CommitBody) => callBody(http.POST('/users/me/km-version/commit', { body })),
  wrapSecret: (deviceId: string) =>
    callBody(http.GET('/users/me/devices/{deviceId}/wrap-secret', { params: { path: { deviceId } } })),
  /** Sign-out: the server forgets this device's secret; the next GET makes a new one. */
  forgetWrapSecret: (deviceId: string) =>
    call(http.DELETE('/users/me/devices/{deviceId}/wrap-secret', { params: { path: { deviceId } } })),
  rotateWrapSecrets: () => callBody(http.POST('/users/me/device-wrap-secrets/rotate')),
  reset: () => callBody(http.POST('/users/me/identity/reset', { body: { confirm: 'erase-all-my-data' } })),
  pendingRevocations: () => callBody(http.GET('/users/me/revocations/pending')),
  flushRevocations: (items: FlushItem[]) => callBody(http.POST('/users/me/revocations/flush', { body: { items } })),
  discardRevocation: (peerHandle: string) =>
    callBody(http.DELETE('/users/me/revocations/pending/{peerHandle}', { params: { path: { peerHandle } } })),
}

export const blobs = {
  list: () => callBody(http.GET('/users/me/blobs')),
  /** `null` when the blob does not exist (204). */
  get: (type: string) => call(http.GET('/users/me/blobs/{type}', { params: { path: { type } } })),
  put: (type: string, encryptedBlob: string, kmVersion: number) =>
    callBody(http.PUT('/users/me/blobs/{type}', { params: { path: { type } }, body: { encryptedBlob, kmVersion } })),
  del: (type: string) => call(http.DELETE('/users/me/blobs/{type}', { params: { path: { type } } })),
}

export const slots = {
  list: () => callBody(http.GET('/users/me/wrapped-keys')),
  put: (slot: KeySlot) => {
    const { credentialId, wrappedKm, wrapAlgo, slotSignature } = slot
    return callBody(http.POST('/users/me/wrapped-keys', { body: { credentialId, wrappedKm, wrapAlgo, slotSignature } }))
  },
  del: (credentialId: string) =>
    call(http.DELETE('/users/me/wrapped-keys/{credentialId}', { params: { path: { credentialId } } })),
  markUsed: (credentialId: string) =>
    call(http.POST('/users/me/wrapped-keys/{credentialId}/used', { params: { path: { credentialId } } })),
}

export const collections = {
  list: async () => (await callBody(http.GET('/library/collections'))).collections,
  create: async () => (await callBody(http.POST('/library/collections', { body: {} }))).id,
  remove: (id: string) => call(http.DELETE('/library/collections/{id}', { params: { path: { id } } })),
  /** New content sealed under key `keyVersion` and my sealed state; refused (409) unless the collection is still at `revision`. */
  writeContent: async (id: string, contentEncrypted: string, keyVersion: number, revision: number, ownerEncrypted: string) =>
    (await callBody(http.PUT('/library/collections/{id}/content', { params: { path: { id } }, body: { contentEncrypted, keyVersion, revision, ownerEncrypted } }))).revision,
  share: async (id: string, handle: string, role: 'viewer' | 'editor') =>
    (await callBody(http.PUT('/library/collections/{id}/shares/{handle}', { params: { path: { id, handle } }, body: { role } }))).revision,
  unshare: async (id: string, handle: string) =>
    (await callBody(http.DELETE('/library/collections/{id}/shares/{handle}', { params: { path: { id, handle } } }))).revision,
}

export const friends = {
  list: () => callBody(http.GET('/friends')),
  invitations: (direction: Direction) => callBody(http.GET('/friends/invitations', { params: { query: { direction } } })),
  resolve: (handle: string) => callBody(http.GET('/friends/resolve/{handle}', { params: { path: { handle } } })),
  invite: (handle: string, s: SignedAction) => callBody(http.POST('/friends/invite', { body: { handle, ...s } })),
  accept: (id: string, s: SignedAction) =>
    callBody(http.POST('/friends/invitations/{id}/accept', { params: { path: { id } }, body: s })),
  reject: (id: string, s: SignedAction) =>
    callBody(http.POST('/friends/invitations/{id}/reject', { params: { path: { id } }, body: s })),
  cancel: (id: string) => callBody(http.DELETE('/friends/invitations/{id}', { params: { path: { id } } })),
  remove: (handle: string, s: SignedAction) =>
    callBody(http.DELETE('/friends/{handle}', { params: { path: { handle } }, body: s })),
  /** LOCATION_UPDATE, LOCATION_REQUEST…: the payload exactly as signed, queued for the friend. */
  send: (handle: string, message: FriendMessage) =>
    callBody(http.POST('/friends/{handle}/messages', { params: { path: { handle } }, body: message })),
}

export const locationSharing = {
  /** The friends who currently see my live location (expired settings are not listed). */
  list: () => callBody(http.GET('/friends/location-sharing')),
  /** On, or a new expiry; `null` shares until turned off. */
  start: (handle: string, expiresAt: string | null) =>
    callBody(http.PUT('/friends/{handle}/location-sharing', { params: { path: { handle } }, body: { expiresAt } })),
  /** Off; the signed `LOCATION_UPDATE {"stopped": true}` tells the friend's server at once. */
  stop: (handle: string, s: SignedAction) =>
    callBody(http.DELETE('/friends/{handle}/location-sharing', { params: { path: { handle } }, body: s })),
  /** The newest position of each friend sharing with me, still sealed. */
  friendsLocations: () => callBody(http.GET('/friends/locations')),
}

/** Moving the identity to a new device of the same user (`/device-transfer*`, commit-before-reveal). */
export const deviceTransfer = {
  create: (receiverCommitment: string) => callBody(http.POST('/device-transfer', { body: { receiverCommitment } })),
  get: (id: string) => callBody(http.GET('/device-transfer/{id}', { params: { path: { id } } })),
  join: (id: string, senderEphemeralPub: string) =>
    callBody(http.POST('/device-transfer/{id}/sender', { params: { path: { id } }, body: { senderEphemeralPub } })),
  reveal: (id: string, receiverEphemeralPub: string) =>
    callBody(http.POST('/device-transfer/{id}/reveal', { params: { path: { id } }, body: { receiverEphemeralPub } })),
  upload: (id: string, sealedSeed: string, senderSignature: string) =>
    callBody(http.POST('/device-transfer/{id}/upload', { params: { path: { id } }, body: { sealedSeed, senderSignature } })),
  remove: (id: string) => call(http.DELETE('/device-transfer/{id}', { params: { path: { id } } })),
}

/** What friends shared with me (`/sharing/incoming*`): pending until I accept; declining deletes it. */
export const sharing = {
  incoming: () => callBody(http.GET('/sharing/incoming')),
  accept: (shareId: string) => callBody(http.POST('/sharing/incoming/{shareId}/accept', { params: { path: { shareId } } })),
  reject: (shareId: string) => callBody(http.POST('/sharing/incoming/{shareId}/reject', { params: { path: { shareId } } })),
  remove: (shareId: string) => callBody(http.DELETE('/sharing/incoming/{shareId}', { params: { path: { shareId } } })),
}
