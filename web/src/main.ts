import { createApp } from 'vue'
import App from './App.vue'
import { i18n } from './i18n'
import router from './router'
import { onUnauthorized } from './api/client'
import { sessionEnded } from './stores/session'

// A call answered 401 while we thought we were signed in: the session was ended elsewhere.
onUnauthorized(() => {
  if (sessionEnded()) router.replace('/sign-in')
})
import './style.css'

createApp(App).use(i18n).use(router).mount('#app')
