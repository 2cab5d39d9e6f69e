// A JavaScript tensor handle is an External that owns one refcounted at::Tensor. Views share
// storage with their base through libtorch's own refcount, so freeing a handle never frees
// memory another handle still sees.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <stdexcept>

namespace twinshot {

struct TensorBox {
  at::Tensor tensor;
  int64_t reportedBytes = 0;  // bytes told to V8 through AdjustExternalMemory (0 until reported)
};

// A handle used after dispose(). JavaScript sees ERR_DISPOSED.
struct DisposedException : std::logic_error {
  DisposedException()
      : std::logic_error("tensor was disposed: it cannot be used after dispose() or outside its scope") {}
};

// Handles alive in this JavaScript environment (the main thread or one worker): boxes not yet
// finalized by garbage collection, and those of them still holding a tensor (not disposed).
struct HandleCounts {
  int64_t handles = 0;
  int64_t tensors = 0;
};

Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor);
bool IsTensorHandle(Napi::Env env, const Napi::Value& value);
// The live tensor behind `value`; throws ArgumentException for anything that is not one of our
// handles (checked by type tag, so no foreign External is ever read as a TensorBox) and
// DisposedException after dispose().
TensorBox& UnwrapTensor(Napi::Env env, const Napi::Value& value);
// Tells V8 about the tensor's bytes (once), so garbage collection feels the pressure.
void ReportTensorMemory(Napi::Env env, TensorBox& box);
// Releases the tensor now instead of at garbage collection. Safe to call twice.
void DisposeTensor(Napi::Env env, TensorBox& box);
HandleCounts CurrentHandleCounts();

}  // namespace twinshot
