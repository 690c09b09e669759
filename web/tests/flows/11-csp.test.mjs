// Flow 11: the app as the server serves it (issue 13 item 9). Every screen, in every state that
// shows it, loads under the server's Content-Security-Policy with no violation: none reported
// to the page (`securitypolicyviolation`, collected by an init script) and none logged to the
// console. The headers of `/`, a screen path and an asset carry the policy.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fixture, newDevice, signInWithCode, createIdentity, addPlace, readCode, mailCount, shot } from '../harness.mjs'

// Every screen path the router declares: a new screen fails this flow until it is visited here.
const ROUTES = [...readFileSync(new URL('../../src/router.ts', import.meta.url), 'utf8').matchAll(/\{ path: '(\/[^':]*)'/g)].map((m) => m[1])

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

/** Records every CSP violation of the device's pages: page events and console messages. */
async function watchCsp(dev) {
  const violations = []
  await dev.page.exposeBinding('__reportCspViolation', (_source, v) => violations.push(v))
  await dev.context.addInitScript(() => {
    window.__cspViolations = []
    document.addEventListener(
      'securitypolicyviolation',
      (e) => {
        const v = { directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample, page: location.pathname }
        window.__cspViolations.push(v)
        window.__reportCspViolation?.(v)
      },
      true,
    )
  })
  dev.page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push({ console: m.text(), page: new URL(dev.page.url()).pathname })
  })
  return {
    violations,
    /** The violations the current document collected itself (window.__cspViolations). */
    async inPage() {
      return dev.page.evaluate(() => window.__cspViolations ?? null)
    },
  }
}

test('the server sends the policy with the app, its screens and its assets', async () => {
  const { server } = fx
  const index = await fetch(`${server.url}/`)
  const csp = index.headers.get('content-security-policy') ?? ''
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, csp)
  assert.match(csp, /frame-ancestors 'none'/, csp)
  assert.match(csp, /object-src 'none'/, csp)
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\*/, 'no inline script or style, no eval, no wildcard')
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(index.headers.get('referrer-policy'), 'no-referrer')
  assert.ok(index.headers.get('permissions-policy'), 'a Permissions-Policy')
  const html = await index.text()
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'index.html has no inline script')
  assert.doesNotMatch(html, /<style|\sstyle=/i, 'index.html has no inline style')
  // A screen path (the SPA fallback) and an asset carry the same policy.
  const screen = await fetch(`${server.url}/settings`)
  assert.equal(screen.headers.get('content-security-policy'), csp)
  const asset = html.match(/src="(\/assets\/[^"]+\.js)"/)[1]
  const js = await fetch(`${server.url}${asset}`)
  assert.equal(js.status, 200)
  assert.equal(js.headers.get('x-content-type-options'), 'nosniff')
})

test('every screen loads under the policy with no violation', async () => {
  const { server } = fx
  server.cli(['admin', 'create-user', '--email', 'csp@example.com', '--first-name', 'Cee', '--last-name', 'Esp', '--role', 'admin'])
  const dev = await newDevice(fx.browser)
  const { page } = dev
  const csp = await watchCsp(dev)
  const seen = new Set()
  const screen = async (name) => {
    seen.add(new URL(page.url()).pathname)
    // The document's own record exists (the init script ran under the policy) and is empty.
    assert.deepEqual(await csp.inPage(), [], `violations on ${name}`)
  }
  const main = await page.goto(`${server.url}/`)
  assert.match(main.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/)
  await page.waitForURL('**/sign-in')
  await page.waitForSelector('[data-test=email]')
  await screen('sign-in')
  await page.fill('[data-test=email]', 'csp@example.com')
  await page.click('[data-test=send-code]')
  await page.waitForSelector('[data-test=code]')
  await page.fill('[data-test=code]', '00000000')
  await page.click('[data-test=verify-code]')
  await page.waitForSelector('.error')
  await screen('sign-in, wrong code')

  await signInWithCode(page, server, 'csp@example.com')
  await page.waitForURL('**/setup')
  await screen('setup')
  // Admin before keys exist (the nav offers it in that state too).
  await page.goto(`${server.url}/admin`)
  await page.waitForSelector('[data-test=user-row]')
  await screen('admin, before setup')
  await page.goto(`${server.url}/setup`)
  const recoveryKey = await createIdentity(page, 'cee')
  await screen('setup steps, then places')
  await addPlace(page, 'Harbour', '52.1', '4.3', 'under the policy')
  await page.reload()
  await page.waitForSelector('[data-test=place]')
  await screen('places')
  // The map: MapLibre's stylesheet, its worker and WebGL under the policy; a click on the map
  // saves a place (the built-in style, no network beyond this origin).
  await page.goto(`${server.url}/map`)
  await page.waitForSelector('[data-test=map][data-ready=true]', { timeout: 20000 })
  await page.waitForSelector('[data-test=map-place]')
  const canvas = await page.locator('[data-test=map] canvas').boundingBox()
  await page.mouse.click(canvas.x + canvas.width / 3, canvas.y + canvas.height / 3)
  await page.fill('[data-test=map-add-name]', 'Clicked under the policy')
  await page.click('[data-test=map-add-save]')
  await page.waitForSelector('[data-test=map-add-done]')
  await screen('map')
  await page.goto(`${server.url}/settings`)
  await page.waitForSelector('[data-test=session]')
  await page.click('[data-test=show-recovery]')
  const mails = mailCount(server, 'csp@example.com')
  await page.click('[data-test=confirm-mail-code]')
  await page.fill('[data-test=confirm-code]', await readCode(server, 'csp@example.com', mails))
  await page.click('[data-test=confirm-code-submit]')
  await page.waitForSelector('[data-test=recovery-code] [data-test=recovery-key]')
  await shot(page, '11-settings-under-csp')
  await screen('settings, recovery code shown')
  await page.goto(`${server.url}/people`)
  await page.waitForSelector('[data-test=invite-handle]')
  await screen('friends')
  await page.goto(`${server.url}/admin`)
  await page.waitForSelector('[data-test=user-row]')
  await screen('admin')
  await page.goto(`${server.url}/start-over`)
  await page.waitForSelector('[data-test=confirm-reset]')
  await screen('start over')

  // Locked: the cached key gone, the unlock screen, a refused key, then the right one.
  await page.evaluate(() => localStorage.removeItem('parchment-identity-seed'))
  await page.goto(`${server.url}/`)
  await page.waitForURL('**/unlock')
  await page.fill('[data-test=recovery-input]', 'P1-0000')
  await page.click('[data-test=unlock-recovery]')
  await page.waitForSelector('[data-test=error]')
  await screen('unlock, wrong key')
  await page.fill('[data-test=recovery-input]', recoveryKey)
  await page.click('[data-test=unlock-recovery]')
  await page.waitForSelector('[data-test=place-form]')
  await screen('unlocked again')
  await page.click('[data-test=sign-out]')
  await page.waitForURL('**/sign-in')
  await screen('signed out')

  assert.deepEqual(csp.violations, [], `CSP violations:\n${JSON.stringify(csp.violations, null, 2)}`)
  assert.deepEqual([...seen].sort(), [...ROUTES].sort(), 'every screen of src/router.ts was checked')
  dev.assertNoConsoleErrors([/401/, /Failed to load resource/])
  await dev.close()
})

test('the violation watch is not blind: an injected inline script and style are caught', async () => {
  const { server } = fx
  const dev = await newDevice(fx.browser)
  const csp = await watchCsp(dev)
  await dev.page.goto(`${server.url}/sign-in`)
  await dev.page.waitForSelector('[data-test=email]')
  await dev.page.evaluate(() => {
    const s = document.createElement('script')
    s.textContent = 'window.__ran = true'
    document.head.append(s)
    const st = document.createElement('style')
    st.textContent = 'body { color: red }'
    document.head.append(st)
    // Markup parsed with a style attribute is refused too (Vue sets its styles through the CSSOM).
    document.body.insertAdjacentHTML('beforeend', '<p style="color: red">x</p>')
  })
  await dev.page.waitForFunction(() => window.__cspViolations.length >= 3)
  assert.equal(await dev.page.evaluate(() => window.__ran ?? false), false, 'the inline script did not run')
  const directives = csp.violations.filter((v) => v.directive).map((v) => v.directive).sort()
  assert.deepEqual(directives, ['script-src-elem', 'style-src-attr', 'style-src-elem'])
  assert.ok(csp.violations.some((v) => v.console), 'the console reports them too')
  await dev.close()
})
