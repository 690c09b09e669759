// Typed calls, one per server endpoint the app uses (paths as in shared/spec/api.md, "Ours").
import { api } from './client'
import type {
  Blob, BlobInfo, Ceremony, Collection, CommitBody, CurrentSession, FlushResult, Friend, Identity,
  Invitation, KeySlot, PasskeyInfo, PendingRevocation, PermissionInfo, Permissions, Preferences,
  RoleInfo, SessionInfo, SignedIn, User, UserPage,
} from './types'

const enc = encodeURIComponent

export const auth = {
  sendCode: (email: string) => api.post<null>('/auth/verify', { email }),
  signInWithCode: (email: string, token: string) =>
    api.post<SignedIn>('/auth/sessions', { method: 'otp', email, token }),
  /** `null` when signed out (the server answers 204). */
  current: () => api.get<CurrentSession | null>('/auth/sessions/current'),
  permissions: () => api.get<Permissions>('/auth/sessions/current/permissions'),
  sessions: () => api.get<SessionInfo[]>('/auth/sessions'),
  signOut: () => api.del<null>('/auth/sessions'),
  signOutAll: () => api.del<null>('/auth/sessions/all'),
  signOutOthers: (deviceId: string) => api.del<null>(`/auth/sessions/others?deviceId=${enc(deviceId)}`),
  deleteSession: (id: string) => api.del<null>(`/auth/sessions/${enc(id)}`),
  passkeyRegisterOptions: () => api.post<Ceremony>('/auth/passkeys/register/options'),
  passkeyRegisterVerify: (challengeId: string, credential: unknown, name?: string) =>
    api.post<PasskeyInfo>('/auth/passkeys/register/verify', { challengeId, credential, name }),
  passkeyAuthOptions: () => api.post<Ceremony>('/auth/passkeys/authenticate/options'),
  passkeyAuthVerify: (challengeId: string, credential: unknown) =>
    api.post<SignedIn>('/auth/passkeys/authenticate/verify', { challengeId, credential }),
  passkeys: () => api.get<PasskeyInfo[]>('/auth/passkeys'),
  deletePasskey: (id: string) => api.del<null>(`/auth/passkeys/${enc(id)}`),
}

export const users = {
  updateProfile: (patch: { firstName?: string | null; lastName?: string | null }) =>
    api.patch<unknown>('/users/me/profile', patch),
  preferences: () => api.get<Preferences>('/users/me/preferences'),
  setPreferences: (p: Partial<Preferences>) => api.put<Preferences>('/users/me/preferences', p),
  list: (page = 1, limit = 25) => api.get<UserPage>(`/users?page=${page}&limit=${limit}`),
  create: (body: { email: string; firstName?: string; lastName?: string; roles?: string[] }) =>
    api.post<User>('/users', body),
  roles: () => api.get<RoleInfo[]>('/users/roles'),
  permissions: () => api.get<PermissionInfo[]>('/users/permissions'),
}

export const identity = {
  get: () => api.get<Identity>('/users/me/identity'),
  setAlias: (alias: string) => api.patch<{ alias: string; handle: string }>('/users/me/alias', { alias }),
  putKeys: (signingKey: string, encryptionKey: string) =>
    api.put<unknown>('/users/me/keys', { signingKey, encryptionKey }),
  kmVersion: () => api.get<{ kmVersion: number }>('/users/me/km-version'),
  commit: (body: CommitBody) => api.post<{ kmVersion: number }>('/users/me/km-version/commit', body),
  wrapSecret: (deviceId: string) =>
    api.get<{ secret: string }>(`/users/me/devices/${enc(deviceId)}/wrap-secret`),
  /** Sign-out: the server forgets this device's secret; the next GET makes a new one. */
  forgetWrapSecret: (deviceId: string) => api.del<null>(`/users/me/devices/${enc(deviceId)}/wrap-secret`),
  rotateWrapSecrets: () => api.post<unknown>('/users/me/device-wrap-secrets/rotate'),
  reset: () => api.post<unknown>('/users/me/identity/reset', { confirm: 'erase-all-my-data' }),
  pendingRevocations: () => api.get<{ revocations: PendingRevocation[] }>('/users/me/revocations/pending'),
  flushRevocations: (items: { peerHandle: string; signature: string; nonce: string; timestamp: string; messageVersion: number }[]) =>
    api.post<{ results: FlushResult[] }>('/users/me/revocations/flush', { items }),
  discardRevocation: (peerHandle: string) =>
    api.del<unknown>(`/users/me/revocations/pending/${enc(peerHandle)}`),
}

export const blobs = {
  list: () => api.get<{ blobs: BlobInfo[] }>('/users/me/blobs'),
  /** `null` when the blob does not exist (204). */
  get: (type: string) => api.get<Blob | null>(`/users/me/blobs/${enc(type)}`),
  put: (type: string, encryptedBlob: string, kmVersion: number) =>
    api.put<unknown>(`/users/me/blobs/${enc(type)}`, { encryptedBlob, kmVersion }),
  del: (type: string) => api.del<unknown>(`/users/me/blobs/${enc(type)}`),
}

export const slots = {
  list: () => api.get<{ slots: KeySlot[] }>('/users/me/wrapped-keys'),
  put: (slot: KeySlot) => api.post<unknown>('/users/me/wrapped-keys', slot),
  del: (credentialId: string) => api.del<unknown>(`/users/me/wrapped-keys/${enc(credentialId)}`),
  markUsed: (credentialId: string) => api.post<unknown>(`/users/me/wrapped-keys/${enc(credentialId)}/used`),
}

export const collections = {
  list: async (): Promise<Collection[]> => {
    const r = await api.get<Collection[] | { collections: Collection[] }>('/library/collections')
    return Array.isArray(r) ? r : (r?.collections ?? [])
  },
}

export interface SignedAction { signature: string; nonce: string; timestamp: string }

export const friends = {
  list: () => api.get<{ friends: Friend[] }>('/friends'),
  invitations: (direction: 'incoming' | 'outgoing') =>
    api.get<{ invitations: Invitation[] }>(`/friends/invitations?direction=${direction}`),
  resolve: (handle: string) => api.get<Friend>(`/friends/resolve/${enc(handle)}`),
  invite: (handle: string, s: SignedAction) => api.post<{ invitation: Invitation }>('/friends/invite', { handle, ...s }),
  accept: (id: string, s: SignedAction) => api.post<unknown>(`/friends/invitations/${enc(id)}/accept`, s),
  reject: (id: string, s: SignedAction) => api.post<unknown>(`/friends/invitations/${enc(id)}/reject`, s),
  cancel: (id: string) => api.del<unknown>(`/friends/invitations/${enc(id)}`),
  remove: (handle: string, s: SignedAction) => api.del<unknown>(`/friends/${enc(handle)}`, s),
}
