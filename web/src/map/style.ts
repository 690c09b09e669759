// Which map style the map screen draws: the operator's (`PARCHMENT_MAP_STYLE_URL`, served by
// `GET /config`), or a built-in one that needs no network at all, so an offline install and
// the tests still get a working map. The built-in style has only a background: places and
// friends are HTML markers and GeoJSON layers the app adds, so no glyphs or sprites are needed.
import type { StyleSpecification } from 'maplibre-gl'
import { config } from '../api/endpoints'

export const OFFLINE_STYLE: StyleSpecification = {
  version: 8,
  name: 'Parchment offline',
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eadfc8' } }],
}

export interface ChosenStyle {
  style: string | StyleSpecification
  /** `remote`: the operator's style URL; `offline`: the built-in one. */
  kind: 'remote' | 'offline'
}

/** The operator's style when one is configured; the built-in one otherwise or when the config cannot be read. */
export async function chooseStyle(): Promise<ChosenStyle> {
  try {
    const { mapStyleUrl } = await config.get()
    if (mapStyleUrl) return { style: mapStyleUrl, kind: 'remote' }
  } catch {
    /* no config (an older server, offline): the built-in style */
  }
  return { style: OFFLINE_STYLE, kind: 'offline' }
}
