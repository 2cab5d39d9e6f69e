// Neural-network functions: convolution, pooling, normalisation, losses, resampling.
#include <ATen/ATen.h>

#include "../registry.h"

namespace twinshot {
namespace {

// Reduction codes match at::Reduction: 0 none, 1 mean, 2 sum (mean when absent).
int64_t Reduction(const Args& a, size_t i) { return a.integerIn(i, 0, 2, 1); }

at::Tensor Interpolate(const at::Tensor& x, at::IntArrayRef size, const std::string& mode, bool alignCorners,
                       bool antialias) {
  if (x.dim() != 4) throw ArgumentException("interpolate expects a 4-d [N, C, H, W] tensor");
  if (mode == "bilinear") {
    return antialias ? at::_upsample_bilinear2d_aa(x, size, alignCorners, c10::nullopt, c10::nullopt)
                     : at::upsample_bilinear2d(x, size, alignCorners, c10::nullopt, c10::nullopt);
  }
  if (mode == "bicubic") {
    return antialias ? at::_upsample_bicubic2d_aa(x, size, alignCorners, c10::nullopt, c10::nullopt)
                     : at::upsample_bicubic2d(x, size, alignCorners, c10::nullopt, c10::nullopt);
  }
  if (mode == "nearest") return at::upsample_nearest2d(x, size, c10::nullopt, c10::nullopt);
  if (mode == "area") return at::adaptive_avg_pool2d(x, size);
  throw ArgumentException("interpolate mode must be bilinear, bicubic, nearest or area; got " + mode);
}

}  // namespace

void RegisterNnOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      // (x, weight, bias | null, stride[2], padding[2], dilation[2], groups)
      {"conv2d",
       [](const Args& a) -> Result {
         return at::conv2d(a.tensor(0), a.tensor(1), a.optTensor(2), a.ints(3), a.ints(4), a.ints(5), a.integer(6, 1));
       }},
      // (x, weight, bias | null)
      {"linear", [](const Args& a) -> Result { return at::linear(a.tensor(0), a.tensor(1), a.optTensor(2)); }},
      // (x, kernel[2], stride[2], padding[2], dilation[2], ceilMode)
      {"maxPool2d",
       [](const Args& a) -> Result {
         return at::max_pool2d(a.tensor(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.boolean(5, false));
       }},
      // (x, kernel[2], stride[2], padding[2], ceilMode, countIncludePad)
      {"avgPool2d",
       [](const Args& a) -> Result {
         return at::avg_pool2d(a.tensor(0), a.ints(1), a.ints(2), a.ints(3), a.boolean(4, false), a.boolean(5, true));
       }},
      {"adaptiveAvgPool2d", [](const Args& a) -> Result { return at::adaptive_avg_pool2d(a.tensor(0), a.ints(1)); }},
      // (x, runningMean | null, runningVar | null, weight | null, bias | null, training, momentum, eps)
      {"batchNorm",
       [](const Args& a) -> Result {
         return at::batch_norm(a.tensor(0), a.optTensor(3), a.optTensor(4), a.optTensor(1), a.optTensor(2),
                               a.boolean(5), a.number(6), a.number(7), at::globalContext().userEnabledCuDNN());
       }},
      // (x, normalizedShape, weight | null, bias | null, eps)
      {"layerNorm",
       [](const Args& a) -> Result {
         return at::layer_norm(a.tensor(0), a.ints(1), a.optTensor(2), a.optTensor(3), a.number(4), true);
       }},
      // (x, p, training)
      {"dropout", [](const Args& a) -> Result { return at::dropout(a.tensor(0), a.number(1), a.boolean(2)); }},
      {"softmax", [](const Args& a) -> Result { return at::softmax(a.tensor(0), a.integer(1)); }},
      {"logSoftmax", [](const Args& a) -> Result { return at::log_softmax(a.tensor(0), a.integer(1)); }},
      // (x, p, dim, eps): x / max(||x||_p, eps) along dim
      {"normalize",
       [](const Args& a) -> Result {
         const at::Tensor& x = a.tensor(0);
         at::Tensor norm = x.norm(a.scalar(1), a.integer(2), true).clamp_min(a.number(3)).expand_as(x);
         return x / norm;
       }},
      // (x1, x2, p, eps, keepdim)
      {"pairwiseDistance",
       [](const Args& a) -> Result {
         return at::pairwise_distance(a.tensor(0), a.tensor(1), a.number(2), a.number(3), a.boolean(4, false));
       }},
      // (x1, x2, dim, eps)
      {"cosineSimilarity",
       [](const Args& a) -> Result {
         return at::cosine_similarity(a.tensor(0), a.tensor(1), a.integer(2), a.number(3));
       }},
      // losses: (input, target, weight | null, reduction)
      {"binaryCrossEntropy",
       [](const Args& a) -> Result {
         return at::binary_cross_entropy(a.tensor(0), a.tensor(1), a.optTensor(2), Reduction(a, 3));
       }},
      // (input, target, weight | null, posWeight | null, reduction)
      {"binaryCrossEntropyWithLogits",
       [](const Args& a) -> Result {
         return at::binary_cross_entropy_with_logits(a.tensor(0), a.tensor(1), a.optTensor(2), a.optTensor(3),
                                                     Reduction(a, 4));
       }},
      // (logits, target, weight | null, reduction, ignoreIndex, labelSmoothing)
      {"crossEntropy",
       [](const Args& a) -> Result {
         return at::cross_entropy_loss(a.tensor(0), a.tensor(1), a.optTensor(2), Reduction(a, 3), a.integer(4, -100),
                                       a.number(5, 0.0));
       }},
      // (logProbs, target, weight | null, reduction, ignoreIndex)
      {"nllLoss",
       [](const Args& a) -> Result {
         return at::nll_loss(a.tensor(0), a.tensor(1), a.optTensor(2), Reduction(a, 3), a.integer(4, -100));
       }},
      {"mseLoss", [](const Args& a) -> Result { return at::mse_loss(a.tensor(0), a.tensor(1), Reduction(a, 2)); }},
      // (x1, x2, target, margin, reduction)
      {"marginRankingLoss",
       [](const Args& a) -> Result {
         return at::margin_ranking_loss(a.tensor(0), a.tensor(1), a.tensor(2), a.number(3), Reduction(a, 4));
       }},
      // (x, target, margin, reduction)
      {"hingeEmbeddingLoss",
       [](const Args& a) -> Result {
         return at::hinge_embedding_loss(a.tensor(0), a.tensor(1), a.number(2), Reduction(a, 3));
       }},
      // (x1, x2, target, margin, reduction)
      {"cosineEmbeddingLoss",
       [](const Args& a) -> Result {
         return at::cosine_embedding_loss(a.tensor(0), a.tensor(1), a.tensor(2), a.number(3), Reduction(a, 4));
       }},
      // (anchor, positive, negative, margin, p, eps, swap, reduction)
      {"tripletMarginLoss",
       [](const Args& a) -> Result {
         return at::triplet_margin_loss(a.tensor(0), a.tensor(1), a.tensor(2), a.number(3), a.number(4), a.number(5),
                                        a.boolean(6, false), Reduction(a, 7));
       }},
      // resampling: (theta [N, 2, 3], size [N, C, H, W], alignCorners)
      {"affineGrid",
       [](const Args& a) -> Result { return at::affine_grid_generator(a.tensor(0), a.ints(1), a.boolean(2, false)); }},
      // (x, grid, mode 0 bilinear | 1 nearest | 2 bicubic, padding 0 zeros | 1 border | 2 reflection, alignCorners)
      {"gridSample",
       [](const Args& a) -> Result {
         // libtorch casts both codes to enums unchecked: keep them in range
         return at::grid_sampler(a.tensor(0), a.tensor(1), a.integerIn(2, 0, 2, 0), a.integerIn(3, 0, 2, 0),
                                 a.boolean(4, false));
       }},
      // (x, size[2], mode, alignCorners, antialias)
      {"interpolate",
       [](const Args& a) -> Result {
         return Interpolate(a.tensor(0), a.ints(1), a.text(2), a.boolean(3, false), a.boolean(4, false));
       }},
      // (x, pads, value)
      {"constantPad", [](const Args& a) -> Result { return at::constant_pad_nd(a.tensor(0), a.ints(1), a.scalar(2)); }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
