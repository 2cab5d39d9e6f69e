// io: safetensors files, crash-safe writes, and following JSON-lines logs.
export * from './safetensors.js';
export * from './atomic-file.js';
export * from './jsonl-tail.js';
