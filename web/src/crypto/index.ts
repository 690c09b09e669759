// The only module that touches @parchment/core. It keeps the one unlocked `Identity` handle
// private: the rest of the app asks for operations (encrypt this blob, sign this action) and
// gets ciphertext, signatures and public keys back, never the seed or a private key.
// The recovery key is the single deliberate exception: it is exported to be shown to the user.
import { loadCore, type Core, type IdentityHandle, type TransferReceiverHandle, type TransferSenderHandle } from './core'
import { fromBase64, toBase64 } from './base64'
import { t } from '../i18n'

export { toBase64, fromBase64, toBase64Url, fromBase64Url } from './base64'

let core: Core | null = null
let current: IdentityHandle | null = null
// The ephemeral keys of a device transfer in progress (one side at a time per tab).
let receiving: TransferReceiverHandle | null = null
let sending: TransferSenderHandle | null = null

function freeTransferKeys() {
  for (const key of [receiving, sending]) {
    try {
      key?.free()
    } catch {
      /* already freed */
    }
  }
  receiving = null
  sending = null
}

async function lib(): Promise<Core> {
  if (!core) core = await loadCore()
  return core
}

/**
 * The package with its second module loaded (key slots, friend shares, safety numbers, device
 * transfer): fetched on first use, so the start and unlock path downloads only the first.
 */
async function extras(): Promise<Core> {
  const c = await lib()
  await c.loadExtras()
  return c
}

function need(): IdentityHandle {
  if (!current) throw new Error(t('errors.keysLocked'))
  return current
}

function replace(next: IdentityHandle | null) {
  if (current && current !== next) {
    try {
      current.free()
    } catch {
      /* already freed */
    }
  }
  current = next
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface PublicKeys { signingKey: string; encryptionKey: string }
/** One side of a v2 safety number: who, and the two public keys (base64) that speak for them. */
export interface SafetyParty { handle: string; signingKey: string; encryptionKey: string }
/** The 60 digits both screens show, and my screen's code (QR payload, base64). */
export interface SafetyV2 { number: string; code: string }
/** What comparing a friend's code came to; `unreadable`: not a v2 code (mistyped, another app version). */
export type SafetyComparison = 'match' | 'mismatch' | 'unreadable'
export interface KeySlot { credentialId: string; wrappedKm: string; wrapAlgo: string; slotSignature: string }
export interface SignedMessage { signature: string; nonce: string; timestamp: string }
/**
 * What a friend share is bound to: the sender's and the recipient's handles as each side
 * knows them, and the sending time (ISO, travelling beside the blob as the location `nonce`).
 */
export interface ShareBinding { senderId: string; recipientId: string; timestamp: string }

function personalContext(userId: string, blobType: string) {
  return { userId, recordType: 'personal-blob', recordId: blobType, keyContext: 'parchment-personal-v1' }
}

function collectionContexts(userId: string, id: string) {
  return [
    { userId, recordType: 'collection-metadata', recordId: id, keyContext: 'parchment-collection-metadata-v1' },
    { userId, recordType: 'collection-metadata', recordId: id, keyContext: `parchment-collection-${id}` },
  ]
}

/**
 * The AAD of a collection's content (`collection-content`) or an editor's change to it
 * (`collection-edit`): bound to the owner's handle, the collection and the key version, so a
 * server cannot pass an old version's content off as the current one or one collection's as
 * another's.
 */
export function sharedCollectionContext(kind: 'collection-content' | 'collection-edit', ownerHandle: string, id: string, version: number) {
  return { userId: ownerHandle.toLowerCase(), recordType: kind, recordId: id, keyContext: `parchment-collection-${id}-v${version}` }
}

/** SHA-256 of a collection's sealed content (base64 text), as the owner's sealed state names it. */
export async function contentDigest(sealed: string): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(sealed))))
}

function ownerContext(userId: string, id: string) {
  return { userId, recordType: 'collection-owner', recordId: id, keyContext: 'parchment-personal-v1' }
}

/** A collection key wrapped for one friend (crypto.md D6, the original's format). */
export interface KeyWrap { ciphertext: string; nonce: string }

/**
 * What opening the device's cached seed came to. Only `wrong-secret` (the AEAD refused the key:
 * the server forgot or rotated this device's secret) and `not-current-key` (it opened to a key
 * the account no longer uses) mean the envelope is dead; `unreadable` (a malformed secret, any
 * other failure) keeps it for the next try.
 */
export type DeviceUnwrap = 'unlocked' | 'wrong-secret' | 'not-current-key' | 'unreadable'

/** What @parchment/core says (core/src/envelope.rs `EnvelopeError::Authentication`) when the key is wrong. */
const AEAD_AUTHENTICATION_FAILED = 'authentication failed'

/** A person-sized reason a typed recovery key was refused, never quoting what was typed. */
function recoveryKeyProblem(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  if (m.includes('checksum')) return t('recovery.problem.checksum')
  const at = m.match(/at position (\d+) is not a valid character/)
  if (at) return t('recovery.problem.character', { position: at[1] })
  if (m.includes('56 characters')) return t('recovery.problem.length')
  if (m.includes('unknown version')) return t('recovery.problem.version')
  return t('recovery.problem.invalid')
}

/** `mismatch`: what to say when it opens to another account's keys. */
function checkMatches(handle: IdentityHandle, expectedSigningKey: string | null, mismatch: () => string) {
  if (expectedSigningKey && handle.signingPublicKey !== expectedSigningKey) {
    handle.free()
    throw new Error(mismatch())
  }
}

export const keyring = {
  /** Loads the WASM start module (safe to call many times). */
  async ready(): Promise<void> {
    await lib()
  },

  /**
   * Loads the second module (safe to call many times): await it before the synchronous
   * methods that need it (createKeySlot, sealFriendShare, openFriendShare).
   */
  async loadExtras(): Promise<void> {
    await extras()
  },

  isUnlocked(): boolean {
    return current !== null
  },

  publicKeys(): PublicKeys {
    const id = need()
    return { signingKey: id.signingPublicKey, encryptionKey: id.encryptionPublicKey }
  },

  /** First run: a new identity from a seed generated inside WASM. */
  async create(): Promise<PublicKeys> {
    const c = await lib()
    replace(c.Identity.generate())
    return this.publicKeys()
  },

  /** The recovery key of the unlocked identity (the original app's base64 form). */
  exportRecoveryKey(): string {
    return need().exportRecoveryKey()
  },

  /** The recovery code (`P1-…`, checksummed): what the app shows its owner to write down. */
  exportRecoveryCode(): string {
    return need().exportRecoveryCode()
  },

  /** Restore from a typed recovery key; it must derive the signing key the server publishes. */
  async unlockWithRecoveryKey(text: string, expectedSigningKey: string | null): Promise<PublicKeys> {
    const c = await lib()
    let handle: IdentityHandle
    try {
      // Typed from a printout or pasted from the grouped display: spaces and line breaks are not
      // part of it. A recovery code (P1-…) or the original app's base64 recovery key.
      handle = c.Identity.fromRecoveryKey(text.replace(/\s+/g, ''))
    } catch (e) {
      throw new Error(recoveryKeyProblem(e))
    }
    checkMatches(handle, expectedSigningKey, () => t('recovery.problem.otherAccount'))
    replace(handle)
    return this.publicKeys()
  },

  /** The seed envelope for this device (crypto.md §6.1), to keep in localStorage. */
  wrapForDevice(deviceSecret: string, deviceId: string): string {
    return need().wrapSeed(deviceSecret, deviceId)
  },

  /** Unwraps the device's cached seed; what happened decides whether the envelope is kept. */
  async unlockFromDevice(deviceSecret: string, deviceId: string, wrapped: string, expectedSigningKey: string | null): Promise<DeviceUnwrap> {
    const c = await lib()
    if (this.needsExtras(wrapped)) await c.loadExtras()
    let handle: IdentityHandle
    try {
      handle = c.Identity.unwrapSeed(deviceSecret, deviceId, wrapped)
    } catch (e) {
      return e instanceof Error && e.message.includes(AEAD_AUTHENTICATION_FAILED) ? 'wrong-secret' : 'unreadable'
    }
    if (expectedSigningKey && handle.signingPublicKey !== expectedSigningKey) {
      handle.free()
      return 'not-current-key'
    }
    replace(handle)
    return 'unlocked'
  },

  async prfSalt(): Promise<Uint8Array> {
    // In the start module: a passkey ceremony must follow the click without a download.
    return (await lib()).prfSalt()
  },

  /** A passkey-PRF key slot of the unlocked identity for one credential. */
  createKeySlot(userId: string, credentialId: string, prfOutput: Uint8Array): KeySlot {
    return need().createKeySlot(userId, credentialId, prfOutput) as KeySlot
  },

  /** Whether a key slot opens, with this PRF output, to the unlocked identity (proves the owner is here). */
  async keySlotOpensToCurrent(slot: KeySlot, userId: string, prfOutput: Uint8Array): Promise<boolean> {
    const c = await extras()
    const signingKey = need().signingPublicKey
    let handle: IdentityHandle
    try {
      handle = c.Identity.fromKeySlot(slot, userId, prfOutput, signingKey)
    } catch {
      return false
    }
    const same = handle.signingPublicKey === signingKey
    handle.free()
    return same
  },

  async unlockWithKeySlot(slot: KeySlot, userId: string, prfOutput: Uint8Array, signingKey: string): Promise<PublicKeys> {
    const c = await extras()
    const handle = c.Identity.fromKeySlot(slot, userId, prfOutput, signingKey)
    checkMatches(handle, signingKey, () => t('errors.slotOtherAccount'))
    replace(handle)
    return this.publicKeys()
  },

  /**
   * Whether opening this base64 envelope needs the second module (the original's AES-256-GCM
   * records do): then `await loadExtras()` before the synchronous decrypt.
   */
  needsExtras(envelopeB64: string): boolean {
    try {
      return atob(envelopeB64.slice(0, 4)).charCodeAt(1) === 0x01
    } catch {
      return false
    }
  },

  /** Encrypts a JSON value as a personal blob (key D3, AAD bound to user and blob type). */
  encryptPersonal(userId: string, blobType: string, value: unknown): string {
    const bytes = encoder.encode(JSON.stringify(value))
    return toBase64(need().encryptRecord('personal', personalContext(userId, blobType), bytes))
  },

  decryptPersonal<T>(userId: string, blobType: string, encryptedBlob: string): T {
    const bytes = need().decryptRecord('personal', personalContext(userId, blobType), fromBase64(encryptedBlob))
    return JSON.parse(decoder.decode(bytes)) as T
  },

  /** Signs a v2 federation action (invite, accept, reject, revoke) for the server to forward. */
  signAction(messageType: string, from: string, to: string): SignedMessage {
    return this.signMessage(messageType, from, to, {})
  },

  /**
   * Signs a v2 federation message whose payload the server forwards exactly as given (a
   * LOCATION_UPDATE, the `{"stopped": true}` that ends location sharing).
   */
  signMessage(messageType: string, from: string, to: string, payload: Record<string, unknown>): SignedMessage {
    // federation.md: base64 of 16 random bytes (24 characters).
    const nonce = toBase64(crypto.getRandomValues(new Uint8Array(16)))
    const timestamp = new Date().toISOString()
    const env = need().signFederationEnvelope({
      protocol_version: 2,
      message_type: messageType,
      message_version: 1,
      from,
      to,
      nonce,
      timestamp,
      payload,
    }) as { signature: string; nonce?: string; timestamp: string }
    return { signature: env.signature, nonce: env.nonce ?? nonce, timestamp: env.timestamp }
  },

  /**
   * Seals bytes for one friend (the original's ECIES friend share v2): readable only with the
   * friend's encryption key, signed by this identity, bound to sender, recipient and time.
   * Returns the blob's base64, as LOCATION_UPDATE carries it.
   */
  sealFriendShare(friendEncryptionKey: string, plaintext: Uint8Array, binding: ShareBinding): string {
    return toBase64(need().sealFriendShare(friendEncryptionKey, plaintext, binding))
  },

  /** Opens a friend share sent to this identity; throws unless the friend signed it for this binding. */
  openFriendShare(blob: string, friendSigningKey: string, binding: ShareBinding): Uint8Array {
    return need().openFriendShare(fromBase64(blob), friendSigningKey, binding)
  },

  /** Version 1 (the original's): 12 digits over the two signing keys only. For interop; the app shows v2. */
  async safetyNumber(a: string, b: string): Promise<string> {
    return (await extras()).safetyNumber(a, b)
  },

  /**
   * The version 2 safety number of me and a friend (both handles, signing keys and encryption
   * keys; wasm/README.md "Safety number v2") and the code my screen shows for it: the QR
   * payload as base64 text, which is also what the friend pastes.
   */
  async safetyV2(me: SafetyParty, friend: SafetyParty): Promise<SafetyV2> {
    const c = await extras()
    return { number: c.safetyNumberV2(me, friend), code: toBase64(c.safetyQrPayload(me, friend)) }
  },

  /** Compares a code from the friend's screen (scanned or pasted base64) with the keys I see. */
  async compareSafetyCode(me: SafetyParty, friend: SafetyParty, code: string): Promise<SafetyComparison> {
    const c = await extras()
    let scanned: Uint8Array
    try {
      scanned = fromBase64(code.replace(/\s+/g, ''))
    } catch {
      return 'unreadable'
    }
    try {
      return c.compareSafetyQr(me, friend, scanned) ? 'match' : 'mismatch'
    } catch (e) {
      // Another length or version byte: not a v2 code of this app (or mistyped), not a mismatch.
      const m = e instanceof Error ? e.message : String(e)
      if (/safety code (has version|must be)/.test(m)) return 'unreadable'
      throw e
    }
  },

  /**
   * Master-key rotation, step 1: a new identity re-encrypts everything the old one protects.
   * Nothing changes here until `finish()` (after the server accepted the commit).
   */
  async prepareRotation(
    userId: string,
    expectedCurrent: number,
    input: {
      blobs: { blobType: string; encryptedBlob: string }[]
      collections: { id: string; metadataEncrypted?: string | null; contentEncrypted?: string | null; ownerEncrypted?: string | null; keyVersion?: number; revision?: number }[]
      slots: { credentialId: string; prfOutput: Uint8Array }[]
      /** My handle: collection content is bound to it. */
      handle?: string | null
    },
  ) {
    const c = await extras()
    const old = need()
    const next = c.Identity.generate()
    try {
      const blobs = input.blobs.map((b) => {
        const ctx = personalContext(userId, b.blobType)
        const plain = old.decryptRecord('personal', ctx, fromBase64(b.encryptedBlob))
        return { blobType: b.blobType, encryptedBlob: toBase64(next.encryptRecord('personal', ctx, plain)) }
      })
      const collections: { id: string; metadataEncrypted?: string; contentEncrypted?: string; ownerEncrypted?: string; revision?: number }[] = []
      for (const col of input.collections) {
        const out: { id: string; metadataEncrypted?: string; contentEncrypted?: string; ownerEncrypted?: string; revision?: number } = { id: col.id }
        if (col.metadataEncrypted) {
          // Id and version as separate arguments: a server-supplied id cannot name another key.
          let plain: Uint8Array | null = null
          for (const ctx of collectionContexts(userId, col.id)) {
            try {
              plain = old.decryptCollectionRecord('collection', col.id, 1, ctx, fromBase64(col.metadataEncrypted))
              break
            } catch {
              /* try the other binding (crypto.md gap 3) */
            }
          }
          if (!plain) throw new Error(t('errors.collectionUndecryptable', { id: col.id }))
          const ctx = collectionContexts(userId, col.id)[0]
          out.metadataEncrypted = toBase64(next.encryptCollectionRecord('collection', col.id, 1, ctx, plain))
        }
        if (col.contentEncrypted) {
          // Same key version under the new seed: the collection's own key, re-derived.
          const version = col.keyVersion ?? 1
          if (!input.handle) throw new Error(t('errors.signInFirst'))
          const ctx = sharedCollectionContext('collection-content', input.handle, col.id, version)
          let plain: Uint8Array
          try {
            plain = old.decryptCollectionRecord('collection', col.id, version, ctx, fromBase64(col.contentEncrypted))
          } catch {
            throw new Error(t('errors.collectionUndecryptable', { id: col.id }))
          }
          out.contentEncrypted = toBase64(next.encryptCollectionRecord('collection', col.id, version, ctx, plain))
          // Refused (409) if the collection changed after it was read: nothing is lost.
          out.revision = col.revision
        }
        if (col.ownerEncrypted) {
          let state: { digest?: string; keyVersion?: number }
          try {
            state = JSON.parse(decoder.decode(old.decryptRecord('personal', ownerContext(userId, col.id), fromBase64(col.ownerEncrypted))))
          } catch {
            throw new Error(t('errors.collectionUndecryptable', { id: col.id }))
          }
          // Only what I sealed is carried over: content the server swapped (or an editor's key
          // sealed) would otherwise come out of the rotation under a fresh digest.
          const matches = col.contentEncrypted
            ? state.digest === (await contentDigest(col.contentEncrypted)) && state.keyVersion === (col.keyVersion ?? 1)
            : false
          if (!matches) throw new Error(t('errors.collectionUndecryptable', { id: col.id }))
          // The content was re-sealed: the state names the new ciphertext.
          if (out.contentEncrypted) state.digest = await contentDigest(out.contentEncrypted)
          out.ownerEncrypted = toBase64(next.encryptRecord('personal', ownerContext(userId, col.id), encoder.encode(JSON.stringify(state))))
        }
        collections.push(out)
      }
      const slots = input.slots.map((s) => next.createKeySlot(userId, s.credentialId, s.prfOutput) as KeySlot)
      // The current key proves the change: a session alone cannot replace the keys.
      const currentKeySignature = old.signKeyChange(userId, expectedCurrent, next.signingPublicKey, next.encryptionPublicKey)
      return {
        expectedCurrent,
        currentKeySignature,
        signingKey: next.signingPublicKey,
        encryptionKey: next.encryptionPublicKey,
        blobs,
        collections,
        slots,
        /** The server accepted the commit: the new identity becomes the unlocked one. */
        finish() {
          replace(next)
        },
        abort() {
          next.free()
        },
      }
    } catch (e) {
      next.free()
      throw e
    }
  },

  /**
   * Device transfer v2, new device: a fresh ephemeral key inside WASM; returns the commitment
   * to publish (and show as QR/text) before the key itself. One transfer at a time.
   */
  async startReceiving(): Promise<{ commitment: string; publicKey: string }> {
    const c = await extras()
    freeTransferKeys()
    receiving = c.DeviceTransferReceiver.generate()
    return { commitment: receiving.commitment, publicKey: receiving.publicKey }
  },

  /** The 8 digits the new device shows once the old one's key is known. */
  receivingSas(senderEphemeralPub: string, sessionId: string): string {
    if (!receiving) throw new Error(t('transfer.errors.noTransfer'))
    return receiving.sasV2(senderEphemeralPub, sessionId)
  },

  /**
   * Opens the sealed seed: signed by `accountSigningKey` (the key the server publishes for this
   * account) over this exchange, and deriving that same key; only then is it unlocked here.
   */
  finishReceiving(sessionId: string, senderEphemeralPub: string, sealed: { sealedSeed: string; senderSignature: string }, accountSigningKey: string): PublicKeys {
    if (!receiving) throw new Error(t('transfer.errors.noTransfer'))
    let handle: IdentityHandle
    try {
      handle = receiving.openV2(sessionId, senderEphemeralPub, sealed, accountSigningKey)
    } catch {
      throw new Error(t('transfer.errors.openFailed'))
    }
    freeTransferKeys()
    replace(handle)
    return this.publicKeys()
  },

  /** Device transfer v2, old device: its ephemeral key (public half to publish). */
  async startSending(): Promise<string> {
    const c = await extras()
    need()
    freeTransferKeys()
    sending = c.DeviceTransferSender.generate()
    return sending.publicKey
  },

  /**
   * The 8 digits the old device shows; throws when the revealed key is not the one the new
   * device committed to (the commitment read from its screen): someone swapped it.
   */
  sendingSas(receiverCommitment: string, receiverEphemeralPub: string, sessionId: string): string {
    if (!sending) throw new Error(t('transfer.errors.noTransfer'))
    try {
      return sending.sas(receiverCommitment, receiverEphemeralPub, sessionId)
    } catch {
      throw new Error(t('transfer.errors.swapped'))
    }
  },

  /** After the user confirmed the codes match: the seed sealed to the new device, signed. */
  sealForNewDevice(receiverCommitment: string, receiverEphemeralPub: string, sessionId: string): { sealedSeed: string; senderSignature: string } {
    if (!sending) throw new Error(t('transfer.errors.noTransfer'))
    const sealed = need().sealDeviceTransferV2(sending, receiverCommitment, receiverEphemeralPub, sessionId)
    freeTransferKeys()
    return sealed
  },

  /** Forgets any transfer key (cancel, or leaving the screen). */
  cancelTransfer() {
    freeTransferKeys()
  },

  /**
   * What a friend's RESOURCE_SHARE describes (crypto.md §4: the legacy static-DH ciphertext
   * under `parchment-share-collection-v1`, `{collectionId, scheme, metadata: {name, …}}`), or
   * `null` when it does not open with that friend's key or is not such a description.
   */
  async openShareDescription(encryptedData: string, nonce: string, friendEncryptionKey: string): Promise<{ name: string | null; collectionId: string | null } | null> {
    await extras()
    try {
      const bytes = need().decryptFromFriend({ ciphertext: encryptedData, nonce }, friendEncryptionKey, 'parchment-share-collection-v1')
      const doc = JSON.parse(decoder.decode(bytes)) as { collectionId?: unknown; metadata?: { name?: unknown } }
      return {
        name: typeof doc.metadata?.name === 'string' ? doc.metadata.name : null,
        collectionId: typeof doc.collectionId === 'string' ? doc.collectionId : null,
      }
    } catch {
      return null
    }
  },

  /** Seals a collection record under my collection key `version` (D5); returns base64. */
  sealCollection(kind: 'collection-content' | 'collection-edit', ownerHandle: string, id: string, version: number, value: unknown): string {
    const ctx = sharedCollectionContext(kind, ownerHandle, id, version)
    return toBase64(need().encryptCollectionRecord('collection', id, version, ctx, encoder.encode(JSON.stringify(value))))
  },

  /** Opens a record of one of my collections (see `sealCollection`). */
  openCollection<T>(kind: 'collection-content' | 'collection-edit', ownerHandle: string, id: string, version: number, sealed: string): T {
    const ctx = sharedCollectionContext(kind, ownerHandle, id, version)
    return JSON.parse(decoder.decode(need().decryptCollectionRecord('collection', id, version, ctx, fromBase64(sealed)))) as T
  },

  /**
   * Seals what only I read about one of my collections (who it is shared with, pinned keys,
   * key version, a digest of the content) under my personal key: friends holding the
   * collection key cannot forge it, and the server cannot read or swap it.
   */
  sealOwnerState(userId: string, id: string, value: unknown): string {
    return toBase64(need().encryptRecord('personal', ownerContext(userId, id), encoder.encode(JSON.stringify(value))))
  },

  openOwnerState<T>(userId: string, id: string, sealed: string): T {
    return JSON.parse(decoder.decode(need().decryptRecord('personal', ownerContext(userId, id), fromBase64(sealed)))) as T
  },

  /** My collection key `version` wrapped for a friend; the key itself stays in WASM. */
  async wrapCollectionKey(id: string, version: number, friendEncryptionKey: string): Promise<KeyWrap> {
    await extras()
    return need().wrapCollectionKey(id, version, friendEncryptionKey) as KeyWrap
  },

  /** Opens a record of a friend's collection with the key they wrapped for me. */
  async openSharedCollection<T>(kind: 'collection-content' | 'collection-edit', wrap: KeyWrap, friend: { handle: string; encryptionKey: string }, id: string, version: number, sealed: string): Promise<T> {
    await extras()
    const ctx = sharedCollectionContext(kind, friend.handle, id, version)
    return JSON.parse(decoder.decode(need().decryptSharedCollectionRecord(wrap, friend.encryptionKey, id, ctx, fromBase64(sealed)))) as T
  },

  /** Seals a change to a friend's collection (I am an editor) with the key they wrapped for me. */
  async sealSharedCollection(kind: 'collection-content' | 'collection-edit', wrap: KeyWrap, friend: { handle: string; encryptionKey: string }, id: string, version: number, value: unknown): Promise<string> {
    await extras()
    const ctx = sharedCollectionContext(kind, friend.handle, id, version)
    return toBase64(need().encryptSharedCollectionRecord(wrap, friend.encryptionKey, id, ctx, encoder.encode(JSON.stringify(value))))
  },

  /** The original's share description for a friend (D6, `parchment-share-collection-v1`). */
  async describeShare(friendEncryptionKey: string, description: unknown): Promise<KeyWrap> {
    await extras()
    return need().encryptForFriend(friendEncryptionKey, encoder.encode(JSON.stringify(description)), 'parchment-share-collection-v1') as KeyWrap
  },

  /** Whether a signed federation message (JSON text) verifies under `signingKey`. */
  async verifyEnvelope(envelope: string, signingKey: string): Promise<boolean> {
    const c = await lib()
    try {
      return c.verifyFederationEnvelope(JSON.parse(envelope), signingKey)
    } catch {
      return false
    }
  },

  /** Forget the unlocked identity (zeroized inside WASM). */
  lock() {
    replace(null)
  },
}
