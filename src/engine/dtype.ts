// Element types: names as in PyTorch, codes as libtorch's ScalarType, and the TypedArray
// that holds each one in JavaScript.
import { DTypeError } from '../errors.js';

export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

interface DTypeInfo {
  code: number;
  bytes: number;
  isFloating: boolean;
  array: { new (buffer: ArrayBuffer): TypedArray; new (length: number): TypedArray };
}

export const DTYPES: Record<DType, DTypeInfo> = {
  uint8: { code: 0, bytes: 1, isFloating: false, array: Uint8Array },
  int8: { code: 1, bytes: 1, isFloating: false, array: Int8Array },
  int16: { code: 2, bytes: 2, isFloating: false, array: Int16Array },
  int32: { code: 3, bytes: 4, isFloating: false, array: Int32Array },
  int64: { code: 4, bytes: 8, isFloating: false, array: BigInt64Array },
  float16: { code: 5, bytes: 2, isFloating: true, array: Uint16Array },
  float32: { code: 6, bytes: 4, isFloating: true, array: Float32Array },
  float64: { code: 7, bytes: 8, isFloating: true, array: Float64Array },
  bfloat16: { code: 15, bytes: 2, isFloating: true, array: Uint16Array },
  bool: { code: 11, bytes: 1, isFloating: false, array: Uint8Array },
};

const byCode = new Map<number, DType>(Object.entries(DTYPES).map(([name, info]) => [info.code, name as DType]));

export function dtypeFromCode(code: number): DType {
  const name = byCode.get(code);
  if (name === undefined) throw new DTypeError(`libtorch scalar type ${code} is not one twinshot supports`);
  return name;
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && value in DTYPES;
}

/** The dtype a TypedArray holds by default (Uint8Array is uint8, not bool). */
export function dtypeOfArray(array: ArrayBufferView): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  if (array instanceof BigInt64Array) return 'int64';
  if (array instanceof Int32Array) return 'int32';
  if (array instanceof Int16Array) return 'int16';
  if (array instanceof Int8Array) return 'int8';
  if (array instanceof Uint8Array || array instanceof Uint8ClampedArray) return 'uint8';
  throw new DTypeError(
    `unsupported array type ${array?.constructor?.name ?? typeof array}: use Float32Array, Float64Array, BigInt64Array, Int32Array, Int16Array, Int8Array or Uint8Array`,
  );
}
