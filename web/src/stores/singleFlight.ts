/**
 * Wraps a reload so that at most one runs at a time: a call while one is running makes it run
 * once more afterwards (the state may have changed after it started reading), and every caller
 * waits for the run that reflects its call. Push events can arrive in bursts; each list is then
 * read twice at most, never once per event.
 */
export function singleFlight(load: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null
  let again: Promise<void> | null = null
  const run = (): Promise<void> => {
    if (!running) {
      running = load().finally(() => {
        running = null
      })
      return running
    }
    if (!again) {
      again = running
        .catch(() => {})
        .then(() => {
          again = null
          return run()
        })
    }
    return again
  }
  return run
}
