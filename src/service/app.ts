// buildApp: the recognition service as a Fastify app (routes, schemas, auth, limits, metrics,
// OpenAPI), built from an embedder and a store so tests drive it with inject() and no socket.
import crypto from 'node:crypto';
import fs from 'node:fs';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TwinshotError, isTwinshotError } from '../errors.js';
import { Recognizer, checkLabel, type Gallery as GalleryHandle } from '../gallery/gallery.js';
import type { ApiKeyRecord, GalleryStore, MatchMode } from '../gallery/types.js';
import type { Embedder } from '../models/embedder.js';
import { KeyChecker, keyAllows, type Access } from './auth.js';
import { BatchingEmbedder, type BatchingOptions } from './batching-embedder.js';
import { toHttpError } from './http-errors.js';
import { readImages } from './images.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import * as S from './schemas.js';
import { webRoutes, type WebRoutesOptions } from './web-routes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; routes without it (docs, static files) are public. */
    access?: Access;
    /** For image routes: the multipart fields and raw bodies OpenAPI should document. */
    imageDoc?: ImageRouteDoc;
  }
  interface FastifyRequest {
    /** The API key the request authenticated with; null on an open server or a public route. */
    apiKey: ApiKeyRecord | null;
  }
}

export interface ServiceLimits {
  /** Largest JSON or raw-image body, in bytes (default 16 MiB; base64 adds a third). */
  bodyBytes?: number;
  /** Largest uploaded image file, in bytes (default 8 MiB). */
  imageBytes?: number;
  /** Largest image, in pixels (width x height, checked before decoding; default 16 million). */
  imagePixels?: number;
  /** Most images in one request (default 16). */
  imagesPerRequest?: number;
}

export interface AppOptions {
  /** The model. It is micro-batched here unless `batching` is false; buildApp never closes it. */
  embedder: Embedder;
  /** Where galleries and keys live; buildApp never closes it. */
  store: GalleryStore;
  /** Require a key on every protected route even before any key exists (default false). */
  requireKeys?: boolean;
  limits?: ServiceLimits;
  /** Requests per client address and window (default 600 per minute), or false to disable. */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Micro-batching of concurrent embeddings (default { maxBatch: 32, maxDelayMs: 2 }), or false. */
  batching?: Omit<BatchingOptions, 'onBatch'> | false;
  /** Folder of the web page's built files, served at / without a key (default: none). */
  staticDir?: string | null;
  /** The web page's explorer and training-dashboard routes (runs folder, Omniglot source). */
  web?: WebRoutesOptions;
  /** Fastify's logger option (default false); the CLI passes pino settings. */
  logger?: FastifyServerOptions['logger'];
  /** Whether Node's default process metrics are exported (default true). */
  defaultMetrics?: boolean;
  /** How long "no key exists" is cached, in ms (default 1000). */
  keyCacheMs?: number;
}

const DEFAULT_LIMITS: Required<ServiceLimits> = {
  bodyBytes: 16 * 1024 * 1024,
  imageBytes: 8 * 1024 * 1024,
  imagePixels: 16_000_000,
  imagesPerRequest: 16,
};

/** Image routes accept these besides JSON; documented in OpenAPI by the transform below. */
const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream'];

export interface ImageRouteDoc {
  /** Multipart file fields the route reads (any name is accepted; these are documented). */
  files: string[];
  /** Multipart text fields. */
  fields?: Record<string, string>;
  /** Whether a raw image body (one image) is accepted. */
  raw: boolean;
}

/** The app, plus what tests and the CLI need to reach. */
export interface TwinshotApp extends FastifyInstance {
  recognizer: Recognizer;
  metrics: ServiceMetrics;
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
  const { store } = options;
  const inner = options.embedder;
  // The wrapper must not close the caller's embedder: it gets a view whose close() is a no-op.
  const embedder =
    options.batching === false
      ? inner
      : new BatchingEmbedder(
          {
            info: inner.info,
            embed: (images) => inner.embed(images),
            confidence: (d) => inner.confidence(d),
            close: async () => {},
          },
          {
            ...options.batching,
            onBatch: (images, seconds) => {
              metrics.embedBatchImages.observe(images);
              metrics.embedBatchSeconds.observe(seconds);
            },
          },
        );
  const recognizer = new Recognizer(store, embedder, { maxPixels: limits.imagePixels });
  const keys = new KeyChecker(store, {
    requireKeys: options.requireKeys ?? false,
    cacheMs: options.keyCacheMs ?? 1000,
  });

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.bodyBytes,
    genReqId: () => crypto.randomUUID(),
    // Labels are path segments; let them be long and contain what URL-encoding allows.
    routerOptions: { maxParamLength: 600 },
  }) as unknown as TwinshotApp;
  app.decorate('recognizer', recognizer);
  app.decorate('metrics', metrics);
  app.decorateRequest('apiKey', null);

  // ---- errors: one shape, statuses from the catalog, no internals in 5xx ----------------------
  app.setErrorHandler((error, request, reply) => {
    const http = toHttpError(error, request.id);
    if (http.isServerFault) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: http.body.error.code }, http.body.error.message);
    if (http.status === 401) reply.header('www-authenticate', 'Bearer realm="twinshot"');
    return reply.code(http.status).send(http.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // ---- bodies: JSON, multipart, raw images; nothing else --------------------------------------
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(IMAGE_MEDIA_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await app.register(multipart, {
    limits: {
      fileSize: limits.imageBytes,
      files: limits.imagesPerRequest,
      fields: 8,
      fieldSize: 1024,
      parts: limits.imagesPerRequest + 8,
      headerPairs: 64,
    },
  });

  // ---- rate limiting, then keys (onRequest hooks run in registration order) -------------------
  if (options.rateLimit !== false) {
    const { max, timeWindowMs } = options.rateLimit ?? { max: 600, timeWindowMs: 60_000 };
    await app.register(rateLimit, {
      max,
      timeWindow: timeWindowMs,
      allowList: (request) => request.routeOptions.url === '/healthz',
      errorResponseBuilder: (_request, context) =>
        new TwinshotError(
          'ERR_RATE_LIMITED',
          `rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${context.after}`,
        ),
    });
  }
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    const gallery = (request.params as { gallery?: string } | undefined)?.gallery ?? null;
    request.apiKey = await keys.check(request.headers.authorization, access, gallery);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  // ---- OpenAPI at /docs -----------------------------------------------------------------------
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'twinshot recognition service',
        version: '1',
        description:
          'One-shot recognition with a twin network: enrol a class from one image, identify new images, verify pairs. ' +
          'Images go as multipart/form-data files, base64 in JSON (data: URLs accepted), or raw image bytes. ' +
          'Errors are { error: { code, message } }; codes are listed in docs/errors.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key from `twinshot keys create`' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      const doc = route.config?.imageDoc;
      if (!schema || !doc) return { schema, url };
      const properties: Record<string, unknown> = {};
      for (const file of doc.files) properties[file] = { type: 'string', format: 'binary' };
      for (const [field, description] of Object.entries(doc.fields ?? {}))
        properties[field] = { type: 'string', description };
      const body = schema.body as { content?: Record<string, unknown> } | undefined;
      const content: Record<string, unknown> = {
        ...body?.content,
        'multipart/form-data': { schema: { type: 'object', properties } },
      };
      if (doc.raw)
        for (const type of IMAGE_MEDIA_TYPES) content[type] = { schema: { type: 'string', format: 'binary' } };
      return { schema: { ...schema, body: { content } } as typeof schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // ---- routes ---------------------------------------------------------------------------------
  const tags = { inference: ['inference'], galleries: ['galleries'], operations: ['operations'] };

  async function openGallery(request: FastifyRequest): Promise<GalleryHandle> {
    return recognizer.gallery((request.params as { gallery: string }).gallery);
  }

  /** Decodes and embeds a request's images, counting refusals by code. */
  async function embedImages(images: readonly Buffer[]): Promise<Float32Array[]> {
    try {
      return await recognizer.embed(images);
    } catch (error) {
      if (isTwinshotError(error) && error.status < 500) metrics.imagesRejected.inc({ code: error.code });
      throw error;
    }
  }

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: tags.operations,
        summary: 'Liveness and store reachability',
        security: [],
        response: { 200: S.Health, ...S.ERROR_RESPONSES },
      },
    },
    async () => {
      await store.ping();
      return { status: 'ok' as const, model: embedder.info.name, store: store.kind };
    },
  );

  app.get(
    '/metrics',
    { config: { access: 'any' }, schema: { tags: tags.operations, summary: 'Prometheus metrics (text format)' } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.post(
    '/v1/embed',
    {
      config: { access: 'any', imageDoc: { files: ['image'], raw: true } },
      schema: {
        tags: tags.inference,
        summary: 'Embed images with the model',
        body: { content: { 'application/json': { schema: S.imagesBody(limits.imagesPerRequest) } } },
        response: { 200: S.EmbedResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { images } = await readImages(request, { maxImages: limits.imagesPerRequest });
      const vectors = await embedImages(images.map((i) => i.bytes));
      const { name, dim, metric } = embedder.info;
      return { model: name, dim, metric, embeddings: vectors.map((v) => Array.from(v)) };
    },
  );

  app.post(
    '/v1/verify',
    {
      config: { access: 'any', imageDoc: { files: ['image1', 'image2'], raw: false } },
      schema: {
        tags: tags.inference,
        summary: 'Whether two images show the same class',
        body: { content: { 'application/json': { schema: S.VerifyBody } } },
        response: { 200: S.Verification, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { images } = await readImages(request, { maxImages: 2, jsonKeys: ['image1', 'image2'] });
      if (images.length !== 2)
        throw new TwinshotError(
          'ERR_ARGUMENT',
          `verify needs exactly two images (image1, image2); got ${images.length}`,
        );
      const [a, b] = await embedImages(images.map((i) => i.bytes));
      return recognizer.verifyVectors(a!, b!);
    },
  );

  app.get(
    '/v1/galleries',
    {
      config: { access: 'any' },
      schema: {
        tags: tags.galleries,
        summary: 'List the galleries this key may read',
        response: { 200: S.GalleryList, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const all = await recognizer.listGalleries();
      const key = request.apiKey;
      return { galleries: key ? all.filter((g) => keyAllows(key, g.name, 'read')) : all };
    },
  );

  app.put(
    '/v1/galleries/:gallery',
    {
      config: { access: 'write' },
      schema: {
        tags: tags.galleries,
        summary: "Create a gallery for this server's model (200 when it exists already)",
        params: S.GalleryParams,
        response: { 200: S.Gallery, 201: S.Gallery, ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { gallery, created } = await recognizer.createGallery((request.params as { gallery: string }).gallery);
      reply.code(created ? 201 : 200);
      return gallery.info();
    },
  );

  app.get(
    '/v1/galleries/:gallery',
    {
      config: { access: 'read' },
      schema: {
        tags: tags.galleries,
        summary: 'Describe a gallery',
        params: S.GalleryParams,
        response: { 200: S.Gallery, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => (await openGallery(request)).info(),
  );

  app.delete(
    '/v1/galleries/:gallery',
    {
      config: { access: 'write' },
      schema: {
        tags: tags.galleries,
        summary: 'Delete a gallery and all its examples',
        params: S.GalleryParams,
        response: { ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply: FastifyReply) => {
      const { gallery } = request.params as { gallery: string };
      if (!(await recognizer.deleteGallery(gallery)))
        throw new TwinshotError('ERR_NOT_FOUND', `gallery '${gallery}' does not exist`);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/galleries/:gallery/classes',
    {
      config: { access: 'read' },
      schema: {
        tags: tags.galleries,
        summary: 'List the classes of a gallery with their example counts',
        params: S.GalleryParams,
        response: { 200: S.ClassList, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => ({ classes: await (await openGallery(request)).list() }),
  );

  app.post(
    '/v1/galleries/:gallery/classes/:label/examples',
    {
      config: { access: 'write', imageDoc: { files: ['image'], raw: true } },
      schema: {
        tags: tags.galleries,
        summary: 'Enrol one or more example images of a class (one is enough)',
        params: S.ClassParams,
        body: { content: { 'application/json': { schema: S.imagesBody(limits.imagesPerRequest) } } },
        response: { 201: S.EnrollResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const label = checkLabel((request.params as { label: string }).label);
      const gallery = await openGallery(request);
      const { images } = await readImages(request, { maxImages: limits.imagesPerRequest });
      const vectors = await embedImages(images.map((i) => i.bytes));
      const ids = await gallery.enrollVectors(vectors.map((vector) => ({ label, vector })));
      reply.code(201);
      return { label, added: ids.length, ids };
    },
  );

  app.delete(
    '/v1/galleries/:gallery/classes/:label',
    {
      config: { access: 'write' },
      schema: {
        tags: tags.galleries,
        summary: 'Remove a class and all its examples',
        params: S.ClassParams,
        response: { 200: S.RemoveResponse, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { label } = request.params as { label: string };
      const gallery = await openGallery(request);
      const removed = await gallery.remove(label);
      if (removed === 0) throw new TwinshotError('ERR_NOT_FOUND', `gallery '${gallery.name}' has no class '${label}'`);
      return { label, removed };
    },
  );

  app.post(
    '/v1/galleries/:gallery/identify',
    {
      config: {
        access: 'read',
        imageDoc: { files: ['image'], fields: { k: 'labels to rank', by: 'example or mean' }, raw: true },
      },
      schema: {
        tags: tags.galleries,
        summary: "Rank the gallery's classes for an image; label is null when nothing is within the threshold",
        params: S.GalleryParams,
        querystring: S.IdentifyQuery,
        body: { content: { 'application/json': { schema: S.IdentifyBody } } },
        response: { 200: S.Identification, ...S.ERROR_RESPONSES },
      },
    },
    async (request) => {
      const gallery = await openGallery(request);
      const { images, fields } = await readImages(request, { maxImages: 1 });
      const query = request.query as { k?: number; by?: MatchMode };
      const body = (Buffer.isBuffer(request.body) ? {} : (request.body ?? {})) as { k?: number; by?: MatchMode };
      const k = body.k ?? (fields.k !== undefined ? Number(fields.k) : undefined) ?? query.k ?? 5;
      const by = body.by ?? (fields.by as MatchMode | undefined) ?? query.by ?? 'example';
      const vectors = await embedImages(images.map((i) => i.bytes));
      const started = performance.now();
      const [result] = await gallery.identifyVectors(vectors, { k, by });
      metrics.searchSeconds.observe({ store: store.kind, by }, (performance.now() - started) / 1000);
      return result!;
    },
  );

  // ---- the web page (issue 7), public ---------------------------------------------------------
  await app.register(webRoutes, options.web ?? {});
  if (options.staticDir && fs.existsSync(options.staticDir)) {
    await app.register(fastifyStatic, { root: options.staticDir, prefix: '/', index: 'index.html' });
  }

  app.addHook('onClose', async () => {
    if (embedder !== inner) await embedder.close();
  });
  await app.ready();
  return app;
}
