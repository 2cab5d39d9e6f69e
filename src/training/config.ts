// Training configuration: one JSON file validated against a schema (TypeBox), with defaults,
// so a wrong key or value fails before any compute with the path and what was expected. The
// model section is the models' own schema (models/config.ts), composed here.
import fs from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { TwinshotError } from '../errors.js';
import { validate } from '../io/config-schema.js';
import { ModelConfig } from '../models/config.js';
import type { ModelCard } from '../models/model-folder.js';

const Strict = { additionalProperties: false } as const;
const Positive = (description: string, extra: object = {}) =>
  Type.Number({ exclusiveMinimum: 0, description, ...extra });
const Count = (description: string, minimum = 1, extra: object = {}) =>
  Type.Integer({ minimum, description, ...extra });

export const DataConfig = Type.Object(
  {
    source: Type.Union([Type.Literal('omniglot'), Type.Literal('folder'), Type.Literal('manifest')], {
      default: 'omniglot',
      description:
        "'omniglot' reads images_background(.zip); 'folder' an image folder; 'manifest' a CSV/JSONL manifest",
    }),
    path: Type.Optional(
      Type.String({ description: 'where the data is (default: ../shared/omniglot or the download cache)' }),
    ),
    size: Count('side of the square input images, in pixels', 8),
    invert: Type.Boolean({ default: true, description: 'bright ink on black (Omniglot strokes become 255)' }),
    frame: Type.Union([Type.Literal('image'), Type.Literal('ink')], {
      default: 'image',
      description: "'ink' crops each image to the square around its strokes before resizing",
    }),
    validationGroups: Type.Integer({
      minimum: 0,
      default: 5,
      description: 'groups (alphabets) held out for model selection',
    }),
    validationSeed: Type.Integer({ default: 1 }),
    rotations: Type.Boolean({ default: false, description: '90-degree rotations of each class as new classes' }),
  },
  Strict,
);

// Kept here too so `training.ModelConfig` and friends go on working.
export {
  ComparatorModelConfig,
  EmbeddingModelConfig,
  KochModelConfig,
  EnsembleModelConfig,
  ModelConfig,
} from '../models/config.js';
export { validate } from '../io/config-schema.js';

export const LossConfig = Type.Union([
  Type.Object(
    { kind: Type.Literal('prototypical'), temperature: Positive('logit scale divisor', { default: 1 }) },
    Strict,
  ),
  Type.Object(
    {
      kind: Type.Literal('koch-bce'),
      allPairs: Type.Boolean({ default: false, description: 'every pair of a P x K batch from one pass' }),
    },
    Strict,
  ),
  Type.Object(
    {
      kind: Type.Literal('triplet'),
      margin: Positive('triplet margin', { default: 0.2 }),
      miner: Type.Union([Type.Literal('batch-all'), Type.Literal('batch-hard'), Type.Literal('semi-hard')], {
        default: 'semi-hard',
      }),
    },
    Strict,
  ),
  Type.Object({ kind: Type.Literal('contrastive'), margin: Positive('negative margin', { default: 1 }) }, Strict),
]);

export const SamplerConfig = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('episodes'),
      way: Count('classes per episode', 2),
      shot: Count('support images per class'),
      query: Count('query images per class'),
      withinGroup: Type.Boolean({ default: false, description: 'all classes of an episode from one alphabet' }),
    },
    Strict,
  ),
  Type.Object(
    {
      kind: Type.Literal('pairs'),
      batchSize: Count('pairs per batch', 2),
      sameGroupNegatives: Type.Boolean({ default: false }),
    },
    Strict,
  ),
  Type.Object(
    { kind: Type.Literal('pk'), classes: Count('P: classes per batch', 2), perClass: Count('K: images per class', 2) },
    Strict,
  ),
]);

export const AugmentConfig = Type.Object(
  {
    probability: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'chance each affine component is used',
    }),
    rotation: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
    shear: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
    scale: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
    translate: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
    elastic: Type.Optional(
      Type.Object(
        {
          magnitude: Type.Number({ minimum: 0, description: 'largest control-point offset, pixels at 105x105' }),
          controlPoints: Type.Optional(
            Type.Integer({ minimum: 2, description: 'control points per side (default 4)' }),
          ),
          probability: Type.Optional(
            Type.Number({ minimum: 0, maximum: 1, description: 'chance an image is warped (default 0.5)' }),
          ),
        },
        { ...Strict, description: 'smooth random warp on top of the affine distortion (Simard et al. 2003)' },
      ),
    ),
  },
  Strict,
);

const Schedule = Type.Object(
  {
    kind: Type.Union([Type.Literal('constant'), Type.Literal('cosine'), Type.Literal('step')], { default: 'cosine' }),
    warmupSteps: Type.Integer({ minimum: 0, default: 0 }),
    minFactor: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
    stepSize: Type.Optional(Count('steps between decays')),
    gamma: Type.Optional(Positive('decay factor')),
  },
  Strict,
);

export const OptimizerConfig = Type.Union([
  Type.Object(
    {
      kind: Type.Union([Type.Literal('adam'), Type.Literal('adamw')]),
      lr: Positive('learning rate'),
      weightDecay: Type.Number({ minimum: 0, default: 0 }),
      schedule: Schedule,
    },
    Strict,
  ),
  Type.Object(
    {
      kind: Type.Literal('koch-sgd'),
      lr: Type.Array(Positive('learning rate of a layer'), { minItems: 1, description: 'eta_j, one per layer' }),
      momentum: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
        minItems: 1,
        description: 'final mu_j, one per layer',
      }),
      l2: Type.Array(Type.Number({ minimum: 0 }), { minItems: 1, description: 'lambda_j, one per layer' }),
      momentumStart: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
      momentumEpochs: Count('epochs for momentum to reach mu_j', 1),
      lrDecay: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.99, description: 'lr factor per epoch' }),
    },
    Strict,
  ),
]);

export const TrainConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'model name (the output folder name by default)' }),
    seed: Type.Integer({ default: 0 }),
    device: Type.Union([Type.Literal('auto'), Type.Literal('cpu'), Type.Literal('cuda')], {
      default: 'auto',
      description: "'auto' trains on a GPU when libtorch has CUDA and sees one",
    }),
    data: DataConfig,
    model: ModelConfig,
    loss: LossConfig,
    sampler: SamplerConfig,
    augment: Type.Union([AugmentConfig, Type.Null()], { default: null }),
    optimizer: OptimizerConfig,
    training: Type.Object(
      {
        steps: Count('optimizer steps in total'),
        epochSteps: Count('steps per epoch (for per-epoch schedules)', 1, { default: 500 }),
        validateEvery: Count('steps between validations', 1, { default: 500 }),
        validationTrials: Count('20-way one-shot trials per validation', 20, { default: 1000 }),
        patience: Type.Integer({
          minimum: 0,
          default: 0,
          description: 'stop after this many validations without improvement (0: never)',
        }),
        checkpointEvery: Count('steps between checkpoints', 1, { default: 250 }),
        timeLimitMinutes: Type.Optional(Positive('stop (after a checkpoint) when this much time has passed')),
        logEvery: Count('steps between log lines', 1, { default: 50 }),
        ema: Type.Number({
          minimum: 0,
          exclusiveMaximum: 1,
          default: 0,
          description:
            'decay of an exponential moving average of the weights, which is validated and exported instead of the last weights (0: off; 0.998-0.9995 are usual)',
        }),
        refitBatchNorm: Type.Integer({
          minimum: 0,
          default: 0,
          description:
            'batches of 256 un-augmented training images that re-estimate the batch-norm statistics of the validated and exported model (0: keep those gathered in training)',
        }),
        init: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'a model folder whose weights start the network (parts it lacks, such as a new comparator, keep their initialisation)',
          }),
        ),
        precision: Type.Union([Type.Literal('float32'), Type.Literal('bfloat16')], {
          default: 'float32',
          description:
            "arithmetic of the network's forward and backward passes; 'bfloat16' is mixed precision (autocast)",
        }),
      },
      Strict,
    ),
    comparator: Type.Optional(
      Type.Object(
        {
          candidates: Count("each query's nearest supports by embedding that the comparator is trained to rank", 2, {
            default: 10,
          }),
          rankWeight: Type.Number({
            minimum: 0,
            default: 1,
            description: 'weight of the ranking loss among candidates',
          }),
          pairWeight: Type.Number({
            minimum: 0,
            default: 1,
            description: 'weight of the same-or-not loss on the same pairs (what verification uses)',
          }),
          embeddingWeight: Type.Number({
            minimum: 0,
            default: 1,
            description: "weight of the sampler's loss on the embedding (the first stage)",
          }),
        },
        {
          ...Strict,
          description:
            "trains the model's comparator on each episode's queries against their nearest supports (hard negatives mined by the embedding)",
        },
      ),
    ),
    evaluation: Type.Object(
      {
        rerank: Type.Integer({
          minimum: 0,
          default: 0,
          description:
            "with a comparator: re-rank the embedding's nearest this many candidates by the comparator (0: all of a task's candidates)",
        }),
        centering: Type.Boolean({
          default: false,
          description: 'subtract the mean training embedding, then scale to unit length (CL2N)',
        }),
      },
      { ...Strict, default: {} },
    ),
  },
  { ...Strict, $id: 'TrainConfig' },
);

export type TrainConfig = Static<typeof TrainConfigSchema>;

/** Fills defaults and validates; throws one ERR_CONFIG listing every problem with its path. */
export function validateConfig(raw: unknown, origin = 'config'): TrainConfig {
  return validate(TrainConfigSchema, raw, origin);
}

/**
 * The training config a model folder recorded, validated (older folders get today's defaults);
 * undefined when the folder was not made by the trainer.
 */
export function trainingConfigOf(card: ModelCard, origin = `model ${card.name}`): TrainConfig | undefined {
  const recorded = card.training?.config;
  return recorded === undefined ? undefined : validateConfig(recorded, `${origin}: training.config`);
}

/** Reads a JSON config file, applies dotted overrides ({"training.steps": 100}) and validates. */
export function loadConfig(path: string, overrides: Record<string, unknown> = {}): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TwinshotError('ERR_CONFIG', `cannot read config ${path}: ${(error as Error).message}`);
  }
  for (const [key, value] of Object.entries(overrides)) setPath(raw as Record<string, unknown>, key, value);
  return validateConfig(raw, path);
}

/** Sets `a.b.c` in a nested object, creating objects on the way. */
export function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}
