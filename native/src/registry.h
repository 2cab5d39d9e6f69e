// The op table: every libtorch call the addon exposes is one entry here, taking plain C++
// arguments and returning a plain C++ result, so the same entry runs on the JS thread (sync)
// or on a libuv worker (async) without touching JS values off the main thread.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode and its guards: not pulled in by ATen.h from 2.x on

#include <cmath>
#include <cstdint>
#include <c10/util/Optional.h>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace twinshot {

// One argument as it arrived from JavaScript, already converted on the JS thread.
struct Arg {
  enum class Kind { None, Tensor, Number, Bool, String, Numbers, Tensors };
  Kind kind = Kind::None;
  at::Tensor tensor;
  double number = 0;
  bool boolean = false;
  std::string text;
  std::vector<double> numbers;
  std::vector<int64_t> ints;  // `numbers` as integers, for shapes and dims
  std::vector<at::Tensor> tensors;
};

// Typed access to an op's arguments. Each reader says which argument was wrong and what it
// expected, because the op name is prefixed by the caller when the error reaches JavaScript.
class Args {
 public:
  std::vector<Arg> items;

  size_t size() const { return items.size(); }
  bool has(size_t i) const { return i < items.size() && items[i].kind != Arg::Kind::None; }
  bool isTensor(size_t i) const { return i < items.size() && items[i].kind == Arg::Kind::Tensor; }

  const at::Tensor& tensor(size_t i) const { return expect(i, Arg::Kind::Tensor, "a tensor").tensor; }
  c10::optional<at::Tensor> optTensor(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return tensor(i);
  }
  double number(size_t i) const { return expect(i, Arg::Kind::Number, "a number").number; }
  double number(size_t i, double fallback) const { return has(i) ? number(i) : fallback; }
  int64_t integer(size_t i) const { return static_cast<int64_t>(number(i)); }
  int64_t integer(size_t i, int64_t fallback) const { return has(i) ? integer(i) : fallback; }
  c10::optional<int64_t> optInteger(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return integer(i);
  }
  c10::optional<double> optNumber(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return number(i);
  }
  bool boolean(size_t i) const { return expect(i, Arg::Kind::Bool, "a boolean").boolean; }
  bool boolean(size_t i, bool fallback) const { return has(i) ? boolean(i) : fallback; }
  const std::string& text(size_t i) const { return expect(i, Arg::Kind::String, "a string").text; }
  at::IntArrayRef ints(size_t i) const { return expect(i, Arg::Kind::Numbers, "an array of integers").ints; }
  const std::vector<double>& numbers(size_t i) const {
    return expect(i, Arg::Kind::Numbers, "an array of numbers").numbers;
  }
  const std::vector<at::Tensor>& tensors(size_t i) const {
    static const std::vector<at::Tensor> kEmpty;
    // An empty JS array arrives as an empty number list; it is also an empty tensor list.
    if (i < items.size() && items[i].kind == Arg::Kind::Numbers && items[i].numbers.empty()) return kEmpty;
    return expect(i, Arg::Kind::Tensors, "an array of tensors").tensors;
  }
  // A tensor or a number, for ops with both forms (add(t, 2) and add(t, u)).
  // Integral numbers become integer scalars, as Python ints do, so int64 tensors stay int64.
  at::Scalar scalar(size_t i) const { return ToScalar(number(i)); }
  at::Scalar scalar(size_t i, double fallback) const { return ToScalar(has(i) ? number(i) : fallback); }
  static at::Scalar ToScalar(double x) {
    if (std::nearbyint(x) == x && std::fabs(x) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(x));
    return at::Scalar(x);
  }
  at::ScalarType dtype(size_t i) const { return static_cast<at::ScalarType>(integer(i)); }
  at::Device device(size_t i) const { return has(i) ? at::Device(text(i)) : at::Device(at::kCPU); }
  at::TensorOptions options(size_t dtypeIndex, size_t deviceIndex) const {
    return at::TensorOptions().dtype(dtype(dtypeIndex)).device(device(deviceIndex));
  }

 private:
  const Arg& expect(size_t i, Arg::Kind kind, const char* what) const {
    if (i >= items.size() || items[i].kind != kind) {
      throw std::invalid_argument("argument " + std::to_string(i) + " must be " + what);
    }
    return items[i];
  }
};

struct None {};
using Result = std::variant<None, at::Tensor, std::vector<at::Tensor>, double, bool, std::vector<int64_t>, std::string>;

using OpFn = Result (*)(const Args&);

struct OpEntry {
  const char* name;
  OpFn fn;
};

// Each op family appends its entries; addon.cc exports them all through one translator.
void RegisterCreationOps(std::vector<OpEntry>& table);
void RegisterPointwiseOps(std::vector<OpEntry>& table);
void RegisterReduceOps(std::vector<OpEntry>& table);
void RegisterShapeOps(std::vector<OpEntry>& table);
void RegisterNnOps(std::vector<OpEntry>& table);
void RegisterAutogradOps(std::vector<OpEntry>& table);
void RegisterOptimOps(std::vector<OpEntry>& table);
void RegisterDistributedOps(std::vector<OpEntry>& table);

// Tensors with one or two elements often come back as pairs (values, indices).
inline Result Pair(std::tuple<at::Tensor, at::Tensor> t) {
  return std::vector<at::Tensor>{std::get<0>(t), std::get<1>(t)};
}

// Optional "dim" arguments: absent means "all dims".
inline std::vector<int64_t> DimsOrAll(const Args& a, size_t i, int64_t rank) {
  if (a.has(i)) return a.ints(i).vec();
  std::vector<int64_t> all(rank);
  for (int64_t d = 0; d < rank; d++) all[d] = d;
  return all;
}

}  // namespace twinshot
