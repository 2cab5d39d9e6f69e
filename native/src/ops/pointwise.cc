// Elementwise arithmetic, comparisons and activations. Binary ops accept a tensor or a
// number as their second argument and broadcast like PyTorch.
#include <ATen/ATen.h>

#include "../registry.h"

namespace twinshot {
namespace {

template <typename TensorFn, typename ScalarFn>
Result Binary(const Args& a, TensorFn withTensor, ScalarFn withScalar) {
  if (a.isTensor(1)) return withTensor(a.tensor(0), a.tensor(1));
  return withScalar(a.tensor(0), a.scalar(1));
}

c10::optional<at::Scalar> OptScalar(const Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  return a.scalar(i);
}

}  // namespace

void RegisterPointwiseOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      // (a, b, alpha = 1)
      {"add",
       [](const Args& a) -> Result {
         at::Scalar alpha = a.scalar(2, 1.0);
         return Binary(
             a, [&](const at::Tensor& x, const at::Tensor& y) { return at::add(x, y, alpha); },
             [&](const at::Tensor& x, const at::Scalar& y) { return at::add(x, y, alpha); });
       }},
      {"sub",
       [](const Args& a) -> Result {
         at::Scalar alpha = a.scalar(2, 1.0);
         return Binary(
             a, [&](const at::Tensor& x, const at::Tensor& y) { return at::sub(x, y, alpha); },
             [&](const at::Tensor& x, const at::Scalar& y) { return at::sub(x, y, alpha); });
       }},
      // (t, scalar): scalar - t
      {"rsub", [](const Args& a) -> Result { return at::rsub(a.tensor(0), a.scalar(1)); }},
      {"mul",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::mul(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::mul(x, y); });
       }},
      {"div",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::div(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::div(x, y); });
       }},
      {"remainder",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::remainder(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::remainder(x, y); });
       }},
      {"pow",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::pow(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::pow(x, y); });
       }},
      // (scalar base, t exponent)
      {"rpow", [](const Args& a) -> Result { return at::pow(a.scalar(1), a.tensor(0)); }},
      {"maximum", [](const Args& a) -> Result { return at::maximum(a.tensor(0), a.tensor(1)); }},
      {"minimum", [](const Args& a) -> Result { return at::minimum(a.tensor(0), a.tensor(1)); }},
      {"eq",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::eq(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::eq(x, y); });
       }},
      {"ne",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::ne(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::ne(x, y); });
       }},
      {"lt",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::lt(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::lt(x, y); });
       }},
      {"le",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::le(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::le(x, y); });
       }},
      {"gt",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::gt(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::gt(x, y); });
       }},
      {"ge",
       [](const Args& a) -> Result {
         return Binary(
             a, [](const at::Tensor& x, const at::Tensor& y) { return at::ge(x, y); },
             [](const at::Tensor& x, const at::Scalar& y) { return at::ge(x, y); });
       }},
      {"logicalAnd", [](const Args& a) -> Result { return at::logical_and(a.tensor(0), a.tensor(1)); }},
      {"logicalOr", [](const Args& a) -> Result { return at::logical_or(a.tensor(0), a.tensor(1)); }},
      {"logicalNot", [](const Args& a) -> Result { return at::logical_not(a.tensor(0)); }},
      // (condition, a, b)
      {"where", [](const Args& a) -> Result { return at::where(a.tensor(0), a.tensor(1), a.tensor(2)); }},
      {"neg", [](const Args& a) -> Result { return at::neg(a.tensor(0)); }},
      {"abs", [](const Args& a) -> Result { return at::abs(a.tensor(0)); }},
      {"sign", [](const Args& a) -> Result { return at::sign(a.tensor(0)); }},
      {"exp", [](const Args& a) -> Result { return at::exp(a.tensor(0)); }},
      {"expm1", [](const Args& a) -> Result { return at::expm1(a.tensor(0)); }},
      {"log", [](const Args& a) -> Result { return at::log(a.tensor(0)); }},
      {"log1p", [](const Args& a) -> Result { return at::log1p(a.tensor(0)); }},
      {"log2", [](const Args& a) -> Result { return at::log2(a.tensor(0)); }},
      {"sqrt", [](const Args& a) -> Result { return at::sqrt(a.tensor(0)); }},
      {"rsqrt", [](const Args& a) -> Result { return at::rsqrt(a.tensor(0)); }},
      {"square", [](const Args& a) -> Result { return at::square(a.tensor(0)); }},
      {"reciprocal", [](const Args& a) -> Result { return at::reciprocal(a.tensor(0)); }},
      {"sin", [](const Args& a) -> Result { return at::sin(a.tensor(0)); }},
      {"cos", [](const Args& a) -> Result { return at::cos(a.tensor(0)); }},
      {"tanh", [](const Args& a) -> Result { return at::tanh(a.tensor(0)); }},
      {"erf", [](const Args& a) -> Result { return at::erf(a.tensor(0)); }},
      {"floor", [](const Args& a) -> Result { return at::floor(a.tensor(0)); }},
      {"ceil", [](const Args& a) -> Result { return at::ceil(a.tensor(0)); }},
      {"round", [](const Args& a) -> Result { return at::round(a.tensor(0)); }},
      {"isnan", [](const Args& a) -> Result { return at::isnan(a.tensor(0)); }},
      {"isfinite", [](const Args& a) -> Result { return at::isfinite(a.tensor(0)); }},
      {"sigmoid", [](const Args& a) -> Result { return at::sigmoid(a.tensor(0)); }},
      {"logSigmoid", [](const Args& a) -> Result { return at::log_sigmoid(a.tensor(0)); }},
      {"relu", [](const Args& a) -> Result { return at::relu(a.tensor(0)); }},
      // In-place ops return nothing (a second handle would keep the tensor alive until GC).
      {"relu_",
       [](const Args& a) -> Result {
         a.tensor(0).relu_();
         return None{};
       },
       kJsThreadOnly},
      {"gelu", [](const Args& a) -> Result { return at::gelu(a.tensor(0)); }},
      {"silu", [](const Args& a) -> Result { return at::silu(a.tensor(0)); }},
      // (x, negativeSlope)
      {"leakyRelu", [](const Args& a) -> Result { return at::leaky_relu(a.tensor(0), a.scalar(1)); }},
      // (x, alpha)
      {"elu", [](const Args& a) -> Result { return at::elu(a.tensor(0), a.scalar(1)); }},
      // (x, beta, threshold)
      {"softplus", [](const Args& a) -> Result { return at::softplus(a.tensor(0), a.scalar(1), a.scalar(2)); }},
      // (x, min | null, max | null)
      {"clamp", [](const Args& a) -> Result { return at::clamp(a.tensor(0), OptScalar(a, 1), OptScalar(a, 2)); }},
      {"clamp_",
       [](const Args& a) -> Result {
         a.tensor(0).clamp_(OptScalar(a, 1), OptScalar(a, 2));
         return None{};
       },
       kJsThreadOnly},
      // in place: (t, other, alpha)
      {"add_",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         at::Scalar alpha = a.scalar(2, 1.0);
         a.isTensor(1) ? t.add_(a.tensor(1), alpha) : t.add_(a.scalar(1), alpha);
         return None{};
       },
       kJsThreadOnly},
      {"sub_",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         at::Scalar alpha = a.scalar(2, 1.0);
         a.isTensor(1) ? t.sub_(a.tensor(1), alpha) : t.sub_(a.scalar(1), alpha);
         return None{};
       },
       kJsThreadOnly},
      {"mul_",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         a.isTensor(1) ? t.mul_(a.tensor(1)) : t.mul_(a.scalar(1));
         return None{};
       },
       kJsThreadOnly},
      {"div_",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         a.isTensor(1) ? t.div_(a.tensor(1)) : t.div_(a.scalar(1));
         return None{};
       },
       kJsThreadOnly},
      // (t, mask, value)
      {"maskedFill",
       [](const Args& a) -> Result {
         return a.isTensor(2) ? a.tensor(0).masked_fill(a.tensor(1), a.tensor(2))
                              : a.tensor(0).masked_fill(a.tensor(1), a.scalar(2));
       }},
      {"maskedFill_",
       [](const Args& a) -> Result {
         a.tensor(0).masked_fill_(a.tensor(1), a.scalar(2));
         return None{};
       },
       kJsThreadOnly},
      // (t, t1, t2, value): t + value * t1 * t2
      {"addcmul", [](const Args& a) -> Result { return at::addcmul(a.tensor(0), a.tensor(1), a.tensor(2), a.scalar(3)); }},
      // (start, end, weight)
      {"lerp",
       [](const Args& a) -> Result {
         return a.isTensor(2) ? at::lerp(a.tensor(0), a.tensor(1), a.tensor(2))
                              : at::lerp(a.tensor(0), a.tensor(1), a.scalar(2));
       }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
