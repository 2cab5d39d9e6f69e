// Vitest config of the browser end-to-end tests (scripts/test.sh runs it after the unit suite).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    // Builds the page once (vite build into a temporary folder) before any test runs.
    globalSetup: ['test/e2e/global-setup.ts'],
    // One browser and one server per file, and two cores to share: run files one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    // What a page shows after a request can take seconds on a loaded machine; the default is 1 s.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 120_000,
  },
});
