// losses: distances, miners, reducers and the losses built from them.
export * from './distances.js';
export * from './miners.js';
export * from './reducers.js';
export * from './metric-losses.js';
export * from './pair-loss.js';
export * from './comparator-loss.js';
