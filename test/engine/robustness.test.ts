import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native, ops } from '../../src/engine/native.js';
import { callAsync, getRngState, rand, setRngState, Tensor, zeros } from '../../src/engine/index.js';
import { ArgumentError, TorchError, TwinshotError } from '../../src/errors.js';

const root = path.resolve(import.meta.dirname, '../..');

// Calls an addon function the way any JavaScript could, bypassing the TypeScript checks.
function raw(op: string, ...args: unknown[]): unknown {
  return (ops as unknown as Record<string, (...a: unknown[]) => unknown>)[op]!(...args);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('the addon', () => {
  it('refuses dtype codes that are not ScalarTypes twinshot supports (a cast of 99999 aborted the process)', () => {
    for (const dtype of [99999, -1, 8, 12, 0.5, NaN, 2 ** 53]) {
      const error = thrown(() => raw('empty', [2], dtype, 'cpu'));
      expect(error).toBeInstanceOf(ArgumentError);
      expect((error as ArgumentError).message).toMatch(/^empty: argument 1 must be a dtype code/);
    }
  });

  it('refuses integers that are not exact (NaN, infinities, fractions, beyond 2^53)', () => {
    for (const n of [NaN, Infinity, -Infinity, 0.5, 2 ** 53, 1e300]) {
      expect(thrown(() => raw('eye', n, 2, 6, 'cpu'))).toMatchObject({ code: 'ERR_ARGUMENT', op: 'eye' });
      expect(thrown(() => raw('zeros', [2, n], 6, 'cpu'))).toMatchObject({ code: 'ERR_ARGUMENT' });
    }
    expect(thrown(() => raw('setNumThreads', 1e6))).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(thrown(() => raw('manualSeed', -1))).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(
      thrown(() => raw('gridSample', rand([1, 1, 4, 4]).handle, rand([1, 2, 2, 2]).handle, 99, 0, false)),
    ).toMatchObject({
      code: 'ERR_ARGUMENT',
    });
  });

  it('reads a tensor only from its own tagged handles', () => {
    const disposed = zeros([2]);
    const handle = disposed.handle;
    disposed.dispose();
    expect(thrown(() => raw('neg', handle))).toMatchObject({ code: 'ERR_DISPOSED', op: 'neg' });
    expect(thrown(() => raw('neg', {}))).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(thrown(() => raw('cat', [null, null], 0))).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(thrown(() => raw('zeroGrad', [null], false))).toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(thrown(() => native.toBuffer({} as never))).toBeInstanceOf(ArgumentError);
    expect(thrown(() => new Tensor({} as never))).toBeInstanceOf(ArgumentError);
  });

  it('keeps libtorch failures as TorchError, naming the op', () => {
    const error = thrown(() => raw('mm', zeros([2, 3]).handle, zeros([2, 3]).handle));
    expect(error).toBeInstanceOf(TorchError);
    expect(error).toMatchObject({ code: 'ERR_TORCH', op: 'mm' });
  });

  it('restores a random state only from a state-shaped uint8 CPU tensor, and no CUDA one without CUDA', () => {
    const state = getRngState();
    const first = rand([3]).toArray();
    setRngState(state);
    expect(rand([3]).toArray()).toEqual(first);
    expect(thrown(() => setRngState(zeros([5056])))).toBeInstanceOf(TwinshotError);
    expect(thrown(() => raw('setRngState', zeros([1], { dtype: 'uint8' }).expand(5056).handle))).toBeInstanceOf(
      TwinshotError,
    );
    if (!native.info().cudaAvailable) {
      expect(thrown(() => getRngState('cuda'))).toMatchObject({ code: 'ERR_ARGUMENT' });
    }
  });

  it('rejects a bad async op name as a TwinshotError', async () => {
    await expect(callAsync('noSuchOp' as never)).rejects.toBeInstanceOf(ArgumentError);
    expect(() => native.runAsync(5 as never)).toThrow(ArgumentError);
  });
});

describe('every public entry point', () => {
  it('answers garbage with a TwinshotError and never crashes the process', () => {
    // A separate process, so that a crash is a signal here rather than a lost test run; its data
    // segment is capped, so an allocation the fuzzer provokes fails instead of paging the machine.
    const result = spawnSync(
      'bash',
      ['-c', `ulimit -d 4194304 && exec "${process.execPath}" --import tsx test/helpers/fuzz-engine.ts`],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, TWINSHOT_NUM_THREADS: '1', FUZZ_SCALE: '0.1', FUZZ_SEED: '7' },
        maxBuffer: 64 * 2 ** 20,
        timeout: 600_000,
      },
    );
    const lastOp = result.stderr.trim().split('\n').at(-1);
    expect(result.signal, `crashed after: ${lastOp}`).toBeNull();
    expect(result.status, `exited after: ${lastOp}\n${result.stderr.slice(-2000)}`).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      calls: number;
      ok: number;
      codes: Record<string, number>;
      foreign: Record<string, { count: number; example: string }>;
    };
    expect(summary.foreign).toEqual({});
    expect(summary.calls).toBeGreaterThan(50_000);
    expect(summary.ok).toBeGreaterThan(1000);
    for (const code of ['ERR_ARGUMENT', 'ERR_TORCH', 'ERR_DISPOSED']) expect(summary.codes[code]).toBeGreaterThan(0);
  }, 600_000);
});
