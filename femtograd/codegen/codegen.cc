// The codegen pipeline, one step per line in codegen():
//   1. iteration shape: merge output axes that every access walks contiguously (fewer loops)
//   2. lower: movement ops become index math over RANGEs (lower.cc)
//   3. symbolic: simplify index math, masks and constants (ir/symbolic)
//   4. linearize: place every node in its loop; reduces become accumulators (linearize.cc)
#include "femtograd/codegen/codegen.h"

#include <algorithm>
#include <cstdio>

#include "femtograd/base/error.h"
#include "femtograd/codegen/linearize.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/opts.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/codegen/vectorize.h"
#include "femtograd/base/flags.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/spec_kernel.h"
#include "femtograd/ir/symbolic.h"

namespace fg {

namespace {
// Coefficients of the output ranges in an index expression, when it is affine in them.
struct Affine {
  bool ok = true;
  std::vector<int64_t> coef;  // per output axis
};

// coef of each output range in e (sums of range*const and other terms); ok=false when an output
// range appears inside anything else (a div, a mod, a comparison)
void affine_coefs(const UOp* e, int64_t mul, const std::vector<const UOp*>& ranges, Affine& out) {
  if (e->op == Op::ADD) {
    affine_coefs(e->src(0).get(), mul, ranges, out);
    affine_coefs(e->src(1).get(), mul, ranges, out);
    return;
  }
  if (e->op == Op::MUL && e->src(1)->op == Op::CONST) {
    affine_coefs(e->src(0).get(), mul * e->src(1)->arg.to_int(), ranges, out);
    return;
  }
  for (size_t d = 0; d < ranges.size(); d++)
    if (e == ranges[d]) { out.coef[d] += mul; return; }
  // any other node: fine as long as no output range hides inside it
  for (const UOp* n : e->toposort())
    for (size_t d = 0; d < ranges.size(); d++)
      if (n == ranges[d]) out.ok = false;
}
}  // namespace

namespace {
// The iteration shape and, computed on the way, the kernel lowered over the stored shape without
// its size-1 axes and simplified: when no axes merge this is exactly what codegen lowers, so it
// is lowered once rather than twice.
struct IterationInfo {
  Shape shape;
  Lowered low;
  UOpRef sink;  // low.sink simplified
};

IterationInfo analyze_iteration(const UOpRef& ast) {
  const UOp* store = ast->src(0).get();
  Shape shape;
  for (int64_t d : ShapeCache()(store->src(1).get()))
    if (d != 1) shape.push_back(d);  // size-1 axes never have a loop
  Lowered low = lower_kernel(ast, shape);
  UOpRef sink = graph_rewrite(low.sink, symbolic(), "symbolic: index math");
  size_t n = shape.size();
  std::vector<const UOp*> ranges;
  for (const UOpRef& r : low.out_ranges) ranges.push_back(r.get());
  auto range_axis = [&](const UOp* u) -> int {
    for (size_t d = 0; d < n; d++)
      if (ranges[d] == u) return static_cast<int>(d);
    return -1;
  };
  // 1. ranges read by anything but the index arithmetic of a load or store (a mask, a
  //    comparison, a value) keep their axis: merging would turn them into div/mod
  std::vector<bool> pinned(n, false);
  // marks the ranges of an index-arithmetic expression (walking only through ADD and MUL)
  auto pin_all = [&](const UOp* e) {
    std::vector<const UOp*> stack{e};
    while (!stack.empty()) {
      const UOp* m = stack.back();
      stack.pop_back();
      if (int d = range_axis(m); d >= 0) pinned[d] = true;
      if (m->op == Op::ADD || m->op == Op::MUL)
        for (const UOpRef& x : m->src()) stack.push_back(x.get());
    }
  };
  std::vector<std::vector<int64_t>> coefs;  // per INDEX: coefficient of each output axis
  for (const UOp* u : sink->toposort()) {
    if (u->op == Op::ADD || u->op == Op::MUL || u->op == Op::RANGE || u->op == Op::CONST) continue;
    for (size_t i = 0; i < u->nsrc(); i++) {
      if (u->op == Op::INDEX && i == 1) continue;
      pin_all(u->src(i).get());
    }
    if (u->op == Op::INDEX) {
      Affine a;
      a.coef.assign(n, 0);
      affine_coefs(u->src(1).get(), 1, ranges, a);
      if (!a.ok) pin_all(u->src(1).get());
      else coefs.push_back(std::move(a.coef));
    }
  }
  // 2. merge consecutive axes p, q (size-1 axes between them vanish) when every access walks
  //    them as one run: coef[p] == coef[q] * shape[q]
  Shape out;
  int prev = -1;
  for (size_t d = 0; d < n; d++) {
    if (shape[d] == 1) continue;
    bool join = prev >= 0 && !pinned[prev] && !pinned[d];
    for (const auto& c : coefs) join = join && c[prev] == c[d] * shape[d];
    if (join) out.back() *= shape[d];
    else out.push_back(shape[d]);
    prev = static_cast<int>(d);
  }
  return {std::move(out), std::move(low), std::move(sink)};
}
}  // namespace

Shape iteration_shape(const UOpRef& ast) { return analyze_iteration(ast).shape; }

namespace {
std::string kernel_name(const Shape& out_shape, const std::vector<UOpRef>& lines) {
  std::string dims;
  bool reduce = false;
  for (int64_t s : out_shape) dims += "_" + std::to_string(s);
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
      k.flops += trips.back() * l->dtype.count * (l->op == Op::MULACC ? 2 : 1);  // every lane; a*b+c is 2
    }
  }
  for (const DType& p : k.params) k.bytes += std::max<int64_t>(p.size, 0) * p.base().itemsize();
}
}  // namespace

OptimizedKernel optimize_kernel(const UOpRef& ast, const Target& target, const std::vector<Opt>* opts) {
  FG_CHECK(ast && ast->op == Op::SINK, ErrorKind::Internal, "codegen", "expected a kernel AST (SINK)");
  IterationInfo info = analyze_iteration(ast);
  const Shape& iter = info.shape;
  bool reuse = iter == info.low.out_shape;  // no axes merged: lowered already
  Lowered low = reuse ? std::move(info.low) : lower_kernel(ast, iter);
  OptKernel ok{reuse ? std::move(info.sink) : graph_rewrite(low.sink, symbolic(), "symbolic: index math"), {}, {}};
  for (const UOpRef& r : low.out_ranges)
    if (r) ok.loops.push_back(r);
  bool spec = getenv_int(Flag::SPEC) > 0;
  if (spec) verify(ok.sink, spec_kernel(), "lowered kernel");
  if (target.gpu) {
    gpu_optimize(ok, target, opts);  // GPU opts, then every output loop becomes a thread index
  } else if (opts) {
    for (const Opt& o : *opts)
      FG_CHECK(apply_opt(ok, o), ErrorKind::Value, "codegen", o.str(), " does not apply to kernel ",
               iter.size(), "-d ", shape_str(iter));
  } else {
    hand_coded_opts(ok, target);
  }
  UOpRef sink = vectorize(ok.sink);
  if (spec) verify(sink, spec_kernel(), "vectorized kernel");
  return {ast, sink, ok.loops, ok.applied, low.out_shape};
}

KernelProgram codegen(const UOpRef& ast, const Target& target, const std::vector<Opt>* opts) {
  return linearize_kernel(optimize_kernel(ast, target, opts), target);
}

KernelProgram linearize_kernel(const OptimizedKernel& okern, const Target& target) {
  KernelProgram k;
  k.ast = okern.ast;
  const UOpRef& ast = okern.ast;
  const UOpRef& sink = okern.sink;
  const std::vector<UOpRef>& loops = okern.loops;
  k.lines = linearize(sink, loops);
  if (getenv_int(Flag::SPEC) > 0)
    for (const UOpRef& l : k.lines) verify(l, spec_program(), "linearized program");
  k.opts = okern.applied;
  if (getenv_int(Flag::DEBUG) >= 3) {
    std::string o;
    for (const Opt& x : k.opts) o += (o.empty() ? "" : ", ") + opt_str(x);
    std::fprintf(stderr, "kernel AST:\n%s\nopts: [%s]\n", ast->str().c_str(), o.c_str());
  }
  k.name = kernel_name(okern.iter_shape, k.lines);

  // parameters, in DEFINE_GLOBAL order: from the AST, since simplification may drop the reads of a
  // buffer (x != x of an integer buffer folds to false) while the caller still passes it
  for (const UOp* n : ast->toposort())
    if (n->op == Op::DEFINE_GLOBAL) {
      size_t i = static_cast<size_t>(n->arg.as_int());
      if (k.params.size() <= i) k.params.resize(i + 1);
      k.params[i] = n->dtype;
    }
  if (target.gpu) {
    gpu_launch_dims(k.lines, k.global_size, k.local_size);
  } else if (!loops.empty()) {
    k.parallel_range = loops[0];
    k.global_size[0] = loops[0]->src(0)->arg.to_int();
  }
  estimate_cost(k);
  if (target.gpu)  // the lines are one thread's work
    for (int i = 0; i < 3; i++) k.flops *= k.global_size[i] * k.local_size[i];
  if (!target.gpu && k.global_size[0] > 1) {
    // waking a worker costs microseconds: a thread's share must be worth more (about 64 K bytes moved
    // or operations done, a few microseconds of work), so small kernels run on the calling thread
    constexpr int64_t kMinWorkPerThread = 64 << 10;
    int64_t work = std::max<int64_t>(k.flops + k.bytes, 1), n = k.global_size[0];
    k.grain = std::clamp<int64_t>(kMinWorkPerThread * n / work, 1, n);
  }
  return k;
}

}  // namespace fg
