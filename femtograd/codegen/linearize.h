// Linearizing: a lowered kernel graph (RANGE, REDUCE, LOAD, STORE, ALU) becomes the ordered list
// of lines a renderer prints. Guarantees: loops nest as the ranges require; each node is placed in
// the outermost loop that all its inputs allow (loop-invariant values are hoisted); every REDUCE
// becomes an accumulator (DEFINE_REG) set before its loops, updated inside them
// (STORE(acc, acc op x)), and read after them; every RANGE opened is closed by an END.
#pragma once
#include <vector>

#include "femtograd/base/ptr_map.h"
#include "femtograd/ir/uop.h"

namespace fg {

// sink: SINK of STOREs; loop_order: the output ranges, outermost first (opened before anything).
std::vector<UOpRef> linearize(const UOpRef& sink, const std::vector<UOpRef>& loop_order);

// The ranges each node of a kernel depends on: its sources' ranges less the ranges a REDUCE loops
// over. Kept as bits (ranges numbered as met), so `ok` is false for a kernel of more than 64 ranges.
struct RangeDeps {
  bool ok = true;
  PtrMap<int> bit;        // RANGE -> its bit
  PtrMap<uint64_t> mask;  // node -> the ranges it depends on
  uint64_t of(const UOp* n) { return *mask.find(n); }
  uint64_t range_bit(const UOp* r) {
    const int* b = bit.find(r);
    return b ? uint64_t(1) << *b : 0;
  }
};
// topo: the kernel's nodes, sources first
RangeDeps range_deps(const std::vector<const UOp*>& topo);

// The identity of a reduction: 0 for ADD, -inf (or the dtype min) for MAX, 1 for MUL.
UOpRef reduce_identity(Op op, DType dt);

}  // namespace fg
