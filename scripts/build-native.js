#!/usr/bin/env node
// Builds native/ (the libtorch addon) during `npm install`/`npm ci`, installing Debian's
// libtorch-dev first when it is missing and we are root; otherwise it says what to run.
// Skips the build when the addon is newer than every native source (pass --force to rebuild).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const addon = path.join(nativeDir, 'build/Release/twinshot_native.node');
const { findLibtorch, hasGloo } = require(path.join(nativeDir, 'torch-config.cjs'));

function newestSource() {
  const files = [path.join(nativeDir, 'binding.gyp'), path.join(nativeDir, 'torch-config.cjs')];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(full);
    }
  };
  walk(path.join(nativeDir, 'src'));
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

function ensureLibtorch() {
  let torch = findLibtorch();
  if (torch.found) return torch;
  if (process.env.LIBTORCH) {
    fail(
      `LIBTORCH=${process.env.LIBTORCH} has no include/torch folder. Point LIBTORCH at an unpacked libtorch download.`,
    );
  }
  const isRoot = process.getuid?.() === 0;
  if (isRoot && fs.existsSync('/usr/bin/apt-get')) {
    console.log('twinshot: installing libtorch-dev with apt-get (about a minute)...');
    const run = (args) =>
      spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    let status = run(['install', '-y', '-q', 'libtorch-dev']).status;
    if (status !== 0) {
      run(['update', '-q']);
      status = run(['install', '-y', '-q', 'libtorch-dev']).status;
    }
    torch = findLibtorch();
    if (status === 0 && torch.found) return torch;
  }
  fail(
    'libtorch was not found. Install it with:\n' +
      '    sudo apt-get install libtorch-dev\n' +
      'or download libtorch from https://pytorch.org and set LIBTORCH=/path/to/libtorch, then run `npm rebuild twinshot` (or `npm run build:native`).',
  );
}

// Distributed training's Gloo backend compiles against Gloo's headers, which Debian ships apart
// (libgloo-dev). Without them the addon still builds, without the gloo backend.
function ensureGlooHeaders(torch) {
  if (hasGloo(torch) === '1' || process.env.LIBTORCH) return;
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    console.log('twinshot: installing libgloo-dev (Gloo headers, for distributed training) with apt-get');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (spawnSync('apt-get', ['install', '-y', '-q', 'libgloo-dev'], { stdio: 'inherit', env }).status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
      spawnSync('apt-get', ['install', '-y', '-q', 'libgloo-dev'], { stdio: 'inherit', env });
    }
  }
  if (hasGloo(torch) !== '1') {
    console.warn(
      "twinshot: Gloo's headers are missing, so distributed training will be unavailable; install them with `sudo apt-get install libgloo-dev` and rebuild (`npm run build:native`)",
    );
  }
}

function fail(message) {
  console.error(`twinshot: ${message}`);
  process.exit(1);
}

const force = process.argv.includes('--force');
if (!force && fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newestSource()) {
  console.log('twinshot: native addon is up to date');
  process.exit(0);
}
const torch = ensureLibtorch();
ensureGlooHeaders(torch);
console.log(`twinshot: building the native addon against ${torch.source} (a few minutes the first time)`);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
// Use the headers installed beside this Node (no download), unless npm already names a nodedir.
const args = [nodeGyp, 'rebuild', '--jobs', jobs];
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
try {
  execFileSync(process.execPath, args, { cwd: nativeDir, stdio: 'inherit' });
} catch {
  fail('the native build failed (see the compiler output above).');
}
