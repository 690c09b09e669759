// src/stores/keyHistory.ts, bundled with esbuild and run in Node over a Map-backed localStorage:
// which served (signing key, key version) pairs the client refuses to adopt.
import { test, before, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const store = new Map()
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
}
let history

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'parchment-key-history-'))
  const file = join(out, 'key-history.mjs')
  await build({ entryPoints: [join(web, 'src/stores/keyHistory.ts')], bundle: true, format: 'esm', platform: 'node', outfile: file, logLevel: 'silent' })
  history = await import(pathToFileURL(file).href)
  rmSync(out, { recursive: true, force: true })
})
beforeEach(() => store.clear())

test('nothing seen yet: any key is adopted', () => {
  assert.equal(history.rollbackOf('u1', 'K1', 1), null)
})

test('after a rotation: the replaced key and lower versions are refused, newer ones adopted', () => {
  history.adopt('u1', 'K1', 1)
  history.adopt('u1', 'K2', 2)
  assert.equal(history.rollbackOf('u1', 'K2', 2), null, 'the current key')
  assert.match(history.rollbackOf('u1', 'K1', 1), /replaced/, 'the pre-rotation key at its version')
  assert.match(history.rollbackOf('u1', 'K1', 7), /replaced/, 'the pre-rotation key at a made-up higher version')
  assert.match(history.rollbackOf('u1', 'K9', 1), /version 1, older than version 2/)
  assert.match(history.rollbackOf('u1', 'K9', 2), /different signing key/)
  assert.equal(history.rollbackOf('u1', 'K3', 3), null, 'a rotation elsewhere')
  assert.equal(history.rollbackOf('u2', 'K1', 1), null, 'per account')
})

test('a restart (starting over) lets version 1 in, never a replaced key', () => {
  history.adopt('u1', 'K1', 1)
  history.adopt('u1', 'K2', 2)
  assert.equal(history.isVersionRestart('u1', 'K9', 1), true)
  assert.equal(history.isVersionRestart('u1', 'K1', 1), false, 'a replaced key is no restart')
  history.allowRestart('u1')
  assert.equal(history.rollbackOf('u1', 'K9', 1), null)
  assert.match(history.rollbackOf('u1', 'K2', 2), /replaced/, 'the key before the restart stays refused')
  assert.match(history.rollbackOf('u1', 'K1', 1), /replaced/)
})

test('a damaged record is treated as none', () => {
  localStorage.setItem(`${history.KEY_HISTORY_PREFIX}u1`, '{not json')
  assert.equal(history.rollbackOf('u1', 'K1', 1), null)
  history.adopt('u1', 'K1', 1)
  assert.equal(history.rollbackOf('u1', 'K1', 1), null)
})
