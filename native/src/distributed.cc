// c10d, libtorch's distributed engine, as op-table entries: a TCPStore rendezvous, a Gloo process
// group (NCCL too when libtorch has CUDA) and the collectives data-parallel training needs.
//
// A collective is issued on the JS thread (ranks must issue collectives in the same order, and the
// JS thread is the only place that order is defined) and returns a work id at once; `distWait`
// then waits for it on libuv's pool (src/distributed/process-group.ts calls it through runAsync),
// so the event loop stays free while peers catch up. Errors reach JavaScript through the addon's
// one translator, as for every other op.
#include "registry.h"

#if defined(TWINSHOT_WITH_C10D)
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(TWINSHOT_WITH_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(TWINSHOT_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace twinshot {
namespace {

using Millis = std::chrono::milliseconds;

// One process group: the store it met through and the backend that runs its collectives. The
// backend is held by its concrete type, whose collective methods are the same in libtorch 1.13
// (where it is a ProcessGroup) and 2.x (where it became a Backend behind a ProcessGroup).
struct Group {
  std::string backend;
  int rank = 0;
  int size = 1;
  Millis timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
#if defined(TWINSHOT_WITH_GLOO)
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#if defined(TWINSHOT_WITH_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // Calls `issue` with the backend; every collective method returns a Work in both backends.
  template <typename F>
  c10::intrusive_ptr<c10d::Work> Issue(F issue) {
#if defined(TWINSHOT_WITH_GLOO)
    if (gloo) return issue(*gloo);
#endif
#if defined(TWINSHOT_WITH_NCCL)
    if (nccl) return issue(*nccl);
#endif
    throw std::runtime_error("the process group was destroyed");
  }
};

// A collective in flight, and what to do once it completes (copy a flattened buffer back into its
// tensors, divide a sum into an average, convert gathered tensors back to their dtype).
struct Pending {
  std::shared_ptr<Group> group;
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
  Millis timeout;  // how long distWait waits for it
  std::function<Result()> finish;
};

// Groups and works by id. Never destroyed: at process exit a group may still have a Gloo thread
// blocked on a dead peer, and joining it from a static destructor would hang the exit.
struct Registry {
  std::mutex mutex;
  std::unordered_map<int64_t, std::shared_ptr<Group>> groups;
  std::unordered_map<int64_t, Pending> works;
  int64_t nextId = 1;
};
Registry& registry() {
  static auto* instance = new Registry();
  return *instance;
}

std::shared_ptr<Group> FindGroup(const Args& a, size_t i) {
  int64_t id = a.integer(i);
  std::lock_guard<std::mutex> lock(registry().mutex);
  auto found = registry().groups.find(id);
  if (found == registry().groups.end()) {
    throw std::invalid_argument("no process group " + std::to_string(id) + " (it was destroyed, or never created)");
  }
  return found->second;
}

double QueueWork(Pending pending) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  int64_t id = registry().nextId++;
  registry().works.emplace(id, std::move(pending));
  return static_cast<double>(id);
}

// A collective's own timeout, when given. Gloo bounds each operation by the group's timeout only,
// so a shorter one is enforced by giving up the wait (the group is unusable afterwards, as after
// any failed collective); without one, the wait allows the backend's own timeout to fire first.
Millis WaitLimit(const Args& a, size_t i, const Group& group) {
  return a.has(i) ? Millis(a.integer(i)) : group.timeout + Millis(30000);
}

// An exception's message without libtorch's C++ backtrace.
std::string MessageOf(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return error->what_without_backtrace();
  return e.what();
}

// Whether a backend's error means a peer went away or stopped answering (rather than bad input).
bool LooksLikeLostPeer(const std::string& message) {
  std::string lower = message;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* sign : {"timed out", "timeout", "closed", "reset", "broken pipe", "connect", "eof"}) {
    if (lower.find(sign) != std::string::npos) return true;
  }
  return false;
}

// PyTorch's default group waits on this key after creating its backend (torch/distributed/
// distributed_c10d.py, _store_based_barrier); doing the same lets PyTorch ranks join our groups.
void StoreBarrier(c10d::Store& store, int size, Millis timeout) {
  const std::string key = "store_based_barrier_key:1";
  store.add(key, 1);
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    int64_t joined = store.add(key, 0);
    if (joined >= size) return;
    if (std::chrono::steady_clock::now() - start > timeout) {
      throw std::runtime_error("timed out after " + std::to_string(timeout.count() / 1000) + " s with " +
                               std::to_string(joined) + " of " + std::to_string(size) + " ranks in the group");
    }
    std::this_thread::sleep_for(Millis(10));
  }
}

// distInit(backend, host, port, rank, worldSize, timeoutMs, localAddress) -> group id. Blocks
// until every rank has joined (run it through runAsync). Rank 0 hosts the TCPStore, as PyTorch's
// env:// does. Gloo listens on `localAddress` (this machine's address towards the master; empty:
// PyTorch's default, the address the hostname resolves to).
Result DistInit(const Args& a) {
  const std::string& backend = a.text(0);
  const std::string& host = a.text(1);
  int64_t port = a.integer(2);
  int64_t rank64 = a.integer(3);
  int64_t size64 = a.integer(4);
  int64_t timeoutMs = a.integer(5);
  std::string localAddress = a.has(6) ? a.text(6) : std::string();
  // Checked as 64-bit integers before narrowing, so a huge value cannot wrap into a valid one.
  if (size64 < 1 || size64 > (1 << 24) || rank64 < 0 || rank64 >= size64) {
    throw std::invalid_argument("rank " + std::to_string(rank64) + " is outside a world of " + std::to_string(size64));
  }
  if (port < 1 || port > 65535) throw std::invalid_argument("port " + std::to_string(port) + " is not in 1-65535");
  if (timeoutMs < 1) throw std::invalid_argument("timeout " + std::to_string(timeoutMs) + " ms is not positive");
  int rank = static_cast<int>(rank64);
  int size = static_cast<int>(size64);
  Millis timeout(timeoutMs);
  // An unavailable backend fails here, before rank 0 hosts a store and waits for the others.
  if (backend == "gloo") {
#if !defined(TWINSHOT_WITH_GLOO)
    throw std::runtime_error(
        "this addon was built without Gloo's headers, so it has no gloo backend; install them "
        "(sudo apt-get install libgloo-dev) and rebuild with `npm run build:native`");
#endif
  } else if (backend == "nccl") {
#if !defined(TWINSHOT_WITH_NCCL)
    throw std::runtime_error(
        "the nccl backend needs a libtorch built with CUDA and NCCL (set LIBTORCH to one and rebuild); use 'gloo'");
#endif
  } else {
    throw std::invalid_argument("unknown backend '" + backend + "' (expected 'gloo' or 'nccl')");
  }

  auto group = std::make_shared<Group>();
  group->backend = backend;
  group->rank = rank;
  group->size = size;
  group->timeout = timeout;
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<std::size_t>(size);
    options.waitWorkers = true;
    options.timeout = timeout;
    options.multiTenant = true;
    tcp = c10::make_intrusive<c10d::TCPStore>(host, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        std::string("rank ") + std::to_string(rank) + " could not " +
        (rank == 0 ? "host the rendezvous store on port " + std::to_string(port) + " or see all " +
                         std::to_string(size) + " ranks arrive"
                   : "reach the rendezvous store at " + host + ":" + std::to_string(port)) +
        " within " + std::to_string(timeout.count() / 1000) + " s (check MASTER_ADDR, MASTER_PORT, WORLD_SIZE " +
        "and that every rank was started): " + MessageOf(e));
  }
  // The same store layout as PyTorch's default group: "default_pg", then the group's name "0".
  group->store = c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
  auto backendStore = c10::make_intrusive<c10d::PrefixStore>("0", group->store);

  if (backend == "gloo") {
#if defined(TWINSHOT_WITH_GLOO)
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // Like PyTorch, GLOO_SOCKET_IFNAME names the interface. Else the address this machine
    // reaches the master from, which the other machines can reach too (PyTorch's default, the
    // hostname's address, is 127.0.1.1 on a stock Debian and unreachable from elsewhere).
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    if (interface != nullptr && *interface != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    } else if (!localAddress.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(localAddress));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;  // PyTorch's default: two per device
    group->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(backendStore, rank, size, options);
    StoreBarrier(*group->store, size, timeout);
    group->gloo->setSequenceNumberForGroup();
#endif
  } else {
#if defined(TWINSHOT_WITH_NCCL)
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    group->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(backendStore, rank, size, options);
    StoreBarrier(*group->store, size, timeout);
    group->nccl->setSequenceNumberForGroup();
#endif
  }
  std::lock_guard<std::mutex> lock(registry().mutex);
  int64_t id = registry().nextId++;
  registry().groups.emplace(id, std::move(group));
  return static_cast<double>(id);
}

// distDestroy(group): drops the group; its connections close and, on rank 0, the store stops.
Result DistDestroy(const Args& a) {
  std::shared_ptr<Group> group;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    auto found = registry().groups.find(a.integer(0));
    if (found == registry().groups.end()) return None{};
    group = std::move(found->second);
    registry().groups.erase(found);
  }
  return None{};
}

// Which backends this build has, e.g. "gloo" or "gloo,nccl".
Result DistBackends(const Args&) {
  std::string names;
#if defined(TWINSHOT_WITH_GLOO)
  names += "gloo";
#endif
#if defined(TWINSHOT_WITH_NCCL)
  names += names.empty() ? "nccl" : ",nccl";
#endif
  return names;
}

// ---- tensors in and out of a collective -----------------------------------------------------

// The dtype a backend carries `t` in. Gloo (in 1.13) has no bfloat16, int16 or bool: where only
// bytes are moved their bits travel as float16 (never computed on) and uint8; sums of bfloat16 are
// taken in float32 and rounded once.
at::ScalarType WireType(const Group& group, at::ScalarType type, bool reduces) {
  if (group.backend != "gloo") return type;
  if (type == at::kBFloat16) return reduces ? at::kFloat : at::kHalf;
  if (type == at::kShort) {
    if (reduces) return at::kInt;
    return at::kHalf;
  }
  if (type == at::kBool) {
    if (reduces) throw std::invalid_argument("allReduce of bool tensors is not supported; convert them to uint8");
    return at::kByte;
  }
  return type;
}

// Reinterprets `t` as the wire dtype when both have one element size (the bits travel unchanged),
// else converts it (a reduction in a wider type).
at::Tensor ToWire(const at::Tensor& t, at::ScalarType wire) {
  if (t.scalar_type() == wire) return t;
  if (at::elementSize(wire) == at::elementSize(t.scalar_type())) return t.view(wire);
  return t.to(wire);
}

at::Tensor FromWire(const at::Tensor& t, at::ScalarType original) {
  if (t.scalar_type() == original) return t;
  if (at::elementSize(t.scalar_type()) == at::elementSize(original)) return t.view(original);
  return t.to(original);
}

void CheckSameKind(const std::vector<at::Tensor>& tensors, const char* what) {
  if (tensors.empty()) throw std::invalid_argument(std::string(what) + " needs at least one tensor");
  for (const at::Tensor& t : tensors) {
    if (!t.defined()) throw std::invalid_argument(std::string(what) + ": a tensor in the list is undefined");
    if (t.scalar_type() != tensors[0].scalar_type() || t.device() != tensors[0].device()) {
      throw std::invalid_argument(std::string(what) + ": every tensor must have the same dtype and device");
    }
  }
}

// One buffer in the wire dtype that holds every tensor of `tensors` (the tensor itself when there
// is one contiguous tensor already in that dtype), and a function that copies it back.
struct Flat {
  at::Tensor buffer;
  bool aliases = false;  // the buffer is the tensor itself: nothing to copy back
};

Flat Flatten(const std::vector<at::Tensor>& tensors, at::ScalarType wire) {
  if (tensors.size() == 1 && tensors[0].is_contiguous() && tensors[0].scalar_type() == wire) {
    return {tensors[0], true};
  }
  if (tensors.size() == 1 && tensors[0].is_contiguous() &&
      at::elementSize(wire) == at::elementSize(tensors[0].scalar_type())) {
    return {tensors[0].view(wire), true};
  }
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const at::Tensor& t : tensors) flat.push_back(ToWire(t.reshape({-1}), wire));
  return {at::cat(flat), false};
}

void CopyBack(const Flat& flat, const std::vector<at::Tensor>& tensors) {
  if (flat.aliases) return;
  int64_t offset = 0;
  for (const at::Tensor& t : tensors) {
    int64_t n = t.numel();
    t.copy_(FromWire(flat.buffer.narrow(0, offset, n), t.scalar_type()).view(t.sizes()));
    offset += n;
  }
}

c10d::ReduceOp ParseReduceOp(const std::string& name) {
  if (name == "sum" || name == "avg") return c10d::ReduceOp::SUM;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "max") return c10d::ReduceOp::MAX;
  throw std::invalid_argument("unknown reduce op '" + name + "' (expected sum, avg, product, min or max)");
}

// ---- collectives ------------------------------------------------------------------------------

// distAllReduce(group, tensors, op, timeoutMs?) -> work id. Reduces the tensors (same dtype and
// device) across ranks in place, as one flattened buffer. 'avg' is a sum divided by the world
// size (Gloo has no average).
Result DistAllReduce(const Args& a) {
  auto group = FindGroup(a, 0);
  const std::vector<at::Tensor>& tensors = a.tensors(1);
  CheckSameKind(tensors, "allReduce");
  const std::string& opName = a.text(2);
  c10d::AllreduceOptions options;
  options.reduceOp = ParseReduceOp(opName);
  bool average = opName == "avg";
  if (average && !at::isFloatingType(tensors[0].scalar_type())) {
    throw std::invalid_argument("allReduce 'avg' needs floating-point tensors; got " +
                                std::string(c10::toString(tensors[0].scalar_type())));
  }
  at::NoGradGuard noGrad;
  Flat flat = Flatten(tensors, WireType(*group, tensors[0].scalar_type(), true));
  std::vector<at::Tensor> io{flat.buffer};
  auto work = group->Issue([&](auto& backend) { return backend.allreduce(io, options); });
  int size = group->size;
  return QueueWork({group, work, "allReduce", WaitLimit(a, 3, *group), [flat, tensors, average, size]() -> Result {
                      at::NoGradGuard noGrad;
                      if (average) flat.buffer.div_(size);
                      CopyBack(flat, tensors);
                      return None{};
                    }});
}

// distBroadcast(group, tensors, src, timeoutMs?) -> work id. Every rank's tensors (same dtype and
// device) take rank `src`'s values, in place.
Result DistBroadcast(const Args& a) {
  auto group = FindGroup(a, 0);
  const std::vector<at::Tensor>& tensors = a.tensors(1);
  CheckSameKind(tensors, "broadcast");
  c10d::BroadcastOptions options;
  options.rootRank = a.integer(2);
  if (options.rootRank < 0 || options.rootRank >= group->size) {
    throw std::invalid_argument("src " + std::to_string(options.rootRank) + " is outside a world of " +
                                std::to_string(group->size));
  }
  at::NoGradGuard noGrad;
  Flat flat = Flatten(tensors, WireType(*group, tensors[0].scalar_type(), false));
  std::vector<at::Tensor> io{flat.buffer};
  auto work = group->Issue([&](auto& backend) { return backend.broadcast(io, options); });
  return QueueWork({group, work, "broadcast", WaitLimit(a, 3, *group), [flat, tensors]() -> Result {
                      at::NoGradGuard noGrad;
                      CopyBack(flat, tensors);
                      return None{};
                    }});
}

// distAllGather(group, tensor, timeoutMs?) -> work id; its wait returns one tensor per rank. Every
// rank's tensor must have the same shape and dtype.
Result DistAllGather(const Args& a) {
  auto group = FindGroup(a, 0);
  const at::Tensor& input = a.tensor(1);
  c10d::AllgatherOptions options;
  at::ScalarType original = input.scalar_type();
  at::ScalarType wire = WireType(*group, original, false);
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> inputs{ToWire(input.detach().contiguous(), wire)};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < group->size; r++) outputs[0].push_back(at::empty_like(inputs[0]));
  auto work = group->Issue([&](auto& backend) { return backend.allgather(outputs, inputs, options); });
  auto gathered = outputs[0];
  return QueueWork({group, work, "allGather", WaitLimit(a, 2, *group), [gathered, original]() -> Result {
                      std::vector<at::Tensor> result;
                      for (const at::Tensor& t : gathered) result.push_back(FromWire(t, original));
                      return result;
                    }});
}

// distBarrier(group, timeoutMs?) -> work id: completes once every rank has reached it.
Result DistBarrier(const Args& a) {
  auto group = FindGroup(a, 0);
  c10d::BarrierOptions options;
  auto work = group->Issue([&](auto& backend) { return backend.barrier(options); });
  return QueueWork({group, work, "barrier", WaitLimit(a, 1, *group), []() -> Result { return None{}; }});
}

// distWait(work) -> the collective's result. Blocks until it completes or fails: run it through
// runAsync. A failure names this rank and what usually causes it.
Result DistWait(const Args& a) {
  Pending pending;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    auto found = registry().works.find(a.integer(0));
    if (found == registry().works.end()) throw std::invalid_argument("no collective in flight with that id");
    pending = std::move(found->second);
    registry().works.erase(found);
  }
  const Group& group = *pending.group;
  auto started = std::chrono::steady_clock::now();
  try {
    pending.work->wait(pending.timeout);
  } catch (const std::exception& e) {
    std::string message = MessageOf(e);
    if (message.find("Operation timed out") != std::string::npos) {
      auto waited = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
      message = "timed out after " + std::to_string(waited.count() / 1000.0).substr(0, 5) + " s";
    }
    throw std::runtime_error(pending.what + " failed on rank " + std::to_string(group.rank) + " of " +
                             std::to_string(group.size) + ": " + message +
                             (LooksLikeLostPeer(message) ? " (a peer rank died, hung, or took longer than the timeout)" : ""));
  }
  return pending.finish();
}

// ---- the rendezvous store ----------------------------------------------------------------------

// Keys of ours live beside the backend's, under a prefix of their own.
std::string StoreKey(const std::string& key) { return "twinshot/" + key; }

// distStoreSet(group, key, value): sets a string in the group's TCPStore (hosted by rank 0).
Result DistStoreSet(const Args& a) {
  auto group = FindGroup(a, 0);
  const std::string& value = a.text(2);
  group->store->set(StoreKey(a.text(1)), std::vector<uint8_t>(value.begin(), value.end()));
  return None{};
}

// distStoreGet(group, key, timeoutMs) -> the value, once some rank has set it. Blocks: run it
// through runAsync. Fails at once when rank 0, which hosts the store, is gone.
Result DistStoreGet(const Args& a) {
  auto group = FindGroup(a, 0);
  std::string key = StoreKey(a.text(1));
  Millis timeout(a.integer(2));
  try {
    group->store->wait({key}, timeout);
    std::vector<uint8_t> value = group->store->get(key);
    return std::string(value.begin(), value.end());
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(group->rank) + " waited for '" + a.text(1) +
                             "' from the store on rank 0 and failed: " + MessageOf(e) +
                             " (rank 0 died, hung, or took longer than " + std::to_string(timeout.count() / 1000) +
                             " s)");
  }
}

}  // namespace

void RegisterDistributedOps(std::vector<OpEntry>& table) {
  table.insert(table.end(), {
                                {"distInit", DistInit},
                                {"distDestroy", DistDestroy},
                                {"distBackends", DistBackends},
                                {"distAllReduce", DistAllReduce},
                                {"distBroadcast", DistBroadcast},
                                {"distAllGather", DistAllGather},
                                {"distBarrier", DistBarrier},
                                {"distWait", DistWait},
                                {"distStoreSet", DistStoreSet},
                                {"distStoreGet", DistStoreGet},
                            });
}

}  // namespace twinshot

#else  // a libtorch without c10d (not built with USE_DISTRIBUTED): the ops exist and say so

namespace twinshot {
namespace {
Result Unavailable(const Args&) {
  throw std::runtime_error("this libtorch was built without its distributed package (c10d); use Linux's libtorch-dev or a pytorch.org build");
}
Result NoBackends(const Args&) { return std::string(); }
}  // namespace

void RegisterDistributedOps(std::vector<OpEntry>& table) {
  for (const char* name : {"distInit", "distDestroy", "distAllReduce", "distBroadcast", "distAllGather",
                           "distBarrier", "distWait", "distStoreSet", "distStoreGet"}) {
    table.push_back({name, Unavailable});
  }
  table.push_back({"distBackends", NoBackends});
}

}  // namespace twinshot
#endif
