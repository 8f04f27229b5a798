#include "femtograd/codegen/lower.h"

#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/linearize.h"

namespace fg {
namespace {

UOpRef idx_const(int64_t v) { return UOp::cnst_int(dtypes::index, v); }

struct Key {
  const UOp* n;
  std::vector<const UOp*> idx;
  const UOp* gate;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = hash_mix(reinterpret_cast<uintptr_t>(k.n));
    for (const UOp* i : k.idx) h = hash_combine(h, reinterpret_cast<uintptr_t>(i));
    return hash_combine(h, reinterpret_cast<uintptr_t>(k.gate));
  }
};

struct Lowerer {
  ShapeCache shapes;
  int64_t next_axis = 0;
  std::unordered_map<Key, UOpRef, KeyHash> memo;
  std::vector<UOpRef> keep;  // memo keys stay alive

  UOpRef and_gate(const UOpRef& a, const UOpRef& b) { return a ? (b ? a & b : a) : b; }

  // src index for a RESHAPE from `in` to `out`, dims matched group by group
  std::vector<UOpRef> reshape_index(const Shape& in, const Shape& out, const std::vector<UOpRef>& idx) {
    std::vector<UOpRef> res(in.size());
    if (prod(in) == 0) {  // an empty tensor is never read (some loop has no iterations)
      for (auto& r : res) r = idx_const(0);
      return res;
    }
    size_t i = 0, o = 0;
    while (i < in.size() || o < out.size()) {
      // skip size-1 dims on either side
      if (i < in.size() && in[i] == 1) { res[i++] = idx_const(0); continue; }
      if (o < out.size() && out[o] == 1) { o++; continue; }
      // grow a group until both sides cover the same number of elements
      size_t i0 = i, o0 = o;
      int64_t pi = in[i++], po = out[o++];
      while (pi != po) {
        if (pi < po) pi *= in[i++];
        else po *= out[o++];
      }
      // linearize the out dims of the group, then split over the in dims
      UOpRef lin;
      for (size_t k = o0; k < o; k++) lin = lin ? lin * out[k] + idx[k] : idx[k];
      if (i - i0 == 1) { res[i0] = lin; continue; }
      int64_t stride = 1;
      for (size_t k = i; k-- > i0;) {
        if (in[k] == 1) { res[k] = idx_const(0); continue; }
        UOpRef v = stride == 1 ? lin : idiv(lin, idx_const(stride));
        res[k] = k == i0 ? v : v % in[k];
        stride *= in[k];
      }
      // trailing size-1 dims inside the group already set
    }
    return res;
  }

  PtrMap<int> users;  // AST node -> how many times its parents name it

  UOpRef lower(const UOp* n, const std::vector<UOpRef>& idx, const UOpRef& gate) {
    // Only a node read more than once can be asked for again with the same index; a reduce is
    // always remembered, since lowering it twice would give it two sets of fresh ranges.
    const int* u = users.find(n);
    if ((!u || *u <= 1) && n->op != Op::REDUCE_AXIS) return lower_uncached(n, idx, gate);
    Key key{n, {}, gate.get()};
    key.idx.reserve(idx.size());
    for (const UOpRef& i : idx) key.idx.push_back(i.get());
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    UOpRef r = lower_uncached(n, idx, gate);
    keep.push_back(n->ref());
    for (const UOpRef& i : idx) keep.push_back(i);
    if (gate) keep.push_back(gate);
    memo.emplace(std::move(key), r);
    return r;
  }

  UOpRef lower_uncached(const UOp* n, const std::vector<UOpRef>& idx, const UOpRef& gate) {
    switch (n->op) {
      case Op::DEFINE_GLOBAL: {
        UOpRef g = n->ref();
        DType vt = n->dtype.base();
        if (!gate) return UOp::make(Op::LOAD, vt, {UOp::make(Op::INDEX, n->dtype, {g, idx[0]})});
        UOpRef index = UOp::make(Op::INDEX, n->dtype, {g, idx[0], gate});
        return UOp::make(Op::LOAD, vt, {index, UOp::cnst(vt, 0)});
      }
      case Op::CONST: return n->ref();
      case Op::ARANGE: return idx[0]->cast(n->dtype);
      case Op::RESHAPE:
        return lower(n->src(0).get(), reshape_index(shapes(n->src(0).get()), n->arg.as_ints(), idx), gate);
      case Op::PERMUTE: {
        const auto& p = n->arg.as_ints();
        std::vector<UOpRef> s(idx.size());
        for (size_t i = 0; i < p.size(); i++) s[p[i]] = idx[i];
        return lower(n->src(0).get(), s, gate);
      }
      case Op::EXPAND: {
        Shape in = shapes(n->src(0).get());
        std::vector<UOpRef> s = idx;
        for (size_t i = 0; i < in.size(); i++)
          if (in[i] == 1) s[i] = idx_const(0);
        return lower(n->src(0).get(), s, gate);
      }
      case Op::SHRINK: {
        const auto& a = n->arg.as_ints();
        std::vector<UOpRef> s = idx;
        for (size_t i = 0; i < idx.size(); i++)
          if (a[2 * i] != 0) s[i] = idx[i] + a[2 * i];
        return lower(n->src(0).get(), s, gate);
      }
      case Op::FLIP: {
        const auto& f = n->arg.as_ints();
        Shape in = shapes(n->src(0).get());
        std::vector<UOpRef> s = idx;
        for (size_t i = 0; i < idx.size(); i++)
          if (f[i]) s[i] = idx_const(in[i] - 1) - idx[i];
        return lower(n->src(0).get(), s, gate);
      }
      case Op::PAD: {
        const auto& a = n->arg.as_ints();
        Shape in = shapes(n->src(0).get());
        std::vector<UOpRef> s = idx;
        UOpRef valid;
        for (size_t i = 0; i < idx.size(); i++) {
          if (a[2 * i] == 0 && a[2 * i + 1] == 0) continue;
          s[i] = a[2 * i] ? idx[i] - a[2 * i] : idx[i];
          if (a[2 * i] > 0) valid = and_gate(valid, idx[i]->lt(a[2 * i])->logical_not());
          if (a[2 * i + 1] > 0) valid = and_gate(valid, idx[i]->lt(a[2 * i] + in[i]));
        }
        if (!valid) return lower(n->src(0).get(), s, gate);
        UOpRef v = lower(n->src(0).get(), s, and_gate(gate, valid));
        return valid->where(v, UOp::cnst(v->dtype, 0));
      }
      case Op::REDUCE_AXIS: {
        const ReduceArg& ra = n->arg.as_reduce();
        Shape in = shapes(n->src(0).get());
        // an empty reduce is its identity: no loop, and no load of the (empty) input hoisted above one
        for (int64_t ax : ra.axes)
          if (in[ax] == 0) return reduce_identity(ra.op, n->dtype);
        std::vector<UOpRef> s = idx;
        std::vector<UOpRef> srcs{nullptr};
        for (int64_t ax : ra.axes) {
          if (in[ax] == 1) { s[ax] = idx_const(0); continue; }
          s[ax] = UOp::range(idx_const(in[ax]), 1000 + next_axis++, AXIS_REDUCE);
          srcs.push_back(s[ax]);
        }
        UOpRef v = lower(n->src(0).get(), s, gate);
        if (srcs.size() == 1) return v;
        srcs[0] = v;
        return UOp::make(Op::REDUCE, v->dtype, srcs, Arg(ReduceArg{ra.op, {}}));
      }
      default: break;
    }
    if (is_alu(n->op) || n->op == Op::CAST || n->op == Op::BITCAST) {
      std::vector<UOpRef> srcs;
      for (const UOpRef& s : n->src()) srcs.push_back(lower(s.get(), idx_for(s.get(), idx), gate));
      return n->replace_src(srcs);
    }
    fail(ErrorKind::NotImplemented, "codegen", "cannot lower ", n->line(), " inside a kernel");
  }

  // a scalar constant source of an ALU has shape (): it takes no index
  std::vector<UOpRef> idx_for(const UOp* s, const std::vector<UOpRef>& idx) {
    if (s->op == Op::CONST) return {};
    return idx;
  }
};

}  // namespace

Lowered lower_kernel(const UOpRef& ast) {
  const UOp* store = ast->src(0).get();
  return lower_kernel(ast, ShapeCache()(store->src(1).get()));
}

Lowered lower_kernel(const UOpRef& ast, const Shape& iter_shape) {
  FG_ASSERT(ast->op == Op::SINK && ast->nsrc() == 1 && ast->src(0)->op == Op::STORE);
  const UOp* store = ast->src(0).get();
  const UOp* value = store->src(1).get();
  Lowerer lw;
  for (const UOp* n : value->toposort())
    for (const UOpRef& x : n->src()) {
      int* c = lw.users.find(x.get());
      if (c) (*c)++;
      else lw.users.put(x.get(), 1);
    }
  Shape shape = lw.shapes(value);
  Lowered out;
  out.out_shape = iter_shape;
  std::vector<UOpRef> it_idx;
  for (size_t i = 0; i < iter_shape.size(); i++) {
    UOpRef r = iter_shape[i] == 1 ? nullptr : UOp::range(idx_const(iter_shape[i]), (int64_t)i, AXIS_GLOBAL);
    out.out_ranges.push_back(r);
    it_idx.push_back(r ? r : idx_const(0));
  }
  // the iteration shape may merge axes of the value's shape: map through a reshape
  std::vector<UOpRef> idx = iter_shape == shape ? it_idx : lw.reshape_index(shape, iter_shape, it_idx);
  UOpRef v = lw.lower(value, idx, nullptr);
  UOpRef lin;
  for (size_t i = 0; i < iter_shape.size(); i++) lin = lin ? lin * iter_shape[i] + it_idx[i] : it_idx[i];
  if (!lin) lin = idx_const(0);
  UOpRef g0 = store->src(0);
  UOpRef st = UOp::make(Op::STORE, dtypes::void_, {UOp::make(Op::INDEX, g0->dtype, {g0, lin}), v});
  out.sink = UOp::make(Op::SINK, dtypes::void_, {st});
  return out;
}

}  // namespace fg
