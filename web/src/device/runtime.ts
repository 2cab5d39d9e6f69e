// onnxruntime-web, fetched from the twinshot service itself (GET /ort/…: the npm package's files,
// never a CDN) the first time the page switches to recognition on this device, so visitors who
// stay on the server never download its 15 MB of WebAssembly.
import type * as Ort from 'onnxruntime-web';

export type Runtime = typeof Ort;

let loading: Promise<Runtime> | null = null;

/** The runtime, loaded once; a failed load is tried again on the next call. */
export function loadRuntime(): Promise<Runtime> {
  loading ??= (async () => {
    // Relative to the page, so a server mounted under a path still finds its files.
    const base = new URL('ort/', document.baseURI).href;
    const ort = (await import(/* @vite-ignore */ `${base}ort.wasm.min.mjs`)) as Runtime;
    ort.env.wasm.wasmPaths = base;
    // Threads need a cross-origin-isolated page (SharedArrayBuffer); one drawing needs none.
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    return ort;
  })();
  loading.catch(() => (loading = null));
  return loading;
}
