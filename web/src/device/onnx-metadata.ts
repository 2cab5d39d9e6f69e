// Reads an ONNX file's metadata_props, which onnxruntime-web does not expose: the few bytes of
// protobuf the page needs (ModelProto field 14, StringStringEntryProto { key = 1; value = 2; }).

const METADATA_PROPS = 14;
const LENGTH_DELIMITED = 2;

class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  /** A varint as a number (exact up to 2^53, far beyond any length in a model file). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.offset >= this.bytes.length) throw new Error('the ONNX file ends inside a number');
      const byte = this.bytes[this.offset++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 56) throw new Error('the ONNX file holds a number too long to be one');
    }
  }

  /** The bytes of a length-delimited field. */
  chunk(): Uint8Array {
    const length = this.varint();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new Error('the ONNX file ends inside a field');
    const out = this.bytes.subarray(this.offset, end);
    this.offset = end;
    return out;
  }

  /** Skips a field's value of the given wire type. */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.offset += 8;
    else if (wireType === LENGTH_DELIMITED) this.chunk();
    else if (wireType === 5) this.offset += 4;
    else throw new Error(`the ONNX file holds an unknown protobuf wire type ${wireType}`);
  }
}

/**
 * The metadata_props of an ONNX model file, by key.
 * @throws Error when the bytes are not a well-formed protobuf message
 */
export function readOnnxMetadata(bytes: Uint8Array): Map<string, string> {
  const text = new TextDecoder();
  const metadata = new Map<string, string>();
  const model = new Reader(bytes);
  while (!model.done) {
    const tag = model.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field !== METADATA_PROPS || wireType !== LENGTH_DELIMITED) {
      model.skip(wireType);
      continue;
    }
    const entry = new Reader(model.chunk());
    let key = '';
    let value = '';
    while (!entry.done) {
      const entryTag = entry.varint();
      const entryWire = entryTag % 8;
      if (entryWire === LENGTH_DELIMITED && (entryTag >> 3 === 1 || entryTag >> 3 === 2)) {
        const decoded = text.decode(entry.chunk());
        if (entryTag >> 3 === 1) key = decoded;
        else value = decoded;
      } else entry.skip(entryWire);
    }
    metadata.set(key, value);
  }
  return metadata;
}
