// Flow 10: admin. The first admin comes from the CLI (issue 13: never the first caller): users list and create, roles and permissions.
// A plain user sees no admin screen and the API refuses them.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fixture, newDevice, signInWithCode, shot, apiFromPage } from '../harness.mjs'

let fx
before(async () => {
  fx = await fixture()
})
after(async () => {
  await fx?.close()
})

test('admin lists and creates users, sees roles and permissions; a plain user cannot', async () => {
  const { server } = fx
  server.cli(['admin', 'create-user', '--email', 'root@example.com', '--first-name', 'Root', '--last-name', 'Admin', '--role', 'admin'])
  const admin = await newDevice(fx.browser)
  await signInWithCode(admin.page, server, 'root@example.com')
  const { page } = admin
  await page.goto(`${server.url}/admin`)
  await page.waitForSelector('[data-test=user-row]')
  assert.match(await page.textContent('[data-test=users-table]'), /root@example\.com/)
  // Create a user with a role.
  await page.fill('[data-test=new-email]', 'bob@example.com')
  await page.fill('[data-test=new-first]', 'Bob')
  await page.fill('[data-test=new-last]', 'Builder')
  await page.click('[data-test=create-user-submit]')
  await page.waitForFunction(() => document.querySelectorAll('[data-test=user-row]').length === 2)
  assert.match(await page.textContent('[data-test=users-table]'), /bob@example\.com/)
  await shot(page, '10-admin-users')
  // Duplicate email: the server's 409 message is shown.
  await page.fill('[data-test=new-email]', 'BOB@example.com')
  await page.click('[data-test=create-user-submit]')
  const err = await page.waitForSelector('[data-test=create-error]')
  assert.ok((await err.textContent()).trim().length > 5)
  // Stored: bob with the user role, only two users.
  const rows = server.sql(`SELECT email, first_name, last_name FROM users ORDER BY email`)
  assert.deepEqual(rows.map((r) => r.email), ['bob@example.com', 'root@example.com'])
  assert.equal(rows[0].first_name, 'Bob')
  // Roles and permissions.
  await page.click('[data-test=tab-roles]')
  await page.waitForSelector('[data-test=roles] li')
  const roles = await page.textContent('[data-test=roles]')
  assert.match(roles, /admin/i)
  assert.match(await page.textContent('[data-test=permissions]'), /users:read/)
  await shot(page, '10-admin-roles')
  admin.assertNoConsoleErrors([/409/, /Failed to load resource/])

  // Bob is a plain user: no admin link, /admin sends him away, the API says 403.
  const bob = await newDevice(fx.browser)
  await signInWithCode(bob.page, server, 'bob@example.com')
  await bob.page.goto(`${server.url}/admin`)
  await bob.page.waitForURL((u) => !u.pathname.startsWith('/admin'))
  assert.equal(await bob.page.locator('a[href="/admin"]').count(), 0)
  const r = await apiFromPage(bob.page, 'GET', '/users')
  assert.equal(r.status, 403)
  await admin.close()
  await bob.close()
})
