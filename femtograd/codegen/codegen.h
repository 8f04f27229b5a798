// The codegen pipeline: kernel AST (schedule.h) + target -> a linear program a renderer prints.
// Each step is one named pass; see codegen.cc for the list and why each step is there.
#pragma once
#include <string>
#include <vector>

#include "femtograd/ir/shape.h"
#include "femtograd/ir/uop.h"

namespace fg {

// What codegen needs to know about the machine (runtime/ fills it in per device).
struct Target {
  std::string lang = "c";     // the renderer that will print the program
  bool gpu = false;           // thread/block ids instead of a parallel loop
  int vector_bytes = 32;      // widest native vector (AVX2: 32)
};

// One optimization of a kernel's loops (codegen/opts.h says what each does).
struct Opt {
  // LOCAL, GROUP and GROUPTOP are GPU opts (codegen/opts_gpu.h), STAGE too (codegen/stage_local.h);
  // BLOCK is a CPU loop order, PADTO pads a loop (codegen/opts.h)
  enum class Kind { UPCAST, UNROLL, VECTOR, LOCAL, GROUP, GROUPTOP, STAGE, BLOCK, PADTO };
  Kind kind;
  int64_t axis;    // the RANGE's axis id (output axes 0..n-1, reduce axes 1000+)
  int64_t amount;
  std::string str() const;
};

struct KernelProgram {
  std::string name;                  // e.g. r_64_32_16: kind and iteration sizes
  std::vector<UOpRef> lines;         // the linear program
  std::vector<DType> params;         // DEFINE_GLOBAL i: its pointer dtype
  std::vector<std::string> var_names;
  UOpRef parallel_range;             // CPU: the loop run over [lo, hi) per thread; null: none
  int64_t global_size[3] = {1, 1, 1};
  int64_t local_size[3] = {1, 1, 1};
  int64_t grain = 1;                 // CPU: fewest parallel_range iterations per thread (LaunchDims::grain)
  int64_t flops = 0, bytes = 0;      // estimates for DEBUG=2 (GFLOP/s, GB/s)
  UOpRef ast;                        // the AST this came from
  std::vector<Opt> opts;          // the optimizations applied
};

// opts: apply exactly these (in order) instead of the heuristic's choice
KernelProgram codegen(const UOpRef& ast, const Target& target, const std::vector<Opt>* opts = nullptr);

// codegen() in its two halves, so that each can be timed (bench/schedule_resnet50):
// optimize_kernel runs steps up to linearizing (iteration shape, lowering, symbolic, opts,
// vectorizing); linearize_kernel orders the result into the program.
struct OptimizedKernel {
  UOpRef ast;
  UOpRef sink;                 // lowered, optimized, vectorized
  std::vector<UOpRef> loops;   // output loops, outermost first
  std::vector<Opt> applied;
  Shape iter_shape;
};
OptimizedKernel optimize_kernel(const UOpRef& ast, const Target& target, const std::vector<Opt>* opts = nullptr);
KernelProgram linearize_kernel(const OptimizedKernel& ok, const Target& target);

// The iteration shape of a kernel: the stored value's shape with axes merged wherever every read
// and the write index them as one contiguous run (fewer loops, simpler index math).
Shape iteration_shape(const UOpRef& ast);

}  // namespace fg
