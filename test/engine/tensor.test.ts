import { describe, expect, it } from 'vitest';
import { native } from '../../src/engine/native.js';
import { OP_NAMES } from '../../src/engine/op-names.js';
import {
  arange,
  cat,
  empty,
  eye,
  full,
  linspace,
  ones,
  rand,
  randint,
  randn,
  randperm,
  stack,
  tensor,
  where,
  zeros,
  manualSeed,
  getRngState,
  setRngState,
} from '../../src/engine/index.js';
import { TwinshotError, TorchError } from '../../src/errors.js';
import { expectClose } from '../helpers/assert.js';

describe('native op table', () => {
  it('matches the TypeScript list of op names exactly', () => {
    expect([...Object.keys(native.ops)].sort()).toEqual([...OP_NAMES].sort());
  });
});

describe('tensor()', () => {
  it('infers shape and dtype from nested arrays like PyTorch', () => {
    const ints = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(ints.shape).toEqual([2, 3]);
    expect(ints.dtype).toBe('int64');
    expect(tensor([1.5, 2]).dtype).toBe('float32');
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor([[true], [false]]).tolist()).toEqual([[true], [false]]);
    expect(tensor(3.5).shape).toEqual([]);
    expect(tensor(3.5).item()).toBe(3.5);
  });

  it('honours a shape given with a plain array, and says when it does not fit', () => {
    const t = tensor([1, 0, 0, 0, 1, 0], { shape: [1, 2, 3], dtype: 'float32' });
    expect(t.shape).toEqual([1, 2, 3]);
    expect(t.tolist()).toEqual([
      [
        [1, 0, 0],
        [0, 1, 0],
      ],
    ]);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(
      'tensor(): shape [2, 2] does not hold the 3 values given',
    );
  });

  it('round-trips every dtype through TypedArrays', () => {
    expect(tensor(new Float32Array([1.5, -2])).data()).toEqual(new Float32Array([1.5, -2]));
    expect(tensor(new Float64Array([1e-300, 3])).data()).toEqual(new Float64Array([1e-300, 3]));
    expect(tensor(new Int32Array([7, -8])).data()).toEqual(new Int32Array([7, -8]));
    expect(tensor(new BigInt64Array([2n ** 40n, -1n])).data()).toEqual(new BigInt64Array([2n ** 40n, -1n]));
    expect(tensor(new Uint8Array([0, 255])).data()).toEqual(new Uint8Array([0, 255]));
    const mask = tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' });
    expect(mask.dtype).toBe('bool');
    expect(mask.tolist()).toEqual([true, false, true]);
  });

  it('takes a shape for flat data and converts dtype on request', () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3], dtype: 'float64' });
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float64');
    expect(t.tolist()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('rejects ragged arrays and wrong byte lengths with a clear error', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(/shape needs 24 bytes, got 20/);
  });
});

describe('creation functions', () => {
  it('fill with the documented values', () => {
    expect(zeros([2, 2]).toArray()).toEqual([0, 0, 0, 0]);
    expect(ones([3], { dtype: 'int32' }).data()).toEqual(new Int32Array([1, 1, 1]));
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('int64');
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(eye(2).toArray()).toEqual([1, 0, 0, 1]);
    expect(empty([4, 5]).shape).toEqual([4, 5]);
  });

  it('reproduces random numbers after manualSeed and after restoring the generator state', () => {
    manualSeed(123);
    const a = randn([5]).toArray();
    const state = getRngState();
    const b = rand([5]).toArray();
    manualSeed(123);
    expect(randn([5]).toArray()).toEqual(a);
    setRngState(state);
    expect(rand([5]).toArray()).toEqual(b);
    const perm = randperm(10)
      .toArray()
      .sort((x, y) => x - y);
    expect(perm).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ints = randint(3, 6, [1000]).toArray();
    expect(Math.min(...ints)).toBe(3);
    expect(Math.max(...ints)).toBe(5);
  });

  it('samples rand in [0, 1) and randn with mean ~0 and std ~1', () => {
    manualSeed(1);
    const u = rand([10000]);
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
    const n = randn([20000]);
    expect(Math.abs(n.mean().item())).toBeLessThan(0.03);
    expect(Math.abs(n.std().item() - 1)).toBeLessThan(0.03);
  });
});

describe('Tensor arithmetic', () => {
  const a = tensor(
    [
      [1, 2],
      [3, 4],
    ],
    { dtype: 'float32' },
  );
  const row = tensor([10, 20], { dtype: 'float32' });

  it('broadcasts like PyTorch', () => {
    expect(a.add(row).tolist()).toEqual([
      [11, 22],
      [13, 24],
    ]);
    expect(a.sub(row, 2).tolist()).toEqual([
      [-19, -38],
      [-17, -36],
    ]);
    expect(a.mul(row.unsqueeze(1)).tolist()).toEqual([
      [10, 20],
      [60, 80],
    ]);
    expect(a.div(2).tolist()).toEqual([
      [0.5, 1],
      [1.5, 2],
    ]);
    expect(a.rsub(1).tolist()).toEqual([
      [0, -1],
      [-2, -3],
    ]);
    expect(a.pow(2).tolist()).toEqual([
      [1, 4],
      [9, 16],
    ]);
    expect(a.remainder(3).tolist()).toEqual([
      [1, 2],
      [0, 1],
    ]);
  });

  it('keeps integer tensors integral with integer scalars', () => {
    const i = tensor([1, 2, 3]);
    expect(i.add(1).dtype).toBe('int64');
    expect(i.mul(2).toArray()).toEqual([2, 4, 6]);
    expect(i.add(0.5).dtype).toBe('float32');
  });

  it('computes unary functions', () => {
    const x = tensor([-1, 0, 2], { dtype: 'float64' });
    expectClose(x.abs(), [1, 0, 2]);
    expectClose(x.exp(), [Math.exp(-1), 1, Math.exp(2)]);
    expectClose(x.sigmoid(), [1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2))]);
    expectClose(x.relu(), [0, 0, 2]);
    expectClose(x.tanh(), [Math.tanh(-1), 0, Math.tanh(2)]);
    expectClose(x.softplus(), [Math.log1p(Math.exp(-1)), Math.log(2), Math.log1p(Math.exp(2))]);
    expectClose(x.clamp(-0.5, 1), [-0.5, 0, 1]);
    expectClose(x.clampMin(0).sqrt(), [0, 0, Math.SQRT2]);
    expectClose(tensor([1, 4], { dtype: 'float32' }).log(), [0, Math.log(4)]);
    expectClose(x.square(), [1, 0, 4]);
    expectClose(x.sign(), [-1, 0, 1]);
  });

  it('updates in place and returns the same tensor', () => {
    const t = zeros([3]);
    expect(t.add_(2)).toBe(t);
    t.mul_(3).sub_(1);
    expect(t.toArray()).toEqual([5, 5, 5]);
    t.fill_(1).div_(4);
    expect(t.toArray()).toEqual([0.25, 0.25, 0.25]);
    t.zero_();
    expect(t.toArray()).toEqual([0, 0, 0]);
  });

  it('compares and selects', () => {
    const x = tensor([1, 5, 3], { dtype: 'float32' });
    expect(x.gt(2).tolist()).toEqual([false, true, true]);
    expect(x.eq(tensor([1, 0, 3], { dtype: 'float32' })).tolist()).toEqual([true, false, true]);
    expect(x.le(3).logicalAnd(x.ge(2)).tolist()).toEqual([false, false, true]);
    expect(where(x.gt(2), x, 0).toArray()).toEqual([0, 5, 3]);
    expect(x.maskedFill(x.lt(2), -1).toArray()).toEqual([-1, 5, 3]);
    expect(x.maximum(full([3], 4)).toArray()).toEqual([4, 5, 4]);
  });
});

describe('Tensor reductions', () => {
  const x = tensor(
    [
      [3, 1, 2],
      [9, 7, 8],
    ],
    { dtype: 'float32' },
  );

  it('reduce over all or some dimensions', () => {
    expect(x.sum().item()).toBe(30);
    expect(x.sum(1).toArray()).toEqual([6, 24]);
    expect(x.mean(0, true).shape).toEqual([1, 3]);
    expect(x.mean(0).toArray()).toEqual([6, 4, 5]);
    expect(x.max().item()).toBe(9);
    expect(x.min().item()).toBe(1);
    expect(x.prod().item()).toBe(3 * 1 * 2 * 9 * 7 * 8);
    expectClose(x.norm(), [Math.sqrt(9 + 1 + 4 + 81 + 49 + 64)]);
    expectClose(x.logsumexp(1), [
      Math.log(Math.exp(3) + Math.exp(1) + Math.exp(2)),
      Math.log(Math.exp(9) + Math.exp(7) + Math.exp(8)),
    ]);
    expectClose(x.var(1), [1, 1]);
  });

  it('return values with indices', () => {
    const { values, indices } = x.max(1);
    expect(values.toArray()).toEqual([3, 9]);
    expect(indices.toArray()).toEqual([0, 0]);
    expect(x.min(1).indices.toArray()).toEqual([1, 1]);
    expect(x.argmax().item()).toBe(3);
    expect(x.argmin(1).toArray()).toEqual([1, 1]);
    const top = x.topk(2, { dim: 1 });
    expect(top.values.tolist()).toEqual([
      [3, 2],
      [9, 8],
    ]);
    expect(top.indices.tolist()).toEqual([
      [0, 2],
      [0, 2],
    ]);
    const smallest = x.topk(1, { dim: 1, largest: false });
    expect(smallest.values.toArray()).toEqual([1, 7]);
    const sorted = x.sort({ dim: 1, descending: true });
    expect(sorted.values.tolist()).toEqual([
      [3, 2, 1],
      [9, 8, 7],
    ]);
    expect(x.argsort({ dim: 1 }).tolist()).toEqual([
      [1, 2, 0],
      [1, 2, 0],
    ]);
  });

  it('rejects a k larger than the dimension', () => {
    expect(() => x.topk(4, { dim: 1 })).toThrow(/k must be an integer in \[0, 3\]/);
  });
});

describe('Tensor shape operations', () => {
  const x = arange(6).reshape(2, 3);

  it('reshape, permute, transpose, flatten, squeeze', () => {
    expect(x.view(3, 2).tolist()).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(x.reshape(-1).shape).toEqual([6]);
    expect(x.t().tolist()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(x.unsqueeze(0).permute(2, 0, 1).shape).toEqual([3, 1, 2]);
    expect(x.unsqueeze(1).squeeze(1).shape).toEqual([2, 3]);
    expect(x.reshape([1, 2, 3]).flatten(1).shape).toEqual([1, 6]);
    expect(x.expand(2, 2, 3).shape).toEqual([2, 2, 3]);
    expect(x.repeat(1, 2).tolist()).toEqual([
      [0, 1, 2, 0, 1, 2],
      [3, 4, 5, 3, 4, 5],
    ]);
  });

  it('joins, slices and indexes', () => {
    expect(cat([x, x], 0).shape).toEqual([4, 3]);
    expect(stack([x, x], 2).shape).toEqual([2, 3, 2]);
    expect(x.slice(1, 1).tolist()).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(x.slice(1, null, null, 2).tolist()).toEqual([
      [0, 2],
      [3, 5],
    ]);
    expect(x.select(0, 1).toArray()).toEqual([3, 4, 5]);
    expect(x.narrow(1, 1, 1).toArray()).toEqual([1, 4]);
    expect(x.indexSelect(1, tensor([2, 0])).tolist()).toEqual([
      [2, 0],
      [5, 3],
    ]);
    expect(x.gather(1, tensor([[2], [1]])).toArray()).toEqual([2, 4]);
    expect(x.index([tensor([0, 1]), tensor([2, 0])]).toArray()).toEqual([2, 3]);
    expect(x.maskedSelect(x.gt(3)).toArray()).toEqual([4, 5]);
    expect(x.flip(1).tolist()).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
    expect(x.split(2, 1).map((t) => t.shape[1])).toEqual([2, 1]);
    expect(x.chunk(3, 1).length).toBe(3);
    expect(x.tril().tolist()).toEqual([
      [0, 0, 0],
      [3, 4, 0],
    ]);
    expect(x.indexPut([tensor([1]), tensor([1])], tensor([40])).tolist()).toEqual([
      [0, 1, 2],
      [3, 40, 5],
    ]);
    expect(
      zeros([3])
        .scatterAdd(0, tensor([0, 0, 2]), ones([3]))
        .toArray(),
    ).toEqual([2, 0, 1]);
    expect(
      tensor([
        [1, 2],
        [3, 4],
      ])
        .rot90()
        .tolist(),
    ).toEqual([
      [2, 4],
      [1, 3],
    ]);
  });

  it('explains an impossible reshape', () => {
    expect(() => x.reshape(4, 2)).toThrow(/shape \[4, 2\] is invalid for a tensor of 6 elements/);
  });
});

describe('Tensor linear algebra', () => {
  it('multiplies matrices and batches', () => {
    const a = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float32' },
    );
    expect(a.matmul(a).tolist()).toEqual([
      [7, 10],
      [15, 22],
    ]);
    expect(a.matmul(tensor([1, 1], { dtype: 'float32' })).toArray()).toEqual([3, 7]);
    expect(stack([a, a]).bmm(stack([a, a])).shape).toEqual([2, 2, 2]);
    expect(
      tensor([1, 2], { dtype: 'float32' })
        .dot(tensor([3, 4], { dtype: 'float32' }))
        .item(),
    ).toBe(11);
  });

  it('cdist matches a naive loop', () => {
    manualSeed(0);
    const p = randn([5, 3], { dtype: 'float64' });
    const q = randn([4, 3], { dtype: 'float64' });
    const P = p.tolist() as number[][];
    const Q = q.tolist() as number[][];
    const naive = P.flatMap((u) => Q.map((v) => Math.hypot(...u.map((x, i) => x - v[i]!))));
    expectClose(p.cdist(q), naive, { atol: 1e-10 });
    const l1 = P.flatMap((u) => Q.map((v) => u.reduce((s, x, i) => s + Math.abs(x - v[i]!), 0)));
    expectClose(p.cdist(q, 1), l1, { atol: 1e-10 });
  });

  it('cdist names the mismatch and the next op still works', () => {
    expect(() => zeros([3, 4]).cdist(zeros([5, 3]))).toThrow(
      'cdist(): x2 must be [m, 4] to match x1 [3, 4]; got [5, 3]',
    );
    expect(() => tensor([[1]]).cdist(tensor([[1]]))).toThrow(/floating-point/);
    expect(ones([2]).sum().item()).toBe(2);
  });
});

describe('native errors', () => {
  it('reach JavaScript as TorchError with libtorch’s message, never a crash', () => {
    const a = zeros([2, 3]);
    const b = zeros([4, 5]);
    let caught: unknown;
    try {
      a.mm(b);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TorchError);
    expect((caught as TorchError).code).toBe('ERR_TORCH');
    expect((caught as Error).message).toMatch(/^mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
    expect(() => zeros([2]).add(zeros([3]))).toThrow(/add: The size of tensor a \(2\) must match/);
    expect(() =>
      tensor([1, 2])
        .sqrt()
        .add_(zeros([2], { dtype: 'float64' }).add(0.5).long()),
    ).not.toThrow();
    expect(() => zeros([2], { dtype: 'int64' }).add_(zeros([2]).add(0.5))).toThrow(TorchError);
    expect(a.add(1).sum().item()).toBe(6);
  });

  it('refuses a disposed tensor with a coded error', () => {
    const t = ones([2]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.add(1)).toThrow(TwinshotError);
    expect(() => t.add(1)).toThrow(/disposed/);
    t.dispose(); // twice is fine
  });

  it('rejects wrong argument types before reaching libtorch', () => {
    expect(() => ones([2]).add('x' as unknown as number)).toThrow(
      /add\(\): other must be a Tensor or a number; got "x"/,
    );
    expect(() => zeros([-1])).toThrow(/shape must be an array of integers >= 0/);
    expect(() => zeros([2], { dtype: 'float128' as never })).toThrow(/unknown dtype "float128"; use one of/);
  });
});
