// Finite-difference gradient checks, in float64, for every differentiable op the engine exposes.
import { describe, expect, it } from 'vitest';
import { cat, manualSeed, noGrad, randn, stack, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import * as F from '../../src/nn/functional.js';

/** Compares autograd's gradient of sum(w * fn(inputs)) with central differences. */
function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  shapes: number[][],
  options: { positive?: boolean; awayFromZero?: boolean; eps?: number } = {},
): void {
  tidy(() => {
    const eps = options.eps ?? 1e-6;
    const values = shapes.map((shape) => {
      let v = randn(shape, { dtype: 'float64' });
      if (options.positive) v = v.abs().add(0.5);
      if (options.awayFromZero) v = v.add(v.sign().mul(0.2));
      return v.toArray();
    });
    const make = (vals: number[][], requiresGrad: boolean) =>
      vals.map((v, i) => tensor(Float64Array.from(v), { shape: shapes[i], requiresGrad }));
    const inputs = make(values, true);
    const out = fn(...inputs);
    const weights = randn(out.shape as number[], { dtype: 'float64' });
    out.mul(weights).sum().backward();
    const objective = (vals: number[][]): number =>
      noGrad(() =>
        fn(...make(vals, false))
          .mul(weights)
          .sum()
          .item(),
      );
    inputs.forEach((input, k) => {
      const analytic = input.grad!.toArray();
      values[k]!.forEach((x, j) => {
        const plus = values.map((v) => [...v]);
        const minus = values.map((v) => [...v]);
        plus[k]![j] = x + eps;
        minus[k]![j] = x - eps;
        const numeric = (objective(plus) - objective(minus)) / (2 * eps);
        const tolerance = 1e-5 + 1e-4 * Math.abs(numeric);
        if (!(Math.abs(numeric - analytic[j]!) <= tolerance)) {
          expect.fail(`input ${k} element ${j}: autograd ${analytic[j]} vs finite difference ${numeric}`);
        }
      });
    });
  });
}

describe('autograd gradients match finite differences', () => {
  manualSeed(7);
  const cases: [string, (...xs: Tensor[]) => Tensor, number[][], { positive?: boolean; awayFromZero?: boolean }?][] = [
    ['add', (a, b) => a.add(b, 2), [[3, 4], [4]]],
    [
      'sub',
      (a, b) => a.sub(b),
      [
        [3, 4],
        [3, 1],
      ],
    ],
    [
      'mul',
      (a, b) => a.mul(b),
      [
        [2, 3],
        [2, 3],
      ],
    ],
    [
      'div',
      (a, b) => a.div(b),
      [
        [2, 3],
        [2, 3],
      ],
      { awayFromZero: true },
    ],
    ['pow', (a) => a.pow(3), [[5]]],
    ['pow (tensor exponent)', (a, b) => a.pow(b), [[4], [4]], { positive: true }],
    ['neg/rsub', (a) => a.neg().rsub(2), [[4]]],
    ['abs', (a) => a.abs(), [[6]], { awayFromZero: true }],
    ['exp', (a) => a.exp(), [[5]]],
    ['log', (a) => a.log(), [[5]], { positive: true }],
    ['log1p', (a) => a.log1p(), [[5]], { positive: true }],
    ['sqrt', (a) => a.sqrt(), [[5]], { positive: true }],
    ['rsqrt', (a) => a.rsqrt(), [[5]], { positive: true }],
    ['reciprocal', (a) => a.reciprocal(), [[5]], { awayFromZero: true }],
    ['square', (a) => a.square(), [[5]]],
    ['sin/cos', (a) => a.sin().add(a.cos()), [[5]]],
    ['sigmoid', (a) => a.sigmoid(), [[6]]],
    ['tanh', (a) => a.tanh(), [[6]]],
    ['relu', (a) => a.relu(), [[6]], { awayFromZero: true }],
    ['softplus', (a) => a.softplus(2), [[6]]],
    ['leakyRelu', (a) => F.leakyRelu(a, 0.1), [[6]], { awayFromZero: true }],
    ['elu', (a) => F.elu(a), [[6]], { awayFromZero: true }],
    ['gelu', (a) => F.gelu(a), [[6]]],
    ['silu', (a) => F.silu(a), [[6]]],
    ['logSigmoid', (a) => F.logSigmoid(a), [[6]]],
    ['clamp', (a) => a.clamp(-0.5, 0.5), [[8]], { awayFromZero: true }],
    ['erf', (a) => a.erf(), [[5]]],
    ['maximum', (a, b) => a.maximum(b), [[6], [6]]],
    ['addcmul', (a, b, c) => a.addcmul(b, c, 0.5), [[3], [3], [3]]],
    ['lerp', (a, b) => a.lerp(b, 0.3), [[3], [3]]],
    ['sum', (a) => a.sum(1, true), [[3, 4]]],
    ['mean', (a) => a.mean([0, 1]), [[3, 4]]],
    ['std', (a) => a.std(1), [[3, 4]]],
    ['var', (a) => a.var(0, { unbiased: false }), [[3, 4]]],
    ['norm', (a) => a.norm(2, 1), [[3, 4]]],
    ['logsumexp', (a) => a.logsumexp(1), [[3, 4]]],
    ['max (dim)', (a) => a.max(1).values, [[3, 4]]],
    ['amax', (a) => a.amax(0), [[3, 4]]],
    ['topk', (a) => a.topk(2, { dim: 1 }).values, [[3, 4]]],
    ['sort', (a) => a.sort({ dim: 1 }).values, [[3, 4]]],
    ['cumsum', (a) => a.cumsum(1), [[2, 4]]],
    ['prod', (a) => a.prod(), [[4]], { awayFromZero: true }],
    [
      'matmul',
      (a, b) => a.matmul(b),
      [
        [3, 4],
        [4, 2],
      ],
    ],
    [
      'bmm',
      (a, b) => a.bmm(b),
      [
        [2, 3, 4],
        [2, 4, 2],
      ],
    ],
    ['dot/outer', (a, b) => a.outer(b).add(a.dot(b)), [[3], [3]]],
    [
      'cdist',
      (a, b) => a.cdist(b),
      [
        [4, 3],
        [5, 3],
      ],
    ],
    ['reshape/permute/transpose', (a) => a.reshape(2, 3, 2).permute(2, 0, 1).transpose(0, 2).mul(a.sum()), [[3, 4]]],
    ['expand/repeat', (a) => a.expand(3, 4).add(a.repeat(3, 1)), [[1, 4]]],
    [
      'cat/stack',
      (a, b) => cat([a, b], 0).mul(stack([a, b], 1).sum()),
      [
        [2, 3],
        [2, 3],
      ],
    ],
    [
      'slice/narrow/select',
      (a) =>
        a
          .slice(1, 1, 3)
          .add(a.narrow(1, 0, 2))
          .mul(a.select(0, 1).sum()),
      [[3, 4]],
    ],
    [
      'indexSelect/gather',
      (a) =>
        a.indexSelect(0, tensor([2, 0])).add(
          a
            .gather(
              1,
              tensor([
                [1, 0, 1, 0],
                [2, 2, 2, 2],
                [0, 0, 0, 0],
              ]),
            )
            .narrow(0, 0, 2),
        ),
      [[3, 4]],
    ],
    ['index', (a) => a.index([tensor([0, 2]), tensor([1, 3])]), [[3, 4]]],
    ['maskedFill/where', (a) => a.maskedFill(a.gt(0), 0).add(a.mul(a.lt(0).double())), [[6]], { awayFromZero: true }],
    ['flip/roll', (a) => a.flip(0).add(a.roll(1, 0)), [[5]]],
    ['tril/diagonal', (a) => a.tril().add(a.diagonal().sum()), [[3, 3]]],
    ['linear', (x, w, b) => F.linear(x, w, b), [[2, 3], [4, 3], [4]]],
    ['conv2d', (x, w, b) => F.conv2d(x, w, b, { padding: 1, stride: 2 }), [[1, 2, 5, 5], [3, 2, 3, 3], [3]]],
    [
      'conv2d (groups, dilation)',
      (x, w) => F.conv2d(x, w, null, { groups: 2, dilation: 2 }),
      [
        [1, 4, 6, 6],
        [2, 2, 2, 2],
      ],
    ],
    ['maxPool2d', (x) => F.maxPool2d(x, 2), [[1, 2, 4, 4]]],
    ['avgPool2d', (x) => F.avgPool2d(x, 2, { stride: 1 }), [[1, 2, 4, 4]]],
    ['adaptiveAvgPool2d', (x) => F.adaptiveAvgPool2d(x, [2, 3]), [[1, 2, 5, 5]]],
    [
      'batchNorm (training)',
      (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
      [[4, 3, 2, 2], [3], [3]],
    ],
    ['layerNorm', (x, w, b) => F.layerNorm(x, [4], { weight: w, bias: b }), [[3, 4], [4], [4]]],
    ['softmax/logSoftmax', (x) => F.softmax(x, 1).add(F.logSoftmax(x, 1)), [[3, 4]]],
    ['normalize', (x) => F.normalize(x), [[3, 4]]],
    [
      'pairwiseDistance',
      (a, b) => F.pairwiseDistance(a, b),
      [
        [3, 4],
        [3, 4],
      ],
    ],
    [
      'cosineSimilarity',
      (a, b) => F.cosineSimilarity(a, b),
      [
        [3, 4],
        [3, 4],
      ],
    ],
    [
      'binaryCrossEntropy',
      (x) =>
        F.binaryCrossEntropy(
          x.sigmoid(),
          tensor(
            [
              [1, 0, 1],
              [0, 0, 1],
            ],
            { dtype: 'float64' },
          ),
        ),
      [[2, 3]],
    ],
    [
      'binaryCrossEntropyWithLogits',
      (x) =>
        F.binaryCrossEntropyWithLogits(
          x,
          tensor(
            [
              [1, 0, 1],
              [0, 0, 1],
            ],
            { dtype: 'float64' },
          ),
          { reduction: 'sum' },
        ),
      [[2, 3]],
    ],
    ['crossEntropy', (x) => F.crossEntropy(x, tensor([2, 0, 1]), { labelSmoothing: 0.1 }), [[3, 4]]],
    ['nllLoss', (x) => F.nllLoss(F.logSoftmax(x, 1), tensor([2, 0, 1])), [[3, 4]]],
    [
      'mseLoss',
      (a, b) => F.mseLoss(a, b),
      [
        [3, 4],
        [3, 4],
      ],
    ],
    [
      'marginRankingLoss',
      (a, b) => F.marginRankingLoss(a, b, tensor([1, -1, 1, -1], { dtype: 'float64' }), { margin: 0.1 }),
      [[4], [4]],
    ],
    [
      'hingeEmbeddingLoss',
      (a) => F.hingeEmbeddingLoss(a.abs(), tensor([1, -1, 1, -1], { dtype: 'float64' }), { margin: 2 }),
      [[4]],
      { awayFromZero: true },
    ],
    [
      'cosineEmbeddingLoss',
      (a, b) => F.cosineEmbeddingLoss(a, b, tensor([1, -1, 1], { dtype: 'float64' }), { margin: -1 }),
      [
        [3, 4],
        [3, 4],
      ],
    ],
    [
      'tripletMarginLoss',
      (a, p, n) => F.tripletMarginLoss(a, p, n, { margin: 5 }),
      [
        [3, 4],
        [3, 4],
        [3, 4],
      ],
    ],
    [
      'affineGrid + gridSample',
      (x, theta) =>
        F.gridSample(
          x,
          F.affineGrid(
            theta.mul(0.3).add(
              tensor(
                [
                  [
                    [1, 0, 0],
                    [0, 1, 0],
                  ],
                ],
                { dtype: 'float64' },
              ),
            ),
            [1, 1, 5, 5],
          ),
        ),
      [
        [1, 1, 5, 5],
        [1, 2, 3],
      ],
    ],
    ['interpolate (bilinear)', (x) => F.interpolate(x, { size: [3, 3], mode: 'bilinear' }), [[1, 1, 5, 5]]],
    [
      'interpolate (bilinear, antialias)',
      (x) => F.interpolate(x, { size: [2, 2], mode: 'bilinear', antialias: true }),
      [[1, 1, 6, 6]],
    ],
    ['pad', (x) => F.pad(x, [1, 2], 0.5), [[2, 3]]],
  ];

  for (const [name, fn, shapes, options] of cases) {
    it(name, () => gradcheck(fn, shapes, options));
  }

  it('detects a wrong gradient (the check can fail)', () => {
    expect(() => gradcheck((a) => a.mul(a.detach()), [[3]])).toThrow(/autograd .* vs finite difference/);
  });
});
