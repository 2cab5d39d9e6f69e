// Tensor creation, random numbers, conversions, properties and threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include "../registry.h"

namespace twinshot {
namespace {

std::vector<int64_t> ShapeOf(const at::Tensor& t) { return t.sizes().vec(); }

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
      // (t, from, to) / (t, mean, std) / (t, p): in place
      {"uniform_", [](const Args& a) -> Result { return a.tensor(0).uniform_(a.number(1), a.number(2)); }},
      {"normal_", [](const Args& a) -> Result { return a.tensor(0).normal_(a.number(1), a.number(2)); }},
      {"bernoulli", [](const Args& a) -> Result { return at::bernoulli(a.tensor(0), a.number(1)); }},
      {"manualSeed",
       [](const Args& a) -> Result {
         at::manual_seed(static_cast<uint64_t>(a.number(0)));
         return None{};
       }},
      {"getRngState",
       [](const Args& a) -> Result {
         auto gen = at::detail::getDefaultCPUGenerator();
         std::lock_guard<std::mutex> lock(gen.mutex());
         return gen.get_state();
       }},
      {"setRngState",
       [](const Args& a) -> Result {
         auto gen = at::detail::getDefaultCPUGenerator();
         std::lock_guard<std::mutex> lock(gen.mutex());
         gen.set_state(a.tensor(0));
         return None{};
       }},
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
      {"copy_", [](const Args& a) -> Result { return a.tensor(0).copy_(a.tensor(1)); }},
      {"fill_", [](const Args& a) -> Result { return a.tensor(0).fill_(a.scalar(1)); }},
      {"zero_", [](const Args& a) -> Result { return a.tensor(0).zero_(); }},
      // properties
      {"shape", [](const Args& a) -> Result { return ShapeOf(a.tensor(0)); }},
      {"strides", [](const Args& a) -> Result { return a.tensor(0).strides().vec(); }},
      {"dtype", [](const Args& a) -> Result { return static_cast<double>(a.tensor(0).scalar_type()); }},
      {"device", [](const Args& a) -> Result { return a.tensor(0).device().str(); }},
      {"numel", [](const Args& a) -> Result { return static_cast<double>(a.tensor(0).numel()); }},
      {"isContiguous", [](const Args& a) -> Result { return a.tensor(0).is_contiguous(); }},
      {"item", [](const Args& a) -> Result { return a.tensor(0).item().toDouble(); }},
      // threads and devices
      {"setNumThreads",
       [](const Args& a) -> Result {
         at::set_num_threads(static_cast<int>(a.integer(0)));
         return None{};
       }},
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
