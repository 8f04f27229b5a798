#include "femtograd/runtime/cuda/cuda_device.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <mutex>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/runtime/cuda/cuda_api.h"
#include "femtograd/runtime/cuda/nvrtc_compiler.h"

namespace fg {
namespace {

using namespace fg::cuda;

constexpr size_t kAlign = 256;                 // cuMemAlloc gives 256-byte aligned blocks
constexpr size_t kStaging = size_t(16) << 20;  // bytes per pinned staging buffer
constexpr int kStagingBuffers = 2;             // filled alternately, so copies overlap memcpy

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

  // the driver acts on the calling thread's current context: make it ours
  void bind() const {
    thread_local CUcontext current = nullptr;
    if (current != ctx) {
      check_cu(cuda_driver().cuCtxSetCurrent(ctx), "CUDA", "cuCtxSetCurrent");
      current = ctx;
    }
  }
  void sync(const char* why) {
    bind();
    CUresult r = cuda_driver().cuStreamSynchronize(stream);
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
    return reinterpret_cast<void*>(p);
  }
  void free(void* p, size_t) override {
    g_->bind();
    cuda_driver().cuMemFree(reinterpret_cast<CUdeviceptr>(p));  // waits for queued work using it
  }
  // host -> pinned staging (memcpy) -> device (async); the two buffers alternate so the memcpy of
  // one chunk overlaps the DMA of the previous one
  void copy_in(void* dst, const void* src, size_t bytes) override {
    const Driver& d = cuda_driver();
    g_->bind();
    std::lock_guard lock(g_->mu);
    const char* s = static_cast<const char*>(src);
    for (size_t off = 0, i = 0; off < bytes; off += kStaging, i ^= 1) {
      size_t n = std::min(kStaging, bytes - off);
      check_cu(d.cuEventSynchronize(g_->staging_done[i]), "CUDA copy_in", "waiting for staging");
      std::memcpy(g_->staging[i], s + off, n);
      check_cu(d.cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(dst) + off, g_->staging[i], n,
                                   g_->stream),
               "CUDA copy_in", cat("copy of ", n, " bytes to the GPU"));
      check_cu(d.cuEventRecord(g_->staging_done[i], g_->stream), "CUDA copy_in", "cuEventRecord");
    }
  }
  // device -> pinned (async, after every queued kernel) -> host
  void copy_out(void* dst, const void* src, size_t bytes) override {
    const Driver& d = cuda_driver();
    g_->bind();
    char* out = static_cast<char*>(dst);
    for (size_t off = 0; off < bytes; off += kStaging) {
      size_t n = std::min(kStaging, bytes - off);
      std::unique_lock lock(g_->mu);
      check_cu(d.cuMemcpyDtoHAsync(g_->staging[0], reinterpret_cast<CUdeviceptr>(src) + off, n,
                                   g_->stream),
               "CUDA copy_out", cat("copy of ", n, " bytes from the GPU"));
      lock.unlock();
      g_->sync("copy_out");
      lock.lock();
      std::memcpy(out + off, g_->staging[0], n);
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
