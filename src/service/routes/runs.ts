// The web page's training dashboard: training runs, their metrics logs, and each log followed
// live as server-sent events.
import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TwinshotError } from '../../errors.js';
import { JsonlTail } from '../../io/jsonl-tail.js';
import { ERROR_RESPONSES } from '../schemas.js';

export interface RunsOptions {
  /** Folder holding training runs (`<runsDir>/<name>/metrics.jsonl`); default ./runs of the working folder. */
  runsDir?: string;
  /** How often a followed metrics log is checked for new lines, in ms (default 500). */
  pollMs?: number;
  /** How often an idle event stream sends a comment so proxies keep it open, in ms (default 15000). */
  keepAliveMs?: number;
}

const RUN_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$/;
const METRICS_FILE = 'metrics.jsonl';
/** `twinshot train` writes this last, when it ends (finished, stopped early or interrupted). */
const END_FILE = 'metrics.svg';
const tags = ['web page'];

const RunParams = Type.Object({
  run: Type.String({ pattern: RUN_NAME.source, description: "run folder name: letters, digits, '.', '_', '-'" }),
});

const MetricsRecord = Type.Object(
  {
    kind: Type.String({ description: "'train' or 'validation'" }),
    step: Type.Number(),
    loss: Type.Optional(Type.Number()),
    accuracy: Type.Optional(Type.Number()),
  },
  { additionalProperties: true },
);

const RunList = Type.Object({
  dir: Type.String({ description: "the runs folder's name (not its path on the server)" }),
  runs: Type.Array(
    Type.Object({
      name: Type.String(),
      modifiedAt: Type.String({ format: 'date-time', description: 'last change of metrics.jsonl' }),
      bytes: Type.Integer(),
      finished: Type.Boolean({
        description: 'whether training has ended: its metrics.svg, written last, is no older than the log',
      }),
    }),
  ),
});

const RunMetrics = Type.Object({ run: Type.String(), records: Type.Array(MetricsRecord) });

type LogRecord = { kind: string; step: number; [key: string]: unknown };

/**
 * Whether the run in `folder` has ended: the trainer writes metrics.svg after its last record, and
 * a resumed run rewrites its log, which makes the picture older than the log again.
 */
async function hasFinished(folder: string, logMtimeMs?: number): Promise<boolean> {
  try {
    const [end, log] = await Promise.all([
      fs.promises.stat(path.join(folder, END_FILE)),
      logMtimeMs === undefined ? fs.promises.stat(path.join(folder, METRICS_FILE)) : null,
    ]);
    return end.mtimeMs >= (logMtimeMs ?? log!.mtimeMs);
  } catch {
    return false;
  }
}

/** Lines of a metrics log that are records (other lines, or ones cut by a crash, are skipped). */
function isLogRecord(value: unknown): value is LogRecord {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as LogRecord).kind === 'string' &&
    typeof (value as LogRecord).step === 'number'
  );
}

export const runRoutes: FastifyPluginAsync<RunsOptions> = async (app, options) => {
  const runsDir = path.resolve(options.runsDir ?? 'runs');
  // Clients see the folder's name only: its absolute path says how the server's disk is laid out.
  const runsDirLabel = path.basename(runsDir);
  const pollMs = options.pollMs ?? 500;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  app.get(
    '/v1/runs',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary: 'Training runs with a metrics log, most recently changed first',
        response: { 200: RunList, ...ERROR_RESPONSES },
      },
    },
    async () => {
      let entries: fs.Dirent[] = [];
      try {
        entries = await fs.promises.readdir(runsDir, { withFileTypes: true });
      } catch {
        // no runs folder yet: no runs
      }
      const runs: { name: string; modifiedAt: string; bytes: number; finished: boolean; mtime: number }[] = [];
      for (const entry of entries) {
        if (!entry.isDirectory() || !RUN_NAME.test(entry.name)) continue;
        try {
          const folder = path.join(runsDir, entry.name);
          const stat = await fs.promises.stat(path.join(folder, METRICS_FILE));
          runs.push({
            name: entry.name,
            modifiedAt: stat.mtime.toISOString(),
            bytes: stat.size,
            finished: await hasFinished(folder, stat.mtimeMs),
            mtime: stat.mtimeMs,
          });
        } catch {
          // a run folder without a metrics log (yet)
        }
      }
      runs.sort((a, b) => b.mtime - a.mtime || a.name.localeCompare(b.name));
      return { dir: runsDirLabel, runs: runs.map(({ mtime: _mtime, ...run }) => run) };
    },
  );

  /** The run's folder. @throws TwinshotError ERR_NOT_FOUND when there is no such run */
  function runFolder(request: FastifyRequest): { run: string; folder: string; file: string } {
    const { run } = request.params as { run: string };
    const folder = path.join(runsDir, run);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory())
      throw new TwinshotError('ERR_NOT_FOUND', `no run '${run}' in ${runsDirLabel}`);
    return { run, folder, file: path.join(folder, METRICS_FILE) };
  }

  app.get(
    '/v1/runs/:run/metrics',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary: "A run's metrics log (empty until its first record)",
        params: RunParams,
        response: { 200: RunMetrics, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { run, file } = runFolder(request);
      const { records } = await new JsonlTail(file, isLogRecord).poll();
      return { run, records };
    },
  );

  // Open event streams, ended before the server closes: Fastify's close waits for open connections.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  app.get(
    '/v1/runs/:run/events',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary:
          "Follows a run's metrics log as server-sent events: `reset` with every record, then `append` with new ones; " +
          '`status` ({ finished }) first and whenever training ends or resumes',
        params: RunParams,
        response: { ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { run, folder, file } = runFolder(request);
      const tail = new JsonlTail(file, isLogRecord);
      let finished: boolean | null = null;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      const send = (event: string, data: unknown): void => {
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      let timer: NodeJS.Timeout | undefined;
      let lastWrite = Date.now();
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        streams.delete(end);
        raw.end();
      };
      streams.add(end);
      // The client went away: the response's 'close' is the dependable signal (a request's 'close'
      // has fired on body completion in some Node versions).
      raw.on('close', end);
      request.raw.on('close', () => {
        if (raw.destroyed) end();
      });
      const tick = async (first: boolean): Promise<void> => {
        try {
          const { reset, records } = await tail.poll();
          const now = await hasFinished(folder);
          if (ended) return;
          if (first || reset) send('reset', { run, records });
          else if (records.length > 0) send('append', { run, records });
          if (now !== finished) {
            finished = now;
            send('status', { run, finished });
          } else if (!first && !reset && records.length === 0) {
            if (Date.now() - lastWrite >= keepAliveMs) raw.write(': keep-alive\n\n');
            else return schedule();
          }
          lastWrite = Date.now();
        } catch (error) {
          request.log.warn({ err: error, run }, 'reading the metrics log failed');
        }
        schedule();
      };
      const schedule = (): void => {
        if (!ended) timer = setTimeout(() => void tick(false), pollMs);
      };
      await tick(true);
      return reply;
    },
  );
};
