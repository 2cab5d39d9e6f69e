// The routes that make a gallery something to look at and to take away, on every store: pictures
// kept at enrolment and served per example, a class's examples, and a gallery exported as one file
// (with its model identity and pictures) and imported again, with the errors each can give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ERROR_CODES } from '../../src/errors.js';
import { createApiKey } from '../../src/service/auth.js';
import { STORE_CASES, drawSymbol } from '../gallery/helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';
import { multipart, testApp, type TestApp } from './helpers.js';

reportIfMissing(POSTGRES, 'picture and export routes on PostgreSQL');

function expectError(response: { statusCode: number; json: () => unknown }, status: number, code: string): void {
  expect({ status: response.statusCode, body: response.json() }).toMatchObject({
    status,
    body: { error: { code, message: expect.any(String) } },
  });
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status).toBe(status);
}

describe.each(STORE_CASES)('picture and export routes on $name', (storeCase) => {
  let t: TestApp;
  let circle: Buffer;
  let cross: Buffer;
  let ids: string[];

  beforeAll(async () => {
    t = await testApp(storeCase);
    circle = await drawSymbol('circle', { size: 420 });
    cross = await drawSymbol('cross');
    await t.app.inject({ method: 'PUT', url: '/v1/galleries/shapes' });
    const form = multipart([
      { name: 'image', filename: 'a.png', data: circle },
      { name: 'image', filename: 'b.png', data: await drawSymbol('circle', { dx: 3 }) },
    ]);
    const enrolled = await t.app.inject({
      method: 'POST',
      url: '/v1/galleries/shapes/classes/circle/examples',
      ...form,
    });
    ids = enrolled.json<{ ids: string[] }>().ids;
    await t.app.inject({
      method: 'POST',
      url: `/v1/galleries/shapes/classes/${encodeURIComponent('a cross / ×')}/examples`,
      payload: { image: cross.toString('base64') },
    });
  });
  afterAll(async () => t?.close());

  describe('GET /v1/galleries/:gallery/classes', () => {
    it('names a picture for each class', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/classes' });
      const { classes } = response.json<{ classes: { label: string; examples: number; picture: string }[] }>();
      expect(classes.map((c) => [c.label, c.examples])).toEqual([
        ['a cross / ×', 1],
        ['circle', 2],
      ]);
      expect(classes[1]!.picture).toBe(`/v1/galleries/shapes/examples/${ids[0]}/picture`);
      expect(classes[0]!.picture).toMatch(/^\/v1\/galleries\/shapes\/examples\/\d+\/picture$/);
    });
  });

  describe('GET /v1/galleries/:gallery/classes/:label/examples', () => {
    it("lists a class's examples, oldest first, with their pictures' paths", async () => {
      const response = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/classes/circle/examples' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        label: 'circle',
        examples: ids.map((id) => ({
          id,
          createdAt: expect.any(String),
          picture: `/v1/galleries/shapes/examples/${id}/picture`,
        })),
      });
      expectError(
        await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/classes/square/examples' }),
        404,
        'ERR_NOT_FOUND',
      );
    });
  });

  describe('GET /v1/galleries/:gallery/examples/:id/picture', () => {
    it('serves the picture as a PNG of at most 256 pixels, and a clear 404 or 400 otherwise', async () => {
      const response = await t.app.inject({ method: 'GET', url: `/v1/galleries/shapes/examples/${ids[0]}/picture` });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('image/png');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control']).toBe('private, no-cache');
      const meta = await sharp(response.rawPayload).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 256]);

      expectError(
        await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/examples/987654/picture' }),
        404,
        'ERR_NOT_FOUND',
      );
      expectError(
        await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/examples/..%2Fx/picture' }),
        400,
        'ERR_ARGUMENT',
      );
      expectError(
        await t.app.inject({ method: 'GET', url: `/v1/galleries/nowhere/examples/${ids[0]}/picture` }),
        404,
        'ERR_NOT_FOUND',
      );
    });
  });

  describe('GET /v1/galleries/:gallery/export and POST …/import', () => {
    it('exports the gallery as one file with its model and pictures, and imports it into another gallery', async () => {
      const exported = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/export' });
      expect(exported.statusCode).toBe(200);
      expect(exported.headers['content-disposition']).toBe('attachment; filename="shapes.twinshot-gallery.json"');
      const document = exported.json<{
        model: string;
        examples: { label: string; vector: string; picture?: string }[];
      }>();
      expect(document).toMatchObject({ format: 'twinshot-gallery', version: 1, name: 'shapes', model: 'pixels-16' });
      expect(document.examples).toHaveLength(3);
      expect(document.examples.every((e) => typeof e.picture === 'string')).toBe(true);
      const bare = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/export?pictures=false' });
      expect(bare.json<typeof document>().examples.some((e) => 'picture' in e)).toBe(false);

      const imported = await t.app.inject({
        method: 'POST',
        url: '/v1/galleries/shapes-copy/import',
        payload: document,
      });
      expect(imported.statusCode).toBe(200);
      expect(imported.json()).toMatchObject({ imported: 3, gallery: { name: 'shapes-copy', classes: 2, examples: 3 } });
      const classes = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes-copy/classes' });
      const pictures = classes.json<{ classes: { picture: string | null }[] }>().classes.map((c) => c.picture);
      expect(pictures.every((p) => p !== null)).toBe(true);
      const png = await t.app.inject({ method: 'GET', url: pictures[1]! });
      expect(png.headers['content-type']).toBe('image/png');

      // The same file again with replace: the counts stay; without it they double.
      await t.app.inject({ method: 'POST', url: '/v1/galleries/shapes-copy/import?replace=true', payload: document });
      const replaced = await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes-copy' });
      expect(replaced.json()).toMatchObject({ examples: 3 });
      await t.app.inject({ method: 'POST', url: '/v1/galleries/shapes-copy/import', payload: document });
      expect((await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes-copy' })).json()).toMatchObject({
        examples: 6,
      });

      // Identify answers the same in the copy.
      const query = multipart([{ name: 'image', filename: 'q.png', data: await drawSymbol('circle', { dy: 2 }) }]);
      const a = await t.app.inject({ method: 'POST', url: '/v1/galleries/shapes/identify', ...query });
      const b = await t.app.inject({ method: 'POST', url: '/v1/galleries/shapes-copy/identify', ...query });
      expect(b.json<{ label: string }>().label).toBe(a.json<{ label: string }>().label);
    });

    it('refuses what is not an export, or another model’s, and leaves no empty gallery behind', async () => {
      const exported = (await t.app.inject({ method: 'GET', url: '/v1/galleries/shapes/export' })).json<object>();
      expectError(
        await t.app.inject({ method: 'POST', url: '/v1/galleries/junk/import', payload: { hello: 'world' } }),
        400,
        'ERR_FORMAT',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/junk/import',
          payload: { ...exported, model: 'koch2015@0123456789ab' },
        }),
        409,
        'ERR_CONFLICT',
      );
      expectError(
        await t.app.inject({
          method: 'POST',
          url: '/v1/galleries/junk/import',
          headers: { 'content-type': 'text/plain' },
          payload: 'not json',
        }),
        415,
        'ERR_UNSUPPORTED_MEDIA',
      );
      expectError(await t.app.inject({ method: 'GET', url: '/v1/galleries/junk' }), 404, 'ERR_NOT_FOUND');
      expectError(await t.app.inject({ method: 'GET', url: '/v1/galleries/junk/export' }), 404, 'ERR_NOT_FOUND');
    });
  });

  describe('keys', () => {
    it('lets a read key export and fetch pictures, and only a write key import', async () => {
      const keyed = await testApp(storeCase, { requireKeys: true });
      try {
        const reader = await createApiKey(keyed.store, { gallery: '*', scopes: ['read'] });
        const writer = await createApiKey(keyed.store, { gallery: '*', scopes: ['read', 'write'] });
        const as = (token: string) => ({ authorization: `Bearer ${token}` });
        await keyed.app.inject({ method: 'PUT', url: '/v1/galleries/k', headers: as(writer.token) });
        const form = multipart([{ name: 'image', filename: 'a.png', data: cross }]);
        const added = await keyed.app.inject({
          method: 'POST',
          url: '/v1/galleries/k/classes/x/examples',
          ...form,
          headers: { ...form.headers, ...as(writer.token) },
        });
        const [id] = added.json<{ ids: string[] }>().ids;
        const picture = `/v1/galleries/k/examples/${id}/picture`;
        expectError(await keyed.app.inject({ method: 'GET', url: picture }), 401, 'ERR_UNAUTHORIZED');
        expect((await keyed.app.inject({ method: 'GET', url: picture, headers: as(reader.token) })).statusCode).toBe(
          200,
        );
        const exported = await keyed.app.inject({
          method: 'GET',
          url: '/v1/galleries/k/export',
          headers: as(reader.token),
        });
        expect(exported.statusCode).toBe(200);
        expectError(
          await keyed.app.inject({
            method: 'POST',
            url: '/v1/galleries/k2/import',
            payload: exported.json<object>(),
            headers: as(reader.token),
          }),
          403,
          'ERR_FORBIDDEN',
        );
        const imported = await keyed.app.inject({
          method: 'POST',
          url: '/v1/galleries/k2/import',
          payload: exported.json<object>(),
          headers: as(writer.token),
        });
        expect(imported.statusCode).toBe(200);
      } finally {
        await keyed.close();
      }
    });
  });
});
