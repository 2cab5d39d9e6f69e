// `twinshot train`: trains a model from a JSON config; Ctrl-C saves a checkpoint and exits cleanly.
// With --nproc-per-node it launches data-parallel ranks (src/cli/launch.ts); started with PyTorch's
// environment variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) it is one of those ranks.
import path from 'node:path';
import type { Command } from 'commander';
import { isTwinshotError } from '../errors.js';
import { PEER_FAILURE_EXIT_CODE, launch, withoutLaunchOptions } from './launch.js';
import { parseOverride, positiveInteger } from './options.js';

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train a twin network from a JSON config (see configs/)')
    .requiredOption('-c, --config <file>', 'training config (JSON)')
    .option('-d, --data <path>', 'data location (Omniglot zip/folder, image folder or manifest)')
    .option('-o, --out <dir>', 'run folder: model, checkpoint, metrics (default runs/<name>)')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--steps <n>', 'override training.steps', (v) => Number(v))
    .option('--time-limit <minutes>', 'override training.timeLimitMinutes', (v) => Number(v))
    .option('--seed <n>', 'override seed', (v) => Number(v))
    .option('--set <key=value...>', 'override any config key, e.g. --set optimizer.lr=0.0005 data.size=32', collect, [])
    .option('--nproc-per-node <n>', 'data-parallel: start N ranks on this machine', positiveInteger('--nproc-per-node'))
    .option(
      '--nnodes <m>',
      'data-parallel across M machines (run the same command on each)',
      positiveInteger('--nnodes'),
      1,
    )
    .option(
      '--node-rank <r>',
      "this machine's index, 0 to M-1 (0 hosts the rendezvous)",
      nonNegativeInteger('--node-rank'),
      0,
    )
    .option('--master-addr <host>', "machine 0's address, reachable from every machine", '127.0.0.1')
    .option(
      '--master-port <port>',
      'rendezvous port on machine 0 (default: a free port on one machine, 29500 on several)',
      positiveInteger('--master-port'),
    )
    .option(
      '--timeout <seconds>',
      'a rank that dies or stops responding fails the job after this long',
      positiveInteger('--timeout'),
      300,
    )
    .option(
      '--backend <name>',
      "data-parallel backend: 'gloo' (CPU) or 'nccl' (CUDA); default: nccl when training on a GPU",
    )
    .addHelpText(
      'after',
      `
Examples:
  twinshot train --config configs/omniglot-fast.json
  twinshot train --config configs/omniglot-fast.json --out runs/fast --steps 200 --time-limit 10
  twinshot train --config configs/koch2015.json --set training.steps=50 --out runs/koch-short
  twinshot train --config configs/omniglot-fast.json --out runs/fast --resume
  twinshot train --config configs/omniglot-fast.json --out runs/fast2 --nproc-per-node 2
  # on two machines (run on each, with --node-rank 0 and 1):
  twinshot train --config configs/omniglot-fast.json --nproc-per-node 2 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500`,
    )
    .action(
      async (options: {
        config: string;
        data?: string;
        out?: string;
        resume?: boolean;
        steps?: number;
        timeLimit?: number;
        seed?: number;
        set: string[];
        nprocPerNode?: number;
        nnodes: number;
        nodeRank: number;
        masterAddr: string;
        masterPort?: number;
        timeout: number;
        backend?: string;
      }) => {
        if (options.nprocPerNode !== undefined || options.nnodes > 1) {
          if (options.nodeRank >= options.nnodes)
            throw new Error(`--node-rank must be below --nnodes (${options.nnodes}); got ${options.nodeRank}`);
          // Each rank runs this same command, without the launcher's options.
          await launch({
            nprocPerNode: options.nprocPerNode ?? 1,
            nnodes: options.nnodes,
            nodeRank: options.nodeRank,
            masterAddr: options.masterAddr,
            masterPort: options.masterPort ?? (options.nnodes > 1 ? 29500 : undefined),
            timeoutSeconds: options.timeout,
            command: process.execPath,
            args: [...process.execArgv, process.argv[1]!, ...withoutLaunchOptions(process.argv.slice(2))],
          });
          return;
        }
        const { loadConfig } = await import('../training/config.js');
        const { train } = await import('../training/trainer.js');
        const overrides: Record<string, unknown> = Object.fromEntries(options.set.map(parseOverride));
        if (options.steps !== undefined) overrides['training.steps'] = options.steps;
        if (options.timeLimit !== undefined) overrides['training.timeLimitMinutes'] = options.timeLimit;
        if (options.seed !== undefined) overrides.seed = options.seed;
        const config = loadConfig(options.config, overrides);
        const outDir = options.out ?? path.join('runs', config.name);
        // One rank of a data-parallel run (started by the launcher, or by anything that sets
        // PyTorch's variables): join the group before anything else.
        const group =
          process.env.WORLD_SIZE !== undefined && process.env.RANK !== undefined
            ? await joinGroup(config.device, options.backend, options.timeout)
            : undefined;
        const isMain = (group?.rank ?? 0) === 0;
        const controller = new AbortController();
        const onSignal = () => {
          if (controller.signal.aborted) process.exit(130); // a second Ctrl-C quits at once
          console.error('\ntwinshot: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)');
          controller.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // A rank whose launcher is gone stops like on Ctrl-C (the others see it too and stop with it).
        const onOrphaned = () => controller.abort();
        if (group && process.connected) {
          process.on('disconnect', onOrphaned);
          process.channel?.unref();
        }
        const bar = process.stdout.isTTY && isMain ? await progressBar() : null;
        try {
          const result = await train({
            config,
            dataPath: options.data,
            outDir,
            resume: options.resume,
            signal: controller.signal,
            log: (line) => (bar ? bar.log(line) : console.log(line)),
            onStep: bar ? (info) => bar.update(info) : undefined,
            group,
          });
          bar?.stop();
          if (result.stoppedBy === 'signal' && isMain)
            console.log(
              `checkpoint saved; continue with: twinshot train --config ${options.config} --out ${outDir} --resume${group ? ` and the same number of ranks (${group.worldSize})` : ''}`,
            );
        } catch (error) {
          // The launcher tells a rank that lost its peers from the rank that failed first.
          if (group && isTwinshotError(error) && error.code === 'ERR_DISTRIBUTED')
            Object.assign(error, { exitCode: PEER_FAILURE_EXIT_CODE });
          throw error;
        } finally {
          bar?.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          process.off('disconnect', onOrphaned);
          if (group && !group.isDestroyed) {
            const { destroyProcessGroup } = await import('../distributed/process-group.js');
            destroyProcessGroup(group);
          }
        }
      },
    );
}

function nonNegativeInteger(name: string) {
  return (value: string): number => (value === '0' ? 0 : positiveInteger(name)(value));
}

/** Joins the data-parallel group from PyTorch's environment variables (env://). */
async function joinGroup(device: string, backend: string | undefined, timeoutSeconds: number) {
  const { availableBackends, initProcessGroup } = await import('../distributed/process-group.js');
  const { resolveDevice } = await import('../training/trainer.js');
  const onGpu = resolveDevice(device as 'auto' | 'cpu' | 'cuda') === 'cuda';
  const chosen = backend ?? (onGpu && availableBackends().includes('nccl') ? 'nccl' : 'gloo');
  if (chosen !== 'gloo' && chosen !== 'nccl') throw new Error(`--backend must be 'gloo' or 'nccl'; got '${chosen}'`);
  return initProcessGroup({ backend: chosen, initMethod: 'env://', timeoutMs: timeoutSeconds * 1000 });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function progressBar() {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      format: 'step {value}/{total} [{bar}] loss {loss} | {rate} img/s | lr {lr} | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(info: { step: number; totalSteps: number; loss: number; imagesPerSecond: number; lr: number }) {
      const payload = {
        loss: info.loss.toFixed(4),
        rate: info.imagesPerSecond.toFixed(0),
        lr: info.lr.toExponential(2),
      };
      if (!started) {
        bar.start(info.totalSteps, info.step, payload);
        started = true;
      } else bar.update(info.step, payload);
    },
    log(line: string) {
      if (started) process.stdout.write('\r\x1b[K');
      console.log(line);
      if (started) bar.render();
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
