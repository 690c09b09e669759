// The interface language and units. vue-i18n with two catalogs (locales/en-US.json and
// locales/es-ES.json). In the build, @intlify/unplugin-vue-i18n precompiles the catalogs to
// message ASTs and bundles vue-i18n's runtime-only build: no message compiler and nothing
// evaluated in the page, as the server's Content-Security-Policy (no 'unsafe-eval') requires.
// Dates and numbers go through Intl in the current locale, distances in the user's unit system.
//
// The language is the user's saved preference once signed in (stores/preferences.ts), and before
// that the browser's: Spanish if navigator.language is Spanish, English (US) otherwise.
import { ref, watch } from 'vue'
import { createI18n } from 'vue-i18n'
import enUS from './locales/en-US.json'
import esES from './locales/es-ES.json'

export const LOCALES = ['en-US', 'es-ES'] as const
export type Locale = (typeof LOCALES)[number]
export type UnitSystem = 'metric' | 'imperial'

/** A language tag (a saved preference such as `es`, or the browser's `es-MX`) to a catalog. */
export function localeFor(tag: string | null | undefined): Locale {
  return /^es(-|_|$)/i.test(tag ?? '') ? 'es-ES' : 'en-US'
}

/** The language before sign-in: the browser's, when it is one we have. */
export function browserLocale(): Locale {
  return localeFor(typeof navigator === 'undefined' ? null : navigator.language)
}

const dateTimeFormats = {
  date: { year: 'numeric', month: 'short', day: 'numeric' },
  dateTime: { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' },
  time: { hour: '2-digit', minute: '2-digit' },
} as const

export const i18n = createI18n({
  legacy: false,
  globalInjection: true,
  locale: browserLocale(),
  fallbackLocale: 'en-US',
  messages: { 'en-US': enUS, 'es-ES': esES },
  datetimeFormats: { 'en-US': dateTimeFormats, 'es-ES': dateTimeFormats },
  // A missing key is caught by tests/unit/i18n.test.mjs; in the page it falls back to English.
  missingWarn: false,
  fallbackWarn: false,
})

const global = i18n.global

/** Translates a catalog key (`{name}` parameters, `a | b` plural forms chosen by `plural`). */
export function t(key: string, params: Record<string, unknown> = {}, plural?: number): string {
  return plural === undefined ? global.t(key, params) : global.t(key, params, plural)
}

/** Whether the catalog has a key (for keys made from a server's error code). */
export function te(key: string): boolean {
  return global.te(key, global.locale.value) || global.te(key, 'en-US')
}

/** A date in the current locale: `date` (day), `dateTime` (day and time) or `time`. */
export function d(value: Date | number | string, format: keyof typeof dateTimeFormats = 'date'): string {
  return global.d(typeof value === 'string' ? new Date(value) : value, format)
}

/** A number in the current locale (grouping and decimal separators). */
export function n(value: number, options: Intl.NumberFormatOptions = {}): string {
  return new Intl.NumberFormat(locale(), options).format(value)
}

export function locale(): Locale {
  return global.locale.value as Locale
}

/** Changes the language of the whole interface at once (and of the document, for screen readers). */
export function setLocale(l: Locale) {
  global.locale.value = l
  if (typeof document !== 'undefined') document.documentElement.lang = l
}

/** The user's unit system (`unitSystem` preference): distances shown in metres or feet. */
export const unitSystem = ref<UnitSystem>('metric')

/** The saved preferences, applied at once (a language or unit system we lack reads as the default). */
export function applyPreferences(p: { language?: string | null; unitSystem?: string | null }) {
  if (p.language) setLocale(localeFor(p.language))
  if (p.unitSystem) unitSystem.value = p.unitSystem === 'imperial' ? 'imperial' : 'metric'
}

/** Signed out: the browser's language again, metric units. */
export function resetPreferences() {
  setLocale(browserLocale())
  unitSystem.value = 'metric'
}

const FEET_PER_METRE = 1 / 0.3048
const METRES_PER_MILE = 1609.344

/** A distance for people: "25 m", "1.2 km" (metric) or "82 ft", "0.7 mi" (imperial), in the current locale. */
export function formatDistance(metres: number): string {
  const unit = (u: string, value: number, digits: number) =>
    new Intl.NumberFormat(locale(), { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: digits }).format(value)
  if (unitSystem.value === 'imperial') {
    const feet = metres * FEET_PER_METRE
    return feet < 1000 ? unit('foot', Math.round(feet), 0) : unit('mile', metres / METRES_PER_MILE, 1)
  }
  return metres < 1000 ? unit('meter', Math.round(metres), 0) : unit('kilometer', metres / 1000, 1)
}

/** Runs `fn` now and whenever the language changes (document titles, texts set outside Vue). */
export function onLocale(fn: (l: Locale) => void) {
  return watch(() => global.locale.value as Locale, fn, { immediate: true })
}

if (typeof document !== 'undefined') document.documentElement.lang = locale()
