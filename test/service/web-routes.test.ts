// The web page's routes (src/service/routes/runs.ts, explorer.ts): training runs and their metrics logs, the
// live event stream, and Omniglot explorer tasks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type TwinshotApp } from '../../src/service/app.js';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';
import { findOmniglot, needs, OMNIGLOT } from '../helpers/prerequisites.js';
import type { WebRoutesOptions } from '../../src/service/app.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-web-routes-'));
const runsDir = path.join(dir, 'runs');
const store = SqliteStore.open(path.join(dir, 'gallery.db'));
const embedder = new PixelEmbedder();
const apps: TwinshotApp[] = [];

async function app(web: WebRoutesOptions): Promise<TwinshotApp> {
  const built = await buildApp({ embedder, store, rateLimit: false, defaultMetrics: false, web });
  apps.push(built);
  return built;
}

const line = (record: object): string => `${JSON.stringify(record)}\n`;

beforeAll(() => {
  fs.mkdirSync(path.join(runsDir, 'older'), { recursive: true });
  fs.mkdirSync(path.join(runsDir, 'newer'), { recursive: true });
  fs.mkdirSync(path.join(runsDir, 'no-log-yet'), { recursive: true });
  fs.writeFileSync(path.join(runsDir, 'older', 'metrics.jsonl'), line({ kind: 'train', step: 1, loss: 1 }));
  fs.utimesSync(path.join(runsDir, 'older', 'metrics.jsonl'), new Date(1e12), new Date(1e12));
  fs.writeFileSync(
    path.join(runsDir, 'newer', 'metrics.jsonl'),
    line({ kind: 'train', step: 10, loss: 0.5, lr: 0.001 }) +
      'not json\n' +
      line({ kind: 'validation', step: 10, accuracy: 0.75 }) +
      line({ note: 'no kind or step' }) +
      '{"kind":"train","step":20,"lo', // a line being written
  );
});

afterAll(async () => {
  for (const a of apps) await a.close();
  await store.close();
  await embedder.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/runs', () => {
  it('lists runs that have a metrics log, most recently changed first', async () => {
    const response = await (await app({ runsDir })).inject({ url: '/v1/runs' });
    expect(response.statusCode).toBe(200);
    expect(response.json().runs.map((r: { name: string }) => r.name)).toEqual(['newer', 'older']);
  });

  it('is empty when the runs folder does not exist', async () => {
    const response = await (await app({ runsDir: path.join(dir, 'absent') })).inject({ url: '/v1/runs' });
    expect(response.json()).toEqual({ dir: 'absent', runs: [] });
  });

  it("names the runs folder without the server's path to it, in lists and errors", async () => {
    const a = await app({ runsDir });
    expect(path.isAbsolute(runsDir)).toBe(true);
    const list = await a.inject({ url: '/v1/runs' });
    expect(list.json().dir).toBe('runs');
    const missing = await a.inject({ url: '/v1/runs/missing/metrics' });
    for (const body of [list.body, missing.body]) expect(body).not.toContain(dir);
  });
});

describe('GET /v1/runs/:run/metrics', () => {
  it('returns complete records and skips damaged, foreign and unfinished lines', async () => {
    const response = await (await app({ runsDir })).inject({ url: '/v1/runs/newer/metrics' });
    expect(response.json()).toEqual({
      run: 'newer',
      records: [
        { kind: 'train', step: 10, loss: 0.5, lr: 0.001 },
        { kind: 'validation', step: 10, accuracy: 0.75 },
      ],
    });
  });

  it('answers 404 for an unknown run and 400 for a name that leaves the runs folder', async () => {
    const a = await app({ runsDir });
    const missing = await a.inject({ url: '/v1/runs/missing/metrics' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('ERR_NOT_FOUND');
    expect((await a.inject({ url: '/v1/runs/no-log-yet/metrics' })).json()).toEqual({ run: 'no-log-yet', records: [] });
    // '..' as a path segment is resolved by the URL parser (no route); encoded, it reaches the pattern.
    for (const name of ['..%2F..%2Fetc', '..', '%2E%2E']) {
      const response = await a.inject({ url: `/v1/runs/${name}/metrics` });
      expect([400, 404], name).toContain(response.statusCode);
      expect(response.json().error.code, name).toMatch(/^ERR_(ARGUMENT|NOT_FOUND)$/);
    }
    expect((await a.inject({ url: '/v1/runs/..%2F..%2Fetc/metrics' })).statusCode).toBe(400);
  });
});

describe('GET /v1/runs/:run/events', () => {
  it('sends every record, then new lines as they are appended, and starts over when the log is replaced', async () => {
    const runDir = path.join(runsDir, 'live');
    fs.mkdirSync(runDir);
    const log = path.join(runDir, 'metrics.jsonl');
    fs.writeFileSync(log, line({ kind: 'train', step: 1, loss: 2 }));
    const a = await app({ runsDir, pollMs: 20 });
    const url = await a.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/runs/live/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const nextEvent = async (): Promise<{ event: string; records?: { step: number }[]; finished?: boolean }> => {
      while (!buffer.includes('\n\n')) buffer += (await reader.read()).value ?? '';
      const end = buffer.indexOf('\n\n');
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)![1]!;
      const { run: _run, ...data } = JSON.parse(/^data: (.*)$/m.exec(block)![1]!);
      return { event, ...data };
    };

    expect(await nextEvent()).toEqual({ event: 'reset', records: [{ kind: 'train', step: 1, loss: 2 }] });
    expect(await nextEvent()).toEqual({ event: 'status', finished: false });
    // Half a line first: nothing is sent until the line is complete.
    fs.appendFileSync(log, '{"kind":"train","step":2,');
    await new Promise((resolve) => setTimeout(resolve, 100));
    fs.appendFileSync(log, '"loss":1.5}\n');
    expect(await nextEvent()).toEqual({ event: 'append', records: [{ kind: 'train', step: 2, loss: 1.5 }] });
    // Training ends: the trainer writes metrics.svg last.
    fs.writeFileSync(path.join(runDir, 'metrics.svg'), '<svg/>');
    expect(await nextEvent()).toEqual({ event: 'status', finished: true });
    const listed = (await a.inject({ url: '/v1/runs' })).json().runs.find((r: { name: string }) => r.name === 'live');
    expect(listed.finished).toBe(true);
    // A resumed run rewrites its log (atomic rename): the stream starts over, and it runs again.
    fs.utimesSync(path.join(runDir, 'metrics.svg'), new Date(1e12), new Date(1e12));
    fs.writeFileSync(`${log}.tmp`, line({ kind: 'train', step: 1, loss: 2 }));
    fs.renameSync(`${log}.tmp`, log);
    expect(await nextEvent()).toEqual({ event: 'reset', records: [{ kind: 'train', step: 1, loss: 2 }] });
    expect(await nextEvent()).toEqual({ event: 'status', finished: false });
    controller.abort();
  });

  it('lets the server close while a stream is open', async () => {
    const a = await buildApp({ embedder, store, rateLimit: false, defaultMetrics: false, web: { runsDir } });
    const url = await a.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${url}/v1/runs/older/events`);
    const reader = response.body!.getReader();
    await reader.read();
    // Fastify's close waits for open connections: were the stream not ended, this would never resolve.
    await a.close();
    expect((await reader.read()).done).toBe(true);
  });
});

describe('GET /v1/explorer/task', () => {
  it('says the explorer is unavailable, and how to fix it, when the server has no Omniglot', async () => {
    const response = await (await app({ runsDir, omniglot: null })).inject({ url: '/v1/explorer/task' });
    expect(response.statusCode).toBe(200);
    expect(response.json().available).toBe(false);
    expect(response.json().message).toMatch(/Omniglot.*`twinshot data omniglot`/);
  });

  it("keeps the server's folders out of the message", async () => {
    const missing = path.join(dir, 'secret-folder');
    const response = await (await app({ runsDir, omniglot: missing })).inject({ url: '/v1/explorer/task' });
    expect(response.json().available).toBe(false);
    expect(response.json().message).not.toContain('secret-folder');
    expect(response.json().message).not.toContain(dir);
  });

  const omniglot = findOmniglot();
  needs(OMNIGLOT).it('draws a reproducible twenty-way task and marks the nearest candidate as the choice', async () => {
    const a = await app({ runsDir, omniglot: omniglot! });
    const first = (await a.inject({ url: '/v1/explorer/task?seed=11' })).json();
    const again = (await a.inject({ url: '/v1/explorer/task?seed=11' })).json();
    expect(again).toEqual(first);
    const { task } = first;
    expect(task.seed).toBe(11);
    expect(task.candidates).toHaveLength(20);
    expect(new Set(task.candidates.map((c: { character: string }) => c.character)).size).toBe(20);
    expect(task.candidates[task.answer].character).toBe(task.query.character);
    expect(task.drawers[0]).not.toBe(task.drawers[1]);
    const distances = task.candidates.map((c: { distance: number }) => c.distance);
    expect(task.choice).toBe(distances.indexOf(Math.min(...distances)));
    expect(task.correct).toBe(task.choice === task.answer);
    expect(task.query.image).toMatch(/^data:image\/png;base64,/);
    expect((await a.inject({ url: '/v1/explorer/task?seed=12' })).json().task).not.toEqual(task);
  });
});
