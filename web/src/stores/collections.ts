// My collections of places, each sealed under its own collection key (crypto.md D5, version N)
// with the server holding only ciphertext, a key version and a revision. Sharing sends each
// friend a signed RESOURCE_SHARE carrying the content, the key wrapped for them and the
// revision; removing a friend moves the collection to key N+1, re-seals it, sends the others
// their new wraps and the removed friend a RESOURCE_UNSHARE. Editors' changes arrive as
// `collection-edit` shares, which the owner's client checks, applies and re-sends to everyone
// (only the owner can sign for the collection).
//
// What the owner's client trusts is its own sealed state (`ownerEncrypted`, under the personal
// key: friends holding the collection key cannot forge it, the server cannot read it): who the
// collection is shared with and the keys pinned for them, the key version, a digest of the
// content and the edits applied. The server's share list is only its bookkeeping: nobody it
// adds gets a key, and a key version or content it rolls back is refused.
import { reactive } from 'vue'
import { ApiError } from '../api/client'
import { collections as api, friends as friendsApi, sharing } from '../api/endpoints'
import type { Collection, IncomingShare } from '../api/types'
import { contentDigest, keyring } from '../crypto'
import { t } from '../i18n'
import { friendByHandle, friendsState, reloadFriends, sameHandle } from './friends'
import { verificationOf } from './verifiedFriends'
import type { Place } from './places'
import { session } from './session'

export type Role = 'viewer' | 'editor'

/** What a collection's content holds (sealed; the server never sees it). */
export interface CollectionDoc { version: 1; name: string; places: Place[] }

/** An editor's change, sealed under the owner's collection key. */
export interface CollectionEdit { add?: Place[]; remove?: string[] }

/** A friend it is shared with, and the keys their wraps go to (pinned when shared). */
export interface SharedWith { handle: string; role: Role; signingKey: string; encryptionKey: string }

/**
 * The owner's sealed state of one collection. `seq` counts the owner's writes: the server's
 * `revision` is its own word, this one it cannot raise. `editors` holds, per editor, the
 * signed time of the newest change applied: an older one (replayed by the server after its id
 * left `appliedEdits`) is refused.
 */
interface OwnerState {
  v: 1
  seq: number
  keyVersion: number
  digest: string
  shares: SharedWith[]
  appliedEdits: string[]
  editors?: Record<string, string>
}

export interface MyCollection {
  id: string
  name: string
  places: Place[]
  keyVersion: number
  revision: number
  shares: SharedWith[]
  /** Edit ids already applied (an old edit the server shows again is not applied twice). */
  appliedEdits: string[]
  /** Per editor (lowercase handle), the signed time of the newest change applied. */
  editors: Record<string, string>
  /** The owner's write counter, sealed. */
  seq: number
  /**
   * Shared with them, but no longer a friend (or gone from the server's list): nothing more is
   * sent to them; the owner confirms removing them, which rotates the key.
   */
  pendingRemoval: string[]
  /** The content could not be opened, or does not match what this account sealed: never written over. */
  unreadable: boolean
}

/** My collections as the places screen shows them (loaded by its collections card). */
export const collectionsState = reactive<{ list: MyCollection[]; loaded: boolean }>({ list: [], loaded: false })

/** Puts a changed collection in place (or removes it when `next` is null). */
export function replaceCollection(id: string, next: MyCollection | null) {
  collectionsState.list = next
    ? collectionsState.list.map((c) => (c.id === id ? next : c))
    : collectionsState.list.filter((c) => c.id !== id)
}

/** The longest sealed content a share can carry (the server's limit). */
export const MAX_CONTENT = 48 * 1024
/** Applied edit ids remembered per collection. */
const MAX_APPLIED = 500

function me(): string {
  if (!session.handle) throw new Error(t('errors.signInFirst'))
  return session.handle
}

function userId(): string {
  if (!session.user) throw new Error(t('errors.signInFirst'))
  return session.user.id
}

/**
 * The newest sealed write counter and key version this browser saw per collection: a server
 * serving older ones (even an older pair it replays whole) is rolling back. A browser that
 * never saw the collection has nothing to compare with (see server/README.md).
 */
function seenKey(id: string) {
  return `parchment-collection-seen:${session.user?.id ?? ''}:${id}`
}
function seen(id: string): { seq: number; keyVersion: number } {
  try {
    const v = JSON.parse(localStorage.getItem(seenKey(id)) ?? 'null') as { seq?: unknown; keyVersion?: unknown } | null
    return { seq: Number(v?.seq) || 0, keyVersion: Number(v?.keyVersion) || 0 }
  } catch {
    return { seq: 0, keyVersion: 0 }
  }
}
function remember(c: { id: string; seq: number; keyVersion: number }) {
  const last = seen(c.id)
  if (c.seq < last.seq || c.keyVersion < last.keyVersion) return
  localStorage.setItem(seenKey(c.id), JSON.stringify({ seq: c.seq, keyVersion: c.keyVersion }))
}

async function open(c: Collection, friendsKnown: boolean): Promise<MyCollection> {
  const base = { id: c.id, keyVersion: c.keyVersion, revision: c.revision, shares: [], appliedEdits: [], editors: {}, seq: 0, pendingRemoval: [] }
  const unreadable: MyCollection = { ...base, name: '', places: [], unreadable: true }
  const last = seen(c.id)
  if (!c.contentEncrypted) {
    // Blank only as created: emptied content at a later revision or key is a server's doing.
    const fresh = c.revision === 0 && c.keyVersion === 1 && !c.ownerEncrypted && last.seq === 0
    return fresh ? { ...base, name: '', places: [], unreadable: false } : unreadable
  }
  if (!c.ownerEncrypted) return unreadable
  try {
    const owner = keyring.openOwnerState<OwnerState>(userId(), c.id, c.ownerEncrypted)
    const seq = Number(owner.seq) || 0
    if (owner.keyVersion !== c.keyVersion || owner.digest !== (await contentDigest(c.contentEncrypted))) return unreadable
    if (seq < last.seq || c.keyVersion < last.keyVersion) return unreadable
    const doc = keyring.openCollection<CollectionDoc>('collection-content', me(), c.id, c.keyVersion, c.contentEncrypted)
    const shares = (owner.shares ?? []).filter(validShare)
    // No longer a friend, or gone from the server's list: sent nothing more until the owner
    // confirms removing them (which rotates the key). Only when the friends list loaded.
    const pendingRemoval = shares
      .filter((s) => !c.shares.some((x) => sameHandle(x.handle, s.handle)) || (friendsKnown && !friendByHandle(s.handle)))
      .map((s) => s.handle)
    const next: MyCollection = {
      ...base,
      seq,
      name: String(doc.name ?? ''),
      places: normalizePlaces(doc.places),
      shares,
      appliedEdits: Array.isArray(owner.appliedEdits) ? owner.appliedEdits.filter((x) => typeof x === 'string') : [],
      editors: owner.editors && typeof owner.editors === 'object' ? owner.editors : {},
      pendingRemoval,
      unreadable: false,
    }
    remember(next)
    return next
  } catch {
    return unreadable
  }
}

function validShare(s: unknown): s is SharedWith {
  const x = s as SharedWith
  return !!x && typeof x.handle === 'string' && (x.role === 'viewer' || x.role === 'editor') &&
    typeof x.signingKey === 'string' && typeof x.encryptionKey === 'string'
}

export async function loadCollections(): Promise<MyCollection[]> {
  const friendsKnown = await reloadFriends().then(() => !friendsState.unavailable, () => false)
  return Promise.all((await api.list()).map((c) => open(c, friendsKnown)))
}

function seal(c: MyCollection, doc: CollectionDoc, version: number): string {
  const sealed = keyring.sealCollection('collection-content', me(), c.id, version, doc)
  if (sealed.length > MAX_CONTENT) throw new Error(t('collections.tooLarge'))
  return sealed
}

/** A friend's keys as the server serves them now (to pin when sharing). */
async function servedKeys(handle: string): Promise<{ handle: string; signingKey: string; encryptionKey: string }> {
  let friend = friendByHandle(handle)
  if (!friend?.encryptionKey) {
    await reloadFriends().catch(() => {})
    friend = friendByHandle(handle)
  }
  if (!friend?.encryptionKey || !friend.signingKey) throw new Error(t('collections.notAFriend', { handle }))
  // A friend the user verified whose keys the server now serves differently: the served
  // encryption key may be an attacker's, so no key is wrapped for it.
  if (verificationOf(session.user?.id, friend).state === 'changed') throw new Error(t('sharing.pausedKeysChanged'))
  return { handle: friend.handle, signingKey: friend.signingKey, encryptionKey: friend.encryptionKey }
}

/** Whether the server now serves other keys for a friend than the ones pinned when sharing. */
export function keysChanged(s: SharedWith): boolean {
  const f = friendByHandle(s.handle)
  return !!f && (f.signingKey !== s.signingKey || f.encryptionKey !== s.encryptionKey)
}

/** Sends one friend the collection as it now is: content, their key wrap (to the pinned key), the revision. */
async function sendShare(c: MyCollection, content: string, to: SharedWith) {
  const wrap = await keyring.wrapCollectionKey(c.id, c.keyVersion, to.encryptionKey)
  // The original's four members (its clients show the name from `encryptedData`), then ours.
  const description = await keyring.describeShare(to.encryptionKey, { collectionId: c.id, scheme: 'parchment-collection-v1', metadata: { name: c.name } })
  const payload = {
    resourceType: 'collection',
    resourceId: c.id,
    encryptedData: description.ciphertext,
    nonce: description.nonce,
    role: to.role,
    keyVersion: c.keyVersion,
    keyWrap: wrap.ciphertext,
    keyWrapNonce: wrap.nonce,
    content,
    revision: c.revision,
  }
  const signed = keyring.signMessage('RESOURCE_SHARE', me(), to.handle, payload)
  await friendsApi.send(to.handle, { messageType: 'RESOURCE_SHARE', payload, ...signed })
}

async function sendUnshare(id: string, handle: string, revision: number) {
  const payload = { resourceType: 'collection', resourceId: id, revision }
  const signed = keyring.signMessage('RESOURCE_UNSHARE', me(), handle, payload)
  await friendsApi.send(handle, { messageType: 'RESOURCE_UNSHARE', payload, ...signed })
}

/** Whom the collection is sent to: everyone it is shared with but friends no longer (pending removal). */
export const recipientsOf = (c: MyCollection): SharedWith[] =>
  c.shares.filter((s) => !c.pendingRemoval.some((h) => sameHandle(h, s.handle)))

/** Sends everyone it is shared with the current state; throws naming those it could not reach. */
async function broadcast(c: MyCollection, content: string) {
  const failed: string[] = []
  for (const s of recipientsOf(c)) {
    try {
      await sendShare(c, content, s)
    } catch {
      failed.push(s.handle)
    }
  }
  if (failed.length) throw new Error(t('collections.notSent', { who: failed.join(', ') }))
}

interface Change { doc?: CollectionDoc; keyVersion?: number; shares?: SharedWith[]; appliedEdits?: string[]; editors?: Record<string, string> }

/**
 * Writes the collection (content and my sealed state, at the revision read, in one
 * compare-and-swap) and sends it to everyone it is shared with. Returns it as written; a send
 * that fails is reported after the write, which stands.
 */
async function write(c: MyCollection, change: Change, sent: (next: MyCollection) => void = () => {}): Promise<MyCollection> {
  if (c.unreadable) throw new Error(t('collections.unreadable'))
  const doc = change.doc ?? docOf(c)
  const keyVersion = change.keyVersion ?? c.keyVersion
  const shares = change.shares ?? c.shares
  const appliedEdits = (change.appliedEdits ?? c.appliedEdits).slice(-MAX_APPLIED)
  const editors = change.editors ?? c.editors
  // A friend removed here is no longer pending once the sealed list leaves them out.
  const pendingRemoval = c.pendingRemoval.filter((h) => shares.some((s) => sameHandle(s.handle, h)))
  const seq = c.seq + 1
  const content = seal(c, doc, keyVersion)
  const owner: OwnerState = { v: 1, seq, keyVersion, digest: await contentDigest(content), shares, appliedEdits, editors }
  let revision: number
  try {
    revision = await api.writeContent(c.id, content, keyVersion, c.revision, keyring.sealOwnerState(userId(), c.id, owner))
  } catch (e) {
    if (e instanceof ApiError && e.code === 'collection_changed') throw new CollectionChangedError()
    throw e
  }
  const next: MyCollection = { ...c, name: doc.name, places: doc.places, keyVersion, revision, shares, appliedEdits, editors, seq, pendingRemoval }
  remember(next)
  sent(next)
  try {
    await broadcast(next, content)
  } catch (e) {
    // The write stands: the card shows it (and its revision, for "Send again").
    replaceCollection(next.id, next)
    throw e
  }
  return next
}

/** The server holds a newer revision than this browser read (another device, or a step that half failed). */
export class CollectionChangedError extends Error {
  constructor() {
    super(t('collections.changed'))
  }
}

const docOf = (c: MyCollection): CollectionDoc => ({ version: 1, name: c.name, places: c.places })

export async function createCollection(name: string): Promise<MyCollection> {
  const id = await api.create()
  const blank: MyCollection = { id, name, places: [], keyVersion: 1, revision: 0, shares: [], appliedEdits: [], editors: {}, seq: 0, pendingRemoval: [], unreadable: false }
  return write(blank, { doc: { version: 1, name, places: [] } })
}

/** Sends everyone it is shared with the collection as it is (after a send that failed). */
export const resendCollection = (c: MyCollection) => write(c, {})

export const renameCollection = (c: MyCollection, name: string) => write(c, { doc: { ...docOf(c), name } })
export const addToCollection = (c: MyCollection, place: Place) => write(c, { doc: { ...docOf(c), places: [place, ...c.places] } })
export const removeFromCollection = (c: MyCollection, placeId: string) =>
  write(c, { doc: { ...docOf(c), places: c.places.filter((p) => p.id !== placeId) } })

/** Shares with a friend (or changes their role), pinning the keys the server serves for them now. */
export async function shareCollection(c: MyCollection, handle: string, role: Role): Promise<MyCollection> {
  if (c.unreadable) throw new Error(t('collections.unreadable'))
  // A role change keeps the keys pinned when it was first shared; a new friend's are pinned now.
  const existing = c.shares.find((s) => sameHandle(s.handle, handle))
  const friend = existing ?? (await servedKeys(handle))
  const revision = await api.share(c.id, friend.handle, role)
  const shares = [...c.shares.filter((s) => !sameHandle(s.handle, friend.handle)), { handle: friend.handle, signingKey: friend.signingKey, encryptionKey: friend.encryptionKey, role }]
  return write({ ...c, revision }, { shares })
}

/**
 * Stops sharing with friends: the collection moves to key version N+1 (re-sealed) without them
 * in one write, the others get their new wraps, and each removed friend a signed
 * RESOURCE_UNSHARE. What their servers keep opens only with version N's key.
 */
export async function unshareCollection(c: MyCollection, handles: string[]): Promise<MyCollection> {
  if (c.unreadable) throw new Error(t('collections.unreadable'))
  const shares = c.shares.filter((s) => !handles.some((h) => sameHandle(h, s.handle)))
  // The rotation first, in one write without them: if it fails nothing changed, and they are
  // never left on the sealed list with the server's copy saying otherwise.
  let rotated: MyCollection | null = null
  let sendError: unknown = null
  try {
    await write(c, { keyVersion: c.keyVersion + 1, shares }, (next) => {
      rotated = next
    })
  } catch (e) {
    if (!rotated) throw e
    sendError = e // written; a remaining friend was not reached
  }
  let done: MyCollection = rotated ?? c
  // Then the server's copy of the list, and each removed friend a withdrawal newer than
  // anything they were sent.
  for (const handle of handles) {
    try {
      done = { ...done, revision: await api.unshare(c.id, handle) }
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) sendError ??= e
    }
  }
  for (const handle of handles) await sendUnshare(c.id, handle, done.revision).catch((e) => (sendError ??= e))
  if (sendError) {
    replaceCollection(c.id, done)
    throw sendError
  }
  return done
}

/** Deletes the collection; everyone it was shared with is told first. */
export async function deleteCollection(c: MyCollection): Promise<void> {
  for (const s of c.shares) await sendUnshare(c.id, s.handle, c.revision + 1)
  await api.remove(c.id)
}

/** An edit's resource id is `<collectionId>~<editId>`: one row per change at my server. */
function editParts(resourceId: string): [string, string] {
  const at = resourceId.indexOf('~')
  return at < 0 ? [resourceId, ''] : [resourceId.slice(0, at), resourceId.slice(at + 1)]
}

/** What became of one edit: applied (or already), refused for good, or to try again later. */
type EditOutcome = 'done' | 'refused' | 'later'

/**
 * Applies the editors' changes waiting for me (`collection-edit` shares). Each must be signed
 * with the keys I pinned for a friend who is an editor of that collection, for its current key
 * version, and not applied before; it is applied, re-sent to everyone, then deleted. One that
 * can never apply is deleted; one that failed for a passing reason (the network) stays.
 */
export async function applyEdits(list: MyCollection[], incoming: IncomingShare[]): Promise<MyCollection[]> {
  const byId = new Map(list.map((c) => [c.id, c]))
  for (const s of incoming) {
    if (s.resourceType !== 'collection-edit') continue
    const [target, editId] = editParts(s.resourceId)
    const c = byId.get(target)
    let outcome: EditOutcome
    try {
      outcome = c ? await applyEdit(c, s, editId, (next) => byId.set(next.id, next)) : 'refused'
    } catch {
      outcome = 'later'
    }
    if (outcome !== 'later') await sharing.remove(s.id).catch(() => {})
  }
  return list.map((c) => byId.get(c.id) ?? c)
}

async function applyEdit(c: MyCollection, s: IncomingShare, editId: string, done: (next: MyCollection) => void): Promise<EditOutcome> {
  if (c.unreadable) return 'later'
  if (!editId || c.appliedEdits.includes(editId)) return editId ? 'done' : 'refused'
  const editor = c.shares.find((x) => sameHandle(x.handle, s.fromHandle) && x.role === 'editor')
  if (!editor) return 'refused'
  const edit = await verifiedEdit(s, c, editor)
  if (!edit) return 'refused'
  // Older than a change of theirs already applied: a replay, or overtaken.
  const key = editor.handle.toLowerCase()
  const newest = c.editors[key]
  if (newest && edit.at < newest) return 'refused'
  const remove = new Set(edit.remove)
  const added = edit.add.filter((p) => !c.places.some((x) => x.id === p.id))
  const places = [...added, ...c.places.filter((p) => !remove.has(p.id))]
  try {
    await write(c, { doc: { ...docOf(c), places }, appliedEdits: [...c.appliedEdits, editId], editors: { ...c.editors, [key]: edit.at } }, done)
  } catch (e) {
    // Too large to share any more: this change can never apply.
    if (e instanceof Error && e.message === t('collections.tooLarge')) return 'refused'
    throw e
  }
  return 'done'
}

/** The edit a row carries, if the editor signed it (with the keys I pinned) for this collection and key version. */
async function verifiedEdit(s: IncomingShare, c: MyCollection, editor: SharedWith): Promise<{ add: Place[]; remove: string[]; at: string } | null> {
  let env: { message_type?: unknown; from?: unknown; to?: unknown; timestamp?: unknown; payload?: Record<string, unknown> }
  try {
    env = JSON.parse(s.envelope)
  } catch {
    return null
  }
  const p = env.payload ?? {}
  const ok =
    env.message_type === 'RESOURCE_SHARE' &&
    typeof env.from === 'string' && sameHandle(env.from, editor.handle) &&
    typeof env.to === 'string' && sameHandle(env.to, me()) &&
    p.resourceType === 'collection-edit' && p.resourceId === s.resourceId &&
    p.keyVersion === c.keyVersion && typeof p.content === 'string' &&
    typeof env.timestamp === 'string' && !Number.isNaN(Date.parse(env.timestamp)) &&
    (await keyring.verifyEnvelope(s.envelope, editor.signingKey))
  if (!ok) return null
  let edit: CollectionEdit
  try {
    edit = keyring.openCollection<CollectionEdit>('collection-edit', me(), c.id, c.keyVersion, p.content as string)
  } catch {
    return null
  }
  const add = Array.isArray(edit?.add) ? normalizePlaces(edit.add) : []
  const remove = Array.isArray(edit?.remove) ? edit.remove.filter((x): x is string => typeof x === 'string') : []
  // The signed ISO time (the inbox refused it unless within minutes of the server's clock).
  return { add, remove, at: new Date(env.timestamp as string).toISOString() }
}

/** Only the members a place has, each checked; a repeated id counts once. */
export function normalizePlaces(list: unknown): Place[] {
  if (!Array.isArray(list)) return []
  const out: Place[] = []
  for (const item of list) {
    const x = item as Record<string, unknown>
    if (!x || typeof x.id !== 'string' || x.id.length > 64 || typeof x.name !== 'string' || !x.name || x.name.length > 120) continue
    const coord = (v: unknown, max: number) => (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= max ? v : null)
    const lat = coord(x.lat, 90)
    const lng = coord(x.lng, 180)
    if (out.some((p) => p.id === x.id)) continue
    out.push({
      id: x.id,
      name: x.name,
      lat: lat === null || lng === null ? null : lat,
      lng: lat === null || lng === null ? null : lng,
      note: typeof x.note === 'string' ? x.note.slice(0, 500) : '',
      addedAt: typeof x.addedAt === 'string' ? x.addedAt.slice(0, 40) : '',
    })
  }
  return out
}

/** A shared collection as a friend's RESOURCE_SHARE carries it (checked and opened). */
export interface SharedCollection {
  id: string
  owner: { handle: string; encryptionKey: string }
  wrap: { ciphertext: string; nonce: string }
  keyVersion: number
  name: string
  places: Place[]
  role: Role
}

/** Opens the content a verified RESOURCE_SHARE payload carries; `null` when it has none. */
export async function openShared(payload: Record<string, unknown>, owner: { handle: string; encryptionKey: string }, role: Role): Promise<SharedCollection | null> {
  const { resourceId: id, keyVersion, keyWrap, keyWrapNonce, content } = payload
  if (typeof id !== 'string' || typeof keyVersion !== 'number' || typeof keyWrap !== 'string' || typeof keyWrapNonce !== 'string' || typeof content !== 'string') return null
  const wrap = { ciphertext: keyWrap, nonce: keyWrapNonce }
  const doc = await keyring.openSharedCollection<CollectionDoc>('collection-content', wrap, owner, id, keyVersion, content)
  return { id, owner, wrap, keyVersion, name: String(doc.name ?? ''), places: normalizePlaces(doc.places), role }
}

/** As an editor: sends the owner a change (sealed with their key, signed by me). */
export async function sendEdit(shared: SharedCollection, edit: CollectionEdit): Promise<void> {
  const content = await keyring.sealSharedCollection('collection-edit', shared.wrap, shared.owner, shared.id, shared.keyVersion, edit)
  const description = await keyring.describeShare(shared.owner.encryptionKey, { collectionId: shared.id, edit: true })
  const payload = {
    resourceType: 'collection-edit',
    resourceId: `${shared.id}~${crypto.randomUUID()}`,
    encryptedData: description.ciphertext,
    nonce: description.nonce,
    role: 'editor',
    keyVersion: shared.keyVersion,
    content,
    revision: 0,
  }
  const signed = keyring.signMessage('RESOURCE_SHARE', me(), shared.owner.handle, payload)
  await friendsApi.send(shared.owner.handle, { messageType: 'RESOURCE_SHARE', payload, ...signed })
}

/**
 * After a master-key rotation: every shared collection sent again (its key changed with the
 * seed), so friends get the new wraps and editors can go on. Returns the handles not reached.
 */
export async function resendShared(): Promise<string[]> {
  const failed: string[] = []
  for (const c of await loadCollections()) {
    if (c.unreadable || !c.shares.length) continue
    try {
      await write(c, {})
    } catch {
      failed.push(...c.shares.map((s) => s.handle))
    }
  }
  return failed
}
