// Synthetic galleries for the benches: deterministic unit vectors in batches, either clustered
// like a trained embedder's output (classes as tight clusters in a low-dimensional subspace) or
// uniform on the sphere (the worst case for an approximate index: no structure at all).
import type { NewExample } from '../src/gallery/types.js';

export type SyntheticKind = 'clustered' | 'uniform';

/** Dimensions of the subspace the clustered classes live in (a trained net's spectrum decays fast). */
const LATENT_DIM = 24;
/** Within-class spread in the latent space, against unit spread of class centres. */
const WITHIN_CLASS = 0.35;
/** Isotropic noise added in the full space, per coordinate. */
const AMBIENT_NOISE = 0.02;

/** mulberry32 mapped to a standard normal (Box-Muller), so every run draws the same numbers. */
function normalSource(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/**
 * A gallery of `classes` labels; example `i` belongs to `class-(i % classes)`. Draw queries from
 * the same gallery with another `seed`: they are new examples of existing classes, as when a
 * user identifies a new picture of someone enrolled.
 */
export class SyntheticGallery {
  readonly #projection: Float32Array;
  readonly #centres = new Map<number, Float32Array>();

  constructor(
    readonly kind: SyntheticKind,
    readonly dim: number,
    readonly classes: number,
  ) {
    const normal = normalSource(0x5eed);
    this.#projection = Float32Array.from({ length: dim * LATENT_DIM }, () => normal() / Math.sqrt(LATENT_DIM));
  }

  /** A class centre in latent space, drawn from the class number alone (no table of 200,000 centres). */
  #centre(label: number): Float32Array {
    let centre = this.#centres.get(label);
    if (!centre) {
      const normal = normalSource(0x9e3779b9 ^ Math.imul(label + 1, 0x85ebca6b));
      centre = Float32Array.from({ length: LATENT_DIM }, () => normal());
      if (this.#centres.size > 4096) this.#centres.clear();
      this.#centres.set(label, centre);
    }
    return centre;
  }

  #example(label: number, normal: () => number): Float32Array {
    const v = new Float32Array(this.dim);
    if (this.kind === 'uniform') {
      for (let j = 0; j < this.dim; j++) v[j] = normal();
      return normalize(v);
    }
    const centre = this.#centre(label);
    const z = Float32Array.from(centre, (c) => c + WITHIN_CLASS * normal());
    for (let j = 0; j < this.dim; j++) {
      let s = 0;
      const row = j * LATENT_DIM;
      for (let l = 0; l < LATENT_DIM; l++) s += this.#projection[row + l]! * z[l]!;
      v[j] = s + AMBIENT_NOISE * normal();
    }
    return normalize(v);
  }

  /** `count` examples in batches of `batch`, the same on every run for the same seed. */
  *examples(count: number, seed: number, batch = 50_000): Generator<NewExample[]> {
    const normal = normalSource(seed);
    for (let start = 0; start < count; start += batch) {
      const out: NewExample[] = [];
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const label = i % this.classes;
        out.push({ label: `class-${label}`, vector: this.#example(label, normal) });
      }
      yield out;
    }
  }

  /** `count` queries: new examples of classes spread over the gallery. */
  queries(count: number, seed: number): Float32Array[] {
    const normal = normalSource(seed);
    return Array.from({ length: count }, (_, i) =>
      this.#example(Math.floor(((i + 0.5) * this.classes) / count), normal),
    );
  }
}
