// The index worker: builds (and saves) a gallery's HNSW index, or computes its class means, on a
// read-only connection of its own, then replies once and exits.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { buildIndex, computeMeans, type BuildTask, type BuilderReply, type MeansTask } from './hnsw-builder.js';

const { databaseFile, task } = workerData as { databaseFile: string; task: BuildTask | MeansTask };
let reply: BuilderReply;
const transfer: ArrayBuffer[] = [];
try {
  const db = new Database(databaseFile, { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    if (task.kind === 'build') {
      const file = buildIndex(db, task).save(task.folder!, task.galleryId);
      reply = { ok: true, kind: 'build', file };
    } else {
      const result = computeMeans(db, task);
      transfer.push(result.means.buffer as ArrayBuffer, result.counts.buffer as ArrayBuffer);
      reply = { ok: true, kind: 'means', result };
    }
  } finally {
    db.close();
  }
} catch (error) {
  reply = { ok: false, message: error instanceof Error ? error.message : String(error) };
}
parentPort!.postMessage(reply, transfer);
