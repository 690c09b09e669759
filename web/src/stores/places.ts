// "My places": one encrypted personal blob. The server sees only the envelope.
import { blobs, identity } from '../api/endpoints'
import { keyring } from '../crypto'
import { t } from '../i18n'
import { session } from './session'

export const PLACES_BLOB = 'places'

export interface Place {
  id: string
  name: string
  lat: number | null
  lng: number | null
  note: string
  addedAt: string
}

interface PlacesDoc { version: 1; places: Place[] }

function userId(): string {
  if (!session.user) throw new Error(t('errors.signInFirst'))
  return session.user.id
}

export async function loadPlaces(): Promise<{ places: Place[]; ciphertextLength: number }> {
  const blob = await blobs.get(PLACES_BLOB)
  if (!blob?.encryptedBlob) return { places: [], ciphertextLength: 0 }
  let doc: PlacesDoc
  // Written by the original (AES-256-GCM): opened by the package's second module.
  if (keyring.needsExtras(blob.encryptedBlob)) await keyring.loadExtras()
  try {
    doc = keyring.decryptPersonal<PlacesDoc>(userId(), PLACES_BLOB, blob.encryptedBlob)
  } catch {
    await assertKeyCurrent()
    throw new Error(t('errors.placesUndecryptable'))
  }
  return { places: doc.places ?? [], ciphertextLength: blob.encryptedBlob.length }
}

/** Thrown when another device rotated the master key since this one unlocked. */
export class StaleKeyError extends Error {}


/** Throws StaleKeyError when the server's key version is not the one this device unlocked. */
async function assertKeyCurrent(): Promise<number> {
  const { kmVersion } = await identity.kmVersion()
  if (kmVersion !== session.user?.kmVersion) throw new StaleKeyError(t('errors.staleKey'))
  return kmVersion
}

export async function savePlaces(places: Place[]): Promise<number> {
  // Writing under a superseded key would make the blob unreadable for every up-to-date device.
  const kmVersion = await assertKeyCurrent()
  const doc: PlacesDoc = { version: 1, places }
  const encrypted = keyring.encryptPersonal(userId(), PLACES_BLOB, doc)
  await blobs.put(PLACES_BLOB, encrypted, kmVersion)
  return encrypted.length
}
