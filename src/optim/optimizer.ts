// Optimizer: parameter groups with their own hyper-parameters, and per-parameter state.
// Each step is one native call over every parameter (see native/src/ops/optim.cc).
import type { Tensor } from '../engine/tensor.js';
import { ops } from '../engine/native.js';
import { keep } from '../engine/scope.js';
import { ArgumentError, TwinshotError } from '../errors.js';
import { Module } from '../nn/module.js';

export type ParamGroup<H> = H & { params: Tensor[]; initialLr: number };
/** Parameters, or a module, or groups each with its own overrides: [{ params, lr: 0.01 }, ...]. */
export type ParamsInput<H> =
  Module | readonly Tensor[] | readonly (Partial<H> & { params: readonly Tensor[] | Module })[];

/** Saved optimiser state: tensors by name plus JSON-safe hyper-parameters. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  meta: { kind: string; groups: Record<string, number | boolean>[]; [key: string]: unknown };
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[];

  constructor(params: ParamsInput<H>, defaults: H) {
    type GroupInput = Partial<H> & { params: readonly Tensor[] | Module };
    const groups: GroupInput[] =
      params instanceof Module
        ? [{ params } as GroupInput]
        : params.length > 0 && isGroup(params[0])
          ? (params as readonly GroupInput[]).slice()
          : [{ params: params as readonly Tensor[] } as GroupInput];
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((group) => {
      const tensors = group.params instanceof Module ? group.params.parameters() : [...group.params];
      for (const t of tensors) {
        if (seen.has(t)) throw new ArgumentError('optimizer: a parameter appears in more than one group');
        seen.add(t);
        keep(t);
      }
      const merged = { ...defaults, ...group, params: tensors } as ParamGroup<H>;
      merged.initialLr = merged.lr;
      this.validate(merged);
      return merged;
    });
    if (seen.size === 0) throw new ArgumentError(`optimizer: got an empty parameter list${emptyHint(groups)}`);
  }

  protected abstract validate(group: H): void;

  /** Applies one update from the current gradients. */
  abstract step(): void;

  abstract stateDict(): OptimizerState;
  abstract loadStateDict(state: OptimizerState): void;

  /** Zeroes every parameter's gradient in place (PyTorch 1.13's default, no reallocation); `setToNone` drops them. */
  zeroGrad(setToNone = false): void {
    ops.zeroGrad(
      this.paramGroups.flatMap((g) => g.params.map((p) => p.handle)),
      setToNone,
    );
  }

  /** Every parameter with its group, in a stable order (used for state names). */
  protected *entries(): Generator<{ index: number; param: Tensor; group: ParamGroup<H> }> {
    let index = 0;
    for (const group of this.paramGroups) for (const param of group.params) yield { index: index++, param, group };
  }

  protected groupsMeta(keys: readonly (keyof H & string)[]): Record<string, number | boolean>[] {
    return this.paramGroups.map((g) =>
      Object.fromEntries([...keys, 'initialLr'].map((k) => [k, (g as Record<string, unknown>)[k] as number | boolean])),
    );
  }

  protected restoreGroups(meta: OptimizerState['meta'], kind: string): void {
    if (meta.kind !== kind || meta.groups.length !== this.paramGroups.length) {
      throw new TwinshotError(
        'ERR_FORMAT',
        `optimizer state is for ${meta.kind} with ${meta.groups.length} groups; this is ${kind} with ${this.paramGroups.length}`,
      );
    }
    meta.groups.forEach((saved, i) => Object.assign(this.paramGroups[i]!, saved));
  }
}

function isGroup(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'params' in value;
}

export function positive(name: string, value: number, allowZero = true): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ArgumentError(`Invalid ${name}: ${value} (must be ${allowZero ? '>= 0' : '> 0'})`);
  }
}

/** Why a module gave no parameters: usually layers assigned to fields without registerModule(). */
function emptyHint(groups: readonly { params: readonly Tensor[] | Module }[]): string {
  for (const { params } of groups) {
    if (!(params instanceof Module)) continue;
    const missed = params.unregisteredFields();
    const name = params.constructor.name;
    if (missed.length > 0) {
      return (
        `: ${name} has no registered parameters, but its fields ${missed.join(', ')} were never registered. ` +
        `Register each in the constructor, e.g. this.fc = this.registerModule('fc', new Linear(...)) ` +
        `(registerParameter for a tensor)`
      );
    }
    return `: ${name} has no parameters; register its layers with registerModule() and its weights with registerParameter()`;
  }
  return '';
}
