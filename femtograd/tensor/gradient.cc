// Gradient rules as a pattern set over tensor-level UOps, and the reverse walk that applies them
// (tinygrad's gradient.py). Guarantees: every op that can hold a float value at tensor level has a
// rule (some say "no gradient"), an op without one is a loud error; the walk has no recursion; each
// gradient has its source's shape and dtype (checked); a node reached by several paths gets the sum.
#include <numbers>
#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/tensor/autograd.h"
#include "femtograd/tensor/metadata.h"

namespace fg {
namespace {

using Grads = std::vector<std::optional<Tensor>>;
using GradFn = Grads (*)(const GradCtx&);

// what a rule returns to the matcher: the gradients themselves travel in GradCtx::out
const UOpRef& done() {
  static const UOpRef* m = new UOpRef(UOp::make(Op::NOOP, dtypes::void_));
  return *m;
}

// a rule `pattern -> gradients of the sources`; the rule's own line is what DEBUG and errors name
Rule grad_rule(UPat pat, GradFn f, std::source_location loc = std::source_location::current()) {
  return Rule(
      std::move(pat),
      [f](const Match&, GradCtx& c) -> UOpRef {
        c.out = f(c);
        return done();
      },
      loc);
}

UPat reduce_of(Op op) {
  return UPat(Op::REDUCE_AXIS).where_pred([op](const UOp& n) { return n.arg.as_reduce().op == op; });
}

Grads none(const GradCtx& c) { return Grads(c.node->nsrc()); }

// ---- rules with more than one line

// a value with its own rule (with_custom_grad): the rule gives the inputs' gradients, value's graph
// gets none
Grads custom_grad(const GradCtx& c) {
  const std::vector<int64_t>& a = c.node->arg.as_ints();
  std::vector<Tensor> inputs;
  for (size_t i = 1; i < c.node->nsrc(); i++) inputs.push_back(c.x(i));
  Grads g = custom_grad_rule(a[0])(c.g, c.x(0), inputs, std::span<const int64_t>(a).subspan(1));
  FG_ASSERT(g.size() == inputs.size(), "custom gradient rule ", a[0], " gave ", g.size(), " gradients for ",
            inputs.size(), " inputs");
  g.insert(g.begin(), std::nullopt);
  return g;
}

// max(a, b): the larger input gets g; equal inputs share it (PyTorch's torch.maximum)
Grads max_grad(const GradCtx& c) {
  Tensor a = c.x(0), b = c.x(1), z = c.g.zeros_like(), half = c.g * 0.5;
  Tensor tie = a.eq(b).where(half, z);
  return {a.gt(b).where(c.g, tie), a.lt(b).where(c.g, tie)};
}

// b ** e: PyTorch's pow_backward: 0 for e == 0; for the exponent, 0 where b == 0 and e >= 0
Grads pow_grad(const GradCtx& c) {
  Tensor b = c.x(0), e = c.x(1), z = c.g.zeros_like();
  Tensor db = e.eq(0).where(z, c.g * e * b.pow(e - 1));
  Tensor de = b.eq(0).bitwise_and(e.ge(0)).where(z, c.g * c.ret() * b.log());
  return {db, de};
}

// max over axes: g goes to the maxima, shared equally among equal ones (PyTorch's amax)
Grads reduce_max_grad(const GradCtx& c) {
  Tensor x = c.x(0);
  Shape xs = c.shape_of(0);
  Tensor mask = x.eq(c.ret().expand(xs)).cast(x.dtype());
  Tensor count = mask.sum(c.node->arg.as_reduce().axes, true);
  return {mask * c.g.div(count).expand(xs)};
}

Grads permute_grad(const GradCtx& c) {
  const auto& p = c.node->arg.as_ints();
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); i++) inv[p[i]] = static_cast<int64_t>(i);
  return {c.g.permute(inv)};
}

// expand: sum over the broadcast axes (keeping them as 1)
Grads expand_grad(const GradCtx& c) {
  Shape in = c.shape_of(0);
  const auto& out = c.node->arg.as_ints();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < in.size(); i++)
    if (in[i] != out[i]) axes.push_back(static_cast<int64_t>(i));
  if (axes.empty()) return {c.g};
  return {c.g.sum(axes, true)};
}

// pad (before, after) per axis: the gradient is the unpadded window
Grads pad_grad(const GradCtx& c) {
  Shape in = c.shape_of(0);
  const auto& a = c.node->arg.as_ints();
  std::vector<std::pair<int64_t, int64_t>> bounds;
  for (size_t i = 0; i < in.size(); i++) bounds.push_back({a[2 * i], a[2 * i] + in[i]});
  return {c.g.shrink(bounds)};
}

// shrink (begin, end) per axis: the gradient is padded back with zeros
Grads shrink_grad(const GradCtx& c) {
  Shape in = c.shape_of(0);
  const auto& a = c.node->arg.as_ints();
  std::vector<std::pair<int64_t, int64_t>> padding;
  for (size_t i = 0; i < in.size(); i++) padding.push_back({a[2 * i], in[i] - a[2 * i + 1]});
  return {c.g.pad(padding)};
}

Grads flip_grad(const GradCtx& c) {
  const auto& f = c.node->arg.as_ints();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < f.size(); i++)
    if (f[i]) axes.push_back(static_cast<int64_t>(i));
  return {c.g.flip(axes)};
}

constexpr double kLn2 = std::numbers::ln2;

}  // namespace

// One rule per op: `op -> (gradient of each source)`, with g the gradient of the node's output, x(i)
// its i-th source and ret() its own value. Written with Tensor ops, so shapes and constants follow
// the tensor-level conventions.
const PatternMatcher& gradient_rules() {
  static const PatternMatcher pm({
      // ---- elementwise
      grad_rule(UPat(Op::ADD), [](const GradCtx& c) -> Grads { return {c.g, c.g}; }),
      grad_rule(UPat(Op::MUL), [](const GradCtx& c) -> Grads { return {c.g * c.x(1), c.g * c.x(0)}; }),
      grad_rule(UPat(Op::FDIV),  // a/b: (g/b, -g*(a/b)/b)
                [](const GradCtx& c) -> Grads { return {c.g / c.x(1), -(c.g * (c.ret() / c.x(1)))}; }),
      grad_rule(UPat(Op::MULACC),  // a*b+c
                [](const GradCtx& c) -> Grads { return {c.g * c.x(1), c.g * c.x(0), c.g}; }),
      grad_rule(UPat(Op::MAX), max_grad),
      grad_rule(UPat(Op::POW), pow_grad),
      grad_rule(UPat(Op::WHERE), [](const GradCtx& c) -> Grads {
        Tensor z = c.g.zeros_like();
        return {std::nullopt, c.x(0).where(c.g, z), c.x(0).where(z, c.g)};
      }),
      grad_rule(UPat(Op::EXP2), [](const GradCtx& c) -> Grads { return {c.g * c.ret() * kLn2}; }),
      grad_rule(UPat(Op::LOG2), [](const GradCtx& c) -> Grads { return {c.g / (c.x(0) * kLn2)}; }),
      grad_rule(UPat(Op::SIN), [](const GradCtx& c) -> Grads { return {c.g * c.x(0).cos()}; }),
      grad_rule(UPat(Op::SQRT), [](const GradCtx& c) -> Grads { return {c.g / (c.ret() * 2)}; }),
      grad_rule(UPat(Op::RECIP), [](const GradCtx& c) -> Grads { return {-(c.g * c.ret() * c.ret())}; }),
      grad_rule(UPat(Op::CAST), [](const GradCtx& c) -> Grads { return {c.g.cast(c.node->src(0)->dtype)}; }),
      // piecewise constant or not real-valued: no gradient (floor, ceil and round are built on TRUNC)
      grad_rule(UPat(OpSet{Op::TRUNC, Op::CMPLT, Op::CMPNE, Op::CMPEQ, Op::IDIV, Op::MOD, Op::AND, Op::OR,
                           Op::XOR, Op::SHL, Op::SHR, Op::THREEFRY, Op::BITCAST}),
                none),
      // ---- reductions (reduced axes are kept as 1, so g expands straight back)
      grad_rule(reduce_of(Op::ADD), [](const GradCtx& c) -> Grads { return {c.g.expand(c.shape_of(0))}; }),
      grad_rule(reduce_of(Op::MAX), reduce_max_grad),
      grad_rule(reduce_of(Op::MUL),  // prod: g*out/x (x == 0 gives nan, like tinygrad)
                [](const GradCtx& c) -> Grads { return {(c.g * c.ret()).expand(c.shape_of(0)) / c.x(0)}; }),
      // ---- movement: the inverse movement
      grad_rule(UPat(Op::RESHAPE), [](const GradCtx& c) -> Grads { return {c.g.reshape(c.shape_of(0))}; }),
      grad_rule(UPat(Op::PERMUTE), permute_grad),
      grad_rule(UPat(Op::EXPAND), expand_grad),
      grad_rule(UPat(Op::PAD), pad_grad),
      grad_rule(UPat(Op::SHRINK), shrink_grad),
      grad_rule(UPat(Op::FLIP), flip_grad),
      // ---- data flow (DETACH and ASSIGN are never entered: the walk stops there)
      grad_rule(UPat(Op::CONTIGUOUS), [](const GradCtx& c) -> Grads { return {c.g}; }),
      grad_rule(UPat(Op::CONTIGUOUS_BACKWARD), [](const GradCtx& c) -> Grads { return {c.g.contiguous()}; }),
      grad_rule(UPat(Op::CUSTOM_GRAD), custom_grad),
  });
  return pm;
}

namespace {

bool blocks(const UOp* n) { return n->op == Op::DETACH || n->op == Op::ASSIGN; }

// The part of root's graph that gradients flow through: a node is on a path when it holds a
// float value and is a target or (unless it blocks) has a source on a path.
struct Paths {
  std::vector<const UOp*> topo;
  PtrMap<uint8_t> on;
  PtrMap<std::vector<int>> holds;  // node -> the targets it stands for
  ShapeCache shapes;
  std::vector<UOpRef> keep;  // nodes made here stay alive while their pointers are keys

  bool on_path(const UOp* n) { uint8_t* v = on.find(n); return v && *v; }

  Paths(const UOp* root, std::span<const UOpRef> targets) {
    topo = root->toposort();
    PtrMap<std::vector<int>> by_uop;
    for (size_t i = 0; i < targets.size(); i++) {
      std::vector<int>* v = by_uop.find(targets[i].get());
      if (v) v->push_back(static_cast<int>(i));
      else by_uop.put(targets[i].get(), {static_cast<int>(i)});
    }
    for (const UOp* n : topo) {
      std::vector<int> hs;
      if (auto* v = by_uop.find(n)) hs = *v;
      // a target realized after this graph was built: its buffer replaced this lazy node
      if (UOpRef r = n->realized(); r && r.get() != n) {
        Shape s = shapes(n);
        UOpRef eq = s == Shape{r->arg.as_int()} ? r : UOp::make(Op::RESHAPE, r->dtype, {r}, Arg(s));
        if (eq.get() != n)
          if (auto* v = by_uop.find(eq.get())) hs.insert(hs.end(), v->begin(), v->end());
        keep.push_back(eq);
      }
      bool o = false;
      if (n->dtype.is_float()) {
        o = !hs.empty();
        if (!o && !blocks(n))
          for (const UOpRef& s : n->src()) o = o || on_path(s.get());
      }
      on.put(n, o);
      if (!hs.empty()) holds.put(n, std::move(hs));
    }
  }
};

}  // namespace

bool depends_differentiably(const UOp* root, std::span<const UOpRef> targets) {
  if (targets.empty()) return false;
  return Paths(root, targets).on_path(root);
}

std::vector<std::optional<Tensor>> compute_gradient(const Tensor& root, const Tensor& root_grad,
                                                    std::span<const UOpRef> targets) {
  std::vector<std::optional<Tensor>> result(targets.size());
  const UOp* r = root.uop().get();
  FG_ASSERT(root_grad.shape() == root.shape() && root_grad.dtype() == root.dtype(),
            "compute_gradient: the root's gradient must have its shape and dtype");
  Paths p(r, targets);
  if (!p.on_path(r)) return result;

  const PatternMatcher& pm = gradient_rules();
  GradCtx ctx{nullptr, Tensor(), &p.shapes, root.device(), {}};
  auto scratch = std::make_unique<Match>();
  std::unordered_map<const UOp*, Tensor> grads;
  grads.emplace(r, root_grad);
  // users before sources: a node's gradient is complete when it is reached
  for (auto it = p.topo.rbegin(); it != p.topo.rend(); ++it) {
    const UOp* n = *it;
    if (!p.on_path(n)) continue;
    auto gi = grads.find(n);
    if (gi == grads.end()) continue;
    Tensor g = std::move(gi->second);
    grads.erase(gi);
    if (auto* hs = p.holds.find(n))
      for (int i : *hs) result[i] = result[i] ? *result[i] + g : g;
    if (blocks(n)) continue;
    bool any = false;
    for (const UOpRef& s : n->src()) any = any || p.on_path(s.get());
    if (!any) continue;

    BackwardScope bw(n);  // what this builds is the gradient of n's op (kernel metadata)
    ctx.node = n;
    ctx.g = g;
    ctx.out.clear();
    const Rule* fired = nullptr;
    UOpRef done_ = pm.rewrite(n, &ctx, *scratch, &fired);
    FG_CHECK(done_, ErrorKind::NotImplemented, "gradient", "no gradient rule for ", op_name(n->op),
             " (", n->line(), ")");
    FG_ASSERT(ctx.out.size() == n->nsrc(), "gradient rule ", fired->where(), " gave ", ctx.out.size(),
              " gradients for ", n->nsrc(), " sources of ", op_name(n->op));
    for (size_t i = 0; i < n->nsrc(); i++) {
      const UOp* s = n->src(i).get();
      if (!ctx.out[i] || !p.on_path(s)) continue;
      Tensor v = std::move(*ctx.out[i]);
      FG_ASSERT(v.dtype() == s->dtype && v.shape() == p.shapes(s), "gradient rule ", fired->where(),
                " for ", op_name(n->op), " gave a ", shape_str(v.shape()), " ", v.dtype().name(),
                " gradient for a ", shape_str(p.shapes(s)), " ", s->dtype.name(), " source");
      auto [si, fresh] = grads.try_emplace(s, v);
      if (!fresh) si->second = si->second + v;
    }
  }
  return result;
}

}  // namespace fg
