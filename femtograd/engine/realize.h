// Realize: schedule the values, generate and compile their kernels (in parallel, through the
// in-memory and disk caches), run them in order, and remember where each stored value lives.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "femtograd/codegen/codegen.h"
#include "femtograd/ir/metadata.h"
#include "femtograd/ir/uop.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/runtime/device.h"

namespace fg {

void realize(const std::vector<UOpRef>& roots);

// The device buffer behind a BUFFER node, created (not yet allocated) on first use.
std::shared_ptr<Buffer> buffer_of(const UOpRef& buffer_node);

// A compiled kernel: the generated program and what runs it. Shared by every kernel with the
// same AST on the same device.
struct CompiledKernel {
  KernelProgram prog;
  std::string source;
  std::unique_ptr<Program> program;
};
std::shared_ptr<CompiledKernel> get_kernel(const UOpRef& ast, Device& dev);

// what codegen targets on this device
Target target_for(Device& dev);

// One unit of work a realize ran: a kernel (or a copy when kernel is null) on its buffers.
struct ExecItem {
  std::shared_ptr<CompiledKernel> kernel;
  std::vector<std::shared_ptr<Buffer>> bufs;
  std::string device;
  std::vector<MetadataRef> metadata;  // the user-level ops it computes (DEBUG=2 prints them)
};
// Called with each kernel's name and source right after it is generated (VIZ installs one; null
// removes it). Calls come from the realizing thread.
using KernelObserver = void (*)(const std::string& name, const std::string& source);
void set_kernel_observer(KernelObserver obs);

// Runs one exec item (the JIT replays captured items with this).
void run_exec_item(const ExecItem& item);
// While a capture list is set, realize() appends every item it runs to it (this thread only).
void set_capture(std::vector<ExecItem>* list);

// Process-wide counters (GlobalCounters): kernels run, FLOPs and bytes of those kernels, and the
// time spent in them when timed.
struct GlobalCounters {
  int64_t kernel_count = 0, global_ops = 0, global_mem = 0;
  double time_sum_s = 0;
  static GlobalCounters& get();
  void reset() { *this = GlobalCounters{}; }
  // one launch of p (seconds: its timed run, 0 when untimed)
  void count(const KernelProgram& p, double seconds = 0) {
    kernel_count++;
    global_ops += p.flops;
    global_mem += p.bytes;
    time_sum_s += seconds;
  }
};

}  // namespace fg
