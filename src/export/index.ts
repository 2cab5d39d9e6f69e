// export: trained models as ONNX files for other runtimes (onnxruntime in browsers, Python, C#).
export * from './onnx-graph.js';
export * from './layer-emitters.js';
export * from './model-emitters.js';
export * from './onnx-export.js';
