// The codegen pipeline, one step per line in codegen():
//   1. iteration shape: merge output axes that every access walks contiguously (fewer loops)
//   2. lower: movement ops become index math over RANGEs (lower.cc)
//   3. symbolic: simplify index math, masks and constants (ir/symbolic)
//   4. linearize: place every node in its loop; reduces become accumulators (linearize.cc)
#include "femtograd/codegen/codegen.h"

#include <algorithm>

#include "femtograd/base/error.h"
#include "femtograd/codegen/linearize.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

namespace fg {

Shape iteration_shape(const UOpRef& ast) {
  const UOp* store = ast->src(0).get();
  return ShapeCache()(store->src(1).get());
}

namespace {
std::string kernel_name(const Lowered& low, const std::vector<UOpRef>& lines) {
  std::string dims;
  bool reduce = false;
  for (int64_t s : low.out_shape) dims += "_" + std::to_string(s);
  for (const UOpRef& l : lines)
    if (l->op == Op::RANGE && l->arg.as_ints()[1] == AXIS_REDUCE) {
      reduce = true;
      dims += "_" + l->src(0)->arg.str();
    }
  if (dims.empty()) dims = "_1";
  return (reduce ? "r" : "E") + dims;
}

void estimate_cost(KernelProgram& k) {
  std::vector<int64_t> trips{1};
  for (const UOpRef& l : k.lines) {
    if (l->op == Op::RANGE) {
      int64_t end = l->src(0)->op == Op::CONST ? l->src(0)->arg.to_int() : 1;
      trips.push_back(trips.back() * end);
    } else if (l->op == Op::END) {
      trips.pop_back();
    } else if (is_alu(l->op) && !l->dtype.is_int() && l->dtype.scalar != ScalarType::Index) {
      k.flops += trips.back();
    }
  }
  for (const DType& p : k.params) k.bytes += std::max<int64_t>(p.size, 0) * p.base().itemsize();
}
}  // namespace

KernelProgram codegen(const UOpRef& ast, const Target& target) {
  FG_CHECK(ast && ast->op == Op::SINK, ErrorKind::Internal, "codegen", "expected a kernel AST (SINK)");
  KernelProgram k;
  k.ast = ast;
  Shape iter = iteration_shape(ast);
  Lowered low = lower_kernel(ast, iter);
  UOpRef sink = graph_rewrite(low.sink, symbolic(), "symbolic: index math");
  std::vector<UOpRef> loops;
  for (const UOpRef& r : low.out_ranges)
    if (r) loops.push_back(r);
  k.lines = linearize(sink, loops);
  k.name = kernel_name(low, k.lines);

  // parameters, in DEFINE_GLOBAL order
  for (const UOp* n : sink->toposort())
    if (n->op == Op::DEFINE_GLOBAL) {
      size_t i = static_cast<size_t>(n->arg.as_int());
      if (k.params.size() <= i) k.params.resize(i + 1);
      k.params[i] = n->dtype;
    }
  if (!target.gpu && !loops.empty()) {
    k.parallel_range = loops[0];
    k.global_size[0] = loops[0]->src(0)->arg.to_int();
  }
  estimate_cost(k);
  return k;
}

}  // namespace fg
