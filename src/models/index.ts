// models: twin networks, their inference view, saved model folders and embedders.
export * from './twin-model.js';
export * from './koch2015.js';
export * from './embedding-net.js';
export * from './backbones.js';
export * from './config.js';
export * from './factory.js';
export * from './inference.js';
export * from './embedding-model.js';
export * from './model-folder.js';
export * from './embedder.js';
export { ModelEmbedder, type ModelEmbedderOptions } from './model-embedder.js';
export { PixelEmbedder, type PixelEmbedderOptions } from './pixel-embedder.js';
export * from './ensemble.js';
