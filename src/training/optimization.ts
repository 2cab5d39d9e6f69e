// Optimisers and schedules from the config: Adam/AdamW with warm-up and cosine or step decay, or
// Koch et al.'s SGD (section 3.3): per-layer learning rate eta_j decayed 1% per epoch, momentum
// rising linearly from 0.5 to each layer's mu_j, and L2 lambda_j as weight decay 2 * lambda_j.
import { TwinshotError } from '../errors.js';
import { Conv2d, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import { LambdaLR, warmupCosine, warmupStep } from '../optim/lr-scheduler.js';
import type { Optimizer } from '../optim/optimizer.js';
import { SGD, type SGDOptions } from '../optim/sgd.js';
import type { Tensor } from '../engine/tensor.js';
import type { TrainConfig } from './config.js';

export interface Optimization {
  optimizer: Optimizer<{ lr: number }>;
  /** Called after every optimizer step with the number of steps done. */
  afterStep(step: number): void;
  /** Sets every hyper-parameter as it should be after `step` steps (for resuming). */
  seek(step: number): void;
}

/** The "layers" of a model for per-layer settings: each Conv2d or Linear with its parameters, in order. */
export function layerGroups(model: Module): { name: string; params: Tensor[] }[] {
  const groups: { name: string; params: Tensor[] }[] = [];
  const claimed = new Set<Tensor>();
  for (const [name, module] of model.namedModules()) {
    if (module instanceof Conv2d || module instanceof Linear) {
      const params = module.parameters();
      params.forEach((p) => claimed.add(p));
      groups.push({ name, params });
    }
  }
  const rest = model.parameters().filter((p) => !claimed.has(p));
  if (rest.length > 0) groups.push({ name: '(other)', params: rest });
  return groups;
}

export function buildOptimization(config: TrainConfig, model: Module): Optimization {
  const o = config.optimizer;
  if (o.kind === 'koch-sgd') return kochSgd(config, model);
  const optimizer =
    o.kind === 'adamw'
      ? new AdamW(model, { lr: o.lr, weightDecay: o.weightDecay })
      : new Adam(model, { lr: o.lr, weightDecay: o.weightDecay });
  const total = config.training.steps;
  const s = o.schedule;
  const scheduler: LambdaLR =
    s.kind === 'cosine'
      ? warmupCosine(optimizer, {
          warmupSteps: s.warmupSteps,
          totalSteps: Math.max(total, s.warmupSteps + 1),
          minFactor: s.minFactor,
        })
      : s.kind === 'step'
        ? warmupStep(optimizer, {
            warmupSteps: s.warmupSteps,
            stepSize: s.stepSize ?? Math.max(1, Math.floor(total / 3)),
            gamma: s.gamma ?? 0.1,
          })
        : new LambdaLR(optimizer, (step) => (step < s.warmupSteps ? (step + 1) / s.warmupSteps : 1));
  return {
    optimizer,
    afterStep: () => scheduler.step(),
    seek: (step) => scheduler.setStep(step),
  };
}

function kochSgd(config: TrainConfig, model: Module): Optimization {
  const o = config.optimizer;
  if (o.kind !== 'koch-sgd') throw new Error('unreachable');
  const layers = layerGroups(model);
  const perLayer = (values: readonly number[], what: string): number[] => {
    if (values.length === 1) return layers.map(() => values[0]!);
    if (values.length !== layers.length) {
      throw new TwinshotError(
        'ERR_CONFIG',
        `optimizer.${what} lists ${values.length} values; the model has ${layers.length} layers (${layers.map((l) => l.name).join(', ')}): give one per layer or a single value`,
      );
    }
    return [...values];
  };
  const lr = perLayer(o.lr, 'lr');
  const momentum = perLayer(o.momentum, 'momentum');
  const l2 = perLayer(o.l2, 'l2');
  const groups = layers.map((layer, j) => ({
    params: layer.params,
    lr: lr[j]!,
    momentum: Math.min(o.momentumStart, momentum[j]!),
    weightDecay: 2 * l2[j]!, // d/dw lambda ||w||^2 = 2 lambda w
  }));
  const optimizer = new SGD(groups as (Partial<SGDOptions> & { params: Tensor[] })[], { lr: lr[0]! });
  const epochSteps = config.training.epochSteps;
  const seek = (step: number): void => {
    const epoch = Math.floor(step / epochSteps);
    optimizer.paramGroups.forEach((group, j) => {
      group.lr = lr[j]! * o.lrDecay ** epoch;
      const progress = Math.min(1, epoch / o.momentumEpochs);
      group.momentum = o.momentumStart + (momentum[j]! - o.momentumStart) * progress;
    });
  };
  seek(0);
  return { optimizer, afterStep: seek, seek };
}
