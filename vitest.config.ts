import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    // libtorch already uses every core inside each op; parallel test files would fight for them.
    fileParallelism: false,
    // Memory tests collect garbage before they measure (test/helpers/gc.ts fails without this flag).
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
