// `npm run bench -- exact-or-hnsw [--sizes 5000,10000,20000,40000]`: where the SQLite store should
// stop searching exactly. For each size, the same gallery file is searched exactly (?search=exact)
// and through its HNSW index, interleaved in one process; CPU time per query counts every thread
// (the exact scan runs on libuv's pool), so it holds on a shared machine better than wall time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../src/gallery/sqlite-store.js';
import { SyntheticGallery } from './synthetic-gallery.js';

const args = process.argv.slice(2);
const at = args.indexOf('--sizes');
const sizes = (at >= 0 ? args[at + 1]! : '5000,10000,20000,40000').split(',').map(Number);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-exact-or-hnsw-'));
try {
  for (const size of sizes) {
    const file = path.join(dir, `g${size}.db`);
    const synthetic = new SyntheticGallery('clustered', 256, size / 5);
    const hnsw = SqliteStore.open(file, { exactBelow: 0 });
    await hnsw.createGallery({ name: 'g', model: 'm', dim: 256, metric: 'l2' });
    await hnsw.addBulk('g', synthetic.examples(size, 1, 10_000));
    const exact = SqliteStore.open(file, { search: 'exact' });
    const queries = synthetic.queries(200, 99);
    const cpuMs = { exact: 0, hnsw: 0 };
    const wallMs = { exact: 0, hnsw: 0 };
    for (let round = 0; round < 4; round++) {
      for (const [name, store] of [
        ['exact', exact],
        ['hnsw', hnsw],
      ] as const) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        for (const q of queries) await store.search('g', [q], { k: 5, by: 'example' });
        if (round === 0) continue; // the first round loads the indexes
        wallMs[name] += (performance.now() - started) / queries.length / 3;
        const used = process.cpuUsage(cpu);
        cpuMs[name] += (used.user + used.system) / 1000 / queries.length / 3;
      }
    }
    const fixed = (x: number): number => Number(x.toFixed(3));
    console.log(
      JSON.stringify({
        size,
        cpuMsPerQuery: { exact: fixed(cpuMs.exact), hnsw: fixed(cpuMs.hnsw) },
        wallMsPerQuery: { exact: fixed(wallMs.exact), hnsw: fixed(wallMs.hnsw) },
      }),
    );
    await exact.close();
    await hnsw.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
