// The op table: every libtorch call the addon exposes is one entry here, taking plain C++
// arguments and returning a plain C++ result, so the same entry runs on the JS thread (sync)
// or on a libuv worker (async) without touching JS values off the main thread.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode and its guards: not pulled in by ATen.h from 2.x on

#include <cmath>
#include <cstdint>
#include <c10/util/Optional.h>
#include <sstream>
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
  std::vector<int64_t> ints;  // `numbers` as integers (shapes, dims), filled only when all are safe integers
  bool intsValid = true;
  std::vector<at::Tensor> tensors;  // a null entry arrives as an undefined tensor
};

// A bad argument: the message names it and says what it must be. JavaScript sees ERR_ARGUMENT.
struct ArgumentException : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Integers travel as doubles. Casting NaN, infinities or doubles beyond int64 to an integer is
// undefined behaviour, so only JavaScript's safe integers (exact in a double) are accepted.
constexpr double kMaxSafeInteger = 9007199254740991.0;
inline bool IsSafeInteger(double x) {
  return std::isfinite(x) && std::trunc(x) == x && std::fabs(x) <= kMaxSafeInteger;
}

inline std::string FormatNumber(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// The dtypes of src/engine/dtype.ts, by libtorch ScalarType code. Other codes (complex,
// quantized, or past the end of the enum) must never be cast to at::ScalarType.
inline bool IsSupportedDtype(double code) {
  if (!IsSafeInteger(code)) return false;
  switch (static_cast<int64_t>(code)) {
    case static_cast<int64_t>(at::kByte):
    case static_cast<int64_t>(at::kChar):
    case static_cast<int64_t>(at::kShort):
    case static_cast<int64_t>(at::kInt):
    case static_cast<int64_t>(at::kLong):
    case static_cast<int64_t>(at::kHalf):
    case static_cast<int64_t>(at::kFloat):
    case static_cast<int64_t>(at::kDouble):
    case static_cast<int64_t>(at::kBool):
    case static_cast<int64_t>(at::kBFloat16):
      return true;
    default:
      return false;
  }
}

inline at::ScalarType CheckedDtype(double code, const std::string& what) {
  if (!IsSupportedDtype(code)) {
    throw ArgumentException(what +
                            " must be a dtype code: uint8 0, int8 1, int16 2, int32 3, int64 4, float16 5, "
                            "float32 6, float64 7, bool 11 or bfloat16 15; got " +
                            FormatNumber(code));
  }
  return static_cast<at::ScalarType>(static_cast<int64_t>(code));
}

// Typed access to an op's arguments. Each reader checks kind and range and says which argument
// was wrong and what it expected; the caller prefixes the op name when the error reaches JavaScript.
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
  // A safe integer (see IsSafeInteger).
  int64_t integer(size_t i) const {
    double x = expect(i, Arg::Kind::Number, "an integer").number;
    if (!IsSafeInteger(x)) throw ArgumentException(name(i) + " must be an integer; got " + FormatNumber(x));
    return static_cast<int64_t>(x);
  }
  int64_t integer(size_t i, int64_t fallback) const { return has(i) ? integer(i) : fallback; }
  // An integer in [low, high], for arguments libtorch casts to a smaller type or an enum.
  int64_t integerIn(size_t i, int64_t low, int64_t high) const {
    int64_t x = integer(i);
    if (x < low || x > high) {
      throw ArgumentException(name(i) + " must be an integer from " + std::to_string(low) + " to " +
                              std::to_string(high) + "; got " + std::to_string(x));
    }
    return x;
  }
  int64_t integerIn(size_t i, int64_t low, int64_t high, int64_t fallback) const {
    return has(i) ? integerIn(i, low, high) : fallback;
  }
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
  at::IntArrayRef ints(size_t i) const {
    const Arg& arg = expect(i, Arg::Kind::Numbers, "an array of integers");
    if (!arg.intsValid) throw ArgumentException(name(i) + " must be an array of integers; got " + ListText(arg.numbers));
    return arg.ints;
  }
  const std::vector<double>& numbers(size_t i) const {
    return expect(i, Arg::Kind::Numbers, "an array of numbers").numbers;
  }
  // A list of tensors, every entry defined.
  const std::vector<at::Tensor>& tensors(size_t i) const {
    const std::vector<at::Tensor>& list = optTensors(i);
    for (size_t k = 0; k < list.size(); k++) {
      if (!list[k].defined()) throw ArgumentException(name(i) + " must hold only tensors; entry " + std::to_string(k) + " is null");
    }
    return list;
  }
  // A list of tensors where null entries (undefined tensors) mean "none here".
  const std::vector<at::Tensor>& optTensors(size_t i) const {
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
    if (IsSafeInteger(x)) return at::Scalar(static_cast<int64_t>(x));
    return at::Scalar(x);
  }
  at::ScalarType dtype(size_t i) const { return CheckedDtype(expect(i, Arg::Kind::Number, "a dtype code").number, name(i)); }
  at::Device device(size_t i) const { return has(i) ? at::Device(text(i)) : at::Device(at::kCPU); }
  at::TensorOptions options(size_t dtypeIndex, size_t deviceIndex) const {
    return at::TensorOptions().dtype(dtype(dtypeIndex)).device(device(deviceIndex));
  }

 private:
  static std::string name(size_t i) { return "argument " + std::to_string(i); }
  static std::string ListText(const std::vector<double>& xs) {
    std::string out = "[";
    for (size_t k = 0; k < xs.size() && k < 8; k++) out += (k ? ", " : "") + FormatNumber(xs[k]);
    return out + (xs.size() > 8 ? ", ...]" : "]");
  }
  const Arg& expect(size_t i, Arg::Kind kind, const char* what) const {
    if (i >= items.size() || items[i].kind != kind) throw ArgumentException(name(i) + " must be " + what);
    return items[i];
  }
};

struct None {};
using Result = std::variant<None, at::Tensor, std::vector<at::Tensor>, double, bool, std::vector<int64_t>, std::string>;

using OpFn = Result (*)(const Args&);

// Where an op may run. Ops that change tensors in place, autograd state or process settings run
// on the JS thread only: on a libuv worker (runAsync) they would race with the JS thread, which
// reads and replaces the same tensors' metadata without locks.
enum class Threading { Any, JsThreadOnly };
constexpr Threading kJsThreadOnly = Threading::JsThreadOnly;

struct OpEntry {
  const char* name;
  OpFn fn;
  Threading threading = Threading::Any;
};

// Autocast (mixed precision) is per thread, like grad mode; runAsync carries the caller's
// settings to the worker with these (defined in ops/autograd.cc).
struct AutocastState {
  bool cpuEnabled = false;
  at::ScalarType cpuDtype = at::kBFloat16;
  bool cudaEnabled = false;
  at::ScalarType cudaDtype = at::kHalf;
};
AutocastState CurrentAutocast();
// Applies `state` on this thread for the scope's lifetime; on leaving, drops the low-precision
// weight copies cached meanwhile (a pool thread must not keep them for a later op) and restores
// the thread's own settings.
class AutocastScope {
 public:
  explicit AutocastScope(const AutocastState& state);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  AutocastState previous_;
  bool active_;
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
