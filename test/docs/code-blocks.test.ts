// Every TypeScript, JavaScript and shell block of README.md and docs/*.md runs as written, in a fresh folder
// outside the repository, as a user would run it: `twinshot` imports resolve to this checkout's
// sources and `twinshot` commands run its CLI. A block too slow or too long-lived to run here (a
// training run, a server) carries `<!-- skip-doc-test: REASON -->` on a line before it; the test
// prints each skip with its reason, and fails on a block that is neither run nor explained.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drawSymbol, SYMBOLS } from '../gallery/helpers.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

const root = path.resolve(import.meta.dirname, '../..');
const RUNNABLE = new Set(['ts', 'typescript', 'js', 'javascript', 'sh', 'bash', 'shell']);
/** A block still running after this is stopped and fails (a server, say, that should have been marked). */
const BLOCK_TIMEOUT_MS = 150_000;
const MARKER = /^<!--\s*skip-doc-test:\s*(.*?)\s*-->$/;

interface CodeBlock {
  /** README.md:97 */
  where: string;
  lang: string;
  code: string;
  /** Why it is not run, from its marker. */
  skip: string | null;
}

/** The fenced blocks of a Markdown file, each with the skip marker on the nearest non-blank line above it. */
function codeBlocks(file: string): CodeBlock[] {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that never closes`);
    let above = i - 1;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const marker = above >= 0 ? MARKER.exec(lines[above]!.trim()) : null;
    blocks.push({
      where: `${file}:${i + 1}`,
      lang: open[1]!,
      code: lines.slice(i + 1, end).join('\n'),
      skip: marker ? marker[1]! : null,
    });
    i = end;
  }
  return blocks;
}

const files = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = files.flatMap(codeBlocks).filter((b) => RUNNABLE.has(b.lang));

let work: string;
const tsxLoader = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-doc-'));
  // A user's ES module project: top-level await works in the examples.
  fs.writeFileSync(
    path.join(work, 'package.json'),
    JSON.stringify({ name: 'doc-examples', private: true, type: 'module' }),
  );
  // `twinshot` and `twinshot/...` imports resolve to this checkout's sources (tsx reads the paths).
  const paths = { twinshot: [path.join(root, 'src/index.ts')], 'twinshot/*': [path.join(root, 'src/*/index.ts')] };
  fs.writeFileSync(
    path.join(work, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', paths } }),
  );
  // The `twinshot` command, from the same sources.
  fs.mkdirSync(path.join(work, 'bin'));
  const command = path.join(work, 'bin', 'twinshot');
  fs.writeFileSync(
    command,
    `#!/bin/sh\nexec "${process.execPath}" --import "${tsxLoader}" "${path.join(root, 'test/service/run-cli.ts')}" "$@"\n`,
  );
  fs.chmodSync(command, 0o755);
  // The images the examples name.
  for (const kind of SYMBOLS.slice(0, 3)) {
    fs.mkdirSync(path.join(work, 'drawings', kind), { recursive: true });
    for (let n = 0; n < 2; n++)
      fs.writeFileSync(path.join(work, 'drawings', kind, `${n}.png`), await drawSymbol(kind, { dx: 3 * n }));
  }
  for (const [name, kind] of [
    ['alpha.png', 'circle'],
    ['beta.png', 'cross'],
    ['query.png', 'circle'],
    ['a.png', 'zigzag'],
    ['b.png', 'zigzag'],
  ] as const) {
    fs.writeFileSync(path.join(work, name), await drawSymbol(kind, { dx: name === 'query.png' ? 4 : 0 }));
  }
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function run(block: CodeBlock, index: number): void {
  const env = { ...process.env, TWINSHOT_NUM_THREADS: '1', PATH: `${path.join(work, 'bin')}:${process.env.PATH}` };
  let result;
  if (block.lang !== 'sh' && block.lang !== 'bash' && block.lang !== 'shell') {
    const file = path.join(work, `block-${index}.${block.lang.startsWith('t') ? 'ts' : 'js'}`);
    fs.writeFileSync(file, block.code);
    result = spawnSync(process.execPath, ['--import', tsxLoader, file], {
      cwd: work,
      env: { ...env, TSX_TSCONFIG_PATH: path.join(work, 'tsconfig.json') },
      encoding: 'utf8',
      timeout: BLOCK_TIMEOUT_MS,
    });
  } else {
    result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block.code], {
      cwd: work,
      env,
      encoding: 'utf8',
      timeout: BLOCK_TIMEOUT_MS,
    });
  }
  if (result.status !== 0) {
    throw new Error(
      `${block.where} exited with ${result.status ?? result.signal}:\n${block.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
}

describe('documentation code blocks', () => {
  it('are each run below, or marked with why they are not', () => {
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks) {
      if (block.skip === null) continue;
      expect(block.skip, `${block.where}: a skip marker needs a reason`).not.toBe('');
      console.log(`not run: ${block.where} (${block.lang}): ${block.skip}`);
    }
  });

  for (const [index, block] of blocks.entries()) {
    if (block.skip !== null) continue;
    // Examples on Omniglot need the data set (and fail under CI without it).
    const test = /loadOmniglot|--protocol|explorer/.test(block.code) ? needs(OMNIGLOT).it : it;
    test(`${block.where} (${block.lang}) runs as written`, () => run(block, index), BLOCK_TIMEOUT_MS + 10_000);
  }
});
