// `npm run bench -- search-width [--size N] [--stores sqlite,postgres] [--scalars f32,bf16,f16,i8]
// [--expansion-add 64] [--widths 32,64,...]`: recall@10 of labels and search time against the
// number of candidates an HNSW search asks for, on the service bench's clustered data (same
// gallery, same 200 queries), for usearch (the SQLite store's index, whose graph holds bf16 with
// ef_construction 40; quantised candidates are all re-scored from float32, as the store's answer
// is) and pgvector (`hnsw.ef_search`; needs `source scripts/test-postgres.sh`).
// src/gallery/search-width.ts's rule and hnsw-index.ts's settings come from it. One graph per
// store and scalar type, each searched at every width.
import { createRequire } from 'node:module';
import pg from 'pg';
import { PostgresStore } from '../src/gallery/postgres-store.js';
import { SyntheticGallery } from './synthetic-gallery.js';

const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');
const args = process.argv.slice(2);
const value = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const size = Number(value('--size', '1000000'));
const stores = value('--stores', 'sqlite,postgres').split(',');
const scalars = value('--scalars', 'f32').split(',');
const DIM = 256;
const classes = Math.max(1, Math.floor(size / 5));
const synthetic = new SyntheticGallery('clustered', DIM, classes);
const queries = synthetic.queries(200, 99);
const vectors = new Float32Array(size * DIM);
let row = 0;
for (const batch of synthetic.examples(size, 1, 10_000))
  for (const { vector } of batch) vectors.set(vector, row++ * DIM);
const labelOf = (id: number): number => id % classes;

// Ground truth: the nearest 400 examples by brute force, then their first 10 distinct labels.
const flat = new Float32Array(queries.length * DIM);
queries.forEach((q, i) => flat.set(q, i * DIM));
const exact = usearch.exactSearch(vectors, flat, DIM, 400, usearch.MetricKind.L2sq, 0);
const truth = queries.map((_, i) => firstLabels(Array.from(exact.keys.subarray(i * 400, (i + 1) * 400), Number)));

function firstLabels(ids: number[]): number[] {
  const labels: number[] = [];
  for (const id of ids) {
    const label = labelOf(id);
    if (!labels.includes(label)) labels.push(label);
    if (labels.length === 10) break;
  }
  return labels;
}

function squaredL2(id: number, query: Float32Array): number {
  let d = 0;
  for (let j = 0, o = id * DIM; j < DIM; j++) d += (vectors[o + j]! - query[j]!) ** 2;
  return d;
}

function report(name: string, width: number, found: number[][], times: number[]): void {
  times.sort((a, b) => a - b);
  const recall1 = found.filter((labels, i) => labels[0] === truth[i]![0]).length / found.length;
  const recall10 =
    found.reduce((sum, labels, i) => sum + labels.filter((l) => truth[i]!.includes(l)).length / 10, 0) / found.length;
  const at = (p: number): string => times[Math.min(times.length - 1, Math.floor(times.length * p))]!.toFixed(2);
  console.log(
    `${name} width ${width}: recall@1 ${recall1.toFixed(3)} @10 ${recall10.toFixed(3)}  p50 ${at(0.5)} ms p99 ${at(0.99)} ms`,
  );
}

const WIDTHS = value('--widths', '32,64,96,128,160,192,256').split(',').map(Number);
const expansionAdd = Number(value('--expansion-add', '64'));
console.log(
  `search-width: ${size} clustered 256-d examples, ${classes} labels, 200 queries; M 16, ef_construction ${expansionAdd}`,
);
if (stores.includes('sqlite')) {
  const keys = BigUint64Array.from({ length: size }, (_, i) => BigInt(i));
  for (const scalar of scalars) {
    const index = new usearch.Index({
      dimensions: DIM,
      metric: usearch.MetricKind.L2sq,
      quantization: scalar as import('usearch').ScalarKind,
      connectivity: 16,
      expansion_add: expansionAdd,
      expansion_search: 64,
      multi: false,
    });
    const started = performance.now();
    for (let s = 0; s < size; s += 100_000)
      index.add(keys.subarray(s, s + 100_000), vectors.subarray(s * DIM, (s + 100_000) * DIM), 0);
    console.log(`usearch ${scalar}: built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const width of WIDTHS) {
      const times: number[] = [];
      const found: number[][] = [];
      for (let round = 0; round < 3; round++) {
        queries.forEach((query) => {
          const t = performance.now();
          let ids = Array.from(index.search(query, width, 1).keys, Number);
          if (scalar !== 'f32')
            ids = ids
              .map((id) => [id, squaredL2(id, query)] as const)
              .sort((a, b) => a[1] - b[1])
              .map(([id]) => id);
          const labels = firstLabels(ids);
          times.push(performance.now() - t);
          if (round === 0) found.push(labels);
        });
      }
      report(`usearch ${scalar}`, width, found, times);
    }
  }
}
if (stores.includes('postgres')) {
  const base = process.env.TWINSHOT_BENCH_PG_URL ?? process.env.TWINSHOT_TEST_PG_URL;
  if (!base)
    throw new Error(
      'postgres: no TWINSHOT_BENCH_PG_URL or TWINSHOT_TEST_PG_URL (run `source scripts/test-postgres.sh` first)',
    );
  const schema = `twinshot_width_${Date.now()}`;
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  const store = await PostgresStore.open(url.toString(), { schema });
  const client = new pg.Client({ connectionString: base });
  try {
    await store.createGallery({ name: 'g', model: 'm', dim: DIM, metric: 'l2' });
    const started = performance.now();
    await store.addBulk('g', synthetic.examples(size, 1, 10_000));
    console.log(`pgvector: loaded and indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await client.connect();
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM ${schema}.twinshot_galleries WHERE name = 'g'`);
    const table = `${schema}.twinshot_examples_${rows[0]!.id}`;
    for (const width of WIDTHS) {
      const times: number[] = [];
      const found: number[][] = [];
      for (let round = 0; round < 2; round++) {
        for (const query of queries) {
          const literal = `[${Array.from(query).join(',')}]`;
          const t = performance.now();
          await client.query('BEGIN');
          await client.query(`SET LOCAL hnsw.ef_search = ${width}`);
          const result = await client.query<{ label: string }>(
            `SELECT label FROM ${table} ORDER BY embedding <-> $1::vector(${DIM}) LIMIT $2`,
            [literal, width],
          );
          await client.query('COMMIT');
          // Labels are 'class-N'; the example ids of the ground truth map to N by labelOf.
          const labels: number[] = [];
          for (const r of result.rows) {
            const label = Number(r.label.slice('class-'.length));
            if (!labels.includes(label)) labels.push(label);
            if (labels.length === 10) break;
          }
          times.push(performance.now() - t);
          if (round === 0) found.push(labels);
        }
      }
      report('pgvector', width, found, times);
    }
  } finally {
    await store.close();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await client.end().catch(() => {});
  }
}
