// "My places": one encrypted personal blob. The server sees only the envelope.
import { blobs } from '../api/endpoints'
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
    throw new Error('Your saved places could not be decrypted with the key on this device.')
  }
  return { places: doc.places ?? [], ciphertextLength: blob.encryptedBlob.length }
}

export async function savePlaces(places: Place[]): Promise<number> {
  const doc: PlacesDoc = { version: 1, places }
  const encrypted = keyring.encryptPersonal(userId(), PLACES_BLOB, doc)
  await blobs.put(PLACES_BLOB, encrypted, session.user?.kmVersion ?? 1)
  return encrypted.length
}
