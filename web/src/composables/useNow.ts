import { onBeforeUnmount, onMounted, ref } from 'vue'

/**
 * The current time as a ref that moves every `everyMs`, for labels such as "2 min ago" that
 * must age on screen without anything else changing.
 */
export function useNow(everyMs = 10_000) {
  const now = ref(Date.now())
  let timer: ReturnType<typeof setInterval> | undefined
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), everyMs)
  })
  onBeforeUnmount(() => clearInterval(timer))
  return now
}
