// STAGE: shared-memory staging of the inputs a block's threads share (GPU only).
//   STAGE(axis, k)  reduce axis `axis` is split into tiles of k steps (the outer range keeps the
//                   id, the inner one is 200000+axis); every load inside it that the block's
//                   threads share (affine in its ranges, ungated, independent of some output loop)
//                   is marked. After thread mapping, stage_locals() gives each marked input a
//                   DEFINE_LOCAL tile holding the block's values for one outer step: all threads
//                   fill it cooperatively (16-byte loads along the input's contiguous axis), a
//                   BARRIER before the fill (the last tile's readers are done) and one after (the
//                   tile is complete); the marked loads then read the tile.
// STAGE must be the kernel's first opt (the marks record loop coordinates before they are split);
// UPCAST, VECTOR and LOCAL on the output axes may follow and set the block's tile. Guarantees:
// results are unchanged (each value is read from the tile that holds it; no guard, group or
// unroll is allowed with it); a STAGE that does not apply is rejected without changing the kernel.
#pragma once
#include <vector>

#include "femtograd/codegen/opts.h"

namespace fg {

// axis id of the inner (tile) range of staged reduce axis a: kStageInnerAxis + a
constexpr int64_t kStageInnerAxis = 200000;

bool apply_stage(OptKernel& k, const Opt& o);
// After gpu_map_threads: replaces the marked loads with tile reads and adds the fills. lidx: the
// thread index SPECIALs, dimension 0 first. Throws Error(Value) when the tile does not split evenly
// over the block's threads.
void stage_locals(OptKernel& k, const std::vector<UOpRef>& lidx);
// Whether the kernel carries STAGE marks (stage_locals has work to do).
bool has_stage(const OptKernel& k);

}  // namespace fg
