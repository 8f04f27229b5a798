// Shapes of tensor-level nodes (the graph the frontend builds, before kernels exist).
// Guarantees: infer_shape() gives the shape of a node from its sources' shapes and its arg, and
// rejects impossible movement args with an Error naming the op and the shapes.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "femtograd/base/ptr_map.h"
#include "femtograd/ir/uop.h"

namespace fg {

using Shape = std::vector<int64_t>;

int64_t prod(std::span<const int64_t> s);
// the shape of n, given the shapes of its sources in order
Shape infer_shape(const UOp& n, std::span<const Shape* const> src_shapes);

// Computes shapes of a whole tensor graph once (sources first, no recursion), memoized.
class ShapeCache {
 public:
  Shape operator()(const UOp* n);

 private:
  PtrMap<Shape> memo_;
  std::vector<UOpRef> keep_;  // memo keys stay alive
};

// tensor-level node helpers: the argument conventions of the movement ops
inline const std::vector<int64_t>& movement_arg(const UOp& n) { return n.arg.as_ints(); }

}  // namespace fg
