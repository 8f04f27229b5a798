#include "femtograd/codegen/vectorize.h"

#include <functional>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/opts.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

namespace fg {
namespace {

struct Vectorizer {
  const UOp* lane;
  int64_t w;
  PtrMap<UOpRef> memo;
  PtrMap<uint8_t> dep_memo;
  std::vector<UOpRef> keep;

  bool depends(const UOp* n) {
    if (const uint8_t* d = dep_memo.find(n)) return *d;
    bool r = false;
    for (const UOp* m : n->toposort()) {
      if (m == lane) { r = true; break; }
    }
    dep_memo.put(n, r);
    keep.push_back(n->ref());
    return r;
  }

  // e with the lane replaced by the constant c, simplified
  UOpRef at_lane(const UOpRef& e, int64_t c) {
    UOpRef k = UOp::cnst_int(dtypes::index, c);
    PtrMap<UOpRef> done;
    std::vector<UOpRef> hold;
    for (const UOp* n : e->toposort()) {
      if (n == lane) { done.put(n, k); continue; }
      std::vector<UOpRef> srcs;
      bool changed = false;
      for (const UOpRef& s : n->src()) {
        srcs.push_back(*done.find(s.get()));
        changed |= srcs.back().get() != s.get();
      }
      done.put(n, changed ? n->replace_src(srcs) : n->ref());
      hold.push_back(n->ref());
    }
    return simplify(*done.find(e.get()));
  }

  UOpRef broadcast(const UOpRef& x) {
    if (x->dtype.count == w) return x;
    std::vector<UOpRef> lanes(w, x);
    return UOp::make(Op::VECTORIZE, x->dtype.vec(w), lanes);
  }

  UOpRef lane_values() {
    std::vector<int64_t> v(w);
    for (int64_t i = 0; i < w; i++) v[i] = i;
    return UOp::make(Op::VCONST, dtypes::index.vec(w), {}, Arg(v));
  }

  // The INDEX of lane 0 when idx walks the lanes contiguously (stride 1, gate the same for every
  // lane): one vector access serves all lanes. Null otherwise.
  UOpRef contiguous_index(const UOp* idx) {
    auto s = stride_of(idx->src(1).get(), lane);
    bool gated = idx->nsrc() > 2;
    if (!s || *s != 1 || (gated && depends(idx->src(2).get()))) return nullptr;
    std::vector<UOpRef> isrc{idx->src(0), at_lane(idx->src(1), 0)};
    if (gated) isrc.push_back(idx->src(2));
    return UOp::make(Op::INDEX, idx->dtype, isrc);
  }
  // the INDEX lane c reads or writes
  UOpRef lane_index(const UOp* idx, int64_t c) {
    std::vector<UOpRef> isrc{idx->src(0), at_lane(idx->src(1), c)};
    if (idx->nsrc() > 2) isrc.push_back(at_lane(idx->src(2), c));
    return UOp::make(Op::INDEX, idx->dtype, isrc);
  }

  UOpRef load(const UOp* n) {
    const UOp* idx = n->src(0).get();
    if (UOpRef index = contiguous_index(idx)) {
      std::vector<UOpRef> lsrc{index};
      if (n->nsrc() > 1) lsrc.push_back(broadcast(n->src(1)));
      if (n->nsrc() > 2) lsrc.push_back(n->src(2));  // the barrier the load waits for
      return UOp::make(Op::LOAD, n->dtype.vec(w), lsrc);
    }
    std::vector<UOpRef> lanes;
    for (int64_t c = 0; c < w; c++) {
      std::vector<UOpRef> lsrc{lane_index(idx, c)};
      for (size_t i = 1; i < n->nsrc(); i++) lsrc.push_back(n->src(i));
      lanes.push_back(UOp::make(Op::LOAD, n->dtype, lsrc));
    }
    return UOp::make(Op::VECTORIZE, n->dtype.vec(w), lanes);
  }

  // the stores replacing n (one vector store, or one per lane)
  void store(const UOp* n, std::vector<UOpRef>& out) {
    const UOp* idx = n->src(0).get();
    UOpRef v = get(n->src(1).get());
    if (!depends(idx)) {
      FG_ASSERT(v->dtype.count == n->src(1)->dtype.count, "a store of lanes to one address: ", n->line());
      out.push_back(UOp::make(Op::STORE, dtypes::void_, {rebuild_index(idx), v}));
      return;
    }
    if (UOpRef index = contiguous_index(idx)) {
      out.push_back(UOp::make(Op::STORE, dtypes::void_, {index, broadcast(v)}));
      return;
    }
    for (int64_t c = 0; c < w; c++) {
      UOpRef lane_v = v->dtype.count == w ? UOp::make(Op::GEP, v->dtype.scalar_type(), {v}, Arg({c})) : v;
      out.push_back(UOp::make(Op::STORE, dtypes::void_, {lane_index(idx, c), lane_v}));
    }
  }

  UOpRef rebuild_index(const UOp* idx) {
    std::vector<UOpRef> srcs;
    for (const UOpRef& s : idx->src()) srcs.push_back(get(s.get()));
    return idx->replace_src(srcs);
  }

  UOpRef get(const UOp* n) {
    if (UOpRef* r = memo.find(n)) return *r;
    // sources first, without recursion on deep graphs
    std::vector<std::pair<const UOp*, bool>> stack{{n, false}};
    while (!stack.empty()) {
      auto [m, ready] = stack.back();
      stack.pop_back();
      if (memo.find(m)) continue;
      bool leaf = m->op == Op::LOAD && depends(m);
      if (!ready && !leaf) {
        stack.push_back({m, true});
        for (const UOpRef& s : m->src())
          if (!memo.find(s.get())) stack.push_back({s.get(), false});
        continue;
      }
      memo.put(m, build(m));
      keep.push_back(m->ref());
    }
    return *memo.find(n);
  }

  UOpRef build(const UOp* m) {
    if (m == lane) return lane_values();
    if (m->op == Op::LOAD && depends(m)) return load(m);
    if (!depends(m)) return m->ref();
    std::vector<UOpRef> srcs;
    bool any_vec = false;
    for (const UOpRef& s : m->src()) {
      srcs.push_back(*memo.find(s.get()));
      any_vec |= srcs.back()->dtype.count == w && srcs.back()->dtype.count > 1;
    }
    if (m->op == Op::REDUCE) {
      std::vector<UOpRef> rs{srcs[0]};
      bool over_lane = false;
      for (size_t i = 1; i < m->nsrc(); i++) {
        if (m->src(i).get() == lane) over_lane = true;
        else rs.push_back(m->src(i));
      }
      // a reduce that already sums its source's lanes (an earlier vector axis) keeps doing so
      bool sums_lanes = over_lane || m->src(0)->dtype.count != m->dtype.count;
      DType dt = sums_lanes ? m->dtype : rs[0]->dtype;
      return UOp::make(Op::REDUCE, dt, rs, m->arg);
    }
    if (!any_vec) return m->replace_src(srcs);
    if (is_alu(m->op) || m->op == Op::CAST || m->op == Op::BITCAST) {
      for (auto& s : srcs) s = broadcast(s);
      return UOp::make(m->op, m->dtype.vec(w), srcs, m->arg);
    }
    if (m->op == Op::INDEX) return m->replace_src(srcs);  // only reached for lane-independent use
    fail(ErrorKind::Internal, "vectorize", "cannot vectorize ", m->line());
  }
};

}  // namespace

UOpRef vectorize(const UOpRef& sink) {
  std::vector<UOpRef> lanes;  // one per vector axis; no value depends on two (apply_opt checks)
  for (const UOp* n : sink->toposort())
    if (n->op == Op::RANGE && n->arg.as_ints()[1] == AXIS_UPCAST) lanes.push_back(n->ref());
  UOpRef out = sink;
  for (const UOpRef& lane : lanes) {
    Vectorizer v{lane.get(), lane->src(0)->arg.to_int()};
    std::vector<UOpRef> stores;
    for (const UOpRef& s : out->src()) {
      FG_ASSERT(s->op == Op::STORE, "kernel sink holds ", s->line());
      v.store(s.get(), stores);
    }
    out = UOp::make(Op::SINK, dtypes::void_, stores);
  }
  return out;
}

}  // namespace fg
