// The package's entry points: one subpath export per layer, and a root import that loads no
// server code (Fastify, pg, sharp, better-sqlite3), checked in a fresh process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const HEAVY = ['fastify', 'pg', 'sharp', 'better-sqlite3', 'prom-client'];

/** The heavy packages a fresh Node process has loaded after importing `file` (CommonJS module cache). */
function heavyPackagesLoadedBy(file: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(file)});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const heavy = ${JSON.stringify(HEAVY)}.filter((name) => loaded.some((f) => f.includes('/node_modules/' + name + '/')));
    console.log(JSON.stringify(heavy));`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TWINSHOT_NUM_THREADS: '1' },
  });
  if (result.status !== 0) throw new Error(`importing ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as string[];
}

describe('package.json exports', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types: string; default: string }>;
  };

  it('gives every layer of src/ a subpath, each compiled from that layer’s index.ts', () => {
    const layers = fs
      .readdirSync(path.join(root, 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'cli')
      .map((entry) => entry.name)
      .sort();
    const subpaths = Object.keys(pkg.exports)
      .filter((key) => key !== '.' && key !== './package.json')
      .map((key) => key.slice(2))
      .sort();
    expect(subpaths).toEqual(layers);
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (key === './package.json') continue;
      const name = key === '.' ? '' : `${key.slice(2)}/`;
      expect(target, key).toEqual({ types: `./dist/${name}index.d.ts`, default: `./dist/${name}index.js` });
      expect(fs.existsSync(path.join(root, 'src', name, 'index.ts')), `src/${name}index.ts`).toBe(true);
    }
  });
});

describe('npm pack', () => {
  it('packs what the install script and the CLI need, and builds only on prepack', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // A `file:` or git install of a folder would run `prepare` (tsc) there; `prepack` runs only when packing.
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(pkg.scripts.prepack).toMatch(/tsc -p tsconfig\.build\.json/);
    const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    const packed = new Set((JSON.parse(result.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
    const installScript = /^node (\S+)$/.exec(pkg.scripts.install!)![1]!;
    for (const file of [
      installScript,
      'native/torch-config.cjs',
      'native/binding.gyp',
      'native/src/addon.cc',
      'bin/twinshot.js',
      'models/omniglot-fast/config.json',
      'models/omniglot-fast/model.safetensors',
      'configs/omniglot-fast.json',
    ]) {
      expect(packed.has(file), file).toBe(true);
    }
    expect([...packed].some((file) => file.startsWith('src/') || file.startsWith('test/'))).toBe(false);
  }, 60_000);
});

describe('importing twinshot', () => {
  it('loads none of the server packages for the root or twinshot/engine', () => {
    expect(heavyPackagesLoadedBy('./src/index.ts')).toEqual([]);
    expect(heavyPackagesLoadedBy('./src/engine/index.ts')).toEqual([]);
  });

  it('loads them for twinshot/gallery, where they belong (so the check can see them)', () => {
    expect(heavyPackagesLoadedBy('./src/gallery/index.ts')).toEqual(expect.arrayContaining(['pg', 'better-sqlite3']));
  });
});
