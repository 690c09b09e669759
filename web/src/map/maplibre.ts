// MapLibre GL as this app loads it under its Content-Security-Policy: the stylesheet as a file
// Vite emits (an injected <style> would be refused) and the worker as a script of our own
// origin (MapLibre 6 would otherwise look for it next to its own module, which the bundle moves).
import { setWorkerUrl } from 'maplibre-gl'
import 'maplibre-gl/dist/maplibre-gl.css'
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url'

setWorkerUrl(new URL(workerUrl, location.href).href)

export { LngLatBounds, Map as MapLibreMap, Marker, NavigationControl } from 'maplibre-gl'
export type { GeoJSONSource, MapMouseEvent } from 'maplibre-gl'
