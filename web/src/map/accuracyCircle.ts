// The accuracy circle drawn around a friend's marker: a GeoJSON polygon whose vertices lie
// `radiusM` metres from the centre on the sphere (a circle in pixels would mislead when zoomed).
import type { Point } from '../live/sendThrottle'

const EARTH_RADIUS_M = 6_371_008.8

/** The point `distanceM` from `from` in direction `bearingDeg` (0 = north, clockwise). */
export function destination(from: Point, distanceM: number, bearingDeg: number): Point {
  const rad = Math.PI / 180
  const d = distanceM / EARTH_RADIUS_M
  const b = bearingDeg * rad
  const lat1 = from.lat * rad
  const lng1 = from.lng * rad
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b))
  const lng2 = lng1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2))
  // Back into -180…180 so the ring does not jump across the map at the antimeridian.
  return { lat: lat2 / rad, lng: ((((lng2 / rad + 540) % 360) + 360) % 360) - 180 }
}

export interface CirclePolygon {
  type: 'Polygon'
  /** One closed ring of [lng, lat] pairs (GeoJSON order), first = last. */
  coordinates: [number, number][][]
}

export function accuracyCircle(center: Point, radiusM: number, steps = 48): CirclePolygon {
  const ring: [number, number][] = []
  for (let i = 0; i < steps; i++) {
    const p = destination(center, radiusM, (360 * i) / steps)
    ring.push([p.lng, p.lat])
  }
  ring.push(ring[0])
  return { type: 'Polygon', coordinates: [ring] }
}
