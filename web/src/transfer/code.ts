// The transfer code the new device shows (QR and text) and the old device reads: the transfer's
// id and the new device's commitment to its key. Read from the new device's own screen, the
// commitment lets the old device catch a server that shows it another transfer or key.
const PREFIX = 'parchment-transfer-v2'

export interface TransferCode { sessionId: string; commitment: string }

export function formatTransferCode(code: TransferCode): string {
  return `${PREFIX}:${code.sessionId}:${code.commitment}`
}

/** `null` unless it is a whole v2 transfer code (spaces and line breaks from pasting are ignored). */
export function parseTransferCode(text: string): TransferCode | null {
  const parts = text.replace(/\s+/g, '').split(':')
  if (parts.length !== 3 || parts[0] !== PREFIX) return null
  const [, sessionId, commitment] = parts
  if (!/^[A-Za-z0-9]{8,64}$/.test(sessionId)) return null
  // 32 bytes of standard base64: 43 characters and one '='.
  if (!/^[A-Za-z0-9+/]{43}=$/.test(commitment)) return null
  return { sessionId, commitment }
}

/** 8 digits as two groups of 4, easier to compare aloud. */
export function groupSas(sas: string): string {
  return sas.length === 8 ? `${sas.slice(0, 4)} ${sas.slice(4)}` : sas
}
