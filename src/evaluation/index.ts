// evaluation: one-shot protocols, verification and retrieval metrics, confidence intervals.
export * from './statistics.js';
export * from './protocols.js';
export * from './one-shot.js';
export * from './verification.js';
export * from './retrieval.js';
export * from './run-evaluation.js';
export * from './file-tasks.js';
