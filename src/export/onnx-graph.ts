// An ONNX graph under construction: inputs, outputs, float32 initializers (each stored once, as
// little-endian raw_data), nodes with typed attributes, and the ModelProto bytes, encoded with
// protobufjs from ONNX's own schema (vendor/onnx/onnx.proto).
import fs from 'node:fs';
import os from 'node:os';
import protobuf from 'protobufjs';
import type { Tensor } from '../engine/tensor.js';
import { TwinshotError } from '../errors.js';

/** TensorProto.DataType values the exporter writes. */
const DATA_TYPES = { float32: 1, int64: 7 } as const;
export type ElementType = keyof typeof DATA_TYPES;

/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPES = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

/** A node attribute; ONNX types every attribute, so a bare number would be ambiguous. */
export type Attribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'ints'; value: readonly number[] };

export const attr = {
  float: (value: number): Attribute => ({ type: 'float', value }),
  int: (value: number): Attribute => ({ type: 'int', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value }),
};

/** A dimension: a fixed size, or a name for a size chosen at run time (the batch). */
export type Dim = number | string;

interface ValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
  doc_string?: string;
}

interface Initializer {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface Node {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: Record<string, unknown>[];
}

export interface ModelOptions {
  /** The default-domain opset the nodes were written for. */
  opset: number;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  /** String pairs stored in ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

let schema: protobuf.Type | undefined;

/** ONNX's ModelProto, parsed once from the vendored onnx.proto (field names as in the schema). */
function modelProtoType(): protobuf.Type {
  if (schema === undefined) {
    // The same relative path from src/export (sources) and dist/export (the build).
    const file = new URL('../../vendor/onnx/onnx.proto', import.meta.url);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new TwinshotError('ERR_INTERNAL', `ONNX's schema is missing at ${file.pathname}: reinstall twinshot`, {
        cause: error,
      });
    }
    schema = protobuf.parse(text, { keepCase: true }).root.lookupType('onnx.ModelProto');
  }
  return schema;
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[], doc?: string): ValueInfo {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: DATA_TYPES[type], shape: { dim } } }, doc_string: doc };
}

/** Little-endian bytes of a typed array (ONNX's raw_data byte order), without a copy on little-endian hosts. */
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (os.endianness() === 'LE') return bytes;
  const swapped = new Uint8Array(bytes);
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < swapped.length; i += width) swapped.subarray(i, i + width).reverse();
  return swapped;
}

export class OnnxGraph {
  readonly #inputs: ValueInfo[] = [];
  readonly #outputs: ValueInfo[] = [];
  readonly #initializers = new Map<string, Initializer>();
  readonly #nodes: Node[] = [];
  readonly #names = new Set<string>();
  readonly #smallConstants = new Map<string, string>();
  #counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input; `dims` may name dynamic sizes (e.g. 'batch'). */
  input(name: string, type: ElementType, dims: readonly Dim[], doc?: string): string {
    this.#claim(name);
    this.#inputs.push(valueInfo(name, type, dims, doc));
    return name;
  }

  /** Makes `value` a graph output called `name` (through an Identity node when it has another name). */
  output(value: string, name: string, type: ElementType, dims: readonly Dim[], doc?: string): void {
    if (value !== name) this.node('Identity', [value], {}, { output: name });
    this.#outputs.push(valueInfo(name, type, dims, doc));
  }

  /**
   * A float32 weight, named after the module path it comes from (the safetensors key). Asking
   * again for the same name returns it without storing it twice, so shared weights stay shared.
   */
  weight(name: string, tensor: Tensor): string {
    if (this.#initializers.has(name)) return name;
    if (tensor.dtype !== 'float32')
      throw new TwinshotError(
        'ERR_MODEL',
        `ONNX export: weight '${name}' is ${tensor.dtype}; only float32 weights are exported`,
      );
    this.#claim(name);
    const cpu = tensor.device === 'cpu' ? tensor : tensor.to({ device: 'cpu' });
    return this.#store(name, 'float32', [...tensor.shape], cpu.data() as Float32Array);
  }

  /** A constant float32 tensor computed at export time (grids, scaled weights). */
  floats(hint: string, dims: readonly number[], values: Float32Array | readonly number[]): string {
    return this.#store(this.#fresh(hint), 'float32', dims, Float32Array.from(values));
  }

  /** A constant int64 tensor (shapes, axes); equal ones are stored once. */
  ints(hint: string, values: readonly number[]): string {
    return this.#shared(`int64 ${values.join(',')}`, () =>
      this.#store(this.#fresh(hint), 'int64', [values.length], BigInt64Array.from(values.map(BigInt))),
    );
  }

  /** A float32 scalar constant; equal ones are stored once. */
  scalar(hint: string, value: number): string {
    return this.#shared(`float32 ${value}`, () => this.floats(hint, [], [value]));
  }

  /**
   * Appends a node; returns its output's name (fresh unless `options.output` names it).
   * Nodes must be added in an order where each input already exists (ONNX's topological order).
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    options: { output?: string } = {},
  ): string {
    const output = options.output ?? this.#fresh(opType);
    if (options.output !== undefined) this.#claim(output);
    this.#nodes.push({
      name: `${opType}_${this.#nodes.length}`,
      op_type: opType,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attributes).map(([name, a]) => ({
        name,
        type: ATTRIBUTE_TYPES[a.type],
        ...(a.type === 'float' ? { f: a.value } : {}),
        ...(a.type === 'int' ? { i: a.value } : {}),
        ...(a.type === 'string' ? { s: new TextEncoder().encode(a.value) } : {}),
        ...(a.type === 'floats' ? { floats: [...a.value] } : {}),
        ...(a.type === 'ints' ? { ints: [...a.value] } : {}),
      })),
    });
    return output;
  }

  /** The serialized ModelProto (an .onnx file's bytes). */
  encode(options: ModelOptions): Uint8Array {
    const type = modelProtoType();
    const model = {
      ir_version: options.irVersion,
      opset_import: [{ domain: '', version: options.opset }],
      producer_name: options.producerName,
      producer_version: options.producerVersion,
      doc_string: options.docString,
      metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: [...this.#initializers.values()],
        input: this.#inputs,
        output: this.#outputs,
      },
    };
    const problem = type.verify(model);
    if (problem !== null)
      throw new TwinshotError('ERR_INTERNAL', `ONNX export built an invalid ModelProto: ${problem}`);
    return type.encode(type.fromObject(model)).finish();
  }

  #store(name: string, type: ElementType, dims: readonly number[], values: Float32Array | BigInt64Array): string {
    this.#initializers.set(name, {
      name,
      dims: [...dims],
      data_type: DATA_TYPES[type],
      raw_data: littleEndianBytes(values),
    });
    return name;
  }

  #shared(key: string, make: () => string): string {
    let name = this.#smallConstants.get(key);
    if (name === undefined) this.#smallConstants.set(key, (name = make()));
    return name;
  }

  #fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.#counter++}`;
    while (this.#names.has(name));
    this.#names.add(name);
    return name;
  }

  #claim(name: string): void {
    if (this.#names.has(name))
      throw new TwinshotError('ERR_INTERNAL', `ONNX export: the value name '${name}' is used twice`);
    this.#names.add(name);
  }
}

/** What an .onnx file declares about itself; see {@link readOnnxInfo}. */
export interface OnnxInfo {
  irVersion: number;
  /** Opset version of each domain ('' is ONNX's default domain). */
  opsets: Record<string, number>;
  producer: string;
  /** ModelProto.metadata_props. */
  metadata: Record<string, string>;
  inputs: string[];
  outputs: string[];
  /** Each initializer's name and size in bytes, in file order. */
  initializers: { name: string; bytes: number }[];
  /** How many nodes of each operator type the graph holds. */
  operators: Record<string, number>;
}

/**
 * Reads the header facts of an ONNX file (metadata, opsets, inputs, outputs, initializers) with
 * the same schema the exporter writes with; onnxruntime's JavaScript API does not expose them.
 */
export function readOnnxInfo(bytes: Uint8Array): OnnxInfo {
  type Int64 = number | { toNumber(): number };
  type Named = { name: string };
  let model: {
    ir_version: Int64;
    opset_import: { domain: string; version: Int64 }[];
    producer_name: string;
    metadata_props: { key: string; value: string }[];
    graph?: {
      input: Named[];
      output: Named[];
      initializer: (Named & { raw_data: Uint8Array })[];
      node: { op_type: string }[];
    };
  };
  try {
    model = modelProtoType().decode(bytes) as unknown as typeof model;
  } catch (error) {
    throw new TwinshotError('ERR_FORMAT', `not an ONNX model: ${(error as Error).message}`, { cause: error });
  }
  const int = (v: Int64): number => (typeof v === 'number' ? v : v.toNumber());
  const graph = model.graph ?? { input: [], output: [], initializer: [], node: [] };
  const operators: Record<string, number> = {};
  for (const node of graph.node) operators[node.op_type] = (operators[node.op_type] ?? 0) + 1;
  return {
    irVersion: int(model.ir_version),
    opsets: Object.fromEntries(model.opset_import.map((o) => [o.domain, int(o.version)])),
    producer: model.producer_name,
    metadata: Object.fromEntries(model.metadata_props.map((p) => [p.key, p.value])),
    inputs: graph.input.map((v) => v.name),
    outputs: graph.output.map((v) => v.name),
    initializers: graph.initializer.map((t) => ({ name: t.name, bytes: t.raw_data.byteLength })),
    operators,
  };
}
