// A STAND-IN for the issue-6 endpoints (identity, alias, keys, km-version commit, device wrap
// secrets, personal blobs, key slots) while parchment-server does not have them yet.
// It sits in front of a real server as a reverse proxy: everything else (sign-in, sessions,
// passkeys, users, preferences) is the real server. It authenticates each call by asking the
// real server who the cookie belongs to, and stores its rows in the SAME SQLite file with the
// table names of api.md §8, so the specs' database assertions read the same tables either way.
// The harness uses it only when the real server answers 404 for GET /users/me/identity and
// PARCHMENT_WEB_IDENTITY_STUB is not "0". It is test scaffolding, not a server.
import { createServer } from 'node:http'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS device_wrap_secrets (user_id TEXT NOT NULL, device_id TEXT NOT NULL, secret TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, rotated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, device_id));
CREATE TABLE IF NOT EXISTS encrypted_user_blobs (user_id TEXT NOT NULL, blob_type TEXT NOT NULL, encrypted_blob TEXT NOT NULL, nonce TEXT NOT NULL DEFAULT '', km_version INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (user_id, blob_type));
CREATE TABLE IF NOT EXISTS wrapped_master_keys (user_id TEXT NOT NULL, credential_id TEXT NOT NULL, wrapped_km TEXT NOT NULL, wrap_algo TEXT NOT NULL, slot_signature TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, last_used_at TEXT, PRIMARY KEY (user_id, credential_id));
`
const RESERVED = new Set(['admin', 'root', 'support', 'postmaster', 'abuse', 'administrator', 'system', 'security'])

const q = (v) => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`)

export function startIdentityStub({ db, upstream, port, publicUrl }) {
  const sql = (text) => {
    const out = execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-json', db], { encoding: 'utf8', input: text, maxBuffer: 64 << 20 })
    return out.trim() ? JSON.parse(out) : []
  }
  sql(SCHEMA)
  const domain = new URL(publicUrl).host

  const b64 = (s, n) => {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return false
    return Buffer.from(s, 'base64').length === n && Buffer.from(s, 'base64').toString('base64') === s
  }
  const envelope = (s) => {
    if (typeof s !== 'string') return false
    const bytes = Buffer.from(s, 'base64')
    return bytes.length >= 30 && bytes[0] === 2 && (bytes[1] === 0x01 || bytes[1] === 0x10) && bytes.length < 1024 * 1024
  }

  async function whoami(req) {
    const headers = {}
    if (req.headers.cookie) headers.cookie = req.headers.cookie
    if (req.headers.authorization) headers.authorization = req.headers.authorization
    const r = await fetch(`${upstream}/auth/sessions/current`, { headers })
    if (r.status !== 200) return null
    return (await r.json()).user
  }

  function send(res, status, body) {
    if (body === undefined) {
      res.writeHead(status)
      res.end()
      return
    }
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  const err = (res, status, code, message) => send(res, status, { code, message })

  function rotate(userId, exceptDevice) {
    const rows = sql(`SELECT device_id FROM device_wrap_secrets WHERE user_id=${q(userId)}`)
    const stmts = rows
      .filter((r) => r.device_id !== exceptDevice)
      .map((r) => `UPDATE device_wrap_secrets SET secret=${q(randomBytes(32).toString('base64'))}, rotated_at=CURRENT_TIMESTAMP WHERE user_id=${q(userId)} AND device_id=${q(r.device_id)};`)
    if (stmts.length) sql(`BEGIN; ${stmts.join(' ')} COMMIT;`)
  }

  async function forward(req, res, body) {
    const headers = { ...req.headers }
    delete headers['content-length']
    delete headers.host
    headers.host = new URL(publicUrl).host
    const r = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined, redirect: 'manual' })
    const out = Buffer.from(await r.arrayBuffer())
    const h = {}
    r.headers.forEach((v, k) => {
      if (!['content-encoding', 'transfer-encoding', 'content-length', 'connection'].includes(k)) h[k] = v
    })
    const cookies = r.headers.getSetCookie?.() ?? []
    if (cookies.length) h['set-cookie'] = cookies
    h['content-length'] = out.length
    res.writeHead(r.status, h)
    res.end(out)
    return r.status
  }

  async function handle(req, res) {
    const chunks = []
    for await (const c of req) chunks.push(c)
    const raw = Buffer.concat(chunks)
    const url = new URL(req.url, 'http://x')
    const path = url.pathname
    let m
    const mine = /^\/users\/me\/(identity|alias|keys|km-version|devices|device-wrap-secrets|blobs|wrapped-keys)(\/|$)/.test(path)
    if (path === '/auth/sessions/all' && req.method === 'DELETE') {
      const user = await whoami(req)
      const status = await forward(req, res, raw)
      if (user && status < 300) rotate(user.id, null)
      return
    }
    if (path === '/auth/sessions/others' && req.method === 'DELETE') {
      const user = await whoami(req)
      const deviceId = url.searchParams.get('deviceId')
      const status = await forward(req, res, raw)
      if (user && status < 300) rotate(user.id, deviceId)
      return
    }
    if ((m = path.match(/^\/auth\/passkeys\/([^/]+)$/)) && req.method === 'DELETE') {
      const user = await whoami(req)
      const status = await forward(req, res, raw)
      if (user && status < 300) sql(`DELETE FROM wrapped_master_keys WHERE user_id=${q(user.id)} AND credential_id=${q(decodeURIComponent(m[1]))}`)
      return
    }
    if (!mine) return forward(req, res, raw)
    const user = await whoami(req)
    if (!user) return err(res, 401, 'unauthorized', 'You must be signed in')
    if (req.method !== 'GET' && req.headers.cookie && req.headers.origin !== new URL(publicUrl).origin) return err(res, 401, 'unauthorized', 'You must be signed in')
    let body = {}
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString())
      } catch {
        return err(res, 400, 'bad_json', 'The body is not valid JSON')
      }
    }
    const uid = q(user.id)
    const row = () => sql(`SELECT alias, signing_key, encryption_key, km_version FROM users WHERE id=${uid}`)[0]

    if (path === '/users/me/identity' && req.method === 'GET') {
      const r = row()
      return send(res, 200, { handle: r.alias ? `${r.alias}@${domain}` : null, signingKey: r.signing_key, encryptionKey: r.encryption_key, domain, kmVersion: r.km_version })
    }
    if (path === '/users/me/alias' && req.method === 'PATCH') {
      const alias = body.alias
      if (typeof alias !== 'string' || !/^[A-Za-z0-9_]{3,30}$/.test(alias)) return err(res, 400, 'invalid_alias', 'alias: use 3-30 letters, digits or underscores')
      if (RESERVED.has(alias.toLowerCase())) return err(res, 400, 'reserved_alias', 'alias: that name is reserved')
      const taken = sql(`SELECT id FROM users WHERE alias_normalized=${q(alias.toLowerCase())} AND id<>${uid}`)
      if (taken.length) return err(res, 409, 'alias_taken', 'alias: that alias is already taken')
      sql(`UPDATE users SET alias=${q(alias)}, alias_normalized=${q(alias.toLowerCase())} WHERE id=${uid}`)
      return send(res, 200, { alias, handle: `${alias}@${domain}` })
    }
    if (path === '/users/me/keys' && req.method === 'PUT') {
      if (!b64(body.signingKey, 32) || !b64(body.encryptionKey, 32)) return err(res, 400, 'invalid_key', 'signingKey and encryptionKey: base64 of exactly 32 bytes')
      sql(`UPDATE users SET signing_key=${q(body.signingKey)}, encryption_key=${q(body.encryptionKey)} WHERE id=${uid}`)
      return send(res, 200, { success: true })
    }
    if (path === '/users/me/km-version' && req.method === 'GET') return send(res, 200, { kmVersion: row().km_version })
    if (path === '/users/me/km-version/commit' && req.method === 'POST') {
      const { expectedCurrent, signingKey, encryptionKey, blobs = [], collections = [], slots = [] } = body
      if (!Number.isInteger(expectedCurrent) || !b64(signingKey, 32) || !b64(encryptionKey, 32)) return err(res, 400, 'invalid_commit', 'expectedCurrent, signingKey, encryptionKey required')
      if (collections.length) return err(res, 400, 'invalid_commit', 'collections: not supported by the stub')
      for (const b of blobs) if (!/^[a-zA-Z0-9._:-]{1,64}$/.test(b.blobType) || !envelope(b.encryptedBlob)) return err(res, 400, 'invalid_blob', 'blobs: bad type or envelope')
      const owned = new Set(sql(`SELECT credential_id FROM wrapped_master_keys WHERE user_id=${uid}`).map((r) => r.credential_id))
      for (const s of slots) if (!owned.has(s.credentialId) || !envelope(s.wrappedKm)) return err(res, 400, 'invalid_slot', 'slots: unknown credential or bad envelope')
      const next = expectedCurrent + 1
      const ok = `(SELECT n FROM cas)=1`
      const script = [
        'BEGIN IMMEDIATE;',
        `UPDATE users SET signing_key=${q(signingKey)}, encryption_key=${q(encryptionKey)}, km_version=${next} WHERE id=${uid} AND km_version=${expectedCurrent};`,
        'CREATE TEMP TABLE cas AS SELECT changes() AS n;',
        // Everything below happens only if the compare-and-swap matched: one transaction.
        ...blobs.map((b) => `INSERT INTO encrypted_user_blobs (user_id, blob_type, encrypted_blob, nonce, km_version) SELECT ${uid}, ${q(b.blobType)}, ${q(b.encryptedBlob)}, '', ${next} WHERE ${ok} ON CONFLICT (user_id, blob_type) DO UPDATE SET encrypted_blob=excluded.encrypted_blob, nonce='', km_version=excluded.km_version, updated_at=CURRENT_TIMESTAMP;`),
        ...slots.map((s) => `UPDATE wrapped_master_keys SET wrapped_km=${q(s.wrappedKm)}, wrap_algo=${q(s.wrapAlgo ?? 'aes-256-gcm-prf-v1')}, slot_signature=${q(s.slotSignature)} WHERE user_id=${uid} AND credential_id=${q(s.credentialId)} AND ${ok};`),
        'SELECT n FROM cas;',
        'COMMIT;',
      ]
      const out = sql(script.join('\n'))
      if (!out.length || out[0].n !== 1) return err(res, 409, 'km_version_conflict', 'kmVersion mismatch: another device rotated first. Nothing was written.')
      return send(res, 200, { kmVersion: next })
    }
    if ((m = path.match(/^\/users\/me\/devices\/([^/]+)\/wrap-secret$/)) && req.method === 'GET') {
      const deviceId = decodeURIComponent(m[1])
      if (!/^[a-zA-Z0-9-]{8,64}$/.test(deviceId)) return err(res, 400, 'invalid_device_id', 'deviceId: 8-64 of [a-zA-Z0-9-]')
      sql(`INSERT INTO device_wrap_secrets (user_id, device_id, secret) VALUES (${uid}, ${q(deviceId)}, ${q(randomBytes(32).toString('base64'))}) ON CONFLICT DO NOTHING;`)
      const [r] = sql(`SELECT secret FROM device_wrap_secrets WHERE user_id=${uid} AND device_id=${q(deviceId)}`)
      return send(res, 200, { secret: r.secret })
    }
    if (path === '/users/me/device-wrap-secrets/rotate' && req.method === 'POST') {
      rotate(user.id, null)
      return send(res, 200, { ok: true })
    }
    if (path === '/users/me/blobs' && req.method === 'GET') {
      return send(res, 200, { blobs: sql(`SELECT blob_type AS blobType, km_version AS kmVersion FROM encrypted_user_blobs WHERE user_id=${uid} ORDER BY blob_type`) })
    }
    if ((m = path.match(/^\/users\/me\/blobs\/([^/]+)$/))) {
      const type = decodeURIComponent(m[1])
      if (!/^[a-zA-Z0-9._:-]{1,64}$/.test(type)) return err(res, 400, 'invalid_blob_type', 'type: ^[a-zA-Z0-9._:-]{1,64}$')
      if (req.method === 'GET') {
        const [r] = sql(`SELECT blob_type AS blobType, encrypted_blob AS encryptedBlob, nonce, km_version AS kmVersion FROM encrypted_user_blobs WHERE user_id=${uid} AND blob_type=${q(type)}`)
        return r ? send(res, 200, r) : send(res, 204)
      }
      if (req.method === 'PUT') {
        if (!envelope(body.encryptedBlob)) return err(res, 400, 'invalid_envelope', 'encryptedBlob: not a v2 envelope')
        sql(`INSERT INTO encrypted_user_blobs (user_id, blob_type, encrypted_blob, nonce, km_version) VALUES (${uid}, ${q(type)}, ${q(body.encryptedBlob)}, '', ${q(body.kmVersion ?? row().km_version)}) ON CONFLICT (user_id, blob_type) DO UPDATE SET encrypted_blob=excluded.encrypted_blob, km_version=excluded.km_version, updated_at=CURRENT_TIMESTAMP;`)
        return send(res, 200, { success: true })
      }
      if (req.method === 'DELETE') {
        sql(`DELETE FROM encrypted_user_blobs WHERE user_id=${uid} AND blob_type=${q(type)}`)
        return send(res, 200, { success: true })
      }
    }
    if (path === '/users/me/wrapped-keys' && req.method === 'GET') {
      return send(res, 200, { slots: sql(`SELECT credential_id AS credentialId, wrapped_km AS wrappedKm, wrap_algo AS wrapAlgo, slot_signature AS slotSignature, created_at AS createdAt, last_used_at AS lastUsedAt FROM wrapped_master_keys WHERE user_id=${uid}`) })
    }
    if (path === '/users/me/wrapped-keys' && req.method === 'POST') {
      const { credentialId, wrappedKm, wrapAlgo, slotSignature } = body
      const own = sql(`SELECT id FROM passkeys WHERE id=${q(credentialId)} AND user_id=${uid}`)
      if (!own.length) return err(res, 400, 'unknown_credential', 'credentialId: not one of your passkeys')
      if (!envelope(wrappedKm) || !b64(slotSignature, 64)) return err(res, 400, 'invalid_slot', 'wrappedKm or slotSignature malformed')
      sql(`INSERT INTO wrapped_master_keys (user_id, credential_id, wrapped_km, wrap_algo, slot_signature) VALUES (${uid}, ${q(credentialId)}, ${q(wrappedKm)}, ${q(wrapAlgo ?? 'aes-256-gcm-prf-v1')}, ${q(slotSignature)}) ON CONFLICT (user_id, credential_id) DO UPDATE SET wrapped_km=excluded.wrapped_km, wrap_algo=excluded.wrap_algo, slot_signature=excluded.slot_signature;`)
      return send(res, 201, { success: true })
    }
    if ((m = path.match(/^\/users\/me\/wrapped-keys\/([^/]+)(\/used)?$/))) {
      const cred = decodeURIComponent(m[1])
      if (m[2] && req.method === 'POST') {
        sql(`UPDATE wrapped_master_keys SET last_used_at=CURRENT_TIMESTAMP WHERE user_id=${uid} AND credential_id=${q(cred)}`)
        return send(res, 200, { success: true })
      }
      if (!m[2] && req.method === 'DELETE') {
        sql(`DELETE FROM wrapped_master_keys WHERE user_id=${uid} AND credential_id=${q(cred)}`)
        return send(res, 200, { success: true })
      }
    }
    return err(res, 404, 'not_found', 'This endpoint does not exist')
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) err(res, 500, 'stub_error', String(e))
      else res.end()
    })
  })
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ close: () => new Promise((r) => server.close(r)) })))
}
