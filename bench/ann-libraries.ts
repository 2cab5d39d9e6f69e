// `npm run bench -- ann-libraries [--size N] [--queries Q] [--data clustered|uniform] [--threads T]`:
// the two HNSW libraries on npm that the embedded store could use, side by side on the same
// synthetic gallery: build time, memory, search time and recall against brute force at several
// search widths. usearch is a dependency; hnswlib-node is not (it compiles at install time), so
// install it for this comparison only: `npm install --no-save hnswlib-node@3.0.0`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyntheticGallery, type SyntheticKind } from './synthetic-gallery.js';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const value = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const size = Number(value('--size', '100000'));
const queryCount = Number(value('--queries', '200'));
const data = value('--data', 'clustered') as SyntheticKind;
const threads = Number(value('--threads', '2'));
const library = value('--library', '');
const DIM = 256;
const M = 16;
const EF_CONSTRUCTION = 128;
const EF_SEARCH = [16, 32, 64, 128];

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function load(): { vectors: Float32Array; queries: Float32Array[] } {
  const gallery = new SyntheticGallery(data, DIM, Math.max(1, Math.floor(size / 5)));
  const vectors = new Float32Array(size * DIM);
  let row = 0;
  for (const batch of gallery.examples(size, 1)) for (const { vector } of batch) vectors.set(vector, row++ * DIM);
  return { vectors, queries: gallery.queries(queryCount, 99) };
}

/** Ids of the 10 nearest rows by squared l2, by brute force. */
function exactTop10(vectors: Float32Array, query: Float32Array): number[] {
  const best: { id: number; d: number }[] = [];
  for (let r = 0; r < size; r++) {
    let d = 0;
    const o = r * DIM;
    for (let j = 0; j < DIM; j++) d += (vectors[o + j]! - query[j]!) ** 2;
    if (best.length < 10 || d < best[best.length - 1]!.d) {
      best.push({ id: r, d });
      best.sort((a, b) => a.d - b.d);
      if (best.length > 10) best.pop();
    }
  }
  return best.map((b) => b.id);
}

interface Candidate {
  build(vectors: Float32Array): void;
  setEf(ef: number): void;
  search(query: Float32Array, k: number): number[];
}

function usearchCandidate(): Candidate {
  const { Index, MetricKind, ScalarKind } = require('usearch') as typeof import('usearch');
  let index: InstanceType<typeof Index>;
  let ef = 64;
  const make = (expansionSearch: number): InstanceType<typeof Index> =>
    new Index({
      dimensions: DIM,
      metric: MetricKind.L2sq,
      quantization: ScalarKind.F32,
      connectivity: M,
      expansion_add: EF_CONSTRUCTION,
      expansion_search: expansionSearch,
      multi: false,
    });
  let file = '';
  return {
    build(vectors) {
      index = make(ef);
      index.add(
        BigUint64Array.from({ length: size }, (_, i) => BigInt(i)),
        vectors,
        threads,
      );
      file = path.join(os.tmpdir(), `ann-libraries-${process.pid}.usearch`);
      index.save(file);
    },
    setEf(next) {
      // expansion_search is fixed at construction: reopen the saved index with the new width.
      ef = next;
      index = make(ef);
      index.load(file);
    },
    search(query, k) {
      return Array.from(index.search(query, k, 1).keys, Number);
    },
  };
}

function hnswlibCandidate(): Candidate {
  const { HierarchicalNSW } = require('hnswlib-node') as {
    HierarchicalNSW: new (
      space: string,
      dim: number,
    ) => {
      initIndex(max: number, m: number, ef: number, seed: number): void;
      addPoint(point: number[] | Float32Array, label: number): void;
      setEf(ef: number): void;
      searchKnn(q: number[] | Float32Array, k: number): { neighbors: number[] };
    };
  };
  const index = new HierarchicalNSW('l2', DIM);
  return {
    build(vectors) {
      index.initIndex(size, M, EF_CONSTRUCTION, 100);
      // hnswlib-node adds one point per call, on the calling thread.
      for (let r = 0; r < size; r++) index.addPoint(Array.from(vectors.subarray(r * DIM, (r + 1) * DIM)), r);
    },
    setEf(ef) {
      index.setEf(ef);
    },
    search(query, k) {
      return index.searchKnn(Array.from(query), k).neighbors;
    },
  };
}

function runOne(name: string): void {
  let candidate: Candidate;
  try {
    candidate = name === 'usearch' ? usearchCandidate() : hnswlibCandidate();
  } catch (error) {
    console.log(JSON.stringify({ library: name, error: `not installed: ${(error as Error).message.split('\n')[0]}` }));
    return;
  }
  const { vectors, queries } = load();
  const exact = queries.map((q) => exactTop10(vectors, q));
  global.gc?.();
  const before = rssMb();
  const started = performance.now();
  candidate.build(vectors);
  const buildS = (performance.now() - started) / 1000;
  const indexMb = rssMb() - before;
  const rows = EF_SEARCH.map((ef) => {
    candidate.setEf(ef);
    const times: number[] = [];
    let hit1 = 0;
    let hit10 = 0;
    for (let round = 0; round < 3; round++) {
      queries.forEach((q, i) => {
        const t = performance.now();
        const found = candidate.search(q, 10);
        times.push(performance.now() - t);
        if (round > 0) return;
        if (found[0] === exact[i]![0]) hit1++;
        hit10 += found.filter((id) => exact[i]!.includes(id)).length;
      });
    }
    times.sort((a, b) => a - b);
    return {
      ef,
      recall1: hit1 / queries.length,
      recall10: hit10 / (10 * queries.length),
      searchP50Ms: Number(times[Math.floor(times.length / 2)]!.toFixed(3)),
      searchP99Ms: Number(times[Math.floor(times.length * 0.99)]!.toFixed(3)),
    };
  });
  console.log(
    JSON.stringify({
      library: name,
      size,
      data,
      threads,
      buildS: Number(buildS.toFixed(1)),
      indexMb: Math.round(indexMb),
      rows,
    }),
  );
}

if (library) {
  runOne(library);
} else {
  console.log(
    `ann-libraries: ${size} ${data} ${DIM}-d vectors, M ${M}, ef_construction ${EF_CONSTRUCTION}, ${queryCount} queries`,
  );
  const self = fileURLToPath(import.meta.url);
  const tsx = path.resolve(path.dirname(self), '../node_modules/tsx/dist/cli.mjs');
  for (const name of ['usearch', 'hnswlib-node']) {
    // One process per library, so each one's memory is measured alone.
    const result = spawnSync(process.execPath, ['--expose-gc', tsx, self, ...args, '--library', name], {
      encoding: 'utf8',
    });
    process.stdout.write(result.stdout);
    if (result.status !== 0) process.stderr.write(result.stderr);
  }
  if (!fs.existsSync(path.resolve(path.dirname(self), '../node_modules/hnswlib-node'))) {
    console.log('hnswlib-node: install it for this comparison with `npm install --no-save hnswlib-node@3.0.0`');
  }
}
