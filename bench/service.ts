// `npm run bench -- service`: identify throughput and latency of the HTTP service under concurrent
// load (autocannon), for galleries of 1,000 to 1,000,000 synthetic embeddings on both stores.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { buildApp } from '../src/service/app.js';
import { PixelEmbedder } from '../src/models/pixel-embedder.js';
import { SqliteStore } from '../src/gallery/sqlite-store.js';
import { PostgresStore } from '../src/gallery/postgres-store.js';
import type { GalleryStore, NewExample } from '../src/gallery/types.js';
import { engineInfo, getNumThreads } from '../src/engine/index.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Options {
  json: boolean;
  sizes: number[];
  stores: ('sqlite' | 'postgres')[];
  durationS: number;
  connections: number;
}

function parseArgs(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    json: argv.includes('--json'),
    sizes: (value('--sizes') ?? '1000,100000,1000000').split(',').map(Number),
    stores: (value('--stores') ?? 'sqlite,postgres').split(',') as Options['stores'],
    durationS: Number(value('--duration') ?? 5),
    connections: Number(value('--connections') ?? 8),
  };
}

/** Deterministic unit vectors with zero mean, like the pixel baseline's output. */
function* syntheticExamples(count: number, dim: number, classes: number, seed: number): Generator<NewExample[]> {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const chunk = 50_000;
  for (let start = 0; start < count; start += chunk) {
    const batch: NewExample[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const v = new Float32Array(dim);
      let mean = 0;
      for (let j = 0; j < dim; j++) mean += v[j] = random();
      mean /= dim;
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += (v[j]! -= mean) ** 2;
      norm = Math.sqrt(norm);
      for (let j = 0; j < dim; j++) v[j]! /= norm;
      batch.push({ label: `class-${i % classes}`, vector: v });
    }
    yield batch;
  }
}

/** A query a client would send: a drawn symbol as base64 PNG. */
async function queryBody(): Promise<string> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="105" height="105"><rect width="105" height="105" fill="white"/>' +
    '<path d="M15 70 L32 30 L50 70 L68 30 L88 70" stroke="black" stroke-width="6" fill="none"/></svg>';
  return JSON.stringify({ image: (await sharp(Buffer.from(svg)).png().toBuffer()).toString('base64'), k: 5 });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Row {
  store: string;
  examples: number;
  classes: number;
  loadS: number;
  firstSearchS: number;
  searchP50Ms: number;
  searchMeanP50Ms: number;
  identifyRps: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function openBenchStore(
  kind: 'sqlite' | 'postgres',
  dir: string,
  pgUrl: string | undefined,
): Promise<{ store: GalleryStore; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const file = path.join(dir, `bench-${crypto.randomBytes(4).toString('hex')}.db`);
    const store = SqliteStore.open(file);
    return {
      store,
      cleanup: async () => {
        await store.close();
        for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
      },
    };
  }
  const store = await PostgresStore.open(pgUrl!, { schema: `twinshot_bench_${crypto.randomBytes(4).toString('hex')}` });
  return {
    store,
    cleanup: async () => {
      await store.dropSchema();
      await store.close();
    },
  };
}

async function benchOne(
  kind: 'sqlite' | 'postgres',
  size: number,
  options: Options,
  dir: string,
  pgUrl: string | undefined,
): Promise<Row> {
  const embedder = new PixelEmbedder();
  const { store, cleanup } = await openBenchStore(kind, dir, pgUrl);
  try {
    const { dim, name, metric } = embedder.info;
    await store.createGallery({ name: 'bench', model: name, dim, metric });
    const classes = Math.max(1, Math.floor(size / 5));
    const loadStarted = performance.now();
    if (kind === 'postgres') {
      // One transaction: the store rebuilds the HNSW index once after the rows (its bulk path).
      const all: NewExample[] = [];
      for (const batch of syntheticExamples(size, dim, classes, 1)) all.push(...batch);
      await store.addExamples('bench', all);
    } else {
      for (const batch of syntheticExamples(size, dim, classes, 1)) await store.addExamples('bench', batch);
    }
    const loadS = (performance.now() - loadStarted) / 1000;

    const probe = [...syntheticExamples(1, dim, 1, 99)][0]![0]!.vector;
    const firstStarted = performance.now();
    await store.search('bench', [probe], { k: 5, by: 'example' });
    const firstSearchS = (performance.now() - firstStarted) / 1000;
    const timings: number[] = [];
    const meanTimings: number[] = [];
    for (let i = 0; i < 20; i++) {
      let t = performance.now();
      await store.search('bench', [probe], { k: 5, by: 'example' });
      timings.push(performance.now() - t);
      t = performance.now();
      await store.search('bench', [probe], { k: 5, by: 'mean' });
      meanTimings.push(performance.now() - t);
    }
    timings.sort((a, b) => a - b);
    meanTimings.sort((a, b) => a - b);

    const app = await buildApp({ embedder, store, rateLimit: false, defaultMetrics: false });
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const body = await queryBody();
      const request = {
        url: `${url}/v1/galleries/bench/identify`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      };
      await autocannon({ ...request, connections: 2, duration: 1 }); // warm-up
      // The load generator runs in a worker thread, off the server's event loop.
      const result = await autocannon({
        ...request,
        connections: options.connections,
        duration: options.durationS,
        workers: 1,
      });
      return {
        store: kind,
        examples: size,
        classes,
        loadS: round(loadS, 1),
        firstSearchS: round(firstSearchS, 2),
        searchP50Ms: round(percentile(timings, 50), 2),
        searchMeanP50Ms: round(percentile(meanTimings, 50), 2),
        identifyRps: round(result.requests.average, 0),
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        failed: result.non2xx + result.errors + result.timeouts,
      };
    } finally {
      await app.close();
    }
  } finally {
    await cleanup();
  }
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const pgUrl = process.env.TWINSHOT_BENCH_PG_URL ?? process.env.TWINSHOT_TEST_PG_URL;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-bench-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const log = (line: string): void => {
    if (!options.json) console.log(line);
  };
  log(
    `twinshot service bench: ${os.cpus().length} cores (${os.cpus()[0]?.model}), libtorch ${engineInfo().torchVersion}, ${getNumThreads()} threads`,
  );
  log(
    `identify = POST /v1/galleries/bench/identify with a 105x105 PNG in JSON, k=5, ${options.connections} connections for ${options.durationS} s`,
  );
  try {
    for (const kind of options.stores) {
      if (kind === 'postgres' && !pgUrl) {
        skipped.push(
          'postgres: no TWINSHOT_BENCH_PG_URL or TWINSHOT_TEST_PG_URL (run `source scripts/test-postgres.sh` first)',
        );
        continue;
      }
      for (const size of options.sizes) {
        if (kind === 'postgres' && size > 100_000) {
          skipped.push(
            `postgres ${size}: building an HNSW index over ${size} 256-d vectors takes tens of minutes on 2 shared cores and ~1.5 GB of maintenance_work_mem`,
          );
          continue;
        }
        log(`${kind} ${size}: loading...`);
        const row = await benchOne(kind, size, options, dir, pgUrl);
        rows.push(row);
        log(
          `${kind.padEnd(8)} ${String(size).padStart(9)} examples  load ${row.loadS} s  first search ${row.firstSearchS} s  ` +
            `search p50 ${row.searchP50Ms} ms (by mean ${row.searchMeanP50Ms} ms)  identify ${row.identifyRps} req/s  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  failed ${row.failed}`,
        );
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const reason of skipped) log(`skipped ${reason}`);
  if (options.json) {
    console.log(
      JSON.stringify({
        bench: 'service',
        date: new Date().toISOString(),
        cores: os.cpus().length,
        connections: options.connections,
        durationS: options.durationS,
        rows,
        skipped,
      }),
    );
  }
}

await main();
