// Distributed training on libtorch's c10d: process groups, collectives and data parallelism.
export * from './process-group.js';
export * from './data-parallel.js';
