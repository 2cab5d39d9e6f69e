// One-shot trial generators: N-way K-shot classification within one group (alphabet) or across
// the whole set, with consistent drawers as in Lake et al.'s and Koch et al.'s Omniglot tasks.
import { Rng } from '../data/random.js';
import type { ImageSet } from '../data/dataset.js';
import type { EvalTask } from './one-shot.js';
import { ArgumentError, TwinshotError } from '../errors.js';

export interface TrialOptions {
  way: number;
  shot: number;
  trials: number;
  seed: number;
  /** Classes of one trial come from one group (alphabet). */
  withinGroup: boolean;
}

/**
 * Independent trials: each draws `way` classes (of one group when `withinGroup`), `shot` support
 * drawers and one other query drawer (random images per class when drawers are unknown), and one
 * query from one of the classes. A trial is one query, so trials are independent for the CI.
 * The support of a trial is `way * shot` indices, class by class.
 */
export function sampleTrials(set: ImageSet, options: TrialOptions): EvalTask[] {
  const { way, shot, trials } = options;
  if (!Number.isInteger(way) || way < 2) throw new ArgumentError(`way must be an integer >= 2; got ${way}`);
  if (!Number.isInteger(shot) || shot < 1) throw new ArgumentError(`shot must be an integer >= 1; got ${shot}`);
  if (!Number.isInteger(trials) || trials < 1) throw new ArgumentError(`trials must be an integer >= 1; got ${trials}`);
  const rng = new Rng(options.seed);
  const drawers = set.drawerIds();
  const useDrawers = drawers.length >= shot + 1;
  const groups = options.withinGroup
    ? Array.from({ length: set.numGroups }, (_, g) => g).filter((g) => set.classesOfGroup(g).length >= way)
    : [-1];
  if (groups.length === 0)
    throw new TwinshotError('ERR_DATASET', `no group of ${set.source} has ${way} classes for ${way}-way trials`);
  if (!options.withinGroup && set.numClasses < way)
    throw new TwinshotError('ERR_DATASET', `${set.source} has fewer than ${way} classes`);
  // image of (class, drawer), for drawer-consistent sampling
  const byDrawer = new Map<number, number>();
  if (useDrawers) for (let i = 0; i < set.size; i++) byDrawer.set(set.labels[i]! * 1000 + set.drawers[i]!, i);

  const tasks: EvalTask[] = [];
  while (tasks.length < trials) {
    const group = groups[rng.int(groups.length)]!;
    const pool = group >= 0 ? set.classesOfGroup(group) : Int32Array.from({ length: set.numClasses }, (_, c) => c);
    const classes = rng.sample(way, pool.length).map((k) => pool[k]!);
    const support: number[] = [];
    let query = -1;
    const answer = rng.int(way);
    if (useDrawers) {
      const chosen = rng.sample(shot + 1, drawers.length).map((k) => drawers[k]!);
      const complete = classes.every((c) => chosen.every((d) => byDrawer.has(c * 1000 + d)));
      if (!complete) continue; // a character missing a drawer's image: draw again
      for (const c of classes) for (const d of chosen.slice(0, shot)) support.push(byDrawer.get(c * 1000 + d)!);
      query = byDrawer.get(classes[answer]! * 1000 + chosen[shot]!)!;
    } else {
      for (let w = 0; w < way; w++) {
        const images = set.imagesOfClass(classes[w]!);
        if (images.length < shot + (w === answer ? 1 : 0))
          throw new TwinshotError(
            'ERR_DATASET',
            `class '${set.classNames[classes[w]!]}' has too few images for ${shot}-shot trials`,
          );
        const picks = rng.sample(shot + (w === answer ? 1 : 0), images.length).map((k) => images[k]!);
        support.push(...picks.slice(0, shot));
        if (w === answer) query = picks[shot]!;
      }
    }
    tasks.push({
      support: Int32Array.from(support),
      queries: Int32Array.of(query),
      answers: Int32Array.of(answer),
      group,
      name: group >= 0 ? set.groupNames[group]! : 'all',
      way,
    });
  }
  return tasks;
}
