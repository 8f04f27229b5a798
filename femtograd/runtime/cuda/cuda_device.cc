#include "femtograd/runtime/cuda/cuda_device.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <iostream>
#include <mutex>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/runtime/cuda/cuda_api.h"
#include "femtograd/runtime/cuda/nvrtc_compiler.h"

namespace fg {
namespace {

using namespace fg::cuda;

constexpr size_t kAlign = 256;                 // cuMemAlloc gives 256-byte aligned blocks
constexpr size_t kStaging = size_t(16) << 20;  // bytes per pinned staging buffer
constexpr int kStagingBuffers = 2;             // filled alternately, so copies overlap memcpy

// memcpy between pageable and pinned host memory on several threads: one thread's memcpy moves
// about 7 GB/s, a fraction of what the copy engine takes from pinned memory (~50 GB/s on PCIe 5)
void host_copy(void* dst, const void* src, size_t n) {
  constexpr size_t kPiece = size_t(1) << 20;
  int64_t pieces = static_cast<int64_t>((n + kPiece - 1) / kPiece);
  int threads = std::min(num_threads(), 8);
  if (pieces < 2 || threads < 2) {
    std::memcpy(dst, src, n);
    return;
  }
  ThreadPool::global().run(pieces, [&](int64_t b, int64_t e) {
    size_t lo = static_cast<size_t>(b) * kPiece, hi = std::min(n, static_cast<size_t>(e) * kPiece);
    std::memcpy(static_cast<char*>(dst) + lo, static_cast<const char*>(src) + lo, hi - lo);
  }, std::min<int64_t>(pieces, threads), threads);
}

// Everything one GPU needs, shared by its device, allocator and programs.
struct GPU {
  CUDAInfo info;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUstream stream = nullptr;
  CUevent t0 = nullptr, t1 = nullptr;  // timing
  std::mutex mu;                        // guards the staging buffers and last_kernel
  void* staging[kStagingBuffers] = {};
  CUevent staging_done[kStagingBuffers] = {};
  std::string last_kernel;  // the last kernel launched (named when a later sync finds a fault)

  // Copies run on a stream of their own. A copy waits only for the queued kernels that use its
  // device memory (the allocations each launch touched are tracked), so it overlaps the others;
  // kernels queued after a copy wait for it.
  CUstream copy_stream = nullptr;
  CUevent copy_done = nullptr;
  std::mutex use_mu;  // guards what follows
  std::map<CUdeviceptr, std::pair<size_t, uint64_t>> allocs;  // base -> (bytes, last launch using it)
  uint64_t launches = 0;     // kernels (and graphs) queued so far
  uint64_t copy_waited = 0;  // the copy stream waits for the launches up to this one
  struct Fence {
    uint64_t seq;  // recorded on the compute stream after this launch
    CUevent ev;
  };
  std::deque<Fence> fences;  // oldest first
  std::vector<CUevent> spare_events;
  static constexpr uint64_t kFenceEvery = 16;  // launches between fences (each costs a record)
  static constexpr size_t kMaxFences = 64;

  // a launch that reads or writes these device pointers has been queued (call after queuing it)
  void note_launch(std::span<const CUdeviceptr> ptrs, bool fence_now) {
    std::lock_guard lock(use_mu);
    launches++;
    for (CUdeviceptr p : ptrs)
      if (auto* a = alloc_of(p)) a->second = launches;
    if (fence_now || launches % kFenceEvery == 0) record_fence();
  }
  std::pair<size_t, uint64_t>* alloc_of(CUdeviceptr p) {
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    return p < it->first + it->second.first ? &it->second : nullptr;
  }
  void record_fence() {  // under use_mu
    if (!fences.empty() && fences.back().seq == launches) return;
    CUevent ev = nullptr;
    if (!spare_events.empty()) {
      ev = spare_events.back();
      spare_events.pop_back();
    } else {
      check_cu(cuda_driver().cuEventCreate(&ev, kEventDisableTiming), "CUDA", "cuEventCreate");
    }
    check_cu(cuda_driver().cuEventRecord(ev, stream), "CUDA", "cuEventRecord");
    fences.push_back({launches, ev});
    if (fences.size() > kMaxFences) {  // a copy that needs it waits for a later fence instead
      spare_events.push_back(fences.front().ev);
      fences.pop_front();
    }
  }
  // before a copy on the copy stream that touches device memory at p: wait for the queued kernels
  // that use p's allocation
  void copy_after_uses(CUdeviceptr p) {
    std::lock_guard lock(use_mu);
    auto* a = alloc_of(p);
    uint64_t need = a ? a->second : launches;  // memory we do not know: wait for everything
    if (need <= copy_waited) return;
    const Fence* f = nullptr;
    for (const Fence& x : fences)
      if (x.seq >= need) { f = &x; break; }
    if (!f) {
      record_fence();
      f = &fences.back();
    }
    check_cu(cuda_driver().cuStreamWaitEvent(copy_stream, f->ev, 0), "CUDA", "cuStreamWaitEvent");
    copy_waited = f->seq;
  }
  // after queuing a copy: kernels queued from now on wait for it
  void compute_after_copy() {
    check_cu(cuda_driver().cuEventRecord(copy_done, copy_stream), "CUDA", "cuEventRecord");
    check_cu(cuda_driver().cuStreamWaitEvent(stream, copy_done, 0), "CUDA", "cuStreamWaitEvent");
  }

  // the driver acts on the calling thread's current context: make it ours
  void bind() const {
    thread_local CUcontext current = nullptr;
    if (current != ctx) {
      check_cu(cuda_driver().cuCtxSetCurrent(ctx), "CUDA", "cuCtxSetCurrent");
      current = ctx;
    }
  }
  void sync(const char* why, bool copies_too = true) {
    bind();
    CUresult r = cuda_driver().cuStreamSynchronize(stream);
    if (r == 0 && copies_too) r = cuda_driver().cuStreamSynchronize(copy_stream);
    if (r != 0) {
      std::string k;
      {
        std::lock_guard lock(mu);
        k = last_kernel;
      }
      fail(ErrorKind::Runtime, "CUDA", why, ": the GPU reported ", cu_error_text(r),
           k.empty() ? std::string() : " (last kernel launched: " + k + ")");
    }
  }
};

std::shared_ptr<GPU> open_gpu(int ordinal) {
  const Driver& d = cuda_driver();
  check_cu(d.cuInit(0), "CUDA", "cuInit (is a GPU visible to this process?)");
  int count = 0;
  check_cu(d.cuDeviceGetCount(&count), "CUDA", "cuDeviceGetCount");
  FG_CHECK(ordinal >= 0 && ordinal < count, ErrorKind::Runtime, "CUDA", "no GPU ", ordinal,
           ": this machine has ", count, count == 1 ? " GPU" : " GPUs");
  auto g = std::make_shared<GPU>();
  check_cu(d.cuDeviceGet(&g->dev, ordinal), "CUDA", "cuDeviceGet");
  CUDAInfo& in = g->info;
  in.ordinal = ordinal;
  char name[256] = {};
  check_cu(d.cuDeviceGetName(name, sizeof name - 1, g->dev), "CUDA", "cuDeviceGetName");
  in.name = name;
  auto attr = [&](int a) {
    int v = 0;
    check_cu(d.cuDeviceGetAttribute(&v, a, g->dev), "CUDA", "cuDeviceGetAttribute");
    return v;
  };
  in.cc_major = attr(ATTR_COMPUTE_CAPABILITY_MAJOR);
  in.cc_minor = attr(ATTR_COMPUTE_CAPABILITY_MINOR);
  in.sm_count = attr(ATTR_MULTIPROCESSOR_COUNT);
  in.max_threads_per_block = attr(ATTR_MAX_THREADS_PER_BLOCK);
  in.warp_size = attr(ATTR_WARP_SIZE);
  in.max_shared_per_block = attr(ATTR_MAX_SHARED_PER_BLOCK);
  in.max_shared_per_block_optin = attr(ATTR_MAX_SHARED_PER_BLOCK_OPTIN);
  in.l2_bytes = attr(ATTR_L2_CACHE_SIZE);
  in.max_grid[0] = attr(ATTR_MAX_GRID_DIM_X);
  in.max_grid[1] = attr(ATTR_MAX_GRID_DIM_Y);
  in.max_grid[2] = attr(ATTR_MAX_GRID_DIM_Z);
  check_cu(d.cuDeviceTotalMem(&in.total_mem, g->dev), "CUDA", "cuDeviceTotalMem");
  check_cu(d.cuDevicePrimaryCtxRetain(&g->ctx, g->dev), "CUDA", "cuDevicePrimaryCtxRetain");
  g->bind();
  check_cu(d.cuStreamCreate(&g->stream, kStreamNonBlocking), "CUDA", "cuStreamCreate");
  check_cu(d.cuStreamCreate(&g->copy_stream, kStreamNonBlocking), "CUDA", "cuStreamCreate");
  check_cu(d.cuEventCreate(&g->copy_done, kEventDisableTiming), "CUDA", "cuEventCreate");
  check_cu(d.cuEventCreate(&g->t0, kEventDefault), "CUDA", "cuEventCreate");
  check_cu(d.cuEventCreate(&g->t1, kEventDefault), "CUDA", "cuEventCreate");
  for (int i = 0; i < kStagingBuffers; i++) {
    check_cu(d.cuMemHostAlloc(&g->staging[i], kStaging, kHostAllocPortable), "CUDA",
             "cuMemHostAlloc of the pinned staging buffer");
    check_cu(d.cuEventCreate(&g->staging_done[i], kEventDisableTiming), "CUDA", "cuEventCreate");
  }
  return g;
}

class CUDAAllocator final : public Allocator {
 public:
  explicit CUDAAllocator(std::shared_ptr<GPU> g) : g_(std::move(g)) {}
  void* alloc(size_t bytes) override {
    g_->bind();
    CUdeviceptr p = 0;
    CUresult r = cuda_driver().cuMemAlloc(&p, std::max<size_t>(bytes, 1));
    if (r != 0)
      fail(ErrorKind::Runtime, "CUDA", "out of GPU memory allocating ", bytes, " bytes on ",
           g_->info.name, ": ", cu_error_text(r));
    std::lock_guard lock(g_->use_mu);
    g_->allocs[p] = {std::max<size_t>(bytes, 1), 0};
    return reinterpret_cast<void*>(p);
  }
  void free(void* p, size_t) override {
    g_->bind();
    {
      std::lock_guard lock(g_->use_mu);
      g_->allocs.erase(reinterpret_cast<CUdeviceptr>(p));
    }
    cuda_driver().cuMemFree(reinterpret_cast<CUdeviceptr>(p));  // waits for queued work using it
  }
  // host -> pinned staging (memcpy) -> device (async); the two buffers alternate so the memcpy of
  // one chunk overlaps the DMA of the previous one
  void copy_in(void* dst, const void* src, size_t bytes) override {
    const Driver& d = cuda_driver();
    g_->bind();
    std::lock_guard lock(g_->mu);
    const char* s = static_cast<const char*>(src);
    g_->copy_after_uses(reinterpret_cast<CUdeviceptr>(dst));
    for (size_t off = 0, i = 0; off < bytes; off += kStaging, i ^= 1) {
      size_t n = std::min(kStaging, bytes - off);
      check_cu(d.cuEventSynchronize(g_->staging_done[i]), "CUDA copy_in", "waiting for staging");
      host_copy(g_->staging[i], s + off, n);
      check_cu(d.cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(dst) + off, g_->staging[i], n,
                                   g_->copy_stream),
               "CUDA copy_in", cat("copy of ", n, " bytes to the GPU"));
      check_cu(d.cuEventRecord(g_->staging_done[i], g_->copy_stream), "CUDA copy_in", "cuEventRecord");
    }
    g_->compute_after_copy();
  }
  // device -> pinned (async, after the queued kernels that write src) -> host; the staging buffers
  // alternate, so the DMA of one chunk overlaps the memcpy out of the one before
  void copy_out(void* dst, const void* src, size_t bytes) override {
    const Driver& d = cuda_driver();
    g_->bind();
    char* out = static_cast<char*>(dst);
    std::lock_guard lock(g_->mu);  // the staging buffers are the device's: one copy at a time
    g_->copy_after_uses(reinterpret_cast<CUdeviceptr>(src));
    size_t chunks = (bytes + kStaging - 1) / kStaging;
    auto issue = [&](size_t c) {
      size_t off = c * kStaging, n = std::min(kStaging, bytes - off), i = c % kStagingBuffers;
      check_cu(d.cuEventSynchronize(g_->staging_done[i]), "CUDA copy_out", "waiting for staging");
      check_cu(d.cuMemcpyDtoHAsync(g_->staging[i], reinterpret_cast<CUdeviceptr>(src) + off, n, g_->copy_stream),
               "CUDA copy_out", cat("copy of ", n, " bytes from the GPU"));
      check_cu(d.cuEventRecord(g_->staging_done[i], g_->copy_stream), "CUDA copy_out", "cuEventRecord");
    };
    if (chunks) issue(0);
    for (size_t c = 0; c < chunks; c++) {
      if (c + 1 < chunks) issue(c + 1);
      size_t off = c * kStaging, n = std::min(kStaging, bytes - off), i = c % kStagingBuffers;
      check_cu(d.cuEventSynchronize(g_->staging_done[i]), "CUDA copy_out", cat("copy of ", n, " bytes from the GPU"));
      host_copy(out + off, g_->staging[i], n);
    }
  }

 private:
  std::shared_ptr<GPU> g_;
};

class CUDAProgram final : public Program {
 public:
  CUDAProgram(std::shared_ptr<GPU> g, const std::string& name, const std::string& binary)
      : g_(std::move(g)), name_(name) {
    const Driver& d = cuda_driver();
    g_->bind();
    CUresult r = d.cuModuleLoadData(&module_, binary.data());
    if (r != 0)
      fail(ErrorKind::Runtime, "CUDA load", "kernel ", name, ": cannot load its ", binary.size(),
           "-byte CUBIN on ", g_->info.name, " (", g_->info.arch(), "): ", cu_error_text(r));
    r = d.cuModuleGetFunction(&fn_, module_, name.c_str());
    if (r != 0) {
      d.cuModuleUnload(module_);
      fail(ErrorKind::Runtime, "CUDA load", "kernel ", name, ": no function '", name,
           "' in its CUBIN: ", cu_error_text(r));
    }
  }
  CUfunction function() const { return fn_; }
  const std::string& name() const { return name_; }
  ~CUDAProgram() override {
    g_->bind();
    cuda_driver().cuModuleUnload(module_);
  }

  double run(std::span<void* const> bufs, std::span<const int64_t> vars, const LaunchDims& dims,
             bool timed) override {
    const Driver& d = cuda_driver();
    g_->bind();
    std::vector<void*> args;
    std::vector<CUdeviceptr> ptrs(bufs.size());
    std::vector<long long> vals(vars.begin(), vars.end());
    args.reserve(bufs.size() + vars.size());
    for (size_t i = 0; i < bufs.size(); i++) {
      ptrs[i] = reinterpret_cast<CUdeviceptr>(bufs[i]);
      args.push_back(&ptrs[i]);
    }
    for (auto& v : vals) args.push_back(&v);
    const CUDAInfo& in = g_->info;
    for (int i = 0; i < 3; i++) {
      FG_CHECK(dims.global[i] >= 1 && dims.global[i] <= in.max_grid[i], ErrorKind::Runtime,
               "CUDA launch", "kernel ", name_, ": grid dimension ", i, " is ", dims.global[i],
               " (the GPU allows 1..", in.max_grid[i], ")");
    }
    int64_t threads = dims.local[0] * dims.local[1] * dims.local[2];
    FG_CHECK(threads >= 1 && threads <= in.max_threads_per_block, ErrorKind::Runtime, "CUDA launch",
             "kernel ", name_, ": ", threads, " threads per block (the GPU allows up to ",
             in.max_threads_per_block, ")");
    {
      std::lock_guard lock(g_->mu);
      g_->last_kernel = name_;
    }
    if (timed) check_cu(d.cuEventRecord(g_->t0, g_->stream), "CUDA", "cuEventRecord");
    CUresult r = d.cuLaunchKernel(fn_, unsigned(dims.global[0]), unsigned(dims.global[1]),
                                  unsigned(dims.global[2]), unsigned(dims.local[0]),
                                  unsigned(dims.local[1]), unsigned(dims.local[2]), 0, g_->stream,
                                  args.data(), nullptr);
    if (r == 0) g_->note_launch(ptrs, false);
    if (r != 0)
      fail(ErrorKind::Runtime, "CUDA launch", "kernel ", name_, " (grid ", dims.global[0], "x",
           dims.global[1], "x", dims.global[2], ", block ", dims.local[0], "x", dims.local[1], "x",
           dims.local[2], ") failed: ", cu_error_text(r));
    if (!timed) return 0;
    check_cu(d.cuEventRecord(g_->t1, g_->stream), "CUDA", "cuEventRecord");
    g_->sync(("kernel " + name_).c_str());
    float ms = 0;
    check_cu(d.cuEventElapsedTime(&ms, g_->t0, g_->t1), "CUDA", "cuEventElapsedTime");
    return ms * 1e-3;
  }

 private:
  std::shared_ptr<GPU> g_;
  std::string name_;
  CUmodule module_ = nullptr;
  CUfunction fn_ = nullptr;
};

// A CUDA graph of kernel nodes in a chain (each waits for the one before, like one stream). A
// replay first rewrites the nodes whose buffers changed (cuGraphExecKernelNodeSetParams), then
// launches the whole graph into the device's stream.
class CUDAGraph final : public DeviceGraph {
 public:
  CUDAGraph(std::shared_ptr<GPU> g, const std::vector<GraphLaunch>& launches) : g_(std::move(g)) {
    const Driver& d = cuda_driver();
    g_->bind();
    check_cu(d.cuGraphCreate(&graph_, 0), "CUDA graph", "cuGraphCreate");
    CUgraphNode prev = nullptr;
    for (const GraphLaunch& l : launches) {
      auto* p = dynamic_cast<CUDAProgram*>(l.program);
      FG_CHECK(p, ErrorKind::Value, "CUDA graph", "a launch of a program that is not a CUDA kernel");
      Node n{p, l.dims, {}, nullptr, false};
      for (void* b : l.bufs) n.ptrs.push_back(reinterpret_cast<CUdeviceptr>(b));
      KernelNodeParams kp = params(n);
      std::vector<void*> args = arg_ptrs(n);
      kp.params = args.data();
      check_cu(d.cuGraphAddKernelNode(&n.node, graph_, prev ? &prev : nullptr, prev ? 1 : 0, &kp),
               "CUDA graph", "cuGraphAddKernelNode of kernel " + p->name());
      prev = n.node;
      nodes_.push_back(std::move(n));
    }
    for (const Node& n : nodes_) {
      for (CUdeviceptr p : n.ptrs) all_ptrs_.push_back(p);
    }
    check_cu(d.cuGraphInstantiateWithFlags(&exec_, graph_, 0), "CUDA graph", "cuGraphInstantiate");
  }
  ~CUDAGraph() override {
    g_->bind();
    if (exec_) cuda_driver().cuGraphExecDestroy(exec_);
    if (graph_) cuda_driver().cuGraphDestroy(graph_);
  }
  void set_buffer(size_t i, size_t j, void* p) override {
    FG_CHECK(i < nodes_.size() && j < nodes_[i].ptrs.size(), ErrorKind::Value, "CUDA graph", "no buffer ", j,
             " in launch ", i);
    auto v = reinterpret_cast<CUdeviceptr>(p);
    if (nodes_[i].ptrs[j] != v) nodes_[i].ptrs[j] = v, nodes_[i].dirty = true, ptrs_changed_ = true;
  }
  void replay() override {
    const Driver& d = cuda_driver();
    g_->bind();
    for (Node& n : nodes_) {
      if (!n.dirty) continue;
      KernelNodeParams kp = params(n);
      std::vector<void*> args = arg_ptrs(n);
      kp.params = args.data();
      check_cu(d.cuGraphExecKernelNodeSetParams(exec_, n.node, &kp), "CUDA graph",
               "cuGraphExecKernelNodeSetParams of kernel " + n.program->name());
      n.dirty = false;
    }
    if (ptrs_changed_) {
      all_ptrs_.clear();
      for (const Node& n : nodes_)
        for (CUdeviceptr p : n.ptrs) all_ptrs_.push_back(p);
      ptrs_changed_ = false;
    }
    {
      std::lock_guard lock(g_->mu);
      g_->last_kernel = "a graph of " + std::to_string(nodes_.size()) + " kernels";
    }
    check_cu(d.cuGraphLaunch(exec_, g_->stream), "CUDA graph", "cuGraphLaunch");
    g_->note_launch(all_ptrs_, true);
  }

 private:
  struct Node {
    CUDAProgram* program;
    LaunchDims dims;
    std::vector<CUdeviceptr> ptrs;
    CUgraphNode node;
    bool dirty;
  };
  static KernelNodeParams params(const Node& n) {
    KernelNodeParams kp{};
    kp.func = n.program->function();
    kp.grid_x = unsigned(n.dims.global[0]), kp.grid_y = unsigned(n.dims.global[1]), kp.grid_z = unsigned(n.dims.global[2]);
    kp.block_x = unsigned(n.dims.local[0]), kp.block_y = unsigned(n.dims.local[1]), kp.block_z = unsigned(n.dims.local[2]);
    return kp;
  }
  // the driver copies the argument values when the node is created or set
  static std::vector<void*> arg_ptrs(Node& n) {
    std::vector<void*> a;
    for (CUdeviceptr& p : n.ptrs) a.push_back(&p);
    return a;
  }
  std::shared_ptr<GPU> g_;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
  std::vector<Node> nodes_;
  std::vector<CUdeviceptr> all_ptrs_;  // every node's buffers (for the copy stream's tracking)
  bool ptrs_changed_ = false;
};

class CUDADevice final : public Device {
 public:
  explicit CUDADevice(std::shared_ptr<GPU> g)
      : Device(g->info.ordinal == 0 ? "CUDA" : "CUDA:" + std::to_string(g->info.ordinal),
               std::make_unique<CUDAAllocator>(g), kAlign),
        g_(std::move(g)),
        compiler_(g_->info.arch()) {
    if (getenv_int(Flag::DEBUG) >= 1) {
      const CUDAInfo& in = g_->info;
      std::cerr << name() << ": opened " << in.name << " (" << in.arch() << ", " << in.sm_count
                << " SMs, " << (in.total_mem >> 20) << " MiB, L2 " << (in.l2_bytes >> 20)
                << " MiB), NVRTC options:";
      for (const auto& o : compiler_.options()) std::cerr << " " << o;
      std::cerr << "\n";
    }
  }
  std::string renderer() const override { return "cuda"; }
  Compiler* compiler() override { return &compiler_; }
  std::unique_ptr<Program> load(const std::string& name, const std::string& binary) override {
    return std::make_unique<CUDAProgram>(g_, name, binary);
  }
  void synchronize() override { g_->sync("synchronize"); }
  std::unique_ptr<DeviceGraph> make_graph(const std::vector<GraphLaunch>& launches) override {
    if (!cuda_driver().graphs || launches.empty()) return nullptr;
    return std::make_unique<CUDAGraph>(g_, launches);
  }
  const CUDAInfo& info() const { return g_->info; }

 private:
  std::shared_ptr<GPU> g_;
  NVRTCCompiler compiler_;
};

}  // namespace

std::unique_ptr<Device> make_cuda_device(int ordinal) {
  return std::make_unique<CUDADevice>(open_gpu(ordinal));
}

int cuda_device_count() {
  try {
    const Driver& d = cuda_driver();
    if (d.cuInit(0) != 0) return 0;
    int n = 0;
    return d.cuDeviceGetCount(&n) == 0 ? n : 0;
  } catch (const Error&) {
    return 0;
  }
}

const CUDAInfo& cuda_info(Device& dev) {
  auto* c = dynamic_cast<CUDADevice*>(&dev);
  FG_CHECK(c, ErrorKind::Value, "cuda_info", dev.name(), " is not a CUDA device");
  return c->info();
}

}  // namespace fg
