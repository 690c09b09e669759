import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import VueI18nPlugin from '@intlify/unplugin-vue-i18n/vite'
import { fileURLToPath } from 'node:url'

// The app is served by `parchment-server --web-dir web/dist` at `/`, on the same origin as
// the API. `npm run dev` proxies the API to a local server (PARCHMENT_API, default :8080).
const api = process.env.PARCHMENT_API ?? 'http://localhost:8080'
const apiPaths = ['/auth', '/users', '/library', '/friends', '/federation', '/.well-known', '/docs', '/openapi.json', '/events', '/config']

export default defineConfig({
  plugins: [
    vue(),
    // The catalogs are precompiled to message ASTs and vue-i18n's runtime-only build is bundled:
    // the page never compiles or evaluates a message (the server's CSP has no 'unsafe-eval').
    VueI18nPlugin({
      include: [fileURLToPath(new URL('./src/i18n/locales/*.json', import.meta.url))],
      runtimeOnly: true,
      compositionOnly: true,
      fullInstall: true,
      strictMessage: true,
      escapeHtml: false,
      // Every message is precompiled: the page needs no message compiler at all.
      dropMessageCompiler: true,
    }),
  ],
  build: {
    target: 'es2022',
    sourcemap: false,
    // MapLibre GL is one 1.1 MB module, loaded only by the map screen; everything else stays small.
    chunkSizeWarningLimit: 1200,
  },
  optimizeDeps: {
    // wasm-bindgen output loads its .wasm via `new URL(..., import.meta.url)`: keep it unbundled in dev.
    exclude: ['@parchment/core'],
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: false }])),
  },
})
