// Vite build of the web page: `npx vite build web` writes web/dist, which `twinshot serve` serves at /.
// `npx vite web` serves the sources with hot reload and forwards API calls to a running server.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.TWINSHOT_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs, so the page also works behind a proxy that mounts it under a path.
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
  // API calls, and onnxruntime-web's files (served by the service from its npm package), go to the server.
  server: { proxy: { '/v1': api, '/healthz': api, '/ort': api } },
});
