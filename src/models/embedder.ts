// The contract between trained models and everything that serves them (gallery, HTTP, CLI, web):
// images in, vectors out, plus how to compare vectors. Stores only need k-NN under `metric`.
import type { Preprocessing } from '../data/image.js';

/** Distance used to compare stored vectors. Vectors are already transformed for it (e.g. unit length for cosine). */
export type SearchMetric = 'l2' | 'cosine' | 'l1';

export interface EmbedderInfo {
  /** Model name (its folder name), e.g. 'omniglot-fast'. */
  name: string;
  /**
   * What galleries are bound to (default: `name`). Trained models add a digest of their weights
   * (and of their inference settings when not the defaults), e.g. 'omniglot-fast@3f2a9c01d4e7', so
   * that vectors stored with one release of a model are never searched with another of the same name.
   */
  id?: string;
  /** Length of every embedding vector. */
  dim: number;
  metric: SearchMetric;
  preprocessing: Preprocessing;
  /** Distance at or below which two images are called the same class. */
  threshold: number;
}

export interface Embedder {
  readonly info: EmbedderInfo;
  /** Embeds decoded images (each `size * size` uint8 pixels, see Preprocessing). */
  embed(images: readonly Uint8Array[]): Promise<Float32Array[]>;
  /** Calibrated probability that two images whose vectors are `distance` apart show the same class. */
  confidence(distance: number): number;
  /** Releases threads and native memory. */
  close(): Promise<void>;
}

/** The identity galleries record for vectors made by this embedder. */
export function embedderId(info: EmbedderInfo): string {
  return info.id ?? info.name;
}

/** Distance between two vectors under a metric (cosine distance is 1 - cosine similarity). */
export function vectorDistance(metric: SearchMetric, a: Float32Array, b: Float32Array): number {
  let sum = 0;
  if (metric === 'l2') {
    for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
    return Math.sqrt(sum);
  }
  if (metric === 'l1') {
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    return sum;
  }
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    sum += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return 1 - sum / Math.max(Math.sqrt(na * nb), 1e-12);
}
