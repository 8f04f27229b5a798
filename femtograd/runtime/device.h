// The device interface: a backend is an allocator, a compiler and a program loader, registered by
// name from one explicit list in device.cc. Also the compile entry points every device shares:
// compile_cached (through the disk cache) and compile_all (many kernels in parallel).
//
// The CPU kernel ABI (render/c emits exactly this):
//   void NAME(void** bufs, const long long* vars, long long lo, long long hi);
// bufs are the buffers in parameter order, vars the values of the kernel's integer variables in
// order, and the kernel runs its outermost (parallel) loop over [lo, hi) only. The CPU program
// splits [0, dims.global[0]) into contiguous [lo, hi) chunks over the thread pool; the other
// axes (global[1], global[2], local[*]) are loops inside the kernel and are ignored on CPU.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "femtograd/runtime/allocator.h"

namespace fg {

struct LaunchDims {
  int64_t global[3] = {1, 1, 1};
  int64_t local[3] = {1, 1, 1};
  int64_t grain = 1;  // CPU: the fewest outer iterations worth a thread's wake-up (small kernels run on one)
};

class Compiler {
 public:
  virtual ~Compiler();
  // source -> binary bytes; throws Error(Runtime) naming the kernel, with the compiler's message
  // and the source lines around the first error
  virtual std::string compile(const std::string& src, const std::string& name) = 0;
  // compiler identity + version + flags (+ target): part of the disk-cache key
  virtual std::string cache_key() const = 0;
};

class Program {
 public:
  virtual ~Program();
  // Runs the kernel and waits for it; returns its seconds when timed (else 0).
  // bufs: device pointers in parameter order; vars: values of the kernel's integer variables.
  virtual double run(std::span<void* const> bufs, std::span<const int64_t> vars,
                     const LaunchDims& dims, bool timed) = 0;
};

// One kernel launch of a device graph: the program, its buffers (device pointers in parameter
// order) and its grid.
struct GraphLaunch {
  Program* program;
  std::vector<void*> bufs;
  LaunchDims dims;
};

// Kernel launches recorded once and replayed as one unit (a CUDA graph): one submission instead of
// one per kernel. Buffers may change between replays; everything else is fixed.
class DeviceGraph {
 public:
  virtual ~DeviceGraph();
  // launch i's buffer j becomes p from the next replay on
  virtual void set_buffer(size_t i, size_t j, void* p) = 0;
  // queues the launches in order (returns once queued, like a launch)
  virtual void replay() = 0;
};

class Device {
 public:
  virtual ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const std::string& name() const { return name_; }  // "CPU", "NULL", later "CUDA:0"
  virtual std::string renderer() const = 0;          // the language render/ emits: "c", ...
  // the caching allocator of this device (it wraps the backend's raw allocator); its stats()
  // are the per-device memory counters, free_cache() releases the cached blocks
  CachingAllocator& allocator() { return *allocator_; }
  virtual Compiler* compiler() = 0;  // null when the device compiles nothing
  virtual std::unique_ptr<Program> load(const std::string& name, const std::string& binary) = 0;
  virtual void synchronize() = 0;
  // The launches (programs this device loaded) as one graph, in order; null when the device has no
  // graphs, and then the caller runs them one by one.
  virtual std::unique_ptr<DeviceGraph> make_graph(const std::vector<GraphLaunch>& launches) { return nullptr; }

 protected:
  Device(std::string name, std::unique_ptr<Allocator> raw, size_t alignment);

 private:
  std::string name_;
  std::unique_ptr<CachingAllocator> allocator_;
};

// "CPU", "cpu", "NULL"; unknown names throw Error(Value) listing the known ones. Devices are
// opened on first use and live until the process exits.
Device& get_device(std::string_view name);
std::string canonical_device(std::string_view name);  // "cpu" -> "CPU"; throws like get_device
std::vector<std::string> known_devices();             // in registry order
std::string default_device();                         // the DEV flag if set, else "CPU"

// Compiles through the disk cache: key = sha256(renderer, compiler->cache_key(), src).
// DISABLE_COMPILER_CACHE=1 neither reads nor writes the cache. A device without a compiler
// returns the source itself as its "binary".
std::string compile_cached(Device& dev, const std::string& src, const std::string& name);
// Compiles many (name, source) pairs in parallel on the thread pool (the kernels of one
// schedule); binaries come back in input order; identical sources compile once.
std::vector<std::string> compile_all(
    Device& dev, const std::vector<std::pair<std::string, std::string>>& name_and_src);

// Process-wide compile counters (profiling and tests).
struct CompileStats {
  int64_t compiles = 0;        // compiler invocations
  int64_t cache_hits = 0;      // binaries read from the disk cache
  double compile_seconds = 0;  // time spent in compiler invocations
};
CompileStats compile_stats();

}  // namespace fg
