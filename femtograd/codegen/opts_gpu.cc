#include "femtograd/codegen/opts_gpu.h"

#include <algorithm>
#include <bit>
#include <iterator>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/stage_local.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

namespace fg {

const char* opt_kind_name(Opt::Kind k) {
  switch (k) {
    case Opt::Kind::UPCAST: return "UPCAST";
    case Opt::Kind::UNROLL: return "UNROLL";
    case Opt::Kind::VECTOR: return "VECTOR";
    case Opt::Kind::LOCAL: return "LOCAL";
    case Opt::Kind::GROUP: return "GROUP";
    case Opt::Kind::GROUPTOP: return "GROUPTOP";
    case Opt::Kind::STAGE: return "STAGE";
    case Opt::Kind::BLOCK: return "BLOCK";
    case Opt::Kind::PADTO: return "PADTO";
  }
  return "?";
}

std::string opt_str(const Opt& o) { return o.str(); }

namespace {

constexpr int64_t kMaxThreads = 1024;

UOpRef idx_const(int64_t v) { return UOp::cnst_int(dtypes::index, v); }
UOpRef special(const std::string& name, int64_t size) {
  return UOp::make(Op::SPECIAL, dtypes::index, {idx_const(size)}, Arg(name));
}
int64_t axis_of(const UOp* r) { return r->arg.as_ints()[0]; }
int64_t type_of(const UOp* r) { return r->arg.as_ints()[1]; }
int64_t size_of(const UOp* r) { return r->src(0)->arg.to_int(); }

bool is_group(Opt::Kind k) { return k == Opt::Kind::GROUP || k == Opt::Kind::GROUPTOP; }

// the threads per block and thread dimensions the opts applied so far use (the GROUPs of a kernel
// share one dimension of `group` threads)
void thread_use(const OptKernel& k, int64_t* threads, int* dims, int64_t* group) {
  *threads = 1, *dims = 0, *group = 0;
  for (const Opt& o : k.applied) {
    if (is_group(o.kind) && *group) continue;
    if (o.kind == Opt::Kind::LOCAL || is_group(o.kind)) {
      *threads *= o.amount;
      (*dims)++;
      if (is_group(o.kind)) *group = o.amount;
    }
  }
}

const UOp* find_loop(const OptKernel& k, int64_t axis) {
  for (const UOpRef& l : k.loops)
    if (axis_of(l.get()) == axis) return l.get();
  return nullptr;
}

bool apply_local(OptKernel& k, const Opt& o) {
  const UOp* l = find_loop(k, o.axis);
  if (!l || type_of(l) != AXIS_GLOBAL || l->src(0)->op != Op::CONST) return false;
  if (o.amount < 2 || o.amount > size_of(l)) return false;
  int64_t threads, group;
  int dims;
  thread_use(k, &threads, &dims, &group);
  if (dims >= 3 || threads * o.amount > kMaxThreads) return false;
  for (const Opt& a : k.applied)
    if (a.kind == Opt::Kind::LOCAL && a.axis == o.axis) return false;
  k.applied.push_back(o);  // the split happens in gpu_map_threads
  return true;
}

bool depends_on(const UOp* e, const UOp* r) {
  for (const UOp* m : e->toposort())
    if (m == r) return true;
  return false;
}

bool is_group_reduce(const UOp* n) {
  return n->op == Op::CUSTOMI && n->arg.as_str().starts_with("fg_group_reduce<");
}

// Does e vary across the group's lanes (read lidx0 other than through a finished group reduce,
// whose result every lane shares)?
bool varies_over_lanes(const UOp* e) {
  std::vector<const UOp*> stack{e};
  PtrMap<uint8_t> seen;
  while (!stack.empty()) {
    const UOp* n = stack.back();
    stack.pop_back();
    if (seen.find(n) || is_group_reduce(n)) continue;
    seen.put(n, 1);
    if (n->op == Op::SPECIAL && n->arg.as_str() == "lidx0") return true;
    for (const UOpRef& x : n->src()) stack.push_back(x.get());
  }
  return false;
}

bool apply_group(OptKernel& k, const Opt& o) {
  UOpRef r;
  for (const UOpRef& x : all_ranges(k.sink)) {
    if (type_of(x.get()) == AXIS_UPCAST) return false;  // no group reduce of vector values
    if (axis_of(x.get()) == o.axis && (type_of(x.get()) == AXIS_REDUCE || type_of(x.get()) == AXIS_GLOBAL)) r = x;
  }
  if (!r || r->src(0)->op != Op::CONST) return false;
  int64_t n = size_of(r.get()), kk = o.amount;
  if (kk < 2 || !std::has_single_bit(static_cast<uint64_t>(kk)) || n % kk != 0) return false;
  int64_t threads, group;
  int dims;
  thread_use(k, &threads, &dims, &group);
  // every GROUP of a kernel splits over the same threads (a row kernel's passes and its output)
  if (group ? group != kk : (dims >= 3 || threads * kk > kMaxThreads)) return false;
  for (const Opt& a : k.applied)
    if (a.kind == Opt::Kind::LOCAL && a.axis == o.axis) return false;
  bool output = type_of(r.get()) == AXIS_GLOBAL;
  // The lanes of a group reduce must all work for the same output: an output loop a reduce depends
  // on cannot be split over the lanes, nor a reduce whose value already differs from lane to lane
  // (a second range of a grouped reduce: the lanes would only meet on the diagonal).
  for (const UOp* n : k.sink->toposort()) {
    if (n->op != Op::REDUCE) continue;
    bool over = false;
    for (size_t i = 1; i < n->nsrc(); i++) over |= n->src(i) == r;
    if (output ? depends_on(n, r.get()) : over && varies_over_lanes(n->src(0).get())) return false;
  }
  UOpRef lid = special("lidx0", kk);
  // an output loop keeps its rest as a loop in each thread (a row's elements, kk at a time)
  UOpRef outer = n / kk > 1 ? UOp::range(idx_const(n / kk), o.axis, output ? AXIS_LOOP : AXIS_REDUCE) : nullptr;
  UOpRef idx = o.kind == Opt::Kind::GROUP ? (outer ? outer * kk + lid : lid)
                                          : (outer ? lid * (n / kk) + outer : lid);
  if (output) {
    UOpRef sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) { return orig == r.get() ? idx : rebuilt; });
    k.sink = graph_rewrite(sink, symbolic(), "symbolic: after group");
    for (auto& l : k.loops)
      if (l == r) l = outer;
    k.loops.erase(std::remove(k.loops.begin(), k.loops.end(), nullptr), k.loops.end());
    k.applied.push_back(o);
    return true;
  }
  bool ok = true;
  UOpRef sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    if (orig == r.get()) return idx;
    if (orig->op != Op::REDUCE) return rebuilt;
    bool has = false;
    for (size_t i = 1; i < orig->nsrc(); i++) has |= orig->src(i).get() == r.get();
    if (!has) return rebuilt;
    Op op = orig->arg.as_reduce().op;
    if (orig->dtype.count > 1 || (op != Op::ADD && op != Op::MAX && op != Op::MUL)) ok = false;
    std::vector<UOpRef> srcs{rebuilt->src(0)};
    for (size_t i = 1; i < orig->nsrc(); i++)
      if (orig->src(i).get() != r.get()) srcs.push_back(orig->src(i));
    if (outer) srcs.push_back(outer);
    UOpRef partial = srcs.size() == 1 ? srcs[0] : UOp::make(Op::REDUCE, orig->dtype, srcs, orig->arg);
    int code = op == Op::ADD ? 0 : op == Op::MAX ? 1 : 2;
    std::string fmt = "fg_group_reduce<" + std::to_string(code) + ", " + std::to_string(kk) + ">({0})";
    return UOp::make(Op::CUSTOMI, orig->dtype, {partial}, Arg(fmt));
  });
  if (!ok) return false;
  k.sink = graph_rewrite(sink, symbolic(), "symbolic: after group");
  k.applied.push_back(o);
  return true;
}

// an output loop that the kernel's reduces do not depend on: threads along it would each run the
// reduces again (row fusion hoists them above it; it stays a loop in each thread)
bool reduces_skip(const UOpRef& sink, const UOp* loop) {
  bool any = false;
  for (const UOp* n : sink->toposort())
    if (n->op == Op::REDUCE) {
      if (depends_on(n, loop)) return false;
      any = true;
    }
  return any;
}

// spreads up to `budget` threads over the output loops, innermost first
void choose_locals(OptKernel& k, int64_t budget) {
  std::vector<UOpRef> loops = k.loops;
  for (auto it = loops.rbegin(); it != loops.rend() && budget >= 2; ++it) {
    int64_t s = size_of(it->get()), l;
    if (s <= 1 || reduces_skip(k.sink, it->get())) continue;
    if (s <= budget) {
      l = s;
    } else {
      l = 1;
      for (int64_t p = budget; p >= 2; p /= 2)
        if (s % p == 0) { l = p; break; }
      if (l < budget / 2) l = budget;  // poor divisibility: mask the last block's extra threads
    }
    if (apply_local(k, {Opt::Kind::LOCAL, axis_of(it->get()), l})) budget /= l;
  }
}

// A register tile of ti x tj outputs per thread over li x lj threads, the block's inputs staged
// through shared memory (STAGE, bk reduce steps a tile): matmul-like kernels (one reduce, two
// output loops that each reuse a different input) whose block tile divides the output: the
// largest tile that leaves at least 128 blocks (the last one whatever the count).
bool staged_tile(OptKernel& k, const std::vector<UOpRef>& picked, const std::vector<UOpRef>& reduces,
                 const std::vector<Access>& acc) {
  if (picked.size() != 2 || reduces.size() != 1 || reduces[0]->src(0)->op != Op::CONST) return false;
  const UOp* r = reduces[0].get();
  int isz = 0;
  if (!vectorizable(acc, picked[0].get(), &isz, true) || (isz != 4 && isz != 2)) return false;
  struct Cfg {
    int64_t tj, ti, lj, li, bk;
  };
  // measured on an H100 (docs/benchmarks.md): 128x128 with 16-step tiles 40.6-41.8 TFLOP/s from
  // 2048^3 up; 64x128 for 1024^3, where 128x128 leaves 64 blocks for 132 SMs
  const Cfg cfgs[] = {{8, 8, 16, 16, 16}, {4, 8, 16, 16, 16}, {4, 4, 16, 16, 8}};
  int64_t sj = size_of(picked[0].get()), si = size_of(picked[1].get()), n = size_of(r), other = 1;
  for (const UOpRef& l : k.loops)
    if (l != picked[0] && l != picked[1]) other *= size_of(l.get());
  int64_t aj = axis_of(picked[0].get()), ai = axis_of(picked[1].get());
  for (size_t i = 0; i < std::size(cfgs); i++) {
    const Cfg& c = cfgs[i];
    int64_t bj = c.tj * c.lj, bi = c.ti * c.li;
    if (sj % bj || si % bi || n % c.bk || c.tj % 4) continue;
    if (i + 1 < std::size(cfgs) && (sj / bj) * (si / bi) * other < 128) continue;  // too few blocks
    OptKernel t = k;
    bool ok = apply_stage(t, {Opt::Kind::STAGE, axis_of(r), c.bk}) && apply_opt(t, {Opt::Kind::VECTOR, aj, 4}) &&
              (c.tj == 4 || apply_opt(t, {Opt::Kind::UPCAST, aj, c.tj / 4})) &&
              (c.ti == 1 || apply_opt(t, {Opt::Kind::UPCAST, ai, c.ti})) &&
              apply_local(t, {Opt::Kind::LOCAL, aj, c.lj}) && apply_local(t, {Opt::Kind::LOCAL, ai, c.li});
    if (ok) {
      k = std::move(t);
      return true;
    }
  }
  return false;
}

// A row kernel: every reduce loops over one range and runs once per row, before the row's output
// loop opens (softmax: the row's max, its sum of exponentials, then the normalized row; the
// scheduler fuses them so the row is read from cache after its first pass). One row a block: every
// pass and the row's output loop split over the same group of threads (coalesced; a pass's result
// reaches every thread through fg_group_reduce), rows padded to the group.
bool row_kernel_opts(OptKernel& k) {
  std::vector<const UOp*> reduces;
  for (const UOp* n : k.sink->toposort()) {
    if (n->op != Op::REDUCE) continue;
    for (size_t i = 1; i < n->nsrc(); i++)
      if (n->src(i)->src(0)->op != Op::CONST) return false;
    reduces.push_back(n);
  }
  if (reduces.empty() || k.loops.empty()) return false;
  std::vector<UOpRef> row_loops;  // output loops no reduce depends on
  for (const UOpRef& l : k.loops)
    if (reduces_skip(k.sink, l.get())) row_loops.push_back(l);
  if (reduces.size() < 2 && (row_loops.empty() || reduces[0]->nsrc() != 2)) return false;
  // (axis, size): a range of every pass (a pass over two axes that do not merge loops over the
  // other in each thread), the innermost row loop (the others stay loops: gpu_map_threads)
  std::vector<std::pair<int64_t, int64_t>> splits;
  std::vector<Access> acc = accesses(k.sink);
  for (const UOp* r : reduces) {
    const UOp* pick = nullptr;  // the range its loads walk contiguously (coalesced over the group)
    for (size_t i = 1; i < r->nsrc(); i++)
      for (const Access& a : acc) {
        auto st = stride_of(a.index->src(1).get(), r->src(i).get());
        if (!a.store && st && *st == 1) pick = r->src(i).get();
      }
    if (!pick) return false;  // column sums: threads along the outputs read coalesced instead
    splits.push_back({axis_of(pick), size_of(pick)});
  }
  if (!row_loops.empty()) splits.push_back({axis_of(row_loops.back().get()), size_of(row_loops.back().get())});
  std::sort(splits.begin(), splits.end());
  splits.erase(std::unique(splits.begin(), splits.end()), splits.end());
  int64_t longest = 0, kk = 32, blocks = 1;
  for (auto [axis, n] : splits) longest = std::max(longest, n);
  for (const UOpRef& l : k.loops)
    if (std::find(row_loops.begin(), row_loops.end(), l) == row_loops.end()) blocks *= size_of(l.get());
  while (kk < 256 && kk < longest) kk *= 2;
  // few rows: wider groups (up to 1024 threads, 8 or more elements a thread a pass) until about
  // kRowThreads threads run; a block's passes are a chain of latencies the other blocks hide
  constexpr int64_t kRowThreads = 1 << 16;
  while (kk < kMaxThreads && longest >= 16 * kk && blocks * kk < kRowThreads) kk *= 2;
  // long rows: the widest group, so that few rows are in flight on an SM and the later passes find
  // them in L2 (at 256 threads, 8 rows of 128 KB an SM overflow the 50 MB L2 of an H100)
  if (longest >= 16384) kk = kMaxThreads;
  OptKernel t = k;
  for (auto [axis, n] : splits) {
    if (n % kk && !apply_opt(t, {Opt::Kind::PADTO, axis, kk})) return false;
    if (!apply_group(t, {Opt::Kind::GROUP, axis, kk})) return false;
  }
  k = std::move(t);
  if (kk < 256) choose_locals(k, 256 / kk);  // several short rows a block
  return true;
}

// A third output loop that reuses what the first pick reuses (a conv's output rows reuse its
// weights, as its columns do) deepens the register tile 4 along it; a short reduce window that
// slides with that loop (a conv's kernel rows: its input row is y + ky) is unrolled, so the tile's
// rows share the input rows they overlap. BEAM=2 found this for ResNet's 3x3 conv on an H100
// (10.7 -> 17.3 TFLOP/s). Read off the kernel before any opt rewrites it: the opts to apply after
// the picks' (UPCAST of the third loop, UNROLL of each sliding window), empty when there is none.
std::vector<Opt> deeper_tile(const OptKernel& k, const std::vector<std::vector<const UOp*>>& reused_by,
                             const std::vector<UOpRef>& picked, const std::vector<UOpRef>& reduces,
                             const std::vector<Access>& acc) {
  if (picked.size() != 2) return {};
  size_t first = 0;
  while (k.loops[first] != picked[0]) first++;
  for (size_t i = k.loops.size(); i-- > 0;) {
    const UOp* l = k.loops[i].get();
    if (k.loops[i] == picked[0] || k.loops[i] == picked[1] || reused_by[i] != reused_by[first]) continue;
    if (size_of(l) < 8 || size_of(l) % 4) continue;
    std::vector<Opt> out{{Opt::Kind::UPCAST, axis_of(l), 4}};
    for (const UOpRef& w : reduces) {
      int64_t n = w->src(0)->op == Op::CONST ? size_of(w.get()) : 0;
      bool slides = false;
      for (const Access& a : acc) {
        auto sl = stride_of(a.index->src(1).get(), l), sw = stride_of(a.index->src(1).get(), w.get());
        slides |= !a.store && sl && sw && *sl != 0 && *sl == *sw;
      }
      if (n >= 2 && n <= 4 && slides) out.push_back({Opt::Kind::UNROLL, axis_of(w.get()), n});
    }
    return out;
  }
  return {};
}

}  // namespace

bool apply_gpu_opt(OptKernel& k, const Opt& o) {
  switch (o.kind) {
    case Opt::Kind::LOCAL: return apply_local(k, o);
    case Opt::Kind::GROUP: case Opt::Kind::GROUPTOP: return !has_stage(k) && apply_group(k, o);
    case Opt::Kind::STAGE: return apply_stage(k, o);
    default: break;
  }
  if (o.kind == Opt::Kind::UNROLL && has_stage(k)) return false;
  // a loop split into threads keeps its size: reshape it (UPCAST, VECTOR) before LOCAL
  for (const Opt& a : k.applied)
    if (a.kind == Opt::Kind::LOCAL && a.axis == o.axis) return false;
  if (o.kind == Opt::Kind::VECTOR)
    for (const Opt& a : k.applied)
      if (is_group(a.kind)) return false;
  return apply_opt(k, o);
}

void gpu_hand_coded_opts(OptKernel& k, const Target& t) {
  if (getenv_int(Flag::NOOPT)) return;
  std::vector<Access> acc = accesses(k.sink);
  std::vector<UOpRef> reduces;
  for (const UOpRef& r : all_ranges(k.sink))
    if (type_of(r.get()) == AXIS_REDUCE) reduces.push_back(r);
  int isz = 0;
  auto lanes_for = [&](int itemsize) { return itemsize == 4 ? 4 : itemsize == 8 ? 2 : itemsize == 2 ? 8 : 0; };

  if (reduces.empty()) {  // elementwise: 16-byte accesses where contiguous, 256-thread blocks
    if (!k.loops.empty() && vectorizable(acc, k.loops.back().get(), &isz, true) && lanes_for(isz))
      apply_opt(k, {Opt::Kind::VECTOR, axis_of(k.loops.back().get()), lanes_for(isz)});
    choose_locals(k, 256);
    return;
  }
  if (row_kernel_opts(k)) return;
  const UOp* r = reduces.back().get();
  // reuse: every load that the reduce walks is independent of some output loop (matmul, conv):
  // arithmetic per byte grows with a register tile
  std::vector<std::vector<const UOp*>> reused_by(k.loops.size());  // per loop: loads reused along it
  bool all_reused = true, any_reduce_load = false;
  for (const Access& a : acc) {
    if (a.store || !depends_on(a.index, r)) continue;
    any_reduce_load = true;
    bool reused = false;
    for (size_t i = 0; i < k.loops.size(); i++) {
      auto s = stride_of(a.index->src(1).get(), k.loops[i].get());
      if (s && *s == 0 && !depends_on(a.index, k.loops[i].get())) {
        reused = true;
        reused_by[i].push_back(a.index);
      }
    }
    all_reused = all_reused && reused;
  }
  if (any_reduce_load && all_reused && !k.loops.empty()) {
    // register tile: the innermost reused loop (vector lanes when contiguous), then a loop that
    // reuses a different input; then 16x16 threads over them
    std::vector<UOpRef> picked;
    for (size_t i = k.loops.size(); i-- > 0 && picked.size() < 2;) {
      if (reused_by[i].empty() || size_of(k.loops[i].get()) < 8) continue;
      if (!picked.empty()) {
        size_t j = 0;
        while (k.loops[j] != picked[0]) j++;
        if (reused_by[i] == reused_by[j]) continue;
      }
      picked.push_back(k.loops[i]);
    }
    if (staged_tile(k, picked, reduces, acc)) return;
    std::vector<Opt> deeper = deeper_tile(k, reused_by, picked, reduces, acc);
    for (size_t p = 0; p < picked.size(); p++) {
      int64_t ax = axis_of(picked[p].get());
      bool done = false;
      if (p == 0 && vectorizable(acc, picked[p].get(), &isz, true) && isz == 4)
        done = apply_opt(k, {Opt::Kind::VECTOR, ax, 4});
      if (!done) done = apply_opt(k, {Opt::Kind::UPCAST, ax, 4}) || apply_opt(k, {Opt::Kind::UPCAST, ax, 2});
    }
    if (!deeper.empty() && apply_opt(k, deeper[0]))  // the windows unroll only along a deeper tile
      for (size_t d = 1; d < deeper.size(); d++) apply_opt(k, deeper[d]);
    for (const UOpRef& pk : picked) {
      const UOp* l = find_loop(k, axis_of(pk.get()));
      if (!l) continue;
      int64_t s = size_of(l), want = picked.size() == 1 ? 256 : 16;
      apply_local(k, {Opt::Kind::LOCAL, axis_of(l), std::min(s, want)});
    }
    int64_t threads, group;
    int dims;
    thread_use(k, &threads, &dims, &group);
    if (threads < 64) choose_locals(k, 256 / threads);
    return;
  }
  // a reduce over contiguous memory: split it over a group of threads (coalesced loads)
  bool contiguous = false;
  for (const Access& a : acc) {
    auto s = stride_of(a.index->src(1).get(), r);
    contiguous |= !a.store && s && *s == 1;
  }
  int64_t n = size_of(r);
  if (contiguous && n >= 32) {
    int64_t kk = 256;
    while (kk > 32 && n % kk != 0) kk /= 2;
    // no group of 32 or more divides the reduce: pad it to one (the extra lanes add the identity)
    bool pad = n % kk != 0;
    if (pad) kk = std::min<int64_t>(256, std::bit_ceil(static_cast<uint64_t>(n)));
    OptKernel t = k;
    if ((!pad || apply_opt(t, {Opt::Kind::PADTO, axis_of(r), kk})) && apply_group(t, {Opt::Kind::GROUP, axis_of(r), kk})) {
      k = std::move(t);
      if (kk < 256) choose_locals(k, 256 / kk);
      return;
    }
  }
  (void)t;
  choose_locals(k, 256);  // one thread per output, consecutive outputs in consecutive threads
}

void gpu_map_threads(OptKernel& k) {
  std::vector<std::pair<int64_t, int64_t>> locals;  // (axis, amount) of LOCAL opts
  bool group = false;
  for (const Opt& o : k.applied) {
    if (o.kind == Opt::Kind::LOCAL) locals.push_back({o.axis, o.amount});
    group |= is_group(o.kind);
  }
  auto local_of = [&](int64_t axis) -> int64_t {
    for (auto [a, l] : locals)
      if (a == axis) return l;
    return 1;
  };
  // a loop each thread runs stays a loop: what a GROUP leaves of an output loop, and an output loop
  // the reduces do not depend on unless opts made it threads (else each block would run them again)
  std::vector<UOpRef> serial, mapped;
  for (const UOpRef& l : k.loops) {
    bool keep = type_of(l.get()) == AXIS_LOOP || (local_of(axis_of(l.get())) == 1 && reduces_skip(k.sink, l.get()));
    (keep ? serial : mapped).push_back(l);
  }
  // thread dims: the group lanes are x; local axes follow, innermost loop first (coalescing)
  int next_dim = group ? 1 : 0;
  PtrMap<UOpRef> lexpr;
  std::vector<UOpRef> lidx;  // the thread index SPECIALs, dimension 0 first
  for (auto it = mapped.rbegin(); it != mapped.rend(); ++it) {
    int64_t l = local_of(axis_of(it->get()));
    if (l > 1) lidx.push_back(lexpr.put(it->get(), special("lidx" + std::to_string(next_dim++), l)));
  }
  // grid: loops with more than one block, innermost first as x, y, z; flattened into x when there
  // are more than three or y, z would pass their limit (65535)
  struct G {
    const UOp* loop;
    int64_t blocks;
  };
  std::vector<G> grid;
  for (auto it = mapped.rbegin(); it != mapped.rend(); ++it) {
    int64_t s = size_of(it->get()), l = local_of(axis_of(it->get()));
    int64_t b = (s + l - 1) / l;
    if (b > 1) grid.push_back({it->get(), b});
  }
  bool direct = grid.size() <= 3;
  for (size_t i = 0; i < grid.size() && direct; i++)
    direct = grid[i].blocks <= (i == 0 ? int64_t(INT32_MAX) : 65535);
  PtrMap<UOpRef> gexpr;
  if (direct) {
    for (size_t i = 0; i < grid.size(); i++)
      gexpr.put(grid[i].loop, special("gidx" + std::to_string(i), grid[i].blocks));
  } else {
    int64_t total = 1;
    for (const G& g : grid) total *= g.blocks;
    FG_CHECK(total <= INT32_MAX, ErrorKind::NotImplemented, "codegen", "a GPU kernel of ", total,
             " blocks (at most ", INT32_MAX, ")");
    UOpRef gid = special("gidx0", total);
    int64_t stride = 1;
    for (size_t i = 0; i < grid.size(); i++) {
      UOpRef e = stride == 1 ? gid : idiv(gid, idx_const(stride));
      if (i + 1 < grid.size()) e = e % grid[i].blocks;
      gexpr.put(grid[i].loop, e);
      stride *= grid[i].blocks;
    }
  }
  UOpRef guard;
  PtrMap<UOpRef> repl;
  for (const UOpRef& loop : mapped) {
    const UOp* L = loop.get();
    int64_t s = size_of(L), l = local_of(axis_of(L));
    const UOpRef* g = gexpr.find(L);
    const UOpRef* t = lexpr.find(L);
    UOpRef e = g && t ? *g * l + *t : g ? *g : t ? *t : idx_const(0);
    if (s % l != 0) {
      UOpRef c = e->lt(s);
      guard = guard ? guard & c : c;
    }
    repl.put(L, e);
  }
  std::vector<UOpRef> keep(mapped);
  UOpRef sink = transform(k.sink, [&](const UOp* orig, UOpRef rebuilt) -> UOpRef {
    if (const UOpRef* r = repl.find(orig)) return *r;
    if (!guard) return rebuilt;
    // threads past the end of a masked axis neither load nor store
    if (orig->op == Op::INDEX && rebuilt->src(0)->op == Op::DEFINE_GLOBAL) {
      std::vector<UOpRef> s{rebuilt->src(0), rebuilt->src(1), rebuilt->nsrc() > 2 ? rebuilt->src(2) & guard : guard};
      return UOp::make(Op::INDEX, rebuilt->dtype, s, rebuilt->arg);
    }
    if (orig->op == Op::LOAD && orig->nsrc() == 1 && rebuilt->src(0)->op == Op::INDEX)
      return UOp::make(Op::LOAD, rebuilt->dtype, {rebuilt->src(0), UOp::cnst(rebuilt->dtype, 0)}, rebuilt->arg);
    return rebuilt;
  });
  k.sink = graph_rewrite(sink, symbolic(), "symbolic: after thread mapping");
  k.loops = serial;
  if (has_stage(k)) {
    FG_CHECK(!guard, ErrorKind::Value, "codegen", "STAGE needs LOCAL amounts that divide their axes");
    stage_locals(k, lidx);
    k.sink = graph_rewrite(k.sink, symbolic(), "symbolic: after staging");
  }
}

void gpu_optimize(OptKernel& k, const Target& t, const std::vector<Opt>* opts) {
  if (opts) {
    for (const Opt& o : *opts)
      FG_CHECK(apply_gpu_opt(k, o), ErrorKind::Value, "codegen", opt_str(o), " does not apply to this GPU kernel");
  } else {
    gpu_hand_coded_opts(k, t);
  }
  gpu_map_threads(k);
}

void gpu_launch_dims(const std::vector<UOpRef>& lines, int64_t global[3], int64_t local[3]) {
  for (int i = 0; i < 3; i++) global[i] = local[i] = 1;
  for (const UOpRef& l : lines) {
    if (l->op != Op::SPECIAL) continue;
    const std::string& n = l->arg.as_str();
    int d = n.back() - '0';
    FG_ASSERT(d >= 0 && d < 3, "bad thread index ", n);
    (n[0] == 'g' ? global : local)[d] = l->src(0)->arg.to_int();
  }
}

}  // namespace fg
