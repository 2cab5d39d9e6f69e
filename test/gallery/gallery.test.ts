// The recognition library (Recognizer, Gallery) with the pixel baseline, on every store: one-shot
// enrolment, identification by example and by mean, unknowns, verification, removal, export/import.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Recognizer, checkLabel, type Gallery, type GalleryExport } from '../../src/gallery/gallery.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import type { Embedder } from '../../src/models/embedder.js';
import { isTwinshotError } from '../../src/errors.js';
import { STORE_CASES, SYMBOLS, drawSymbol, type SymbolKind } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

reportIfMissing(POSTGRES, 'Gallery on PostgreSQL');

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isTwinshotError(error) ? error.code : String(error);
  }
}

describe.each(STORE_CASES)('Gallery on $name', (storeCase) => {
  let handle: Awaited<ReturnType<typeof storeCase.open>>;
  let recognizer: Recognizer;
  let gallery: Gallery;
  const first: Partial<Record<SymbolKind, Buffer>> = {};
  const second: Partial<Record<SymbolKind, Buffer>> = {};

  beforeAll(async () => {
    handle = await storeCase.open();
    recognizer = new Recognizer(handle.store, new PixelEmbedder());
    gallery = (await recognizer.createGallery('omni')).gallery;
    for (const kind of SYMBOLS) {
      first[kind] = await drawSymbol(kind);
      second[kind] = await drawSymbol(kind, { dx: 2, dy: -2, stroke: 7 });
    }
  });
  afterAll(async () => handle?.cleanup());

  describe('Gallery#enroll()', () => {
    it('registers each of eight symbols from one example', async () => {
      for (const kind of SYMBOLS) {
        const result = await gallery.enroll(kind, [first[kind]!]);
        expect(result).toEqual({ label: kind, ids: [expect.any(String)] });
      }
      expect((await gallery.list()).map((c) => c.label)).toEqual([...SYMBOLS].sort());
      expect(await gallery.info()).toMatchObject({
        name: 'omni',
        model: 'pixels-16',
        dim: 256,
        classes: 8,
        examples: 8,
      });
    });

    it('stores nothing when one image of the batch is bad, and names the problem', async () => {
      const code = await codeOf(gallery.enroll('broken', [first.circle!, Buffer.from('GIF89a but not really')]));
      expect(code).toBe('ERR_IMAGE');
      expect((await gallery.list()).map((c) => c.label)).not.toContain('broken');
    });

    it('refuses empty labels, control characters and no images (ERR_ARGUMENT)', async () => {
      expect(await codeOf(gallery.enroll('', [first.circle!]))).toBe('ERR_ARGUMENT');
      expect(await codeOf(gallery.enroll('a\nb', [first.circle!]))).toBe('ERR_ARGUMENT');
      expect(await codeOf(gallery.enroll('x'.repeat(201), [first.circle!]))).toBe('ERR_ARGUMENT');
      expect(await codeOf(gallery.enroll('nothing', []))).toBe('ERR_ARGUMENT');
    });
  });

  describe('Gallery#identify()', () => {
    it("ranks each symbol first for another drawer's version of it (8-way one-shot)", async () => {
      const results = await gallery.identifyMany(
        SYMBOLS.map((kind) => second[kind]!),
        { k: 3 },
      );
      expect(results.map((r) => r.label)).toEqual([...SYMBOLS]);
      for (const r of results) {
        expect(r.unknown).toBe(false);
        expect(r.matches).toHaveLength(3);
        expect(r.matches[0]!.distance).toBeLessThanOrEqual(r.matches[1]!.distance);
        expect(r.matches[0]!.confidence).toBeGreaterThan(0.5);
        expect(r.matches[2]!.confidence).toBeLessThan(r.matches[0]!.confidence);
        expect(r).toMatchObject({ by: 'example', metric: 'l2', threshold: recognizer.embedder.info.threshold });
      }
    });

    it('matches by class mean as well as by nearest example', async () => {
      await gallery.enroll('circle', [await drawSymbol('circle', { dx: -2, dy: 2, stroke: 5 })]);
      const byMean = await gallery.identify(second.circle!, { k: 2, by: 'mean' });
      expect(byMean).toMatchObject({ label: 'circle', by: 'mean' });
      const byExample = await gallery.identify(second.circle!, { k: 2, by: 'example' });
      // The class mean of two shifted circles is a blur: farther from a sharp query than its nearest example.
      expect(byMean.matches[0]!.distance).not.toBeCloseTo(byExample.matches[0]!.distance, 4);
    });

    it("says unknown when even the best match is beyond the model's threshold", async () => {
      const strict = new Recognizer(handle.store, new PixelEmbedder({ threshold: 0.01 }));
      const result = await (await strict.gallery('omni')).identify(second.star!);
      expect(result).toMatchObject({ label: null, unknown: true });
      expect(result.matches[0]!.label).toBe('star');
    });

    it('checks k', async () => {
      expect(await codeOf(gallery.identify(second.star!, { k: 0 }))).toBe('ERR_ARGUMENT');
      expect(await codeOf(gallery.identify(second.star!, { k: 101 }))).toBe('ERR_ARGUMENT');
    });
  });

  describe('Gallery#verify()', () => {
    it('calls two drawings of a symbol the same and two symbols different, with probabilities', async () => {
      const same = await gallery.verify(first.wave!, second.wave!);
      const different = await gallery.verify(first.wave!, second.zigzag!);
      expect(same.same).toBe(true);
      expect(different.same).toBe(false);
      expect(same.confidence).toBeGreaterThan(0.5);
      expect(different.confidence).toBeLessThan(0.5);
      expect((await gallery.verify(first.wave!, first.wave!)).distance).toBeCloseTo(0, 5);
    });
  });

  describe('Gallery#remove()', () => {
    it('removes a label and reports how many examples it had', async () => {
      await gallery.enroll('temp', [first.spiral!, second.spiral!]);
      expect(await gallery.remove('temp')).toBe(2);
      expect(await gallery.remove('temp')).toBe(0);
      const result = await gallery.identify(second.spiral!, { k: 10 });
      expect(result.matches.map((m) => m.label)).not.toContain('temp');
      expect(result.label).toBe('spiral');
    });
  });

  describe('Gallery#export() and Gallery#import()', () => {
    let exported: GalleryExport;

    it('exports every example as base64 float32 vectors', async () => {
      exported = await gallery.export();
      expect(exported).toMatchObject({
        format: 'twinshot-gallery',
        version: 1,
        name: 'omni',
        model: 'pixels-16',
        dim: 256,
        metric: 'l2',
      });
      expect(exported.examples).toHaveLength((await gallery.info()).examples);
      expect(Buffer.from(exported.examples[0]!.vector, 'base64').byteLength).toBe(256 * 4);
    });

    it('imports into another gallery (and another store) with identical answers', async () => {
      const copy = (await recognizer.createGallery('omni-copy')).gallery;
      expect(await copy.import(exported)).toBe(exported.examples.length);
      const a = await gallery.identifyMany(
        SYMBOLS.map((k) => second[k]!),
        { k: 4 },
      );
      const b = await copy.identifyMany(
        SYMBOLS.map((k) => second[k]!),
        { k: 4 },
      );
      expect(b.map((r) => r.matches.map((m) => m.label))).toEqual(a.map((r) => r.matches.map((m) => m.label)));
      b.forEach((r, i) => r.matches.forEach((m, j) => expect(m.distance).toBeCloseTo(a[i]!.matches[j]!.distance, 5)));
      // With replace, importing again leaves the counts unchanged instead of doubling them.
      await copy.import(exported, { replace: true });
      expect(await copy.list()).toEqual(await gallery.list());
    });

    it('refuses documents from another model (ERR_CONFLICT) and malformed ones (ERR_FORMAT)', async () => {
      const copy = await recognizer.gallery('omni-copy');
      expect(await codeOf(copy.import({ ...exported, model: 'koch2015' }))).toBe('ERR_CONFLICT');
      expect(await codeOf(copy.import({ ...exported, format: 'zip' } as unknown as GalleryExport))).toBe('ERR_FORMAT');
      const short = { ...exported, examples: [{ label: 'x', vector: 'AAAA', createdAt: '' }] };
      expect(await codeOf(copy.import(short))).toBe('ERR_FORMAT');
    });
  });

  describe('Recognizer#gallery()', () => {
    it('answers ERR_NOT_FOUND for a missing gallery and ERR_CONFLICT for one of another model', async () => {
      expect(await codeOf(recognizer.gallery('missing'))).toBe('ERR_NOT_FOUND');
      const other = new Recognizer(handle.store, new PixelEmbedder({ grid: 8 }));
      expect(await codeOf(other.gallery('omni'))).toBe('ERR_CONFLICT');
      expect(await codeOf(other.createGallery('omni'))).toBe('ERR_CONFLICT');
      expect(await codeOf(recognizer.gallery('../etc'))).toBe('ERR_ARGUMENT');
    });

    it('tells a retrained release of the same model (same name, other weights) from the one that stored the vectors', async () => {
      const base = new PixelEmbedder();
      const retrained: Embedder = {
        info: { ...base.info, id: 'pixels-16@0123456789ab' },
        embed: (images) => base.embed(images),
        confidence: (distance) => base.confidence(distance),
        close: () => base.close(),
      };
      const newer = new Recognizer(handle.store, retrained);
      await expect(newer.gallery('omni')).rejects.toThrow(
        "gallery 'omni' holds vectors of model 'pixels-16' (256-d, l2); this recognizer embeds with 'pixels-16@0123456789ab'",
      );
      // Its own galleries record the full identity.
      const { gallery: own } = await newer.createGallery('retrained');
      expect((await own.info()).model).toBe('pixels-16@0123456789ab');
      await newer.deleteGallery('retrained');
    });

    it('deletes galleries', async () => {
      await recognizer.createGallery('short-lived');
      expect(await recognizer.deleteGallery('short-lived')).toBe(true);
      expect((await recognizer.listGalleries()).map((g) => g.name)).not.toContain('short-lived');
    });
  });
});

describe('checkLabel()', () => {
  it('accepts ordinary text in any script, emoji and joiners', () => {
    for (const label of ['alpha', 'square / 四角', 'ذ', '👩‍👩‍👧', 'é', 'a\u200db', '𝒜'.repeat(100)])
      expect(checkLabel(label)).toBe(label);
  });

  it('refuses controls, bidi overrides and isolates, noncharacters and lone surrogates, naming the character and where', () => {
    for (const [label, expected] of [
      ['a\nb', /a control character, U\+000A, at character 2/],
      ['ab\u0085', /a control character, U\+0085, at character 3/],
      ['\u009b', /control character, U\+009B, at character 1/],
      ['x\u2028', /line or paragraph separator, U\+2028/],
      ['abc\u202Etxt.exe', /bidirectional override or isolate, U\+202E, at character 4/],
      ['\u2066x\u2069', /bidirectional override or isolate, U\+2066, at character 1/],
      ['a\uFFFF', /a noncharacter, U\+FFFF, at character 2/],
      ['a\uFFFE', /a noncharacter, U\+FFFE/],
      ['\uFDD0', /a noncharacter, U\+FDD0/],
      ['𝒜\u{1FFFF}', /a noncharacter, U\+1FFFF, at character 2/],
      ['a\uD800b', /a lone surrogate, U\+D800, at character 2/],
      ['\uDC00', /a lone surrogate, U\+DC00, at character 1/],
    ] as const) {
      expect(() => checkLabel(label), JSON.stringify(label)).toThrow(expected);
    }
    expect(() => checkLabel('')).toThrow(/1-200 characters; got 0/);
    expect(() => checkLabel('x'.repeat(201))).toThrow(/1-200 characters; got 201/);
  });
});
