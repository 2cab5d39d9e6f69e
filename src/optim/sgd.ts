// Stochastic gradient descent with momentum, Nesterov momentum and weight decay (PyTorch's SGD).
import { wrap, type Tensor } from '../engine/tensor.js';
import { ops, type Handle } from '../engine/native.js';
import { keep } from '../engine/scope.js';
import { ArgumentError } from '../errors.js';
import { Optimizer, positive, type OptimizerState, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * SGD, optionally with momentum: buf = momentum * buf + (1 - dampening) * g; p -= lr * buf.
 * Parameter groups carry their own lr, momentum and weight decay (Koch et al.'s per-layer rates).
 * @example new SGD(model, { lr: 0.01, momentum: 0.9 })
 */
export class SGD extends Optimizer<SGDOptions> {
  #buffers: (Tensor | null)[] = [];

  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options });
    this.#buffers = [...this.entries()].map(() => null);
  }

  protected validate(group: SGDOptions): void {
    positive('learning rate', group.lr);
    positive('momentum value', group.momentum);
    positive('weight_decay value', group.weightDecay);
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
      throw new ArgumentError('Nesterov momentum requires a momentum and zero dampening');
    }
  }

  step(): void {
    const entries = [...this.entries()];
    const hyper = new Float64Array(entries.length * 5);
    entries.forEach(({ group }, i) => {
      hyper.set([group.lr, group.momentum, group.dampening, group.weightDecay, group.nesterov ? 1 : 0], i * 5);
    });
    const buffers = ops.sgdStep(
      entries.map((e) => e.param.handle),
      this.#buffers.map((b) => b?.handle ?? null),
      hyper,
    ) as (Handle | null)[];
    // Buffers are created on the first step with momentum; later steps update them in place.
    buffers.forEach((handle, i) => {
      if (handle !== null && this.#buffers[i] === null) this.#buffers[i] = keep(wrap(handle));
    });
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.#buffers.forEach((b, i) => {
      if (b !== null) tensors.set(`state.${i}.momentum_buffer`, b);
    });
    return {
      tensors,
      meta: { kind: 'SGD', groups: this.groupsMeta(['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov']) },
    };
  }

  loadStateDict(state: OptimizerState): void {
    this.restoreGroups(state.meta, 'SGD');
    this.#buffers = this.#buffers.map((_, i) => {
      const saved = state.tensors.get(`state.${i}.momentum_buffer`);
      return saved === undefined ? null : keep(saved.clone());
    });
  }
}
