// One rank of a distributed test, run as its own process (through tsx) by the tests beside it.
// Usage: worker.ts SCENARIO OUT_DIR; the rank and rendezvous come from RANK, WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT. Each scenario writes what it saw under OUT_DIR for the test to check.
import fs from 'node:fs';
import path from 'node:path';
import { arange, manualSeed, randint, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { saveFile } from '../../src/io/safetensors.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../../src/nn/layers.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/sgd.js';
import {
  DataParallel,
  allGather,
  allReduce,
  barrier,
  broadcast,
  defaultProcessGroup,
  destroyProcessGroup,
  getRank,
  getWorldSize,
  initProcessGroup,
} from '../../src/distributed/index.js';

const [scenario, outDir] = process.argv.slice(2) as [string, string];
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 30_000);

/** Rank-dependent values with a fractional part, so that sums are not trivially exact. */
function values(shape: number[], rank: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tidy(() =>
    arange(n)
      .mul(0.37 * scale)
      .add(rank * 1.25 - 3)
      .sin()
      .mul(10)
      .reshape(shape),
  );
}

async function collectives(): Promise<void> {
  const rank = getRank();
  const out = new Map<string, Tensor>();
  for (const dtype of ['float32', 'bfloat16'] as const) {
    for (const shape of [[7], [3, 5], [1001]]) {
      const key = `${dtype}.${shape.join('x')}`;
      out.set(`${key}.input`, values(shape, rank).to({ dtype }));
      for (const op of ['sum', 'avg', 'max'] as const) {
        const t = values(shape, rank).to({ dtype });
        await allReduce(t, { op });
        out.set(`${key}.${op}`, t);
      }
      out.set(`${key}.broadcastInput`, values(shape, rank, 2).to({ dtype }));
      const b = values(shape, rank, 2).to({ dtype });
      await broadcast(b, { src: 1 });
      out.set(`${key}.broadcast`, b);
      out.set(`${key}.gatherInput`, values(shape, rank, 3).to({ dtype }));
      const gathered = await allGather(values(shape, rank, 3).to({ dtype }));
      gathered.forEach((g, r) => out.set(`${key}.gather${r}`, g));
    }
  }
  // Several tensors at once (one flattened buffer), a non-contiguous one among them.
  const a = values([3, 5], rank).transpose(0, 1);
  const c = values([7], rank);
  await allReduce([a, c], { op: 'avg' });
  out.set('coalesced.a', a.contiguous());
  out.set('coalesced.c', c);
  const ints = tensor([rank + 1, 10 * rank, -rank], { dtype: 'int64' });
  await allReduce(ints);
  out.set('int64.sum', ints);
  // Several collectives in flight together complete in order.
  const many = Array.from({ length: 5 }, (_, i) => tensor([i + rank]));
  await Promise.all(many.map((t) => allReduce(t)));
  many.forEach((t, i) => out.set(`inflight.${i}`, t));
  await barrier();
  saveFile(out, path.join(outDir, `rank${rank}.safetensors`));
}

/** A small net without batch norm, trained 20 SGD steps on fixed data. */
async function sgd(): Promise<void> {
  const distributed = scenario === 'sgd-ranks';
  const rank = distributed ? getRank() : 0;
  const worldSize = distributed ? getWorldSize() : 1;
  manualSeed(7);
  const data = randn([20, 16, 1, 8, 8]);
  const labels = randint(0, 3, [20, 16]);
  // Each rank starts from its own random weights: the broadcast must make them rank 0's.
  manualSeed(100 + rank);
  const net = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new ReLU(), new Flatten(), new Linear(4 * 8 * 8, 3));
  manualSeed(100);
  const reference = new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }),
    new ReLU(),
    new Flatten(),
    new Linear(4 * 8 * 8, 3),
  );
  if (!distributed) net.loadStateDict(reference.stateDict());
  const optimizer = new SGD(net, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const parallel = distributed ? new DataParallel(net, defaultProcessGroup()) : null;
  await parallel?.broadcastState();
  const share = 16 / worldSize;
  for (let step = 0; step < 20; step++) {
    tidy(() => {
      optimizer.zeroGrad();
      const x = data.select(0, step).narrow(0, rank * share, share);
      const y = labels.select(0, step).narrow(0, rank * share, share);
      crossEntropy(net.forward(x), y).backward();
    });
    await parallel?.averageGradients();
    tidy(() => optimizer.step());
  }
  saveFile(net.stateDict(), path.join(outDir, distributed ? `rank${rank}.safetensors` : 'single.safetensors'));
}

/** Rank 1 dies (SIGKILL) or hangs after the first collective; rank 0 records how its next one ends. */
async function peerFailure(): Promise<void> {
  const rank = getRank();
  await allReduce(tensor([1, 2, 3]));
  if (rank === 1) {
    if (scenario === 'peer-killed') process.kill(process.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 120_000)); // hangs: never joins the next collective
    return;
  }
  // How a collective ends: its error and how long it took.
  const outcome = async (run: () => Promise<unknown>) => {
    const started = Date.now();
    try {
      await run();
      return { seconds: (Date.now() - started) / 1000 };
    } catch (error) {
      const { message, code } = error as { message: string; code?: string };
      return { error: message, code, seconds: (Date.now() - started) / 1000 };
    }
  };
  const seen: Record<string, unknown> = {};
  // A call's own, shorter timeout gives up waiting (only where the peer hangs: a dead one fails at once).
  if (scenario === 'peer-hangs') seen.ownTimeout = await outcome(() => allReduce(tensor([4, 5]), { timeoutMs: 1000 }));
  seen.groupTimeout = await outcome(() => allReduce(tensor([4, 5, 6])));
  fs.writeFileSync(path.join(outDir, 'rank0.json'), JSON.stringify(seen));
  process.exit(0); // the group is broken: leave without tearing it down
}

/** A rank of a group whose other rank is PyTorch (test/distributed/torch_rank.py does the same). */
async function interop(): Promise<void> {
  const rank = getRank();
  const t = arange(11, undefined, 1, { dtype: 'float32' }).mul(rank + 1);
  await allReduce(t);
  const b = tensor(rank === 0 ? [2.5, -1, 7] : [0, 0, 0], { dtype: 'float32' });
  await broadcast(b, { src: 0 });
  const c = tensor(rank === 1 ? [3.25, -8.5] : [0, 0], { dtype: 'float64' });
  await broadcast(c, { src: 1 });
  await barrier();
  fs.writeFileSync(
    path.join(outDir, `twinshot${rank}.json`),
    JSON.stringify({ allReduce: t.toArray(), broadcast0: b.toArray(), broadcast1: c.toArray() }),
  );
}

if (scenario === 'sgd-single') {
  await sgd();
} else {
  await initProcessGroup({ backend: 'gloo', initMethod: 'env://', timeoutMs });
  if (scenario === 'collectives') await collectives();
  else if (scenario === 'sgd-ranks') await sgd();
  else if (scenario === 'peer-killed' || scenario === 'peer-hangs') await peerFailure();
  else if (scenario === 'interop') await interop();
  else throw new Error(`unknown scenario ${scenario}`);
  await barrier();
  destroyProcessGroup();
}
