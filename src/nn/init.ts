// Weight initialisation in place, without recording autograd history (torch.nn.init).
import { noGrad } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import { ShapeError } from '../errors.js';

/** fan_in and fan_out of a weight [out, in, ...kernel], as PyTorch computes them. */
export function fans(weight: Tensor): { fanIn: number; fanOut: number } {
  if (weight.ndim < 2)
    throw new ShapeError(`init: fan in/out need a tensor with at least 2 dimensions; got [${weight.shape.join(', ')}]`);
  const receptive = weight.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: weight.shape[1]! * receptive, fanOut: weight.shape[0]! * receptive };
}

export function uniform_(t: Tensor, low = 0, high = 1): Tensor {
  return noGrad(() => t.uniform_(low, high));
}

export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => t.normal_(mean, std));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** He et al. uniform init; `a` is the leaky-ReLU slope (PyTorch's Linear/Conv default uses a = sqrt(5)). */
export function kaimingUniform_(t: Tensor, options: { a?: number; mode?: 'fanIn' | 'fanOut' } = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const gain = Math.sqrt(2 / (1 + (options.a ?? 0) ** 2));
  const bound = gain * Math.sqrt(3 / (options.mode === 'fanOut' ? fanOut : fanIn));
  return uniform_(t, -bound, bound);
}

export function kaimingNormal_(t: Tensor, options: { a?: number; mode?: 'fanIn' | 'fanOut' } = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const gain = Math.sqrt(2 / (1 + (options.a ?? 0) ** 2));
  return normal_(t, 0, gain / Math.sqrt(options.mode === 'fanOut' ? fanOut : fanIn));
}

export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}
