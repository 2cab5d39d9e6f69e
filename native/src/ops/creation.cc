// Tensor creation, random numbers, conversions, properties and threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include <mutex>
#include <thread>

#include "../registry.h"

namespace twinshot {
namespace {

std::vector<int64_t> ShapeOf(const at::Tensor& t) { return t.sizes().vec(); }

int64_t MaxThreads() {
  unsigned cores = std::thread::hardware_concurrency();
  return 4 * static_cast<int64_t>(cores > 0 ? cores : 1);
}

// The default generator of the device named by argument i (the CPU's when absent). CUDA's come
// through libtorch's hooks, so this builds without CUDA headers and throws when CUDA is missing.
at::Generator DefaultGenerator(const Args& a, size_t i) {
  at::Device device = a.device(i);
  if (device.is_cpu()) return at::detail::getDefaultCPUGenerator();
  if (!device.is_cuda()) throw ArgumentException("random generators exist for 'cpu' and 'cuda' devices only");
  if (!torch::cuda::is_available()) throw ArgumentException("CUDA is not available, so it has no generator state");
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  int64_t index = device.has_index() ? device.index() : 0;
  if (index < 0 || index >= count) {
    throw ArgumentException("device cuda:" + std::to_string(index) + " does not exist (" + std::to_string(count) +
                            " visible)");
  }
  return at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)));
}

}  // namespace

void RegisterCreationOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      // (shape, dtype, device)
      {"empty", [](const Args& a) -> Result { return at::empty(a.ints(0), a.options(1, 2)); }},
      {"zeros", [](const Args& a) -> Result { return at::zeros(a.ints(0), a.options(1, 2)); }},
      {"ones", [](const Args& a) -> Result { return at::ones(a.ints(0), a.options(1, 2)); }},
      // (shape, value, dtype, device)
      {"full", [](const Args& a) -> Result { return at::full(a.ints(0), a.scalar(1), a.options(2, 3)); }},
      // (start, end, step, dtype, device)
      {"arange",
       [](const Args& a) -> Result { return at::arange(a.scalar(0), a.scalar(1), a.scalar(2), a.options(3, 4)); }},
      // (start, end, steps, dtype, device)
      {"linspace",
       [](const Args& a) -> Result { return at::linspace(a.scalar(0), a.scalar(1), a.integer(2), a.options(3, 4)); }},
      // (n, m, dtype, device)
      {"eye", [](const Args& a) -> Result { return at::eye(a.integer(0), a.integer(1), a.options(2, 3)); }},
      // random: (shape, dtype, device) and friends, all from the default generator
      {"rand", [](const Args& a) -> Result { return at::rand(a.ints(0), a.options(1, 2)); }},
      {"randn", [](const Args& a) -> Result { return at::randn(a.ints(0), a.options(1, 2)); }},
      // (low, high, shape, dtype, device)
      {"randint",
       [](const Args& a) -> Result { return at::randint(a.integer(0), a.integer(1), a.ints(2), a.options(3, 4)); }},
      // (n, dtype, device)
      {"randperm", [](const Args& a) -> Result { return at::randperm(a.integer(0), a.options(1, 2)); }},
      // (t, from, to) / (t, mean, std): in place. In-place ops return nothing: a second handle to
      // the same tensor would keep it alive until garbage collection.
      {"uniform_", [](const Args& a) -> Result { a.tensor(0).uniform_(a.number(1), a.number(2)); return None{}; }, kJsThreadOnly},
      {"normal_", [](const Args& a) -> Result { a.tensor(0).normal_(a.number(1), a.number(2)); return None{}; }, kJsThreadOnly},
      // (t, p)
      {"bernoulli", [](const Args& a) -> Result { return at::bernoulli(a.tensor(0), a.number(1)); }},
      // (seed): seeds the CPU generator and every CUDA device's
      {"manualSeed",
       [](const Args& a) -> Result {
         at::manual_seed(static_cast<uint64_t>(a.integerIn(0, 0, static_cast<int64_t>(kMaxSafeInteger))));
         return None{};
       },
       kJsThreadOnly},
      // (device | null) -> uint8 state of that device's default generator (CPU when null)
      {"getRngState",
       [](const Args& a) -> Result {
         at::Generator gen = DefaultGenerator(a, 0);
         std::lock_guard<std::mutex> lock(gen.mutex());
         return gen.get_state();
       }},
      // (state, device | null)
      {"setRngState",
       [](const Args& a) -> Result {
         // The generator reads numel() bytes from the data pointer: give it dense uint8 memory.
         at::Tensor state = a.tensor(0);
         if (state.scalar_type() != at::kByte || !state.device().is_cpu()) {
           throw ArgumentException("argument 0 must be a uint8 CPU tensor from getRngState");
         }
         state = state.contiguous();
         at::Generator gen = DefaultGenerator(a, 1);
         std::lock_guard<std::mutex> lock(gen.mutex());
         gen.set_state(state);
         return None{};
       },
       kJsThreadOnly},
      // conversions: (t, dtype | null, device | null)
      {"to",
       [](const Args& a) -> Result {
         const at::Tensor& t = a.tensor(0);
         at::ScalarType dtype = a.has(1) ? a.dtype(1) : t.scalar_type();
         at::Device device = a.has(2) ? a.device(2) : t.device();
         return t.to(device, dtype);
       }},
      {"clone", [](const Args& a) -> Result { return a.tensor(0).clone(); }},
      {"contiguous", [](const Args& a) -> Result { return a.tensor(0).contiguous(); }},
      {"detach", [](const Args& a) -> Result { return a.tensor(0).detach(); }},
      {"copy_", [](const Args& a) -> Result { a.tensor(0).copy_(a.tensor(1)); return None{}; }, kJsThreadOnly},
      {"fill_", [](const Args& a) -> Result { a.tensor(0).fill_(a.scalar(1)); return None{}; }, kJsThreadOnly},
      {"zero_", [](const Args& a) -> Result { a.tensor(0).zero_(); return None{}; }, kJsThreadOnly},
      // properties
      {"shape", [](const Args& a) -> Result { return ShapeOf(a.tensor(0)); }},
      {"strides", [](const Args& a) -> Result { return a.tensor(0).strides().vec(); }},
      {"dtype", [](const Args& a) -> Result { return static_cast<double>(a.tensor(0).scalar_type()); }},
      {"device", [](const Args& a) -> Result { return a.tensor(0).device().str(); }},
      {"numel", [](const Args& a) -> Result { return static_cast<double>(a.tensor(0).numel()); }},
      {"isContiguous", [](const Args& a) -> Result { return a.tensor(0).is_contiguous(); }},
      {"item", [](const Args& a) -> Result { return a.tensor(0).item().toDouble(); }},
      // threads and devices
      // (threads): at most 4 per core, as OpenMP aborts the process when it cannot start them
      {"setNumThreads",
       [](const Args& a) -> Result {
         at::set_num_threads(static_cast<int>(a.integerIn(0, 1, MaxThreads())));
         return None{};
       },
       kJsThreadOnly},
      {"getNumThreads", [](const Args& a) -> Result { return static_cast<double>(at::get_num_threads()); }},
      {"cudaSynchronize",
       [](const Args& a) -> Result {
         if (torch::cuda::is_available()) torch::cuda::synchronize();
         return None{};
       }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
