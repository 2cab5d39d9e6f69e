// Module: parameters, buffers and submodules registered explicitly under PyTorch's dotted
// names, so one state dict (and one safetensors file) loads in both.
import { noGrad } from '../engine/autograd.js';
import { ops } from '../engine/native.js';
import { keep } from '../engine/scope.js';
import { Tensor, type Device } from '../engine/tensor.js';
import { isDType, type DType } from '../engine/dtype.js';
import { ArgumentError, ShapeError, TwinshotError } from '../errors.js';

export type StateDict = Map<string, Tensor>;

export abstract class Module {
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #modules = new Map<string, Module>();
  #isTraining = true;

  /** Registers a learnable tensor; it requires grad and survives every tidy() scope. */
  protected registerParameter(name: string, value: Tensor): Tensor {
    this.checkName(name);
    keep(value);
    if (!value.requiresGrad) value.requiresGrad_(true);
    this.#parameters.set(name, value);
    return value;
  }

  /** Registers state that is saved but not learned (running statistics). */
  protected registerBuffer(name: string, value: Tensor): Tensor {
    this.checkName(name);
    this.#buffers.set(name, keep(value));
    return value;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.#modules.set(name, module);
    return module;
  }

  private checkName(name: string): void {
    if (name === '' || name.includes('.'))
      throw new ArgumentError(`module part names must be non-empty and dot-free; got '${name}'`);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new ArgumentError(`'${name}' is already registered on ${this.constructor.name}`);
    }
  }

  get isTraining(): boolean {
    return this.#isTraining;
  }

  /** Sets training mode here and in every submodule (dropout, batch-norm statistics). */
  train(mode = true): this {
    this.#isTraining = mode;
    for (const child of this.#modules.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.#modules.entries();
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.#modules) yield* child.namedModules(prefix === '' ? name : `${prefix}.${name}`);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, p] of module.#parameters) yield [path === '' ? name : `${path}.${name}`, p];
    }
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, b] of module.#buffers) yield [path === '' ? name : `${path}.${name}`, b];
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /**
   * Fields that hold a module or a tensor that was never registered (`this.fc = new Linear(...)`
   * without `registerModule`), as dotted paths with their class: their parameters are invisible
   * to optimizers, state dicts and `to()`. Arrays of modules are looked into.
   * @example net.unregisteredFields() // ['fc (Linear)']
   */
  unregisteredFields(): string[] {
    const registered = new Set<unknown>([...this.namedModules()].map(([, m]) => m));
    for (const t of [...this.parameters(), ...this.buffers()]) registered.add(t);
    const found: string[] = [];
    for (const [path, module] of this.namedModules()) {
      for (const [key, value] of Object.entries(module)) {
        const items = Array.isArray(value)
          ? value.map((v, i) => [`${key}[${i}]`, v] as const)
          : [[key, value] as const];
        for (const [name, item] of items) {
          if ((item instanceof Module || item instanceof Tensor) && !registered.has(item)) {
            found.push(`${path === '' ? '' : `${path}.`}${name} (${item.constructor.name})`);
          }
        }
      }
    }
    return found;
  }

  /** Number of learnable scalars. */
  numParameters(): number {
    return this.parameters().reduce((total, p) => total + p.numel(), 0);
  }

  /** Parameters and buffers by dotted name. The tensors are the module's own: do not dispose them. */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into the module's tensors (shapes must match; dtypes are converted).
   * @throws ShapeError on a shape mismatch; TwinshotError ERR_MODEL on missing or unexpected keys when strict
   */
  loadStateDict(state: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): void {
    const source = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !source.has(k));
    const unexpected = [...source.keys()].filter((k) => !own.has(k));
    if ((options.strict ?? true) && (missing.length > 0 || unexpected.length > 0)) {
      const parts = [];
      if (missing.length > 0) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new TwinshotError(
        'ERR_MODEL',
        `loadStateDict(): the state does not match ${this.constructor.name} (${parts.join('; ')})`,
      );
    }
    noGrad(() => {
      for (const [name, target] of own) {
        const value = source.get(name);
        if (value === undefined) continue;
        if (value.shape.join() !== target.shape.join()) {
          throw new ShapeError(
            `loadStateDict(): '${name}' has shape [${value.shape.join(', ')}]; the module expects [${target.shape.join(', ')}]`,
          );
        }
        target.copy_(value);
      }
    });
  }

  /** Moves (or converts) every parameter and buffer in place, keeping tensor identity for optimisers. */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const { device, dtype } =
      typeof target === 'string' ? (isDType(target) ? { dtype: target } : { device: target }) : target;
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        // dtype changes apply to floating tensors only (batch norm's step counter stays int64)
        const moved = t.to({ device, dtype: t.isFloating ? dtype : undefined });
        t.setData(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /** Zeroes the gradients of every parameter in place (PyTorch 1.13's default); `setToNone` drops them. */
  zeroGrad(setToNone = false): void {
    ops.zeroGrad(
      this.parameters().map((p) => p.handle),
      setToNone,
    );
  }

  abstract forward(...inputs: Tensor[]): Tensor;
}

/** Parameters of a module or a plain list, as an array. */
export function parametersOf(source: Module | readonly Tensor[]): Tensor[] {
  return source instanceof Module ? source.parameters() : [...source];
}
