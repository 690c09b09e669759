// Whom a position goes to, decided from plain data (the stores' contents) so it can be tested
// on its own: the friends who get live updates, and the end of a one-off answer to a request.

/** A sharing setting as the server lists it. */
export interface SharingSetting {
  handle: string
  expiresAt?: string | null
}

/** A friend as the friends list has them. */
export interface KnownFriend {
  handle: string
  encryptionKey?: string | null
  signingKey?: string
}

/**
 * How long a "Share once" answer stays visible to the friend who asked. The server takes such
 * an answer (sent while sharing with them is off) only with an end within the hour.
 */
export const SHARE_ONCE_MS = 15 * 60_000

/** The `expiresAt` of a "Share once" answer sent at `now` (ISO, milliseconds, Z). */
export function answerExpiry(now: number): string {
  return new Date(now + SHARE_ONCE_MS).toISOString()
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** When a share ends, in epoch ms: `Infinity` for one that lasts until turned off. */
function endOf(expiresAt: string | null | undefined): number {
  return expiresAt ? Date.parse(expiresAt) : Infinity
}

/**
 * How saving a share that was on again changed its end (`before` → `after`, ISO or none):
 * `changed` when it ends at another instant (the friend's server still holds my last position
 * with the old end, and would show it until then), `shortened` when it now ends sooner.
 */
export function expiryChange(before: string | null | undefined, after: string | null | undefined): { changed: boolean; shortened: boolean } {
  const was = endOf(before)
  const now = endOf(after)
  return { changed: was !== now, shortened: now < was }
}

/**
 * The handles that get live updates: the current settings (unexpired) for friends the
 * friends list holds. `friends` is `null` while that list has not loaded: after a reload the
 * settings may arrive first, and without the friend's key there is nothing to seal for them,
 * so nobody is sent anything until it has. A setting for a friend the list does not hold yet
 * (just added elsewhere) waits for the list's next load. A friend who is listed without an
 * encryption key is kept: that is a real problem for the user to see. A friend for whom `paused`
 * holds (one the user verified whose keys the server now serves differently: the served
 * encryption key may be an attacker's) gets nothing until the user verifies them again or
 * drops the verification.
 */
export function liveTargets(
  settings: readonly SharingSetting[],
  friends: readonly KnownFriend[] | null,
  now: number,
  paused: (friend: KnownFriend) => boolean = () => false,
): string[] {
  if (!friends) return []
  return settings
    .filter((s) => !(s.expiresAt && Date.parse(s.expiresAt) <= now))
    .filter((s) => friends.some((f) => same(f.handle, s.handle) && !paused(f)))
    .map((s) => s.handle)
}
