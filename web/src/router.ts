import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { errorMessage } from './api/client'
import { onLocale, t } from './i18n'
import { boot, refresh, session, type Status } from './stores/session'

// Each route says which state it needs; the guard sends the user where they must go first.
declare module 'vue-router' {
  interface RouteMeta {
    needs?: 'guest' | 'setup' | 'locked' | 'unlocked' | 'session'
    permission?: string
    /** The catalog key of the screen's name, shown in the document title. */
    title?: string
  }
}

// Screen paths must not start with an API prefix (/auth, /users, /friends, /library,
// /federation, /.well-known, /docs, /events, /config): a reload of such a page would reach the
// API, not the app.
const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'places', component: () => import('./views/PlacesView.vue'), meta: { needs: 'unlocked', title: 'title.places' } },
    { path: '/sign-in', name: 'sign-in', component: () => import('./views/SignInView.vue'), meta: { needs: 'guest', title: 'title.signIn' } },
    { path: '/setup', name: 'setup', component: () => import('./views/SetupView.vue'), meta: { needs: 'setup', title: 'title.setup' } },
    { path: '/unlock', name: 'unlock', component: () => import('./views/UnlockView.vue'), meta: { needs: 'locked', title: 'title.unlock' } },
    { path: '/settings', name: 'settings', component: () => import('./views/SettingsView.vue'), meta: { needs: 'unlocked', title: 'title.settings' } },
    { path: '/map', name: 'map', component: () => import('./views/MapView.vue'), meta: { needs: 'unlocked', title: 'title.map' } },
    { path: '/people', name: 'friends', component: () => import('./views/FriendsView.vue'), meta: { needs: 'unlocked', title: 'title.friends' } },
    { path: '/start-over', name: 'start-over', component: () => import('./views/StartOverView.vue'), meta: { title: 'title.startOver' } },
    { path: '/admin', name: 'admin', component: () => import('./views/AdminView.vue'), meta: { needs: 'session', permission: 'users:read', title: 'title.admin' } },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

function home(status: Status): string {
  switch (status) {
    case 'signed-out': return '/sign-in'
    case 'needs-setup': return '/setup'
    case 'locked': return '/unlock'
    default: return '/'
  }
}

const needsFor: Record<Status, string | null> = {
  'loading': null,
  'signed-out': 'guest',
  'needs-setup': 'setup',
  'locked': 'locked',
  'unlocked': 'unlocked',
}

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (session.status === 'loading') {
    try {
      await refresh()
      boot.error = null
    } catch (e) {
      boot.error = errorMessage(e)
    }
  }
  const status = session.status
  if (status === 'loading') return true // the server could not be reached: App.vue offers a retry
  if (to.name === 'start-over') return status === 'signed-out' ? '/sign-in' : true
  if (to.meta.needs === 'session') {
    if (status === 'signed-out') return '/sign-in'
  } else if (to.meta.needs && to.meta.needs !== needsFor[status]) return home(status)
  if (to.meta.permission && !session.permissions.includes(to.meta.permission)) return '/'
  return true
})

function setTitle(to: RouteLocationNormalized) {
  document.title = to.meta.title ? `${t(to.meta.title)} · Parchment` : 'Parchment'
}
router.afterEach(setTitle)
// A change of language renames the open screen too.
onLocale(() => setTitle(router.currentRoute.value))

export { home }
export default router
