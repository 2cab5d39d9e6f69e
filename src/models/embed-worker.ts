// Worker thread behind ModelEmbedder: loads a model folder and embeds batches of decoded images,
// so inference never blocks the service's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { noGrad } from '../engine/autograd.js';
import { setNumThreads } from '../engine/runtime.js';
import { tidy } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { loadModelFolder } from './model-folder.js';

export interface EmbedRequest {
  id: number;
  count: number;
  /** count * size * size uint8 pixels, image after image. */
  pixels: Uint8Array;
}

export type EmbedReply = { id: number; vectors: Float32Array; dim: number } | { id: number; error: { code?: string; message: string } };

const { dir, threads } = workerData as { dir: string; threads?: number };
const port = parentPort!;
try {
  if (threads) setNumThreads(threads);
  const { inference, card } = loadModelFolder(dir);
  const size = card.preprocessing.size;
  const dim = tidy(() => noGrad(() => inference.embed(tensor(new Float32Array(size * size), { shape: [1, 1, size, size] })).shape[1]!));
  port.postMessage({ type: 'ready', card, dim, metric: inference.metric });
  port.on('message', (request: EmbedRequest) => {
    try {
      const vectors = tidy(() =>
        noGrad(() => {
          const images = tensor(request.pixels, { shape: [request.count, 1, size, size] }).float().div(255);
          return inference.embed(images).contiguous().data() as Float32Array;
        }),
      );
      port.postMessage({ id: request.id, vectors, dim } satisfies EmbedReply, [vectors.buffer as ArrayBuffer]);
    } catch (error) {
      const e = error as { code?: string; message?: string };
      port.postMessage({ id: request.id, error: { code: e.code, message: e.message ?? String(error) } } satisfies EmbedReply);
    }
  });
} catch (error) {
  const e = error as { code?: string; message?: string };
  port.postMessage({ type: 'failed', error: { code: e.code, message: e.message ?? String(error) } });
}
