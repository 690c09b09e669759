// The HTML elements MapLibre places on the map for friends and places. Built with the DOM
// (no innerHTML: names come from other people), and carrying data-* attributes with the exact
// position, which the tests read.
import { formatDistance, t } from '../i18n'
import { formatAge } from '../live/age'
import type { FriendPosition } from '../stores/friendLocations'

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag)
  e.className = className
  if (text !== undefined) e.textContent = text
  return e
}

/** A friend: a dot exactly at the position, their name and the age of the fix beside it. */
export function friendMarkerElement(): HTMLElement {
  const root = el('div', 'friend-marker')
  root.dataset.test = 'friend-marker'
  const label = el('span', 'marker-label')
  label.append(el('strong', 'marker-name'), el('span', 'marker-age'))
  root.append(label)
  return root
}

export function updateFriendMarker(root: HTMLElement, p: FriendPosition, now: number) {
  root.dataset.handle = p.handle
  root.dataset.lat = String(p.lat)
  root.dataset.lng = String(p.lng)
  root.dataset.accuracy = p.accuracy === null ? '' : String(p.accuracy)
  const age = formatAge(p.sentAt, now)
  root.querySelector('.marker-name')!.textContent = p.name
  root.querySelector('.marker-age')!.textContent = age
  root.title =
    p.accuracy === null
      ? t('map.markerTitle', { name: p.name, handle: p.handle, age })
      : t('map.markerTitleWithin', { name: p.name, handle: p.handle, age, distance: formatDistance(p.accuracy) })
}

/** One of my saved places. */
export function placeMarkerElement(name: string, lat: number, lng: number): HTMLElement {
  const root = el('div', 'place-marker')
  root.dataset.test = 'map-place'
  root.dataset.lat = String(lat)
  root.dataset.lng = String(lng)
  root.title = name
  root.append(el('span', 'marker-label', name))
  return root
}
