// Every op in the addon's table (native/src/ops). A test checks this list against the addon.
export const OP_NAMES = [
  'abs', 'adamStep', 'adaptiveAvgPool2d', 'add', 'add_', 'addcmul', 'affineGrid', 'all', 'allDim', 'amax', 'amin', 'any', 'anyDim',
  'arange', 'argmax', 'argmin', 'avgPool2d', 'backward', 'batchNorm', 'bernoulli', 'binaryCrossEntropy',
  'binaryCrossEntropyWithLogits', 'bmm', 'cat', 'cdist', 'ceil', 'chunk', 'clamp', 'clamp_', 'clipGradNorm', 'clone',
  'constantPad', 'contiguous', 'conv2d', 'copy_', 'cos', 'cosineEmbeddingLoss', 'cosineSimilarity', 'countNonzero',
  'crossEntropy', 'cudaSynchronize', 'cumsum', 'detach', 'device', 'diag', 'diagonal', 'div', 'div_', 'dot',
  'dropout', 'dtype', 'elu', 'empty', 'eq', 'erf', 'exp', 'expand', 'expm1', 'eye', 'fill_', 'flatten', 'flip',
  'floor', 'full', 'gather', 'ge', 'gelu', 'getNumThreads', 'getRngState', 'grad', 'gradFnName', 'gridSample', 'gt',
  'hingeEmbeddingLoss', 'index', 'indexAdd', 'indexPut', 'indexSelect', 'interpolate', 'isContiguous',
  'isGradEnabled', 'isLeaf', 'isfinite', 'isnan', 'item', 'layerNorm', 'le', 'leakyRelu', 'lerp', 'linear',
  'linspace', 'log', 'log1p', 'log2', 'logSigmoid', 'logSoftmax', 'logicalAnd', 'logicalNot', 'logicalOr',
  'logsumexp', 'lt', 'manualSeed', 'marginRankingLoss', 'maskedFill', 'maskedFill_', 'maskedSelect', 'matmul', 'max',
  'maxDim', 'maxPool2d', 'maximum', 'mean', 'min', 'minDim', 'minimum', 'mm', 'mseLoss', 'mul', 'mul_', 'narrow',
  'ne', 'neg', 'nllLoss', 'nonzero', 'norm', 'normal_', 'normalize', 'numel', 'oneHot', 'ones', 'outer',
  'pairwiseDistance', 'permute', 'pow', 'prod', 'rand', 'randint', 'randn', 'randperm', 'reciprocal', 'relu',
  'relu_', 'remainder', 'repeat', 'repeatInterleave', 'requiresGrad', 'reshape', 'retainGrad', 'roll', 'rot90',
  'round', 'rpow', 'rsqrt', 'rsub', 'scatter', 'scatterAdd', 'select', 'setGrad', 'setData', 'setGradEnabled', 'setNumThreads',
  'setRequiresGrad', 'setRngState', 'sgdStep', 'shape', 'sigmoid', 'sign', 'silu', 'sin', 'slice', 'softmax',
  'softplus', 'sort', 'split', 'sqrt', 'square', 'squeeze', 'stack', 'std', 'strides', 'sub', 'sub_', 'sum', 'tanh',
  'to', 'topk', 'transpose', 'tril', 'tripletMarginLoss', 'triu', 'uniform_', 'unsqueeze', 'var', 'view', 'where',
  'zeroGrad', 'zero_', 'zeros',
] as const;

export type OpName = (typeof OP_NAMES)[number];
