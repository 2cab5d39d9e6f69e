// startServer: what `twinshot serve` runs. Opens the model and the store, chooses the address
// (loopback only until API keys exist), listens, and shuts down cleanly on SIGINT/SIGTERM.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwinshotError } from '../errors.js';
import { openStore, DEFAULT_STORE_URL } from '../gallery/open-store.js';
import type { GalleryStore } from '../gallery/types.js';
import type { Embedder } from '../models/embedder.js';
import { buildApp, type AppOptions, type TwinshotApp } from './app.js';
import { loadEmbedder, DEFAULT_MODEL } from './load-embedder.js';
import { isLoopbackAddress } from './loopback.js';

export interface ServerOptions {
  /** Model spec for {@link loadEmbedder} (default 'pixels'). */
  model?: string;
  /** Store URL (default sqlite:./twinshot-data/gallery.db). */
  store?: string;
  /** TCP port (default 8080; 0 picks a free one). */
  port?: number;
  /** Address to bind. Without API keys only loopback addresses are allowed (default 127.0.0.1). */
  host?: string;
  requireKeys?: boolean;
  /** pino log level (default 'info'). */
  logLevel?: string;
  /** Passed through to buildApp. */
  app?: Partial<Omit<AppOptions, 'embedder' | 'store'>>;
}

export interface RunningServer {
  app: TwinshotApp;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  requireKeys: boolean;
  close(): Promise<void>;
}

/** The web page's build output, served at / when present (issue 7). */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Where a model folder's ONNX export lives (model.onnx beside config.json); null for the pixel baseline. */
export function onnxFileOf(modelSpec: string): string | null {
  return /^pixels(?:-\d+)?$/.test(modelSpec) ? null : path.join(modelSpec, 'model.onnx');
}

/**
 * Starts the service. With no API key in the store (and requireKeys off) it refuses any address
 * but loopback: an open server is for the machine it runs on.
 * @throws TwinshotError ERR_CONFIG for a non-loopback host without keys; ERR_MODEL / ERR_STORE when those fail to open
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const embedder: Embedder = await loadEmbedder(options.model ?? DEFAULT_MODEL);
  let store: GalleryStore | undefined;
  try {
    store = await openStore(options.store ?? DEFAULT_STORE_URL);
    const requireKeys = (options.requireKeys ?? false) || (await store.hasActiveKeys());
    const host = options.host ?? '127.0.0.1';
    if (!requireKeys && !isLoopbackAddress(host)) {
      throw new TwinshotError(
        'ERR_CONFIG',
        `refusing to listen on ${host} with no API key: anyone who can reach it could read and change every gallery. ` +
          'Create a key first (twinshot keys create --gallery NAME --scope read,write), or pass --require-keys',
      );
    }
    const app = await buildApp({
      embedder,
      store,
      // Keys found at start close the server for good, even if they are all revoked before a request.
      requireKeys,
      staticDir: DEFAULT_STATIC_DIR,
      // A model folder's ONNX export (npm run export:models, twinshot export), for the web page.
      onnxModel: onnxFileOf(options.model ?? DEFAULT_MODEL),
      logger: { level: options.logLevel ?? 'info' },
      ...options.app,
    });
    const url = await app.listen({ port: options.port ?? 8080, host });
    const opened = store;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await app.close();
        await opened.close();
        await embedder.close();
      })());
    return { app, url, requireKeys, close };
  } catch (error) {
    await store?.close().catch(() => {});
    await embedder.close().catch(() => {});
    throw error;
  }
}
