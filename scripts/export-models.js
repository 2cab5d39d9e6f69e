#!/usr/bin/env node
// `npm run export:models [-- --force]`: writes models/<name>/model.onnx (and model.onnx.json) for
// every shipped model folder, so the service and the web page can hand the ONNX files out without
// running the exporter. Skips a model whose files are newer than its weights, its config and the
// last build of dist/. Runs the build in dist/ (npm run build:ts), as bin/twinshot.js does.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const modelsDir = path.join(root, 'models');
const exporterDir = path.join(root, 'dist/export');
if (!fs.existsSync(path.join(exporterDir, 'onnx-export.js'))) {
  console.error('export:models: dist/export is missing; run `npm run build:ts` first');
  process.exit(1);
}

const mtime = (file) => fs.statSync(file).mtimeMs;
// The exporter reads the models', layers' and data code too: any rebuild of dist/ (tsc rewrites
// every file, dist/index.js included) counts as a change.
const sources = [path.join(root, 'dist/index.js'), path.join(root, 'vendor/onnx/onnx.proto')];
const exporterTime = Math.max(...sources.map(mtime));

const folders = fs
  .readdirSync(modelsDir)
  .map((name) => path.join(modelsDir, name))
  .filter((dir) => fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors')));

let exportModelFolder;
for (const dir of folders) {
  const out = path.join(dir, 'model.onnx');
  const outputs = [out, `${out}.json`];
  const inputsTime = Math.max(
    exporterTime,
    mtime(path.join(dir, 'config.json')),
    mtime(path.join(dir, 'model.safetensors')),
  );
  if (!force && outputs.every((f) => fs.existsSync(f) && mtime(f) > inputsTime)) continue;
  exportModelFolder ??= (await import(pathToFileURL(path.join(exporterDir, 'onnx-export.js')).href)).exportModelFolder;
  const started = performance.now();
  const { bytes, manifest } = exportModelFolder(dir, { out });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  console.log(
    `twinshot: exported ${path.relative(root, out)} (${(bytes.byteLength / 1e6).toFixed(2)} MB, ${manifest.id}, ${seconds} s)`,
  );
}
