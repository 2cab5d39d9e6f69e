// Model configuration: the architecture block of a training config, also saved in every model
// folder's config.json. A model is built from this alone; it never sees how it will be trained.
import { Type, type Static } from '@sinclair/typebox';
import { validate } from '../io/config-schema.js';

const Strict = { additionalProperties: false } as const;
const Count = (description: string, minimum = 1) => Type.Integer({ minimum, description });

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
