// The pictures galleries keep with their examples, on every store: kept and read back by example,
// one per class for lists, gone with their class or gallery, added in place to databases made
// before pictures were kept; through the library, kept at enrolment and carried by export/import.
import Database from 'better-sqlite3';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTwinshotError } from '../../src/errors.js';
import { Recognizer, type GalleryExport } from '../../src/gallery/gallery.js';
import type { ExamplePicture, GalleryStore } from '../../src/gallery/types.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import { PICTURE_SIDE } from '../../src/data/image.js';
import { PG_URL, STORE_CASES, drawSymbol, randomVector, seededRandom } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

reportIfMissing(POSTGRES, 'pictures on PostgreSQL');

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isTwinshotError(error) ? error.code : String(error);
  }
}

const picture = (text: string): ExamplePicture => ({ type: 'image/png', bytes: new TextEncoder().encode(text) });
const text = (p: ExamplePicture | undefined): string | undefined => (p ? new TextDecoder().decode(p.bytes) : undefined);

describe.each(STORE_CASES)('pictures on $name', (storeCase) => {
  let handle: Awaited<ReturnType<typeof storeCase.open>>;
  let store: GalleryStore;
  const random = seededRandom(11);
  const vector = (): Float32Array => randomVector(random, 4);

  beforeAll(async () => {
    handle = await storeCase.open();
    store = handle.store;
  });
  afterAll(async () => handle?.cleanup());

  describe('GalleryStore#putPictures() and #getPictures()', () => {
    it('keeps a picture per example, replaces it, and ignores ids of other galleries', async () => {
      for (const name of ['p-a', 'p-b']) await store.createGallery({ name, model: 'm', dim: 4, metric: 'l2' });
      const [a1, a2, a3] = await store.addExamples('p-a', [
        { label: 'one', vector: vector() },
        { label: 'one', vector: vector() },
        { label: 'two', vector: vector() },
      ]);
      // Ids are per gallery in PostgreSQL: p-b's fourth example has an id p-a does not have.
      const b1 = (
        await store.addExamples(
          'p-b',
          Array.from({ length: 4 }, () => ({ label: 'one', vector: vector() })),
        )
      )[3];
      expect([a1, a2, a3]).not.toContain(b1);
      await store.putPictures('p-a', [
        { id: a1!, picture: picture('first') },
        { id: a3!, picture: picture('third') },
        // Not an example of p-a: ignored, so a key for one gallery cannot write into another.
        { id: b1!, picture: picture('intruder') },
        { id: 'not-an-id', picture: picture('nothing') },
      ]);
      const got = await store.getPictures('p-a', [a1!, a2!, a3!, b1!, 'x', '0']);
      expect([...got.keys()].sort()).toEqual([a1, a3].sort());
      expect(text(got.get(a1!))).toBe('first');
      expect(got.get(a1!)!.type).toBe('image/png');
      expect((await store.getPictures('p-b', [b1!])).size).toBe(0);

      await store.putPictures('p-a', [{ id: a1!, picture: picture('again') }]);
      expect(text((await store.getPictures('p-a', [a1!])).get(a1!))).toBe('again');
      expect(await codeOf(store.getPictures('p-missing', [a1!]))).toBe('ERR_NOT_FOUND');
      expect(await codeOf(store.putPictures('p-missing', []))).toBe('ERR_NOT_FOUND');
    });
  });

  describe('GalleryStore#classPictures() and #listExamples()', () => {
    it("names each class's oldest example with a picture, and lists a class's examples oldest first", async () => {
      await store.createGallery({ name: 'p-list', model: 'm', dim: 4, metric: 'l2' });
      const ids = await store.addExamples('p-list', [
        { label: 'a', vector: vector() },
        { label: 'a', vector: vector() },
        { label: 'a', vector: vector() },
        { label: 'b', vector: vector() },
      ]);
      await store.putPictures('p-list', [
        { id: ids[1]!, picture: picture('a2') },
        { id: ids[2]!, picture: picture('a3') },
      ]);
      expect(Object.fromEntries(await store.classPictures('p-list'))).toEqual({ a: ids[1] });
      const listed = await store.listExamples('p-list', 'a');
      expect(listed.map((e) => [e.id, e.hasPicture])).toEqual([
        [ids[0], false],
        [ids[1], true],
        [ids[2], true],
      ]);
      expect(Date.parse(listed[0]!.createdAt)).not.toBeNaN();
      expect(await store.listExamples('p-list', 'nothing')).toEqual([]);
    });
  });

  describe('pictures and removal', () => {
    it('removes the pictures of a removed class and of a deleted gallery', async () => {
      await store.createGallery({ name: 'p-rm', model: 'm', dim: 4, metric: 'l2' });
      const [keep, drop] = await store.addExamples('p-rm', [
        { label: 'keep', vector: vector() },
        { label: 'drop', vector: vector() },
      ]);
      await store.putPictures('p-rm', [
        { id: keep!, picture: picture('keep') },
        { id: drop!, picture: picture('drop') },
      ]);
      expect(await store.removeClass('p-rm', 'drop')).toBe(1);
      expect([...(await store.getPictures('p-rm', [keep!, drop!])).keys()]).toEqual([keep]);
      expect(Object.fromEntries(await store.classPictures('p-rm'))).toEqual({ keep });

      expect(await store.deleteGallery('p-rm')).toBe(true);
      await store.createGallery({ name: 'p-rm', model: 'm', dim: 4, metric: 'l2' });
      const [again] = await store.addExamples('p-rm', [{ label: 'new', vector: vector() }]);
      // Whatever id the new example got, no picture of the deleted gallery comes back with it.
      expect((await store.getPictures('p-rm', [again!, keep!])).size).toBe(0);
    });
  });

  describe('galleries made before pictures were kept', () => {
    it('are read as they were and gain pictures in place when opened', async () => {
      await store.createGallery({ name: 'p-old', model: 'm', dim: 4, metric: 'l2' });
      const [id] = await store.addExamples('p-old', [{ label: 'old', vector: vector() }]);
      // Take the pictures table away, as in a database written by an earlier twinshot.
      if (storeCase.name === 'sqlite') {
        const db = new Database(handle.url.replace(/^sqlite:/, ''));
        db.exec('DROP TABLE example_pictures');
        db.close();
      } else {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        const schema = new URL(handle.url).searchParams.get('schema')!;
        await client.query(`DROP TABLE "${schema}".twinshot_pictures`);
        await client.end();
      }
      const reopened = await handle.reopen();
      try {
        expect(await reopened.listClasses('p-old')).toEqual([{ label: 'old', examples: 1 }]);
        expect(await reopened.listExamples('p-old', 'old')).toMatchObject([{ id, hasPicture: false }]);
        expect((await reopened.classPictures('p-old')).size).toBe(0);
        await reopened.putPictures('p-old', [{ id: id!, picture: picture('late') }]);
        expect(text((await reopened.getPictures('p-old', [id!])).get(id!))).toBe('late');
      } finally {
        await reopened.close();
      }
    });
  });

  describe('Gallery pictures through the library', () => {
    let recognizer: Recognizer;
    let exported: GalleryExport;

    beforeAll(() => {
      recognizer = new Recognizer(store, new PixelEmbedder());
    });

    it('keeps a small PNG of each enrolled image', async () => {
      const gallery = (await recognizer.createGallery('lib')).gallery;
      const big = await drawSymbol('circle', { size: 600 });
      const { ids } = await gallery.enroll('circle', [big, await drawSymbol('circle', { dx: 3 })]);
      const kept = await gallery.picture(ids[0]!);
      expect(kept.type).toBe('image/png');
      const meta = await sharp(kept.bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', PICTURE_SIDE, PICTURE_SIDE]);
      // Small images are not enlarged.
      expect((await sharp((await gallery.picture(ids[1]!)).bytes).metadata()).width).toBe(105);
      expect((await gallery.listWithPictures()).map((c) => [c.label, c.picture])).toEqual([['circle', ids[0]]]);
      expect((await gallery.examples('circle')).map((e) => e.hasPicture)).toEqual([true, true]);
      expect(await codeOf(gallery.examples('nothing'))).toBe('ERR_NOT_FOUND');
      expect(await codeOf(gallery.picture('999999'))).toBe('ERR_NOT_FOUND');
    });

    it('exports pictures with the vectors and imports them again, or leaves them out when asked', async () => {
      const gallery = await recognizer.gallery('lib');
      await gallery.enrollVectors([{ label: 'vector-only', vector: new Float32Array(256) }]);
      exported = await gallery.export();
      const withPicture = exported.examples.filter((e) => e.picture !== undefined);
      expect(withPicture.map((e) => e.label)).toEqual(['circle', 'circle']);
      expect((await gallery.export({ pictures: false })).examples.every((e) => e.picture === undefined)).toBe(true);

      const copy = (await recognizer.createGallery('lib-copy')).gallery;
      expect(await copy.import(exported)).toBe(3);
      const copied = await copy.examples('circle');
      expect(copied.map((e) => e.hasPicture)).toEqual([true, true]);
      const original = await gallery.picture((await gallery.examples('circle'))[0]!.id);
      const again = await copy.picture(copied[0]!.id);
      expect(Buffer.from(again.bytes).equals(Buffer.from(original.bytes))).toBe(true);
      expect((await copy.examples('vector-only')).map((e) => e.hasPicture)).toEqual([false]);
    });

    it('refuses an import whose picture is not an image, storing nothing', async () => {
      const copy = (await recognizer.createGallery('lib-bad')).gallery;
      const bad = {
        ...exported,
        examples: [
          ...exported.examples,
          { ...exported.examples[0]!, picture: Buffer.from('these are notes').toString('base64') },
        ],
      };
      expect(await codeOf(copy.import(bad))).toBe('ERR_FORMAT');
      expect(await copy.list()).toEqual([]);
      // An export written before pictures were kept still imports.
      const old = { ...exported, examples: exported.examples.map(({ picture: _p, ...rest }) => rest) };
      expect(await copy.import(old)).toBe(3);
    });
  });
});
