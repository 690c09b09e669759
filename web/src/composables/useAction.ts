import { ref } from 'vue'
import { errorMessage } from '../api/client'

/**
 * Loading and error state around one async action (a button, a form). `success` may be a
 * function, read when the action has succeeded (in the language of that moment: saving the
 * language preference changes it).
 */
export function useAction() {
  const busy = ref(false)
  const error = ref<string | null>(null)
  const done = ref<string | null>(null)
  async function run<T>(fn: () => Promise<T>, success?: string | (() => string)): Promise<T | undefined> {
    busy.value = true
    error.value = null
    done.value = null
    try {
      const r = await fn()
      if (success) done.value = typeof success === 'function' ? success() : success
      return r
    } catch (e) {
      error.value = errorMessage(e)
      return undefined
    } finally {
      busy.value = false
    }
  }
  return { busy, error, done, run }
}
