// A JavaScript tensor handle is an External that owns one refcounted at::Tensor. Views share
// storage with their base through libtorch's own refcount, so freeing a handle never frees
// memory another handle still sees.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

namespace twinshot {

struct TensorBox {
  at::Tensor tensor;
  int64_t reportedBytes = 0;  // bytes told to V8 through AdjustExternalMemory (0 until reported)
};

Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor);
bool IsTensorHandle(Napi::Env env, const Napi::Value& value);
// Throws a TypeError when `value` is not a live tensor handle.
TensorBox& UnwrapTensor(Napi::Env env, const Napi::Value& value);
// Tells V8 about the tensor's host bytes (once), so garbage collection feels the pressure.
void ReportTensorMemory(Napi::Env env, TensorBox& box);
// Releases the tensor now instead of at garbage collection. Safe to call twice.
void DisposeTensor(Napi::Env env, TensorBox& box);

}  // namespace twinshot
