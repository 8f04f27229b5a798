// Kernel optimizations: small, explicit and composable. An Opt splits one loop of the lowered
// kernel:
//   UPCAST(axis, k)  output axis into k copies of the body (registers reuse loaded values)
//   UNROLL(axis, k)  reduce axis into k partial accumulators summed at the end
//   VECTOR(axis, k)  output or reduce axis into k lanes of one SIMD value (contiguous loads and
//                    stores become vector loads and stores)
//   PADTO(axis, k)   loop size rounded up to a multiple of k, so that opts by k (or its divisors)
//                    apply to odd sizes: the extra iterations load nothing and store nothing, and
//                    a reduce over the axis adds its identity for them
//   BLOCK(axis, k)   output axis into blocks of k iterations: the block loop stays where the axis
//                    was, the k iterations become the innermost output loop (cache blocking: what
//                    the other output loops read is reused across the k iterations of a block)
// Guarantees: every opt keeps the kernel's results (up to float reassociation in UNROLL and
// VECTOR reduces); an opt whose amount does not divide the axis is rejected.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "femtograd/codegen/codegen.h"
#include "femtograd/codegen/lower.h"

namespace fg {

// A kernel being optimized: its lowered, simplified graph and the loops it still has.
struct OptKernel {
  UOpRef sink;
  std::vector<UOpRef> loops;  // output loops, outermost first
  std::vector<Opt> applied;
};

// Applies one opt; returns false (kernel unchanged) when it does not apply.
bool apply_opt(OptKernel& k, const Opt& o);
// The default choice of opts for a target (tinygrad's hand-coded heuristic, in spirit).
void hand_coded_opts(OptKernel& k, const Target& t);

// A load or store of a kernel: its INDEX node, whether it stores, and its element type.
struct Access {
  const UOp* index;
  bool store;
  DType dtype;
};
std::vector<Access> accesses(const UOpRef& sink);
// Whether the accesses can become vector loads and stores along range r: each walks r with stride
// 0 or 1, none is gated by r, and the contiguous ones share one element size (itemsize, set) of a
// type the renderer loads as a vector: not bool, not fp8, and half/bfloat16 only where half_vectors
// (the CUDA renderer widens each lane; the C renderer's emulated halves are scalar only). False
// when none is contiguous.
bool vectorizable(const std::vector<Access>& acc, const UOp* r, int* itemsize, bool half_vectors = false);

// Rebuilds root sources-first (no recursion); f(original, rebuilt-with-new-sources) gives each node's
// replacement. The opts' one graph surgery tool.
UOpRef transform(const UOpRef& root, const std::function<UOpRef(const UOp*, UOpRef)>& f);

// RANGE nodes of the graph, outermost first, with their kind (lower.h AxisType)
std::vector<UOpRef> all_ranges(const UOpRef& sink);
// the constant stride of range r in index expression e (affine in r), or nullopt
std::optional<int64_t> stride_of(const UOp* e, const UOp* r);

}  // namespace fg
