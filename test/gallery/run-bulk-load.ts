// Child process of bulk-load.test.ts: bulk-loads `count` synthetic examples into gallery 'bulk'
// of the store at `url`, printing "written N" after each batch and "done N" once committed.
import { openStore } from '../../src/gallery/open-store.js';
import { randomVector, seededRandom } from './helpers.js';

const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const store = await openStore(url);
const random = seededRandom(1234);
async function* batches() {
  for (let start = 0; start < count; start += 500) {
    yield Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      label: `bulk-${start + i}`,
      vector: randomVector(random, 8),
    }));
    // Slow enough for the test to kill the load part-way.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const written = await store.addBulk('bulk', batches(), { onProgress: (n) => console.log(`written ${n}`) });
console.log(`done ${written}`);
await store.close();
