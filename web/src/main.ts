import { createApp } from 'vue'
import App from './App.vue'
import router from './router'
import { onUnauthorized } from './api/client'
import { sessionEnded } from './stores/session'

// A call answered 401 while we thought we were signed in: the session was ended elsewhere.
onUnauthorized(() => {
  if (sessionEnded()) router.replace('/sign-in')
})
import './style.css'

createApp(App).use(router).mount('#app')
