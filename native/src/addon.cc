// Addon entry: converts JS values to op arguments, runs table entries (sync or on a libuv
// worker), converts results back, and is the one place where C++ exceptions become JS errors.
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <new>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unordered_map>

#include "registry.h"
#include "tensor_handle.h"

namespace twinshot {
namespace {

struct AddonData {
  std::vector<OpEntry> table;
  std::unordered_map<std::string, OpFn> byName;
  Napi::FunctionReference errorClass;  // TorchError from src/errors.ts, once registered
};

// ---- errors -------------------------------------------------------------------------------

// What went wrong in plain words, without libtorch's C++ backtrace.
std::string DescribeException(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    return "out of memory: the tensor does not fit; use a smaller batch or image size";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown native error";
  }
}

// Builds the project's TorchError (so `instanceof` and `.code` work in JavaScript), or a plain
// Error carrying the same code before the TypeScript layer has registered its class.
Napi::Error TorchError(Napi::Env env, const std::string& op, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  std::string text = op + ": " + message;
  Napi::Error error = data != nullptr && !data->errorClass.IsEmpty()
                          ? Napi::Error(env, data->errorClass.New({Napi::String::New(env, text)}))
                          : Napi::Error::New(env, text);
  error.Set("code", Napi::String::New(env, "ERR_TORCH"));
  error.Set("op", Napi::String::New(env, op));
  return error;
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  data->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// ---- argument and result conversion -------------------------------------------------------

Arg ToArg(Napi::Env env, const Napi::Value& value) {
  Arg arg;
  switch (value.Type()) {
    case napi_undefined:
    case napi_null:
      return arg;
    case napi_external:
      arg.kind = Arg::Kind::Tensor;
      arg.tensor = UnwrapTensor(env, value).tensor;
      return arg;
    case napi_number:
      arg.kind = Arg::Kind::Number;
      arg.number = value.As<Napi::Number>().DoubleValue();
      return arg;
    case napi_boolean:
      arg.kind = Arg::Kind::Bool;
      arg.boolean = value.As<Napi::Boolean>().Value();
      return arg;
    case napi_string:
      arg.kind = Arg::Kind::String;
      arg.text = value.As<Napi::String>().Utf8Value();
      return arg;
    default:
      break;
  }
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    auto array = value.As<Napi::Float64Array>();
    arg.kind = Arg::Kind::Numbers;
    arg.numbers.assign(array.Data(), array.Data() + array.ElementLength());
  } else if (value.IsArray()) {
    auto array = value.As<Napi::Array>();
    uint32_t length = array.Length();
    bool holdsTensors = false;
    for (uint32_t i = 0; i < length; i++) {
      Napi::Value item = array.Get(i);
      napi_valuetype type = item.Type();
      if (type == napi_external || type == napi_null || type == napi_undefined) holdsTensors = true;
    }
    if (holdsTensors) {
      arg.kind = Arg::Kind::Tensors;
      for (uint32_t i = 0; i < length; i++) {
        Napi::Value item = array.Get(i);
        arg.tensors.push_back(item.IsNull() || item.IsUndefined() ? at::Tensor() : UnwrapTensor(env, item).tensor);
      }
      return arg;
    }
    arg.kind = Arg::Kind::Numbers;
    arg.numbers.reserve(length);
    for (uint32_t i = 0; i < length; i++) {
      Napi::Value item = array.Get(i);
      if (!item.IsNumber()) throw Napi::TypeError::New(env, "array arguments must hold only numbers or only tensors");
      arg.numbers.push_back(item.As<Napi::Number>().DoubleValue());
    }
  } else {
    throw Napi::TypeError::New(env, "unsupported argument type");
  }
  arg.ints.reserve(arg.numbers.size());
  for (double x : arg.numbers) arg.ints.push_back(static_cast<int64_t>(x));
  return arg;
}

Args ToArgs(const Napi::CallbackInfo& info, size_t first) {
  Args args;
  args.items.reserve(info.Length());
  for (size_t i = first; i < info.Length(); i++) args.items.push_back(ToArg(info.Env(), info[i]));
  return args;
}

Napi::Value FromResult(Napi::Env env, Result&& result) {
  struct Visitor {
    Napi::Env env;
    Napi::Value operator()(None&) { return env.Undefined(); }
    Napi::Value operator()(at::Tensor& t) { return t.defined() ? WrapTensor(env, std::move(t)) : env.Null(); }
    Napi::Value operator()(std::vector<at::Tensor>& list) {
      auto array = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) array.Set(i, (*this)(list[i]));
      return array;
    }
    Napi::Value operator()(double x) { return Napi::Number::New(env, x); }
    Napi::Value operator()(bool x) { return Napi::Boolean::New(env, x); }
    Napi::Value operator()(std::vector<int64_t>& list) {
      auto array = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) array.Set(i, Napi::Number::New(env, static_cast<double>(list[i])));
      return array;
    }
    Napi::Value operator()(std::string& s) { return Napi::String::New(env, s); }
  };
  return std::visit(Visitor{env}, result);
}

// ---- sync and async dispatch --------------------------------------------------------------

Napi::Value CallOp(const Napi::CallbackInfo& info) {
  const auto* entry = static_cast<const OpEntry*>(info.Data());
  Napi::Env env = info.Env();
  Result result;
  try {
    Args args = ToArgs(info, 0);
    result = entry->fn(args);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw TorchError(env, entry->name, DescribeException(std::current_exception()));
  }
  return FromResult(env, std::move(result));
}

// Runs one op on the libuv thread pool. Arguments were converted on the JS thread and hold
// their own tensor references, so nothing here touches a JS value until OnOK/OnError.
class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::string name, OpFn fn, Args args)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        name_(std::move(name)),
        fn_(fn),
        args_(std::move(args)),
        gradEnabled_(at::GradMode::is_enabled()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      at::AutoGradMode gradMode(gradEnabled_);
      result_ = fn_(args_);
    } catch (...) {
      SetError(DescribeException(std::current_exception()));
    }
    args_.items.clear();  // release inputs on the worker, not later on the JS thread
  }
  void OnOK() override { deferred_.Resolve(FromResult(Env(), std::move(result_))); }
  void OnError(const Napi::Error& error) override {
    deferred_.Reject(TorchError(Env(), name_, error.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string name_;
  OpFn fn_;
  Args args_;
  Result result_;
  bool gradEnabled_;
};

Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  auto found = data->byName.find(name);
  if (found == data->byName.end()) throw Napi::Error::New(env, "runAsync: unknown op '" + name + "'");
  auto* worker = new OpWorker(env, name, found->second, ToArgs(info, 1));
  worker->Queue();
  return worker->Promise();
}

// ---- functions that read or write JS memory directly ----------------------------------------

// fromBuffer(view: TypedArray | ArrayBuffer, shape: number[], dtype: number) -> handle (copies)
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* bytes = nullptr;
  size_t byteLength = 0;
  if (info[0].IsTypedArray()) {
    auto view = info[0].As<Napi::TypedArray>();
    bytes = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    byteLength = view.ByteLength();
  } else if (info[0].IsDataView()) {
    auto view = info[0].As<Napi::DataView>();
    bytes = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    byteLength = view.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto buffer = info[0].As<Napi::ArrayBuffer>();
    bytes = static_cast<const uint8_t*>(buffer.Data());
    byteLength = buffer.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: expected a TypedArray, DataView or ArrayBuffer");
  }
  Arg shape = ToArg(env, info[1]);
  auto dtype = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  try {
    at::Tensor out = at::empty(shape.ints, at::TensorOptions().dtype(dtype));
    size_t expected = static_cast<size_t>(out.numel()) * out.element_size();
    if (expected != byteLength) {
      throw Napi::RangeError::New(env, "fromBuffer: shape needs " + std::to_string(expected) + " bytes, got " +
                                           std::to_string(byteLength));
    }
    if (byteLength > 0) std::memcpy(out.data_ptr(), bytes, byteLength);
    return WrapTensor(env, std::move(out));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw TorchError(env, "fromBuffer", DescribeException(std::current_exception()));
  }
}

// toBuffer(handle) -> ArrayBuffer holding a contiguous CPU copy of the elements
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = UnwrapTensor(env, info[0]).tensor;
  try {
    at::Tensor host = t.detach().to(at::kCPU).contiguous();
    size_t byteLength = static_cast<size_t>(host.numel()) * host.element_size();
    auto buffer = Napi::ArrayBuffer::New(env, byteLength);
    if (byteLength > 0) std::memcpy(buffer.Data(), host.data_ptr(), byteLength);
    return buffer;
  } catch (...) {
    throw TorchError(env, "toBuffer", DescribeException(std::current_exception()));
  }
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsTensorHandle(env, info[0])) throw Napi::TypeError::New(env, "dispose: expected a tensor handle");
  DisposeTensor(env, *info[0].As<Napi::External<TensorBox>>().Data());
  return env.Undefined();
}

Napi::Value ReportMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsTensorHandle(env, info[0])) throw Napi::TypeError::New(env, "reportMemory: expected a tensor handle");
  ReportTensorMemory(env, *info[0].As<Napi::External<TensorBox>>().Data());
  return env.Undefined();
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsTensorHandle(env, info[0])) throw Napi::TypeError::New(env, "isDisposed: expected a tensor handle");
  return Napi::Boolean::New(env, !info[0].As<Napi::External<TensorBox>>().Data()->tensor.defined());
}

// Bytes of native memory currently reported to V8 (for diagnostics and the memory tests).
Napi::Value ExternalMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                              std::to_string(TORCH_VERSION_PATCH));
  out.Set("cudaAvailable", torch::cuda::is_available());
  out.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
  out.Set("numThreads", at::get_num_threads());
  out.Set("parallelInfo", at::get_parallel_info());
  return out;
}

}  // namespace

// Tensor workloads allocate and free the same large buffers every step. glibc serves blocks above
// its mmap threshold with fresh mappings and trims freed heap memory, so every step page-faults
// its activations in again; on virtual machines that costs more than the maths (measured: a conv-4
// step took 233 ms instead of 46 ms). Keep freed memory for reuse instead. TWINSHOT_MALLOC_TUNING=0
// leaves glibc's defaults.
void TuneAllocator() {
#if defined(__GLIBC__)
  static bool done = false;
  const char* setting = std::getenv("TWINSHOT_MALLOC_TUNING");
  if (done || (setting != nullptr && std::string(setting) == "0")) return;
  done = true;
  // No fresh mappings at all (activations of 40x40 batches already pass the largest mmap threshold,
  // 32 MB); blocks come from the heap and are reused. glibc retries on the main heap when a thread's
  // arena cannot grow, so large blocks still succeed.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  auto* data = new AddonData();
  RegisterCreationOps(data->table);
  RegisterPointwiseOps(data->table);
  RegisterReduceOps(data->table);
  RegisterShapeOps(data->table);
  RegisterNnOps(data->table);
  RegisterAutogradOps(data->table);
  RegisterOptimOps(data->table);
  RegisterDistributedOps(data->table);
  env.SetInstanceData(data);  // deleted by node-addon-api when this environment (or worker) exits

  auto ops = Napi::Object::New(env);
  for (const OpEntry& entry : data->table) {
    if (data->byName.count(entry.name)) throw Napi::Error::New(env, std::string("duplicate op ") + entry.name);
    data->byName.emplace(entry.name, entry.fn);
    ops.Set(entry.name, Napi::Function::New(env, CallOp, entry.name, const_cast<OpEntry*>(&entry)));
  }
  exports.Set("ops", ops);
  exports.Set("runAsync", Napi::Function::New(env, RunAsync, "runAsync"));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer, "fromBuffer"));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer, "toBuffer"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("reportMemory", Napi::Function::New(env, ReportMemory, "reportMemory"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("externalMemory", Napi::Function::New(env, ExternalMemory, "externalMemory"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  return exports;
}

}  // namespace twinshot

static Napi::Object InitTwinshot(Napi::Env env, Napi::Object exports) { return twinshot::Init(env, exports); }
NODE_API_MODULE(twinshot_native, InitTwinshot)
