import { describe, expect, it } from 'vitest';
import { autocast, manualSeed, noGrad, randn, tidy } from '../../src/engine/index.js';
import * as F from '../../src/nn/functional.js';
import { runTorch } from '../helpers/python.js';
import { needs, TORCH_PYTHON } from '../helpers/prerequisites.js';
import { expectClose } from '../helpers/assert.js';

describe('autocast (mixed precision)', () => {
  it('runs convolutions and matrix products in bfloat16 inside the region only', () =>
    tidy(() => {
      manualSeed(1);
      const x = randn([2, 3, 8, 8]);
      const w = randn([4, 3, 3, 3]);
      const inside = autocast(() => F.conv2d(x, w));
      expect(inside.dtype).toBe('bfloat16');
      expect(F.conv2d(x, w).dtype).toBe('float32');
      const a = randn([5, 7]);
      expect(autocast(() => a.matmul(a.t())).dtype).toBe('bfloat16');
      // Element-wise arithmetic keeps its input's type.
      expect(autocast(() => a.add(1)).dtype).toBe('float32');
    }));

  it('restores the previous mode after nesting and after an exception', () =>
    tidy(() => {
      const a = randn([3, 3]);
      autocast(() => {
        autocast(() => a.matmul(a));
        expect(a.matmul(a).dtype).toBe('bfloat16');
      });
      expect(() =>
        autocast(() => {
          throw new Error('inside');
        }),
      ).toThrow('inside');
      expect(a.matmul(a).dtype).toBe('float32');
      expect(() => autocast(() => Promise.resolve(1))).toThrow(/synchronous/);
      expect(a.matmul(a).dtype).toBe('float32');
    }));

  it('is close to float32 and sends float32 gradients to float32 weights', () =>
    tidy(() => {
      manualSeed(2);
      const x = randn([4, 3, 10, 10]);
      const w = randn([6, 3, 3, 3]).mul(0.3).requiresGrad_();
      const low = autocast(() => F.conv2d(x, w)).float();
      const full = F.conv2d(x, w);
      // bfloat16 keeps 8 significant bits: relative error of order 2^-8 per product.
      expectClose(low, full, { atol: 0.05, rtol: 0.02 });
      low.pow(2).sum().backward();
      expect(w.grad!.dtype).toBe('float32');
      const exact = w.grad!.clone();
      w.grad = null;
      full.pow(2).sum().backward();
      expectClose(exact, w.grad!, { atol: 0.5, rtol: 0.03 });
    }));

  it('uses fresh weights after an optimiser-style in-place update (no stale low-precision copy)', () =>
    tidy(() => {
      manualSeed(3);
      const x = randn([2, 8]);
      const w = randn([8, 8]).requiresGrad_();
      const before = autocast(() => F.linear(x, w)).float();
      noGrad(() => w.mul_(2));
      const after = autocast(() => F.linear(x, w)).float();
      expectClose(after, before.mul(2), { atol: 0.05, rtol: 0.02 });
    }));

  needs(TORCH_PYTHON).it('matches PyTorch autocast on CPU, forward and backward', () =>
    tidy(() => {
      manualSeed(4);
      const x = randn([2, 3, 12, 12]);
      const w = randn([5, 3, 3, 3]).mul(0.3);
      const b = randn([5]);
      const wOurs = w.clone().requiresGrad_();
      const y = autocast(() => F.conv2d(x, wOurs, b, { padding: 1 }));
      y.float().pow(2).sum().backward();
      const reference = runTorch(
        [
          "w = inputs['w'].clone().requires_grad_()",
          "with torch.autocast('cpu', dtype=torch.bfloat16):",
          "    y = F.conv2d(inputs['x'], w, inputs['b'], padding=1)",
          'y.float().pow(2).sum().backward()',
          "outputs['y'] = y.float()",
          "outputs['grad'] = w.grad",
        ].join('\n'),
        { x, w, b },
      );
      expectClose(y.float(), reference.y!, { atol: 1e-6, rtol: 1e-6 });
      expectClose(wOurs.grad!, reference.grad!, { atol: 1e-4, rtol: 1e-4 });
    }),
  );
});
