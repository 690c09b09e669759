// A transfer the other device can no longer see through, said in the user's language.
import { ApiError, errorMessage } from '../api/client'
import { t } from '../i18n'

/**
 * What to tell the user when a transfer request failed while waiting on the other device: a
 * 404 means it expired, or the other device ended it; anything else says itself.
 */
export function transferEnded(e: unknown): string {
  if (!(e instanceof ApiError) || e.status !== 404) return errorMessage(e)
  return e.code === 'transfer_expired' ? t('transfer.errors.expired') : t('transfer.errors.cancelled')
}
