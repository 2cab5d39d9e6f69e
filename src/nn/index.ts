// nn: modules, layers, initialisation and the functional API.
export * from './module.js';
export * from './layers.js';
export * as init from './init.js';
export * as functional from './functional.js';
