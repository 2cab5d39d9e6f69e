// `npm run bench -- service`: the gallery at 1,000 to 1,000,000 examples on both stores: bulk-load
// time, search latency and recall against exact search, then a fresh server process on the loaded
// store: time to its first identify, identify throughput and latency over HTTP (autocannon), and
// its resident memory.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { PixelEmbedder } from '../src/models/pixel-embedder.js';
import { embedderId } from '../src/models/embedder.js';
import { SqliteStore } from '../src/gallery/sqlite-store.js';
import { PostgresStore } from '../src/gallery/postgres-store.js';
import { VectorIndex } from '../src/gallery/vector-index.js';
import type { GalleryStore, NewExample } from '../src/gallery/types.js';
import { engineInfo, getNumThreads } from '../src/engine/index.js';
import { SyntheticGallery, type SyntheticKind } from './synthetic-gallery.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

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
  data: SyntheticKind;
  queries: number;
  isHttpSkipped: boolean;
}

function parseArgs(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const data = value('--data') ?? 'clustered';
  if (data !== 'clustered' && data !== 'uniform') throw new Error(`--data must be clustered or uniform; got ${data}`);
  return {
    json: argv.includes('--json'),
    sizes: (value('--sizes') ?? '1000,100000,1000000').split(',').map(Number),
    stores: (value('--stores') ?? 'sqlite,postgres').split(',') as Options['stores'],
    durationS: Number(value('--duration') ?? 10),
    connections: Number(value('--connections') ?? 8),
    data,
    queries: Number(value('--queries') ?? 200),
    isHttpSkipped: argv.includes('--no-http'),
  };
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
  data: SyntheticKind;
  examples: number;
  classes: number;
  loadS: number;
  recall1: number;
  recall10: number;
  searchP50Ms: number;
  searchP99Ms: number;
  firstMeanSearchS: number;
  searchMeanP50Ms: number;
  restartToIdentifyS: number | null;
  identifyRps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  failed: number | null;
  serverRssMb: number | null;
  serverPeakRssMb: number | null;
}

/** Exact top-10 labels of each query: the store's exact index fed straight from the generator. */
async function exactAnswers(synthetic: SyntheticGallery, size: number, queries: Float32Array[]): Promise<string[][]> {
  const index = new VectorIndex(synthetic.dim, 'l2', { trackMeans: false });
  try {
    for (const batch of synthetic.examples(size, 1)) index.add(batch);
    return (await index.search(queries, { k: 10, by: 'example' })).map((r) => r.map((n) => n.label));
  } finally {
    index.retire();
  }
}

async function openBenchStore(
  kind: 'sqlite' | 'postgres',
  dir: string,
  pgUrl: string | undefined,
): Promise<{ store: GalleryStore; url: string; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const file = path.join(dir, `bench-${crypto.randomBytes(4).toString('hex')}.db`);
    return {
      store: SqliteStore.open(file),
      url: `sqlite:${file}`,
      cleanup: async () => {
        for (const suffix of ['', '-wal', '-shm', '.hnsw']) fs.rmSync(file + suffix, { force: true, recursive: true });
      },
    };
  }
  const schema = `twinshot_bench_${crypto.randomBytes(4).toString('hex')}`;
  const url = new URL(pgUrl!);
  url.searchParams.set('schema', schema);
  return {
    store: await PostgresStore.open(pgUrl!, { schema }),
    url: url.toString(),
    cleanup: async () => {
      const store = await PostgresStore.open(pgUrl!, { schema });
      await store.dropSchema();
      await store.close();
    },
  };
}

/** Resident memory of a process now and at its peak, in MiB (Linux). */
function residentMb(pid: number): { rss: number; peak: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
    return { rss: Math.round(field('VmRSS')), peak: Math.round(field('VmHWM')) };
  } catch {
    return null;
  }
}

/** `twinshot serve` on the loaded store (compiled CLI), and the time until it first answers an identify. */
async function startServer(
  storeUrl: string,
  body: string,
): Promise<{ child: ChildProcess; url: string; firstS: number }> {
  const cli = path.join(root, 'bin/twinshot.js');
  if (!fs.existsSync(path.join(root, 'dist/cli/index.js')))
    throw new Error('run `npm run build:ts` first: the bench starts the compiled CLI');
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--model', 'pixels', '--store', storeUrl, '--port', '0', '--log-level', 'warn', '--rate-limit', '0'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer): void => {
      output += data.toString();
      const match = /listening on (http:\/\/\S+?)[ ,]/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  for (;;) {
    const response = await fetch(`${url}/v1/galleries/bench/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    }).catch(() => null);
    if (response?.status === 200) break;
    if (response && response.status !== 503)
      throw new Error(`identify answered ${response.status}: ${await response.text()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, url, firstS: (performance.now() - started) / 1000 };
}

async function benchOne(
  kind: 'sqlite' | 'postgres',
  size: number,
  options: Options,
  dir: string,
  pgUrl: string | undefined,
  log: (line: string) => void,
): Promise<Row> {
  const embedder = new PixelEmbedder();
  const { dim, metric } = embedder.info;
  const classes = Math.max(1, Math.floor(size / 5));
  const synthetic = new SyntheticGallery(options.data, dim, classes);
  const queries = synthetic.queries(options.queries, 99);
  const opened = await openBenchStore(kind, dir, pgUrl);
  const { store } = opened;
  try {
    await store.createGallery({ name: 'bench', model: embedderId(embedder.info), dim, metric });
    // Drawn before the clock starts: the bench's generator is slower than the stores it feeds.
    let batches: NewExample[][] | null = [...synthetic.examples(size, 1, 10_000)];
    const loadStarted = performance.now();
    await store.addBulk('bench', batches, {
      onProgress: (n) => {
        if (n % 100_000 === 0) log(`  ${n} rows written (${((performance.now() - loadStarted) / 1000).toFixed(0)} s)`);
      },
    });
    const loadS = (performance.now() - loadStarted) / 1000;
    batches = null; // let the exact reference reuse the memory
    log(`  loaded and indexed in ${loadS.toFixed(1)} s; exact answers for ${queries.length} queries...`);
    const exact = await exactAnswers(synthetic, size, queries);

    // Recall and latency through the store alone, one query at a time.
    const found = await store.search('bench', queries, { k: 10, by: 'example' });
    let hit1 = 0;
    let hit10 = 0;
    found.forEach((ranking, i) => {
      const labels = ranking.map((n) => n.label);
      if (labels[0] === exact[i]![0]) hit1++;
      hit10 += labels.filter((label) => exact[i]!.includes(label)).length / Math.min(10, exact[i]!.length);
    });
    const timings: number[] = [];
    const searchStarted = performance.now();
    for (let round = 0; timings.length < 2_000 && performance.now() - searchStarted < 10_000; round++) {
      const t = performance.now();
      await store.search('bench', [queries[round % queries.length]!], { k: 5, by: 'example' });
      timings.push(performance.now() - t);
    }
    timings.sort((a, b) => a - b);
    const meanStarted = performance.now();
    await store.search('bench', [queries[0]!], { k: 5, by: 'mean' });
    const firstMeanSearchS = (performance.now() - meanStarted) / 1000;
    const meanTimings: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const t = performance.now();
      await store.search('bench', [queries[i % queries.length]!], { k: 5, by: 'mean' });
      meanTimings.push(performance.now() - t);
    }
    meanTimings.sort((a, b) => a - b);
    // Closing saves the index, as a server stopped cleanly would.
    await store.close();

    const row: Row = {
      store: kind,
      data: options.data,
      examples: size,
      classes,
      loadS: round(loadS, 1),
      recall1: round(hit1 / queries.length, 4),
      recall10: round(hit10 / queries.length, 4),
      searchP50Ms: round(percentile(timings, 50), 2),
      searchP99Ms: round(percentile(timings, 99), 2),
      firstMeanSearchS: round(firstMeanSearchS, 2),
      searchMeanP50Ms: round(percentile(meanTimings, 50), 2),
      restartToIdentifyS: null,
      identifyRps: null,
      p50Ms: null,
      p99Ms: null,
      failed: null,
      serverRssMb: null,
      serverPeakRssMb: null,
    };
    if (options.isHttpSkipped) return row;

    const body = await queryBody();
    const server = await startServer(opened.url, body);
    try {
      row.restartToIdentifyS = round(server.firstS, 2);
      const request = {
        url: `${server.url}/v1/galleries/bench/identify`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      };
      await autocannon({ ...request, connections: 2, duration: 1 }); // warm-up
      const result = await autocannon({ ...request, connections: options.connections, duration: options.durationS });
      const memory = residentMb(server.child.pid!);
      Object.assign(row, {
        identifyRps: round(result.requests.average, 0),
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        failed: result.non2xx + result.errors + result.timeouts,
        serverRssMb: memory?.rss ?? null,
        serverPeakRssMb: memory?.peak ?? null,
      });
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
    return row;
  } finally {
    await store.close().catch(() => {});
    await opened.cleanup();
  }
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const pgUrl = process.env.TWINSHOT_BENCH_PG_URL ?? process.env.TWINSHOT_TEST_PG_URL;
  const dir = fs.mkdtempSync(path.join(process.env.TWINSHOT_BENCH_DIR ?? os.tmpdir(), 'twinshot-bench-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const log = (line: string): void => {
    if (!options.json) console.log(line);
  };
  log(
    `twinshot service bench: ${os.cpus().length} cores (${os.cpus()[0]?.model}), libtorch ${engineInfo().torchVersion}, ${getNumThreads()} threads`,
  );
  log(
    `${options.data} synthetic 256-d unit vectors, 5 per class; recall@1/@10 of labels against exact search on ${options.queries} queries; ` +
      `identify = POST /v1/galleries/bench/identify with a 105x105 PNG in JSON, k=5, ${options.connections} connections for ${options.durationS} s, to a fresh server process`,
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
        log(`${kind} ${size}: loading...`);
        const row = await benchOne(kind, size, options, dir, pgUrl, log);
        rows.push(row);
        log(
          `${kind.padEnd(8)} ${String(size).padStart(9)} examples  load ${row.loadS} s  recall@1 ${row.recall1} @10 ${row.recall10}  ` +
            `search p50 ${row.searchP50Ms} ms p99 ${row.searchP99Ms} ms  by mean: first ${row.firstMeanSearchS} s then p50 ${row.searchMeanP50Ms} ms  ` +
            `restart to first identify ${row.restartToIdentifyS} s  identify ${row.identifyRps} req/s p50 ${row.p50Ms} ms p99 ${row.p99Ms} ms  failed ${row.failed}  ` +
            `server RSS ${row.serverRssMb} MiB (peak ${row.serverPeakRssMb})`,
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
