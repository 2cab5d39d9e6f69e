// An exponential moving average of a model's weights (Polyak averaging, as timm's ModelEmaV2 keeps
// it): after every optimiser step, average <- decay * average + (1 - decay) * weights. The
// average is validated and exported in place of the raw weights; it smooths out the noise of the
// last steps. Floating-point buffers (batch-norm statistics) are averaged too, as timm does by
// default: statistics copied from the live weights do not fit the averaged ones (on Omniglot that
// cost a point of validation accuracy; see docs/results.md). Integer buffers are copied.
import { noGrad } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import type { Module } from '../nn/module.js';

export class WeightAverage<M extends Module> {
  readonly #averaged: [average: Tensor, live: Tensor][];
  readonly #copied: [average: Tensor, live: Tensor][];
  #updates = 0;

  /**
   * @param average a second model of the same architecture, on the same device; it is
   *   overwritten with `live`'s weights now and follows them from here on
   * @param decay how much of the average each update keeps, in [0, 1)
   */
  constructor(
    readonly average: M,
    live: M,
    readonly decay: number,
  ) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`weight average: decay must be in [0, 1); got ${decay}`);
    average.loadStateDict(live.stateDict());
    average.eval();
    const ours = [...average.parameters(), ...average.buffers()];
    const pairs = [...live.parameters(), ...live.buffers()].map((t, i): [Tensor, Tensor] => [ours[i]!, t]);
    this.#averaged = pairs.filter(([, t]) => t.isFloating);
    this.#copied = pairs.filter(([, t]) => !t.isFloating);
  }

  /** Moves the average towards the live weights; call after each optimiser step. */
  update(): void {
    this.#updates++;
    // Early on the average would be dominated by the random start: warm the decay up as
    // TensorFlow's ExponentialMovingAverage does with num_updates.
    const decay = Math.min(this.decay, (1 + this.#updates) / (10 + this.#updates));
    noGrad(() => {
      for (const [average, live] of this.#averaged) average.mul_(decay).add_(live, 1 - decay);
      for (const [average, live] of this.#copied) average.copy_(live);
    });
  }

  /** Updates made so far (kept in checkpoints, so a resumed run warms up the same way). */
  get updates(): number {
    return this.#updates;
  }
  set updates(count: number) {
    this.#updates = count;
  }
}
