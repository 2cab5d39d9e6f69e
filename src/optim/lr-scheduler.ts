// Learning-rate schedules: each sets every group's lr from its initial lr and a step count.
import { ArgumentError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

/** Multiplies each group's initial lr by factor(step); call step() once per epoch or iteration. */
export class LambdaLR {
  #step = 0;

  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    readonly factor: (step: number) => number,
  ) {
    this.apply();
  }

  get lastStep(): number {
    return this.#step;
  }

  step(): void {
    this.#step += 1;
    this.apply();
  }

  /** Jumps to a step (used when resuming a run). */
  setStep(step: number): void {
    this.#step = step;
    this.apply();
  }

  currentLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  private apply(): void {
    const f = this.factor(this.#step);
    for (const group of this.optimizer.paramGroups) group.lr = group.initialLr * f;
  }
}

/** lr x gamma every stepSize steps. */
export function stepLR(optimizer: Optimizer<{ lr: number }>, stepSize: number, gamma = 0.1): LambdaLR {
  if (!(stepSize > 0)) throw new ArgumentError(`stepLR: stepSize must be > 0; got ${stepSize}`);
  return new LambdaLR(optimizer, (s) => gamma ** Math.floor(s / stepSize));
}

/** lr x gamma^step (Koch et al.: gamma = 0.99 per epoch). */
export function exponentialLR(optimizer: Optimizer<{ lr: number }>, gamma: number): LambdaLR {
  return new LambdaLR(optimizer, (s) => gamma ** s);
}

/** Cosine decay from the initial lr to minFactor x lr over totalSteps, after a linear warm-up. */
export function warmupCosine(
  optimizer: Optimizer<{ lr: number }>,
  options: { warmupSteps?: number; totalSteps: number; minFactor?: number },
): LambdaLR {
  const warmup = options.warmupSteps ?? 0;
  const minFactor = options.minFactor ?? 0;
  if (!(options.totalSteps > warmup))
    throw new ArgumentError(`warmupCosine: totalSteps (${options.totalSteps}) must exceed warmupSteps (${warmup})`);
  return new LambdaLR(optimizer, (s) => {
    if (s < warmup) return (s + 1) / warmup;
    const progress = Math.min(1, (s - warmup) / (options.totalSteps - warmup));
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
  });
}

/** Linear warm-up, then lr x gamma every stepSize steps. */
export function warmupStep(
  optimizer: Optimizer<{ lr: number }>,
  options: { warmupSteps?: number; stepSize: number; gamma?: number },
): LambdaLR {
  const warmup = options.warmupSteps ?? 0;
  return new LambdaLR(optimizer, (s) =>
    s < warmup ? (s + 1) / warmup : (options.gamma ?? 0.1) ** Math.floor((s - warmup) / options.stepSize),
  );
}
