// ModelEmbedder: a trained model folder as an Embedder for the gallery and the service. The network
// runs in a worker thread (its own libtorch threads), so requests never block the event loop.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../engine/worker-thread.js';
import { TwinshotError } from '../errors.js';
import type { Embedder, EmbedderInfo, SearchMetric } from './embedder.js';
import type { EmbedReply } from './embed-worker.js';
import { resolveModelFolder, type ModelCard } from './model-folder.js';

export interface ModelEmbedderOptions {
  /** libtorch threads inside the worker (default: libtorch's default, every core). */
  threads?: number;
}

export class ModelEmbedder implements Embedder {
  readonly info: EmbedderInfo;
  readonly card: ModelCard;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void; count: number }>();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker, card: ModelCard, dim: number, metric: SearchMetric, digest: string) {
    this.#worker = worker;
    this.card = card;
    this.info = {
      name: card.name,
      id: `${card.name}@${digest}`,
      dim,
      metric,
      preprocessing: card.preprocessing,
      threshold: card.verification.threshold,
    };
    worker.on('message', (reply: EmbedReply) => this.#settle(reply));
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => this.#failAll(new TwinshotError('ERR_INTERNAL', `the model worker exited (code ${code})`)));
  }

  /** Loads `dir` (config.json + model.safetensors) in a new worker thread. */
  static async open(dir: string, options: ModelEmbedderOptions = {}): Promise<ModelEmbedder> {
    dir = resolveModelFolder(dir);
    const workerData = { dir, threads: options.threads };
    // Unreadable weights are reported by the worker, which fails to load them.
    const weights = await fs.promises.readFile(path.join(dir, 'model.safetensors')).catch(() => null);
    const worker = startWorker(import.meta.url, 'embed-worker', workerData);
    const ready = await new Promise<{ card: ModelCard; dim: number; metric: SearchMetric }>((resolve, reject) => {
      worker.once('message', (message: { type: string; card: ModelCard; dim: number; metric: SearchMetric; error?: { code?: string; message: string } }) => {
        if (message.type === 'ready') resolve(message);
        else reject(new TwinshotError('ERR_MODEL', message.error?.message ?? 'the model could not be loaded'));
      });
      worker.once('error', reject);
    }).catch(async (error) => {
      await worker.terminate();
      throw error;
    });
    return new ModelEmbedder(worker, ready.card, ready.dim, ready.metric, modelDigest(weights, ready.card));
  }

  embed(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (this.#closed) return Promise.reject(new TwinshotError('ERR_INTERNAL', 'the embedder is closed'));
    if (images.length === 0) return Promise.resolve([]);
    const size = this.info.preprocessing.size;
    const pixels = new Uint8Array(images.length * size * size);
    images.forEach((image, i) => {
      if (image.length !== size * size) throw new TwinshotError('ERR_IMAGE', `image ${i} has ${image.length} pixels; the model takes ${size}x${size}`);
      pixels.set(image, i * size * size);
    });
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, count: images.length });
      this.#worker.postMessage({ id, count: images.length, pixels }, [pixels.buffer]);
    });
  }

  /** p(same) = sigmoid(scale * (threshold - distance)), fitted on held-out pairs at training time. */
  confidence(distance: number): number {
    const { threshold, scale } = this.card.verification;
    return 1 / (1 + Math.exp(-scale * (threshold - distance)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new TwinshotError('ERR_INTERNAL', 'the embedder was closed'));
    await this.#worker.terminate();
  }

  #settle(reply: EmbedReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if ('error' in reply) {
      pending.reject(new TwinshotError((reply.error.code as 'ERR_TORCH') ?? 'ERR_INTERNAL', reply.error.message));
      return;
    }
    const out: Float32Array[] = [];
    for (let i = 0; i < pending.count; i++) out.push(reply.vectors.slice(i * reply.dim, (i + 1) * reply.dim));
    pending.resolve(out);
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/**
 * The first 12 hex digits of the SHA-256 of the weights, and of the inference settings when they
 * are not the defaults: test-time views or centering change the vectors as much as the weights do.
 */
export function modelDigest(weights: Uint8Array | null, card: Pick<ModelCard, 'inference'>): string {
  if (weights === null) return 'unreadable';
  const hash = createHash('sha256').update(weights);
  const inference = card.inference ?? { centering: 'none' };
  if (inference.centering !== 'none' || (inference.views ?? 1) !== 1) hash.update(JSON.stringify(inference));
  return hash.digest('hex').slice(0, 12);
}
