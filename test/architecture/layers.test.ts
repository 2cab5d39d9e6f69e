// The layers of docs (engine -> nn/optim/io/distributed -> data -> models -> losses/evaluation/gallery/export ->
// training/service -> cli): a lower layer never imports a higher one, statically or dynamically.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../../src');
const LAYER: Record<string, number> = {
  engine: 0,
  nn: 1,
  optim: 1,
  io: 1,
  distributed: 1,
  data: 2,
  models: 3,
  losses: 4,
  evaluation: 4,
  gallery: 4,
  export: 4,
  training: 5,
  service: 5,
  cli: 6,
};

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(file);
    else if (file.endsWith('.ts')) yield file;
  }
}

describe('src/ layers', () => {
  it('has no import from a lower layer into a higher one', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(src)) {
      const from = path.relative(src, file).split(path.sep)[0]!;
      if (!(from in LAYER)) continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.\.?\/[^'"]+)['"]/g)) {
        const to = path.relative(src, path.resolve(path.dirname(file), match[1]!)).split(path.sep)[0]!;
        if (to in LAYER && LAYER[to]! > LAYER[from]!)
          violations.push(`${path.relative(src, file)} imports ${match[1]}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
