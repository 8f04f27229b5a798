#include "femtograd/codegen/opts.h"

#include <algorithm>
#include <functional>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/linearize.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

namespace fg {

std::string Opt::str() const {
  return std::string(opt_kind_name(kind)) + "(" + std::to_string(axis) + ", " + std::to_string(amount) + ")";
}

std::vector<UOpRef> all_ranges(const UOpRef& sink) {
  std::vector<UOpRef> out;
  for (const UOp* n : sink->toposort())
    if (n->op == Op::RANGE) out.push_back(n->ref());
  std::sort(out.begin(), out.end(), [](const UOpRef& a, const UOpRef& b) {
    return a->arg.as_ints()[0] < b->arg.as_ints()[0];
  });
  return out;
}

std::optional<int64_t> stride_of(const UOp* e, const UOp* r) {
  // sums of terms; a term is r*c, r, or something without r
  std::vector<std::pair<const UOp*, int64_t>> stack{{e, 1}};
  int64_t s = 0;
  while (!stack.empty()) {
    auto [n, mul] = stack.back();
    stack.pop_back();
    if (n == r) { s += mul; continue; }
    if (n->op == Op::ADD) {
      stack.push_back({n->src(0).get(), mul});
      stack.push_back({n->src(1).get(), mul});
      continue;
    }
    if (n->op == Op::MUL && n->src(1)->op == Op::CONST) {
      stack.push_back({n->src(0).get(), mul * n->src(1)->arg.to_int()});
      continue;
    }
    for (const UOp* m : n->toposort())
      if (m == r) return std::nullopt;
  }
  return s;
}

UOpRef transform(const UOpRef& root, const std::function<UOpRef(const UOp*, UOpRef)>& f) {
  PtrMap<UOpRef> done;
  std::vector<UOpRef> keep;
  for (const UOp* n : root->toposort()) {
    std::vector<UOpRef> srcs;
    bool changed = false;
    for (const UOpRef& s : n->src()) {
      srcs.push_back(*done.find(s.get()));
      changed |= srcs.back().get() != s.get();
    }
    UOpRef rebuilt = changed ? n->replace_src(srcs) : n->ref();
    done.put(n, f(n, std::move(rebuilt)));
    keep.push_back(n->ref());
  }
  return *done.find(root.get());
}

namespace {

UOpRef idx_const(int64_t v) { return UOp::cnst_int(dtypes::index, v); }
// axis ids of the loops BLOCK creates (VECTOR's lanes are 100000 + axis)
constexpr int64_t kBlockAxisBase = 200000;

UOpRef find_range(const UOpRef& sink, int64_t axis) {
  for (const UOpRef& r : all_ranges(sink))
    if (r->arg.as_ints()[0] == axis) return r;
  return nullptr;
}

// replaces range r by `with` everywhere except in the range lists of REDUCEs, which get `red`
UOpRef substitute_range(const UOpRef& root, const UOp* r, const UOpRef& with, const std::vector<UOpRef>& red) {
  return transform(root, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    if (orig == r) return with;
    if (orig->op == Op::REDUCE) {
      bool has = false;
      for (size_t i = 1; i < orig->nsrc(); i++) has |= orig->src(i).get() == r;
      if (!has) return rebuilt;
      std::vector<UOpRef> srcs{rebuilt->src(0)};
      for (size_t i = 1; i < orig->nsrc(); i++) {
        if (orig->src(i).get() == r) srcs.insert(srcs.end(), red.begin(), red.end());
        else srcs.push_back(orig->src(i));
      }
      return UOp::make(Op::REDUCE, orig->dtype, srcs, orig->arg);
    }
    return rebuilt;
  });
}

// PADTO: r (size n) becomes a loop of n rounded up to amt; every global load and store that reads
// the new loop is gated on it being < n (a load off the end gives 0, or 1 for integers so that a
// division in the discarded lanes cannot trap), and a reduce over it adds its identity there
bool pad_loop(OptKernel& k, const UOpRef& r, int64_t amt, const Opt& o) {
  int64_t n = r->src(0)->arg.to_int(), type = r->arg.as_ints()[1];
  UOpRef padded = UOp::range(idx_const((n + amt - 1) / amt * amt), o.axis, type);
  UOpRef valid = padded->lt(n);
  PtrMap<uint8_t> reads;  // rebuilt node -> reads the padded loop
  UOpRef sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    UOpRef out = orig == r.get() ? padded : rebuilt;
    bool dep = orig == r.get();
    for (const UOpRef& s : out->src())
      if (uint8_t* d = reads.find(s.get()); d && *d) dep = true;
    bool over = false;  // a reduce over the loop (its range list already holds the padded one)
    for (size_t i = 1; orig->op == Op::REDUCE && i < orig->nsrc(); i++) over |= orig->src(i).get() == r.get();
    if (over) {  // the extra iterations add the identity; the result no longer varies with the loop
      std::vector<UOpRef> srcs(out->src().begin(), out->src().end());
      srcs[0] = valid->where(srcs[0], reduce_identity(orig->arg.as_reduce().op, srcs[0]->dtype));
      out = UOp::make(Op::REDUCE, orig->dtype, srcs, orig->arg);
      dep = false;
    } else if (dep && orig->op == Op::INDEX && out->src(0)->op == Op::DEFINE_GLOBAL) {
      std::vector<UOpRef> s{out->src(0), out->src(1), out->nsrc() > 2 ? out->src(2) & valid : valid};
      out = UOp::make(Op::INDEX, out->dtype, s, out->arg);
    } else if (dep && orig->op == Op::LOAD && out->nsrc() == 1 && out->src(0)->op == Op::INDEX) {
      out = UOp::make(Op::LOAD, out->dtype, {out->src(0), UOp::cnst(out->dtype, out->dtype.is_int() ? 1 : 0)}, out->arg);
    }
    reads.put(out.get(), dep);
    return out;
  });
  k.sink = graph_rewrite(sink, symbolic(), "symbolic: after opt");
  for (auto& l : k.loops)
    if (l.get() == r.get()) l = padded;
  k.applied.push_back(o);
  return true;
}

}  // namespace

bool apply_opt(OptKernel& k, const Opt& o) {
  UOpRef r = find_range(k.sink, o.axis);
  if (!r || r->src(0)->op != Op::CONST) return false;
  int64_t end = r->src(0)->arg.to_int(), amt = o.amount;
  int64_t type = r->arg.as_ints()[1];
  bool is_reduce = type == AXIS_REDUCE;
  if (o.kind == Opt::Kind::PADTO) return amt > 1 && end % amt != 0 && type != AXIS_UPCAST && pad_loop(k, r, amt, o);
  if (amt <= 1 || end % amt != 0) return false;
  if ((o.kind == Opt::Kind::UPCAST || o.kind == Opt::Kind::BLOCK) && is_reduce) return false;
  if (o.kind == Opt::Kind::UNROLL && !is_reduce) return false;
  if (type == AXIS_UPCAST) return false;
  if (o.kind == Opt::Kind::BLOCK) {
    if (r->arg.as_ints()[0] >= kBlockAxisBase || end / amt < 2) return false;  // a block's inner loop is not split again
    UOpRef blk = UOp::range(idx_const(end / amt), o.axis, type);
    UOpRef inner = UOp::range(idx_const(amt), kBlockAxisBase + o.axis, type);
    k.sink = graph_rewrite(substitute_range(k.sink, r.get(), blk * amt + inner, {}), symbolic(), "symbolic: after opt");
    for (auto& l : k.loops)
      if (l.get() == r.get()) l = blk;
    k.loops.push_back(inner);
    k.applied.push_back(o);
    return true;
  }
  UOpRef outer = UOp::range(idx_const(end / amt), o.axis, type);
  if (end / amt == 1) outer = nullptr;
  auto base = [&](const UOpRef& lane) { return outer ? outer * amt + lane : lane; };
  std::vector<UOpRef> red_outer = outer ? std::vector<UOpRef>{outer} : std::vector<UOpRef>{};

  if (o.kind == Opt::Kind::VECTOR) {
    // several vector axes only where no value depends on two of them (a row kernel's passes each
    // reduce their own lanes): a value with lanes of two axes would need their product
    std::vector<UOpRef> lanes;
    for (const UOpRef& x : all_ranges(k.sink))
      if (x->arg.as_ints()[1] == AXIS_UPCAST) lanes.push_back(x);
    if (!lanes.empty()) {
      std::vector<const UOp*> topo = k.sink->toposort();
      RangeDeps deps = range_deps(topo);
      if (!deps.ok) return false;
      for (const UOpRef& x : lanes) {
        uint64_t both = deps.range_bit(x.get()) | deps.range_bit(r.get());
        for (const UOp* n : topo)
          if ((deps.of(n) & both) == both) return false;
      }
    }
    UOpRef lane = UOp::range(idx_const(amt), 100000 + o.axis, AXIS_UPCAST);
    std::vector<UOpRef> red = red_outer;
    red.push_back(lane);
    k.sink = substitute_range(k.sink, r.get(), base(lane), red);
  } else if (o.kind == Opt::Kind::UPCAST) {
    std::vector<UOpRef> stores;
    for (int64_t c = 0; c < amt; c++) {
      UOpRef copy = substitute_range(k.sink, r.get(), base(idx_const(c)), red_outer);
      for (const UOpRef& s : copy->src()) stores.push_back(s);
    }
    k.sink = UOp::make(Op::SINK, dtypes::void_, stores);
  } else {  // UNROLL: k partial reduces over the outer range, combined after
    k.sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
      if (orig->op != Op::REDUCE) return rebuilt;
      bool has = false;
      for (size_t i = 1; i < orig->nsrc(); i++) has |= orig->src(i).get() == r.get();
      if (!has) return rebuilt;
      Op op = orig->arg.as_reduce().op;
      UOpRef acc;
      for (int64_t c = 0; c < amt; c++) {
        UOpRef x = substitute_range(rebuilt->src(0), r.get(), base(idx_const(c)), red_outer);
        std::vector<UOpRef> srcs{x};
        for (size_t i = 1; i < orig->nsrc(); i++)
          if (orig->src(i).get() != r.get()) srcs.push_back(orig->src(i));
        if (outer) srcs.push_back(outer);
        UOpRef part = srcs.size() == 1 ? x : UOp::make(Op::REDUCE, orig->dtype, srcs, orig->arg);
        acc = acc ? (op == Op::MAX ? acc->maximum(part) : acc->alu(op, part)) : part;
      }
      return acc;
    });
  }
  k.sink = graph_rewrite(k.sink, symbolic(), "symbolic: after opt");
  for (auto& l : k.loops)
    if (l.get() == r.get()) l = outer;
  k.loops.erase(std::remove(k.loops.begin(), k.loops.end(), nullptr), k.loops.end());
  k.applied.push_back(o);
  return true;
}

std::vector<Access> accesses(const UOpRef& sink) {
  std::vector<Access> out;
  for (const UOp* n : sink->toposort()) {
    if (n->op == Op::LOAD && n->src(0)->op == Op::INDEX) out.push_back({n->src(0).get(), false, n->dtype});
    if (n->op == Op::STORE && n->src(0)->op == Op::INDEX) out.push_back({n->src(0).get(), true, n->src(1)->dtype});
  }
  return out;
}

bool vectorizable(const std::vector<Access>& acc, const UOp* r, int* itemsize, bool half_vectors) {
  auto emulated = [&](DType dt) {
    return (!half_vectors && (dt.scalar == ScalarType::Float16 || dt.scalar == ScalarType::BFloat16)) || dt.is_fp8();
  };
  *itemsize = 0;
  bool any_contig = false;
  for (const Access& a : acc) {
    auto s = stride_of(a.index->src(1).get(), r);
    if (!s || (*s != 0 && *s != 1)) return false;
    if (a.index->nsrc() > 2)  // a gate that depends on r cannot be one mask for the whole vector
      for (const UOp* m : a.index->src(2)->toposort())
        if (m == r) return false;
    if (*s == 1) {
      if (emulated(a.dtype) || a.dtype.is_bool()) return false;
      if (*itemsize && *itemsize != a.dtype.itemsize()) return false;
      *itemsize = a.dtype.itemsize();
      any_contig = true;
    }
  }
  return any_contig;
}

namespace {
// the widest power-of-two lane count up to `widest` that divides the axis (1: none does)
int64_t vector_width(const UOpRef& axis, int64_t widest) {
  if (axis->src(0)->op != Op::CONST) return 1;
  int64_t n = axis->src(0)->arg.to_int(), w = widest;
  while (w > 1 && n % w != 0) w /= 2;
  return w;
}

// whether some access's index is not affine in r (div/mod of r: a view that splits r's axis)
bool any_split_index(const std::vector<Access>& acc, const UOp* r) {
  for (const Access& a : acc)
    if (!stride_of(a.index->src(1).get(), r)) return true;
  return false;
}

// VECTOR(axis, widest lanes that divide it) when the accesses allow; returns whether applied. An
// index that is not affine in the axis (a view reading a panel or tile layout: axis/16, axis%16) may
// still be contiguous within each group of lanes: that is decided by trying the split and looking
// at the lanes' strides in the simplified index.
bool vectorize_axis(OptKernel& k, const UOpRef& axis, const Target& t) {
  std::vector<Access> acc = accesses(k.sink);
  int isz = 0;
  int64_t id = axis->arg.as_ints()[0];
  if (vectorizable(acc, axis.get(), &isz)) {
    int64_t w = vector_width(axis, t.vector_bytes / isz);
    return w > 1 && apply_opt(k, {Opt::Kind::VECTOR, id, w});
  }
  if (!any_split_index(acc, axis.get())) return false;
  int widest_item = 0;
  for (const Access& a : acc) widest_item = std::max(widest_item, a.dtype.itemsize());
  for (int64_t w = vector_width(axis, t.vector_bytes / std::max(widest_item, 1)); w > 1; w /= 2) {
    OptKernel trial = k;
    if (!apply_opt(trial, {Opt::Kind::VECTOR, id, w})) continue;
    UOpRef lane;
    for (const UOpRef& r : all_ranges(trial.sink))
      if (r->arg.as_ints()[1] == AXIS_UPCAST) lane = r;
    if (lane && vectorizable(accesses(trial.sink), lane.get(), &isz) && w * isz <= t.vector_bytes) {
      k = std::move(trial);
      return true;
    }
  }
  return false;
}

int64_t loop_size(const UOpRef& r) { return r->src(0)->op == Op::CONST ? r->src(0)->arg.to_int() : 0; }

// The loop ids of a row kernel's passes: reduces that each loop over one range, two or more of them
// in sequence (softmax's max then sum, layernorm's mean then variance, fused into the kernel that
// reads them). Empty for any other kernel.
std::vector<int64_t> row_passes(const UOpRef& sink) {
  std::vector<int64_t> ids;
  for (const UOp* n : sink->toposort()) {
    if (n->op != Op::REDUCE || n->nsrc() < 2) continue;
    if (n->nsrc() != 2) return {};
    ids.push_back(n->src(1)->arg.as_ints()[0]);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() < 2) return {};
  return ids;
}
}  // namespace

void hand_coded_opts(OptKernel& k, const Target& t) {
  if (getenv_int(Flag::NOOPT)) return;
  // a row kernel: SIMD along the row in the output loop and in every pass, four partial results a
  // pass (each pass's additions or maxes form one dependency chain otherwise)
  if (std::vector<int64_t> passes = row_passes(k.sink); !passes.empty()) {
    if (!k.loops.empty()) vectorize_axis(k, k.loops.back(), t);
    for (int64_t id : passes) {
      UOpRef r = find_range(k.sink, id);
      if (r && vectorize_axis(k, r, t))
        for (int64_t amt : {4, 2})
          if (apply_opt(k, {Opt::Kind::UNROLL, id, amt})) break;
    }
    return;
  }
  std::vector<UOpRef> reduces;
  for (const UOpRef& r : all_ranges(k.sink))
    if (r->arg.as_ints()[1] == AXIS_REDUCE) reduces.push_back(r);
  // 1. SIMD along the innermost output axis when every access is contiguous or broadcast there
  UOpRef vec_axis;
  if (!k.loops.empty()) {
    UOpRef axis = k.loops.back();  // apply_opt may remove it from loops (when fully vectorized)
    if (vectorize_axis(k, axis, t)) vec_axis = axis;
  }
  // 2. otherwise SIMD partial sums along a contiguous reduce axis
  bool vec_reduce = false;
  if (!vec_axis && !reduces.empty()) vec_reduce = vectorize_axis(k, reduces.back(), t);
  // 3. with a reduce, keep a register tile of accumulators so each loaded value feeds several FMAs:
  //    upcast output axes along which some input is broadcast (stride 0), a second axis only when
  //    it reuses a different input, then widen the vector axis; at most 8 accumulators (AVX2 has 16
  //    vector registers, the rest hold the loaded operands)
  if (!reduces.empty() && (vec_axis || vec_reduce)) {
    int64_t budget = 8;
    std::vector<const UOp*> covered;  // buffers whose loads are already reused
    std::vector<int64_t> tiled;       // output axes upcast for reuse
    const std::vector<UOpRef> loops = k.loops;  // apply_opt edits k.loops; axes are found by id
    for (auto it = loops.rbegin(); it != loops.rend() && budget > 1;) {
      UOpRef l = *it++;
      if (vec_axis && l->arg.as_ints()[0] == vec_axis->arg.as_ints()[0]) continue;
      std::vector<const UOp*> reused;
      for (const Access& a : accesses(k.sink)) {
        auto s = stride_of(a.index->src(1).get(), l.get());
        const UOp* buf = a.index->src(0).get();
        if (!a.store && s && *s == 0 && std::find(covered.begin(), covered.end(), buf) == covered.end())
          reused.push_back(buf);
      }
      bool fresh = !reused.empty();
      if (!fresh) continue;
      int64_t amt = std::min<int64_t>(4, budget);
      while (amt > 1 && !apply_opt(k, {Opt::Kind::UPCAST, l->arg.as_ints()[0], amt})) amt /= 2;
      if (amt <= 1) continue;
      budget /= amt;
      covered.insert(covered.end(), reused.begin(), reused.end());
      tiled.push_back(l->arg.as_ints()[0]);
    }
    if (vec_axis && budget >= 2) apply_opt(k, {Opt::Kind::UPCAST, vec_axis->arg.as_ints()[0], 2});
    // a vector reduce with no tile adds into one accumulator: every add waits for the one before
    // (3-4 cycles), a quarter of what the loads could feed; four partial sums break the chain
    if (vec_reduce && tiled.empty()) {
      int64_t id = reduces.back()->arg.as_ints()[0];
      for (int64_t amt : {4, 2})
        if (apply_opt(k, {Opt::Kind::UNROLL, id, amt})) break;
    }
    // 4. cache blocking (a GEMM's loop order): a tile of the vector axis reads a strip of an operand
    //    that does not depend on the tiled axis; walking the tiled axis in blocks of 16 tiles, with
    //    the vector axis between the block loop and the tiles, keeps that strip in L1 for 16 tiles
    //    and the block's rows of the other operand in L2 for the whole vector axis
    int64_t reduce_len = 1;
    for (const UOpRef& r : reduces) reduce_len *= std::max<int64_t>(loop_size(r), 1);
    UOpRef vec_loop;  // what is left of the vector axis as a loop (null when fully vectorized)
    if (vec_axis)
      for (const UOpRef& l : k.loops)
        if (l->arg.as_ints()[0] == vec_axis->arg.as_ints()[0]) vec_loop = l;
    if (vec_loop && tiled.size() == 1 && reduce_len >= 64 && loop_size(vec_loop) >= 4) {
      for (const UOpRef& l : k.loops)
        if (l->arg.as_ints()[0] == tiled[0] && loop_size(l) >= 32) {
          for (int64_t amt : {16, 8})
            if (apply_opt(k, {Opt::Kind::BLOCK, tiled[0], amt})) break;
          break;
        }
    }
  }
}

}  // namespace fg
