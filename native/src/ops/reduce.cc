// Reductions, sorting and linear algebra.
#include <ATen/ATen.h>

#include "../registry.h"

namespace twinshot {

void RegisterReduceOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      // (t, dims | null, keepdim)
      {"sum",
       [](const Args& a) -> Result {
         if (!a.has(1)) return at::sum(a.tensor(0));
         return at::sum(a.tensor(0), a.ints(1), a.boolean(2, false));
       }},
      {"mean",
       [](const Args& a) -> Result {
         if (!a.has(1)) return at::mean(a.tensor(0));
         return at::mean(a.tensor(0), a.ints(1), a.boolean(2, false));
       }},
      {"prod", [](const Args& a) -> Result { return at::prod(a.tensor(0)); }},
      // (t, dims | null, unbiased, keepdim)
      {"std",
       [](const Args& a) -> Result {
         auto dims = DimsOrAll(a, 1, a.tensor(0).dim());
         return at::std(a.tensor(0), at::IntArrayRef(dims), a.boolean(2, true), a.boolean(3, false));
       }},
      {"var",
       [](const Args& a) -> Result {
         auto dims = DimsOrAll(a, 1, a.tensor(0).dim());
         return at::var(a.tensor(0), at::IntArrayRef(dims), a.boolean(2, true), a.boolean(3, false));
       }},
      // (t, p, dims | null, keepdim)
      {"norm",
       [](const Args& a) -> Result {
         auto dims = DimsOrAll(a, 2, a.tensor(0).dim());
         return at::norm(a.tensor(0), a.scalar(1), at::IntArrayRef(dims), a.boolean(3, false));
       }},
      {"logsumexp",
       [](const Args& a) -> Result {
         auto dims = DimsOrAll(a, 1, a.tensor(0).dim());
         return at::logsumexp(a.tensor(0), dims, a.boolean(2, false));
       }},
      {"max", [](const Args& a) -> Result { return at::max(a.tensor(0)); }},
      {"min", [](const Args& a) -> Result { return at::min(a.tensor(0)); }},
      // (t, dim, keepdim) -> [values, indices]
      {"maxDim", [](const Args& a) -> Result { return Pair(at::max(a.tensor(0), a.integer(1), a.boolean(2, false))); }},
      {"minDim", [](const Args& a) -> Result { return Pair(at::min(a.tensor(0), a.integer(1), a.boolean(2, false))); }},
      // (t, dims, keepdim)
      {"amax", [](const Args& a) -> Result { return at::amax(a.tensor(0), a.ints(1), a.boolean(2, false)); }},
      {"amin", [](const Args& a) -> Result { return at::amin(a.tensor(0), a.ints(1), a.boolean(2, false)); }},
      // (t, dim | null, keepdim)
      {"argmax",
       [](const Args& a) -> Result { return at::argmax(a.tensor(0), a.optInteger(1), a.boolean(2, false)); }},
      {"argmin",
       [](const Args& a) -> Result { return at::argmin(a.tensor(0), a.optInteger(1), a.boolean(2, false)); }},
      // (t, k, dim, largest, sorted) -> [values, indices]
      {"topk",
       [](const Args& a) -> Result {
         return Pair(at::topk(a.tensor(0), a.integer(1), a.integer(2, -1), a.boolean(3, true), a.boolean(4, true)));
       }},
      // (t, dim, descending, stable) -> [values, indices]
      {"sort",
       [](const Args& a) -> Result {
         return Pair(at::sort(a.tensor(0), a.boolean(3, false), a.integer(1, -1), a.boolean(2, false)));
       }},
      {"cumsum", [](const Args& a) -> Result { return at::cumsum(a.tensor(0), a.integer(1)); }},
      {"any", [](const Args& a) -> Result { return at::any(a.tensor(0)); }},
      {"all", [](const Args& a) -> Result { return at::all(a.tensor(0)); }},
      // (t, dim, keepdim)
      {"anyDim", [](const Args& a) -> Result { return at::any(a.tensor(0), a.integer(1), a.boolean(2, false)); }},
      {"allDim", [](const Args& a) -> Result { return at::all(a.tensor(0), a.integer(1), a.boolean(2, false)); }},
      {"countNonzero", [](const Args& a) -> Result { return at::count_nonzero(a.tensor(0)); }},
      // linear algebra
      {"matmul", [](const Args& a) -> Result { return at::matmul(a.tensor(0), a.tensor(1)); }},
      {"mm", [](const Args& a) -> Result { return at::mm(a.tensor(0), a.tensor(1)); }},
      {"bmm", [](const Args& a) -> Result { return at::bmm(a.tensor(0), a.tensor(1)); }},
      {"dot", [](const Args& a) -> Result { return at::dot(a.tensor(0), a.tensor(1)); }},
      {"outer", [](const Args& a) -> Result { return at::outer(a.tensor(0), a.tensor(1)); }},
      // (x1 [.., n, d], x2 [.., m, d], p) -> [.., n, m]
      {"cdist", [](const Args& a) -> Result { return at::cdist(a.tensor(0), a.tensor(1), a.number(2, 2.0)); }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
