// buildApp: the recognition service as a Fastify app, built from an embedder and a store so tests
// drive it with inject() and no socket. Shared pieces are plugins (plugins/: errors, security
// headers and CORS, bodies, access, metrics, OpenAPI); routes are plugins by resource (routes/), as Fastify's guides lay out.
import crypto from 'node:crypto';
import fs from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Recognizer } from '../gallery/gallery.js';
import type { GalleryStore } from '../gallery/types.js';
import type { Embedder } from '../models/embedder.js';
import { KeyChecker } from './auth.js';
import { BatchingEmbedder, type BatchingOptions } from './batching-embedder.js';
import { createServiceContext, DEFAULT_LIMITS, type ServiceLimits } from './context.js';
import { isLoopbackAddress } from './loopback.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { accessControl } from './plugins/access.js';
import { requestBodies } from './plugins/bodies.js';
import { ERROR_SERVER_OPTIONS, errorReplies } from './plugins/errors.js';
import { openApi } from './plugins/openapi.js';
import { requestMetrics } from './plugins/request-metrics.js';
import { browserSecurity } from './plugins/security.js';
import { classRoutes } from './routes/classes.js';
import { deviceRoutes } from './routes/device.js';
import { explorerRoutes, type ExplorerOptions } from './routes/explorer.js';
import { galleryRoutes } from './routes/galleries.js';
import { inferenceRoutes } from './routes/inference.js';
import { operationRoutes } from './routes/operations.js';
import { runRoutes, type RunsOptions } from './routes/runs.js';

export type { ServiceLimits } from './context.js';
export type { ImageRouteDoc } from './plugins/openapi.js';

/** The web page's explorer and training-dashboard routes. */
export type WebRoutesOptions = RunsOptions & ExplorerOptions;

export interface AppOptions {
  /** The model. It is micro-batched here unless `batching` is false; buildApp never closes it. */
  embedder: Embedder;
  /** Where galleries and keys live; buildApp never closes it. */
  store: GalleryStore;
  /**
   * Require a key on every protected route even before any key exists (default false). Without it
   * the app is open until a key exists or it listens beyond loopback, and closed from then on.
   */
  requireKeys?: boolean;
  limits?: ServiceLimits;
  /** Requests per client address and window (default 600 per minute), or false to disable. */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Micro-batching of concurrent embeddings (default { maxBatch: 32, maxDelayMs: 2 }), or false. */
  batching?: Omit<BatchingOptions, 'onBatch'> | false;
  /**
   * Origins (scheme://host[:port]) whose pages may call the API from a browser (CORS), and send it
   * state-changing requests; default none: only the server's own page.
   */
  corsOrigins?: readonly string[];
  /** Folder of the web page's built files, served at / without a key (default: none). */
  staticDir?: string | null;
  /** The web page's explorer and training-dashboard routes (runs folder, Omniglot source). */
  web?: WebRoutesOptions;
  /**
   * The served model as an ONNX file (FILE.json, its manifest, beside it), handed to the web page
   * for recognition in the browser at GET /v1/model/onnx (default: none).
   */
  onnxModel?: string | null;
  /** Fastify's logger option (default false); the CLI passes pino settings. */
  logger?: FastifyServerOptions['logger'];
  /** Whether Node's default process metrics are exported (default true). */
  defaultMetrics?: boolean;
  /** How long "no key exists" is cached, in ms (default 1000). */
  keyCacheMs?: number;
  timeouts?: ServiceTimeouts;
}

export interface ServiceTimeouts {
  /**
   * Time to receive a whole request, headers and body, in ms (default 30,000): a client that
   * sends less than its Content-Length, or trickles, gets 408 and the connection closes.
   */
  requestMs?: number;
  /** Time to receive the headers, in ms (default 10,000, at most requestMs). */
  headersMs?: number;
  /**
   * A connection with no traffic either way for this long is closed, in ms (default 120,000).
   * Longer than the event streams' keep-alive (15 s) and than any embedding takes.
   */
  idleMs?: number;
}

const DEFAULT_TIMEOUTS: Required<ServiceTimeouts> = { requestMs: 30_000, headersMs: 10_000, idleMs: 120_000 };

/** The app, plus what tests and the CLI need to reach. */
export interface TwinshotApp extends FastifyInstance {
  recognizer: Recognizer;
  metrics: ServiceMetrics;
}

/** Micro-batches `inner` unless asked not to; the wrapper never closes the caller's embedder. */
function batchedEmbedder(inner: Embedder, options: AppOptions['batching'], metrics: ServiceMetrics): Embedder {
  if (options === false) return inner;
  return new BatchingEmbedder(
    {
      info: inner.info,
      embed: (images) => inner.embed(images),
      confidence: (d) => inner.confidence(d),
      close: async () => {},
    },
    {
      ...options,
      onBatch: (images, seconds) => {
        metrics.embedBatchImages.observe(images);
        metrics.embedBatchSeconds.observe(seconds);
      },
    },
  );
}

/**
 * Builds the HTTP service (not listening; call `listen` or use `inject`).
 *
 * @example
 * const app = await buildApp({ embedder: new PixelEmbedder(), store: SqliteStore.open('g.db') });
 * const res = await app.inject({ method: 'PUT', url: '/v1/galleries/symbols' });
 */
export async function buildApp(options: AppOptions): Promise<TwinshotApp> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const embedder = batchedEmbedder(options.embedder, options.batching, metrics);
  const recognizer = new Recognizer(options.store, embedder, { maxPixels: limits.imagePixels });
  const context = createServiceContext(recognizer, metrics, limits);

  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    logger: options.logger ?? false,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
      // Node checks the two timeouts above on this interval (30 s by default), so it bounds how late they fire.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, timeouts.requestMs / 4)),
    },
    bodyLimit: limits.bodyBytes,
    genReqId: () => crypto.randomUUID(),
    // Labels are path segments: 200 characters of up to 4 UTF-8 bytes each, %XX-encoded, must fit.
    routerOptions: { maxParamLength: 200 * 4 * 3 },
    ...ERROR_SERVER_OPTIONS,
  }) as unknown as TwinshotApp;
  app.decorate('recognizer', recognizer);
  app.decorate('metrics', metrics);
  const keys = new KeyChecker(options.store, {
    requireKeys: options.requireKeys ?? false,
    cacheMs: options.keyCacheMs ?? 1000,
    // Listening on 0.0.0.0 (or any non-loopback address) closes an open app, however it was started.
    isExposed: () =>
      app.server.listening && app.addresses().some((a) => typeof a !== 'string' && !isLoopbackAddress(a.address)),
  });

  await app.register(errorReplies);
  await app.register(browserSecurity, { corsOrigins: options.corsOrigins ?? [] });
  await app.register(requestBodies, { limits });
  await app.register(accessControl, { keys, rateLimit: options.rateLimit ?? { max: 600, timeWindowMs: 60_000 } });
  await app.register(requestMetrics, { metrics });
  await app.register(openApi);

  await app.register(operationRoutes, context);
  await app.register(inferenceRoutes, context);
  await app.register(galleryRoutes, context);
  await app.register(classRoutes, context);
  // The web page (issue 7): its own routes, and its files at / without a key.
  await app.register(explorerRoutes, { ...context, omniglot: options.web?.omniglot });
  await app.register(runRoutes, options.web ?? {});
  await app.register(deviceRoutes, { ...context, onnxModel: options.onnxModel ?? null });
  if (options.staticDir && fs.existsSync(options.staticDir)) {
    await app.register(fastifyStatic, { root: options.staticDir, prefix: '/', index: 'index.html' });
  }

  app.addHook('onClose', async () => {
    if (embedder !== options.embedder) await embedder.close();
  });
  await app.ready();
  return app;
}
