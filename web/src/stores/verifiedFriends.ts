// Friends the user verified, pinned in this browser (localStorage, one entry per account of this
// browser, kept across sign-outs like keyHistory): exactly the keys that were compared (handle,
// signing key, encryption key) and the version 2 safety number both screens showed.
//
// The server only relays keys. A verified friend whose keys, as the server now serves them,
// differ from the pinned ones is `changed`: the friends screen warns until the user compares the
// new number and marks the friend verified again, or deliberately drops the verification. Keys
// of a friend nobody verified are taken as served (`unverified`), as before.

import { ref } from 'vue'

/** Handles compare case-insensitively (as friends.ts `sameHandle` and the server do). */
const sameHandle = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

export const VERIFIED_PREFIX = 'parchment-verified-friends:'

/** What was verified: the friend's handle and keys, and the number compared. */
export interface VerifiedPin {
  handle: string
  signingKey: string
  encryptionKey: string
  /** The version 2 safety number both screens showed (60 digits, grouped). */
  safetyNumber: string
  /** When (epoch ms). */
  verifiedAt: number
}

/** The keys the server serves for a friend now. */
export interface ServedKeys {
  handle: string
  signingKey: string
  encryptionKey?: string | null
}

export type Verification =
  | { state: 'unverified' }
  | { state: 'verified'; pin: VerifiedPin }
  | { state: 'changed'; pin: VerifiedPin; changed: ('signingKey' | 'encryptionKey')[] }

/** Bumped on every write here and in other tabs: what makes `verificationOf` reactive. */
const revision = ref(0)
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key === null || e.key.startsWith(VERIFIED_PREFIX)) revision.value++
  })
}

function storageKey(userId: string) {
  return `${VERIFIED_PREFIX}${userId}`
}

function isPin(v: unknown): v is VerifiedPin {
  const p = v as Partial<VerifiedPin> | null
  return !!p && typeof p.handle === 'string' && typeof p.signingKey === 'string' && typeof p.encryptionKey === 'string' && typeof p.safetyNumber === 'string' && typeof p.verifiedAt === 'number'
}

/** Every pin of the account, by lower-cased handle. An unreadable entry reads as no pins. */
function readAll(userId: string): Record<string, VerifiedPin> {
  const text = localStorage.getItem(storageKey(userId))
  if (!text) return {}
  try {
    const v = JSON.parse(text) as Record<string, unknown>
    const out: Record<string, VerifiedPin> = {}
    for (const [k, p] of Object.entries(v ?? {})) if (isPin(p)) out[k] = p
    return out
  } catch {
    return {}
  }
}

function writeAll(userId: string, pins: Record<string, VerifiedPin>) {
  localStorage.setItem(storageKey(userId), JSON.stringify(pins))
  revision.value++
}

export function pinOf(userId: string, handle: string): VerifiedPin | null {
  void revision.value
  const pins = readAll(userId)
  return pins[handle.toLowerCase()] ?? Object.values(pins).find((p) => sameHandle(p.handle, handle)) ?? null
}

/** How the keys the server serves for a friend stand against what the user verified. */
export function verificationOf(userId: string | undefined, friend: ServedKeys): Verification {
  if (!userId) return { state: 'unverified' }
  const pin = pinOf(userId, friend.handle)
  if (!pin) return { state: 'unverified' }
  const changed: ('signingKey' | 'encryptionKey')[] = []
  if (friend.signingKey !== pin.signingKey) changed.push('signingKey')
  if ((friend.encryptionKey ?? null) !== pin.encryptionKey) changed.push('encryptionKey')
  return changed.length ? { state: 'changed', pin, changed } : { state: 'verified', pin }
}

/** Pins exactly these keys as verified (replacing an earlier pin of the same handle). */
export function markVerified(userId: string, pin: Omit<VerifiedPin, 'verifiedAt'>, now = Date.now()) {
  const pins = readAll(userId)
  for (const k of Object.keys(pins)) if (sameHandle(pins[k].handle, pin.handle)) delete pins[k]
  pins[pin.handle.toLowerCase()] = { ...pin, verifiedAt: now }
  writeAll(userId, pins)
}

/** Drops the verification of a friend (the user said so): the friend is `unverified` again. */
export function forgetVerification(userId: string, handle: string) {
  const pins = readAll(userId)
  for (const k of Object.keys(pins)) if (sameHandle(pins[k].handle, handle)) delete pins[k]
  writeAll(userId, pins)
}
