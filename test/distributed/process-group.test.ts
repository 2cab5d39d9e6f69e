// Process groups and collectives on c10d, with real rank processes on loopback (one thread each):
// results equal on every rank, data parallelism equal to one process with the whole batch, a
// dead or hung peer failing the others within the timeout, and a PyTorch rank in the same group.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFile } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/engine/tensor.js';
import {
  allReduce,
  availableBackends,
  destroyProcessGroup,
  getRank,
  getWorldSize,
  initProcessGroup,
  isInitialized,
  localAddressTowards,
  resolveRendezvous,
} from '../../src/distributed/index.js';
import { tensor } from '../../src/engine/tensor.js';
import { PYTHON, TORCH_PYTHON, needs } from '../helpers/prerequisites.js';
import { NODE_TS, WORKER, allSucceed, freePort, rankEnv, start, startRanks } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-dist-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const load = (file: string) => loadFile(file).tensors;
const bits = (t: Tensor) => Array.from(t.contiguous().data() as ArrayLike<number | bigint>, Number);

describe('distributed: rendezvous settings', () => {
  it('reads env:// as PyTorch does and says what is missing', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, rankEnv(1, 3, 29500));
      expect(resolveRendezvous()).toEqual({ host: '127.0.0.1', port: 29500, rank: 1, worldSize: 3 });
      expect(resolveRendezvous({ initMethod: 'tcp://10.0.0.2:1234', rank: 0, worldSize: 2 })).toMatchObject({
        host: '10.0.0.2',
        port: 1234,
      });
      delete process.env.MASTER_ADDR;
      expect(() => resolveRendezvous()).toThrow(/env:\/\/ needs MASTER_ADDR .*--nproc-per-node/);
      process.env.MASTER_ADDR = 'localhost';
      process.env.RANK = '3';
      expect(() => resolveRendezvous()).toThrow(/rank must be an integer in 0\.\.2; got 3/);
      expect(() => resolveRendezvous({ initMethod: 'file:///tmp/x' })).toThrow(/'env:\/\/' or 'tcp:\/\/HOST:PORT'/);
    } finally {
      process.env = saved;
    }
  });

  it("listens where the master's route leaves this machine", async () => {
    expect(await localAddressTowards('localhost', 29500)).toBe('127.0.0.1');
    const own = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    // Towards one of this machine's own addresses, the route leaves from that address.
    if (own) expect(await localAddressTowards(own.address, 29500)).toBe(own.address);
    expect(await localAddressTowards('no-such-host.invalid', 29500)).toBe('');
  });

  it('has the gloo backend, and a rendezvous nobody joins fails within its timeout', async () => {
    expect(availableBackends()).toContain('gloo');
    const port = await freePort();
    const started = Date.now();
    await expect(
      initProcessGroup({ initMethod: `tcp://127.0.0.1:${port}`, rank: 0, worldSize: 2, timeoutMs: 1500 }),
    ).rejects.toMatchObject({ code: 'ERR_DISTRIBUTED', message: expect.stringMatching(/rank 0 of 2 could not join/) });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  // On a CUDA build with NCCL there is nothing to refuse; this machine's libtorch has neither.
  it.skipIf(availableBackends().includes('nccl'))(
    'a backend this build lacks fails at once, before rank 0 waits for the others',
    async () => {
      const port = await freePort();
      await expect(
        initProcessGroup({
          backend: 'nccl',
          initMethod: `tcp://127.0.0.1:${port}`,
          rank: 0,
          worldSize: 2,
          timeoutMs: 600_000,
        }),
      ).rejects.toMatchObject({
        code: 'ERR_DISTRIBUTED',
        message: expect.stringMatching(/nccl backend needs a libtorch built with CUDA/),
      });
    },
    20_000,
  );
});

describe('distributed: a group of one, in this process', () => {
  it('reduces to itself, and names what is wrong with a call before it reaches c10d', async () => {
    const group = await initProcessGroup({ initMethod: `tcp://127.0.0.1:${await freePort()}`, rank: 0, worldSize: 1 });
    try {
      await expect(initProcessGroup({ initMethod: 'tcp://127.0.0.1:1', rank: 0, worldSize: 1 })).rejects.toThrow(
        /the default process group exists already/,
      );
      expect([getRank(), getWorldSize(), group.backend]).toEqual([0, 1, 'gloo']);
      const t = tensor([1.5, -2, 3]);
      await allReduce(t, { op: 'avg' });
      expect(t.toArray()).toEqual([1.5, -2, 3]);
      expect(await group.allGatherObject({ rank: 0, text: 'héllo' })).toEqual([{ rank: 0, text: 'héllo' }]);
      expect(() => allReduce(tensor([1, 2]), { op: 'avg' })).toThrow(
        expect.objectContaining({
          code: 'ERR_ARGUMENT',
          message: expect.stringMatching(/'avg' needs floating-point tensors; got int64/),
        }),
      );
      expect(() => allReduce([tensor([1.5]), tensor([1.5], { dtype: 'float64' })])).toThrow(/one dtype and device/);
      expect(() => allReduce(t, { op: 'mean' as 'avg' })).toThrow(/op must be one of sum, avg, product, min, max/);
      expect(() => group.broadcast(t, { src: 1 })).toThrow(/src must be a rank in 0\.\.0; got 1/);
      expect(() => allReduce([])).toThrow(/at least one tensor/);
    } finally {
      destroyProcessGroup();
    }
    expect(isInitialized()).toBe(false);
    expect(() => group.allReduce(tensor([1.5]))).toThrow(
      expect.objectContaining({ code: 'ERR_DISTRIBUTED', message: expect.stringMatching(/destroyed/) }),
    );
    expect(() => allReduce(tensor([1.5]))).toThrow(/not initialised; call initProcessGroup\(\) first/);
  });
});

describe('distributed: collectives across two ranks', () => {
  it('all-reduce, broadcast and all-gather agree on every rank, for float32 and bfloat16 of odd sizes', async () => {
    const out = tmp();
    await allSucceed(startRanks('collectives', out, 2, await freePort()));
    const [r0, r1] = [load(path.join(out, 'rank0.safetensors')), load(path.join(out, 'rank1.safetensors'))];
    for (const dtype of ['float32', 'bfloat16']) {
      for (const shape of ['7', '3x5', '1001']) {
        const key = `${dtype}.${shape}`;
        const a = r0.get(`${key}.input`)!.float();
        const b = r1.get(`${key}.input`)!.float();
        // Gloo sums bfloat16 in float32; with two ranks each result is rounded exactly once.
        const expected = {
          sum: a.add(b).to({ dtype: dtype as 'float32' }),
          avg: a
            .add(b)
            .div(2)
            .to({ dtype: dtype as 'float32' }),
          max: a.maximum(b).to({ dtype: dtype as 'float32' }),
        };
        for (const op of ['sum', 'avg', 'max'] as const) {
          expect(r0.get(`${key}.${op}`)!.dtype).toBe(dtype);
          expect(bits(r0.get(`${key}.${op}`)!), `${key} ${op}`).toEqual(bits(r1.get(`${key}.${op}`)!));
          expect(bits(r0.get(`${key}.${op}`)!), `${key} ${op}`).toEqual(bits(expected[op]));
        }
        const source = bits(r1.get(`${key}.broadcastInput`)!);
        expect(bits(r0.get(`${key}.broadcast`)!), `${key} broadcast`).toEqual(source);
        expect(bits(r1.get(`${key}.broadcast`)!)).toEqual(source);
        for (const rank of [0, 1]) {
          const input = bits([r0, r1][rank]!.get(`${key}.gatherInput`)!);
          expect(bits(r0.get(`${key}.gather${rank}`)!), `${key} gather ${rank}`).toEqual(input);
          expect(bits(r1.get(`${key}.gather${rank}`)!)).toEqual(input);
        }
      }
    }
    for (const name of ['coalesced.a', 'coalesced.c', 'int64.sum', ...[0, 1, 2, 3, 4].map((i) => `inflight.${i}`)]) {
      expect(bits(r0.get(name)!), name).toEqual(bits(r1.get(name)!));
    }
    expect(r0.get('int64.sum')!.toArray()).toEqual([3, 10, -1]);
    expect([0, 1, 2, 3, 4].map((i) => r0.get(`inflight.${i}`)!.item())).toEqual([1, 3, 5, 7, 9]);
    // The coalesced tensors (one of them a transposed view) were averaged in place.
    expect(r0.get('coalesced.a')!.shape).toEqual([5, 3]);
  }, 60_000);

  it('two ranks with half the batch each end 20 SGD steps where one process with the whole batch does', async () => {
    const out = tmp();
    const port = await freePort();
    const ranks = startRanks('sgd-ranks', out, 2, port);
    const single = start(process.execPath, [...NODE_TS, WORKER, 'sgd-single', out]);
    await allSucceed([...ranks, single]);
    const reference = load(path.join(out, 'single.safetensors'));
    const parts = [0, 1].map((r) => load(path.join(out, `rank${r}.safetensors`)));
    expect(reference.size).toBe(4);
    for (const [name, want] of reference) {
      for (const [rank, state] of parts.entries()) {
        const got = state.get(name)!;
        // Relative 1e-5 of the tensor's scale: the sums of half batches round differently.
        const scale = want.abs().max().item();
        const diff = got.sub(want).abs().max().item();
        expect(diff / scale, `${name} on rank ${rank}`).toBeLessThan(1e-5);
      }
      // Every rank took exactly the same steps.
      expect(bits(parts[0]!.get(name)!), name).toEqual(bits(parts[1]!.get(name)!));
    }
    // Training moved the weights away from where they started.
    expect(reference.get('3.weight')!.abs().sum().item()).toBeGreaterThan(0);
  }, 60_000);
});

describe('distributed: a peer that fails', () => {
  it('a rank killed with SIGKILL makes the other fail at once, not hang', async () => {
    const out = tmp();
    const ranks = startRanks('peer-killed', out, 2, await freePort(), { TEST_TIMEOUT_MS: '20000' });
    const [r0, r1] = await Promise.all(ranks.map((r) => r.finished));
    expect(r1!.signal).toBe('SIGKILL');
    expect(r0!.code, r0!.output).toBe(0);
    const { groupTimeout } = JSON.parse(fs.readFileSync(path.join(out, 'rank0.json'), 'utf8'));
    expect(groupTimeout.code).toBe('ERR_DISTRIBUTED');
    expect(groupTimeout.error).toMatch(/^allReduce\(\): allReduce failed on rank 0 of 2: .*a peer rank died/);
    expect(groupTimeout.seconds).toBeLessThan(10);
  }, 60_000);

  it("a rank that hangs makes the other fail after the call's timeout, or the group's", async () => {
    const out = tmp();
    const ranks = startRanks('peer-hangs', out, 2, await freePort(), { TEST_TIMEOUT_MS: '3000' });
    const r0 = await ranks[0]!.finished;
    ranks[1]!.child.kill('SIGKILL');
    expect(r0.code, r0.output).toBe(0);
    const { ownTimeout, groupTimeout } = JSON.parse(fs.readFileSync(path.join(out, 'rank0.json'), 'utf8'));
    expect(ownTimeout.error).toMatch(/rank 0 of 2: timed out after 1\.\d+ s/);
    expect(ownTimeout.seconds).toBeGreaterThanOrEqual(0.9);
    expect(ownTimeout.seconds).toBeLessThan(2.5);
    expect(groupTimeout.code).toBe('ERR_DISTRIBUTED');
    // Gloo's own timeout (3 s) fires, closing the connection for the calls behind it too.
    expect(groupTimeout.error).toMatch(/rank 0 of 2: .*(timed out|timeout)/i);
    expect(groupTimeout.seconds).toBeLessThan(10);
  }, 60_000);
});

// Proof that the groups are c10d's own: a PyTorch process is a rank like any other.
needs(TORCH_PYTHON).describe('distributed: a PyTorch rank in a twinshot group', () => {
  for (const pythonRank of [1, 0]) {
    it(`all-reduces and broadcasts with PyTorch as rank ${pythonRank}`, async () => {
      const out = tmp();
      const port = await freePort();
      const ours = 1 - pythonRank;
      const twinshot = start(process.execPath, [...NODE_TS, WORKER, 'interop', out], rankEnv(ours, 2, port));
      const torch = start(PYTHON, ['test/distributed/torch_rank.py', out], {
        ...rankEnv(pythonRank, 2, port),
        OMP_NUM_THREADS: '1',
      });
      await allSucceed(pythonRank === 1 ? [twinshot, torch] : [torch, twinshot]);
      const fromUs = JSON.parse(fs.readFileSync(path.join(out, `twinshot${ours}.json`), 'utf8'));
      const fromTorch = JSON.parse(fs.readFileSync(path.join(out, `python${pythonRank}.json`), 'utf8'));
      const expected = {
        allReduce: Array.from({ length: 11 }, (_, i) => 3 * i),
        broadcast0: [2.5, -1, 7],
        broadcast1: [3.25, -8.5],
      };
      expect(fromUs).toEqual(expected);
      expect(fromTorch).toEqual(expected);
    }, 60_000);
  }
});
