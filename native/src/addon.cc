// Addon entry: converts JS values to op arguments, runs table entries (sync or on a libuv
// worker), converts results back, and is the one place where C++ exceptions become JS errors.
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <limits>
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
  std::unordered_map<std::string, const OpEntry*> byName;
  // (code, op, message) -> Error: src/engine/native.ts registers one that builds the project's
  // TwinshotError subclasses, so `instanceof` and `.code` work and the stack points at the caller.
  Napi::FunctionReference errorFactory;
};

// ---- errors -------------------------------------------------------------------------------

// A C++ exception in plain words and the catalog code it maps to (src/errors.ts).
struct Failure {
  std::string code;
  std::string message;
};

Failure DescribeException(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const DisposedException& e) {
    return {"ERR_DISPOSED", e.what()};
  } catch (const std::invalid_argument& e) {  // ArgumentException and the ops' own checks
    return {"ERR_ARGUMENT", e.what()};
  } catch (const c10::Error& e) {
    return {"ERR_TORCH", e.what_without_backtrace()};  // without libtorch's C++ backtrace
  } catch (const std::bad_alloc&) {
    return {"ERR_TORCH", "out of memory: the tensor does not fit; use a smaller batch or image size"};
  } catch (const std::exception& e) {
    return {"ERR_TORCH", e.what()};
  } catch (...) {
    return {"ERR_TORCH", "unknown native error"};
  }
}

// Builds the error through the registered factory, or a plain Error carrying the same code and
// op before the TypeScript layer has registered one.
Napi::Error NativeError(Napi::Env env, const std::string& op, const Failure& failure) {
  auto* data = env.GetInstanceData<AddonData>();
  std::string text = op + ": " + failure.message;
  if (data != nullptr && !data->errorFactory.IsEmpty()) {
    Napi::Value made = data->errorFactory.Call(
        {Napi::String::New(env, failure.code), Napi::String::New(env, op), Napi::String::New(env, text)});
    if (made.IsObject()) return Napi::Error(env, made);
  }
  Napi::Error error = Napi::Error::New(env, text);
  error.Set("code", Napi::String::New(env, failure.code));
  error.Set("op", Napi::String::New(env, op));
  return error;
}

// Runs `body` and turns any C++ exception into a coded JavaScript error. A Napi::Error (a
// JavaScript exception raised meanwhile, such as a throwing getter on an argument array) passes
// through unchanged.
template <typename Body>
Napi::Value Translate(Napi::Env env, const std::string& op, Body body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw NativeError(env, op, DescribeException(std::current_exception()));
  }
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  return Translate(info.Env(), "setErrorFactory", [&]() -> Napi::Value {
    if (!info[0].IsFunction()) throw ArgumentException("expected a function (code, op, message) -> Error");
    auto* data = info.Env().GetInstanceData<AddonData>();
    data->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  });
}

// ---- argument and result conversion -------------------------------------------------------

// Converts one JavaScript value. Throws ArgumentException for values no op accepts.
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
    std::vector<Napi::Value> items;
    items.reserve(length);
    bool holdsTensors = false;
    for (uint32_t i = 0; i < length; i++) {
      items.push_back(array.Get(i));
      napi_valuetype type = items.back().Type();
      if (type == napi_external || type == napi_null || type == napi_undefined) holdsTensors = true;
    }
    if (holdsTensors) {
      arg.kind = Arg::Kind::Tensors;
      for (const Napi::Value& item : items) {
        arg.tensors.push_back(item.IsNull() || item.IsUndefined() ? at::Tensor() : UnwrapTensor(env, item).tensor);
      }
      return arg;
    }
    arg.kind = Arg::Kind::Numbers;
    arg.numbers.reserve(length);
    for (const Napi::Value& item : items) {
      if (!item.IsNumber()) throw ArgumentException("array arguments must hold only numbers or only tensors");
      arg.numbers.push_back(item.As<Napi::Number>().DoubleValue());
    }
  } else {
    throw ArgumentException(
        "unsupported argument type: ops take tensors, numbers, booleans, strings, null and arrays of numbers or "
        "tensors");
  }
  // Shapes and dims: only exact integers convert (ints() reports the others when asked).
  arg.ints.reserve(arg.numbers.size());
  for (double x : arg.numbers) {
    if (!IsSafeInteger(x)) {
      arg.intsValid = false;
      arg.ints.clear();
      break;
    }
    arg.ints.push_back(static_cast<int64_t>(x));
  }
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
  return Translate(env, entry->name, [&]() {
    Args args = ToArgs(info, 0);
    return FromResult(env, entry->fn(args));
  });
}

// Runs one op on the libuv thread pool. Arguments were converted on the JS thread and hold
// their own tensor references, so nothing here touches a JS value until OnOK/OnError.
class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, const OpEntry& entry, Args args)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        entry_(entry),
        args_(std::move(args)),
        autocast_(CurrentAutocast()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      // The inputs were detached (see RunAsync), so nothing here records autograd history;
      // mixed precision follows the caller, as it would for the same op run synchronously.
      at::NoGradGuard noGrad;
      AutocastScope autocast(autocast_);
      result_ = entry_.fn(args_);
    } catch (...) {
      failure_ = DescribeException(std::current_exception());
      SetError(failure_.message);
    }
    args_.items.clear();  // release inputs on the worker, not later on the JS thread
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(FromResult(env, std::move(result_)));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
    }
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(NativeError(Env(), entry_.name, failure_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const OpEntry& entry_;
  Args args_;
  Result result_;
  AutocastState autocast_;
  Failure failure_;
};

// Cuts a tensor argument off the caller's: a new TensorImpl over the same storage, so that the
// worker never reads a TensorImpl the JS thread may change meanwhile (setData, grad).
void DetachInputs(Args& args) {
  for (Arg& arg : args.items) {
    if (arg.kind == Arg::Kind::Tensor) arg.tensor = arg.tensor.detach();
    for (at::Tensor& t : arg.tensors) {
      if (t.defined()) t = t.detach();
    }
  }
}

// runAsync(name, ...args) -> Promise. Only ops that leave their inputs and the process settings
// unchanged may run here (see Threading in registry.h); results carry no autograd history.
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Translate(env, "runAsync", [&]() -> Napi::Value {
    if (!info[0].IsString()) throw ArgumentException("the first argument must be an op name");
    auto* data = env.GetInstanceData<AddonData>();
    std::string name = info[0].As<Napi::String>().Utf8Value();
    auto found = data->byName.find(name);
    if (found == data->byName.end()) throw ArgumentException("unknown op '" + name + "'");
    const OpEntry& entry = *found->second;
    if (entry.threading == Threading::JsThreadOnly) {
      throw ArgumentException("'" + name +
                              "' changes tensors, autograd state or settings, so it runs only synchronously");
    }
    Args args = ToArgs(info, 1);
    DetachInputs(args);
    auto* worker = new OpWorker(env, entry, std::move(args));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

// ---- functions that read or write JS memory directly ----------------------------------------

// fromBuffer(view: TypedArray | DataView | ArrayBuffer, shape: number[], dtype: number) -> handle (copies)
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Translate(env, "fromBuffer", [&]() -> Napi::Value {
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
      throw ArgumentException("argument 0 must be a TypedArray, DataView or ArrayBuffer");
    }
    Args args;
    args.items.push_back(ToArg(env, info[1]));
    args.items.push_back(ToArg(env, info[2]));
    at::IntArrayRef shape = args.ints(0);
    at::ScalarType dtype = args.dtype(1);
    // Check the size against the bytes given before allocating anything.
    uint64_t expected = c10::elementSize(dtype);
    for (int64_t size : shape) {
      if (size < 0) throw ArgumentException("shape sizes must be >= 0; got " + c10::str(shape));
      if (size != 0 && expected > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(size)) {
        throw ArgumentException("shape " + c10::str(shape) + " is too large");
      }
      expected *= static_cast<uint64_t>(size);
    }
    if (expected != byteLength) {
      throw ArgumentException("shape needs " + std::to_string(expected) + " bytes, got " + std::to_string(byteLength));
    }
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (byteLength > 0) std::memcpy(out.data_ptr(), bytes, byteLength);
    return WrapTensor(env, std::move(out));
  });
}

// toBuffer(handle) -> ArrayBuffer holding a contiguous CPU copy of the elements
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Translate(env, "toBuffer", [&]() -> Napi::Value {
    at::Tensor host = UnwrapTensor(env, info[0]).tensor.detach().to(at::kCPU).contiguous();
    size_t byteLength = static_cast<size_t>(host.numel()) * host.element_size();
    auto buffer = Napi::ArrayBuffer::New(env, byteLength);
    if (byteLength > 0) std::memcpy(buffer.Data(), host.data_ptr(), byteLength);
    return buffer;
  });
}

// The TensorBox behind a handle, disposed or not.
TensorBox& BoxOf(Napi::Env env, const Napi::Value& value) {
  if (!IsTensorHandle(env, value)) throw ArgumentException("expected a tensor handle");
  return *value.As<Napi::External<TensorBox>>().Data();
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return Translate(info.Env(), "dispose", [&]() -> Napi::Value {
    DisposeTensor(info.Env(), BoxOf(info.Env(), info[0]));
    return info.Env().Undefined();
  });
}

Napi::Value ReportMemory(const Napi::CallbackInfo& info) {
  return Translate(info.Env(), "reportMemory", [&]() -> Napi::Value {
    ReportTensorMemory(info.Env(), BoxOf(info.Env(), info[0]));
    return info.Env().Undefined();
  });
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  return Translate(info.Env(), "isDisposed", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), !BoxOf(info.Env(), info[0]).tensor.defined());
  });
}

Napi::Value IsHandle(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), IsTensorHandle(info.Env(), info[0]));
}

// Bytes of native memory currently reported to V8 (for diagnostics and the memory tests).
Napi::Value ExternalMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
}

// { handles, tensors } alive in this environment (see HandleCounts), for leak tests.
Napi::Value LiveHandles(const Napi::CallbackInfo& info) {
  HandleCounts counts = CurrentHandleCounts();
  auto out = Napi::Object::New(info.Env());
  out.Set("handles", static_cast<double>(counts.handles));
  out.Set("tensors", static_cast<double>(counts.tensors));
  return out;
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
    data->byName.emplace(entry.name, &entry);
    ops.Set(entry.name, Napi::Function::New(env, CallOp, entry.name, const_cast<OpEntry*>(&entry)));
  }
  exports.Set("ops", ops);
  exports.Set("runAsync", Napi::Function::New(env, RunAsync, "runAsync"));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer, "fromBuffer"));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer, "toBuffer"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("isHandle", Napi::Function::New(env, IsHandle, "isHandle"));
  exports.Set("reportMemory", Napi::Function::New(env, ReportMemory, "reportMemory"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("externalMemory", Napi::Function::New(env, ExternalMemory, "externalMemory"));
  exports.Set("liveHandles", Napi::Function::New(env, LiveHandles, "liveHandles"));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  return exports;
}

}  // namespace twinshot

static Napi::Object InitTwinshot(Napi::Env env, Napi::Object exports) { return twinshot::Init(env, exports); }
NODE_API_MODULE(twinshot_native, InitTwinshot)
