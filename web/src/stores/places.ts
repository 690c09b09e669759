// "My places": one encrypted personal blob. The server sees only the envelope.
import { blobs, identity } from '../api/endpoints'
import { keyring } from '../crypto'
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
  if (!session.user) throw new Error('Sign in first.')
  return session.user.id
}

export async function loadPlaces(): Promise<{ places: Place[]; ciphertextLength: number }> {
  const blob = await blobs.get(PLACES_BLOB)
  if (!blob?.encryptedBlob) return { places: [], ciphertextLength: 0 }
  let doc: PlacesDoc
  try {
    doc = keyring.decryptPersonal<PlacesDoc>(userId(), PLACES_BLOB, blob.encryptedBlob)
  } catch {
    await assertKeyCurrent()
    throw new Error('Your saved places could not be decrypted with the key on this device.')
  }
  return { places: doc.places ?? [], ciphertextLength: blob.encryptedBlob.length }
}

/** Thrown when another device rotated the master key since this one unlocked. */
export class StaleKeyError extends Error {}

const STALE = 'Your master key was rotated on another device. Reload to unlock with the new key, then try again.'

/** Throws StaleKeyError when the server's key version is not the one this device unlocked. */
async function assertKeyCurrent(): Promise<number> {
  const { kmVersion } = await identity.kmVersion()
  if (kmVersion !== session.user?.kmVersion) throw new StaleKeyError(STALE)
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
