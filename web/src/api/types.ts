// Shapes of the server's JSON (camelCase), per shared/spec/api.md and the server's OpenAPI.

export interface User {
  id: string
  email: string
  firstName: string | null
  lastName: string | null
  picture: string | null
  alias: string | null
  signingKey: string | null
  encryptionKey: string | null
  kmVersion: number
  onboardingCompletedAt: string | null
  createdAt: string
  updatedAt: string
}

export interface SignedIn { token: string; user: User }
export interface CurrentSession { user: User }
export interface Permissions { roles: string[]; permissions: string[] }
export interface SessionInfo { id: string; createdAt: string; expiresAt: string; userAgent: string | null; current: boolean }
export interface Ceremony { challengeId: string; publicKey: Record<string, unknown> }
export interface PasskeyInfo { id: string; name: string; createdAt: string; lastUsedAt: string | null }
export interface Preferences { language: string; unitSystem: 'metric' | 'imperial' }

export interface Identity {
  handle: string | null
  signingKey: string | null
  encryptionKey: string | null
  domain: string
  kmVersion?: number
}

export interface BlobInfo { blobType: string; kmVersion: number }
export interface Blob { blobType?: string; encryptedBlob: string; nonce?: string; kmVersion?: number }

export interface KeySlot { credentialId: string; wrappedKm: string; wrapAlgo: string; slotSignature: string; createdAt?: string; lastUsedAt?: string | null }
export interface Collection { id: string; metadataEncrypted: string | null; metadataKeyVersion?: number }

export interface CommitBody {
  expectedCurrent: number
  /** Required once the account has keys: the current key's `signKeyChange`. */
  currentKeySignature?: string
  signingKey: string
  encryptionKey: string
  blobs: { blobType: string; encryptedBlob: string }[]
  collections: { id: string; metadataEncrypted: string }[]
  slots: KeySlot[]
}

export interface RoleInfo { id: string; name: string; description: string; isDefault: boolean }
export interface PermissionInfo { id: string; name: string }
export interface UserSummary {
  id: string
  email: string
  firstName: string | null
  lastName: string | null
  alias: string | null
  createdAt: string
  roles: { id: string; name: string }[]
  sessionCount: number
}
export interface UserPage { data: UserSummary[]; total: number; page: number; limit: number }

export interface Friend {
  handle: string
  signingKey?: string | null
  encryptionKey?: string | null
  name?: string | null
  createdAt?: string
}
export interface Invitation {
  id: string
  fromHandle: string
  toHandle: string
  direction?: 'incoming' | 'outgoing'
  status?: string
  createdAt?: string
  signingKey?: string | null
}
export interface PendingRevocation { id: string; peerHandle: string; createdAt: string }
export interface FlushResult { peerHandle: string; delivered: boolean; error?: string }
