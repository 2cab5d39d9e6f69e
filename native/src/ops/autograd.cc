// Autograd: gradient flags, backward, and the thread-local grad mode.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include "../registry.h"

namespace twinshot {

void RegisterAutogradOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      {"requiresGrad", [](const Args& a) -> Result { return a.tensor(0).requires_grad(); }},
      {"setRequiresGrad",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         t.requires_grad_(a.boolean(1));
         return None{};
       }},
      {"isLeaf", [](const Args& a) -> Result { return a.tensor(0).is_leaf(); }},
      {"grad", [](const Args& a) -> Result { return a.tensor(0).grad(); }},
      // (t, grad | null)
      {"setGrad",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         t.mutable_grad() = a.has(1) ? a.tensor(1) : at::Tensor();
         return None{};
       }},
      // (t, source): t now refers to source's data; identity (and optimiser references) kept
      {"setData",
       [](const Args& a) -> Result {
         at::Tensor t = a.tensor(0);
         t.set_data(a.tensor(1));
         return None{};
       }},
      {"retainGrad",
       [](const Args& a) -> Result {
         a.tensor(0).retain_grad();
         return None{};
       }},
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
       }},
      {"setGradEnabled",
       [](const Args& a) -> Result {
         at::GradMode::set_enabled(a.boolean(0));
         return None{};
       }},
      {"isGradEnabled", [](const Args& a) -> Result { return at::GradMode::is_enabled(); }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
