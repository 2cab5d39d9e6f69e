// No request may stall other clients: huge images are decoded, framed and resized off the event
// loop (in libvips' threads), so /healthz keeps answering while they are processed; and a
// request's images have a pixel budget, refused with 413 before anything is decoded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type TwinshotApp } from '../../src/service/app.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';
import type { Embedder } from '../../src/models/embedder.js';
import { blankPng } from './helpers.js';

/** The pixel baseline with ink framing, the preprocessing of the shipped model. */
function inkFramedPixels(): Embedder {
  const inner = new PixelEmbedder();
  return {
    info: { ...inner.info, preprocessing: { ...inner.info.preprocessing, frame: 'ink' } },
    embed: (images) => inner.embed(images),
    confidence: (d) => inner.confidence(d),
    close: () => inner.close(),
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-event-loop-'));
const store = SqliteStore.open(path.join(dir, 'g.db'));
const embedder = inkFramedPixels();
const black = blankPng(4000, 4000, 'black').toString('base64');
let app: TwinshotApp;

beforeAll(async () => {
  app = await buildApp({
    embedder,
    store,
    rateLimit: false,
    defaultMetrics: false,
    limits: { requestPixels: 100_000_000 },
  });
});

afterAll(async () => {
  await app.close();
  await store.close();
  await embedder.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/embed with 4000 x 4000 images', () => {
  it('keeps /healthz answering while they are decoded and framed', async () => {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const health: number[] = [];
    delay.enable();
    let done = false;
    const embedding = fetch(`${url}/v1/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [black, black, black, black] }),
    }).finally(() => (done = true));
    while (!done) {
      const started = performance.now();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      health.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    delay.disable();
    const response = await embedding;
    expect(response.status).toBe(200);
    expect((await response.json()).embeddings).toHaveLength(4);
    // In JavaScript each image held the loop for 1.3-2.2 s (8.7 s for the four); in libvips the loop
    // stays as free as when idle (under 0.16 s on two cores shared by a load of 20), so the bound
    // fails the old code many times over without failing a loaded machine.
    expect(health.length).toBeGreaterThan(1);
    expect(Math.max(...health)).toBeLessThan(500);
    expect(delay.max / 1e6).toBeLessThan(500);
  });

  it("refuses a request whose images exceed the request's pixel budget with 413, before decoding", async () => {
    const strict = await buildApp({ embedder, store, rateLimit: false, defaultMetrics: false });
    try {
      const started = performance.now();
      const response = await strict.inject({
        method: 'POST',
        url: '/v1/embed',
        payload: { images: Array(16).fill(black) },
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().error).toMatchObject({
        code: 'ERR_PAYLOAD_TOO_LARGE',
        message: expect.stringMatching(/256000000 pixels in all; the limit is 64000000 pixels per request/),
      });
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await strict.close();
    }
  });
});
