// The user's display preferences (language, unit system), read from the server when a session
// is known and applied to the whole interface at once (src/i18n).
import { users } from '../api/endpoints'
import type { Preferences } from '../api/types'
import { applyPreferences, resetPreferences } from '../i18n'

/** Reads and applies the saved preferences; a server without them leaves the current ones. */
export async function loadPreferences(): Promise<void> {
  try {
    applyPreferences(await users.preferences())
  } catch {
    /* an older server or a passing failure: the interface stays as it is */
  }
}

/** Just saved in Settings: the interface follows at once. */
export function preferencesSaved(p: Preferences) {
  applyPreferences(p)
}

/** Signed out: the browser's language again. */
export function forgetPreferences() {
  resetPreferences()
}
