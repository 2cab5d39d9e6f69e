// Model configuration: the architecture block of a training config, also saved in every model
// folder's config.json. A model is built from this alone; it never sees how it will be trained.
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '../io/config-schema.js';

const Strict = { additionalProperties: false } as const;
const Count = (description: string, minimum = 1) => Type.Integer({ minimum, description });

export const ComparatorModelConfig = Type.Object(
  {
    block: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'blocks after which the comparator reads the backbone map (1 = the first)',
    }),
    channels: Type.Integer({
      minimum: 1,
      default: 32,
      description: "channels of each image's compact map, what a gallery stores per example",
    }),
    hidden: Type.Integer({ minimum: 1, default: 64, description: 'width of the per-location relation network' }),
    beforePool: Type.Optional(
      Type.Boolean({ description: "read the block's map before its pooling (conv backbones; four times the locations)" }),
    ),
    useDistance: Type.Boolean({
      default: true,
      description: "add minus the pair's embedding distance to the answer (with a learned weight starting at 1)",
    }),
  },
  {
    ...Strict,
    description: "a head that compares two images' maps and answers same class or not (pair-comparator.ts)",
  },
);

export const EmbeddingModelConfig = Type.Object(
  {
    kind: Type.Literal('embedding'),
    backbone: Type.Union([Type.Literal('conv'), Type.Literal('resnet')], { default: 'conv' }),
    channels: Type.Array(Count('channels of a block'), { minItems: 1, default: [64, 64, 64, 64] }),
    poolLast: Type.Boolean({ default: true }),
    globalPool: Type.Boolean({ default: false }),
    embeddingDim: Type.Optional(Type.Union([Count('linear head output'), Type.Null()])),
    normalize: Type.Boolean({ default: false }),
    distance: Type.Union([Type.Literal('euclidean'), Type.Literal('squared-euclidean'), Type.Literal('cosine')], {
      default: 'squared-euclidean',
    }),
    comparator: Type.Optional(ComparatorModelConfig),
  },
  Strict,
);

export const KochModelConfig = Type.Object(
  {
    kind: Type.Literal('koch2015'),
    codeSize: Count('width of the code layer', 1),
  },
  Strict,
);

export const EnsembleModelConfig = Type.Object(
  {
    kind: Type.Literal('ensemble'),
    members: Type.Array(EmbeddingModelConfig, {
      minItems: 1,
      description: 'embedding networks whose unit-length codes are concatenated',
    }),
  },
  Strict,
);

export const ModelConfig = Type.Union([EmbeddingModelConfig, KochModelConfig, EnsembleModelConfig]);

/** A network's architecture: what `buildModel` takes and a model folder's `architecture` holds. */
export type ArchitectureConfig = Static<typeof ModelConfig>;
export type EmbeddingArchitecture = Static<typeof EmbeddingModelConfig>;

/** Fills the defaults of a model section and validates it; throws one ERR_CONFIG listing every problem. */
export function validateModelConfig(raw: unknown, origin = 'model'): ArchitectureConfig {
  return validate(ModelConfig, raw, origin);
}
