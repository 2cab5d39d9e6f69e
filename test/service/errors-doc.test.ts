// docs/errors.md lists every code of the error catalog with its HTTP status, and nothing else
// (as fastify's test/internals/errors.test.js keeps its docs in step).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

const doc = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/errors.md'), 'utf8');

describe('docs/errors.md', () => {
  it('has one row per catalog code, with the catalog status and summary', () => {
    const rows = new Map(
      [...doc.matchAll(/^\|\s*`(ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*([^|]+?)\s*\|/gm)].map((m) => [
        m[1]!,
        { status: Number(m[2]), summary: m[3]!.trim() },
      ]),
    );
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, { status, summary }] of Object.entries(ERROR_CODES)) {
      expect({ code, ...rows.get(code) }).toEqual({ code, status, summary });
    }
  });
});
