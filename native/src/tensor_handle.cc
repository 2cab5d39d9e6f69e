// Handle wrapping, the type tag that rejects foreign objects, and native memory accounting.
#include "tensor_handle.h"

namespace twinshot {
namespace {

// A fixed random UUID: only externals tagged with it are trusted as TensorBox pointers.
const napi_type_tag kTensorTag = {0x6b1f0c3a9e2d4f51ULL, 0xa84c27e5d90b3f16ULL};

int64_t HostBytes(const at::Tensor& t) {
  // The V8 heap limit is about host memory; GPU tensors are freed by dispose() and scopes.
  if (!t.defined() || !t.device().is_cpu()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

// A basic finalizer: it touches no JS values, so Node runs it during garbage collection itself
// rather than later on the event loop, and a synchronous training loop gets its memory back.
void FinalizeBox(Napi::BasicEnv env, TensorBox* box) {
  if (box->reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
  delete box;
}

}  // namespace

Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor) {
  // Bytes are reported to V8 later, by ReportTensorMemory, and only for tensors that garbage
  // collection has to free: reporting every temporary of a training step made V8 start a
  // collection each step, whose helper threads stalled libtorch's OpenMP threads.
  auto* box = new TensorBox{std::move(tensor), 0};
  auto external = Napi::External<TensorBox>::New(env, box, FinalizeBox);
  external.TypeTag(&kTensorTag);
  return external;
}

bool IsTensorHandle(Napi::Env env, const Napi::Value& value) {
  if (value.Type() != napi_external) return false;
  return value.As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag);
}

TensorBox& UnwrapTensor(Napi::Env env, const Napi::Value& value) {
  if (!IsTensorHandle(env, value)) throw Napi::TypeError::New(env, "expected a tensor handle");
  TensorBox* box = value.As<Napi::External<TensorBox>>().Data();
  if (!box->tensor.defined()) {
    throw Napi::Error::New(env, "tensor was disposed: it cannot be used after dispose() or outside its scope");
  }
  return *box;
}

void ReportTensorMemory(Napi::Env env, TensorBox& box) {
  if (box.reportedBytes != 0 || !box.tensor.defined()) return;
  box.reportedBytes = HostBytes(box.tensor);
  if (box.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, box.reportedBytes);
}

void DisposeTensor(Napi::Env env, TensorBox& box) {
  if (box.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box.reportedBytes);
  box.reportedBytes = 0;
  box.tensor.reset();
}

}  // namespace twinshot
