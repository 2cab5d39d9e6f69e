// What the trainer does differently on each rank of a data-parallel run: the same weights
// everywhere, gradients averaged every step, one decision per step (loss, stop, time limit) shared
// by all ranks, rank 0's validation verdict waited for, and every rank's random streams gathered
// into rank 0's checkpoint.
import { getRngState, manualSeed, setRngState } from '../engine/runtime.js';
import { tensor } from '../engine/tensor.js';
import { DataParallel } from '../distributed/data-parallel.js';
import type { ProcessGroup } from '../distributed/process-group.js';
import { TwinshotError } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { RankState, TrainingProgress } from './checkpoint.js';

/**
 * The seed of rank `rank`'s random streams: the run's seed with the rank in its upper bits, so
 * rank 0 draws exactly what a single process draws, and every other rank its own stream.
 */
export function rankSeed(seed: number, rank: number): number {
  return seed + rank * 2 ** 32;
}

/** Rank 0 may validate and export for this long while the other ranks wait (or the group's timeout, if longer). */
const VALIDATION_WAIT_MS = 60 * 60 * 1000;

/** What every rank agreed on after a step. */
export interface StepAgreement {
  /** The step's loss averaged over the ranks. */
  loss: number;
  /** Some rank was asked to stop (Ctrl-C, SIGTERM). */
  stop: boolean;
  /** Rank 0's clock says the time limit is reached. */
  timeUp: boolean;
}

export class DataParallelTraining {
  readonly group: ProcessGroup;
  readonly parallel: DataParallel;
  /** Seconds this rank spent waiting for gradient averaging, since the last call of takeCommunicationSeconds(). */
  #communication = 0;

  constructor(group: ProcessGroup, model: Module) {
    this.group = group;
    this.parallel = new DataParallel(model, group);
  }

  get rank(): number {
    return this.group.rank;
  }
  get worldSize(): number {
    return this.group.worldSize;
  }
  get isMain(): boolean {
    return this.group.rank === 0;
  }

  /** Gives each rank other than 0 its own libtorch random stream (rank 0 keeps the run's). */
  seedRank(seed: number): void {
    if (!this.isMain) manualSeed(rankSeed(seed, this.rank));
  }

  /** Rank 0's weights and buffers on every rank. */
  async broadcastState(): Promise<void> {
    await this.parallel.broadcastState();
  }

  /** The checkpoint file's bytes from rank 0 (which reads `file`), so that every rank resumes from them. */
  async checkpointBytes(read: () => Uint8Array): Promise<Uint8Array> {
    return this.group.broadcastBytes(this.isMain ? read() : null);
  }

  /**
   * Averages the gradients over the ranks and agrees on the step's outcome, in one round of
   * collectives in flight together.
   */
  async afterBackward(loss: number, stopRequested: boolean, timeUp: boolean): Promise<StepAgreement> {
    const started = performance.now();
    const control = tensor([loss, stopRequested ? 1 : 0, this.isMain && timeUp ? 1 : 0], { dtype: 'float64' });
    try {
      await Promise.all([this.parallel.averageGradients(), this.group.allReduce(control)]);
      const [sum, stops, timeUps] = control.toArray() as [number, number, number];
      return { loss: sum / this.worldSize, stop: stops > 0, timeUp: timeUps > 0 };
    } finally {
      control.dispose();
      this.#communication += (performance.now() - started) / 1000;
    }
  }

  takeCommunicationSeconds(): number {
    const seconds = this.#communication;
    this.#communication = 0;
    return seconds;
  }

  /**
   * Rank 0 validates (and exports) and tells the others whether to stop early; they wait for its
   * verdict through the store, so validation may outlast the collectives' timeout.
   */
  async validation(step: number, validate: () => boolean): Promise<boolean> {
    const key = `validated/${step}`;
    if (this.isMain) {
      const stop = validate();
      this.group.storeSet(key, stop ? 'stop' : 'go');
      return stop;
    }
    const verdict = await this.group.storeGet(key, {
      timeoutMs: Math.max(this.group.timeoutMs, VALIDATION_WAIT_MS),
    });
    return verdict === 'stop';
  }

  /**
   * Before a checkpoint: rank 0's buffers (batch-norm statistics) on every rank, so that the
   * checkpoint restores every rank exactly, and every rank's random streams for rank 0 to save.
   */
  async gatherRankStates(local: Omit<RankState, 'torchRng'>): Promise<RankState[]> {
    await this.parallel.broadcastBuffers();
    const rng = getRngState();
    const torchRng = Buffer.from(rng.data() as Uint8Array).toString('base64');
    rng.dispose();
    return this.group.allGatherObject<RankState>({ ...local, torchRng });
  }

  /** This rank's saved streams from a resumed checkpoint (after {@link checkWorldSize}). */
  restoreRank(progress: TrainingProgress): RankState | null {
    const state = progress.ranks?.[this.rank];
    if (state === undefined) return null; // a single-process checkpoint resumed by a group of one
    const bytes = Buffer.from(state.torchRng, 'base64');
    const rng = tensor(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    setRngState(rng);
    rng.dispose();
    return state;
  }

  /** Every rank has finished (rank 0 has written its last files). */
  async finish(): Promise<void> {
    await this.group.barrier();
  }
}

/**
 * Checks that a checkpoint is resumed by as many ranks as wrote it.
 * @throws TwinshotError ERR_CONFIG when the checkpoint was made by another number of ranks
 */
export function checkWorldSize(progress: TrainingProgress, worldSize: number, checkpoint: string): void {
  const saved = progress.worldSize ?? 1;
  if (saved !== worldSize) {
    throw new TwinshotError(
      'ERR_CONFIG',
      `--resume: ${checkpoint} was written by ${saved} rank${saved === 1 ? '' : 's'}, and this run has ${worldSize}; resume with the same number of ranks (--nproc-per-node x --nnodes), since each rank's batches continue its own stream`,
    );
  }
}
