// The web page's own routes (issue 7): Omniglot twenty-way tasks scored by the served model for the
// one-shot explorer, and training runs' metrics logs (listed, read, and followed live over SSE).
import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TwinshotError, isTwinshotError } from '../errors.js';
import { locateOmniglot, OMNIGLOT_FILES } from '../data/omniglot.js';
import { Rng } from '../data/random.js';
import { readZip } from '../data/zip.js';
import { vectorDistance } from '../models/embedder.js';
import type { Recognizer } from '../gallery/gallery.js';
import { ERROR_RESPONSES } from './schemas.js';

export interface WebRoutesOptions {
  /** Folder holding training runs (`<runsDir>/<name>/metrics.jsonl`); default ./runs of the working folder. */
  runsDir?: string;
  /**
   * Where Omniglot is: a folder holding images_evaluation.zip (or the extracted images_evaluation/).
   * Default: wherever {@link locateOmniglot} finds it; null turns the explorer off.
   */
  omniglot?: string | null;
  /** How often a followed metrics log is checked for new lines, in ms (default 500). */
  pollMs?: number;
  /** How often an idle event stream sends a comment so proxies keep it open, in ms (default 15000). */
  keepAliveMs?: number;
}

/** Classes per explorer task: Koch et al.'s and Lake et al.'s twenty-way one-shot classification. */
export const EXPLORER_WAY = 20;

const RUN_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$/;
const METRICS_FILE = 'metrics.jsonl';

// ---- schemas ------------------------------------------------------------------------------------

const Candidate = Type.Object({
  image: Type.String({ description: 'the 105x105 PNG as a data: URL' }),
  character: Type.String({ description: 'the character folder, e.g. character07' }),
  distance: Type.Number(),
  confidence: Type.Number({ description: 'calibrated probability that it shows the query character' }),
});

const ExplorerTask = Type.Object({
  seed: Type.Integer({ description: 'the seed that reproduces this task' }),
  alphabet: Type.String(),
  drawers: Type.Array(Type.Integer(), { description: 'drawer of the query, then drawer of the candidates (1-20)' }),
  model: Type.String(),
  metric: Type.String(),
  threshold: Type.Number(),
  query: Type.Object({ image: Type.String(), character: Type.String() }),
  candidates: Type.Array(Candidate),
  answer: Type.Integer({ description: "position of the query's character among the candidates" }),
  choice: Type.Integer({ description: "the model's pick: the nearest candidate" }),
  correct: Type.Boolean(),
});

const ExplorerResponse = Type.Object({
  available: Type.Boolean({ description: 'false when the server has no Omniglot evaluation set' }),
  message: Type.Optional(Type.String({ description: 'why the explorer is unavailable, and how to fix it' })),
  task: Type.Optional(ExplorerTask),
});

const ExplorerQuery = Type.Object({
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'default: random' })),
});

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
  dir: Type.String({ description: 'the runs folder as the server was given it' }),
  runs: Type.Array(
    Type.Object({
      name: Type.String(),
      modifiedAt: Type.String({ format: 'date-time', description: 'last change of metrics.jsonl' }),
      bytes: Type.Integer(),
    }),
  ),
});

const RunMetrics = Type.Object({ run: Type.String(), records: Type.Array(MetricsRecord) });

// ---- Omniglot's evaluation set as PNG files ------------------------------------------------------

/** alphabet -> character -> drawer (0-based) -> PNG bytes */
type EvaluationIndex = Map<string, Map<string, Map<number, Uint8Array>>>;

const DRAWER_FILE = /^\d+_(\d+)\.png$/i;

function addEntry(index: EvaluationIndex, relative: string, bytes: Uint8Array): void {
  const parts = relative.split('/').filter((p) => p !== '');
  if (parts.length < 3) return;
  const [alphabet, character, file] = parts.slice(-3) as [string, string, string];
  const drawer = DRAWER_FILE.exec(file);
  if (!drawer) return;
  let characters = index.get(alphabet);
  if (!characters) index.set(alphabet, (characters = new Map()));
  let drawers = characters.get(character);
  if (!drawers) characters.set(character, (drawers = new Map()));
  drawers.set(Number(drawer[1]) - 1, bytes);
}

/**
 * Reads the evaluation half as encoded PNGs (a few MB), not as a decoded ImageSet: the page shows
 * the files themselves, and the recognizer decodes the 21 of a task with the model's preprocessing.
 * @throws TwinshotError ERR_DATASET when the data is missing or holds no alphabet of twenty characters
 */
function readEvaluationSet(explicit: string | undefined): EvaluationIndex {
  const source = locateOmniglot(explicit);
  const { file } = OMNIGLOT_FILES.evaluation;
  const zip = source.endsWith('.zip') ? source : path.join(source, file);
  const folder = path.join(source, file.replace(/\.zip$/, ''));
  const index: EvaluationIndex = new Map();
  if (fs.existsSync(zip) && fs.statSync(zip).isFile()) {
    for (const [inner, bytes] of readZip(zip)) addEntry(index, inner, bytes);
  } else if (fs.existsSync(folder)) {
    const walk = (dir: string, relative: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const rel = `${relative}/${entry.name}`;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else if (entry.name.toLowerCase().endsWith('.png'))
          addEntry(index, rel, fs.readFileSync(path.join(dir, entry.name)));
      }
    };
    walk(folder, '');
  } else {
    throw new TwinshotError(
      'ERR_DATASET',
      `Omniglot's evaluation set (${file}) is not in ${source}; run \`twinshot data omniglot\` to download it`,
    );
  }
  for (const [alphabet, characters] of index) if (characters.size < EXPLORER_WAY) index.delete(alphabet);
  if (index.size === 0)
    throw new TwinshotError('ERR_DATASET', `${source}: no evaluation alphabet has ${EXPLORER_WAY} characters`);
  return index;
}

function dataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

interface DrawnTask {
  alphabet: string;
  drawers: [number, number];
  characters: string[];
  answer: number;
  query: Uint8Array;
  candidates: Uint8Array[];
}

/**
 * One trial of Koch et al.'s within-alphabet task (2015, section 4.2): twenty characters of one
 * alphabet drawn by drawer B are the candidates; the query is one of them drawn by drawer A.
 */
function drawTask(index: EvaluationIndex, seed: number): DrawnTask {
  const rng = new Rng(seed);
  const alphabets = [...index.keys()].sort();
  for (let attempt = 0; attempt < 50; attempt++) {
    const alphabet = rng.choice(alphabets);
    const all = index.get(alphabet)!;
    const characters = rng.sampleFrom([...all.keys()].sort(), EXPLORER_WAY);
    // Drawers who drew every chosen character (in the release, all twenty did).
    const common = [...all.get(characters[0]!)!.keys()]
      .filter((d) => characters.every((c) => all.get(c)!.has(d)))
      .sort((a, b) => a - b);
    if (common.length < 2) continue;
    const [a, b] = rng.sampleFrom(common, 2) as [number, number];
    const answer = rng.int(EXPLORER_WAY);
    return {
      alphabet,
      drawers: [a, b],
      characters,
      answer,
      query: all.get(characters[answer]!)!.get(a)!,
      candidates: characters.map((c) => all.get(c)!.get(b)!),
    };
  }
  throw new TwinshotError('ERR_DATASET', `no alphabet has two drawers who drew ${EXPLORER_WAY} common characters`);
}

// ---- metrics logs -------------------------------------------------------------------------------

type LogRecord = { kind: string; step: number; [key: string]: unknown };

/** Parses complete JSONL lines; lines that are not a metrics record (or cut by a crash) are skipped. */
function parseRecords(lines: readonly string[]): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (
        value !== null &&
        typeof value === 'object' &&
        typeof (value as LogRecord).kind === 'string' &&
        typeof (value as LogRecord).step === 'number'
      )
        out.push(value as LogRecord);
    } catch {
      // a partial or damaged line: the log is appended to by another process
    }
  }
  return out;
}

/**
 * Follows a growing JSONL file by polling its size (fs.watch misses changes on some file systems
 * and over network mounts). A file replaced or shortened (a resumed run truncates its log by
 * atomic rename) starts over: `reset` carries every record again.
 */
class LogTail {
  #offset = 0;
  #ino = -1;
  #partial = '';

  constructor(readonly file: string) {}

  /** New records since the last call, and whether the file was replaced (then: all of its records). */
  async poll(): Promise<{ reset: boolean; records: LogRecord[] }> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(this.file);
    } catch {
      const reset = this.#offset > 0;
      this.#offset = 0;
      this.#ino = -1;
      this.#partial = '';
      return { reset, records: [] };
    }
    let reset = false;
    if (stat.ino !== this.#ino || stat.size < this.#offset) {
      reset = this.#ino !== -1;
      this.#ino = stat.ino;
      this.#offset = 0;
      this.#partial = '';
    }
    if (stat.size === this.#offset) return { reset, records: [] };
    const handle = await fs.promises.open(this.file, 'r');
    try {
      const length = stat.size - this.#offset;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      // The writer may be mid-line: keep the unterminated tail for the next poll.
      this.#partial = lines.pop() ?? '';
      return { reset, records: parseRecords(lines) };
    } finally {
      await handle.close();
    }
  }
}

// ---- the plugin ---------------------------------------------------------------------------------

/**
 * Registers the web page's routes on a twinshot app (it uses the app's `recognizer` decoration, so
 * register it inside {@link buildApp}):
 * - `GET /v1/explorer/task?seed=N`: a twenty-way Omniglot task scored by the model;
 * - `GET /v1/runs`, `GET /v1/runs/:run/metrics`: training runs and their metrics logs;
 * - `GET /v1/runs/:run/events`: server-sent events, `reset` then `append` as the log grows.
 */
export const webRoutes: FastifyPluginAsync<WebRoutesOptions> = async (fastify, options) => {
  const recognizer = (fastify as FastifyInstance & { recognizer: Recognizer }).recognizer;
  const runsDir = path.resolve(options.runsDir ?? 'runs');
  const runsDirLabel = options.runsDir ?? 'runs';
  const pollMs = options.pollMs ?? 500;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const tags = ['web page'];

  // The evaluation set is read on the first explorer request, once; a failure is remembered too,
  // so an absent data set costs one look, not one per click.
  let evaluation: Promise<EvaluationIndex> | undefined;
  const loadEvaluation = (): Promise<EvaluationIndex> =>
    (evaluation ??= (async () => {
      if (options.omniglot === null)
        throw new TwinshotError('ERR_DATASET', 'the explorer is turned off on this server (no Omniglot source)');
      return readEvaluationSet(options.omniglot);
    })());

  fastify.get(
    '/v1/explorer/task',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary: "A twenty-way one-shot task from Omniglot's evaluation alphabets, scored by the served model",
        querystring: ExplorerQuery,
        response: { 200: ExplorerResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      let index: EvaluationIndex;
      try {
        index = await loadEvaluation();
      } catch (error) {
        if (isTwinshotError(error) && error.code === 'ERR_DATASET') return { available: false, message: error.message };
        throw error;
      }
      const seed = (request.query as { seed?: number }).seed ?? Math.floor(Math.random() * 2 ** 31);
      const task = drawTask(index, seed);
      const [query, ...candidates] = await recognizer.embed([task.query, ...task.candidates]);
      const { info } = recognizer.embedder;
      const distances = candidates.map((c) => vectorDistance(info.metric, query!, c));
      const choice = distances.reduce((best, d, i) => (d < distances[best]! ? i : best), 0);
      return {
        available: true,
        task: {
          seed,
          alphabet: task.alphabet.replaceAll('_', ' '),
          drawers: task.drawers.map((d) => d + 1),
          model: info.name,
          metric: info.metric,
          threshold: info.threshold,
          query: { image: dataUrl(task.query), character: task.characters[task.answer]! },
          candidates: task.candidates.map((png, i) => ({
            image: dataUrl(png),
            character: task.characters[i]!,
            distance: distances[i]!,
            confidence: recognizer.embedder.confidence(distances[i]!),
          })),
          answer: task.answer,
          choice,
          correct: choice === task.answer,
        },
      };
    },
  );

  fastify.get(
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
      const runs: { name: string; modifiedAt: string; bytes: number; mtime: number }[] = [];
      for (const entry of entries) {
        if (!entry.isDirectory() || !RUN_NAME.test(entry.name)) continue;
        try {
          const stat = await fs.promises.stat(path.join(runsDir, entry.name, METRICS_FILE));
          runs.push({
            name: entry.name,
            modifiedAt: stat.mtime.toISOString(),
            bytes: stat.size,
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
  function runFolder(request: FastifyRequest): { run: string; file: string } {
    const { run } = request.params as { run: string };
    const folder = path.join(runsDir, run);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory())
      throw new TwinshotError('ERR_NOT_FOUND', `no run '${run}' in ${runsDirLabel}`);
    return { run, file: path.join(folder, METRICS_FILE) };
  }

  fastify.get(
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
      const { records } = await new LogTail(file).poll();
      return { run, records };
    },
  );

  // Open event streams, ended before the server closes: Fastify's close waits for open connections.
  const streams = new Set<() => void>();
  fastify.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  fastify.get(
    '/v1/runs/:run/events',
    {
      config: { access: 'any' },
      schema: {
        tags,
        summary:
          "Follows a run's metrics log as server-sent events: `reset` with every record, then `append` with new ones",
        params: RunParams,
        response: { ...ERROR_RESPONSES },
      },
    },
    async (request, reply: FastifyReply) => {
      const { run, file } = runFolder(request);
      const tail = new LogTail(file);
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
          if (ended) return;
          if (first || reset) send('reset', { run, records });
          else if (records.length > 0) send('append', { run, records });
          else if (Date.now() - lastWrite >= keepAliveMs) raw.write(': keep-alive\n\n');
          else return schedule();
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
