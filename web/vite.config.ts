import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The app is served by `parchment-server --web-dir web/dist` at `/`, on the same origin as
// the API. `npm run dev` proxies the API to a local server (PARCHMENT_API, default :8080).
const api = process.env.PARCHMENT_API ?? 'http://localhost:8080'
const apiPaths = ['/auth', '/users', '/library', '/friends', '/federation', '/.well-known', '/docs', '/openapi.json']

export default defineConfig({
  plugins: [vue()],
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  optimizeDeps: {
    // wasm-bindgen output loads its .wasm via `new URL(..., import.meta.url)`: keep it unbundled in dev.
    exclude: ['@parchment/core'],
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: false }])),
  },
})
