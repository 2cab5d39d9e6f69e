// An ensemble of embedding networks: each member's embedding is scaled to unit length and the
// codes are concatenated (divided by sqrt(members), so the whole is unit length too). Euclidean
// distance between ensembles is then the root-mean-square of the members' distances between
// unit codes, so every member weighs the same whatever the scale it learned.
import { cat, ones, scalar, type Tensor } from '../engine/tensor.js';
import * as F from '../nn/functional.js';
import { ArgumentError } from '../errors.js';
import { EmbeddingNet, pairwiseDistances, rowDistances } from './embedding-net.js';
import { TwinModel } from './twin-model.js';

export class EnsembleNet extends TwinModel {
  readonly members: readonly EmbeddingNet[];
  readonly pairScale: Tensor;
  readonly pairOffset: Tensor;

  constructor(members: readonly EmbeddingNet[]) {
    super();
    if (members.length === 0) throw new ArgumentError('EnsembleNet: needs at least one member');
    this.members = members;
    members.forEach((member, i) => this.registerModule(`member${i}`, member));
    this.pairScale = this.registerParameter('pair_scale', ones([]).mul(4));
    this.pairOffset = this.registerParameter('pair_offset', scalar(1));
  }

  embed(images: Tensor): Tensor {
    const codes = this.members.map((member) => F.normalize(member.embed(images)));
    return cat(codes, 1).div(Math.sqrt(this.members.length));
  }

  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    return pairwiseDistances(a, b, 'euclidean');
  }

  pairDistances(a: Tensor, b: Tensor): Tensor {
    return rowDistances(a, b, 'euclidean');
  }

  pairLogitMatrix(a: Tensor, b: Tensor): Tensor {
    return this.pairOffset.sub(this.distanceMatrix(a, b)).mul(this.pairScale);
  }

  pairLogits(a: Tensor, b: Tensor): Tensor {
    return this.pairOffset.sub(this.pairDistances(a, b)).mul(this.pairScale);
  }
}
