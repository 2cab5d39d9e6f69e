// How each kind of twin network becomes ONNX nodes: its embedding (the branch both twins share)
// and its pair head, matched on the network's class. A new model kind adds one entry to
// MODEL_EMITTERS; its layers come from the layer table (layer-emitters.ts).
import { TwinshotError } from '../errors.js';
import { EmbeddingNet, type EmbeddingDistance } from '../models/embedding-net.js';
import { EnsembleNet } from '../models/ensemble.js';
import { Koch2015 } from '../models/koch2015.js';
import type { TwinModel } from '../models/twin-model.js';
import { childPath, emitLayer } from './layer-emitters.js';
import { attr, type OnnxGraph } from './onnx-graph.js';

export interface ModelEmitter<M extends TwinModel> {
  /** images [N, C, S, S] -> codes [N, D], as `model.embed`. */
  embed(g: OnnxGraph, model: M, images: string, path: string): string;
  /** codes a, b [N, D] -> same-class logits [N], as `model.pairLogits`. */
  pairLogits(g: OnnxGraph, model: M, a: string, b: string, path: string): string;
}

/** x / max(||x||_2, eps) along dimension 1 (F.normalize). */
export function l2Normalize(g: OnnxGraph, x: string, eps = 1e-12): string {
  const norm = g.node('ReduceL2', [x, g.ints('axes', [1])], { keepdims: attr.int(1) });
  return g.node('Div', [x, g.node('Max', [norm, g.scalar('eps', eps)])]);
}

/** Distance of each row pair (a[i], b[i]), as embedding-net.ts's rowDistances: [N]. */
function rowDistances(g: OnnxGraph, a: string, b: string, distance: EmbeddingDistance): string {
  const axes = (): string => g.ints('axes', [1]);
  const flat = { keepdims: attr.int(0) };
  switch (distance) {
    case 'squared-euclidean':
      return g.node('ReduceSumSquare', [g.node('Sub', [a, b]), axes()], flat);
    case 'euclidean':
      return g.node('ReduceL2', [g.node('Sub', [a, b]), axes()], flat);
    case 'cosine': {
      // 1 - a.b / (max(||a||, eps) max(||b||, eps)), eps 1e-8 as F.cosineSimilarity
      const dot = g.node('ReduceSum', [g.node('Mul', [a, b]), axes()], flat);
      const eps = g.scalar('eps', 1e-8);
      const norm = (x: string): string => g.node('Max', [g.node('ReduceL2', [x, axes()], flat), eps]);
      return g.node('Sub', [g.scalar('one', 1), g.node('Div', [dot, g.node('Mul', [norm(a), norm(b)])])]);
    }
  }
}

/** scale * (offset - distance): the pair head of embedding networks and ensembles. */
function distanceLogits(g: OnnxGraph, model: EmbeddingNet | EnsembleNet, distance: string, path: string): string {
  const offset = g.weight(childPath(path, 'pair_offset'), model.pairOffset);
  const scale = g.weight(childPath(path, 'pair_scale'), model.pairScale);
  return g.node('Mul', [g.node('Sub', [offset, distance]), scale]);
}

const embeddingNet: ModelEmitter<EmbeddingNet> = {
  embed(g, model, images, path) {
    let h = emitLayer(g, model.backbone, images, childPath(path, 'backbone'));
    if (model.options.globalPool) h = g.node('GlobalAveragePool', [h]);
    h = g.node('Flatten', [h], { axis: attr.int(1) });
    if (model.head !== null) h = emitLayer(g, model.head, h, childPath(path, 'head'));
    return model.options.normalize ? l2Normalize(g, h) : h;
  },
  pairLogits(g, model, a, b, path) {
    return distanceLogits(g, model, rowDistances(g, a, b, model.distance), path);
  },
};

// Unit-length member codes side by side, divided by sqrt(members) (ensemble.ts).
const ensembleNet: ModelEmitter<EnsembleNet> = {
  embed(g, model, images, path) {
    const codes = model.members.map((member, i) =>
      l2Normalize(g, embeddingNet.embed(g, member, images, childPath(path, `member${i}`))),
    );
    const joined = codes.length === 1 ? codes[0]! : g.node('Concat', codes, { axis: attr.int(1) });
    return g.node('Div', [joined, g.scalar('sqrt_members', Math.sqrt(model.members.length))]);
  },
  pairLogits(g, model, a, b, path) {
    return distanceLogits(g, model, rowDistances(g, a, b, 'euclidean'), path);
  },
};

// Koch et al.'s head: sum_j alpha_j |a_j - b_j| + bias, one logit per pair.
const koch2015: ModelEmitter<Koch2015> = {
  embed(g, model, images, path) {
    return emitLayer(g, model.encoder, images, childPath(path, 'encoder'));
  },
  pairLogits(g, model, a, b, path) {
    const weighted = emitLayer(g, model.head, g.node('Abs', [g.node('Sub', [a, b])]), childPath(path, 'head'));
    return g.node('Reshape', [weighted, g.ints('shape', [-1])]);
  },
};

type TwinModelClass = abstract new (...args: never[]) => TwinModel;

/** The emitter of each network class, matched on the exact class. */
const MODEL_EMITTERS = new Map<TwinModelClass, ModelEmitter<never>>([
  [EmbeddingNet, embeddingNet],
  [EnsembleNet, ensembleNet],
  [Koch2015, koch2015],
]);

/**
 * The emitter for `model`'s class.
 * @throws TwinshotError ERR_MODEL for a network kind the exporter does not know
 */
export function modelEmitter(model: TwinModel): ModelEmitter<TwinModel> {
  const emitter = MODEL_EMITTERS.get(model.constructor as TwinModelClass) as ModelEmitter<TwinModel> | undefined;
  if (emitter === undefined)
    throw new TwinshotError(
      'ERR_MODEL',
      `ONNX export: ${model.constructor.name} networks cannot be exported yet; add an entry for it in src/export/model-emitters.ts`,
    );
  return emitter;
}
