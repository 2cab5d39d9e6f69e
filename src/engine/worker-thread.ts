// startWorker: a worker thread on one of our modules, whether it runs compiled (dist/*.js) or from
// TypeScript sources through tsx (tests, benches), where the worker must register tsx first.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** tsx's ESM register API (its package exports map 'tsx/esm/api' to this file for `import`). */
function tsxEsmApi(): string {
  const packageJson = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(packageJson), 'dist/esm/api/index.mjs')).href;
}

/**
 * Starts a worker on `name` (without extension) beside `callerUrl` (the caller's import.meta.url):
 * `name.ts` when the caller itself runs from source, `name.js` otherwise.
 */
export function startWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const isSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${isSource ? '.ts' : '.js'}`, callerUrl);
  return isSource
    ? new Worker(
        `import(${JSON.stringify(tsxEsmApi())})` +
          `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`,
        { eval: true, workerData },
      )
    : new Worker(entry, { workerData });
}
