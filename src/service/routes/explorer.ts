// The web page's one-shot explorer: a twenty-way Omniglot task, scored by the served model.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { isTwinshotError, TwinshotError } from '../../errors.js';
import { readOmniglotFiles, type OmniglotFiles } from '../../data/omniglot-files.js';
import { drawFileTask, FILE_TASK_WAY } from '../../evaluation/file-tasks.js';
import { vectorDistance } from '../../models/embedder.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';

export interface ExplorerOptions {
  /**
   * Where Omniglot is: a folder holding images_evaluation.zip (or the extracted images_evaluation/).
   * Default: wherever `locateOmniglot` finds it; null turns the explorer off.
   */
  omniglot?: string | null;
}

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

/** What visitors are told when there is no data set (the server's log has where it looked). */
const UNAVAILABLE =
  'this server has no Omniglot evaluation set; whoever runs it can get it with `twinshot data omniglot` and restart `twinshot serve`';

function dataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

export const explorerRoutes: FastifyPluginAsync<ServiceContext & ExplorerOptions> = async (app, options) => {
  const { recognizer } = options;
  // The evaluation set is read on the first explorer request, once; a failure is remembered too,
  // so an absent data set costs one look, not one per click.
  let evaluation: Promise<OmniglotFiles> | undefined;
  let reasonLogged = false;
  const loadEvaluation = (): Promise<OmniglotFiles> =>
    (evaluation ??= (async () => {
      if (options.omniglot === null)
        throw new TwinshotError('ERR_DATASET', 'the explorer is turned off on this server (no Omniglot source)');
      return readOmniglotFiles({ source: options.omniglot, split: 'evaluation', minCharacters: FILE_TASK_WAY });
    })());

  app.get<{ Querystring: { seed?: number } }>(
    '/v1/explorer/task',
    {
      config: { access: 'any' },
      schema: {
        tags: ['web page'],
        summary: "A twenty-way one-shot task from Omniglot's evaluation alphabets, scored by the served model",
        querystring: ExplorerQuery,
        response: { 200: ExplorerResponse, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      let files: OmniglotFiles;
      try {
        files = await loadEvaluation();
      } catch (error) {
        if (isTwinshotError(error) && error.code === 'ERR_DATASET') {
          // The reason names the server's folders: it goes to the log (once), not to visitors.
          if (!reasonLogged) request.log.warn({ reason: error.message }, 'the explorer has no Omniglot');
          reasonLogged = true;
          return { available: false, message: UNAVAILABLE };
        }
        throw error;
      }
      const seed = request.query.seed ?? Math.floor(Math.random() * 2 ** 31);
      const task = drawFileTask(files, seed);
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
};
