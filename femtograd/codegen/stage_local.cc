#include "femtograd/codegen/stage_local.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

namespace fg {
namespace {

using Ints = Arg::Ints;

constexpr int64_t kMaxLocalBytes = 48 << 10;  // static shared memory of one block

UOpRef idx_const(int64_t v) { return UOp::cnst_int(dtypes::index, v); }
int64_t axis_of(const UOp* r) { return r->arg.as_ints()[0]; }

// The mark on a staged load: LOAD(INDEX, MARK) with MARK = CUSTOM(coordinates...) whose arg holds
// Ints{input id, constant term, then (axis, stride) per coordinate}: the load's index is
// constant + sum(stride * coordinate), each coordinate a loop of the kernel as the opts rewrite it.
bool is_mark(const UOp* u) { return u->op == Op::CUSTOM && u->arg.is_ints(); }
bool is_marked_load(const UOp* u) { return u->op == Op::LOAD && u->nsrc() == 2 && is_mark(u->src(1).get()); }

bool depends_on(const UOp* e, const UOp* r) {
  for (const UOp* m : e->toposort())
    if (m == r) return true;
  return false;
}

}  // namespace

using Ints = Arg::Ints;

bool has_stage(const OptKernel& k) {
  for (const Opt& o : k.applied)
    if (o.kind == Opt::Kind::STAGE) return true;
  return false;
}

bool apply_stage(OptKernel& k, const Opt& o) {
  if (!k.applied.empty()) return false;  // first, so the marks see the loops unsplit
  UOpRef r;
  for (const UOpRef& x : all_ranges(k.sink))
    if (axis_of(x.get()) == o.axis && x->arg.as_ints()[1] == AXIS_REDUCE) r = x;
  if (!r || r->src(0)->op != Op::CONST) return false;
  int64_t n = r->src(0)->arg.to_int(), bk = o.amount;
  if (bk < 2 || n % bk != 0) return false;
  struct Cand {
    std::vector<UOpRef> coords;
    Ints arg;
  };
  PtrMap<Cand> cands;
  std::vector<UOpRef> keep;
  std::map<std::vector<int64_t>, int64_t> ids;  // (buffer, constant, strides) -> input id
  std::map<const UOp*, int64_t> buf_ids;
  for (const UOp* u : k.sink->toposort()) {
    if (u->op != Op::LOAD || u->nsrc() != 1 || u->src(0)->op != Op::INDEX) continue;
    const UOp* idx = u->src(0).get();
    if (idx->nsrc() != 2 || idx->src(0)->op != Op::DEFINE_GLOBAL || u->dtype.count != 1) continue;
    const UOp* e = idx->src(1).get();
    std::vector<UOpRef> coords;
    bool ok = true;
    for (const UOp* m : e->toposort()) {
      if (m->op == Op::DEFINE_VAR || m->op == Op::SPECIAL) ok = false;
      if (m->op != Op::RANGE) continue;
      bool known = m == r.get();
      for (const UOpRef& l : k.loops) known |= l.get() == m;
      ok &= known;
      coords.push_back(m->ref());
    }
    if (!ok || !depends_on(e, r.get())) continue;
    bool reused = false;
    for (const UOpRef& l : k.loops) reused |= !depends_on(e, l.get());
    if (!reused) continue;
    Ints key{static_cast<int64_t>(idx->src(0)->arg.as_int())};
    PtrMap<UOpRef> zero;
    UOpRef c0 = e->ref();
    for (const UOpRef& c : coords) {
      auto s = stride_of(e, c.get());
      if (!s || *s == 0) ok = false;
      else key.push_back(*s);
    }
    if (!ok) continue;
    c0 = transform(c0, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
      for (const UOpRef& c : coords)
        if (orig == c.get()) return idx_const(0);
      return rebuilt;
    });
    c0 = simplify(c0);
    if (c0->op != Op::CONST) continue;
    key.insert(key.begin() + 1, c0->arg.to_int());
    auto it = ids.find(key);
    int64_t id = it != ids.end() ? it->second : static_cast<int64_t>(ids.size());
    ids.emplace(key, id);
    Ints arg{id, c0->arg.to_int()};
    for (size_t j = 0; j < coords.size(); j++) {
      arg.push_back(axis_of(coords[j].get()));
      arg.push_back(key[j + 2]);
    }
    cands.put(u, Cand{coords, arg});
    keep.push_back(u->ref());
  }
  if (ids.empty()) return false;
  UOpRef ko = n / bk > 1 ? UOp::range(idx_const(n / bk), o.axis, AXIS_REDUCE) : nullptr;
  UOpRef ki = UOp::range(idx_const(bk), kStageInnerAxis + o.axis, AXIS_REDUCE);
  UOpRef kexpr = ko ? ko * bk + ki : ki;
  UOpRef sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    if (orig == r.get()) return kexpr;
    if (const Cand* c = cands.find(orig)) {
      std::vector<UOpRef> coords;
      for (const UOpRef& x : c->coords) coords.push_back(x == r ? kexpr : x);
      UOpRef mark = UOp::make(Op::CUSTOM, dtypes::void_, coords, Arg(c->arg));
      return UOp::make(Op::LOAD, rebuilt->dtype, {rebuilt->src(0), mark});
    }
    if (orig->op == Op::REDUCE) {
      bool has = false;
      for (size_t i = 1; i < orig->nsrc(); i++) has |= orig->src(i).get() == r.get();
      if (!has) return rebuilt;
      std::vector<UOpRef> srcs{rebuilt->src(0)};
      for (size_t i = 1; i < orig->nsrc(); i++) {
        if (orig->src(i).get() != r.get()) srcs.push_back(orig->src(i));
        else {
          if (ko) srcs.push_back(ko);
          srcs.push_back(ki);
        }
      }
      return UOp::make(Op::REDUCE, orig->dtype, srcs, orig->arg);
    }
    return rebuilt;
  });
  k.sink = graph_rewrite(sink, symbolic(), "symbolic: after stage");
  k.applied.push_back(o);
  return true;
}

void stage_locals(OptKernel& k, const std::vector<UOpRef>& lidx) {
  int64_t stage_axis = -1;
  std::map<int64_t, int64_t> extent;  // axis -> the block's extent along it
  for (const Opt& o : k.applied) {
    if (o.kind == Opt::Kind::STAGE) stage_axis = o.axis, extent[o.axis] = o.amount;
    if (o.kind == Opt::Kind::UPCAST || o.kind == Opt::Kind::VECTOR || o.kind == Opt::Kind::LOCAL) {
      auto [it, fresh] = extent.emplace(o.axis, o.amount);
      if (!fresh) it->second *= o.amount;
    }
    FG_CHECK(o.kind != Opt::Kind::UNROLL && o.kind != Opt::Kind::GROUP && o.kind != Opt::Kind::GROUPTOP,
             ErrorKind::Value, "codegen", "STAGE does not combine with ", opt_str(o));
  }
  auto ext = [&](int64_t axis) {
    auto it = extent.find(axis);
    return it == extent.end() ? int64_t(1) : it->second;
  };
  // An output axis split as ((thread*U + upcast)*V + lane) (VECTOR, then UPCAST, then LOCAL) keeps
  // its tile upcast-major: position (upcast*threads + thread)*V + lane, so that the threads of a warp
  // read consecutive 16-byte vectors (no bank conflicts) while each lane group stays contiguous.
  struct Split {
    int64_t v = 1, u = 1, l = 1;
    bool ok = true;
  };
  std::map<int64_t, Split> splits;
  for (const Opt& o : k.applied) {
    if (o.kind == Opt::Kind::STAGE) continue;
    Split& sp = splits[o.axis];
    if (o.kind == Opt::Kind::VECTOR) sp.ok &= sp.u == 1 && sp.l == 1 && sp.v == 1, sp.v *= o.amount;
    if (o.kind == Opt::Kind::UPCAST) sp.ok &= sp.l == 1, sp.u *= o.amount;
    if (o.kind == Opt::Kind::LOCAL) sp.l *= o.amount;
  }
  auto position = [&](int64_t axis, const UOpRef& c, int64_t w) -> UOpRef {
    auto it = splits.find(axis);
    if (it == splits.end()) return c;
    const Split& sp = it->second;
    if (!sp.ok || sp.v == 1 || sp.u == 1 || sp.l == 1 || sp.v % w != 0) return c;
    return idiv(c, sp.v) % sp.u * (sp.l * sp.v) + idiv(c, sp.v * sp.u) * sp.v + c % sp.v;
  };
  int64_t nthreads = 1;
  UOpRef tid;
  for (const UOpRef& l : lidx) {
    UOpRef t = nthreads == 1 ? l : l * nthreads;
    tid = tid ? tid + t : t;
    nthreads *= l->src(0)->arg.to_int();
  }
  if (!tid) tid = idx_const(0);

  struct Input {
    const UOp* buf = nullptr;
    int64_t c0 = 0;
    std::vector<int64_t> axes, strides, order;  // order: coordinate positions, outermost first
    std::vector<UOpRef> base;                   // per coordinate: the block's first value
    std::vector<int64_t> lstride;               // per coordinate: stride in the tile
    int64_t w = 1;                              // lanes of the fill's loads
    UOpRef local;
  };
  std::map<int64_t, Input> inputs;
  std::vector<const UOp*> marked;
  int64_t local_bytes = 0;
  // A half-type input read only through casts to float32 (a half matmul's operands) is widened
  // once, when its tile is filled: the tile holds floats and the inner loop converts nothing.
  std::vector<const UOp*> topo = k.sink->toposort();
  std::map<int64_t, bool> widen;  // input id -> its tile holds float32
  PtrMap<uint8_t> cast_only;      // marked load -> every reader casts it to float32
  for (const UOp* u : topo)
    if (is_marked_load(u)) cast_only.put(u, 1);
  for (const UOp* n : topo)
    for (const UOpRef& x : n->src())
      if (uint8_t* c = cast_only.find(x.get()); c && !(n->op == Op::CAST && n->dtype == dtypes::float32)) *c = 0;
  for (const UOp* u : topo) {
    if (!is_marked_load(u)) continue;
    int64_t id = u->src(1)->arg.as_ints()[0];
    ScalarType t = u->dtype.scalar;
    bool w = (t == ScalarType::Float16 || t == ScalarType::BFloat16) && *cast_only.find(u);
    auto [it, fresh] = widen.emplace(id, w);
    if (!fresh) it->second = it->second && w;
  }
  for (const UOp* u : topo) {
    if (!is_marked_load(u)) continue;
    marked.push_back(u);
    const UOp* mark = u->src(1).get();
    const Ints& a = mark->arg.as_ints();
    Input& in = inputs[a[0]];
    std::vector<UOpRef> base;
    for (size_t j = 0; j < mark->nsrc(); j++) {
      int64_t e = ext(a[2 + 2 * j]);
      const UOpRef& c = mark->src(j);
      base.push_back(e == 1 ? c : simplify(idiv(c, e) * e));
    }
    if (in.buf) {  // another copy (UPCAST) of the same input: the block's tile must be the same
      FG_ASSERT(base == in.base, "STAGE: copies of one input disagree on the block's tile");
      continue;
    }
    in.buf = u->src(0)->src(0).get();
    in.c0 = a[1];
    in.base = base;
    for (size_t j = 0; j < mark->nsrc(); j++) {
      in.axes.push_back(a[2 + 2 * j]);
      in.strides.push_back(a[3 + 2 * j]);
      in.order.push_back(static_cast<int64_t>(j));
    }
    // the tile's layout: the reduce coordinate outermost, then the output axes in loop order
    std::sort(in.order.begin(), in.order.end(), [&](int64_t x, int64_t y) {
      bool rx = in.axes[x] == stage_axis, ry = in.axes[y] == stage_axis;
      return rx != ry ? rx : in.axes[x] < in.axes[y];
    });
    in.lstride.assign(in.axes.size(), 1);
    int64_t size = 1;
    for (size_t q = in.order.size(); q-- > 0;) {
      in.lstride[in.order[q]] = size;
      size *= ext(in.axes[in.order[q]]);
    }
    DType st = widen[a[0]] ? dtypes::float32 : u->dtype.scalar_type();
    local_bytes += size * st.itemsize();
    in.local = UOp::make(Op::DEFINE_LOCAL, st.ptr(size, AddrSpace::Local), {}, Arg(a[0]));
  }
  if (marked.empty()) return;
  FG_CHECK(local_bytes <= kMaxLocalBytes, ErrorKind::Value, "codegen", "STAGE: the tiles take ",
           local_bytes, " bytes of shared memory (at most ", kMaxLocalBytes, ")");

  // the fills: each thread loads w consecutive elements along the input's contiguous coordinate
  std::vector<UOpRef> loads;
  struct Pending {
    UOpRef index, value;
  };
  std::vector<Pending> stores;
  for (auto& [id, in] : inputs) {
    size_t nc = in.axes.size();
    size_t inner = 0;
    for (size_t j = 1; j < nc; j++)
      if (std::abs(in.strides[j]) < std::abs(in.strides[inner])) inner = j;
    std::vector<size_t> fill{inner};  // innermost first
    for (size_t q = in.order.size(); q-- > 0;)
      if (static_cast<size_t>(in.order[q]) != inner) fill.push_back(in.order[q]);
    int64_t size = 1;
    for (size_t j = 0; j < nc; j++) size *= ext(in.axes[j]);
    DType st = in.local->dtype.base().scalar_type();
    DType gt = in.buf->dtype.base().scalar_type();  // what the global buffer holds
    // 16-byte accesses on the wider side: a widened tile's fill loads 8 bytes and stores 16, and
    // keeps the float layout (the same lanes as a float32 tile)
    int64_t w = 16 / std::max(gt.itemsize(), st.itemsize());
    if (in.strides[inner] != 1 || ext(in.axes[inner]) % w != 0 || size % (nthreads * w) != 0) w = 1;
    in.w = w;
    FG_CHECK(size % nthreads == 0, ErrorKind::Value, "codegen", "STAGE: a tile of ", size,
             " elements does not split over ", nthreads, " threads");
    for (int64_t q = 0; q < size / (nthreads * w); q++) {
      UOpRef p = (tid + q * nthreads) * w, rest = p;
      std::vector<UOpRef> f(nc);
      for (size_t m = 0; m < fill.size(); m++) {
        int64_t e = ext(in.axes[fill[m]]);
        f[fill[m]] = m + 1 < fill.size() ? rest % e : rest;
        rest = idiv(rest, e);
      }
      UOpRef gi = idx_const(in.c0), li = idx_const(0);
      for (size_t j = 0; j < nc; j++) {
        gi = gi + (in.base[j] + f[j]) * in.strides[j];
        li = li + position(in.axes[j], f[j], w) * in.lstride[j];
      }
      gi = simplify(gi), li = simplify(li);
      UOpRef v = UOp::make(Op::LOAD, gt.vec(w), {UOp::make(Op::INDEX, in.buf->dtype, {in.buf->ref(), gi})});
      loads.push_back(v);
      if (w == 1 || in.lstride[inner] == 1) {
        stores.push_back({UOp::make(Op::INDEX, in.local->dtype, {in.local, li}), gt == st ? v : v->cast(st.vec(w))});
        continue;
      }
      for (int64_t c = 0; c < w; c++) {
        UOpRef lc = simplify(li + c * in.lstride[inner]);
        UOpRef vc = UOp::make(Op::GEP, gt, {v}, Arg(Ints{c}));
        stores.push_back({UOp::make(Op::INDEX, in.local->dtype, {in.local, lc}), gt == st ? vc : vc->cast(st)});
      }
    }
  }
  UOpRef before = UOp::make(Op::BARRIER, dtypes::void_, loads);
  std::vector<UOpRef> st;
  for (const Pending& p : stores) st.push_back(UOp::make(Op::STORE, dtypes::void_, {p.index, p.value, before}));
  UOpRef after = UOp::make(Op::BARRIER, dtypes::void_, st);

  PtrMap<UOpRef> reads;  // a marked load -> its read of the tile (a widened one's: for its casts)
  for (const UOp* u : marked) {
    const UOp* mark = u->src(1).get();
    const Input& in = inputs[mark->arg.as_ints()[0]];
    UOpRef li = idx_const(0);
    for (size_t j = 0; j < mark->nsrc(); j++) {
      int64_t e = ext(in.axes[j]);
      if (e > 1) li = li + position(in.axes[j], mark->src(j) % e, in.w) * in.lstride[j];
    }
    UOpRef index = UOp::make(Op::INDEX, in.local->dtype, {in.local, simplify(li)});
    DType vt = in.local->dtype.base().scalar_type();
    reads.put(u, UOp::make(Op::LOAD, vt, {index, UOp::cnst(vt, 0), after}));
  }
  k.sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    const UOpRef* r = reads.find(orig);
    if (r && (*r)->dtype == orig->dtype) return *r;
    // a cast of a widened load to float32 is the tile's value
    if (orig->op == Op::CAST && (r = reads.find(orig->src(0).get())) && (*r)->dtype == orig->dtype) return *r;
    return rebuilt;
  });
}

}  // namespace fg
