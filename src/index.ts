// twinshot: one-shot image recognition with twin networks on libtorch.
// The root is the library (tensors to training) and loads no server code: the gallery stores
// (better-sqlite3, pg) and the HTTP service (Fastify) are their own entry points,
// `twinshot/gallery` and `twinshot/service`. Every layer is also importable alone
// (`twinshot/engine`, `twinshot/nn`, ...; see package.json's exports).
export * from './engine/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './io/index.js';
export * as distributed from './distributed/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as losses from './losses/index.js';
export * as training from './training/index.js';
export * as evaluation from './evaluation/index.js';
export * as onnx from './export/index.js';
export * from './errors.js';
