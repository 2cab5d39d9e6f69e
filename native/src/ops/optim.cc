// Optimiser steps over whole parameter lists in one native call, following PyTorch 1.13's
// single-tensor SGD and Adam/AdamW updates, so a step costs one crossing from JavaScript.
#include <ATen/ATen.h>

#include <cmath>

#include "../registry.h"

namespace twinshot {
namespace {

// Per-parameter hyper-parameters arrive as one flat Float64Array, `width` numbers each.
const double* Row(const std::vector<double>& flat, size_t width, size_t i, size_t count) {
  if (flat.size() != width * count) {
    throw ArgumentException("expected " + std::to_string(width) + " hyper-parameters per parameter");
  }
  return flat.data() + width * i;
}

// (params, momentumBuffers (null until created), hyper [lr, momentum, dampening, weightDecay, nesterov])
// -> the momentum buffers created by this step (null where a buffer existed or none is needed).
// Existing buffers are updated in place and not returned: a fresh handle to each of them every
// step would only keep them referenced until garbage collection.
Result SgdStep(const Args& a) {
  at::NoGradGuard noGrad;
  const auto& params = a.tensors(0);
  std::vector<at::Tensor> buffers = a.optTensors(1);
  const auto& hyper = a.numbers(2);
  if (buffers.size() != params.size()) throw ArgumentException("one momentum buffer slot per parameter");
  std::vector<at::Tensor> created(params.size());
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    const double* h = Row(hyper, 5, i, params.size());
    double lr = h[0], momentum = h[1], dampening = h[2], weightDecay = h[3];
    bool nesterov = h[4] != 0;
    at::Tensor step = weightDecay != 0 ? grad.add(param, weightDecay) : grad;
    if (momentum != 0) {
      at::Tensor& buf = buffers[i];
      if (!buf.defined()) {
        buf = step.clone().detach();
        created[i] = buf;
      } else {
        buf.mul_(momentum).add_(step, 1 - dampening);
      }
      step = nesterov ? step.add(buf, momentum) : buf;
    }
    param.add_(step, -lr);
  }
  return created;
}

// (params, expAvg[], expAvgSq[], hyper [lr, beta1, beta2, eps, weightDecay, decoupled, step])
// -> [...expAvg, ...expAvgSq] created by this step (null where they existed); `step` is the
// 1-based count after this update. As in SgdStep, existing moments are not handed back.
Result AdamStep(const Args& a) {
  at::NoGradGuard noGrad;
  const auto& params = a.tensors(0);
  std::vector<at::Tensor> expAvg = a.optTensors(1);
  std::vector<at::Tensor> expAvgSq = a.optTensors(2);
  const auto& hyper = a.numbers(3);
  if (expAvg.size() != params.size() || expAvgSq.size() != params.size()) {
    throw ArgumentException("one moment slot per parameter");
  }
  size_t n = params.size();
  std::vector<at::Tensor> created(2 * n);
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    const double* h = Row(hyper, 7, i, params.size());
    double lr = h[0], beta1 = h[1], beta2 = h[2], eps = h[3], weightDecay = h[4];
    bool decoupled = h[5] != 0;
    double step = h[6];
    if (!expAvg[i].defined()) created[i] = expAvg[i] = at::zeros_like(param, at::MemoryFormat::Preserve);
    if (!expAvgSq[i].defined()) created[n + i] = expAvgSq[i] = at::zeros_like(param, at::MemoryFormat::Preserve);
    at::Tensor g = grad;
    if (weightDecay != 0) {
      if (decoupled) {
        param.mul_(1 - lr * weightDecay);
      } else {
        g = g.add(param, weightDecay);
      }
    }
    expAvg[i].mul_(beta1).add_(g, 1 - beta1);
    expAvgSq[i].mul_(beta2).addcmul_(g, g, 1 - beta2);
    double biasCorrection1 = 1 - std::pow(beta1, step);
    double biasCorrection2Sqrt = std::sqrt(1 - std::pow(beta2, step));
    at::Tensor denom = (expAvgSq[i].sqrt() / biasCorrection2Sqrt).add_(eps);
    param.addcdiv_(expAvg[i], denom, -lr / biasCorrection1);
  }
  return created;
}

// (params, setToNone)
Result ZeroGrad(const Args& a) {
  bool setToNone = a.boolean(1, true);
  for (at::Tensor p : a.tensors(0)) {
    at::Tensor& grad = p.mutable_grad();
    if (!grad.defined()) continue;
    if (setToNone) {
      grad.reset();
    } else {
      grad.detach_();
      grad.zero_();
    }
  }
  return None{};
}

// (params, maxNorm, normType) -> total norm before clipping, as in torch.nn.utils.clip_grad_norm_
Result ClipGradNorm(const Args& a) {
  at::NoGradGuard noGrad;
  double maxNorm = a.number(1);
  double normType = a.number(2, 2.0);
  std::vector<at::Tensor> norms;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : a.tensors(0)) {
    if (p.grad().defined()) {
      grads.push_back(p.grad());
      norms.push_back(p.grad().norm(normType));
    }
  }
  if (grads.empty()) return 0.0;
  double total = std::isinf(normType) ? at::stack(norms).max().item<double>()
                                      : at::stack(norms).norm(normType).item<double>();
  double scale = maxNorm / (total + 1e-6);
  if (scale < 1) {
    for (at::Tensor& g : grads) g.mul_(scale);
  }
  return total;
}

}  // namespace

void RegisterOptimOps(std::vector<OpEntry>& table) {
  // All change parameters, gradients or state in place: JS thread only.
  table.push_back({"sgdStep", SgdStep, kJsThreadOnly});
  table.push_back({"adamStep", AdamStep, kJsThreadOnly});
  table.push_back({"zeroGrad", ZeroGrad, kJsThreadOnly});
  table.push_back({"clipGradNorm", ClipGradNorm, kJsThreadOnly});
}

}  // namespace twinshot
