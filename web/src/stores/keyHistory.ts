// The signing keys and key version this browser has seen for each account (localStorage, kept
// across sign-outs). The server says which signing key is current; this is how the client
// notices a server that re-serves an older one (with the key slots sealed for it) to make the
// device re-adopt a seed the owner rotated away from.
//
// Refused: a key this browser saw replaced (at any version), a lower key version than the last
// one seen, and another key at the same version (a rotation always raises the version). A key
// version that restarts after the owner started over on another device is accepted only when
// the owner says so (`allowRestart`); the replaced keys stay refused even then.

import { t } from '../i18n'

export const KEY_HISTORY_PREFIX = 'parchment-key-history:'

interface KeyHistory {
  /** The last key version seen with an unlocked identity (0 after a restart). */
  kmVersion: number
  /** The signing key of that version (null after a restart). */
  signingKey: string | null
  /** Every signing key this browser saw replaced. */
  retired: string[]
}

function storageKey(userId: string) {
  return `${KEY_HISTORY_PREFIX}${userId}`
}

function read(userId: string): KeyHistory | null {
  const text = localStorage.getItem(storageKey(userId))
  if (!text) return null
  try {
    const v = JSON.parse(text) as Partial<KeyHistory>
    if (typeof v.kmVersion !== 'number' || !Array.isArray(v.retired)) return null
    return { kmVersion: v.kmVersion, signingKey: typeof v.signingKey === 'string' ? v.signingKey : null, retired: v.retired.filter((k) => typeof k === 'string') }
  } catch {
    return null
  }
}

function write(userId: string, h: KeyHistory) {
  localStorage.setItem(storageKey(userId), JSON.stringify(h))
}

/** Why the key the server serves must not be adopted, or null when it may be. */
export function rollbackOf(userId: string, signingKey: string, kmVersion: number): string | null {
  const h = read(userId)
  if (!h) return null
  if (h.retired.includes(signingKey)) {
    return t('keys.rollback.replaced')
  }
  if (kmVersion < h.kmVersion) {
    return t('keys.rollback.older', { version: kmVersion, seen: h.kmVersion })
  }
  if (kmVersion === h.kmVersion && h.signingKey !== null && signingKey !== h.signingKey) {
    return t('keys.rollback.different', { version: kmVersion })
  }
  return null
}

/** Whether the refusal is a key version that went down (what starting over elsewhere looks like). */
export function isVersionRestart(userId: string, signingKey: string, kmVersion: number): boolean {
  const h = read(userId)
  return !!h && !h.retired.includes(signingKey) && kmVersion < h.kmVersion
}

/** This browser holds the identity of `signingKey` at `kmVersion`: remember it (and retire the one before). */
export function adopt(userId: string, signingKey: string, kmVersion: number) {
  const h = read(userId) ?? { kmVersion: 0, signingKey: null, retired: [] }
  const retired = h.signingKey && h.signingKey !== signingKey && !h.retired.includes(h.signingKey) ? [...h.retired, h.signingKey] : h.retired
  write(userId, { kmVersion, signingKey, retired })
}

/** The owner started over (here, or on another device and confirmed here): versions count from 1 again. */
export function allowRestart(userId: string) {
  const h = read(userId)
  if (!h) return
  const retired = h.signingKey && !h.retired.includes(h.signingKey) ? [...h.retired, h.signingKey] : h.retired
  write(userId, { kmVersion: 0, signingKey: null, retired })
}
