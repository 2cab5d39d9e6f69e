// The HTTP service through inject(), on every store: the recognition routes end to end, every kind
// of bad input answered with a 4xx in one JSON shape (and the server still serving), OpenAPI,
// metrics, and 5xx bodies that keep internals to the log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { buildApp } from '../../src/service/app.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import type { GalleryStore } from '../../src/gallery/types.js';
import { ERROR_CODES } from '../../src/errors.js';
import { STORE_CASES, drawSymbol } from '../gallery/helpers.js';
import { blankPng, multipart, testApp, type TestApp } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

reportIfMissing(POSTGRES, 'buildApp() on PostgreSQL');

function expectError(response: { statusCode: number; json: () => unknown }, status: number, code: string): void {
  expect({ status: response.statusCode, body: response.json() }).toMatchObject({
    status,
    body: { error: { code, message: expect.any(String) } },
  });
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status).toBe(status);
}

describe.each(STORE_CASES)('buildApp() on $name', (storeCase) => {
  let t: TestApp;
  const png: Record<string, Buffer> = {};

  beforeAll(async () => {
    t = await testApp(storeCase);
    for (const kind of ['circle', 'cross', 'triangle', 'square'] as const) {
      png[kind] = await drawSymbol(kind);
      // A second "drawer": shifted, with a heavier pen (queries).
      png[`${kind}-2`] = await drawSymbol(kind, { dx: 2, dy: -2, stroke: 7 });
    }
    png['square-3'] = await drawSymbol('square', { dx: -3, dy: 2, stroke: 5 });
  });
  afterAll(async () => t?.close());

  /** Asserts the server still answers a good request after a bad one. */
  async function stillServing(): Promise<void> {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/embed',
      payload: { image: png.circle!.toString('base64') },
    });
    expect(response.statusCode).toBe(200);
  }

  describe('PUT /v1/galleries/:gallery', () => {
    it('creates a gallery for the server model (201), then answers 200 for the same name', async () => {
      const first = await t.app.inject({ method: 'PUT', url: '/v1/galleries/symbols' });
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({
        name: 'symbols',
        model: 'pixels-16',
        dim: 256,
        metric: 'l2',
        classes: 0,
        examples: 0,
      });
      expect(first.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const again = await t.app.inject({ method: 'PUT', url: '/v1/galleries/symbols' });
      expect(again.statusCode).toBe(200);
    });

    it('refuses a malformed gallery name with ERR_ARGUMENT', async () => {
      expectError(await t.app.inject({ method: 'PUT', url: '/v1/galleries/-bad%20name' }), 400, 'ERR_ARGUMENT');
    });
  });

  describe('POST /v1/galleries/:gallery/classes/:label/examples', () => {
    it('enrols from multipart, base64 JSON (data: URL too) and raw image bodies', async () => {
      const form = multipart([{ name: 'image', filename: 'circle.png', data: png.circle! }]);
      const a = await t.app.inject({ method: 'POST', url: '/v1/galleries/symbols/classes/circle/examples', ...form });
      expect(a.statusCode).toBe(201);
      expect(a.json()).toMatchObject({ label: 'circle', added: 1, ids: [expect.any(String)] });
      const b = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/symbols/classes/cross/examples',
        payload: { image: `data:image/png;base64,${png.cross!.toString('base64')}` },
      });
      expect(b.statusCode).toBe(201);
      const c = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/symbols/classes/triangle/examples',
        headers: { 'content-type': 'image/png' },
        payload: png.triangle!,
      });
      expect(c.statusCode).toBe(201);
      const d = await t.app.inject({
        method: 'POST',
        url: `/v1/galleries/symbols/classes/${encodeURIComponent('square / 四角')}/examples`,
        payload: { images: [png.square!.toString('base64'), png['square-3']!.toString('base64')] },
      });
      expect(d.json()).toMatchObject({ label: 'square / 四角', added: 2 });
      const classes = await t.app.inject({ method: 'GET', url: '/v1/galleries/symbols/classes' });
      // Each class names a picture of one of its examples (see test/service/pictures.test.ts).
      const picture = expect.stringMatching(/^\/v1\/galleries\/symbols\/examples\/\d+\/picture$/);
      expect(classes.json()).toEqual({
        classes: [
          { label: 'circle', examples: 1, picture },
          { label: 'cross', examples: 1, picture },
          { label: 'square / 四角', examples: 2, picture },
          { label: 'triangle', examples: 1, picture },
        ],
      });
      const info = await t.app.inject({ method: 'GET', url: '/v1/galleries/symbols' });
      expect(info.json()).toMatchObject({ classes: 4, examples: 5 });
    });
  });

  describe('POST /v1/galleries/:gallery/identify', () => {
    it('ranks the drawn symbol first for a second drawing of it, with confidences', async () => {
      for (const kind of ['circle', 'cross', 'triangle'] as const) {
        const form = multipart([{ name: 'image', filename: 'q.png', data: png[`${kind}-2`]! }]);
        const response = await t.app.inject({ method: 'POST', url: '/v1/galleries/symbols/identify?k=3', ...form });
        expect(response.statusCode).toBe(200);
        const body = response.json();
        expect(body.label).toBe(kind);
        expect(body.unknown).toBe(false);
        expect(body.matches).toHaveLength(3);
        expect(body.matches[0]).toMatchObject({ label: kind, distance: expect.any(Number) });
        expect(body.matches[0].confidence).toBeGreaterThan(body.matches[1].confidence);
        expect(body).toMatchObject({ by: 'example', metric: 'l2', threshold: expect.any(Number) });
      }
    });

    it('matches by class mean when asked (query string, JSON or form field)', async () => {
      const viaJson = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/symbols/identify',
        payload: { image: png['square-2']!.toString('base64'), k: 2, by: 'mean' },
      });
      expect(viaJson.json()).toMatchObject({ label: 'square / 四角', by: 'mean' });
      expect(viaJson.json().matches).toHaveLength(2);
      const form = multipart([
        { name: 'by', data: 'mean' },
        { name: 'k', data: '1' },
        { name: 'image', filename: 'q.png', data: png['cross-2']! },
      ]);
      const viaForm = await t.app.inject({ method: 'POST', url: '/v1/galleries/symbols/identify', ...form });
      expect(viaForm.json()).toMatchObject({ label: 'cross', by: 'mean', matches: [{ label: 'cross' }] });
    });

    it("answers unknown (label null) when the best match is beyond the model's threshold", async () => {
      // The same model with a threshold no real pair meets.
      const strict = await buildApp({
        embedder: new PixelEmbedder({ threshold: 1e-6 }),
        store: t.store,
        rateLimit: false,
        defaultMetrics: false,
      });
      try {
        const response = await strict.inject({
          method: 'POST',
          url: '/v1/galleries/symbols/identify',
          payload: { image: png['circle-2']!.toString('base64') },
        });
        expect(response.json()).toMatchObject({ label: null, unknown: true });
        expect(response.json().matches[0].label).toBe('circle');
      } finally {
        await strict.close();
      }
    });

    it('answers unknown with no matches on an empty gallery', async () => {
      await t.app.inject({ method: 'PUT', url: '/v1/galleries/empty' });
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/empty/identify',
        headers: { 'content-type': 'image/png' },
        payload: png.circle!,
      });
      expect(response.json()).toMatchObject({ label: null, unknown: true, matches: [] });
    });
  });

  describe('POST /v1/verify', () => {
    it('calls two drawings of one symbol the same, and two symbols different', async () => {
      const same = await t.app.inject({
        method: 'POST',
        url: '/v1/verify',
        payload: { image1: png.circle!.toString('base64'), image2: png['circle-2']!.toString('base64') },
      });
      const different = await t.app.inject({
        method: 'POST',
        url: '/v1/verify',
        ...multipart([
          { name: 'image1', filename: 'a.png', data: png.circle! },
          { name: 'image2', filename: 'b.png', data: png.cross! },
        ]),
      });
      expect(same.json()).toMatchObject({ same: true, metric: 'l2' });
      expect(different.json()).toMatchObject({ same: false });
      expect(same.json().distance).toBeLessThan(different.json().distance);
      expect(same.json().confidence).toBeGreaterThan(different.json().confidence);
    });

    it('needs exactly two images', async () => {
      const one = await t.app.inject({
        method: 'POST',
        url: '/v1/verify',
        payload: { image1: png.circle!.toString('base64') },
      });
      expectError(one, 400, 'ERR_ARGUMENT');
    });
  });

  describe('POST /v1/embed', () => {
    it('returns one unit-length vector per image, equal for equal images', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/embed',
        payload: {
          images: [png.circle!.toString('base64'), png.circle!.toString('base64'), png.cross!.toString('base64')],
        },
      });
      const body = response.json();
      expect(body).toMatchObject({ model: 'pixels-16', dim: 256, metric: 'l2' });
      expect(body.embeddings).toHaveLength(3);
      const [a, b, c] = body.embeddings as number[][];
      expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
    });
  });

  describe('bad input', () => {
    it('answers a non-image with 400 ERR_IMAGE', async () => {
      const form = multipart([{ name: 'image', filename: 'notes.png', data: 'this is not an image' }]);
      expectError(
        await t.app.inject({ method: 'POST', url: '/v1/galleries/symbols/identify', ...form }),
        400,
        'ERR_IMAGE',
      );
      await stillServing();
    });

    it('answers a truncated PNG with 400 ERR_IMAGE', async () => {
      const truncated = png.circle!.subarray(0, Math.floor(png.circle!.length / 2));
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/symbols/classes/x/examples',
          headers: { 'content-type': 'image/png' },
          payload: truncated,
        }),
        400,
        'ERR_IMAGE',
      );
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/galleries/symbols/classes' }))
          .json()
          .classes.map((c: { label: string }) => c.label),
      ).not.toContain('x');
      await stillServing();
    });

    it('answers a 20,000 x 20,000 image with 400 ERR_IMAGE naming the pixel limit, before decoding it', async () => {
      const huge = blankPng(20_000, 20_000);
      expect(huge.length).toBeLessThan(1024 * 1024);
      const started = performance.now();
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/symbols/identify',
        payload: { image: huge.toString('base64') },
      });
      expectError(response, 400, 'ERR_IMAGE');
      expect(response.json().error.message).toMatch(/20000x20000.*limit/);
      expect(performance.now() - started).toBeLessThan(5000); // decoding 400 megapixels would take far longer
      await stillServing();
    });

    it('answers an empty body with 400 (no image), with or without a JSON content type', async () => {
      expectError(await t.app.inject({ method: 'POST', url: '/v1/galleries/symbols/identify' }), 400, 'ERR_ARGUMENT');
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/embed',
          headers: { 'content-type': 'application/json' },
          payload: '',
        }),
        400,
        'ERR_ARGUMENT',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/embed',
          headers: { 'content-type': 'image/png' },
          payload: Buffer.alloc(0),
        }),
        400,
        'ERR_IMAGE',
      );
      expectError(
        await t.app.inject({ method: 'POST', url: '/v1/embed', payload: { image: '' } }),
        400,
        'ERR_ARGUMENT',
      );
      await stillServing();
    });

    it('answers a wrong content type with 415 ERR_UNSUPPORTED_MEDIA', async () => {
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/embed',
          headers: { 'content-type': 'text/plain' },
          payload: 'hello',
        }),
        415,
        'ERR_UNSUPPORTED_MEDIA',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/embed',
          headers: { 'content-type': 'application/xml' },
          payload: '<a/>',
        }),
        415,
        'ERR_UNSUPPORTED_MEDIA',
      );
      await stillServing();
    });

    it('answers malformed JSON, bad base64 and out-of-range options with 400 ERR_ARGUMENT', async () => {
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/embed',
          headers: { 'content-type': 'application/json' },
          payload: '{"image": ',
        }),
        400,
        'ERR_ARGUMENT',
      );
      expectError(
        await t.app.inject({ method: 'POST', url: '/v1/embed', payload: { image: 'not base64 at all!' } }),
        400,
        'ERR_ARGUMENT',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/symbols/identify?k=0',
          headers: { 'content-type': 'image/png' },
          payload: png.circle!,
        }),
        400,
        'ERR_ARGUMENT',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/symbols/identify',
          payload: { image: png.circle!.toString('base64'), by: 'vibes' },
        }),
        400,
        'ERR_ARGUMENT',
      );
      await stillServing();
    });

    it('refuses labels with C1 controls, bidi overrides or noncharacters, naming the character', async () => {
      for (const [encoded, named] of [
        ['ab%C2%85', 'U+0085, at character 3'],
        ['abc%E2%80%AEgpj.exe', 'U+202E, at character 4'],
        ['x%EF%BF%BF', 'U+FFFF, at character 2'],
      ]) {
        const response = await t.app.inject({
          method: 'POST',
          url: `/v1/galleries/symbols/classes/${encoded}/examples`,
          payload: { image: png.circle!.toString('base64') },
        });
        expectError(response, 400, 'ERR_ARGUMENT');
        expect(response.json().error.message).toContain(named);
      }
      await stillServing();
    });

    it('answers an unknown gallery, class or route with 404 ERR_NOT_FOUND', async () => {
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/nowhere/identify',
          payload: { image: png.circle!.toString('base64') },
        }),
        404,
        'ERR_NOT_FOUND',
      );
      expectError(await t.app.inject({ method: 'GET', url: '/v1/galleries/nowhere' }), 404, 'ERR_NOT_FOUND');
      expectError(
        await t.app.inject({ method: 'DELETE', url: '/v1/galleries/symbols/classes/unicorn' }),
        404,
        'ERR_NOT_FOUND',
      );
      expectError(await t.app.inject({ method: 'GET', url: '/v2/anything' }), 404, 'ERR_NOT_FOUND');
      await stillServing();
    });

    it('answers malformed multipart bodies with 400 ERR_ARGUMENT on every image route, logged at info without a stack', async () => {
      const logs: string[] = [];
      const logged = await testApp(storeCase, {
        logger: { level: 'info', stream: { write: (line: string) => logs.push(line) } },
      });
      try {
        await logged.app.inject({ method: 'PUT', url: '/v1/galleries/forms' });
        const part = (name: string) =>
          `--xyz\r\nContent-Disposition: form-data; name="${name}"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`;
        const bodies: [string, string, string | Buffer][] = [
          ['no boundary', 'multipart/form-data', `${part('image')}abc\r\n--xyz--\r\n`],
          ['random bytes', 'multipart/form-data; boundary=xyz', Buffer.from([0, 1, 2, 255, 254, 13, 10, 45, 45, 7])],
          [
            'an unterminated part',
            'multipart/form-data; boundary=xyz',
            `${part('image1')}${png.circle!.toString('latin1')}`,
          ],
        ];
        for (const url of [
          '/v1/embed',
          '/v1/verify',
          '/v1/galleries/forms/classes/x/examples',
          '/v1/galleries/forms/identify',
        ]) {
          for (const [name, type, payload] of bodies) {
            const response = await logged.app.inject({
              method: 'POST',
              url,
              headers: { 'content-type': type },
              payload,
            });
            expect({ url, name, status: response.statusCode, code: response.json().error?.code }).toEqual({
              url,
              name,
              status: 400,
              code: 'ERR_ARGUMENT',
            });
            expect(response.json().error.message).toMatch(/multipart\/form-data body could not be read/);
            expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
          }
        }
        expect((await logged.store.listClasses('forms')).length).toBe(0);
        const entries = logs.map((line) => JSON.parse(line) as { level: number; err?: unknown; msg?: string });
        const refusals = entries.filter((e) => e.msg?.includes('could not be read'));
        expect(refusals.length).toBe(12);
        expect(refusals.every((e) => e.level === 30 && e.err === undefined)).toBe(true);
        expect(entries.some((e) => e.level >= 50)).toBe(false);
      } finally {
        await logged.close();
      }
      await stillServing();
    });

    it("answers Fastify's own refusals in the service's shape, with the request id", async () => {
      const cases: [
        string,
        { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: string },
        number,
        string,
      ][] = [
        ['a malformed percent-encoding', { method: 'GET', url: '/v1/galleries/%ff' }, 400, 'ERR_ARGUMENT'],
        [
          'a cut percent-encoding in a label',
          { method: 'POST', url: '/v1/galleries/symbols/classes/%E0%A4%A/examples' },
          400,
          'ERR_ARGUMENT',
        ],
        [
          'an over-long label',
          { method: 'POST', url: `/v1/galleries/symbols/classes/${'a'.repeat(3000)}/examples` },
          414,
          'ERR_URI_TOO_LONG',
        ],
        [
          'bad JSON',
          { method: 'POST', url: '/v1/embed', headers: { 'content-type': 'application/json' }, payload: '{"image' },
          400,
          'ERR_ARGUMENT',
        ],
        [
          'a wrong content type',
          { method: 'POST', url: '/v1/embed', headers: { 'content-type': 'text/csv' }, payload: 'a,b' },
          415,
          'ERR_UNSUPPORTED_MEDIA',
        ],
      ];
      for (const [name, request, status, code] of cases) {
        const response = await t.app.inject(request);
        expect({ name, status: response.statusCode, body: response.json() }).toMatchObject({
          name,
          status,
          body: { error: { code, message: expect.any(String) } },
        });
        expect(Object.keys(response.json())).toEqual(['error']);
        expect(response.headers['x-request-id'], name).toMatch(/^[0-9a-f-]{36}$/);
      }
      // A label of 200 four-byte characters, percent-encoded, still fits the router.
      const long = await t.app.inject({
        method: 'POST',
        url: `/v1/galleries/symbols/classes/${encodeURIComponent('𝒜'.repeat(100))}/examples`,
        payload: { image: png.circle!.toString('base64') },
      });
      expect(long.statusCode).toBe(201);
      await t.app.inject({
        method: 'DELETE',
        url: `/v1/galleries/symbols/classes/${encodeURIComponent('𝒜'.repeat(100))}`,
      });
      await stillServing();
    });

    it('answers too many images, too-large files and too-large bodies with 413 ERR_PAYLOAD_TOO_LARGE', async () => {
      const small = await testApp(storeCase, { limits: { imagesPerRequest: 2, imageBytes: 4096, bodyBytes: 8192 } });
      try {
        const three = multipart([1, 2, 3].map((i) => ({ name: 'image', filename: `${i}.png`, data: png.circle! })));
        expectError(
          await small.app.inject({ method: 'POST', url: '/v1/embed', ...three }),
          413,
          'ERR_PAYLOAD_TOO_LARGE',
        );
        const threeJson = { images: [1, 2, 3].map(() => png.circle!.toString('base64')) };
        expectError(
          await small.app.inject({ method: 'POST', url: '/v1/embed', payload: threeJson }),
          413,
          'ERR_PAYLOAD_TOO_LARGE',
        );
        const bigFile = multipart([{ name: 'image', filename: 'big.png', data: Buffer.alloc(10_000, 1) }]);
        expectError(
          await small.app.inject({ method: 'POST', url: '/v1/embed', ...bigFile }),
          413,
          'ERR_PAYLOAD_TOO_LARGE',
        );
        const bigBody = { image: Buffer.alloc(10_000, 1).toString('base64') };
        expectError(
          await small.app.inject({ method: 'POST', url: '/v1/embed', payload: bigBody }),
          413,
          'ERR_PAYLOAD_TOO_LARGE',
        );
        const ok = await small.app.inject({
          method: 'POST',
          url: '/v1/embed',
          payload: { image: png.circle!.toString('base64') },
        });
        expect(ok.statusCode).toBe(200);
      } finally {
        await small.close();
      }
    });
  });

  describe('DELETE /v1/galleries/:gallery/classes/:label', () => {
    it('removes a class so that identify no longer returns it', async () => {
      const removed = await t.app.inject({ method: 'DELETE', url: '/v1/galleries/symbols/classes/cross' });
      expect(removed.json()).toEqual({ label: 'cross', removed: 1 });
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/symbols/identify?k=10',
        payload: { image: png['cross-2']!.toString('base64') },
      });
      expect(response.json().matches.map((m: { label: string }) => m.label)).not.toContain('cross');
    });
  });

  describe('DELETE /v1/galleries/:gallery', () => {
    it('deletes the gallery (204), after which it is 404', async () => {
      await t.app.inject({ method: 'PUT', url: '/v1/galleries/doomed' });
      expect((await t.app.inject({ method: 'DELETE', url: '/v1/galleries/doomed' })).statusCode).toBe(204);
      expectError(await t.app.inject({ method: 'GET', url: '/v1/galleries/doomed' }), 404, 'ERR_NOT_FOUND');
      expectError(await t.app.inject({ method: 'DELETE', url: '/v1/galleries/doomed' }), 404, 'ERR_NOT_FOUND');
    });
  });

  describe('GET /healthz, /metrics, /docs', () => {
    it('reports health with the model and store', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/healthz' });
      expect(response.json()).toEqual({ status: 'ok', model: 'pixels-16', store: storeCase.name });
    });

    it('exports request counts, batch sizes and refusals in Prometheus text format', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      expect(response.body).toMatch(
        /twinshot_http_requests_total\{method="POST",route="\/v1\/galleries\/:gallery\/identify",status="200"\} \d+/,
      );
      expect(response.body).toMatch(/twinshot_embed_batch_images_count \d+/);
      expect(response.body).toMatch(/twinshot_images_rejected_total\{code="ERR_IMAGE"\} [1-9]/);
      expect(response.body).toMatch(/twinshot_gallery_search_duration_seconds_count\{store="\w+",by="example"\} [1-9]/);
    });

    it('serves an OpenAPI document listing every route, with multipart and raw image bodies', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/docs/json' });
      const doc = response.json();
      expect(doc.openapi).toMatch(/^3\./);
      for (const path of [
        '/v1/embed',
        '/v1/verify',
        '/v1/galleries',
        '/v1/galleries/{gallery}',
        '/v1/galleries/{gallery}/classes',
        '/v1/galleries/{gallery}/classes/{label}',
        '/v1/galleries/{gallery}/classes/{label}/examples',
        '/v1/galleries/{gallery}/identify',
        '/healthz',
        '/metrics',
      ]) {
        expect(Object.keys(doc.paths)).toContain(path);
      }
      const identify = doc.paths['/v1/galleries/{gallery}/identify'].post;
      expect(Object.keys(identify.requestBody.content)).toEqual(
        expect.arrayContaining(['application/json', 'multipart/form-data', 'image/png']),
      );
      expect(identify.responses['200'].content['application/json'].schema.properties).toHaveProperty('matches');
      expect((await t.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    });
  });

  describe('server faults', () => {
    it('answer 500/503 without internals in the body, log them with the request id, and keep serving', async () => {
      const logs: string[] = [];
      const broken: GalleryStore = new Proxy(t.store, {
        get(target, property, receiver) {
          if (property === 'search') {
            return async () => {
              throw new Error('disk I/O error at /var/secret/gallery.db (SELECT * FROM examples)');
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const app = await buildApp({
        embedder: new PixelEmbedder(),
        store: broken,
        rateLimit: false,
        defaultMetrics: false,
        logger: { level: 'error', stream: { write: (line: string) => logs.push(line) } },
      });
      try {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/galleries/symbols/identify',
          payload: { image: png.circle!.toString('base64') },
        });
        expectError(response, 500, 'ERR_INTERNAL');
        const body = response.json();
        expect(JSON.stringify(body)).not.toMatch(/secret|SELECT|disk/);
        expect(body.error.requestId).toBe(response.headers['x-request-id']);
        expect(logs.join('\n')).toContain(body.error.requestId);
        expect(logs.join('\n')).toContain('/var/secret/gallery.db');
        expect((await app.inject({ method: 'GET', url: '/v1/galleries/symbols/classes' })).statusCode).toBe(200);
      } finally {
        await app.close();
      }
    });
  });
});

describe('buildApp() rate limiting', () => {
  it('answers 429 ERR_RATE_LIMITED with Retry-After past the limit, but never limits /healthz', async () => {
    const t = await testApp(STORE_CASES[0]!, { rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await t.app.inject({ method: 'GET', url: '/v1/galleries' })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await t.app.inject({ method: 'GET', url: '/v1/galleries' });
      expectError(limited, 429, 'ERR_RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('buildApp() micro-batching', () => {
  it('embeds concurrent requests in fewer model calls than requests', async () => {
    // A batch runs when full or when its delay ends; with a delay far beyond the test, the 12
    // requests make exactly one call of 12 however slowly they arrive (the count must not depend on
    // the machine's speed, as it did with a 20 ms window).
    const t = await testApp(STORE_CASES[0]!, { batching: { maxBatch: 12, maxDelayMs: 3_600_000 } });
    try {
      const image = (
        await sharp({ create: { width: 40, height: 40, channels: 3, background: '#fff' } })
          .png()
          .toBuffer()
      ).toString('base64');
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => t.app.inject({ method: 'POST', url: '/v1/embed', payload: { image } })),
      );
      expect(responses.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
      const histogram = (await t.app.metrics.embedBatchImages.get()).values;
      const calls = histogram.find((v) => v.metricName === 'twinshot_embed_batch_images_count')!.value;
      const images = histogram.find((v) => v.metricName === 'twinshot_embed_batch_images_sum')!.value;
      expect(images).toBe(12);
      expect(calls).toBe(1);
    } finally {
      await t.close();
    }
  });
});
