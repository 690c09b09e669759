// The interface's two catalogs (src/i18n/locales/en-US.json and es-ES.json) and the keys the
// source uses: every key in both catalogs, every key the source names in a catalog, every message
// valid vue-i18n syntax with the same parameters in both languages, and nothing left untranslated
// unless it is listed below as the same in both. Then src/i18n itself, bundled with esbuild and run
// in Node: the language follows the preference, and dates, numbers and distances the locale and
// the unit system.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
// vue-i18n's own message compiler (a dependency of vue-i18n): the syntax the build precompiles.
import { baseCompile } from '@intlify/message-compiler'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const src = join(web, 'src')
const LOCALES = ['en-US', 'es-ES']
const catalogs = Object.fromEntries(LOCALES.map((l) => [l, JSON.parse(readFileSync(join(src, 'i18n', 'locales', `${l}.json`), 'utf8'))]))

/** Every message of a catalog by its dotted key. */
export function flatten(tree, prefix = '', out = new Map()) {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object') flatten(v, key, out)
    else out.set(key, v)
  }
  return out
}

/** Keys present in one catalog and missing in another, and values that are not strings. */
export function catalogProblems(byLocale) {
  const flat = Object.fromEntries(Object.entries(byLocale).map(([l, c]) => [l, flatten(c)]))
  const problems = []
  const all = new Set(Object.values(flat).flatMap((m) => [...m.keys()]))
  for (const key of [...all].sort()) {
    for (const [l, m] of Object.entries(flat)) {
      if (!m.has(key)) problems.push(`${key}: missing in ${l}`)
      else if (typeof m.get(key) !== 'string' || !m.get(key).trim()) problems.push(`${key}: not a message in ${l}`)
    }
  }
  return problems
}

/** The value at a dotted key (a message, a subtree, or undefined). */
function lookup(tree, key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), tree)
}

/** Keys the source names: t('…'), $t('…'), keypath="…", and any other 'ns.key' literal of a catalog namespace (the router's meta titles, getters). */
export function keysInSource(text, namespaces) {
  const keys = new Set()
  const prefixes = new Set()
  for (const m of text.matchAll(/(?<![\w$.])\$?t\(\s*(['"])([^'"\n]+)\1/g)) keys.add(m[2])
  for (const m of text.matchAll(/\bkeypath="([^"]+)"/g)) keys.add(m[1])
  // Single quotes only: double quotes in a template hold expressions (`v-if="session.user"`).
  for (const m of text.matchAll(/'([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)+)'/g)) {
    if (namespaces.has(m[1].split('.')[0])) keys.add(m[1])
  }
  // A key made at run time (`apiErrors.${code}`): its fixed part must be a subtree of both catalogs.
  for (const m of text.matchAll(/`([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)*)\.\$\{/g)) {
    if (namespaces.has(m[1].split('.')[0])) prefixes.add(m[1])
  }
  return { keys, prefixes }
}

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const f = join(dir, name)
    if (statSync(f).isDirectory()) return name === 'locales' ? [] : sourceFiles(f)
    return /\.(ts|vue)$/.test(name) && !name.endsWith('.d.ts') ? [f] : []
  })
}

/** The `{name}` parameters of a message (not the `{'@'}` literals), and its number of plural forms. */
function shape(message) {
  const params = [...message.matchAll(/\{\s*([A-Za-z_][\w]*)\s*\}/g)].map((m) => m[1])
  return { params: [...new Set(params)].sort().join(','), forms: message.split(/(?<!\{'[^']*)\|/).length }
}

// Messages that read the same in both languages (names, units, formats without words).
const SAME_IN_BOTH = new Set([
  'alias.label',
  'alias.title',
  'admin.roles',
  'admin.yourRoles',
  'admin.role.premium.name',
  'map.markerTitle',
  'preferences.imperial',
  'setup.alias.example',
])

test('the checker itself: a key in one catalog only, and an empty message, are reported', () => {
  const problems = catalogProblems({
    'en-US': { a: { b: 'B', c: 'C' }, d: 'D' },
    'es-ES': { a: { b: 'Be' }, d: '', e: 'E' },
  })
  assert.deepEqual(problems, ['a.c: missing in es-ES', 'd: not a message in es-ES', 'e: missing in en-US'])
  const { keys, prefixes } = keysInSource(`t('a.b') $t("a.c") import('x.y') x.t('no.no') <i18n-t keypath="d"> 'a.z' te(\`a.\${k}\`)`, new Set(['a', 'd']))
  assert.deepEqual([...keys].sort(), ['a.b', 'a.c', 'a.z', 'd'])
  assert.deepEqual([...prefixes], ['a'])
})

test('both catalogs have the same keys, each a message', () => {
  assert.deepEqual(catalogProblems(catalogs), [])
})

test('every key the source uses is in both catalogs', () => {
  const namespaces = new Set(Object.keys(catalogs['en-US']))
  const missing = []
  let used = 0
  for (const file of sourceFiles(src)) {
    const { keys, prefixes } = keysInSource(readFileSync(file, 'utf8'), namespaces)
    used += keys.size
    for (const key of keys) {
      for (const l of LOCALES) if (typeof lookup(catalogs[l], key) !== 'string') missing.push(`${relative(web, file)}: ${key} (${l})`)
    }
    for (const prefix of prefixes) {
      for (const l of LOCALES) {
        const node = lookup(catalogs[l], prefix)
        if (!node || typeof node !== 'object') missing.push(`${relative(web, file)}: ${prefix}.* (${l})`)
      }
    }
  }
  assert.ok(used > 300, `the scan finds the source's keys (${used})`)
  assert.deepEqual(missing, [])
})

test('every message is valid vue-i18n syntax, with the same parameters and plural forms in both languages', () => {
  const flat = Object.fromEntries(LOCALES.map((l) => [l, flatten(catalogs[l])]))
  const problems = []
  for (const l of LOCALES) {
    for (const [key, message] of flat[l]) {
      const errors = []
      baseCompile(message, { jit: true, onError: (e) => errors.push(e.message) })
      if (errors.length) problems.push(`${l} ${key}: ${errors.join('; ')}`)
    }
  }
  for (const [key, en] of flat['en-US']) {
    const es = flat['es-ES'].get(key)
    if (typeof es !== 'string') continue
    const a = shape(en)
    const b = shape(es)
    if (a.params !== b.params) problems.push(`${key}: parameters {${a.params}} in en-US, {${b.params}} in es-ES`)
    if (a.forms !== b.forms) problems.push(`${key}: ${a.forms} plural form(s) in en-US, ${b.forms} in es-ES`)
  }
  assert.deepEqual(problems, [])
})

test('nothing is left untranslated in es-ES', () => {
  const es = flatten(catalogs['es-ES'])
  const same = [...flatten(catalogs['en-US'])].filter(([key, en]) => es.get(key) === en && !SAME_IN_BOTH.has(key)).map(([key]) => key)
  assert.deepEqual(same, [], 'translate these, or list them in SAME_IN_BOTH')
})

let m
before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-i18n-'))
  const entry = join(out, 'entry.ts')
  writeFileSync(entry, ['i18n/index', 'live/age', 'live/sharingExpiry'].map((f) => `export * from ${JSON.stringify(join(src, f + '.ts'))}`).join('\n'))
  const file = join(out, 'i18n.mjs')
  await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: file, logLevel: 'silent' })
  m = await import(pathToFileURL(file).href)
  rmSync(out, { recursive: true, force: true })
})

test('the language: preference tags and browser languages to a catalog', () => {
  assert.equal(m.localeFor('es-ES'), 'es-ES')
  assert.equal(m.localeFor('es'), 'es-ES')
  assert.equal(m.localeFor('es-MX'), 'es-ES')
  assert.equal(m.localeFor('en'), 'en-US')
  assert.equal(m.localeFor('fr-FR'), 'en-US')
  assert.equal(m.localeFor('estonian'), 'en-US')
  assert.equal(m.localeFor(null), 'en-US')
})

test('a saved preference switches texts, dates, numbers and distances at once; signing out goes back', () => {
  const t0 = Date.UTC(2026, 5, 1, 12, 0, 0)
  m.resetPreferences()
  assert.equal(m.locale(), 'en-US', 'Node has no Spanish navigator.language')
  assert.equal(m.t('nav.places'), 'Places')
  assert.equal(m.formatAge(t0, t0 + 125_000), '2 min ago')
  assert.equal(m.formatDistance(25), '25 m')
  assert.equal(m.formatDistance(1234), '1.2 km')
  assert.equal(m.n(12345.5), '12,345.5')

  m.applyPreferences({ language: 'es-ES', unitSystem: 'imperial' })
  assert.equal(m.locale(), 'es-ES')
  assert.equal(m.t('nav.places'), 'Lugares')
  assert.equal(m.t('places.saved', { name: 'Faro' }), 'Se ha guardado «Faro».')
  assert.equal(m.formatAge(t0, t0 + 125_000), 'hace 2 min')
  assert.equal(m.formatAge(t0, t0 + 3_000), 'ahora mismo')
  assert.equal(m.formatDistance(25), '82 ft')
  assert.equal(m.formatDistance(3000), '1,9 mi')
  assert.equal(m.n(12345.5), '12.345,5')
  assert.equal(m.t('masterKey.collections', { n: 1 }, 1), '1 colección')
  assert.equal(m.t('masterKey.collections', { n: 3 }, 3), '3 colecciones')
  assert.equal(m.SHARING_CHOICES.find((c) => c.value === 'hour').label, 'durante 1 hora', 'the choices follow the language')
  assert.equal(m.describeExpiry(null), 'hasta que lo desactives')
  const now = new Date(2026, 5, 1, 10, 0)
  assert.match(m.describeExpiry(new Date(2026, 5, 1, 14, 5).toISOString(), now), /^hasta las 14:05$/)
  assert.match(m.describeExpiry(new Date(2026, 5, 2, 9, 0).toISOString(), now), /^hasta mañana a las 09:00$/)
  assert.match(m.d(new Date(2026, 5, 3), 'date'), /^3 jun 2026$/)
  assert.equal(m.t('signIn.emailPlaceholder'), 'tu@ejemplo.com', "an escaped '@' is a plain character")

  m.applyPreferences({ language: 'en', unitSystem: 'metric' })
  assert.equal(m.locale(), 'en-US')
  assert.equal(m.SHARING_CHOICES.find((c) => c.value === 'hour').label, 'for 1 hour')
  assert.equal(m.formatDistance(25), '25 m')
  m.applyPreferences({ language: 'es', unitSystem: 'imperial' })
  m.resetPreferences()
  assert.equal(m.locale(), 'en-US')
  assert.equal(m.unitSystem.value, 'metric')
})
