// My collections of places, each sealed under its own collection key (crypto.md D5, version N)
// with the server holding only ciphertext, a key version and a revision, and the friends each
// one is shared with. Sharing sends each friend a signed RESOURCE_SHARE carrying the content,
// the key wrapped for them and the revision; removing a friend moves the collection to key
// N+1, re-seals it, sends the others their new wraps and the removed friend a RESOURCE_UNSHARE.
// Editors' changes arrive as `collection-edit` shares, which the owner's client checks, applies
// and re-sends to everyone (only the owner can sign for the collection).
import { reactive } from 'vue'
import { ApiError } from '../api/client'
import { collections as api, friends as friendsApi, sharing } from '../api/endpoints'
import type { Collection, IncomingShare } from '../api/types'
import { keyring } from '../crypto'
import { t } from '../i18n'
import { friendByHandle, reloadFriends } from './friends'
import type { Place } from './places'
import { session } from './session'

export type Role = 'viewer' | 'editor'

/** What a collection's content holds (sealed; the server never sees it). */
export interface CollectionDoc { version: 1; name: string; places: Place[] }

/** An editor's change, sealed under the owner's collection key. */
export interface CollectionEdit { add?: Place[]; remove?: string[] }

export interface MyCollection {
  id: string
  name: string
  places: Place[]
  keyVersion: number
  revision: number
  shares: { handle: string; role: Role }[]
  /** The content could not be opened (written by another app, or damaged). */
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

function me(): string {
  if (!session.handle) throw new Error(t('errors.signInFirst'))
  return session.handle
}

function open(c: Collection): MyCollection {
  const base = { id: c.id, keyVersion: c.keyVersion, revision: c.revision, shares: c.shares.map((s) => ({ handle: s.handle, role: s.role as Role })) }
  if (!c.contentEncrypted) return { ...base, name: '', places: [], unreadable: false }
  try {
    const doc = keyring.openCollection<CollectionDoc>('collection-content', me(), c.id, c.keyVersion, c.contentEncrypted)
    return { ...base, name: doc.name, places: doc.places ?? [], unreadable: false }
  } catch {
    return { ...base, name: '', places: [], unreadable: true }
  }
}

export async function loadCollections(): Promise<MyCollection[]> {
  return (await api.list()).map(open)
}

function seal(c: MyCollection, doc: CollectionDoc, version: number): string {
  const sealed = keyring.sealCollection('collection-content', me(), c.id, version, doc)
  if (sealed.length > MAX_CONTENT) throw new Error(t('collections.tooLarge'))
  return sealed
}

async function friendKeys(handle: string) {
  let friend = friendByHandle(handle)
  if (!friend?.encryptionKey) {
    await reloadFriends().catch(() => {})
    friend = friendByHandle(handle)
  }
  if (!friend?.encryptionKey) throw new Error(t('collections.notAFriend', { handle }))
  return { handle: friend.handle, encryptionKey: friend.encryptionKey }
}

/** Sends one friend the collection as it now is: content, their key wrap, the revision. */
async function sendShare(c: MyCollection, content: string, handle: string, role: Role) {
  const friend = await friendKeys(handle)
  const wrap = await keyring.wrapCollectionKey(c.id, c.keyVersion, friend.encryptionKey)
  // The original's four members (its clients show the name from `encryptedData`), then ours.
  const description = await keyring.describeShare(friend.encryptionKey, { collectionId: c.id, scheme: 'parchment-collection-v1', metadata: { name: c.name } })
  const payload = {
    resourceType: 'collection',
    resourceId: c.id,
    encryptedData: description.ciphertext,
    nonce: description.nonce,
    role,
    keyVersion: c.keyVersion,
    keyWrap: wrap.ciphertext,
    keyWrapNonce: wrap.nonce,
    content,
    revision: c.revision,
  }
  const signed = keyring.signMessage('RESOURCE_SHARE', me(), friend.handle, payload)
  await friendsApi.send(friend.handle, { messageType: 'RESOURCE_SHARE', payload, ...signed })
}

async function sendUnshare(id: string, handle: string, revision: number) {
  const payload = { resourceType: 'collection', resourceId: id, revision }
  const signed = keyring.signMessage('RESOURCE_UNSHARE', me(), handle, payload)
  await friendsApi.send(handle, { messageType: 'RESOURCE_UNSHARE', payload, ...signed })
}

/** Sends everyone it is shared with the current state; returns the handles that failed. */
async function broadcast(c: MyCollection, content: string): Promise<string[]> {
  const failed: string[] = []
  for (const s of c.shares) {
    try {
      await sendShare(c, content, s.handle, s.role)
    } catch {
      failed.push(s.handle)
    }
  }
  return failed
}

function failedError(failed: string[]): Error | null {
  return failed.length ? new Error(t('collections.notSent', { who: failed.join(', ') })) : null
}

/** Writes the content (at the revision read) and sends it to everyone it is shared with. */
async function write(c: MyCollection, doc: CollectionDoc, version = c.keyVersion): Promise<MyCollection> {
  const content = seal(c, doc, version)
  let revision: number
  try {
    revision = await api.writeContent(c.id, content, version, c.revision)
  } catch (e) {
    if (e instanceof ApiError && e.code === 'collection_changed') throw new Error(t('collections.changed'))
    throw e
  }
  const next = { ...c, name: doc.name, places: doc.places, keyVersion: version, revision }
  const error = failedError(await broadcast(next, content))
  if (error) throw error
  return next
}

const docOf = (c: MyCollection): CollectionDoc => ({ version: 1, name: c.name, places: c.places })

export async function createCollection(name: string): Promise<MyCollection> {
  const id = await api.create()
  const blank: MyCollection = { id, name, places: [], keyVersion: 1, revision: 0, shares: [], unreadable: false }
  return write(blank, { version: 1, name, places: [] })
}

export const renameCollection = (c: MyCollection, name: string) => write(c, { ...docOf(c), name })
export const addToCollection = (c: MyCollection, place: Place) => write(c, { ...docOf(c), places: [place, ...c.places] })
export const removeFromCollection = (c: MyCollection, placeId: string) =>
  write(c, { ...docOf(c), places: c.places.filter((p) => p.id !== placeId) })

/** Shares with a friend (or changes their role) and sends them the collection. */
export async function shareCollection(c: MyCollection, handle: string, role: Role): Promise<MyCollection> {
  const friend = await friendKeys(handle)
  const revision = await api.share(c.id, friend.handle, role)
  const shares = [...c.shares.filter((s) => s.handle.toLowerCase() !== friend.handle.toLowerCase()), { handle: friend.handle, role }]
  const next = { ...c, revision, shares }
  await sendShare(next, seal(next, docOf(next), next.keyVersion), friend.handle, role)
  return next
}

/**
 * Stops sharing with a friend: the collection moves to key version N+1 (re-sealed), the others
 * get their new wraps, and the removed friend a signed RESOURCE_UNSHARE. What their server
 * keeps opens only with version N's key, which no longer seals anything new.
 */
export async function unshareCollection(c: MyCollection, handle: string): Promise<MyCollection> {
  const revision = await api.unshare(c.id, handle)
  const remaining = c.shares.filter((s) => s.handle.toLowerCase() !== handle.toLowerCase())
  const rotated = await write({ ...c, revision, shares: remaining }, docOf(c), c.keyVersion + 1)
  await sendUnshare(c.id, handle, rotated.revision)
  return rotated
}

/** Deletes the collection; everyone it was shared with is told first. */
export async function deleteCollection(c: MyCollection): Promise<void> {
  for (const s of c.shares) await sendUnshare(c.id, s.handle, c.revision + 1)
  await api.remove(c.id)
}

/**
 * Applies the editors' changes waiting for me (`collection-edit` shares): each must be signed
 * by a friend who is an editor of that collection, for its current key version; it is applied,
 * re-sent to everyone, then deleted. Returns the collections as they are after.
 */
export async function applyEdits(list: MyCollection[], incoming: IncomingShare[]): Promise<MyCollection[]> {
  const byId = new Map(list.map((c) => [c.id, c]))
  for (const s of incoming) {
    if (s.resourceType !== 'collection-edit') continue
    const c = byId.get(editTarget(s.resourceId))
    const editor = c?.shares.find((x) => x.handle.toLowerCase() === s.fromHandle.toLowerCase() && x.role === 'editor')
    const edit = c && editor ? await verifiedEdit(s, c) : null
    if (c && edit) {
      const ids = new Set(edit.remove ?? [])
      const added = (edit.add ?? []).filter(validPlace)
      const places = [...added, ...c.places.filter((p) => !ids.has(p.id) && !added.some((a) => a.id === p.id))]
      byId.set(c.id, await write(c, { ...docOf(c), places }))
    }
    // Applied, or not acceptable from this friend: either way it is done with.
    await sharing.remove(s.id).catch(() => {})
  }
  return list.map((c) => byId.get(c.id) ?? c)
}

function validPlace(p: unknown): p is Place {
  const x = p as Place
  return !!x && typeof x.id === 'string' && typeof x.name === 'string' && x.name.length <= 120 &&
    (x.lat === null || (typeof x.lat === 'number' && Math.abs(x.lat) <= 90)) &&
    (x.lng === null || (typeof x.lng === 'number' && Math.abs(x.lng) <= 180))
}

async function verifiedEdit(s: IncomingShare, c: MyCollection): Promise<CollectionEdit | null> {
  const friend = friendByHandle(s.fromHandle)
  if (!friend?.signingKey) return null
  let env: { message_type?: unknown; from?: unknown; to?: unknown; payload?: Record<string, unknown> }
  try {
    env = JSON.parse(s.envelope)
  } catch {
    return null
  }
  const p = env.payload ?? {}
  const ok =
    env.message_type === 'RESOURCE_SHARE' &&
    String(env.from).toLowerCase() === friend.handle.toLowerCase() &&
    String(env.to).toLowerCase() === me().toLowerCase() &&
    p.resourceType === 'collection-edit' && p.resourceId === s.resourceId && editTarget(s.resourceId) === c.id &&
    p.keyVersion === c.keyVersion && typeof p.content === 'string' &&
    (await keyring.verifyEnvelope(s.envelope, friend.signingKey))
  if (!ok) return null
  try {
    return keyring.openCollection<CollectionEdit>('collection-edit', me(), c.id, c.keyVersion, p.content as string)
  } catch {
    return null
  }
}

/**
 * An edit's resource id: `<collectionId>~<editId>`, one row per change at the owner's server
 * (the inbox keeps one row per resource, so a shared id would let a second change replace a
 * first one not applied yet). `~` never occurs in a collection id.
 */
function editTarget(resourceId: string): string {
  return resourceId.split('~')[0]
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
  return { id, owner, wrap, keyVersion, name: doc.name, places: (doc.places ?? []).filter(validPlace), role }
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
