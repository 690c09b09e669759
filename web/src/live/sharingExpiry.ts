// How long live location sharing with a friend lasts: the choices the friends screen offers and
// the instant each one means. The server keeps the instant; both sides stop at it unprompted.

export type SharingChoice = 'hour' | 'tonight' | 'always'

export const SHARING_CHOICES: { value: SharingChoice; label: string }[] = [
  { value: 'hour', label: 'for 1 hour' },
  { value: 'tonight', label: 'until tonight' },
  { value: 'always', label: 'until I turn it off' },
]

/** The expiry instant (ISO) for a choice, or `null` for no expiry. "Tonight" is 23:59:59 local time. */
export function expiryFor(choice: SharingChoice, now: Date = new Date()): string | null {
  if (choice === 'always') return null
  if (choice === 'hour') return new Date(now.getTime() + 60 * 60_000).toISOString()
  const tonight = new Date(now)
  tonight.setHours(23, 59, 59, 0)
  // In the last second of the day "tonight" has passed: the server refuses a past expiry.
  if (tonight.getTime() <= now.getTime()) tonight.setDate(tonight.getDate() + 1)
  return tonight.toISOString()
}

/** "until 14:05", "until tomorrow 09:00", or "until you turn it off". */
export function describeExpiry(expiresAt: string | null, now: Date = new Date()): string {
  if (!expiresAt) return 'until you turn it off'
  const at = new Date(expiresAt)
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  const sameDay = at.toDateString() === now.toDateString()
  if (sameDay) return `until ${time}`
  const tomorrow = new Date(now)
  tomorrow.setDate(tomorrow.getDate() + 1)
  if (at.toDateString() === tomorrow.toDateString()) return `until tomorrow ${time}`
  return `until ${at.toLocaleDateString()} ${time}`
}
