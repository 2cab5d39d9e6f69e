// The served model, run in this browser: its ONNX file from the service (GET /v1/model/onnx), what
// to do before the graph read from the file's own metadata (twinshot.* metadata_props, written by
// `twinshot export`), and one embedding per image with onnxruntime-web.
import type * as Ort from 'onnxruntime-web';
import { authHeaders, errorOf } from '../api.js';
import { readOnnxMetadata } from './onnx-metadata.js';
import { imageToInput, type DevicePreprocessing } from './preprocess.js';
import { loadRuntime } from './runtime.js';

export type DeviceMetric = 'l2' | 'l1' | 'cosine';

/** What the page needs from an exported model's metadata (see docs/export.md). */
export interface DeviceManifest {
  /** The model's name and the identity its vectors are bound to (name@digest). */
  model: string;
  id: string;
  metric: DeviceMetric;
  dim: number;
  preprocessing: DevicePreprocessing;
  /** Same class when the distance is at most `threshold`; p(same) = sigmoid(scale * (threshold - distance)). */
  verification: { threshold: number; scale: number };
  input: string;
  output: string;
}

export interface DeviceModel extends DeviceManifest {
  /** Size of the ONNX file, in bytes. */
  bytes: number;
  /** The image's embedding, computed in this browser. */
  embed(image: Blob): Promise<Float32Array>;
  /** Calibrated probability that two images at `distance` show the same class. */
  confidence(distance: number): number;
}

function parse(metadata: Map<string, string>, key: string): unknown {
  const text = metadata.get(`twinshot.${key}`);
  if (text === undefined) throw new Error(`the model file has no twinshot.${key} in its metadata`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The manifest in an ONNX file's metadata.
 * @throws Error naming what is missing when the file was not written by `twinshot export`
 */
export function manifestOf(metadata: Map<string, string>): DeviceManifest {
  if (metadata.get('twinshot.format') !== 'twinshot-onnx')
    throw new Error('the model file was not written by twinshot export (no twinshot.format in its metadata)');
  if (parse(metadata, 'graph') !== 'embed')
    throw new Error("the model file holds a pair graph; the page needs the embedding graph ('embed')");
  const pre = parse(metadata, 'preprocessing') as Partial<DevicePreprocessing>;
  const verification = parse(metadata, 'verification') as { threshold?: unknown; scale?: unknown };
  const metric = parse(metadata, 'metric');
  const inputs = parse(metadata, 'inputs') as { name?: unknown }[];
  const outputs = parse(metadata, 'outputs') as { name?: unknown }[];
  if (
    typeof pre?.size !== 'number' ||
    typeof pre.invert !== 'boolean' ||
    (pre.frame !== 'image' && pre.frame !== 'ink') ||
    typeof verification?.threshold !== 'number' ||
    typeof verification.scale !== 'number' ||
    (metric !== 'l2' && metric !== 'l1' && metric !== 'cosine') ||
    typeof inputs?.[0]?.name !== 'string' ||
    typeof outputs?.[0]?.name !== 'string'
  ) {
    throw new Error('the model file’s twinshot metadata is incomplete; export it again with twinshot export');
  }
  return {
    model: String(parse(metadata, 'model')),
    id: String(parse(metadata, 'id')),
    metric,
    dim: Number(parse(metadata, 'dim')),
    preprocessing: { size: pre.size, invert: pre.invert, frame: pre.frame },
    verification: { threshold: verification.threshold, scale: verification.scale },
    input: inputs[0]!.name as string,
    output: outputs[0]!.name as string,
  };
}

async function fetchModel(): Promise<Uint8Array> {
  const response = await fetch('/v1/model/onnx', { headers: authHeaders() });
  if (!response.ok) throw await errorOf(response);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Downloads the service's model and starts it in this browser.
 * @throws ApiError when the service cannot give it; Error when the runtime or the file fails
 */
export async function loadDeviceModel(): Promise<DeviceModel> {
  const [ort, file] = await Promise.all([loadRuntime(), fetchModel()]);
  const manifest = manifestOf(readOnnxMetadata(file));
  const session: Ort.InferenceSession = await ort.InferenceSession.create(file, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const { size } = manifest.preprocessing;
  // One run at a time: a session is not re-entrant.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    ...manifest,
    bytes: file.byteLength,
    embed(image) {
      const run = queue.then(async () => {
        const started = performance.now();
        const input = await imageToInput(image, manifest.preprocessing);
        const outputs = await session.run({ [manifest.input]: new ort.Tensor('float32', input, [1, 1, size, size]) });
        const vector = Float32Array.from(outputs[manifest.output]!.data as Float32Array);
        // Decoding, framing, resizing and the network: what one drawing costs (docs/web.md).
        performance.measure('twinshot:device:embed', { start: started, end: performance.now() });
        return vector;
      });
      queue = run.catch(() => {});
      return run;
    },
    confidence(distance) {
      const { threshold, scale } = manifest.verification;
      return 1 / (1 + Math.exp(-scale * (threshold - distance)));
    },
  };
}
