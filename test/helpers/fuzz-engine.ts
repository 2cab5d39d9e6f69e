// Throws garbage at every entry point of the engine: each op of the addon's table (sync and
// async), every function the engine and nn.functional export, and every Tensor method, getter
// and setter. Run as its own process (test/engine/robustness.test.ts) so that a crash shows as a
// signal and the last op named on stderr says where. Prints one JSON summary line on stdout.
import { native, ops, type Handle, type NativeArg } from '../../src/engine/native.js';
import { OP_NAMES } from '../../src/engine/op-names.js';
import * as engine from '../../src/engine/index.js';
import * as F from '../../src/nn/functional.js';
import { TwinshotError } from '../../src/errors.js';

const { Tensor, tidy, zeros, rand, tensor, arange } = engine;
type Tensor = engine.Tensor;

// A seeded generator (mulberry32), so a failure reproduces.
let seed = Number(process.env.FUZZ_SEED ?? 1);
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

// Numbers that are not exact integers, or outside every sensible range. No value here may be a
// size that allocates and touches gigabytes: sizes are tiny, negative or far beyond any memory.
const NUMBERS = [NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1, 2, 3, -(2 ** 31) - 1, 2 ** 40, 2 ** 53, 2 ** 63, 1e300];
const OTHERS: unknown[] = [
  undefined,
  null,
  true,
  false,
  '',
  'cpu',
  'cuda',
  'cuda:99',
  'cpu:-1',
  'meta',
  'bogus\u0000',
  {},
  [],
  [NaN],
  [Infinity],
  [-1],
  [0.5],
  [2 ** 40],
  [2 ** 62, 2 ** 62],
  [1, 2, 3],
  [null],
  [undefined, null],
  ['x'],
  [{}],
  [1, 'x'],
  Symbol('garbage'),
  10n,
  () => 1,
  new Float64Array([NaN, 2 ** 63]),
  new Float32Array(2),
  new Uint16Array(2),
  new ArrayBuffer(3),
  new DataView(new ArrayBuffer(4)),
  new Map(),
  Object.create(null),
];

// The values every argument position is tried with; random calls draw from everything above.
// libtorch builds a C++ backtrace for each error it raises (about a millisecond), so the
// position-by-position sweep keeps to one value of each kind.
const CORE: unknown[] = [
  NaN,
  -1,
  0.5,
  2 ** 40,
  2 ** 53,
  undefined,
  null,
  true,
  'cuda:99',
  {},
  [],
  [NaN],
  [-1],
  [2 ** 62, 2 ** 62],
  [null],
  Symbol('core'),
  10n,
  new Float64Array([NaN]),
];
// Which sample tensors the sweep uses: a float leaf, an int64 vector, a 0-d tensor, a disposed one.
const CORE_TENSORS = [0, 3, 5, 11];

// Fresh tensors of every kind the ops meet: each op gets its own, as some change them in place.
function sampleTensors(): Tensor[] {
  const leaf = rand([2, 3]).requiresGrad_(true);
  const disposed = zeros([2]);
  disposed.dispose();
  return [
    leaf,
    rand([2, 3]),
    rand([3]).double(),
    arange(3),
    tensor([true, false]),
    tensor(1.5),
    zeros([0, 3]),
    rand([2, 2]).to('bfloat16'),
    rand([3, 2]).transpose(0, 1),
    rand([1, 1, 4, 4]),
    rand([2, 3, 2, 3]),
    disposed,
  ];
}

interface Summary {
  calls: number;
  ok: number;
  codes: Record<string, number>;
  /** Errors that are not TwinshotErrors, by entry point: every one is a finding. */
  foreign: Record<string, { count: number; example: string }>;
  /** Seconds per section, to keep the test's duration in view. */
  seconds: Record<string, number>;
}
const summary: Summary = { calls: 0, ok: 0, codes: {}, foreign: {}, seconds: {} };

async function timed(section: string, fn: () => void | Promise<void>): Promise<void> {
  const start = performance.now();
  await fn();
  summary.seconds[section] = Math.round(performance.now() - start) / 1000;
}

function describeValue(value: unknown): string {
  if (typeof value === 'symbol' || typeof value === 'bigint' || typeof value === 'function') return String(value);
  if (value instanceof Tensor) return value.isDisposed ? 'disposed Tensor' : `Tensor[${value.shape.join(',')}]`;
  if (native.isHandle(value)) return 'handle';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function record(where: string, args: readonly unknown[], error: unknown): void {
  summary.calls++;
  if (error === undefined) {
    summary.ok++;
  } else if (error instanceof TwinshotError) {
    summary.codes[error.code] = (summary.codes[error.code] ?? 0) + 1;
  } else {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const entry = (summary.foreign[where] ??= { count: 0, example: '' });
    if (entry.count++ === 0) entry.example = `(${args.map(describeValue).join(', ')}) threw ${message}`;
  }
}

/** Disposes whatever tensors or handles a call returned. */
function release(value: unknown, depth = 0): void {
  if (depth > 3 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) value.dispose();
  else if (native.isHandle(value)) native.dispose(value);
  else if (Array.isArray(value)) for (const item of value) release(item, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const item of Object.values(value)) release(item, depth + 1);
}

// Some ops change process-wide settings when the fuzzer happens to give them valid arguments.
function restoreSettings(op: string, result: unknown): void {
  if (op === 'autocastEnter' && Array.isArray(result)) {
    ops.autocastExit('cpu', result[0] === 1, result[1] as number);
    ops.autocastExit('cuda', false, 5);
  }
  ops.setGradEnabled(true);
  ops.setNumThreads(1);
}

// ---- the addon's op table -----------------------------------------------------------------------

// No op takes more than 8 arguments; the mutations cover the first 6, random calls all 8.
const MAX_ARGS = 8;
// distInit joins a process group: given a world size above 1 it waits (up to its timeout, which
// the fuzzer may make 2^40 ms) for ranks that will never come. Hanging is its job, not a crash;
// test/distributed covers it with real ranks.
const BLOCKING_OPS = new Set(['distInit']);
const FUZZED_OPS = OP_NAMES.filter((op) => !BLOCKING_OPS.has(op));
const MUTATED_ARGS = 6;

function fuzzNativeOps(perOp: number): void {
  for (const op of FUZZED_OPS) {
    const started = performance.now();
    process.stderr.write(`op ${op}\n`);
    const tensors = sampleTensors();
    const handles = tensors.map((t) => (t.isDisposed ? disposedHandle : t.handle));
    const pool: unknown[] = [...NUMBERS, ...OTHERS, ...handles, [handles[0], handles[1]], [handles[0], null]];
    const core: unknown[] = [...CORE, ...CORE_TENSORS.map((i) => handles[i]), [handles[0], handles[1]]];
    const bases: unknown[][] = [
      Array.from({ length: MUTATED_ARGS }, (_, i) => (i === 0 ? handles[0] : 1)),
      Array.from({ length: MUTATED_ARGS }, (_, i) => (i === 0 ? handles[9] : i % 2 ? handles[1] : [1, 1])),
    ];
    const calls: unknown[][] = [];
    for (let n = 0; n <= MAX_ARGS; n++) calls.push(new Array(n).fill(undefined));
    for (const base of bases) {
      for (let position = 0; position < MUTATED_ARGS; position++) {
        for (const value of core) calls.push(base.map((b, i) => (i === position ? value : b)));
      }
    }
    for (let k = 0; k < perOp; k++)
      calls.push(Array.from({ length: Math.floor(random() * (MAX_ARGS + 1)) }, () => pick(pool)));
    for (const args of calls) {
      let result: unknown;
      let error: unknown;
      try {
        result = (ops[op] as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        error = e;
      }
      record(`ops.${op}`, args, error);
      restoreSettings(op, result);
      release(result);
    }
    for (const t of tensors) t.dispose();
    if (process.env.FUZZ_PROFILE) process.stderr.write(`took ${op} ${(performance.now() - started).toFixed(0)}\n`);
  }
}

async function fuzzAsyncOps(perOp: number): Promise<void> {
  for (const op of FUZZED_OPS) {
    process.stderr.write(`runAsync ${op}\n`);
    const tensors = sampleTensors();
    const handles = tensors.map((t) => (t.isDisposed ? disposedHandle : t.handle));
    const pool: unknown[] = [...NUMBERS, ...OTHERS, ...handles];
    const calls = [
      [handles[0], handles[1]],
      [handles[0], 1, 1],
      ...Array.from({ length: perOp }, () => Array.from({ length: 4 }, () => pick(pool))),
    ];
    for (const args of calls) {
      let error: unknown;
      try {
        release(await native.runAsync(op, ...(args as NativeArg[])));
      } catch (e) {
        error = e;
      }
      record(`runAsync ${op}`, args, error);
    }
    for (const t of tensors) t.dispose();
  }
  for (const name of [undefined, 5, {}, 'noSuchOp']) {
    let error: unknown;
    try {
      await (native.runAsync as (...a: unknown[]) => Promise<unknown>)(name);
    } catch (e) {
      error = e;
    }
    record('runAsync', [name], error);
  }
}

// ---- the other functions of the addon -------------------------------------------------------

function fuzzAddonFunctions(): void {
  const t = rand([2, 2]);
  const pool: unknown[] = [...NUMBERS, ...OTHERS, t.handle, disposedHandle];
  const functions: Record<string, (...a: unknown[]) => unknown> = {
    fromBuffer: native.fromBuffer as never,
    toBuffer: native.toBuffer as never,
    dispose: native.dispose as never,
    isDisposed: native.isDisposed as never,
    reportMemory: native.reportMemory as never,
  };
  for (const [name, fn] of Object.entries(functions)) {
    process.stderr.write(`native.${name}\n`);
    const calls: unknown[][] = [[]];
    for (const a of pool) calls.push([a], [new Float32Array(4), a, 6], [new Float32Array(4), [2, 2], a], [a, [1], 6]);
    for (const args of calls) {
      let error: unknown;
      let result: unknown;
      try {
        result = fn(...args);
      } catch (e) {
        error = e;
      }
      record(`native.${name}`, args, error);
      if (name !== 'dispose') release(result);
    }
  }
  t.dispose();
}

// ---- the TypeScript API -----------------------------------------------------------------------

/** The sweep's values at the TypeScript level: tensors as Tensor objects, and a raw handle. */
function tsCore(tensors: Tensor[]): unknown[] {
  return [...CORE, ...CORE_TENSORS.map((i) => tensors[i]), [tensors[0], tensors[1]], tensors[0]!.handle, 'int64'];
}

function tsPool(tensors: Tensor[]): unknown[] {
  return [
    ...NUMBERS,
    ...OTHERS,
    ...tensors,
    [tensors[0], tensors[1]],
    [tensors[0], null],
    tensors[0]!.handle,
    'float32',
    'int64',
    'complex64',
  ];
}

async function fuzzFunction(name: string, fn: (...a: unknown[]) => unknown, perFunction: number): Promise<void> {
  process.stderr.write(`function ${name}\n`);
  const tensors = sampleTensors();
  const pool = tsPool(tensors);
  const core = tsCore(tensors);
  const base = [tensors[0], tensors[1], tensors[1], 1, 1];
  const calls: unknown[][] = [[]];
  for (let position = 0; position < base.length; position++) {
    for (const value of core) calls.push(base.map((b, i) => (i === position ? value : b)));
  }
  for (let k = 0; k < perFunction; k++) calls.push(Array.from({ length: Math.floor(random() * 6) }, () => pick(pool)));
  for (const args of calls) {
    let error: unknown;
    try {
      // tidy frees what a synchronous call made; a Promise (callAsync) is awaited and released.
      const pending = tidy(() => {
        const value = fn(...args);
        return value instanceof Promise ? { value } : undefined;
      });
      if (pending) release(await pending.value);
    } catch (e) {
      error = e;
    }
    record(name, args, error);
    ops.setGradEnabled(true);
    ops.setNumThreads(1);
  }
  for (const t of tensors) t.dispose();
}

function fuzzTensorMembers(perMethod: number): void {
  const descriptors = Object.getOwnPropertyDescriptors(Tensor.prototype);
  for (const [name, descriptor] of Object.entries(descriptors)) {
    if (name === 'constructor') continue;
    process.stderr.write(`Tensor#${name}\n`);
    const samples = sampleTensors();
    // A float leaf, an int64 vector, a 0-d tensor and a disposed one.
    const receivers = [samples[0]!, samples[3]!, samples[5]!, samples[11]!];
    const others = sampleTensors();
    const pool = tsPool(others);
    const core = tsCore(others);
    for (const receiver of receivers) {
      const calls: unknown[][] = [[]];
      if (descriptor.value !== undefined) {
        for (const value of core) calls.push([value], [value, 1, 1]);
        for (let k = 0; k < perMethod; k++)
          calls.push(Array.from({ length: Math.floor(random() * 5) }, () => pick(pool)));
      } else if (descriptor.set !== undefined) {
        for (const value of core) calls.push([value]);
      }
      for (const args of calls) {
        let error: unknown;
        try {
          tidy(() => {
            const result: unknown =
              descriptor.value !== undefined
                ? (descriptor.value as (...a: unknown[]) => unknown).apply(receiver, args)
                : args.length === 0
                  ? descriptor.get?.call(receiver)
                  : descriptor.set?.call(receiver, args[0]);
            if (result instanceof Tensor && result === receiver) return undefined;
            return undefined;
          });
        } catch (e) {
          error = e;
        }
        record(`Tensor#${String(name)}`, args, error);
        ops.setGradEnabled(true);
      }
    }
    for (const t of [...samples, ...others]) t.dispose();
  }
  // Constructing a Tensor from anything but a handle.
  for (const value of [...NUMBERS, ...OTHERS]) {
    let error: unknown;
    try {
      new Tensor(value as Handle);
    } catch (e) {
      error = e;
    }
    record('new Tensor', [value], error);
  }
}

const disposedHandle = (() => {
  const t = zeros([1]);
  const handle = t.handle;
  native.dispose(handle);
  return handle;
})();

async function main(): Promise<void> {
  ops.setNumThreads(1);
  Error.stackTraceLimit = 0; // errors by the hundred thousand: their stacks are not needed
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  await timed('ops', () => fuzzNativeOps(Math.round(150 * scale)));
  await timed('runAsync', () => fuzzAsyncOps(Math.round(10 * scale)));
  await timed('addon', fuzzAddonFunctions);
  const functions: [string, unknown][] = [
    ...Object.entries(engine).map(([k, v]) => [`engine.${k}`, v] as [string, unknown]),
    ...Object.entries(engine.cuda).map(([k, v]) => [`engine.cuda.${k}`, v] as [string, unknown]),
    ...Object.entries(F).map(([k, v]) => [`F.${k}`, v] as [string, unknown]),
  ];
  await timed('functions', async () => {
    for (const [name, value] of functions) {
      if (typeof value !== 'function' || value === Tensor) continue;
      await fuzzFunction(name, value as (...a: unknown[]) => unknown, Math.round(150 * scale));
    }
  });
  await timed('Tensor', () => fuzzTensorMembers(Math.round(30 * scale)));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
