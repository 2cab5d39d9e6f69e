// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019: decoupled weight decay).
import { wrap, type Tensor } from '../engine/tensor.js';
import { ops, type Handle } from '../engine/native.js';
import { keep } from '../engine/scope.js';
import { Optimizer, positive, type OptimizerState, type ParamsInput } from './optimizer.js';
import { ArgumentError } from '../errors.js';

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

export class Adam extends Optimizer<AdamOptions> {
  #expAvg: (Tensor | null)[];
  #expAvgSq: (Tensor | null)[];
  #steps: number[];
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options });
    const n = [...this.entries()].length;
    this.#expAvg = new Array(n).fill(null);
    this.#expAvgSq = new Array(n).fill(null);
    this.#steps = new Array(n).fill(0);
  }

  protected validate(group: AdamOptions): void {
    positive('learning rate', group.lr);
    positive('epsilon value', group.eps);
    positive('weight_decay value', group.weightDecay);
    const [b1, b2] = group.betas;
    if (!(b1 >= 0 && b1 < 1)) throw new ArgumentError(`Invalid beta parameter at index 0: ${b1}`);
    if (!(b2 >= 0 && b2 < 1)) throw new ArgumentError(`Invalid beta parameter at index 1: ${b2}`);
  }

  step(): void {
    const entries = [...this.entries()];
    const hyper = new Float64Array(entries.length * 7);
    entries.forEach(({ param, group }, i) => {
      const grad = param.grad; // PyTorch counts steps per parameter that had a gradient
      if (grad !== null) {
        this.#steps[i]! += 1;
        grad.dispose();
      }
      hyper.set(
        [
          group.lr,
          group.betas[0],
          group.betas[1],
          group.eps,
          group.weightDecay,
          this.decoupled ? 1 : 0,
          this.#steps[i]!,
        ],
        i * 7,
      );
    });
    const moments = ops.adamStep(
      entries.map((e) => e.param.handle),
      this.#expAvg.map((t) => t?.handle ?? null),
      this.#expAvgSq.map((t) => t?.handle ?? null),
      hyper,
    ) as (Handle | null)[];
    const n = entries.length;
    for (let i = 0; i < n; i++) {
      if (this.#expAvg[i] === null && moments[i] !== null) this.#expAvg[i] = keep(wrap(moments[i]!));
      if (this.#expAvgSq[i] === null && moments[n + i] !== null) this.#expAvgSq[i] = keep(wrap(moments[n + i]!));
    }
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    this.#expAvg.forEach((t, i) => t && tensors.set(`state.${i}.exp_avg`, t));
    this.#expAvgSq.forEach((t, i) => t && tensors.set(`state.${i}.exp_avg_sq`, t));
    const kind = this.constructor.name;
    const groups = this.paramGroups.map((g) => ({
      lr: g.lr,
      beta1: g.betas[0],
      beta2: g.betas[1],
      eps: g.eps,
      weightDecay: g.weightDecay,
      initialLr: g.initialLr,
    }));
    return { tensors, meta: { kind, groups, steps: [...this.#steps] } };
  }

  loadStateDict(state: OptimizerState): void {
    const kind = this.constructor.name;
    if (state.meta.kind !== kind || state.meta.groups.length !== this.paramGroups.length) {
      this.restoreGroups(state.meta, kind); // throws the mismatch error
    }
    state.meta.groups.forEach((g, i) => {
      const group = this.paramGroups[i]!;
      Object.assign(group, {
        lr: g.lr,
        betas: [g.beta1, g.beta2],
        eps: g.eps,
        weightDecay: g.weightDecay,
        initialLr: g.initialLr,
      });
    });
    this.#steps = [...(state.meta.steps as number[])];
    const restore = (name: string, i: number): Tensor | null => {
      const saved = state.tensors.get(`state.${i}.${name}`);
      return saved === undefined ? null : keep(saved.clone());
    };
    this.#expAvg = this.#expAvg.map((_, i) => restore('exp_avg', i));
    this.#expAvgSq = this.#expAvgSq.map((_, i) => restore('exp_avg_sq', i));
  }
}

/** Adam with decoupled weight decay: p *= 1 - lr * weightDecay before the Adam update. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
