// io: safetensors files and crash-safe writes.
export * from './safetensors.js';
export * from './atomic-file.js';
