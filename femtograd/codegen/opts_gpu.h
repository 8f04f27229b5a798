// GPU kernel optimizations and the mapping of loops to threads. On a GPU every output loop becomes
// a thread or block index (SPECIAL gidxN = blockIdx, lidxN = threadIdx):
//   LOCAL(axis, k)     k consecutive indices of output axis `axis` are threads of one block
//                      (when k does not divide the axis, the extra threads are masked off)
//   GROUP(axis, k)     reduce axis `axis` split over k threads of a block: thread t takes
//                      t, t+k, t+2k, ... (coalesced), the k partials combine through warp shuffles
//                      and shared memory (fg_group_reduce in the CUDA renderer)
//   GROUPTOP(axis, k)  the same with thread t taking one contiguous chunk of the axis
// UPCAST, UNROLL and VECTOR are the shared opts (opts.h). Guarantees: at most one GROUP per
// kernel and at most three thread dimensions; a block has at most 1024 threads; every opt keeps
// the kernel's results (up to float reassociation of reduces); an opt that does not apply is
// rejected without changing the kernel.
#pragma once
#include <string>
#include <vector>

#include "femtograd/codegen/codegen.h"
#include "femtograd/codegen/opts.h"

namespace fg {

// Applies one opt to a kernel for a GPU (any kind); false, kernel unchanged, when it does not apply.
bool apply_gpu_opt(OptKernel& k, const Opt& o);
// The default choice of GPU opts (LOCAL blocks for elementwise work, GROUP for contiguous
// reductions, register tiles for reductions with reuse such as matmul and conv).
void gpu_hand_coded_opts(OptKernel& k, const Target& t);
// Replaces every output loop with thread and block indices (the LOCAL opts among k.applied say
// which axes are split into threads); afterwards k.loops is empty. Masks the stores and loads of
// threads past the end of an axis that a LOCAL does not divide.
void gpu_map_threads(OptKernel& k);
// The whole GPU step of codegen: `opts` applied in order (an opt that does not apply throws
// Error(Value) naming it), else the heuristic; then gpu_map_threads.
void gpu_optimize(OptKernel& k, const Target& t, const std::vector<Opt>* opts);
// Grid and block sizes of a linearized GPU program, read off its SPECIAL nodes.
void gpu_launch_dims(const std::vector<UOpRef>& lines, int64_t global[3], int64_t local[3]);

// "LOCAL(0, 16)": every kind's name (Opt::str predates the GPU kinds)
std::string opt_str(const Opt& o);
const char* opt_kind_name(Opt::Kind k);

}  // namespace fg
