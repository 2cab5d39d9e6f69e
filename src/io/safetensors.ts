// The safetensors format (Hugging Face): 8-byte little-endian header length, a JSON header,
// then raw little-endian tensor bytes. We write what the reference implementation writes:
// tensors ordered by descending dtype then name, compact JSON, header padded with spaces to 8 bytes.
import fs from 'node:fs';
import { DTYPES, type DType } from '../engine/dtype.js';
import { native } from '../engine/native.js';
import { wrap, type Tensor } from '../engine/tensor.js';
import { TwinshotError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { writeFileAtomic } from './atomic-file.js';

const NAMES: Record<DType, string> = {
  bool: 'BOOL',
  uint8: 'U8',
  int8: 'I8',
  int16: 'I16',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
};
const FROM_NAME = new Map(Object.entries(NAMES).map(([dtype, name]) => [name, dtype as DType]));
// The reference implementation's dtype order (ascending alignment); files list larger dtypes first.
const ORDER = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];
const MAX_HEADER_BYTES = 100_000_000;

export type TensorMap = Map<string, Tensor> | Record<string, Tensor>;

function formatError(message: string): TwinshotError {
  return new TwinshotError('ERR_FORMAT', `safetensors: ${message}`);
}

/** Serialises tensors (any device; copied to the host) into safetensors bytes. */
export function serializeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Buffer {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))];
  const named = entries.map(([name, tensor]) => ({ name, tensor, dtype: NAMES[tensor.dtype] }));
  named.sort(
    (a, b) => ORDER.indexOf(b.dtype) - ORDER.indexOf(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    header.__metadata__ = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, tensor, dtype } of named) {
    if (name === '__metadata__') throw formatError("'__metadata__' is reserved and cannot name a tensor");
    const bytes = new Uint8Array(native.toBuffer(tensor.handle));
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    chunks.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
  }
  return out;
}

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Parses safetensors bytes into CPU tensors (copies), validating every offset.
 * @throws TwinshotError ERR_FORMAT naming what is wrong with the file
 */
export function deserializeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
} {
  if (bytes.byteLength < 8) throw formatError(`file is ${bytes.byteLength} bytes; too short for a header`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw formatError(
      `header length ${headerLength} does not fit in a ${bytes.byteLength}-byte file (truncated or not safetensors)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(view.toString('utf8', 8, 8 + headerLength)) as Record<string, unknown>;
  } catch {
    throw formatError('the header is not valid JSON (the file is corrupt or not safetensors)');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw formatError('the header is not a JSON object');
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const infos = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, info]) => [name, info as TensorInfo] as const)
    .sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0]);
  const tensors = new Map<string, Tensor>();
  let expectedStart = 0;
  for (const [name, info] of infos) {
    const dtype = FROM_NAME.get(info?.dtype);
    if (dtype === undefined) throw formatError(`tensor '${name}' has unsupported dtype '${info?.dtype}'`);
    const [start, end] = info.data_offsets ?? [];
    if (!Array.isArray(info.shape) || info.shape.some((s) => !Number.isInteger(s) || s < 0)) {
      throw formatError(`tensor '${name}' has an invalid shape ${JSON.stringify(info.shape)}`);
    }
    const numel = info.shape.reduce((a, b) => a * b, 1);
    if (
      start !== expectedStart ||
      end === undefined ||
      end - start !== numel * DTYPES[dtype].bytes ||
      end > dataLength
    ) {
      throw formatError(
        `tensor '${name}' has invalid data offsets [${start}, ${end}] for shape [${info.shape.join(', ')}] ${info.dtype}`,
      );
    }
    expectedStart = end;
    // Copy into an aligned buffer: the slice may start at any byte.
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(dataStart + start, dataStart + end));
    tensors.set(name, wrap(native.fromBuffer(copy, info.shape, DTYPES[dtype].code)));
  }
  if (expectedStart !== dataLength)
    throw formatError(`the data section is ${dataLength} bytes but the header covers ${expectedStart}`);
  return { tensors, metadata };
}

/** Writes tensors to `path` atomically (a crash never leaves a half-written file). */
export function saveFile(tensors: TensorMap, path: string, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

export function loadFile(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    throw new TwinshotError('ERR_FORMAT', `safetensors: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return deserializeSafetensors(bytes);
  } catch (error) {
    if (error instanceof TwinshotError) throw new TwinshotError(error.code, `${path}: ${error.message}`);
    throw error;
  }
}

/** Saves a module's parameters and buffers under their dotted names. */
export function saveModule(module: Module, path: string, metadata?: Record<string, string>): void {
  saveFile(module.stateDict(), path, metadata);
}

/** Loads a module's state from a safetensors file (strict by default). */
export function loadModule(module: Module, path: string, options: { strict?: boolean } = {}): Record<string, string> {
  const { tensors, metadata } = loadFile(path);
  try {
    module.loadStateDict(tensors, options);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return metadata;
}
