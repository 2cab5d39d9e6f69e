// The service's commands, run in-process through the commander program: keys, gallery, and the
// address rules of serve; plus loadEmbedder and openStore, which they share.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { startServer } from '../../src/service/server.js';
import { loadEmbedder } from '../../src/service/load-embedder.js';
import { openStore } from '../../src/gallery/open-store.js';
import { isTwinshotError } from '../../src/errors.js';
import { drawSymbol } from '../gallery/helpers.js';

/** Runs `twinshot ...args` and returns what it printed. */
async function twinshot(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk).trimEnd());
    return true;
  });
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'twinshot', ...args]);
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
  return lines.join('\n');
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isTwinshotError(error) ? error.code : String((error as Error).message);
  }
}

let dir: string;
let store: string;
const files: Record<string, string> = {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-cli-'));
  store = `sqlite:${path.join(dir, 'g.db')}`;
  for (const [name, png] of [
    ['circle.png', await drawSymbol('circle')],
    ['circle2.png', await drawSymbol('circle', { dx: 2, dy: -2, stroke: 7 })],
    ['cross.png', await drawSymbol('cross')],
  ] as const) {
    files[name] = path.join(dir, name);
    fs.writeFileSync(files[name]!, png);
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('twinshot gallery', () => {
  it('enrolls, identifies, lists, exports, imports and removes', async () => {
    expect(await twinshot('gallery', 'enroll', 'shapes', 'circle', files['circle.png']!, '--store', store)).toMatch(
      /enrolled 1 example/,
    );
    await twinshot('gallery', 'enroll', 'shapes', 'cross', files['cross.png']!, '--store', store);
    const identified = JSON.parse(
      await twinshot('gallery', 'identify', 'shapes', files['circle2.png']!, '--store', store, '-k', '2', '--json'),
    );
    expect(identified).toMatchObject({
      label: 'circle',
      unknown: false,
      matches: [{ label: 'circle' }, { label: 'cross' }],
    });
    expect(await twinshot('gallery', 'identify', 'shapes', files['circle2.png']!, '--store', store)).toMatch(
      /^circle\n {2}circle .*confidence/,
    );
    expect(JSON.parse(await twinshot('gallery', 'list', 'shapes', '--store', store, '--json'))).toEqual([
      { label: 'circle', examples: 1 },
      { label: 'cross', examples: 1 },
    ]);
    expect(await twinshot('gallery', 'list', '--store', store)).toMatch(
      /shapes\s+2 classes, 2 examples {2}\((omniglot-fast@[0-9a-f]{12}|pixels-16), \d+-d l2\)/, // the default model: the shipped one, or pixels-16
    );

    const exportFile = path.join(dir, 'shapes.json');
    await twinshot('gallery', 'export', 'shapes', exportFile, '--store', store);
    expect(JSON.parse(fs.readFileSync(exportFile, 'utf8'))).toMatchObject({
      format: 'twinshot-gallery',
      // Enrolled from files, so each example keeps a picture.
      examples: [{ picture: expect.any(String) }, { picture: expect.any(String) }],
    });
    const bareFile = path.join(dir, 'shapes-bare.json');
    await twinshot('gallery', 'export', 'shapes', bareFile, '--no-pictures', '--store', store);
    const bare = JSON.parse(fs.readFileSync(bareFile, 'utf8')) as { examples: object[] };
    expect(bare.examples.map((e) => 'picture' in e)).toEqual([false, false]);
    expect(await twinshot('gallery', 'import', 'copy', exportFile, '--store', store)).toMatch(/imported 2 examples/);
    // JSON Lines, for galleries too large for one document: streamed in, one transaction.
    const linesFile = path.join(dir, 'shapes.jsonl');
    expect(await twinshot('gallery', 'export', 'shapes', linesFile, '--store', store)).toMatch(/exported 2 examples/);
    const lines = fs.readFileSync(linesFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'twinshot-gallery-lines', version: 1, name: 'shapes' });
    expect(await twinshot('gallery', 'import', 'lines', linesFile, '--store', store)).toMatch(/imported 2 examples/);
    expect(JSON.parse(await twinshot('gallery', 'list', 'lines', '--store', store, '--json'))).toEqual([
      { label: 'circle', examples: 1 },
      { label: 'cross', examples: 1 },
    ]);
    await expect(twinshot('gallery', 'import', 'lines', linesFile, '--replace', '--store', store)).rejects.toThrow(
      /JSON Lines/,
    );
    fs.writeFileSync(linesFile, `${lines[0]}\n${lines[1]}\n{"label":"bad","vector":"AAAA"}\n`);
    expect(await codeOf(twinshot('gallery', 'import', 'lines', linesFile, '--store', store))).toBe('ERR_FORMAT');
    expect(JSON.parse(await twinshot('gallery', 'list', 'lines', '--store', store, '--json'))).toHaveLength(2);

    expect(await twinshot('gallery', 'remove', 'shapes', 'cross', '--store', store)).toMatch(
      /removed 'cross' \(1 example/,
    );
    await expect(twinshot('gallery', 'remove', 'shapes', 'cross', '--store', store)).rejects.toThrow(
      /no class 'cross'/,
    );
    await expect(twinshot('gallery', 'remove', 'copy', '--store', store)).rejects.toThrow(/--yes/);
    expect(await twinshot('gallery', 'remove', 'copy', '--yes', '--store', store)).toMatch(/deleted gallery copy/);
    await expect(twinshot('gallery', 'identify', 'nowhere', files['circle.png']!, '--store', store)).rejects.toThrow(
      /does not exist/,
    );
  });
});

describe('twinshot keys', () => {
  it('creates a key (token printed once), lists it without secrets, and revokes it', async () => {
    const keyStore = `sqlite:${path.join(dir, 'keys.db')}`;
    const created = JSON.parse(
      await twinshot(
        'keys',
        'create',
        '--gallery',
        'shapes',
        '--scope',
        'read',
        '--name',
        'kiosk',
        '--store',
        keyStore,
        '--json',
      ),
    );
    expect(created).toMatchObject({
      gallery: 'shapes',
      scopes: ['read'],
      name: 'kiosk',
      token: expect.stringMatching(/^tsk_/),
    });
    const listed = await twinshot('keys', 'list', '--store', keyStore, '--json');
    expect(JSON.parse(listed)).toEqual([
      expect.objectContaining({ id: created.id, gallery: 'shapes', revokedAt: null }),
    ]);
    expect(listed).not.toContain(created.token);
    expect(listed).not.toContain('hash');
    expect(await twinshot('keys', 'revoke', created.id, '--store', keyStore)).toMatch(/revoked/);
    await expect(twinshot('keys', 'revoke', created.id, '--store', keyStore)).rejects.toThrow(/no active key/);
    await expect(
      twinshot('keys', 'create', '--gallery', 'shapes', '--scope', 'admin', '--store', keyStore),
    ).rejects.toThrow(/unknown scope/);
  });
});

describe('startServer()', () => {
  it('refuses to listen beyond loopback without keys, and does once one exists or with requireKeys', async () => {
    const serverStore = `sqlite:${path.join(dir, 'server.db')}`;
    expect(await codeOf(startServer({ store: serverStore, host: '0.0.0.0', port: 0, logLevel: 'silent' }))).toBe(
      'ERR_CONFIG',
    );
    const local = await startServer({ store: serverStore, port: 0, logLevel: 'silent' });
    expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(local.requireKeys).toBe(false);
    expect((await fetch(`${local.url}/v1/galleries`)).status).toBe(200);
    await local.close();

    const strict = await startServer({
      store: serverStore,
      host: '0.0.0.0',
      port: 0,
      requireKeys: true,
      logLevel: 'silent',
    });
    expect(strict.requireKeys).toBe(true);
    const port = new URL(strict.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/v1/galleries`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await strict.close();

    await twinshot('keys', 'create', '--gallery', '*', '--store', serverStore);
    const keyed = await startServer({ store: serverStore, host: '0.0.0.0', port: 0, logLevel: 'silent' });
    expect(keyed.requireKeys).toBe(true);
    await keyed.close();
  });
});

describe('loadEmbedder()', () => {
  it("loads the pixel baseline for 'pixels' and 'pixels-N', and explains what else is missing", async () => {
    expect((await loadEmbedder('pixels')).info.name).toBe('pixels-16');
    expect((await loadEmbedder('pixels-8')).info.dim).toBe(64);
    expect(await codeOf(loadEmbedder(path.join(dir, 'no-such-model')))).toBe('ERR_MODEL');
    expect(await codeOf(loadEmbedder(dir))).toBe('ERR_MODEL');
  });

  it('finds a shipped model by its name from any working folder', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const spec of ['models/omniglot-fast', 'omniglot-fast']) {
        const embedder = await loadEmbedder(spec);
        expect(embedder.info.name).toBe('omniglot-fast');
        await embedder.close();
      }
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('openStore()', () => {
  it('opens sqlite: URLs (creating folders) and refuses unknown schemes and options', async () => {
    const nested = path.join(dir, 'a', 'b', 'g.db');
    const opened = await openStore(`sqlite:${nested}?synchronous=normal`);
    expect(opened.kind).toBe('sqlite');
    expect(fs.existsSync(nested)).toBe(true);
    await opened.close();
    expect(await codeOf(openStore('mysql://db/x'))).toBe('ERR_CONFIG');
    expect(await codeOf(openStore(`sqlite:${nested}?synchronous=off`))).toBe('ERR_CONFIG');
    expect(await codeOf(openStore('postgres://nobody:secret@127.0.0.1:1/none'))).toBe('ERR_STORE');
    const message = await openStore('postgres://nobody:secret@127.0.0.1:1/none').catch((e: Error) => e.message);
    expect(message).not.toContain('secret');
  });
});
