import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { arange, ones, tensor, zeros, manualSeed, randn } from '../../src/engine/index.js';
import {
  deserializeSafetensors,
  loadFile,
  loadModule,
  saveFile,
  saveModule,
  serializeSafetensors,
} from '../../src/io/safetensors.js';
import { Conv2d, Linear, Sequential, BatchNorm2d } from '../../src/nn/layers.js';
import { TwinshotError } from '../../src/errors.js';
import { runTorch } from '../helpers/python.js';
import { needs, TORCH_PYTHON } from '../helpers/prerequisites.js';
import { expectClose } from '../helpers/assert.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-st-'));

describe('serializeSafetensors()', () => {
  it('writes the bytes of the format’s reference example exactly', () => {
    // safetensors' own serialization test: {"attn.0": F32 [1, 2, 3] = 0..5}
    const bytes = serializeSafetensors({ 'attn.0': arange(6, undefined, 1, { dtype: 'float32' }).reshape(1, 2, 3) });
    const expected = [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('orders tensors by descending dtype, then by name, and pads the header to 8 bytes', () => {
    const bytes = serializeSafetensors({
      b: ones([1]),
      a: ones([1]),
      c: ones([1], { dtype: 'int64' }),
      d: ones([1], { dtype: 'uint8' }),
    });
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength));
    expect(Object.keys(header)).toEqual(['c', 'a', 'b', 'd']);
  });

  it('round-trips every dtype, shape and metadata', () => {
    const tensors = {
      f32: tensor(
        [
          [1.5, -2],
          [3, 4],
        ],
        { dtype: 'float32' },
      ),
      f64: tensor([1e-300, 2], { dtype: 'float64' }),
      i64: tensor([2 ** 40, -3]),
      i32: tensor([1, 2, 3], { dtype: 'int32' }),
      u8: tensor([0, 255], { dtype: 'uint8' }),
      b: tensor([true, false]),
      scalar: tensor(7.25, { dtype: 'float32' }),
      empty: zeros([0, 3]),
      bf16: tensor([1.5, -2, 0.375]).to({ dtype: 'bfloat16' }),
    };
    const { tensors: back, metadata } = deserializeSafetensors(
      serializeSafetensors(tensors, { format: 'pt', note: 'ü' }),
    );
    expect(metadata).toEqual({ format: 'pt', note: 'ü' });
    for (const [name, t] of Object.entries(tensors)) {
      const loaded = back.get(name)!;
      expect(loaded.dtype).toBe(t.dtype);
      expect(loaded.shape).toEqual(t.shape);
      expect(loaded.tolist()).toEqual(t.tolist());
    }
    expect(back.get('bf16')!.float().tolist()).toEqual([1.5, -2, 0.375]);
  });

  it('rejects corrupt files with ERR_FORMAT and a reason', () => {
    const good = serializeSafetensors({ w: ones([4]) });
    expect(() => deserializeSafetensors(good.subarray(0, 5))).toThrow(/too short/);
    expect(() => deserializeSafetensors(good.subarray(0, good.length - 2))).toThrow(
      /invalid data offsets|data section/,
    );
    const garbage = Buffer.from(good);
    garbage[9] = 0x7b; // '{{' is not JSON
    expect(() => deserializeSafetensors(garbage)).toThrow(/not valid JSON/);
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(10n ** 12n, 0);
    expect(() => deserializeSafetensors(huge)).toThrow(TwinshotError);
    const dir = tmp();
    expect(() => loadFile(path.join(dir, 'missing.safetensors'))).toThrow(/cannot read/);
  });
});

describe('saveModule() / loadModule()', () => {
  it('restores a module exactly and refuses a mismatched architecture', () => {
    manualSeed(3);
    const make = () => new Sequential(new Conv2d(1, 4, 3), new BatchNorm2d(4), new Linear(6, 2));
    const a = make();
    const b = make();
    const dir = tmp();
    const file = path.join(dir, 'model.safetensors');
    saveModule(a, file, { arch: 'test' });
    expect(loadModule(b, file)).toEqual({ arch: 'test' });
    for (const [name, t] of a.stateDict()) expect(b.stateDict().get(name)!.toArray()).toEqual(t.toArray());
    const other = new Sequential(new Conv2d(1, 8, 3));
    expect(() => loadModule(other, file)).toThrow(/unexpected keys: .*1\.weight/);
  });
});

needs(TORCH_PYTHON).describe('safetensors against Python (python3-torch)', () => {
  it('reads a file written by Python and Python reads ours', () => {
    manualSeed(5);
    const ours = { weight: randn([3, 4]), counts: tensor([1, 2, 3]), mask: tensor([true, false]) };
    const theirs = runTorch(
      `
outputs['weight_doubled'] = inputs['weight'] * 2
outputs['counts_plus'] = inputs['counts'] + 1
outputs['mask_not'] = ~inputs['mask']
outputs['python_made'] = torch.arange(12, dtype=torch.float64).reshape(3, 4) / 7
`,
      ours,
    );
    expectClose(theirs.weight_doubled!, ours.weight.mul(2));
    expect(theirs.counts_plus!.tolist()).toEqual([2, 3, 4]);
    expect(theirs.mask_not!.tolist()).toEqual([false, true]);
    expect(theirs.python_made!.dtype).toBe('float64');
    expectClose(
      theirs.python_made!,
      Array.from({ length: 12 }, (_, i) => i / 7),
      { atol: 1e-15 },
    );
  });

  it('writes the same bytes as the Python writer for the same tensors', () => {
    const dir = tmp();
    const file = path.join(dir, 'ours.safetensors');
    saveFile(
      {
        'layer.weight': arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3),
        'layer.bias': ones([2]),
        step: tensor(5),
      },
      file,
    );
    const out = runTorch(
      `
import safetensors_io as st2
t = st2.load(${JSON.stringify(file)})
st2.save(t, ${JSON.stringify(file + '.py')})
outputs['same'] = torch.tensor([open(${JSON.stringify(file)}, 'rb').read() == open(${JSON.stringify(file + '.py')}, 'rb').read()])
`,
    );
    expect(out.same!.tolist()).toEqual([true]);
  });
});
