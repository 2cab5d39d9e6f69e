// BatchingEmbedder: concurrent calls share inner calls, each caller gets its own vectors back,
// limits and delays are honoured, and a failed batch fails only its own callers.
import { describe, expect, it, vi } from 'vitest';
import { BatchingEmbedder } from '../../src/service/batching-embedder.js';
import type { Embedder } from '../../src/models/embedder.js';

/** An embedder whose vector for an image is [first pixel, call number], recording each call's size. */
function recordingEmbedder(
  options: { delayMs?: number; failOn?: number } = {},
): Embedder & { calls: number[]; closed: boolean } {
  const calls: number[] = [];
  const embedder = {
    calls,
    closed: false,
    info: { name: 'fake', dim: 2, metric: 'l2' as const, preprocessing: { size: 1, invert: false }, threshold: 1 },
    async embed(images: readonly Uint8Array[]) {
      calls.push(images.length);
      const call = calls.length;
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 5));
      if (images.some((image) => image[0] === options.failOn)) throw new Error('model failed');
      return images.map((image) => new Float32Array([image[0]!, call]));
    },
    confidence: (d: number) => 1 - d,
    async close() {
      embedder.closed = true;
    },
  };
  return embedder;
}

const image = (value: number): Uint8Array => new Uint8Array([value]);

describe('BatchingEmbedder#embed()', () => {
  it('gathers concurrent calls into one inner call and routes each caller its own vectors', async () => {
    const inner = recordingEmbedder();
    const batching = new BatchingEmbedder(inner, { maxBatch: 32, maxDelayMs: 10 });
    const results = await Promise.all([
      batching.embed([image(1)]),
      batching.embed([image(2), image(3)]),
      batching.embed([image(4)]),
    ]);
    expect(inner.calls).toEqual([4]);
    expect(results.map((vectors) => vectors.map((v) => v[0]))).toEqual([[1], [2, 3], [4]]);
  });

  it('runs a full batch at once and keeps whole requests together under maxBatch', async () => {
    // Fake timers: "at once" means before any time passes, not under a wall-clock bound.
    vi.useFakeTimers();
    try {
      const inner = recordingEmbedder();
      const batching = new BatchingEmbedder(inner, { maxBatch: 3, maxDelayMs: 1000 });
      const results = Promise.all([
        batching.embed([image(1), image(2)]),
        batching.embed([image(3)]),
        batching.embed([image(4), image(5)]),
        batching.embed([image(6)]),
      ]);
      const started = Date.now();
      await vi.advanceTimersByTimeAsync(0);
      // The first three images fill a batch, which runs before any time passes.
      expect(inner.calls).toEqual([3]);
      // The rest fill the next batch, which runs as soon as the first (5 ms) finishes, not after 1 s.
      await vi.runAllTimersAsync();
      expect(inner.calls).toEqual([3, 3]);
      expect(Date.now() - started).toBeLessThan(100);
      expect((await results).flat().map((v) => v[0])).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends a request larger than maxBatch alone and whole', async () => {
    const inner = recordingEmbedder();
    const batching = new BatchingEmbedder(inner, { maxBatch: 2, maxDelayMs: 0 });
    const big = await batching.embed([image(1), image(2), image(3), image(4), image(5)]);
    expect(big).toHaveLength(5);
    expect(inner.calls).toEqual([5]);
  });

  it('waits maxDelayMs for company before a partial batch runs, and no longer', async () => {
    vi.useFakeTimers();
    try {
      const inner = recordingEmbedder({ delayMs: 0 });
      const batching = new BatchingEmbedder(inner, { maxBatch: 100, maxDelayMs: 30 });
      const result = batching.embed([image(1)]);
      await vi.advanceTimersByTimeAsync(29);
      expect(inner.calls).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(inner.calls).toEqual([1]);
      await vi.runAllTimersAsync();
      expect((await result)[0]![0]).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails every caller of a failed batch with its error, and serves the next batch', async () => {
    const inner = recordingEmbedder({ failOn: 13 });
    const batching = new BatchingEmbedder(inner, { maxBatch: 8, maxDelayMs: 5 });
    const outcomes = await Promise.allSettled([batching.embed([image(13)]), batching.embed([image(2)])]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect((outcomes[0] as PromiseRejectedResult).reason.message).toBe('model failed');
    expect((await batching.embed([image(7)]))[0]![0]).toBe(7);
  });

  it('passes info and confidence through, answers [] for no images, and drains before close()', async () => {
    const inner = recordingEmbedder({ delayMs: 20 });
    const batching = new BatchingEmbedder(inner, { maxBatch: 8, maxDelayMs: 5 });
    expect(batching.info).toBe(inner.info);
    expect(batching.confidence(0.25)).toBe(0.75);
    expect(await batching.embed([])).toEqual([]);
    const pending = batching.embed([image(9)]);
    await batching.close();
    expect((await pending)[0]![0]).toBe(9);
    expect(inner.closed).toBe(true);
    await expect(batching.embed([image(1)])).rejects.toThrow(/after close/);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new BatchingEmbedder(recordingEmbedder(), { maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => new BatchingEmbedder(recordingEmbedder(), { maxDelayMs: -1 })).toThrow(/maxDelayMs/);
  });
});
