// Process groups and collectives, shaped like torch.distributed and run by libtorch's own c10d
// (TCPStore rendezvous, Gloo on CPU, NCCL on CUDA): a PyTorch rank can join a twinshot group.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import { native, ops, type Handle } from '../engine/native.js';
import { Tensor, tensor, wrap } from '../engine/tensor.js';
import { ArgumentError, TwinshotError } from '../errors.js';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'avg' | 'product' | 'min' | 'max';

/** PyTorch's default: 30 minutes for rendezvous and for every collective. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

export interface InitOptions {
  /** 'gloo' (CPU tensors) or 'nccl' (CUDA tensors; only where libtorch has CUDA). Default 'gloo'. */
  backend?: Backend;
  /**
   * Where the ranks meet. 'env://' (the default) reads MASTER_ADDR, MASTER_PORT, RANK and
   * WORLD_SIZE, as PyTorch does; 'tcp://HOST:PORT' names the master and takes `rank` and
   * `worldSize` from the options.
   */
  initMethod?: string;
  rank?: number;
  worldSize?: number;
  /** Limit for rendezvous and for each collective (default 30 minutes, as PyTorch's). */
  timeoutMs?: number;
}

export interface CollectiveOptions {
  /**
   * Gives up waiting for this call after so long (shorter than the group's timeout, which Gloo
   * applies to every operation). A collective that failed or was given up leaves the group unusable.
   */
  timeoutMs?: number;
}

function distributedError(message: string, cause?: unknown): TwinshotError {
  return new TwinshotError('ERR_DISTRIBUTED', message, { cause });
}

/** The native message without the op-table prefix ("distWait: "). */
function nativeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^dist[A-Za-z]+: /, '');
}

function integerFromEnv(name: string, minimum: number, hint: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    throw distributedError(`initProcessGroup(): env:// needs ${name} (${hint}); it is not set. ${LAUNCH_HINT}`);
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum)
    throw distributedError(`initProcessGroup(): ${name} must be an integer >= ${minimum}; got '${raw}'`);
  return value;
}

const LAUNCH_HINT =
  'Start ranks with `twinshot train --nproc-per-node N`, or set MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE.';

/** Where to meet and who this process is, from `initMethod` and the environment. */
export function resolveRendezvous(options: InitOptions = {}): {
  host: string;
  port: number;
  rank: number;
  worldSize: number;
} {
  const method = options.initMethod ?? 'env://';
  let host: string;
  let port: number;
  if (method === 'env://') {
    host = process.env.MASTER_ADDR ?? '';
    if (host === '')
      throw distributedError(
        `initProcessGroup(): env:// needs MASTER_ADDR (the address of rank 0's machine); it is not set. ${LAUNCH_HINT}`,
      );
    port = integerFromEnv('MASTER_PORT', 1, "a free TCP port on rank 0's machine");
  } else {
    const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(method);
    if (!match)
      throw new ArgumentError(`initProcessGroup(): initMethod must be 'env://' or 'tcp://HOST:PORT'; got '${method}'`);
    host = match[1]!.replace(/^\[|\]$/g, '');
    port = Number(match[2]);
  }
  const rank = options.rank ?? integerFromEnv('RANK', 0, "this process's rank, 0 to WORLD_SIZE - 1");
  const worldSize = options.worldSize ?? integerFromEnv('WORLD_SIZE', 1, 'the number of ranks');
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new ArgumentError(`initProcessGroup(): worldSize must be an integer >= 1; got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new ArgumentError(`initProcessGroup(): rank must be an integer in 0..${worldSize - 1}; got ${rank}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ArgumentError(`initProcessGroup(): the master port must be in 1-65535; got ${port}`);
  return { host, port, rank, worldSize };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * This machine's address on its route to the master (what Gloo should listen on, so that the other
 * ranks can reach it): loopback for a loopback master, '' (Gloo's default) when it cannot be told.
 * A UDP socket's connect() sends nothing; it only picks the route.
 */
export async function localAddressTowards(host: string, port: number): Promise<string> {
  if (isLoopback(host)) return '127.0.0.1';
  try {
    const { address, family } = await dns.lookup(host);
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, address, () => resolve());
      });
      return socket.address().address;
    } finally {
      socket.close();
    }
  } catch {
    return '';
  }
}

/** The backends this addon was built with, e.g. ['gloo'] (and 'nccl' with a CUDA libtorch). */
export function availableBackends(): Backend[] {
  const names = ops.distBackends() as string;
  return names === '' ? [] : (names.split(',') as Backend[]);
}

const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'product', 'min', 'max'];

/**
 * A group of ranks that run collectives together. Every rank must call the same collectives in
 * the same order. A collective is queued when called and its Promise settles when it completes,
 * so several may be in flight (`await Promise.all([...])`); tensors being reduced or received must
 * not be used until their Promise settles.
 */
export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  readonly timeoutMs: number;
  #id: number | null;
  // Waits are chained so that a group holds one libuv pool thread at a time, however many
  // collectives are in flight (they complete in order anyway).
  #tail: Promise<unknown> = Promise.resolve();

  /** @internal use {@link initProcessGroup} or {@link ProcessGroup.create} */
  constructor(id: number, rank: number, worldSize: number, backend: Backend, timeoutMs: number) {
    this.#id = id;
    this.rank = rank;
    this.worldSize = worldSize;
    this.backend = backend;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Meets the other ranks and forms a group (resolves once all have joined).
   * @throws TwinshotError ERR_DISTRIBUTED when the rendezvous fails or times out
   */
  static async create(options: InitOptions = {}): Promise<ProcessGroup> {
    const backend = options.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl')
      throw new ArgumentError(`initProcessGroup(): backend must be 'gloo' or 'nccl'; got '${String(backend)}'`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new ArgumentError(`initProcessGroup(): timeoutMs must be a positive integer; got ${timeoutMs}`);
    const { host, port, rank, worldSize } = resolveRendezvous(options);
    const localAddress = await localAddressTowards(host, port);
    let id: number;
    try {
      id = (await native.runAsync('distInit', backend, host, port, rank, worldSize, timeoutMs, localAddress)) as number;
    } catch (error) {
      throw distributedError(
        `initProcessGroup(): rank ${rank} of ${worldSize} could not join the group at ${host}:${port}: ${nativeMessage(error)}`,
        error,
      );
    }
    return new ProcessGroup(id, rank, worldSize, backend, timeoutMs);
  }

  get isDestroyed(): boolean {
    return this.#id === null;
  }

  #groupId(what: string): number {
    if (this.#id === null) throw distributedError(`${what}(): the process group was destroyed`);
    return this.#id;
  }

  #checkTensors(what: string, tensors: readonly Tensor[]): Handle[] {
    if (tensors.length === 0) throw new ArgumentError(`${what}(): expected at least one tensor`);
    const first = tensors[0]!;
    for (const t of tensors) {
      if (!(t instanceof Tensor)) throw new ArgumentError(`${what}(): expected Tensors`);
      if (t.dtype !== first.dtype || t.device !== first.device)
        throw new ArgumentError(
          `${what}(): every tensor must have one dtype and device; got ${first.dtype} on ${first.device} and ${t.dtype} on ${t.device}`,
        );
    }
    const onCuda = first.device.startsWith('cuda');
    if (this.backend === 'nccl' && !onCuda)
      throw new ArgumentError(`${what}(): the nccl backend reduces CUDA tensors; got a tensor on ${first.device}`);
    if (this.backend === 'gloo' && onCuda)
      throw new ArgumentError(`${what}(): the gloo backend here reduces CPU tensors; got one on ${first.device}`);
    return tensors.map((t) => t.handle);
  }

  #timeout(what: string, options: CollectiveOptions): number | null {
    const t = options.timeoutMs;
    if (t === undefined) return null;
    if (!Number.isInteger(t) || t < 1)
      throw new ArgumentError(`${what}(): timeoutMs must be a positive integer; got ${t}`);
    return t;
  }

  // Waits for a queued collective (on libuv's pool), after those queued before it.
  #wait(work: number, what: string): Promise<unknown> {
    const result = this.#tail
      .catch(() => undefined)
      .then(() => native.runAsync('distWait', work))
      .catch((error: unknown) => {
        throw distributedError(`${what}(): ${nativeMessage(error)}`, error);
      });
    this.#tail = result;
    return result;
  }

  #issue(what: string, issue: () => number): Promise<unknown> {
    let work: number;
    try {
      work = issue();
    } catch (error) {
      if (error instanceof TwinshotError && error.code !== 'ERR_TORCH') throw error;
      throw distributedError(`${what}(): ${nativeMessage(error)}`, error);
    }
    return this.#wait(work, what);
  }

  /**
   * Reduces `tensors` (one tensor, or several of one dtype and device, reduced as one flattened
   * buffer) across every rank, in place. 'avg' divides the sum by the world size.
   * bfloat16 is summed in float32 by Gloo (which has no bfloat16) and rounded once.
   * @example await group.allReduce(grads, { op: 'avg' });
   */
  allReduce(tensors: Tensor | readonly Tensor[], options: CollectiveOptions & { op?: ReduceOp } = {}): Promise<void> {
    const list = tensors instanceof Tensor ? [tensors] : tensors;
    const op = options.op ?? 'sum';
    if (!REDUCE_OPS.includes(op))
      throw new ArgumentError(`allReduce(): op must be one of ${REDUCE_OPS.join(', ')}; got '${String(op)}'`);
    const handles = this.#checkTensors('allReduce', list);
    if (op === 'avg' && !list[0]!.isFloating)
      throw new ArgumentError(`allReduce(): op 'avg' needs floating-point tensors; got ${list[0]!.dtype} (use 'sum')`);
    if (list[0]!.dtype === 'bool')
      throw new ArgumentError("allReduce(): bool tensors cannot be reduced; convert them to 'uint8'");
    const timeout = this.#timeout('allReduce', options);
    const id = this.#groupId('allReduce');
    return this.#issue('allReduce', () => ops.distAllReduce(id, handles, op, timeout) as number).then(() => undefined);
  }

  /** Copies rank `src`'s tensors (default 0) into every rank's, in place. */
  broadcast(tensors: Tensor | readonly Tensor[], options: CollectiveOptions & { src?: number } = {}): Promise<void> {
    const list = tensors instanceof Tensor ? [tensors] : tensors;
    const src = options.src ?? 0;
    if (!Number.isInteger(src) || src < 0 || src >= this.worldSize)
      throw new ArgumentError(`broadcast(): src must be a rank in 0..${this.worldSize - 1}; got ${src}`);
    const handles = this.#checkTensors('broadcast', list);
    const timeout = this.#timeout('broadcast', options);
    const id = this.#groupId('broadcast');
    return this.#issue('broadcast', () => ops.distBroadcast(id, handles, src, timeout) as number).then(() => undefined);
  }

  /** Every rank's `value` (same shape and dtype on every rank), in rank order. */
  async allGather(value: Tensor, options: CollectiveOptions = {}): Promise<Tensor[]> {
    const [handle] = this.#checkTensors('allGather', [value]);
    const timeout = this.#timeout('allGather', options);
    const id = this.#groupId('allGather');
    const handles = (await this.#issue(
      'allGather',
      () => ops.distAllGather(id, handle!, timeout) as number,
    )) as Handle[];
    return handles.map(wrap);
  }

  /** Resolves once every rank has reached this barrier. */
  barrier(options: CollectiveOptions = {}): Promise<void> {
    const timeout = this.#timeout('barrier', options);
    const id = this.#groupId('barrier');
    return this.#issue('barrier', () => ops.distBarrier(id, timeout) as number).then(() => undefined);
  }

  /** Every rank's JSON-serialisable `value`, in rank order (torch's all_gather_object, as JSON). */
  async allGatherObject<T>(value: T, options: CollectiveOptions = {}): Promise<T[]> {
    const bytes = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
    const lengthTensors = await this.allGather(tensor([bytes.length], { dtype: 'int64' }), options);
    const lengths = lengthTensors.map((l) => l.item());
    lengthTensors.forEach((l) => l.dispose());
    // allGather needs one shape on every rank: pad to the longest.
    const padded = new Uint8Array(Math.max(...lengths));
    padded.set(bytes);
    const parts = await this.allGather(tensor(padded), options);
    return parts.map((part, rank) => {
      const data = Buffer.from(part.data() as Uint8Array).subarray(0, lengths[rank]);
      part.dispose();
      return JSON.parse(data.toString('utf8')) as T;
    });
  }

  /** Rank `src`'s bytes on every rank (the others pass null). */
  async broadcastBytes(
    bytes: Uint8Array | null,
    options: CollectiveOptions & { src?: number } = {},
  ): Promise<Uint8Array> {
    const src = options.src ?? 0;
    if (this.rank === src && bytes === null)
      throw new ArgumentError('broadcastBytes(): the source rank must pass bytes');
    const length = tensor([this.rank === src ? bytes!.length : 0], { dtype: 'int64' });
    await this.broadcast(length, { ...options, src });
    const size = length.item();
    length.dispose();
    const buffer = tensor(this.rank === src ? bytes! : new Uint8Array(size));
    await this.broadcast(buffer, { ...options, src });
    const out = buffer.data() as Uint8Array;
    buffer.dispose();
    return out;
  }

  /** Rank `src`'s JSON-serialisable value on every rank (the others pass anything, e.g. null). */
  async broadcastObject<T>(value: T, options: CollectiveOptions & { src?: number } = {}): Promise<T> {
    const src = options.src ?? 0;
    const bytes = this.rank === src ? Buffer.from(JSON.stringify(value) ?? 'null', 'utf8') : null;
    const received = await this.broadcastBytes(bytes, { ...options, src });
    return JSON.parse(Buffer.from(received).toString('utf8')) as T;
  }

  /** Sets `key` to `value` in the group's rendezvous store (a TCPStore hosted by rank 0). */
  storeSet(key: string, value: string): void {
    ops.distStoreSet(this.#groupId('storeSet'), key, value);
  }

  /**
   * The value of `key` in the rendezvous store, once some rank has set it (waits up to
   * `timeoutMs`, default the group's timeout). Fails at once when rank 0, the store's host, is gone.
   */
  async storeGet(key: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const timeout = options.timeoutMs ?? this.timeoutMs;
    if (!Number.isInteger(timeout) || timeout < 1)
      throw new ArgumentError(`storeGet(): timeoutMs must be a positive integer; got ${timeout}`);
    try {
      return (await native.runAsync('distStoreGet', this.#groupId('storeGet'), key, timeout)) as string;
    } catch (error) {
      if (error instanceof TwinshotError && error.code !== 'ERR_TORCH') throw error;
      throw distributedError(`storeGet(): ${nativeMessage(error)}`, error);
    }
  }

  /**
   * Leaves the group: its connections close and, on rank 0, the rendezvous store stops (so rank 0
   * should destroy last, e.g. after a barrier). A second call does nothing.
   */
  destroy(): void {
    if (this.#id === null) return;
    ops.distDestroy(this.#id);
    this.#id = null;
  }
}

// ---- the default group, as torch.distributed's module functions ---------------------------------

let defaultGroup: ProcessGroup | null = null;

/**
 * Forms the default process group, like `torch.distributed.init_process_group`.
 * @example
 * // MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 RANK=0 WORLD_SIZE=2 node train.js
 * await initProcessGroup({ backend: 'gloo', initMethod: 'env://', timeoutMs: 60_000 });
 * await allReduce(t, { op: 'avg' });
 * destroyProcessGroup();
 * @throws TwinshotError ERR_DISTRIBUTED when a group exists already, or the rendezvous fails
 */
export async function initProcessGroup(options: InitOptions = {}): Promise<ProcessGroup> {
  if (defaultGroup !== null)
    throw distributedError('initProcessGroup(): the default process group exists already; destroy it first');
  defaultGroup = await ProcessGroup.create(options);
  return defaultGroup;
}

export function isInitialized(): boolean {
  return defaultGroup !== null;
}

/** The default group. @throws TwinshotError ERR_DISTRIBUTED when there is none */
export function defaultProcessGroup(): ProcessGroup {
  if (defaultGroup === null)
    throw distributedError('the default process group is not initialised; call initProcessGroup() first');
  return defaultGroup;
}

/** This process's rank in the default group. */
export function getRank(): number {
  return defaultProcessGroup().rank;
}

/** The number of ranks in the default group. */
export function getWorldSize(): number {
  return defaultProcessGroup().worldSize;
}

/** This process's rank on its machine (LOCAL_RANK, as set by the launcher), 0 when unset. */
export function getLocalRank(): number {
  const value = Number(process.env.LOCAL_RANK ?? 0);
  return Number.isInteger(value) && value >= 0 ? value : 0;
}

export function allReduce(
  tensors: Tensor | readonly Tensor[],
  options: CollectiveOptions & { op?: ReduceOp; group?: ProcessGroup } = {},
): Promise<void> {
  return (options.group ?? defaultProcessGroup()).allReduce(tensors, options);
}

export function broadcast(
  tensors: Tensor | readonly Tensor[],
  options: CollectiveOptions & { src?: number; group?: ProcessGroup } = {},
): Promise<void> {
  return (options.group ?? defaultProcessGroup()).broadcast(tensors, options);
}

export function allGather(
  value: Tensor,
  options: CollectiveOptions & { group?: ProcessGroup } = {},
): Promise<Tensor[]> {
  return (options.group ?? defaultProcessGroup()).allGather(value, options);
}

export function barrier(options: CollectiveOptions & { group?: ProcessGroup } = {}): Promise<void> {
  return (options.group ?? defaultProcessGroup()).barrier(options);
}

/** Destroys the default group (or `group`), like `torch.distributed.destroy_process_group`. */
export function destroyProcessGroup(group?: ProcessGroup): void {
  const target = group ?? defaultGroup;
  target?.destroy();
  if (target === defaultGroup) defaultGroup = null;
}
