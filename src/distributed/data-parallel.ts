// Data parallelism for a Module, as PyTorch's DistributedDataParallel does it: the same weights on
// every rank (broadcast from rank 0), each rank's gradients averaged over all ranks by an
// all-reduce in buckets of about 25 MB, so that every rank takes the same optimiser step.
import { DTYPES } from '../engine/dtype.js';
import type { Tensor } from '../engine/tensor.js';
import type { Module } from '../nn/module.js';
import { TwinshotError } from '../errors.js';
import type { ProcessGroup } from './process-group.js';

export interface DataParallelOptions {
  /** Largest gradient bucket, in megabytes (PyTorch's bucket_cap_mb; default 25). */
  bucketCapMb?: number;
}

/** Splits tensors into runs of one dtype of at most `capBytes` each (a larger tensor is alone). */
export function bucketsOf<T extends { tensor: Tensor }>(items: readonly T[], capBytes: number): T[][] {
  const buckets: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = item.tensor.numel() * DTYPES[item.tensor.dtype].bytes;
    const first = current[0];
    if (first !== undefined && (first.tensor.dtype !== item.tensor.dtype || bytes + size > capBytes)) {
      buckets.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) buckets.push(current);
  return buckets;
}

/**
 * Keeps one module's replicas in step across the ranks of a group.
 *
 * @example
 * const parallel = new DataParallel(model, group);
 * await parallel.broadcastState(); // rank 0's weights everywhere
 * loss.backward();
 * await parallel.averageGradients(); // every rank now holds the mean gradient
 * optimizer.step();
 */
export class DataParallel {
  readonly module: Module;
  readonly group: ProcessGroup;
  readonly bucketCapBytes: number;
  readonly #parameters: { name: string; tensor: Tensor }[];
  #layout: string | null = null;

  constructor(module: Module, group: ProcessGroup, options: DataParallelOptions = {}) {
    this.module = module;
    this.group = group;
    this.bucketCapBytes = Math.max(1, Math.round((options.bucketCapMb ?? 25) * 1024 * 1024));
    // Reverse registration order, as DistributedDataParallel buckets them: roughly the order in
    // which backward produces the gradients.
    this.#parameters = [...module.namedParameters()].map(([name, tensor]) => ({ name, tensor })).reverse();
  }

  /**
   * Copies rank `src`'s parameters and buffers into every rank's module (one broadcast per dtype
   * and bucket). Call it once before training, so every replica starts from the same weights.
   */
  async broadcastState(src = 0): Promise<void> {
    const tensors = [...this.module.namedParameters(), ...this.module.namedBuffers()].map(([name, tensor]) => ({
      name,
      tensor,
    }));
    await this.#broadcast(tensors, src);
  }

  /** Copies rank `src`'s buffers (batch-norm running statistics) into every rank's module. */
  async broadcastBuffers(src = 0): Promise<void> {
    await this.#broadcast(
      [...this.module.namedBuffers()].map(([name, tensor]) => ({ name, tensor })),
      src,
    );
  }

  async #broadcast(items: { name: string; tensor: Tensor }[], src: number): Promise<void> {
    // Buckets need one dtype each: group by dtype first (buffers hold int64 counters).
    const byType = [...items].sort((a, b) =>
      a.tensor.dtype < b.tensor.dtype ? -1 : a.tensor.dtype > b.tensor.dtype ? 1 : 0,
    );
    await Promise.all(
      bucketsOf(byType, this.bucketCapBytes).map((bucket) =>
        this.group.broadcast(
          bucket.map((item) => item.tensor),
          { src },
        ),
      ),
    );
  }

  /**
   * Replaces every rank's gradients by their mean over the ranks, bucket by bucket (all buckets
   * in flight at once). Parameters without a gradient are left alone; they must be the same ones
   * on every rank, which is checked on the first call and assumed after it.
   * @throws TwinshotError ERR_DISTRIBUTED when ranks disagree on which parameters have gradients
   */
  async averageGradients(): Promise<void> {
    const grads: { name: string; tensor: Tensor }[] = [];
    for (const { name, tensor } of this.#parameters) {
      const grad = tensor.grad;
      if (grad !== null) grads.push({ name, tensor: grad });
    }
    try {
      const layout = grads.map((g) => g.name).join(',');
      if (this.#layout === null) {
        const layouts = await this.group.allGatherObject(layout);
        const differing = layouts.findIndex((other) => other !== layout);
        if (differing >= 0) {
          throw new TwinshotError(
            'ERR_DISTRIBUTED',
            `averageGradients(): rank ${this.group.rank} has gradients for [${layout}] but rank ${differing} for [${layouts[differing]}]; every rank must use the same parameters in each step`,
          );
        }
        this.#layout = layout;
      } else if (layout !== this.#layout) {
        throw new TwinshotError(
          'ERR_DISTRIBUTED',
          `averageGradients(): the parameters with gradients changed on rank ${this.group.rank} (now [${layout}], before [${this.#layout}]); data-parallel training needs the same parameters used in every step`,
        );
      }
      if (grads.length === 0) return;
      await Promise.all(
        bucketsOf(grads, this.bucketCapBytes).map((bucket) =>
          this.group.allReduce(
            bucket.map((g) => g.tensor),
            { op: 'avg' },
          ),
        ),
      );
    } finally {
      // The collectives hold their own references to the gradients' storage.
      for (const g of grads) g.tensor.dispose();
    }
  }
}
