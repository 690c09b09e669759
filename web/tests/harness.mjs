// Test harness: real parchment-server processes on temp SQLite dirs, Debian's Chromium driven
// by playwright-core, WebAuthn through Chromium's virtual authenticator (CDP).
// Needs: web/dist (npm run build) and PARCHMENT_SERVER_BIN (path to the server binary).
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const WEB_DIST = resolve(process.env.PARCHMENT_WEB_DIST ?? join(here, '..', 'dist'))
export const RESULTS = resolve(join(here, '..', 'test-results'))
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'

export function serverBin() {
  const bin = process.env.PARCHMENT_SERVER_BIN
  if (!bin || !existsSync(bin)) throw new Error('Set PARCHMENT_SERVER_BIN to the parchment-server binary.')
  if (!existsSync(join(WEB_DIST, 'index.html'))) throw new Error(`No built app in ${WEB_DIST}: run npm run build first.`)
  return bin
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.unref()
    s.on('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function spawnServer(bin, env, url) {
  const log = []
  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', (d) => log.push(d.toString()))
  child.stderr.on('data', (d) => log.push(d.toString()))
  let exited = null
  child.on('exit', (code) => (exited = code ?? 'signal'))
  const deadline = Date.now() + 30000
  for (;;) {
    if (exited !== null) throw new Error(`server exited (${exited}):\n${log.join('')}`)
    try {
      const r = await fetch(`${url}/auth/sessions/current`)
      if (r.status === 204 || r.status === 200) break
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${log.join('')}`)
    await sleep(100)
  }
  return {
    log,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM')
        for (let i = 0; i < 50 && exited === null; i++) await sleep(100)
        if (exited === null) child.kill('SIGKILL')
      }
    },
  }
}

/** Starts one server on http://localhost:<port> with its own SQLite dir and mail dir. */
export async function startServer({ name = 'a', env = {} } = {}) {
  const bin = serverBin()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `parchment-web-${name}-`))
  const dataDir = join(dir, 'data')
  const mailDir = join(dir, 'mail')
  mkdirSync(dataDir)
  mkdirSync(mailDir)
  const url = `http://localhost:${port}`
  const fullEnv = {
    ...process.env,
    PARCHMENT_DATA_DIR: dataDir,
    PARCHMENT_MAIL_DIR: mailDir,
    PARCHMENT_PUBLIC_URL: url,
    PARCHMENT_BIND: `127.0.0.1:${port}`,
    PARCHMENT_WEB_DIR: WEB_DIST,
    PARCHMENT_OPEN_REGISTRATION: 'true',
    PARCHMENT_FEDERATION_ALLOW_HTTP: 'true',
    PARCHMENT_RATE_LIMITS: 'off',
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...env,
  }
  const proc = await spawnServer(bin, fullEnv, url)
  const log = proc.log
  const server = {
    url,
    port,
    dir,
    dataDir,
    mailDir,
    env: fullEnv,
    log,
    db: join(dataDir, 'parchment.db'),
    /** Runs SQL on the server's SQLite database (read-only use), rows as objects. */
    sql(query) {
      const out = execFileSync('sqlite3', ['-json', '-readonly', server.db, query], { encoding: 'utf8' })
      return out.trim() ? JSON.parse(out) : []
    },
    /** The raw database bytes, WAL included: for "no plaintext at rest" checks. */
    rawBytes() {
      const parts = [server.db, `${server.db}-wal`].filter(existsSync).map((f) => readFileSync(f))
      return Buffer.concat(parts)
    },
    /** Every file the server keeps in its data dir (database, -wal, -shm, key…), as raw bytes. */
    dataDirBytes() {
      const files = []
      const walk = (d) => {
        for (const name of readdirSync(d)) {
          const f = join(d, name)
          if (statSync(f).isDirectory()) walk(f)
          else files.push(f)
        }
      }
      walk(dataDir)
      return { files, bytes: Buffer.concat(files.map((f) => readFileSync(f))) }
    },
    /** Runs a CLI subcommand against the same data dir (admin create-user, issue-token…). */
    cli(args) {
      return execFileSync(bin, args, { env: fullEnv, encoding: 'utf8' })
    },
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** The newest sign-in code mailed to `email` (waits for the mail file). */
export async function readCode(server, email, after = 0) {
  const deadline = Date.now() + 10000
  for (;;) {
    const files = readdirSync(server.mailDir)
      .filter((f) => f.includes(email))
      .sort()
    const fresh = files.slice(after)
    if (fresh.length) {
      const text = readFileSync(join(server.mailDir, fresh[fresh.length - 1]), 'utf8').replace(/=\r?\n/g, '')
      const m = text.match(/code is:?\s*(\d{6,10})/i) ?? text.match(/\b(\d{8})\b/)
      if (m) return m[1]
    }
    if (Date.now() > deadline) throw new Error(`no code mailed to ${email}`)
    await sleep(100)
  }
}

export function mailCount(server, email) {
  return readdirSync(server.mailDir).filter((f) => f.includes(email)).length
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  })
}

/** Servers a and b and a browser, for a flow between two servers; `stopTwoServers` ends them. */
export async function startTwoServers() {
  const started = {}
  try {
    started.A = await startServer({ name: 'a' })
    started.B = await startServer({ name: 'b' })
    started.browser = await launch()
    return started
  } catch (e) {
    await stopTwoServers(started)
    throw e
  }
}

/** Ends what `startTwoServers` started (whatever of it did start). */
export async function stopTwoServers({ A, B, browser }) {
  await browser?.close().catch(() => {})
  await A?.stop()
  await B?.stop()
}

/**
 * A new browser context ("a device") with a page, a virtual passkey authenticator (with PRF),
 * and a record of console errors and page errors (asserted empty by `assertNoConsoleErrors`).
 * `geolocation` ({latitude, longitude, accuracy?}) grants the location permission and sets the
 * position; `context.setGeolocation` moves it. `locale` is the browser's language
 * (navigator.language), en-US unless given.
 */
export async function newDevice(browser, { width = 1100, height = 900, mobile = false, geolocation = null, locale = 'en-US' } = {}) {
  const context = await browser.newContext({
    viewport: mobile ? { width: 390, height: 844 } : { width, height },
    acceptDownloads: true,
    locale,
    ...(geolocation ? { permissions: ['geolocation'], geolocation } : {}),
  })
  const page = await context.newPage()
  const errors = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} @ ${m.location()?.url ?? ''}`)
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('dialog', (d) => d.accept())
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: true,
      automaticPresenceSimulation: true,
    },
  })
  return {
    context,
    page,
    errors,
    cdp,
    authenticatorId,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
    },
    /** Errors the app logged, except the ones a test provoked on purpose. */
    assertNoConsoleErrors(allowed = []) {
      const bad = errors.filter((e) => !allowed.some((a) => (a instanceof RegExp ? a.test(e) : e.includes(a))))
      assert.deepEqual(bad, [], `console errors: ${bad.join('\n')}`)
    },
    async close() {
      await context.close()
    },
  }
}

export async function shot(page, name) {
  mkdirSync(RESULTS, { recursive: true })
  // A sticky header lands mid-page in a full-page capture: pin it to the top for the picture.
  // Through the CSSOM: the server's CSP (style-src 'self') refuses an injected <style> tag.
  await page.evaluate(() => document.querySelectorAll('.topbar').forEach((el) => el.style.setProperty('position', 'static', 'important')))
  await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true })
}

/** Email-code sign-in through the UI. Lands wherever the app sends the user next. */
export async function signInWithCode(page, server, email) {
  await page.goto(`${server.url}/sign-in`)
  await page.fill('[data-test=email]', email)
  const before = mailCount(server, email)
  await page.click('[data-test=send-code]')
  await page.waitForSelector('[data-test=code]')
  const code = await readCode(server, email, before)
  await page.fill('[data-test=code]', code)
  await page.click('[data-test=verify-code]')
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'))
}

/** First run through the UI: returns the recovery key the app showed. */
export async function createIdentity(page, alias, { screenshots = false } = {}) {
  await page.waitForSelector('[data-test=create-identity]')
  if (screenshots) await shot(page, '02-setup-start')
  await page.click('[data-test=create-identity]')
  const recoveryKey = await readRecoveryKey(page)
  if (screenshots) await shot(page, '02-setup-recovery-key')
  await page.click('[data-test=saved-key]')
  const n = Number(await page.textContent('[data-test=ask-group]'))
  await page.fill('[data-test=retype]', recoveryKey.split('-')[n - 1])
  await page.click('[data-test=confirm-retype]')
  await page.fill('[data-test=alias]', alias)
  if (screenshots) await shot(page, '02-setup-alias')
  await page.click('[data-test=finish-setup]')
  await page.waitForURL((u) => u.pathname === '/' || u.pathname === '/start-over')
  await page.waitForSelector('[data-test=place-form], [data-test=revocations]')
  return recoveryKey
}

/** Signs in a brand-new user and creates their identity; returns the recovery key. */
export async function newUser(page, server, email, alias) {
  await signInWithCode(page, server, email)
  return createIdentity(page, alias)
}

/** Calls the API from inside the page (cookie session, same origin). */
export async function apiFromPage(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const r = await fetch(path, {
        method,
        credentials: 'include',
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await r.text()
      return { status: r.status, body: text ? JSON.parse(text) : null }
    },
    [method, path, body],
  )
}

/** A fixture for one spec: one server and one browser, cleaned up after. */
export async function fixture() {
  const server = await startServer()
  let browser
  try {
    browser = await launch()
  } catch (e) {
    await server.stop()
    throw e
  }
  return {
    server,
    browser,
    async close() {
      await browser.close().catch(() => {})
      await server.stop()
    },
  }
}

/** Whether the server has a route (signed out: a guarded route answers 401, a missing one 404). */
export async function hasEndpoint(server, method, path) {
  const r = await fetch(`${server.url}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'GET' ? undefined : '{}' })
  // Unrouted GETs fall through to the web app's index.html.
  const html = (r.headers.get('content-type') ?? '').includes('text/html')
  return r.status !== 404 && r.status !== 405 && !html
}

/** Skips a test when the server lacks an endpoint the flow needs (reported, not hidden). */
export async function requireEndpoints(t, server, list) {
  for (const [method, path] of list) {
    if (!(await hasEndpoint(server, method, path))) {
      t.skip(`server has no ${method} ${path} yet`)
      return false
    }
  }
  return true
}

/** Appends a measured figure to test-results/figures.json (and prints it). */
export function figure(name, value, unit) {
  mkdirSync(RESULTS, { recursive: true })
  const file = join(RESULTS, 'figures.json')
  const all = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
  all[name] = { value, unit, at: new Date().toISOString() }
  writeFileSync(file, JSON.stringify(all, null, 2))
  console.log(`# figure ${name}: ${value} ${unit}`)
}

export const IDENTITY_ENDPOINTS = [
  ['GET', '/users/me/identity'],
  ['PUT', '/users/me/keys'],
  ['PATCH', '/users/me/alias'],
  ['GET', '/users/me/devices/abcdefgh-1234/wrap-secret'],
]

export const BLOB_ENDPOINTS = [
  ['GET', '/users/me/blobs'],
  ['PUT', '/users/me/blobs/places'],
]
export const SLOT_ENDPOINTS = [['GET', '/users/me/wrapped-keys']]

/** Adds a place through the UI. */
export async function addPlace(page, name, lat = '', lng = '', note = '') {
  const count = await page.locator('[data-test=place]').count()
  await page.fill('[data-test=place-name]', name)
  await page.fill('[data-test=place-lat]', lat)
  await page.fill('[data-test=place-lng]', lng)
  await page.fill('[data-test=place-note]', note)
  await page.click('[data-test=add-place]')
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=place]').length === n + 1, count)
}

/** Registers a passkey from Settings (it is enrolled as a key slot when PRF works). */
export async function addPasskey(page, server, name = 'Test key') {
  await page.goto(`${server.url}/settings`)
  await page.fill('[data-test=passkey-name]', name)
  await page.click('[data-test=add-passkey]')
  await page.waitForSelector('[data-test=passkey-done], [data-test=passkey-error]')
  const err = await page.locator('[data-test=passkey-error]').count()
  if (err) throw new Error(await page.textContent('[data-test=passkey-error]'))
}

/** The recovery key as the page shows it (groups of four, joined). */
export async function readRecoveryKey(page, scope = '') {
  const el = await page.waitForSelector(`${scope} [data-test=recovery-key]`.trim())
  return (await el.textContent()).replace(/\s+/g, '')
}

/** Writes to a server's database behind its back (what a compromised or lying server could serve, or time passing). */
export function tamper(server, sql) {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', server.db, sql])
}

/** `from` invites `to`, `to` accepts; both lists show the other. */
export async function befriend(from, fromServer, to, toServer, toHandle) {
  await from.page.goto(`${fromServer.url}/people`)
  await from.page.fill('[data-test=invite-handle]', toHandle)
  await from.page.click('[data-test=invite]')
  await from.page.waitForSelector('[data-test=outgoing-invite]')
  await to.page.goto(`${toServer.url}/people`)
  await to.page.waitForSelector('[data-test=incoming-invite]', { timeout: 20000 })
  await to.page.click('[data-test=accept]')
  await to.page.waitForSelector('[data-test=friend]')
  for (let i = 0; i < 40 && !(await from.page.locator('[data-test=friend]').count()); i++) {
    await from.page.reload()
    await from.page.waitForTimeout(250)
  }
  await from.page.waitForSelector('[data-test=friend]')
}
