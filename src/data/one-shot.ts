// One-shot classification tasks: Koch et al.'s (an alphabet, 20 characters, two drawers) drawn from an
// ImageSet, and the 20 fixed runs of the Omniglot release (`all_runs`), read from a folder or zip.
import fs from 'node:fs';
import path from 'node:path';
import { ArgumentError, TwinshotError } from '../errors.js';
import { buildImageSet, checkPreprocessing, type LabeledSource, type LoadOptions } from './build.js';
import type { ImageSet } from './dataset.js';
import { Rng } from './random.js';
import { readZip } from './zip.js';

/**
 * One N-way one-shot task: each query is compared with every support image, and is right when the
 * closest is `support[answers[q]]`. Indices refer to the ImageSet the task was built on.
 */
export interface OneShotTask {
  /** N image indices, one per class. */
  support: Int32Array;
  /** Image indices of the queries (trials). */
  queries: Int32Array;
  /** For each query, the position in `support` of its class. */
  answers: Int32Array;
  /** Group (alphabet, or run) of the task. */
  group: number;
  /** For reports, e.g. 'Tengwar: drawers 3 vs 17' or 'run07'. */
  name: string;
}

export interface KochOneShotOptions {
  /** Classes per task (default 20). */
  way?: number;
  /** Tasks per eligible group (default 2: Koch et al.'s 40 trials per alphabet). */
  tasksPerGroup?: number;
  /** Only these groups (default: every group with at least `way` classes). */
  groups?: readonly number[];
  seed?: number;
}

/**
 * Koch et al.'s one-shot tasks (2015, section 4.2): pick an alphabet, `way` of its characters and two
 * drawers A and B; each of drawer A's `way` images is a query against drawer B's `way` images,
 * so one task is `way` trials. Groups with fewer than `way` classes are left out.
 *
 * @example
 * const tasks = kochOneShotTasks(evaluation, { seed: 1 }); // 20 alphabets x 2 tasks x 20 trials
 * @throws TwinshotError ERR_DATASET when the set has no drawer information or no group with `way` classes
 */
export function kochOneShotTasks(set: ImageSet, options: KochOneShotOptions = {}): OneShotTask[] {
  const way = options.way ?? 20;
  const perGroup = options.tasksPerGroup ?? 2;
  if (!Number.isInteger(way) || way < 2)
    throw new ArgumentError(`kochOneShotTasks: way must be an integer >= 2; got ${way}`);
  if (!Number.isInteger(perGroup) || perGroup < 1)
    throw new ArgumentError(`kochOneShotTasks: tasksPerGroup must be an integer >= 1; got ${perGroup}`);
  if (set.drawerIds().length < 2) {
    throw new TwinshotError(
      'ERR_DATASET',
      `kochOneShotTasks needs images by at least two drawers; ${set.source} has no drawer information`,
    );
  }
  const groups = (options.groups ?? Array.from({ length: set.numGroups }, (_, g) => g)).filter(
    (g) => set.classesOfGroup(g).length >= way,
  );
  if (groups.length === 0) {
    throw new TwinshotError(
      'ERR_DATASET',
      `kochOneShotTasks: no group of ${set.source} has ${way} classes; lower 'way'`,
    );
  }
  const rng = new Rng(options.seed ?? 0);
  // image of (class, drawer), first one found
  const byClassDrawer = new Map<number, Map<number, number>>();
  for (let i = 0; i < set.size; i++) {
    const c = set.labels[i]!;
    let drawers = byClassDrawer.get(c);
    if (!drawers) byClassDrawer.set(c, (drawers = new Map()));
    if (set.drawers[i]! >= 0 && !drawers.has(set.drawers[i]!)) drawers.set(set.drawers[i]!, i);
  }
  const tasks: OneShotTask[] = [];
  for (const g of groups) {
    const members = set.classesOfGroup(g);
    for (let t = 0; t < perGroup; t++) {
      let made = false;
      for (let attempt = 0; attempt < 20 && !made; attempt++) {
        const classes = rng.sample(way, members.length).map((i) => members[i]!);
        // Drawers who drew every chosen character.
        let common = [...byClassDrawer.get(classes[0]!)!.keys()];
        for (const c of classes.slice(1)) common = common.filter((d) => byClassDrawer.get(c)!.has(d));
        if (common.length < 2) continue;
        common.sort((a, b) => a - b);
        const [a, b] = rng.sample(2, common.length);
        const drawerA = common[a!]!;
        const drawerB = common[b!]!;
        // Support order is shuffled so that the right answer's position carries no information.
        const order = rng.shuffle(Int32Array.from({ length: way }, (_, i) => i));
        const support = new Int32Array(way);
        const answers = new Int32Array(way);
        const queries = new Int32Array(way);
        for (let i = 0; i < way; i++) {
          support[order[i]!] = byClassDrawer.get(classes[i]!)!.get(drawerB)!;
          queries[i] = byClassDrawer.get(classes[i]!)!.get(drawerA)!;
          answers[i] = order[i]!;
        }
        tasks.push({
          support,
          queries,
          answers,
          group: g,
          name: `${set.groupNames[g]}: drawers ${drawerA + 1} vs ${drawerB + 1}`,
        });
        made = true;
      }
      if (!made) {
        throw new TwinshotError(
          'ERR_DATASET',
          `kochOneShotTasks: in group '${set.groupNames[g]}' no two drawers drew ${way} common characters`,
        );
      }
    }
  }
  return tasks;
}

export type ReadOneShotRunsOptions = Omit<LoadOptions, 'cache' | 'maxSkippedFraction'>;

/** The release's one-shot runs: one ImageSet holding every run's images, and one task per run. */
export interface OneShotRuns {
  /** Classes are `runNN/classYY`, groups are runs; each test item carries its answer's class. */
  set: ImageSet;
  tasks: OneShotTask[];
}

const RUN_HELP =
  'expected runNN/class_labels.txt with lines "runNN/test/itemXX.png runNN/training/classYY.png", and runNN/training/, runNN/test/ (as in all_runs.zip of the Omniglot release)';

interface RunFiles {
  name: string;
  labels: string;
  has(relative: string): boolean;
  read(relative: string): Uint8Array;
  display(relative: string): string;
}

function runsFromFolder(root: string): RunFiles[] {
  const found: string[] = [];
  const look = (dir: string, depth: number): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (fs.existsSync(path.join(full, 'class_labels.txt'))) found.push(full);
      else if (depth < 2) look(full, depth + 1);
    }
  };
  look(root, 0);
  return found.map((dir) => ({
    name: path.basename(dir),
    labels: fs.readFileSync(path.join(dir, 'class_labels.txt'), 'utf8'),
    has: (relative) => fs.existsSync(path.join(dir, relative)),
    read: (relative) => fs.readFileSync(path.join(dir, relative)),
    display: (relative) => path.join(dir, relative),
  }));
}

function runsFromZip(file: string): RunFiles[] {
  const entries = readZip(file);
  const runs: RunFiles[] = [];
  for (const name of entries.keys()) {
    if (!name.endsWith('/class_labels.txt') && name !== 'class_labels.txt') continue;
    const prefix = name.slice(0, name.length - 'class_labels.txt'.length);
    runs.push({
      name: path.posix.basename(prefix) || path.basename(file, '.zip'),
      labels: new TextDecoder().decode(entries.get(name)!),
      has: (relative) => entries.has(prefix + relative),
      read: (relative) => entries.get(prefix + relative)!,
      display: (relative) => `${file}:${prefix}${relative}`,
    });
  }
  return runs;
}

/** `runNN/test/item01.png` -> `test/item01.png`: paths in class_labels.txt start with the run's name. */
function insideRun(reference: string): string {
  const parts = reference.replace(/\\/g, '/').split('/').filter(Boolean);
  return parts.slice(-2).join('/');
}

/**
 * Reads the one-shot runs of the Omniglot release (Lake et al. 2015): `runNN/class_labels.txt`,
 * 20 training images (one per class) and 20 test images, from a folder (or one above it) or a zip.
 * Images are preprocessed like training data (inverted by default); nothing is cached.
 *
 * @example
 * const { set, tasks } = await readOneShotRuns('all_runs.zip', { size: 105 }); // 20 tasks x 20 trials
 * @throws TwinshotError ERR_DATASET when no run is found, a listed image is missing or undecodable;
 *   ERR_FORMAT for a malformed class_labels.txt line
 */
export async function readOneShotRuns(source: string, options: ReadOneShotRunsOptions = {}): Promise<OneShotRuns> {
  const preprocessing = checkPreprocessing(options, { size: 105, invert: true });
  const resolved = path.resolve(source);
  const stat = fs.statSync(resolved, { throwIfNoEntry: false });
  if (!stat) throw new TwinshotError('ERR_DATASET', `one-shot runs: ${resolved} does not exist; ${RUN_HELP}`);
  const runs = (stat.isDirectory() ? runsFromFolder(resolved) : runsFromZip(resolved)).sort((a, b) =>
    a.name.localeCompare(b.name, 'en', { numeric: true }),
  );
  if (runs.length === 0) throw new TwinshotError('ERR_DATASET', `no one-shot runs found in ${resolved}; ${RUN_HELP}`);

  const sources: LabeledSource[] = [];
  const plan: { run: string; training: string[]; pairs: [string, string][] }[] = [];
  for (const run of runs) {
    const pairs: [string, string][] = [];
    run.labels.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      const fields = line.trim().split(/\s+/);
      if (fields.length !== 2) {
        throw new TwinshotError(
          'ERR_FORMAT',
          `${run.display('class_labels.txt')}:${i + 1}: expected "test/itemXX.png training/classYY.png"; got "${line.trim()}"`,
        );
      }
      pairs.push([insideRun(fields[0]!), insideRun(fields[1]!)]);
    });
    if (pairs.length === 0)
      throw new TwinshotError('ERR_DATASET', `${run.display('class_labels.txt')} lists no trials; ${RUN_HELP}`);
    const training = [...new Set(pairs.map((p) => p[1]))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const relative of [...training, ...pairs.map((p) => p[0])]) {
      if (!run.has(relative))
        throw new TwinshotError(
          'ERR_DATASET',
          `${run.display(relative)}, listed in class_labels.txt, does not exist; ${RUN_HELP}`,
        );
    }
    for (const relative of training) {
      sources.push({
        path: run.display(relative),
        read: () => run.read(relative),
        className: `${run.name}/${path.posix.basename(relative, '.png')}`,
        groupName: run.name,
        drawer: -1,
      });
    }
    for (const [item, answer] of pairs) {
      sources.push({
        path: run.display(item),
        read: () => run.read(item),
        className: `${run.name}/${path.posix.basename(answer, '.png')}`,
        groupName: run.name,
        drawer: -1,
      });
    }
    plan.push({ run: run.name, training, pairs });
  }
  const set = await buildImageSet({
    sources,
    preprocessing,
    description: resolved,
    cacheName: 'one-shot-runs',
    fingerprint: null,
    options: { ...options, cache: false, maxSkippedFraction: 0 },
  });
  // Sources were added run by run, training images first, and none was skipped, so indices follow.
  const tasks: OneShotTask[] = [];
  let at = 0;
  plan.forEach((p, g) => {
    const support = Int32Array.from(p.training, (_, i) => at + i);
    at += p.training.length;
    const queries = Int32Array.from(p.pairs, (_, i) => at + i);
    at += p.pairs.length;
    const answers = Int32Array.from(p.pairs, ([, answer]) => p.training.indexOf(answer));
    tasks.push({ support, queries, answers, group: g, name: p.run });
  });
  return { set, tasks };
}
