// The typed client (src/api/endpoints.ts) against the server's generated OpenAPI document:
// every call the app makes exists with that method, and the JSON fields the app sends and reads
// are the document's. Endpoints of later issues that the server does not have yet are listed
// as diagnostics (the flows that need them are skipped with that reason).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { serverBin } from '../harness.mjs'

// [method, path, issue] — mirrors src/api/endpoints.ts.
const CALLS = [
  ['post', '/auth/verify', 5], ['post', '/auth/sessions', 5], ['get', '/auth/sessions/current', 5],
  ['get', '/auth/sessions/current/permissions', 5], ['get', '/auth/sessions', 5], ['delete', '/auth/sessions', 5],
  ['delete', '/auth/sessions/all', 5], ['delete', '/auth/sessions/others', 5], ['delete', '/auth/sessions/{sessionId}', 5],
  ['post', '/auth/passkeys/register/options', 5], ['post', '/auth/passkeys/register/verify', 5],
  ['post', '/auth/passkeys/authenticate/options', 5], ['post', '/auth/passkeys/authenticate/verify', 5],
  ['get', '/auth/passkeys', 5], ['delete', '/auth/passkeys/{id}', 5],
  ['patch', '/users/me/profile', 5], ['get', '/users/me/preferences', 5], ['put', '/users/me/preferences', 5],
  ['get', '/users', 5], ['post', '/users', 5], ['get', '/users/roles', 5], ['get', '/users/permissions', 5],
  ['get', '/users/me/identity', 6], ['patch', '/users/me/alias', 6], ['put', '/users/me/keys', 6],
  ['get', '/users/me/km-version', 6], ['post', '/users/me/km-version/commit', 6],
  ['get', '/users/me/devices/{deviceId}/wrap-secret', 6], ['delete', '/users/me/devices/{deviceId}/wrap-secret', 13], ['post', '/users/me/device-wrap-secrets/rotate', 6],
  ['get', '/users/me/blobs', 6], ['get', '/users/me/blobs/{type}', 6], ['put', '/users/me/blobs/{type}', 6], ['delete', '/users/me/blobs/{type}', 6],
  ['get', '/users/me/wrapped-keys', 6], ['post', '/users/me/wrapped-keys', 6], ['delete', '/users/me/wrapped-keys/{credentialId}', 6],
  ['post', '/users/me/wrapped-keys/{credentialId}/used', 6], ['get', '/library/collections', 6],
  ['get', '/friends', 7], ['get', '/friends/invitations', 7], ['get', '/friends/resolve/{handle}', 7], ['post', '/friends/invite', 7],
  ['post', '/friends/invitations/{id}/accept', 7], ['post', '/friends/invitations/{id}/reject', 7],
  ['delete', '/friends/invitations/{id}', 7], ['delete', '/friends/{handle}', 7],
  ['post', '/users/me/identity/reset', 8], ['get', '/users/me/revocations/pending', 8], ['post', '/users/me/revocations/flush', 8],
  ['delete', '/users/me/revocations/pending/{peerHandle}', 8],
]

// Schema name → fields the app sends or reads.
const FIELDS = {
  CodeRequest: ['email'],
  CodeSignIn: ['method', 'email', 'token'],
  PasskeyRegistration: ['challengeId', 'credential', 'name'],
  PasskeyAssertion: ['challengeId', 'credential'],
  Ceremony: ['challengeId', 'publicKey'],
  SignedIn: ['token', 'user'],
  CurrentSession: ['user'],
  Permissions: ['roles', 'permissions'],
  SessionInfo: ['id', 'createdAt', 'userAgent', 'current'],
  PasskeyInfo: ['id', 'name', 'createdAt', 'lastUsedAt'],
  User: ['id', 'email', 'firstName', 'lastName', 'alias', 'signingKey', 'encryptionKey', 'kmVersion'],
  ProfilePatch: ['firstName', 'lastName'],
  Preferences: ['language', 'unitSystem'],
  PreferencesUpdate: ['language', 'unitSystem'],
  NewUser: ['email', 'firstName', 'lastName', 'roles'],
  UserPage: ['data', 'total', 'page', 'limit'],
  UserSummary: ['id', 'email', 'firstName', 'lastName', 'alias', 'roles', 'sessionCount'],
  RoleInfo: ['id', 'name', 'description'],
  PermissionInfo: ['id', 'name'],
}

const norm = (p) => p.replace(/\{[^}]+\}/g, '{}')

test('every call of the typed client exists in the server\'s OpenAPI document, with the same fields', (t) => {
  const doc = JSON.parse(execFileSync(serverBin(), ['openapi'], { encoding: 'utf8' }))
  const have = new Set()
  for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) have.add(`${m} ${norm(path)}`)
  const missing = CALLS.filter(([m, p]) => !have.has(`${m} ${norm(p)}`))
  const missingNow = missing.filter(([, , issue]) => issue === 5)
  assert.deepEqual(missingNow, [], 'issue-5 endpoints the app calls are all in the document')
  for (const issue of [6, 7, 8]) {
    const list = missing.filter(([, , i]) => i === issue).map(([m, p]) => `${m.toUpperCase()} ${p}`)
    if (list.length) t.diagnostic(`issue ${issue} endpoints not in this server yet (${list.length}): ${list.join(', ')}`)
  }
  const schemas = doc.components?.schemas ?? {}
  for (const [name, fields] of Object.entries(FIELDS)) {
    const schema = schemas[name]
    if (!schema) {
      t.diagnostic(`schema ${name} not in the document`)
      continue
    }
    const props = new Set(Object.keys(schema.properties ?? {}))
    for (const part of schema.allOf ?? []) {
      const ref = part.$ref?.split('/').pop()
      for (const k of Object.keys((ref ? schemas[ref] : part)?.properties ?? {})) props.add(k)
    }
    for (const f of fields) assert.ok(props.has(f), `${name}.${f} is in the document`)
  }
})
