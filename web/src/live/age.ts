// "Age of the fix" as people say it: how long ago a friend's position was sent.
import { t } from '../i18n'

/** "just now", "40 s ago", "2 min ago", "3 h ago", "2 days ago". */
export function formatAge(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000))
  if (s < 10) return t('age.justNow')
  if (s < 60) return t('age.seconds', { n: s })
  const min = Math.floor(s / 60)
  if (min < 60) return t('age.minutes', { n: min })
  const h = Math.floor(min / 60)
  if (h < 48) return t('age.hours', { n: h })
  return t('age.days', { n: Math.floor(h / 24) })
}
