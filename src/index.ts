// twinshot: one-shot image recognition with twin networks on libtorch.
export * from './engine/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './io/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as losses from './losses/index.js';
export * as training from './training/index.js';
export * as evaluation from './evaluation/index.js';
export * as gallery from './gallery/index.js';
export * as service from './service/index.js';
export * from './errors.js';
