// Autograd: gradient flags, backward, and the thread-local grad mode.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/version.h>

#include "../registry.h"

namespace twinshot {

static at::DeviceType AutocastDevice(const std::string& deviceType) {
  if (deviceType == "cpu") return at::kCPU;
  if (deviceType == "cuda") return at::kCUDA;
  throw ArgumentException("autocast: device type must be 'cpu' or 'cuda', got '" + deviceType + "'");
}

// libtorch 2.4 replaced the per-device autocast functions (set_cpu_enabled, ...) by ones taking
// the device type, and warns on every call to the old ones; 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
static bool AutocastEnabled(at::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
static at::ScalarType AutocastDtype(at::DeviceType device) { return at::autocast::get_autocast_dtype(device); }
static void SetAutocast(at::DeviceType device, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, enabled);
}
#else
static bool AutocastEnabled(at::DeviceType device) {
  return device == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
static at::ScalarType AutocastDtype(at::DeviceType device) {
  return device == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
static void SetAutocast(at::DeviceType device, bool enabled, at::ScalarType dtype) {
  if (device == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
}
#endif

AutocastState CurrentAutocast() {
  AutocastState state;
  state.cpuEnabled = AutocastEnabled(at::kCPU);
  state.cpuDtype = AutocastDtype(at::kCPU);
  state.cudaEnabled = AutocastEnabled(at::kCUDA);
  state.cudaDtype = AutocastDtype(at::kCUDA);
  return state;
}

AutocastScope::AutocastScope(const AutocastState& state)
    : previous_(CurrentAutocast()), active_(state.cpuEnabled || state.cudaEnabled) {
  if (!active_) return;
  SetAutocast(at::kCPU, state.cpuEnabled, state.cpuDtype);
  SetAutocast(at::kCUDA, state.cudaEnabled, state.cudaDtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocast(at::kCPU, previous_.cpuEnabled, previous_.cpuDtype);
  SetAutocast(at::kCUDA, previous_.cudaEnabled, previous_.cudaDtype);
}

namespace {

// The dtypes autocast can lower to; anything else would make every matmul cast to, say, int64.
at::ScalarType AutocastTarget(const Args& a, size_t i) {
  at::ScalarType dtype = a.dtype(i);
  if (dtype != at::kBFloat16 && dtype != at::kHalf) {
    throw ArgumentException("autocast dtype must be bfloat16 (15) or float16 (5); got code " +
                            std::to_string(static_cast<int>(dtype)));
  }
  return dtype;
}

// The current autocast nesting depth (libtorch only exposes increment and decrement).
int AutocastNesting() {
  int depth = at::autocast::increment_nesting();
  at::autocast::decrement_nesting();
  return depth - 1;
}

// PyTorch's checks for `tensor.grad = value` (torch/csrc/autograd/python_variable.cpp): an
// assigned gradient the wrong size, dtype or device would break the next backward or optimiser step.
void CheckAssignedGrad(const at::Tensor& t, const at::Tensor& grad) {
  if (!grad.defined()) return;
  if (grad.sizes() != t.sizes()) {
    throw ArgumentException("the assigned grad has shape " + c10::str(grad.sizes()) + " but the tensor has " +
                            c10::str(t.sizes()));
  }
  if (grad.scalar_type() != t.scalar_type()) throw ArgumentException("the assigned grad has a different dtype");
  if (grad.device() != t.device()) throw ArgumentException("the assigned grad is on a different device");
  if (grad.layout() != t.layout()) throw ArgumentException("the assigned grad has a different layout");
}

}  // namespace

void RegisterAutogradOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      {"requiresGrad", [](const Args& a) -> Result { return a.tensor(0).requires_grad(); }},
      {"setRequiresGrad",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         t.requires_grad_(a.boolean(1));
         return None{};
       },
       kJsThreadOnly},
      {"isLeaf", [](const Args& a) -> Result { return a.tensor(0).is_leaf(); }},
      {"grad", [](const Args& a) -> Result { return a.tensor(0).grad(); }},
      // (t, grad | null)
      {"setGrad",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         at::Tensor grad = a.has(1) ? a.tensor(1) : at::Tensor();
         CheckAssignedGrad(t, grad);
         t.mutable_grad() = grad;
         return None{};
       },
       kJsThreadOnly},
      // (t, source): t now refers to source's data; identity (and optimiser references) kept
      {"setData",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         t.set_data(a.tensor(1));
         return None{};
       },
       kJsThreadOnly},
      {"retainGrad",
       [](const Args& a) -> Result {
         a.tensor(0).retain_grad();
         return None{};
       },
       kJsThreadOnly},
      {"gradFnName",
       [](const Args& a) -> Result {
         const auto& fn = a.tensor(0).grad_fn();
         return fn ? fn->name() : std::string();
       }},
      // (t, gradient | null, retainGraph, createGraph)
      {"backward",
       [](const Args& a) -> Result {
         bool createGraph = a.boolean(3, false);
         c10::optional<bool> retainGraph = a.has(2) ? c10::optional<bool>(a.boolean(2)) : c10::nullopt;
         a.tensor(0).backward(a.has(1) ? a.tensor(1) : at::Tensor(), retainGraph, createGraph);
         return None{};
       },
       kJsThreadOnly},
      {"setGradEnabled",
       [](const Args& a) -> Result {
         at::GradMode::set_enabled(a.boolean(0));
         return None{};
       },
       kJsThreadOnly},
      {"isGradEnabled", [](const Args& a) -> Result { return at::GradMode::is_enabled(); }},
      // Automatic mixed precision, thread-local like grad mode. (deviceType, dtype) -> [wasEnabled, previousDtype]
      {"autocastEnter",
       [](const Args& a) -> Result {
         at::DeviceType device = AutocastDevice(a.text(0));
         at::ScalarType dtype = AutocastTarget(a, 1);
         std::vector<int64_t> previous = {AutocastEnabled(device), static_cast<int64_t>(AutocastDtype(device))};
         SetAutocast(device, true, dtype);
         at::autocast::increment_nesting();
         return previous;
       },
       kJsThreadOnly},
      // (deviceType, wasEnabled, previousDtype). Leaving the outermost region drops the cached
      // low-precision copies of the weights, which the next optimiser step would make stale.
      {"autocastExit",
       [](const Args& a) -> Result {
         at::DeviceType device = AutocastDevice(a.text(0));
         bool wasEnabled = a.boolean(1);
         at::ScalarType previousDtype = a.dtype(2);
         if (AutocastNesting() <= 0) throw ArgumentException("autocastExit without a matching autocastEnter");
         if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
         SetAutocast(device, wasEnabled, previousDtype);
         return None{};
       },
       kJsThreadOnly},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
