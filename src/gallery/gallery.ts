// The recognition library: a Recognizer (embedder + store) opens Galleries, which enrol labelled
// examples, identify new images against them, verify pairs, and export or import their vectors.
import { TwinshotError } from '../errors.js';
import { decodeImage, makePicture } from '../data/image.js';
import { embedderId, vectorDistance, type Embedder, type SearchMetric } from '../models/embedder.js';
import type {
  BulkLoadOptions,
  ClassSummary,
  ExampleBatches,
  ExamplePicture,
  ExampleSummary,
  GalleryRecord,
  GalleryStore,
  MatchMode,
  NewExample,
} from './types.js';

/** An encoded image file (PNG, JPEG, WebP, GIF), or pixels already decoded for the embedder. */
export type ImageInput = Uint8Array | { pixels: Uint8Array };

/** One ranked label. */
export interface Match {
  label: string;
  distance: number;
  /** Calibrated probability that the query shows this label (Embedder#confidence of the distance). */
  confidence: number;
}

export interface Identification {
  /** The nearest label, or null when even it is farther than the model's threshold. */
  label: string | null;
  /** True when no label is within the threshold (or the gallery is empty). */
  unknown: boolean;
  /** Up to k labels, nearest first. */
  matches: Match[];
  by: MatchMode;
  metric: SearchMetric;
  threshold: number;
}

export interface Verification {
  /** Whether the distance is at or below the model's threshold. */
  same: boolean;
  distance: number;
  /** Calibrated probability that both images show the same class. */
  confidence: number;
  metric: SearchMetric;
  threshold: number;
}

export interface EnrollResult {
  label: string;
  /** Ids of the stored examples, in input order. */
  ids: string[];
}

export interface IdentifyOptions {
  /** Number of labels to rank (default 5, at most 100). */
  k?: number;
  /** Match by nearest example (default) or by class mean. */
  by?: MatchMode;
}

/**
 * A gallery's vectors in a portable JSON document (vectors are base64 little-endian float32),
 * with the model that made them (`model` is its name and weights digest: only that model's
 * vectors can be imported) and, where kept, each example's picture.
 */
export interface GalleryExport {
  format: 'twinshot-gallery';
  version: 1;
  name: string;
  model: string;
  dim: number;
  metric: SearchMetric;
  exportedAt: string;
  examples: {
    label: string;
    vector: string;
    createdAt: string;
    /** The example's picture, a PNG in base64 (absent when it has none; older exports have none). */
    picture?: string;
  }[];
}

/**
 * The first line of a gallery export in JSON Lines (`.jsonl`), for galleries too large for one
 * JSON document; each following line is one example `{ label, vector, createdAt }`.
 */
export type GalleryLinesHeader = Omit<GalleryExport, 'format' | 'examples'> & { format: 'twinshot-gallery-lines' };

/** Examples per batch when an import in JSON Lines is streamed into the store. */
const IMPORT_BATCH = 10_000;

/** A class with its example count and the id of an example whose picture shows it (or null). */
export interface ClassWithPicture extends ClassSummary {
  picture: string | null;
}

/** Pictures are read this many at a time when a gallery is exported. */
const PICTURE_BATCH = 500;

export interface RecognizerOptions {
  /** Largest image accepted, in pixels (width x height, checked before decoding). */
  maxPixels?: number;
}

export const MAX_K = 100;
const GALLERY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_LABEL_LENGTH = 200;
/** The pattern gallery names follow (also used by the HTTP schemas). */
export const GALLERY_NAME_PATTERN = GALLERY_NAME.source;

/** @throws TwinshotError ERR_ARGUMENT unless `name` is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit */
export function checkGalleryName(name: string): string {
  if (typeof name !== 'string' || !GALLERY_NAME.test(name)) {
    throw new TwinshotError(
      'ERR_ARGUMENT',
      `gallery name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/**
 * What a label may not hold, and why. Labels end up in logs, terminals, file names and HTML:
 * control characters (C0, DEL, C1 such as U+0085 NEXT LINE, and the line and paragraph separators)
 * break lines and terminals; bidirectional overrides and isolates make text display in another
 * order than it is stored (a label can then look like another); noncharacters and lone surrogates
 * are not text at all (they do not survive UTF-8).
 */
function forbiddenCharacter(codePoint: number): string | null {
  if (codePoint <= 0x1f || (codePoint >= 0x7f && codePoint <= 0x9f)) return 'a control character';
  if (codePoint === 0x2028 || codePoint === 0x2029) return 'a line or paragraph separator';
  if ((codePoint >= 0x202a && codePoint <= 0x202e) || (codePoint >= 0x2066 && codePoint <= 0x2069))
    return 'a bidirectional override or isolate';
  if ((codePoint >= 0xfdd0 && codePoint <= 0xfdef) || (codePoint & 0xfffe) === 0xfffe) return 'a noncharacter';
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'a lone surrogate';
  return null;
}

/**
 * The one label check of the library, the CLI and the service.
 * @throws TwinshotError ERR_ARGUMENT unless `label` is 1-200 characters (UTF-16 code units) without
 * control characters, bidirectional overrides or isolates, noncharacters or lone surrogates; the
 * message names the character and its position
 */
export function checkLabel(label: string): string {
  if (typeof label !== 'string' || label.length === 0 || label.length > MAX_LABEL_LENGTH) {
    throw new TwinshotError(
      'ERR_ARGUMENT',
      `label must be 1-${MAX_LABEL_LENGTH} characters; got ${typeof label === 'string' ? `${label.length} characters` : typeof label}`,
    );
  }
  let position = 0;
  // Iterating a string yields code points, with a lone surrogate as its own item.
  for (const character of label) {
    position++;
    const codePoint = character.codePointAt(0)!;
    const kind = forbiddenCharacter(codePoint);
    if (kind !== null) {
      const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `label holds ${kind}, U+${hex}, at character ${position}; labels may not hold control characters, ` +
          'bidirectional overrides or isolates, noncharacters or lone surrogates',
      );
    }
  }
  return label;
}

function checkK(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new TwinshotError('ERR_ARGUMENT', `k must be an integer from 1 to ${MAX_K}; got ${k}`);
  }
  return k;
}

function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

function decodeVector(text: string, dim: number, where: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength !== dim * 4) {
    throw new TwinshotError(
      'ERR_FORMAT',
      `${where}: vector must be ${dim} float32 values (${dim * 4} bytes); got ${bytes.byteLength} bytes`,
    );
  }
  const vector = new Float32Array(dim);
  new Uint8Array(vector.buffer).set(bytes);
  if (!vector.every(Number.isFinite))
    throw new TwinshotError('ERR_FORMAT', `${where}: vector holds NaN or infinite values`);
  return vector;
}

/**
 * Recognition over one store with one embedder: the entry point of the library.
 *
 * @example
 * const recognizer = new Recognizer(SqliteStore.open('gallery.db'), new PixelEmbedder());
 * const gallery = (await recognizer.createGallery('symbols')).gallery;
 * await gallery.enroll('alpha', [pngBytes]);
 * const { label, matches } = await gallery.identify(queryPng, { k: 3 });
 */
export class Recognizer {
  readonly store: GalleryStore;
  readonly embedder: Embedder;
  readonly maxPixels: number | undefined;

  constructor(store: GalleryStore, embedder: Embedder, options: RecognizerOptions = {}) {
    this.store = store;
    this.embedder = embedder;
    this.maxPixels = options.maxPixels;
  }

  /**
   * Decodes images to the embedder's input (size x size grayscale).
   * @throws TwinshotError ERR_IMAGE for bytes that are not an image, truncated, or over maxPixels
   */
  async decode(images: readonly ImageInput[]): Promise<Uint8Array[]> {
    const { preprocessing } = this.embedder.info;
    const pixels = preprocessing.size * preprocessing.size;
    return Promise.all(
      images.map(async (image, i) => {
        if (image instanceof Uint8Array) {
          return decodeImage(image, preprocessing, this.maxPixels === undefined ? {} : { maxPixels: this.maxPixels });
        }
        if (!(image?.pixels instanceof Uint8Array) || image.pixels.length !== pixels) {
          throw new TwinshotError('ERR_IMAGE', `image ${i}: decoded pixels must be a Uint8Array of ${pixels} values`);
        }
        return image.pixels;
      }),
    );
  }

  /** Embeds images with the model (decoding them first). */
  async embed(images: readonly ImageInput[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    return this.embedder.embed(await this.decode(images));
  }

  /** Whether two images show the same class, with the distance and a calibrated probability. */
  async verify(image1: ImageInput, image2: ImageInput): Promise<Verification> {
    const [a, b] = await this.embed([image1, image2]);
    return this.verifyVectors(a!, b!);
  }

  /** {@link Recognizer#verify} for vectors already embedded. */
  verifyVectors(a: Float32Array, b: Float32Array): Verification {
    const { metric, threshold } = this.embedder.info;
    const distance = vectorDistance(metric, a, b);
    return { same: distance <= threshold, distance, confidence: this.embedder.confidence(distance), metric, threshold };
  }

  /**
   * Creates a gallery for this recognizer's model, or opens it when it exists already.
   * @throws TwinshotError ERR_CONFLICT when it exists for another model
   */
  async createGallery(name: string): Promise<{ gallery: Gallery; created: boolean }> {
    const { dim, metric } = this.embedder.info;
    const model = embedderId(this.embedder.info);
    const { gallery, created } = await this.store.createGallery({ name: checkGalleryName(name), model, dim, metric });
    return { gallery: new Gallery(this, gallery.name), created };
  }

  /**
   * Opens an existing gallery.
   * @throws TwinshotError ERR_NOT_FOUND when there is none; ERR_CONFLICT when its vectors come from another model
   */
  async gallery(name: string): Promise<Gallery> {
    const record = await this.store.describeGallery(checkGalleryName(name));
    if (!record) throw new TwinshotError('ERR_NOT_FOUND', `gallery '${name}' does not exist`);
    this.checkCompatible(record);
    return new Gallery(this, record.name);
  }

  /** @throws TwinshotError ERR_CONFLICT when the gallery's vectors were made by another model */
  checkCompatible(record: Pick<GalleryRecord, 'name' | 'model' | 'dim' | 'metric'>): void {
    const { dim, metric } = this.embedder.info;
    const name = embedderId(this.embedder.info);
    if (record.model !== name || record.dim !== dim || record.metric !== metric) {
      throw new TwinshotError(
        'ERR_CONFLICT',
        `gallery '${record.name}' holds vectors of model '${record.model}' (${record.dim}-d, ${record.metric}); ` +
          `this recognizer embeds with '${name}' (${dim}-d, ${metric}); re-enrol into a new gallery`,
      );
    }
  }

  listGalleries(): Promise<GalleryRecord[]> {
    return this.store.listGalleries();
  }

  /** Deletes a gallery and its vectors; false when there was none. */
  deleteGallery(name: string): Promise<boolean> {
    return this.store.deleteGallery(checkGalleryName(name));
  }
}

/** One named gallery: labelled examples to match queries against. Get one from a {@link Recognizer}. */
export class Gallery {
  readonly name: string;
  readonly #recognizer: Recognizer;

  /** @internal use Recognizer#gallery or Recognizer#createGallery */
  constructor(recognizer: Recognizer, name: string) {
    this.#recognizer = recognizer;
    this.name = name;
  }

  get #store(): GalleryStore {
    return this.#recognizer.store;
  }

  /** The gallery's model, size and creation time. @throws ERR_NOT_FOUND once deleted */
  async info(): Promise<GalleryRecord> {
    const record = await this.#store.getGallery(this.name);
    if (!record) throw new TwinshotError('ERR_NOT_FOUND', `gallery '${this.name}' does not exist`);
    return record;
  }

  /**
   * Registers examples of a label (one is enough: that is one-shot learning). All images are
   * decoded and embedded before anything is stored, and stored in one transaction.
   * @throws TwinshotError ERR_ARGUMENT for a bad label or no images; ERR_IMAGE for a bad image
   */
  async enroll(label: string, images: readonly ImageInput[]): Promise<EnrollResult> {
    checkLabel(label);
    if (images.length === 0) throw new TwinshotError('ERR_ARGUMENT', 'enroll: give at least one image');
    const vectors = await this.#recognizer.embed(images);
    const ids = await this.enrollVectors(vectors.map((vector) => ({ label, vector })));
    const files = images.every((image) => image instanceof Uint8Array);
    if (files) await this.keepPictures(ids, images as readonly Uint8Array[]);
    return { label, ids };
  }

  /**
   * Keeps a small picture of each image (see makePicture) with the example made from it, so any
   * client can show what was taught; `ids` as enroll or enrollVectors returned them, in order.
   * @throws TwinshotError ERR_IMAGE for an image that cannot be read
   */
  async keepPictures(ids: readonly string[], images: readonly Uint8Array[]): Promise<void> {
    if (ids.length !== images.length)
      throw new TwinshotError('ERR_ARGUMENT', `keepPictures: ${ids.length} ids for ${images.length} images`);
    const maxPixels = this.#recognizer.maxPixels;
    const pictures = await Promise.all(
      images.map((image) => makePicture(image, maxPixels === undefined ? {} : { maxPixels })),
    );
    await this.#store.putPictures(
      this.name,
      ids.map((id, i) => ({ id, picture: { type: 'image/png', bytes: pictures[i]! } })),
    );
  }

  /**
   * The picture kept with an example.
   * @throws TwinshotError ERR_NOT_FOUND when the gallery has no such example, or it has no picture
   */
  async picture(id: string): Promise<ExamplePicture> {
    const picture = (await this.#store.getPictures(this.name, [id])).get(id);
    if (!picture)
      throw new TwinshotError('ERR_NOT_FOUND', `gallery '${this.name}' has no picture of an example '${id}'`);
    return picture;
  }

  /**
   * A label's examples, oldest first, with whether each has a picture.
   * @throws TwinshotError ERR_NOT_FOUND when the gallery has no such label
   */
  async examples(label: string): Promise<ExampleSummary[]> {
    const examples = await this.#store.listExamples(this.name, checkLabel(label));
    if (examples.length === 0)
      throw new TwinshotError('ERR_NOT_FOUND', `gallery '${this.name}' has no class '${label}'`);
    return examples;
  }

  /** Stores vectors already embedded by this gallery's model (imports, benchmarks). */
  async enrollVectors(examples: readonly NewExample[]): Promise<string[]> {
    for (const { label } of examples) checkLabel(label);
    return this.#store.addExamples(this.name, examples);
  }

  /**
   * Adds a large number of vectors already embedded by this gallery's model, consumed batch by
   * batch, in one transaction (an interrupted load leaves the gallery as it was); the search
   * index is built once after the rows. Returns the number added.
   * @example
   * await gallery.addBulk(batchesOf10000, { onProgress: (n) => bar.update(n) });
   * @throws TwinshotError ERR_ARGUMENT for a bad label, ERR_SHAPE for a vector of the wrong length (nothing is stored)
   */
  addBulk(batches: ExampleBatches, options: BulkLoadOptions = {}): Promise<number> {
    async function* checked(): AsyncGenerator<readonly NewExample[]> {
      for await (const batch of batches) {
        for (const { label } of batch) checkLabel(label);
        yield batch;
      }
    }
    return this.#store.addBulk(this.name, checked(), options);
  }

  /** Ranks the gallery's labels for one image; `label` is null when nothing is within the threshold. */
  async identify(image: ImageInput, options: IdentifyOptions = {}): Promise<Identification> {
    return (await this.identifyMany([image], options))[0]!;
  }

  /** {@link Gallery#identify} for several images, searched together. */
  async identifyMany(images: readonly ImageInput[], options: IdentifyOptions = {}): Promise<Identification[]> {
    const k = checkK(options.k ?? 5);
    return this.identifyVectors(await this.#recognizer.embed(images), { ...options, k });
  }

  /** {@link Gallery#identify} for vectors already embedded. */
  async identifyVectors(vectors: readonly Float32Array[], options: IdentifyOptions = {}): Promise<Identification[]> {
    const k = checkK(options.k ?? 5);
    const by = options.by ?? 'example';
    if (by !== 'example' && by !== 'mean')
      throw new TwinshotError('ERR_ARGUMENT', `by must be 'example' or 'mean'; got ${String(by)}`);
    const { embedder } = this.#recognizer;
    const { metric, threshold } = embedder.info;
    const rankings = await this.#store.search(this.name, vectors, { k, by });
    return rankings.map((ranking) => {
      const matches = ranking.map(({ label, distance }) => ({
        label,
        distance,
        confidence: embedder.confidence(distance),
      }));
      const best = matches[0];
      const known = best !== undefined && best.distance <= threshold;
      return { label: known ? best.label : null, unknown: !known, matches, by, metric, threshold };
    });
  }

  /** Same as {@link Recognizer#verify}; galleries are not involved. */
  verify(image1: ImageInput, image2: ImageInput): Promise<Verification> {
    return this.#recognizer.verify(image1, image2);
  }

  /** Removes every example of a label; returns how many there were (0 when none). */
  remove(label: string): Promise<number> {
    return this.#store.removeClass(this.name, checkLabel(label));
  }

  /** Labels with their example counts, sorted by label. */
  list(): Promise<ClassSummary[]> {
    return this.#store.listClasses(this.name);
  }

  /** {@link Gallery#list}, with the id of an example whose picture shows each class (or null). */
  async listWithPictures(): Promise<ClassWithPicture[]> {
    const [classes, pictures] = await Promise.all([this.list(), this.#store.classPictures(this.name)]);
    return classes.map((c) => ({ ...c, picture: pictures.get(c.label) ?? null }));
  }

  /**
   * Every example as a portable document (see {@link GalleryExport}), with the pictures kept
   * with them unless `pictures` is false.
   */
  async export(options: { pictures?: boolean } = {}): Promise<GalleryExport> {
    const record = await this.info();
    const examples = await this.#store.exportExamples(this.name);
    const pictures = new Map<string, ExamplePicture>();
    if (options.pictures ?? true) {
      for (let start = 0; start < examples.length; start += PICTURE_BATCH) {
        const ids = examples.slice(start, start + PICTURE_BATCH).map((e) => e.id);
        for (const [id, picture] of await this.#store.getPictures(this.name, ids)) pictures.set(id, picture);
      }
    }
    return {
      format: 'twinshot-gallery',
      version: 1,
      name: record.name,
      model: record.model,
      dim: record.dim,
      metric: record.metric,
      exportedAt: new Date().toISOString(),
      examples: examples.map(({ id, label, vector, createdAt }) => {
        const picture = pictures.get(id);
        return {
          label,
          vector: encodeVector(vector),
          createdAt,
          ...(picture ? { picture: Buffer.from(picture.bytes).toString('base64') } : {}),
        };
      }),
    };
  }

  /** Every example in JSON Lines: a {@link GalleryLinesHeader}, then one line per example. */
  async *exportLines(): AsyncGenerator<string> {
    const record = await this.info();
    const header: GalleryLinesHeader = {
      format: 'twinshot-gallery-lines',
      version: 1,
      name: record.name,
      model: record.model,
      dim: record.dim,
      metric: record.metric,
      exportedAt: new Date().toISOString(),
    };
    yield `${JSON.stringify(header)}\n`;
    for (const { label, vector, createdAt } of await this.#store.exportExamples(this.name)) {
      yield `${JSON.stringify({ label, vector: encodeVector(vector), createdAt })}\n`;
    }
  }

  /**
   * Adds an export in JSON Lines (see {@link Gallery#exportLines}), streamed line by line through
   * {@link Gallery#addBulk}: all or nothing, whatever its size. Returns the number of examples added.
   * @throws TwinshotError ERR_FORMAT for a malformed line (nothing is stored); ERR_CONFLICT when it comes from another model
   */
  async importLines(lines: AsyncIterable<string>, options: BulkLoadOptions = {}): Promise<number> {
    const iterator = lines[Symbol.asyncIterator]();
    let lineNumber = 1;
    const first = await iterator.next();
    let header: GalleryLinesHeader;
    try {
      header = JSON.parse(first.done ? '' : first.value) as GalleryLinesHeader;
    } catch {
      header = {} as GalleryLinesHeader;
    }
    if (header?.format !== 'twinshot-gallery-lines' || header.version !== 1) {
      throw new TwinshotError(
        'ERR_FORMAT',
        'import: line 1 is not the header of a twinshot gallery export in JSON Lines (format "twinshot-gallery-lines", version 1)',
      );
    }
    this.#recognizer.checkCompatible({ ...header, name: header.name ?? this.name });
    async function* batches(): AsyncGenerator<NewExample[]> {
      let batch: NewExample[] = [];
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        lineNumber++;
        if (next.value.trim() === '') continue;
        let example: { label?: unknown; vector?: unknown };
        try {
          example = JSON.parse(next.value) as typeof example;
        } catch (error) {
          throw new TwinshotError('ERR_FORMAT', `import: line ${lineNumber} is not JSON: ${(error as Error).message}`);
        }
        batch.push({
          label: checkLabel(example?.label as string),
          vector: decodeVector(String(example?.vector), header.dim, `import: line ${lineNumber}`),
        });
        if (batch.length === IMPORT_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
    return this.addBulk(batches(), options);
  }

  /**
   * Adds the examples of an export to this gallery (in one transaction); with `replace`, removes
   * the labels it contains first. Returns the number of examples added.
   * @throws TwinshotError ERR_FORMAT for a malformed document; ERR_CONFLICT when it comes from another model
   */
  async import(document: GalleryExport, options: { replace?: boolean } = {}): Promise<number> {
    if (document?.format !== 'twinshot-gallery' || document.version !== 1 || !Array.isArray(document.examples)) {
      throw new TwinshotError(
        'ERR_FORMAT',
        'import: not a twinshot gallery export (format "twinshot-gallery", version 1)',
      );
    }
    this.#recognizer.checkCompatible({ ...document, name: document.name ?? this.name });
    const examples = document.examples.map((example, i) => ({
      label: checkLabel(example?.label),
      vector: decodeVector(String(example?.vector), document.dim, `import: example ${i}`),
    }));
    // Pictures are made again from what the file holds (so only readable images are kept), and
    // all of them before anything is stored: a bad one rejects the whole import.
    const maxPixels = this.#recognizer.maxPixels;
    const pictures = await Promise.all(
      document.examples.map(async (example, i) => {
        if (example?.picture === undefined) return null;
        if (typeof example.picture !== 'string')
          throw new TwinshotError('ERR_FORMAT', `import: example ${i}: picture must be a base64 string`);
        try {
          return await makePicture(
            Buffer.from(example.picture, 'base64'),
            maxPixels === undefined ? {} : { maxPixels },
          );
        } catch (error) {
          throw new TwinshotError(
            'ERR_FORMAT',
            `import: example ${i}: picture is not an image (${(error as Error).message})`,
          );
        }
      }),
    );
    if (options.replace) {
      for (const label of new Set(examples.map((e) => e.label))) await this.#store.removeClass(this.name, label);
    }
    const ids = await this.enrollVectors(examples);
    const kept = ids.flatMap((id, i) => {
      const bytes = pictures[i];
      return bytes ? [{ id, picture: { type: 'image/png', bytes } }] : [];
    });
    if (kept.length > 0) await this.#store.putPictures(this.name, kept);
    return examples.length;
  }
}
