// Loads the WebAssembly package once. wasm-bindgen's `--target web` output exports an `init`
// function as its default export (it fetches the .wasm next to the module); other targets
// initialise on import and have no default export.
import * as core from '@parchment/core'

let loading: Promise<typeof core> | null = null

export function loadCore(): Promise<typeof core> {
  if (!loading) {
    loading = (async () => {
      const init = (core as unknown as { default?: unknown }).default
      if (typeof init === 'function') await (init as () => Promise<unknown>)()
      return core
    })()
    loading.catch(() => {
      loading = null
    })
  }
  return loading
}

export type Core = typeof core
export type IdentityHandle = core.Identity
export type TransferReceiverHandle = core.DeviceTransferReceiver
export type TransferSenderHandle = core.DeviceTransferSender
