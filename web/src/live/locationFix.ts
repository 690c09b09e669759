// The plaintext inside a LOCATION_UPDATE's sealed blob: the original's `LocationData`, written
// as it writes it (`JSON.stringify`, members in its order, absent ones left out), so its apps
// read ours and ours read theirs (ecies-friend-v2, ../shared/vectors/ecies.json).

/** One position as friends exchange it. `timestamp` is the fix's time in epoch milliseconds. */
export interface LocationFix {
  lat: number
  lng: number
  accuracy?: number
  altitude?: number
  altitudeAccuracy?: number
  speed?: number
  heading?: number
  battery?: number
  batteryCharging?: boolean
  timestamp: number
}

// The original's member order; JSON.stringify keeps insertion order.
const NUMBER_MEMBERS = ['accuracy', 'altitude', 'altitudeAccuracy', 'speed', 'heading'] as const

/** What the browser's geolocation gives, reduced to the fields the format carries. */
export interface PositionReading {
  latitude: number
  longitude: number
  accuracy?: number | null
  altitude?: number | null
  altitudeAccuracy?: number | null
  speed?: number | null
  heading?: number | null
  timestamp: number
}

/**
 * A fix from a geolocation reading. Unknown values (null, and the NaN heading of a device at
 * rest) are left out rather than sent as `null`, as the original does with `?? undefined`.
 * Battery level is not sent: the format allows leaving it out and nobody asked for it.
 */
export function fixFromReading(r: PositionReading): LocationFix {
  const values = { accuracy: r.accuracy, altitude: r.altitude, altitudeAccuracy: r.altitudeAccuracy, speed: r.speed, heading: r.heading }
  const fix: Record<string, number> = { lat: r.latitude, lng: r.longitude }
  for (const k of NUMBER_MEMBERS) {
    const v = values[k]
    if (typeof v === 'number' && Number.isFinite(v)) fix[k] = v
  }
  fix.timestamp = r.timestamp
  return fix as unknown as LocationFix
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The bytes to seal. */
export function encodeFix(fix: LocationFix): Uint8Array {
  return encoder.encode(JSON.stringify(fix))
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/**
 * Reads an opened share; `null` for anything that is not a plausible position (a friend's
 * buggy or hostile app must not put a marker at NaN or crash the map).
 */
export function decodeFix(bytes: Uint8Array): LocationFix | null {
  let v: unknown
  try {
    v = JSON.parse(decoder.decode(bytes))
  } catch {
    return null
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  if (!finite(o.lat) || !finite(o.lng) || Math.abs(o.lat) > 90 || Math.abs(o.lng) > 180) return null
  if (!finite(o.timestamp)) return null
  // Rebuilt member by member in the format's order: nothing unknown is kept, and writing it
  // again gives the sender's bytes.
  const fix: Record<string, number | boolean> = { lat: o.lat, lng: o.lng }
  for (const k of NUMBER_MEMBERS) if (finite(o[k])) fix[k] = o[k] as number
  if (finite(o.accuracy) && o.accuracy < 0) delete fix.accuracy
  if (finite(o.battery)) fix.battery = o.battery
  if (typeof o.batteryCharging === 'boolean') fix.batteryCharging = o.batteryCharging
  fix.timestamp = o.timestamp
  return fix as unknown as LocationFix
}
