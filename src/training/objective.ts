// One training step's loss from the configured sampler and loss: every image of a batch is
// augmented and embedded once, then the loss picks its pairs, triplets or episodes by index.
import { autocast } from '../engine/autograd.js';
import { tensor, type Device, type Tensor } from '../engine/tensor.js';
import type { ImageSet } from '../data/dataset.js';
import { EpisodeSampler, PairSampler, PKSampler, type SamplerState } from '../data/samplers.js';
import type { RandomAffine } from '../data/augment.js';
import type { Rng } from '../data/random.js';
import { TwinshotError } from '../errors.js';
import { ContrastiveLoss, PrototypicalLoss, TripletMarginLoss, allPairsBceLoss, pairBceLoss } from '../losses/index.js';
import { BatchAllMiner, BatchHardMiner, SemiHardMiner } from '../losses/miners.js';
import { distanceByName } from '../losses/distances.js';
import type { TwinModel } from '../models/twin-model.js';
import { EmbeddingNet } from '../models/embedding-net.js';
import { comparatorEpisodeLoss } from '../losses/comparator-loss.js';
import type { TrainConfig } from './config.js';

export interface Objective {
  /**
   * Draws the next batch and returns its loss (with the graph), how many images it used and, for
   * losses made of several terms, each term's value (for the log).
   */
  step(model: TwinModel): { loss: Tensor; images: number; parts?: Record<string, number> };
  getState(): SamplerState;
  setState(state: SamplerState): void;
}

type Sampler = EpisodeSampler | PairSampler | PKSampler;

export function buildObjective(config: TrainConfig, set: ImageSet, augment: RandomAffine | null, rng: Rng): Objective {
  const { loss, sampler: samplerConfig } = config;
  const seed = config.seed + 1;
  const images = (indices: ArrayLike<number>): Tensor => {
    const batch = set.batch(indices);
    return augment === null ? batch : augment.apply(batch, rng);
  };
  // Mixed precision covers the network only: losses subtract distances, which bfloat16 would blur.
  const mixed = <T>(x: Tensor, f: () => T): T =>
    config.training.precision === 'float32'
      ? f()
      : autocast(f, { deviceType: x.device.startsWith('cuda') ? 'cuda' : 'cpu' });
  const embed = (model: TwinModel, x: Tensor): Tensor =>
    config.training.precision === 'float32' ? model.embed(x) : mixed(x, () => model.embed(x)).float();
  const distanceName = config.model.kind === 'embedding' ? config.model.distance : 'euclidean';
  const mismatch = (needs: string) =>
    new TwinshotError(
      'ERR_CONFIG',
      `loss '${loss.kind}' needs ${needs}; the config's sampler is '${samplerConfig.kind}'`,
    );

  let sampler: Sampler;
  let lossOf: Objective['step'];

  if (samplerConfig.kind === 'pairs') {
    if (loss.kind !== 'koch-bce' || loss.allPairs) throw mismatch("a 'pk' or 'episodes' sampler");
    const pairs = new PairSampler(set, {
      batchSize: samplerConfig.batchSize,
      seed,
      sameGroupNegatives: samplerConfig.sameGroupNegatives,
    });
    sampler = pairs;
    lossOf = (model) => {
      const batch = pairs.next();
      const n = batch.left.length;
      const codes = embed(model, images([...batch.left, ...batch.right]));
      const logits = model.pairLogits(codes.narrow(0, 0, n), codes.narrow(0, n, n));
      return { loss: pairBceLoss(logits, tensor(batch.targets, { device: logits.device as Device })), images: 2 * n };
    };
  } else {
    if (loss.kind === 'koch-bce' && !loss.allPairs) throw mismatch("a 'pairs' sampler (or allPairs: true)");
    let draw: () => { indices: number[]; labels: number[] };
    const comparator = config.comparator;
    if (comparator === undefined && config.model.kind === 'embedding' && config.model.comparator !== undefined)
      throw new TwinshotError(
        'ERR_CONFIG',
        'model.comparator needs a \'comparator\' section that trains it (e.g. "comparator": { "candidates": 10 }); an untrained one would re-rank at random',
      );
    if (comparator !== undefined) {
      if (loss.kind !== 'prototypical')
        throw new TwinshotError(
          'ERR_CONFIG',
          `comparator training goes with the 'prototypical' loss on the embedding; the config's is '${loss.kind}'`,
        );
      if (samplerConfig.kind !== 'episodes')
        throw new TwinshotError(
          'ERR_CONFIG',
          `comparator training needs an 'episodes' sampler; the config's is '${samplerConfig.kind}'`,
        );
      if (config.model.kind !== 'embedding' || config.model.comparator === undefined)
        throw new TwinshotError(
          'ERR_CONFIG',
          "the config's 'comparator' section trains a model's comparator; add model.comparator",
        );
    }
    if (samplerConfig.kind === 'pk') {
      const pk = new PKSampler(set, { p: samplerConfig.classes, k: samplerConfig.perClass, seed });
      sampler = pk;
      draw = () => {
        const b = pk.next();
        return { indices: [...b.indices], labels: [...b.labels] };
      };
    } else {
      const episodes = new EpisodeSampler(set, {
        way: samplerConfig.way,
        shot: samplerConfig.shot,
        query: samplerConfig.query,
        withinGroup: samplerConfig.withinGroup,
        seed,
      });
      sampler = episodes;
      draw = () => {
        const e = episodes.next();
        return { indices: [...e.support, ...e.query], labels: [...e.supportLabels, ...e.queryLabels] };
      };
    }
    const shots = samplerConfig.kind === 'episodes' ? samplerConfig.shot : 1;
    const distance = distanceByName(distanceName);
    const metric =
      loss.kind === 'prototypical'
        ? new PrototypicalLoss({ shots, distance, temperature: loss.temperature })
        : loss.kind === 'triplet'
          ? new TripletMarginLoss({
              margin: loss.margin,
              distance,
              miner:
                loss.miner === 'semi-hard'
                  ? new SemiHardMiner(distance)
                  : loss.miner === 'batch-hard'
                    ? new BatchHardMiner(distance)
                    : new BatchAllMiner(distance, { margin: loss.margin }),
            })
          : loss.kind === 'contrastive'
            ? new ContrastiveLoss({ negMargin: loss.margin, distance })
            : null;
    lossOf = (model) => {
      const { indices, labels } = draw();
      if (comparator !== undefined && samplerConfig.kind === 'episodes') {
        if (!(model instanceof EmbeddingNet) || model.comparator === null)
          throw new TwinshotError('ERR_CONFIG', 'comparator training needs an embedding network with a comparator');
        const batch = images(indices);
        const codes = mixed(batch, () => model.embedWithFeatures(batch));
        const embeddings = codes.embedding.float();
        const supports = samplerConfig.way * samplerConfig.shot;
        const terms = comparatorEpisodeLoss(
          (a, b, d) => mixed(batch, () => model.comparator!.compare(a, b, d)),
          {
            embeddings,
            features: codes.features!,
            way: samplerConfig.way,
            shot: samplerConfig.shot,
            queryLabels: labels.slice(supports),
          },
          {
            candidates: comparator.candidates,
            rankWeight: comparator.rankWeight,
            calibrate: (logits) => model.comparator!.calibrate(logits),
            pairWeight: comparator.pairWeight,
            distance,
          },
        );
        const embeddingLoss = metric!.forward(embeddings, tensor(labels, { device: embeddings.device as Device }));
        return {
          loss: embeddingLoss.mul(comparator.embeddingWeight).add(terms.loss),
          images: indices.length,
          parts: {
            embedding: embeddingLoss.item(),
            rank: terms.rank.item(),
            pair: terms.pair.item(),
            recall: terms.recall,
          },
        };
      }
      const codes = embed(model, images(indices));
      const labelTensor = tensor(labels, { device: codes.device as Device });
      const value = metric === null ? allPairsBceLoss(model, codes, labelTensor) : metric.forward(codes, labelTensor);
      return { loss: value, images: indices.length };
    };
    if (metric !== null && config.model.kind === 'koch2015') {
      throw new TwinshotError(
        'ERR_CONFIG',
        `loss '${loss.kind}' trains embedding models; koch2015 trains with 'koch-bce'`,
      );
    }
  }
  return {
    step: lossOf,
    getState: () => sampler.getState(),
    setState: (state) => void sampler.setState(state),
  };
}
