// training: configs, the trainer, checkpoints and metrics logs.
export * from './config.js';
export * from './trainer.js';
export * from './checkpoint.js';
export * from './metrics-log.js';
export * from './optimization.js';
export * from './objective.js';
export * from './ensemble.js';
