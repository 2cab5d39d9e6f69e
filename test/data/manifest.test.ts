import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, parseCsv, readManifest } from '../../src/data/manifest.js';
import { glyphPng, tempDir, warnings, writeTree } from './helpers.js';

describe('parseCsv()', () => {
  it('handles quotes, doubled quotes, commas in fields, CRLF and a BOM', () => {
    const rows = parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\r\n\r\nlast,row');
    expect(rows.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['last', 'row'],
    ]);
    expect(rows[2]!.line).toBe(4);
  });
});

describe('loadManifest()', () => {
  it('reads an image_path, language, character CSV: classes are (language, character)', async () => {
    const root = writeTree(tempDir(), {
      'img/1.png': glyphPng(1, 1),
      'img/2.png': glyphPng(1, 2),
      'img/3.png': glyphPng(2, 1),
      'img/4.png': glyphPng(3, 1),
      'list.csv':
        'image_path,language,character\nimg/1.png,Latin,character01\nimg/2.png,Latin,character01\nimg/3.png,"Greek, old",character01\nimg/4.png,Latin,character02\n',
    });
    const set = await loadManifest(path.join(root, 'list.csv'), { size: 16, cache: false, invert: true });
    expect(set.classNames).toEqual(['Latin/character01', 'Greek, old/character01', 'Latin/character02']);
    expect(set.groupNames).toEqual(['Latin', 'Greek, old']);
    expect(Array.from(set.labels)).toEqual([0, 0, 1, 2]);
    expect(Array.from(set.classGroup)).toEqual([0, 1, 0]);
  });

  it('reads JSON Lines with path, label, optional group and drawer', async () => {
    const root = writeTree(tempDir(), {
      'a.png': glyphPng(1, 1),
      'b.png': glyphPng(2, 1),
      'set.jsonl': '{"path":"a.png","label":"alpha","drawer":3}\n\n{"path":"b.png","label":7}\n',
    });
    const set = await loadManifest(path.join(root, 'set.jsonl'), { size: 8, cache: false });
    expect(set.classNames).toEqual(['alpha', '7']);
    expect(Array.from(set.drawers)).toEqual([3, -1]);
  });

  it('skips listed files that are missing, with a warning naming them', async () => {
    const files: Record<string, Uint8Array | string> = {};
    let csv = 'path,label\n';
    for (let i = 0; i < 12; i++) {
      files[`${i}.png`] = glyphPng(i % 3, i);
      csv += `${i}.png,c${i % 3}\n`;
    }
    csv += 'gone.png,c0\n';
    const root = writeTree(tempDir(), { ...files, 'm.csv': csv });
    const { messages, onWarning } = warnings();
    const set = await loadManifest(path.join(root, 'm.csv'), { size: 8, cache: false, onWarning });
    expect(set.size).toBe(12);
    expect(messages[0]).toMatch(/skipped 1 of 13 files .*gone\.png: could not be read/s);
  });

  it('names the line of a malformed manifest', () => {
    const root = writeTree(tempDir(), {
      'nohead.csv': 'file_name,kind\na.png,x\n',
      'short.csv': 'path,label\na.png,x\nb.png\n',
      'bad.jsonl': '{"path":"a.png","label":"x"}\n{oops\n',
      'nolabel.jsonl': '{"path":"a.png"}\n',
      'empty.csv': '',
    });
    expect(() => readManifest(path.join(root, 'nohead.csv'))).toThrow(
      expect.objectContaining({
        code: 'ERR_FORMAT',
        message: expect.stringMatching(/nohead\.csv:1: the header \(file_name, kind\) needs a path column/),
      }),
    );
    expect(() => readManifest(path.join(root, 'short.csv'))).toThrow(/short\.csv:3: has 1 fields; the header has 2/);
    expect(() => readManifest(path.join(root, 'bad.jsonl'))).toThrow(/bad\.jsonl:2: not valid JSON/);
    expect(() => readManifest(path.join(root, 'nolabel.jsonl'))).toThrow(/nolabel\.jsonl:1: needs a "label"/);
    expect(() => readManifest(path.join(root, 'empty.csv'))).toThrow(
      expect.objectContaining({ code: 'ERR_DATASET', message: expect.stringMatching(/is empty/) }),
    );
    expect(() => readManifest(path.join(root, 'absent.csv'))).toThrow(/cannot be read/);
  });
});
