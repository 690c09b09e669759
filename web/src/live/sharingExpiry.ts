// How long live location sharing with a friend lasts: the choices the friends screen offers and
// the instant each one means. The server keeps the instant; both sides stop at it unprompted.
import { d, t } from '../i18n'

export type SharingChoice = 'hour' | 'tonight' | 'always'

// Labels are getters: read in the language of the moment.
export const SHARING_CHOICES: { value: SharingChoice; readonly label: string }[] = [
  { value: 'hour', get label() { return t('sharing.choice.hour') } },
  { value: 'tonight', get label() { return t('sharing.choice.tonight') } },
  { value: 'always', get label() { return t('sharing.choice.always') } },
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
  if (!expiresAt) return t('sharing.until.off')
  const at = new Date(expiresAt)
  const time = d(at, 'time')
  const sameDay = at.toDateString() === now.toDateString()
  if (sameDay) return t('sharing.until.time', { time })
  const tomorrow = new Date(now)
  tomorrow.setDate(tomorrow.getDate() + 1)
  if (at.toDateString() === tomorrow.toDateString()) return t('sharing.until.tomorrow', { time })
  return t('sharing.until.date', { date: d(at, 'date'), time })
}
