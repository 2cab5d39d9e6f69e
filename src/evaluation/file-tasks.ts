// One twenty-way within-alphabet task drawn from Omniglot's files themselves (not decoded), as the
// web page's explorer shows it: the PNGs of a query and its candidates, reproducible from a seed.
import { TwinshotError } from '../errors.js';
import type { OmniglotFiles } from '../data/omniglot-files.js';
import { Rng } from '../data/random.js';

/** Classes per task: Koch et al.'s and Lake et al.'s twenty-way one-shot classification. */
export const FILE_TASK_WAY = 20;

export interface FileTask {
  alphabet: string;
  /** 0-based drawers of the query and of the candidates. */
  drawers: [number, number];
  /** The candidates' character folders, in candidate order. */
  characters: string[];
  /** Position of the query's character among the candidates. */
  answer: number;
  query: Uint8Array;
  candidates: Uint8Array[];
}

/**
 * One trial of Koch et al.'s within-alphabet task (2015, section 4.2): `way` characters of one
 * alphabet drawn by drawer B are the candidates; the query is one of them drawn by drawer A.
 * @throws TwinshotError ERR_DATASET when no alphabet has two drawers who drew `way` common characters
 */
export function drawFileTask(files: OmniglotFiles, seed: number, way = FILE_TASK_WAY): FileTask {
  const rng = new Rng(seed);
  const alphabets = [...files.keys()].filter((a) => files.get(a)!.size >= way).sort();
  for (let attempt = 0; attempt < 50 && alphabets.length > 0; attempt++) {
    const alphabet = rng.choice(alphabets);
    const all = files.get(alphabet)!;
    const characters = rng.sampleFrom([...all.keys()].sort(), way);
    // Drawers who drew every chosen character (in the release, all twenty did).
    const common = [...all.get(characters[0]!)!.keys()]
      .filter((d) => characters.every((c) => all.get(c)!.has(d)))
      .sort((a, b) => a - b);
    if (common.length < 2) continue;
    const [a, b] = rng.sampleFrom(common, 2) as [number, number];
    const answer = rng.int(way);
    return {
      alphabet,
      drawers: [a, b],
      characters,
      answer,
      query: all.get(characters[answer]!)!.get(a)!,
      candidates: characters.map((c) => all.get(c)!.get(b)!),
    };
  }
  throw new TwinshotError('ERR_DATASET', `no alphabet has two drawers who drew ${way} common characters`);
}
