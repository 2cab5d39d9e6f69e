// optim: optimisers over parameter groups, and learning-rate schedules.
export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './lr-scheduler.js';
