// The gallery kept in this browser (IndexedDB) for recognition on this device: each example's
// vector, computed here by the model (device/model.ts), and its picture. Nothing goes to the
// server, so teaching and recognising go on when it is stopped. Vectors of another model are kept
// apart (by model identity), as the service keeps galleries of two models apart.
import type { ClassSummary, ExampleSummary, Identification, Match } from '../api.js';
import { vectorDistance } from '../../../src/models/embedder.js';
import type { DeviceModel } from '../device/model.js';
import { pictureOf } from '../device/preprocess.js';
import type { GalleryBackend } from './backend.js';

const DATABASE = 'twinshot-device';
const EXAMPLES = 'examples';
const BY_GALLERY = 'by-gallery';

interface StoredExample {
  id?: number;
  /** The model identity (name@digest) that made `vector`. */
  model: string;
  gallery: string;
  label: string;
  vector: Float32Array;
  picture: Blob;
  createdAt: string;
}

/** A request's result as a promise. */
function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB refused the request'));
  });
}

/** A transaction's completion as a promise (a write is durable once it resolves). */
function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB could not save'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB gave up saving'));
  });
}

function openDatabase(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('this browser keeps no IndexedDB'));
  const request = indexedDB.open(DATABASE, 1);
  request.onupgradeneeded = () => {
    const store = request.result.createObjectStore(EXAMPLES, { keyPath: 'id', autoIncrement: true });
    store.createIndex(BY_GALLERY, ['model', 'gallery']);
  };
  return done(request);
}

export function deviceGalleries(model: DeviceModel): GalleryBackend {
  const database = openDatabase();
  /** Each gallery's examples, read once (a gallery here is small) and kept in step with writes. */
  const loaded = new Map<string, Promise<StoredExample[]>>();
  /** Object URLs of the pictures shown, by example id. */
  const urls = new Map<number, string>();

  const examplesOf = (gallery: string): Promise<StoredExample[]> => {
    let examples = loaded.get(gallery);
    if (!examples) {
      examples = database.then((db) =>
        done(
          db
            .transaction(EXAMPLES, 'readonly')
            .objectStore(EXAMPLES)
            .index(BY_GALLERY)
            .getAll(IDBKeyRange.only([model.id, gallery])) as IDBRequest<StoredExample[]>,
        ),
      );
      loaded.set(gallery, examples);
      examples.catch(() => loaded.delete(gallery));
    }
    return examples;
  };

  const urlOf = (example: StoredExample): string => {
    let url = urls.get(example.id!);
    if (!url) {
      url = URL.createObjectURL(example.picture);
      urls.set(example.id!, url);
    }
    return url;
  };

  const forget = (removed: readonly StoredExample[]): void => {
    for (const example of removed) {
      const url = urls.get(example.id!);
      if (url) URL.revokeObjectURL(url);
      urls.delete(example.id!);
    }
  };

  return {
    where: 'device',

    async exists(gallery) {
      return (await examplesOf(gallery)).length > 0;
    },

    async classes(gallery) {
      const byLabel = new Map<string, ClassSummary>();
      for (const example of await examplesOf(gallery)) {
        const known = byLabel.get(example.label);
        if (known) known.examples += 1;
        else byLabel.set(example.label, { label: example.label, examples: 1, picture: urlOf(example) });
      }
      return [...byLabel.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    },

    async examples(gallery, label) {
      return (await examplesOf(gallery))
        .filter((e) => e.label === label)
        .map((e): ExampleSummary => ({ id: String(e.id), createdAt: e.createdAt, picture: urlOf(e) }));
    },

    async enrol(gallery, label, images) {
      const now = new Date().toISOString();
      // Embedded and pictured before anything is written: one bad image stores nothing.
      const made: StoredExample[] = [];
      for (const image of images) {
        const [vector, picture] = await Promise.all([model.embed(image), pictureOf(image)]);
        made.push({ model: model.id, gallery, label, vector, picture, createdAt: now });
      }
      const db = await database;
      const transaction = db.transaction(EXAMPLES, 'readwrite');
      const store = transaction.objectStore(EXAMPLES);
      const ids = made.map((example) => done(store.add(example)));
      await committed(transaction);
      const current = await examplesOf(gallery);
      (await Promise.all(ids)).forEach((id, i) => current.push({ ...made[i]!, id: Number(id) }));
    },

    async removeClass(gallery, label) {
      const current = await examplesOf(gallery);
      const removed = current.filter((e) => e.label === label);
      const db = await database;
      const transaction = db.transaction(EXAMPLES, 'readwrite');
      for (const example of removed) transaction.objectStore(EXAMPLES).delete(example.id!);
      await committed(transaction);
      loaded.set(gallery, Promise.resolve(current.filter((e) => e.label !== label)));
      forget(removed);
    },

    async clear(gallery) {
      const current = await examplesOf(gallery);
      const db = await database;
      const transaction = db.transaction(EXAMPLES, 'readwrite');
      for (const example of current) transaction.objectStore(EXAMPLES).delete(example.id!);
      await committed(transaction);
      loaded.set(gallery, Promise.resolve([]));
      forget(current);
    },

    async identify(gallery, image, k, signal) {
      const [query, examples] = await Promise.all([model.embed(image), examplesOf(gallery)]);
      if (signal.aborted) throw new DOMException('a newer drawing took its place', 'AbortError');
      // Each label's nearest example, as the service ranks by default ('example').
      const nearest = new Map<string, number>();
      for (const example of examples) {
        const distance = vectorDistance(model.metric, query, example.vector);
        if (!(nearest.get(example.label)! <= distance)) nearest.set(example.label, distance);
      }
      const matches: Match[] = [...nearest]
        .sort((a, b) => a[1] - b[1])
        .slice(0, k)
        .map(([label, distance]) => ({ label, distance, confidence: model.confidence(distance) }));
      const best = matches[0];
      const known = best !== undefined && best.distance <= model.verification.threshold;
      return {
        label: known ? best.label : null,
        unknown: !known,
        matches,
        metric: model.metric,
        threshold: model.verification.threshold,
      } satisfies Identification;
    },
  };
}
