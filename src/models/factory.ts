// Builds a network from its architecture config (the `model` block of a training config, also
// saved in every model folder's config.json).
import type { ArchitectureConfig } from './config.js';
import { EmbeddingNet } from './embedding-net.js';
import { Koch2015 } from './koch2015.js';
import type { TwinModel } from './twin-model.js';
import { EnsembleNet } from './ensemble.js';

export function buildModel(architecture: ArchitectureConfig, inputSize: number): TwinModel {
  if (architecture.kind === 'koch2015') return new Koch2015({ inputSize, codeSize: architecture.codeSize });
  if (architecture.kind === 'ensemble') {
    return new EnsembleNet(architecture.members.map((member) => buildModel(member, inputSize) as EmbeddingNet));
  }
  return new EmbeddingNet({
    backbone: architecture.backbone,
    channels: architecture.channels,
    inputSize,
    poolLast: architecture.poolLast,
    globalPool: architecture.globalPool,
    embeddingDim: architecture.embeddingDim ?? null,
    normalize: architecture.normalize,
    distance: architecture.distance,
    comparator: architecture.comparator ?? null,
  });
}
