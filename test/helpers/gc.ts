// A full garbage collection before a memory measurement. Without it the measurement depends on
// when V8 happens to collect, so a missing --expose-gc (vitest.config.ts's execArgv) is an error.
export function collectGarbage(): void {
  if (typeof globalThis.gc !== 'function') {
    throw new Error('global.gc is not exposed: run the tests with node --expose-gc (vitest.config.ts sets execArgv)');
  }
  globalThis.gc();
}
