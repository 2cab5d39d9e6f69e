// BatchingEmbedder: gathers concurrent embed() calls into one call of the wrapped embedder
// (micro-batching), so a model pays its per-call cost once for many simultaneous requests.
import { TwinshotError } from '../errors.js';
import type { Embedder, EmbedderInfo } from '../models/embedder.js';

export interface BatchingOptions {
  /** Most images in one inner call (default 32). A single request with more goes alone, whole. */
  maxBatch?: number;
  /** Longest wait for company before a partial batch runs (default 2 ms). */
  maxDelayMs?: number;
  /** Most inner calls running at once (default 1: a model already uses every core per call). */
  maxConcurrent?: number;
  /** Called after each inner call with its image count and duration (for metrics). */
  onBatch?: (images: number, seconds: number) => void;
}

interface Pending {
  images: readonly Uint8Array[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Wraps an Embedder so that calls arriving together share one `inner.embed` call.
 *
 * A batch runs when it holds `maxBatch` images, or `maxDelayMs` after its first request, or at
 * once when a running batch finishes (its successors have already waited). Each caller gets its
 * own vectors back, in order; if the inner call fails, every caller in that batch gets the error
 * and later batches are unaffected.
 *
 * @example
 * const embedder = new BatchingEmbedder(new PixelEmbedder(), { maxBatch: 32, maxDelayMs: 2 });
 * const [a, b] = await Promise.all([embedder.embed([x]), embedder.embed([y])]); // one inner call
 */
export class BatchingEmbedder implements Embedder {
  readonly inner: Embedder;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #maxConcurrent: number;
  readonly #onBatch: BatchingOptions['onBatch'];
  #queue: Pending[] = [];
  #queuedImages = 0;
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #isClosed = false;
  #idle: (() => void)[] = [];

  /** @throws TwinshotError ERR_ARGUMENT for non-positive limits */
  constructor(inner: Embedder, options: BatchingOptions = {}) {
    this.inner = inner;
    this.#maxBatch = options.maxBatch ?? 32;
    this.#maxDelayMs = options.maxDelayMs ?? 2;
    this.#maxConcurrent = options.maxConcurrent ?? 1;
    this.#onBatch = options.onBatch;
    if (!Number.isInteger(this.#maxBatch) || this.#maxBatch < 1) {
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `BatchingEmbedder: maxBatch must be an integer >= 1; got ${options.maxBatch}`,
      );
    }
    if (!(this.#maxDelayMs >= 0)) {
      throw new TwinshotError('ERR_ARGUMENT', `BatchingEmbedder: maxDelayMs must be >= 0; got ${options.maxDelayMs}`);
    }
    if (!Number.isInteger(this.#maxConcurrent) || this.#maxConcurrent < 1) {
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `BatchingEmbedder: maxConcurrent must be an integer >= 1; got ${options.maxConcurrent}`,
      );
    }
  }

  get info(): EmbedderInfo {
    return this.inner.info;
  }

  embed(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (this.#isClosed)
      return Promise.reject(new TwinshotError('ERR_INTERNAL', 'BatchingEmbedder: embed() after close()'));
    if (images.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ images, resolve, reject });
      this.#queuedImages += images.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#queue.length === 0 || this.#running >= this.#maxConcurrent) return;
    if (this.#queuedImages >= this.#maxBatch || this.#maxDelayMs === 0) {
      this.#runNext();
    } else if (this.#timer === null) {
      this.#timer = setTimeout(() => this.#runNext(), this.#maxDelayMs);
    }
  }

  #runNext(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#queue.length === 0 || this.#running >= this.#maxConcurrent) return;
    // Take whole requests, in arrival order, while they fit; the first always goes.
    const batch: Pending[] = [];
    let count = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && count + next.images.length > this.#maxBatch) break;
      batch.push(this.#queue.shift()!);
      count += next.images.length;
    }
    this.#queuedImages -= count;
    this.#running++;
    void this.#execute(batch, count).finally(() => {
      this.#running--;
      // Whoever queued meanwhile has waited long enough: run now rather than start a new delay.
      if (this.#queue.length > 0) this.#runNext();
      else if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
    });
    // With room for more concurrent calls, a full batch left behind need not wait.
    if (this.#queuedImages >= this.#maxBatch) this.#runNext();
  }

  async #execute(batch: Pending[], count: number): Promise<void> {
    const started = performance.now();
    try {
      const images = batch.length === 1 ? batch[0]!.images : batch.flatMap((p) => p.images);
      const vectors = await this.inner.embed(images);
      if (vectors.length !== count) {
        throw new TwinshotError('ERR_INTERNAL', `embedder returned ${vectors.length} vectors for ${count} images`);
      }
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(vectors.slice(offset, offset + pending.images.length));
        offset += pending.images.length;
      }
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.#onBatch?.(count, (performance.now() - started) / 1000);
    }
  }

  confidence(distance: number): number {
    return this.inner.confidence(distance);
  }

  /** Finishes queued work, then closes the wrapped embedder. */
  async close(): Promise<void> {
    this.#isClosed = true;
    if (this.#queue.length > 0) this.#runNext();
    if (this.#running > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.inner.close();
  }
}
