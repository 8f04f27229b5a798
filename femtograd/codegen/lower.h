// Lowering a kernel AST (schedule.h's contract) to index arithmetic: movement ops disappear into
// index expressions over RANGE nodes. Guarantees: the result is
//   SINK(STORE(INDEX(DEFINE_GLOBAL 0, linear_index), value))
// where value uses LOAD(INDEX(DEFINE_GLOBAL i, index[, valid])[, alt]) for reads, REDUCE(x, RANGE...)
// for reductions (fresh ranges per reduce), and the output ranges are RANGE nodes with axis ids
// 0..n-1 in output order (size-1 axes are the constant 0). Padding becomes a valid condition on
// the loads below it and a where() around the padded value, so no load ever reads outside its buffer.
#pragma once
#include <vector>

#include "femtograd/ir/shape.h"
#include "femtograd/ir/uop.h"

namespace fg {

enum AxisType : int64_t { AXIS_GLOBAL = 0, AXIS_LOOP = 1, AXIS_REDUCE = 2, AXIS_UPCAST = 3, AXIS_UNROLL = 4 };

struct Lowered {
  UOpRef sink;
  Shape out_shape;                // the stored value's shape
  std::vector<UOpRef> out_ranges;  // per output axis: its RANGE, or null for size-1 axes
};

// out_shape: the shape to iterate (the stored value's shape, possibly with axes merged).
Lowered lower_kernel(const UOpRef& ast);
Lowered lower_kernel(const UOpRef& ast, const Shape& iter_shape);

}  // namespace fg
