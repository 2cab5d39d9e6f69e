// Handle wrapping, the type tag that rejects foreign objects, native memory accounting and the
// live-handle counts.
#include "tensor_handle.h"

#include "registry.h"

namespace twinshot {
namespace {

// A fixed random UUID: only externals tagged with it are trusted as TensorBox pointers.
const napi_type_tag kTensorTag = {0x6b1f0c3a9e2d4f51ULL, 0xa84c27e5d90b3f16ULL};

// Each JavaScript environment runs on one thread, and handles are created, disposed and
// finalized on it (async ops wrap their results on the JS thread), so per-thread counters are
// per-environment counters that need no locks.
thread_local HandleCounts tCounts;

int64_t TensorBytes(const at::Tensor& t) {
  // GPU tensors count too: V8 cannot tell device memory apart, but it only needs to feel that
  // unreachable handles hold memory to collect them, and GPU memory is the scarcer of the two.
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}

void ReleaseTensor(TensorBox& box) {
  if (!box.tensor.defined()) return;
  box.tensor.reset();
  tCounts.tensors--;
}

// A basic finalizer: it touches no JS values, so Node runs it during garbage collection itself
// rather than later on the event loop, and a synchronous training loop gets its memory back.
void FinalizeBox(Napi::BasicEnv env, TensorBox* box) {
  if (box->reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
  ReleaseTensor(*box);
  tCounts.handles--;
  delete box;
}

}  // namespace

Napi::Value WrapTensor(Napi::Env env, at::Tensor tensor) {
  // Bytes are reported to V8 later, by ReportTensorMemory, and only for tensors that garbage
  // collection has to free: reporting every temporary of a training step made V8 start a
  // collection each step, whose helper threads stalled libtorch's OpenMP threads.
  bool defined = tensor.defined();
  auto* box = new TensorBox{std::move(tensor), 0};
  auto external = Napi::External<TensorBox>::New(env, box, FinalizeBox);
  tCounts.handles++;
  if (defined) tCounts.tensors++;
  external.TypeTag(&kTensorTag);
  return external;
}

bool IsTensorHandle(Napi::Env env, const Napi::Value& value) {
  if (value.Type() != napi_external) return false;
  return value.As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag);
}

TensorBox& UnwrapTensor(Napi::Env env, const Napi::Value& value) {
  if (!IsTensorHandle(env, value)) throw ArgumentException("expected a tensor handle");
  TensorBox* box = value.As<Napi::External<TensorBox>>().Data();
  if (!box->tensor.defined()) throw DisposedException();
  return *box;
}

void ReportTensorMemory(Napi::Env env, TensorBox& box) {
  if (box.reportedBytes != 0 || !box.tensor.defined()) return;
  box.reportedBytes = TensorBytes(box.tensor);
  if (box.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, box.reportedBytes);
}

void DisposeTensor(Napi::Env env, TensorBox& box) {
  if (box.reportedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -box.reportedBytes);
  box.reportedBytes = 0;
  ReleaseTensor(box);
}

HandleCounts CurrentHandleCounts() { return tCounts; }

}  // namespace twinshot
