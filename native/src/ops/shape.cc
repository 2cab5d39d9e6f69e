// Views, joins and indexing.
#include <ATen/ATen.h>

#include "../registry.h"

namespace twinshot {

void RegisterShapeOps(std::vector<OpEntry>& table) {
  std::vector<OpEntry> ops = {
      {"reshape", [](const Args& a) -> Result { return a.tensor(0).reshape(a.ints(1)); }},
      {"view", [](const Args& a) -> Result { return a.tensor(0).view(a.ints(1)); }},
      {"permute", [](const Args& a) -> Result { return a.tensor(0).permute(a.ints(1)); }},
      {"transpose", [](const Args& a) -> Result { return a.tensor(0).transpose(a.integer(1), a.integer(2)); }},
      // (t, startDim, endDim)
      {"flatten", [](const Args& a) -> Result { return a.tensor(0).flatten(a.integer(1, 0), a.integer(2, -1)); }},
      // (t, dim | null)
      {"squeeze",
       [](const Args& a) -> Result { return a.has(1) ? a.tensor(0).squeeze(a.integer(1)) : a.tensor(0).squeeze(); }},
      {"unsqueeze", [](const Args& a) -> Result { return a.tensor(0).unsqueeze(a.integer(1)); }},
      {"expand", [](const Args& a) -> Result { return a.tensor(0).expand(a.ints(1)); }},
      {"repeat", [](const Args& a) -> Result { return a.tensor(0).repeat(a.ints(1)); }},
      // (t, repeats, dim)
      {"repeatInterleave",
       [](const Args& a) -> Result { return a.tensor(0).repeat_interleave(a.integer(1), a.optInteger(2)); }},
      // (tensors, dim)
      {"cat", [](const Args& a) -> Result { return at::cat(a.tensors(0), a.integer(1, 0)); }},
      {"stack", [](const Args& a) -> Result { return at::stack(a.tensors(0), a.integer(1, 0)); }},
      // (t, dim, start | null, end | null, step)
      {"slice",
       [](const Args& a) -> Result {
         return a.tensor(0).slice(a.integer(1), a.optInteger(2), a.optInteger(3), a.integer(4, 1));
       }},
      {"narrow", [](const Args& a) -> Result { return a.tensor(0).narrow(a.integer(1), a.integer(2), a.integer(3)); }},
      {"select", [](const Args& a) -> Result { return a.tensor(0).select(a.integer(1), a.integer(2)); }},
      // (t, dim, index)
      {"indexSelect", [](const Args& a) -> Result { return at::index_select(a.tensor(0), a.integer(1), a.tensor(2)); }},
      {"gather", [](const Args& a) -> Result { return at::gather(a.tensor(0), a.integer(1), a.tensor(2)); }},
      // (t, dim, index, src)
      {"scatter", [](const Args& a) -> Result { return at::scatter(a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3)); }},
      {"scatterAdd",
       [](const Args& a) -> Result { return at::scatter_add(a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3)); }},
      // (t, dim, index, source): out-of-place index_add
      {"indexAdd",
       [](const Args& a) -> Result { return at::index_add(a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3)); }},
      // advanced indexing t[i0, i1, ...] with one index tensor per leading dim (null skips a dim)
      {"index",
       [](const Args& a) -> Result {
         c10::List<c10::optional<at::Tensor>> indices;
         for (const at::Tensor& t : a.optTensors(1)) {
           indices.push_back(t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt);
         }
         return at::index(a.tensor(0), indices);
       }},
      // (t, indices, values, accumulate): out-of-place t[indices] = values
      {"indexPut",
       [](const Args& a) -> Result {
         c10::List<c10::optional<at::Tensor>> indices;
         for (const at::Tensor& t : a.optTensors(1)) {
           indices.push_back(t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt);
         }
         return at::index_put(a.tensor(0), indices, a.tensor(2), a.boolean(3, false));
       }},
      {"maskedSelect", [](const Args& a) -> Result { return at::masked_select(a.tensor(0), a.tensor(1)); }},
      {"nonzero", [](const Args& a) -> Result { return at::nonzero(a.tensor(0)); }},
      // (t, splitSize, dim) -> tensors
      {"split", [](const Args& a) -> Result { return at::split(a.tensor(0), a.integer(1), a.integer(2, 0)); }},
      {"chunk", [](const Args& a) -> Result { return at::chunk(a.tensor(0), a.integer(1), a.integer(2, 0)); }},
      {"flip", [](const Args& a) -> Result { return at::flip(a.tensor(0), a.ints(1)); }},
      // (t, shifts, dims)
      {"roll", [](const Args& a) -> Result { return at::roll(a.tensor(0), a.ints(1), a.ints(2)); }},
      // (t, k) rotate by k quarter turns over the last two dims
      {"rot90", [](const Args& a) -> Result { return at::rot90(a.tensor(0), a.integer(1), {-2, -1}); }},
      {"tril", [](const Args& a) -> Result { return at::tril(a.tensor(0), a.integer(1, 0)); }},
      {"triu", [](const Args& a) -> Result { return at::triu(a.tensor(0), a.integer(1, 0)); }},
      {"diag", [](const Args& a) -> Result { return at::diag(a.tensor(0), a.integer(1, 0)); }},
      {"diagonal",
       [](const Args& a) -> Result { return at::diagonal(a.tensor(0), a.integer(1, 0), a.integer(2, 0), a.integer(3, 1)); }},
      // (labels, numClasses)
      {"oneHot", [](const Args& a) -> Result { return at::one_hot(a.tensor(0), a.integer(1, -1)); }},
  };
  table.insert(table.end(), ops.begin(), ops.end());
}

}  // namespace twinshot
