// The web app's API types against the server it runs with: src/api/schema.d.ts (which types
// every call in src/api/endpoints.ts; `npm run build` type-checks the app against it) must be
// exactly what openapi-typescript generates from this server binary's OpenAPI document. A
// server change that alters the document fails here until the types are regenerated, and the
// regenerated types fail the type check wherever the app no longer fits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { serverBin } from '../harness.mjs'
import { SCHEMA_FILE, apiTypes } from '../../scripts/api-types.mjs'

test('the generated API types are those of the server binary\'s OpenAPI document', async () => {
  const doc = JSON.parse(execFileSync(serverBin(), ['openapi'], { encoding: 'utf8' }))
  const fresh = await apiTypes(doc)
  const committed = readFileSync(SCHEMA_FILE, 'utf8')
  assert.ok(committed === fresh, 'web/src/api/schema.d.ts is stale: run `npm run api-types` in web/ and fix what the type check reports')
  // The client is typed by it: every path the app calls is a key of `paths`.
  const endpoints = readFileSync(new URL('../../src/api/endpoints.ts', import.meta.url), 'utf8')
  const called = [...endpoints.matchAll(/http\.(GET|POST|PUT|PATCH|DELETE)\('([^']+)'/g)].map((m) => `${m[1].toLowerCase()} ${m[2]}`)
  assert.ok(called.length >= 50, `the client makes ${called.length} typed calls`)
  for (const call of called) {
    const [method, path] = call.split(' ')
    assert.ok(doc.paths[path]?.[method], `${call} is in the document`)
  }
})
