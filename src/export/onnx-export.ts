// A saved model as an ONNX file: the 'embed' graph (images -> the vectors twinshot stores and
// searches, test-time views and post-processing included) or the 'twin' graph (two batches of
// images -> same-class logits and probabilities), with what happens before the graph
// (decoding, ink framing, size, inversion) and how to compare the vectors in its metadata.
import fs from 'node:fs';
import path from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { zeros } from '../engine/tensor.js';
import { affineSamplingGrid } from '../data/augment.js';
import type { Preprocessing } from '../data/image.js';
import { INK_MARGIN, INK_THRESHOLD } from '../data/ink-frame.js';
import { TwinshotError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import type { SearchMetric } from '../models/embedder.js';
import type { ArchitectureConfig } from '../models/config.js';
import { testTimeViews, type InferenceModel } from '../models/inference.js';
import { modelDigest } from '../models/model-embedder.js';
import { loadModelFolder, type LoadedModel } from '../models/model-folder.js';
import { l2Normalize, modelEmitter } from './model-emitters.js';
import { attr, OnnxGraph, type Dim } from './onnx-graph.js';

/**
 * ONNX opset 20: the newest version of every operator these graphs use (GridSample-20's 'linear'
 * mode, the Reduce* operators with axes as an input from opset 18); opsets 21 to 23 only add data
 * types. onnxruntime runs it from version 1.17 on, in Node, in browsers (onnxruntime-web) and natively.
 */
export const ONNX_OPSET = 20;
/** The IR version that opset 20 belongs to (ONNX 1.15). */
export const ONNX_IR_VERSION = 9;
export const MANIFEST_FORMAT = 'twinshot-onnx';

export type OnnxGraphKind = 'embed' | 'twin';
export const ONNX_GRAPH_KINDS: readonly OnnxGraphKind[] = ['embed', 'twin'];

export interface TensorSpec {
  name: string;
  dtype: 'float32';
  /** 'batch' is the dynamic batch dimension. */
  shape: Dim[];
  description: string;
}

/** What a consumer needs besides the graph; stored in metadata_props and in the sidecar JSON. */
export interface OnnxManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  graph: OnnxGraphKind;
  /** The model's name and the identity galleries bind its vectors to (name@digest of weights and settings). */
  model: string;
  id: string;
  opset: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** How an image becomes the input tensor, before the graph. */
  preprocessing: Preprocessing & { steps: string[] };
  /** How to compare two 'embeddings' vectors: 'l2' Euclidean, 'l1' sum of absolute differences, 'cosine' 1 - cosine similarity. */
  metric: SearchMetric;
  dim: number;
  /** Test-time views averaged inside the graph. */
  views: number;
  /** Same class when the distance under `metric` is at most `threshold`; p(same) = sigmoid(scale * (threshold - distance)). */
  verification: { threshold: number; scale: number };
  architecture: ArchitectureConfig;
}

export interface OnnxExport {
  bytes: Uint8Array;
  manifest: OnnxManifest;
}

/** The steps that turn an image file into the graph's input, in words (docs/export.md says the same). */
export function preprocessingSteps(pre: Preprocessing): string[] {
  const steps = ['decode to 8-bit grayscale, transparent pixels over white paper'];
  if (pre.frame === 'ink') {
    steps.push(
      `crop to the square centred on the bounding box of the pixels darker than ${INK_THRESHOLD} (ink), its side the box's longer side / ${1 - 2 * INK_MARGIN} (a margin of ${INK_MARGIN} of the side each way), white outside the image; skip when there is no ink`,
    );
  }
  steps.push(`resize to ${pre.size}x${pre.size} with a Lanczos-3 filter (antialiased)`);
  if (pre.invert) steps.push('invert: v -> 255 - v (bright ink on black)');
  steps.push(`divide by 255: float32 in [0, 1], shape [batch, 1, ${pre.size}, ${pre.size}], rows top to bottom`);
  return steps;
}

function imagesSpec(name: string, size: number, what: string): TensorSpec {
  return {
    name,
    dtype: 'float32',
    shape: ['batch', 1, size, size],
    description: `${what}: grayscale images, values in [0, 1] after the preprocessing steps`,
  };
}

/**
 * Test-time views inside the graph: each view samples the input at a constant grid (the grid
 * applyAffine computes), the views go through the network as one batch, and their embeddings are
 * averaged, as InferenceModel.embed does. The batch becomes the channels of one image, so a grid
 * of batch 1 serves any batch size and no weights are repeated.
 */
function withViews(
  g: OnnxGraph,
  images: string,
  size: number,
  views: number,
  embed: (x: string) => string,
  dim: number,
): string {
  if (views === 1) return embed(images);
  const asChannels = g.node('Reshape', [images, g.ints('shape', [1, -1, size, size])]);
  const batches = testTimeViews(views, size).map((params, v) => {
    if (v === 0) return images;
    const grid = tidy(() => affineSamplingGrid([params], size).data() as Float32Array);
    const sampled = g.node('GridSample', [asChannels, g.floats(`view${v}_grid`, [1, size, size, 2], grid)], {
      mode: attr.string('linear'),
      padding_mode: attr.string('zeros'),
      align_corners: attr.int(0),
    });
    return g.node('Reshape', [sampled, g.ints('shape', [-1, 1, size, size])]);
  });
  const codes = embed(g.node('Concat', batches, { axis: attr.int(0) }));
  const perView = g.node('Reshape', [codes, g.ints('shape', [views, -1, dim])]);
  return g.node('ReduceMean', [perView, g.ints('axes', [0])], { keepdims: attr.int(0) });
}

/** InferenceModel.embed's steps after the network: centering on the training mean, Koch's head scales. */
function postprocess(g: OnnxGraph, inference: InferenceModel, codes: string): string {
  let e = codes;
  const mean = inference.centeringMean;
  if (mean !== null)
    e = l2Normalize(g, g.node('Sub', [e, g.floats('training_mean', mean.shape, mean.data() as Float32Array)]));
  const scales = inference.codeScales;
  if (scales !== null) e = g.node('Mul', [e, g.floats('code_scales', scales.shape, scales.data() as Float32Array)]);
  return e;
}

function embedDim(loaded: LoadedModel): number {
  const size = loaded.card.preprocessing.size;
  return tidy(() => noGrad(() => loaded.inference.embed(zeros([1, 1, size, size])).shape[1]!));
}

function producerVersion(): string {
  try {
    const file = new URL('../../package.json', import.meta.url);
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Builds the ONNX file of a loaded model (in eval mode). `weights` are the safetensors bytes, for
 * the model's id.
 */
export function buildOnnx(
  loaded: LoadedModel,
  weights: Uint8Array | null,
  graphKind: OnnxGraphKind = 'embed',
): OnnxExport {
  const { model, inference, card } = loaded;
  if (!ONNX_GRAPH_KINDS.includes(graphKind))
    throw new TwinshotError(
      'ERR_ARGUMENT',
      `the ONNX graph must be one of ${ONNX_GRAPH_KINDS.join(', ')}; got '${graphKind}'`,
    );
  model.eval();
  const emitter = modelEmitter(model);
  const size = card.preprocessing.size;
  const dim = embedDim(loaded);
  const views = inference.settings.views ?? 1;
  const g = new OnnxGraph(`${card.name}-${graphKind}`);
  let inputs: TensorSpec[];
  let outputs: TensorSpec[];
  noGrad(() => {
    if (graphKind === 'embed') {
      inputs = [imagesSpec('images', size, 'the images to embed')];
      outputs = [
        {
          name: 'embeddings',
          dtype: 'float32',
          shape: ['batch', dim],
          description: `one vector per image, compared under the '${inference.metric}' metric`,
        },
      ];
      const images = g.input('images', 'float32', inputs[0]!.shape, inputs[0]!.description);
      const codes = withViews(g, images, size, views, (x) => emitter.embed(g, model, x, ''), dim);
      g.output(postprocess(g, inference, codes), 'embeddings', 'float32', outputs[0]!.shape, outputs[0]!.description);
    } else {
      inputs = [
        imagesSpec('images1', size, 'first image of each pair'),
        imagesSpec('images2', size, 'second image of each pair'),
      ];
      outputs = [
        {
          name: 'logits',
          dtype: 'float32',
          shape: ['batch'],
          description: "the network's same-class logit of each pair",
        },
        {
          name: 'probabilities',
          dtype: 'float32',
          shape: ['batch'],
          description: 'sigmoid of the logit: p(same class)',
        },
      ];
      // Both twins reference the same initializers: the weights are stored once.
      const codes = inputs.map((spec) =>
        emitter.embed(g, model, g.input(spec.name, 'float32', spec.shape, spec.description), ''),
      );
      const logits = emitter.pairLogits(g, model, codes[0]!, codes[1]!, '');
      g.output(logits, 'logits', 'float32', outputs[0]!.shape, outputs[0]!.description);
      g.output(g.node('Sigmoid', [logits]), 'probabilities', 'float32', outputs[1]!.shape, outputs[1]!.description);
    }
  });
  const manifest: OnnxManifest = {
    format: MANIFEST_FORMAT,
    version: 1,
    graph: graphKind,
    model: card.name,
    id: `${card.name}@${modelDigest(weights, card)}`,
    opset: ONNX_OPSET,
    inputs: inputs!,
    outputs: outputs!,
    preprocessing: {
      size,
      invert: card.preprocessing.invert,
      frame: card.preprocessing.frame ?? 'image',
      steps: preprocessingSteps(card.preprocessing),
    },
    metric: inference.metric,
    dim,
    views: graphKind === 'embed' ? views : 1,
    verification: { threshold: card.verification.threshold, scale: card.verification.scale },
    architecture: card.architecture,
  };
  const metadata = Object.fromEntries(
    Object.entries(manifest).map(([key, value]) => [
      `twinshot.${key}`,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
  const bytes = g.encode({
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: 'twinshot',
    producerVersion: producerVersion(),
    docString: `${card.name}: ${graphKind === 'embed' ? 'images -> embeddings' : 'two images -> p(same class)'}; see metadata_props twinshot.*`,
    metadata,
  });
  return { bytes, manifest };
}

export interface ExportOptions {
  /** Where to write the .onnx file; its manifest goes beside it as FILE.json. */
  out: string;
  graph?: OnnxGraphKind;
}

/**
 * Exports the model folder `dir` to an ONNX file and its manifest (`out` and `out`.json), each
 * written atomically.
 * @example exportModelFolder('models/omniglot-fast', { out: 'models/omniglot-fast/model.onnx' })
 * @throws TwinshotError ERR_MODEL for a missing folder or a network the exporter cannot express
 */
export function exportModelFolder(dir: string, options: ExportOptions): OnnxExport & { files: string[] } {
  const loaded = loadModelFolder(dir);
  const result = buildOnnx(
    loaded,
    fs.readFileSync(path.join(loaded.dir, 'model.safetensors')),
    options.graph ?? 'embed',
  );
  const manifestFile = `${options.out}.json`;
  writeFileAtomic(options.out, result.bytes);
  writeFileAtomic(manifestFile, `${JSON.stringify(result.manifest, null, 2)}\n`);
  return { ...result, files: [options.out, manifestFile] };
}
