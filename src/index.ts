// twinshot: one-shot image recognition with twin networks on libtorch.
export * from './engine/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './io/index.js';
export * from './errors.js';
