// The gallery store contract: galleries of labelled embedding vectors and API keys, behind one
// interface that the embedded SQLite store and the PostgreSQL + pgvector store both implement.
import type { SearchMetric } from '../models/embedder.js';

/** One gallery: a named set of labelled vectors, all from one model. */
export interface GalleryRecord {
  name: string;
  /** Name of the model that made the vectors (embedderId: name and weights digest); other models' vectors do not compare. */
  model: string;
  dim: number;
  metric: SearchMetric;
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** Number of distinct labels. */
  classes: number;
  /** Number of stored vectors. */
  examples: number;
}

/** What a gallery is created with. */
export interface GallerySpec {
  name: string;
  model: string;
  dim: number;
  metric: SearchMetric;
}

export interface NewExample {
  label: string;
  vector: Float32Array;
}

/** Examples in batches, as a bulk load consumes them. */
export type ExampleBatches = AsyncIterable<readonly NewExample[]> | Iterable<readonly NewExample[]>;

export interface BulkLoadOptions {
  /** Called after each batch with the number of examples written so far (committed at the end). */
  onProgress?: (written: number) => void;
}

export interface ExampleRecord {
  id: string;
  label: string;
  vector: Float32Array;
  createdAt: string;
}

export interface ClassSummary {
  label: string;
  examples: number;
}

/**
 * A small picture of an example, kept beside its vector so that every client can show what was
 * taught (the vector alone cannot be turned back into an image).
 */
export interface ExamplePicture {
  /** Media type of `bytes` (pictures are made as 'image/png'). */
  type: string;
  bytes: Uint8Array;
}

/** One stored example of a class, without its vector. */
export interface ExampleSummary {
  id: string;
  createdAt: string;
  /** False for examples stored without a picture (by vector, or before pictures were kept). */
  hasPicture: boolean;
}

/**
 * How a query is matched: 'example' ranks labels by their nearest stored example; 'mean' ranks
 * labels by the distance to the mean of their examples (a prototype, as in Snell et al. 2017).
 */
export type MatchMode = 'example' | 'mean';

export interface SearchOptions {
  /** Number of distinct labels to return (fewer when the gallery has fewer). */
  k: number;
  by: MatchMode;
}

/** One label in a ranking, with its distance under the gallery's metric. */
export interface Neighbour {
  label: string;
  distance: number;
}

export type KeyScope = 'read' | 'write';

/** An API key as stored: only the SHA-256 of the token is kept, never the token. */
export interface ApiKeyRecord {
  /** Public identifier, shown in listings and used to revoke. */
  id: string;
  /** Hex SHA-256 of the bearer token. */
  hash: string;
  /** Gallery the key opens, or '*' for every gallery. */
  gallery: string;
  scopes: KeyScope[];
  /** Free-text note (who or what the key is for). */
  name: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/**
 * Durable storage of galleries and keys. Every method that names a gallery throws
 * TwinshotError ERR_NOT_FOUND when it does not exist; storage faults surface as ERR_STORE.
 * A write resolves only once it is durable (committed), so a caller may report success.
 */
export interface GalleryStore {
  /** 'sqlite' or 'postgres'. */
  readonly kind: 'sqlite' | 'postgres';
  /** The store URL with any password removed, for logs. */
  readonly location: string;

  /** Creates a gallery, or returns the existing one (`created: false`) when the spec matches it. @throws ERR_CONFLICT when it exists with another model, dim or metric */
  createGallery(spec: GallerySpec): Promise<{ gallery: GalleryRecord; created: boolean }>;
  getGallery(name: string): Promise<GalleryRecord | null>;
  /** A gallery's model, dim and metric without counting its contents (cheap; checked on every request). */
  describeGallery(name: string): Promise<GallerySpec | null>;
  listGalleries(): Promise<GalleryRecord[]>;
  /** Deletes a gallery and its vectors; false when there was none. */
  deleteGallery(name: string): Promise<boolean>;

  /** Adds vectors in one transaction (all or none); returns their ids in order. */
  addExamples(gallery: string, examples: readonly NewExample[]): Promise<string[]>;
  /**
   * Adds a large number of vectors, consumed batch by batch (they need not all be in memory), in
   * one transaction: an interrupted load leaves the gallery as it was. The search index is built
   * once after the rows. Returns the number of vectors added.
   */
  addBulk(gallery: string, batches: ExampleBatches, options?: BulkLoadOptions): Promise<number>;
  listClasses(gallery: string): Promise<ClassSummary[]>;
  /** Removes every example of a label; returns how many were removed (0 when the label is absent). */
  removeClass(gallery: string, label: string): Promise<number>;
  /**
   * Ranks labels for each query vector, nearest first, at most `k` labels per query.
   * Exact for small galleries; large ones are searched through an HNSW index (usearch in the SQLite
   * store, pgvector's in PostgreSQL), approximately.
   */
  search(gallery: string, queries: readonly Float32Array[], options: SearchOptions): Promise<Neighbour[][]>;
  /** Every stored example, oldest first. */
  exportExamples(gallery: string): Promise<ExampleRecord[]>;

  /**
   * Keeps a picture with each given example of the gallery, replacing one kept before; ids that
   * are not examples of this gallery are ignored. A removed example's picture goes with it.
   */
  putPictures(gallery: string, pictures: readonly { id: string; picture: ExamplePicture }[]): Promise<void>;
  /** The pictures kept with the given examples, by id (examples without one are absent). */
  getPictures(gallery: string, ids: readonly string[]): Promise<Map<string, ExamplePicture>>;
  /** For each label with a picture, the id of its oldest example that has one. */
  classPictures(gallery: string): Promise<Map<string, string>>;
  /** A label's examples, oldest first (empty when the label is absent). */
  listExamples(gallery: string, label: string): Promise<ExampleSummary[]>;

  createKey(key: ApiKeyRecord): Promise<void>;
  listKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; false when no active key has that id. */
  revokeKey(id: string): Promise<boolean>;
  /** The active (not revoked) key whose token hashes to `hash`, or null. */
  findKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** Whether any active key exists (once one does, the service requires keys). */
  hasActiveKeys(): Promise<boolean>;

  /** Throws ERR_STORE when the store cannot answer (used by /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
