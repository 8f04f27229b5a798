// Benchmark of the IR's hot paths on realistic index math: (a) interning nodes (UOp::make misses
// and hits), (b) the symbolic rewrite (graph_rewrite with symbolic()), in input nodes per second.
// The expressions are what lowering produces: reshape composition (linear index = sum idx*stride,
// delinearized with // and %), permutes, conv windows (oh*s + kh*d - pad with 0 <= .. < H masks),
// padding masks, pooling windows, gidx/lidx/upcast products of tiled matmuls.
// `--dump FILE` writes the expression set (format below) so bench/symbolic_vs_tinygrad.py can
// rebuild the same expressions in tinygrad; `--simplified FILE` writes each simplified expression.
//
// Dump format: one node per line, ids in topological order, then the roots:
//   <id> CONST <dtype> <value>            <id> DEFINE_VAR <dtype> <name> <min> <max>
//   <id> RANGE <dtype> <axis> <end id>    <id> SPECIAL <dtype> <name> <size id>
//   <id> <ALU op> <dtype> <src id>...     expr <id>
#include "femtograd/ir/symbolic.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "femtograd/ir/graph_rewrite.h"

using namespace fg;

namespace {
const DType I = dtypes::index;

class Exprs {
 public:
  explicit Exprs(uint64_t seed) : rng_(seed) {}
  std::vector<UOpRef> roots;

  int64_t uni(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  UOpRef k(int64_t v) { return UOp::cnst_int(I, v); }
  UOpRef range(int64_t end) { return UOp::range(k(end), axis_++); }
  UOpRef special(const std::string& name, int64_t size) {
    return UOp::make(Op::SPECIAL, I, {k(size)}, Arg(name));
  }
  UOpRef ge(const UOpRef& x, int64_t c) { return x->lt(c)->logical_not(); }
  int64_t pick(std::initializer_list<int64_t> v) { return *(v.begin() + uni(0, v.size() - 1)); }

  // reshape S -> S' (regrouped factors), permute, read a contiguous buffer of shape S
  void reshape_permute() {
    axis_ = 0;
    std::vector<int64_t> f;
    int nf = static_cast<int>(uni(3, 5));
    for (int i = 0; i < nf; i++) f.push_back(pick({2, 3, 4, 5, 8, 16}));
    auto group = [&](std::vector<int64_t> fs) {  // random merges of adjacent factors
      std::vector<int64_t> out;
      for (int64_t x : fs) {
        if (!out.empty() && uni(0, 2) == 0)
          out.back() *= x;
        else
          out.push_back(x);
      }
      return out;
    };
    std::vector<int64_t> in = group(f), view = group(f);
    if (uni(0, 3) == 0)
      std::reverse(view.begin(), view.end());  // an incompatible reshape: real div/mod
    std::vector<size_t> perm(view.size());
    for (size_t i = 0; i < perm.size(); i++) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng_);
    // ranges over the permuted view; coordinate of view axis perm[i] is range i. Linearized and
    // split the way codegen/lower.cc does: Horner form, no % on the first axis, no // by 1
    std::vector<UOpRef> coord(view.size());
    for (size_t i = 0; i < perm.size(); i++) coord[perm[i]] = range(view[perm[i]]);
    UOpRef lin;
    for (size_t i = 0; i < view.size(); i++) lin = lin ? lin * view[i] + coord[i] : coord[i];
    std::vector<UOpRef> in_idx(in.size());
    int64_t st = 1;
    for (size_t j = in.size(); j-- > 0;) {
      UOpRef q = st == 1 ? lin : idiv(lin, st);
      in_idx[j] = j == 0 ? q : q % in[j];
      st *= in[j];
    }
    UOpRef idx;
    for (size_t j = 0; j < in.size(); j++) idx = idx ? idx * in[j] + in_idx[j] : in_idx[j];
    roots.push_back(idx);
  }

  // conv2d input index with padding mask; output dims on gidx, sometimes merged into one gidx
  void conv() {
    axis_ = 0;
    int64_t C = pick({3, 16, 32, 64}), H = pick({7, 14, 28, 32, 56}), W = H;
    int64_t KH = pick({1, 3, 5, 7}), s = pick({1, 2}), d = pick({1, 1, 2}), p = KH / 2 * d;
    int64_t OH = (H + 2 * p - d * (KH - 1) - 1) / s + 1, OW = OH;
    UOpRef n = special("gidx2", pick({1, 8, 32})), oh, ow;
    if (uni(0, 1)) {
      UOpRef g = special("gidx0", OH * OW);
      oh = idiv(g, OW), ow = g % OW;
    } else {
      oh = special("gidx1", OH), ow = special("gidx0", OW);
    }
    UOpRef c = range(C), kh = range(KH), kw = range(KH);
    UOpRef ih = oh * s + kh * d - p, iw = ow * s + kw * d - p;
    UOpRef valid = ge(ih, 0) & ih->lt(H) & ge(iw, 0) & iw->lt(W);
    UOpRef idx = ((n * C + c) * H + ih) * W + iw;
    roots.push_back(valid->where(idx, k(0)));
  }

  // pad then shrink on a 2D image, output on gidx/lidx
  void pad() {
    axis_ = 0;
    int64_t H = pick({10, 31, 64, 100}), W = pick({10, 31, 64, 100});
    int64_t p0 = uni(0, 3), p1 = uni(0, 3), q0 = uni(0, 3), q1 = uni(0, 3), sh = uni(0, 2);
    int64_t OH = H + p0 + p1 - sh, OW = W + q0 + q1 - sh;
    int64_t L = pick({4, 8, 16});
    UOpRef gx = special("gidx0", (OW + L - 1) / L), lx = special("lidx0", L),
           gy = special("gidx1", OH);
    UOpRef x = gx * L + lx + sh, y = gy + sh;
    UOpRef valid = ge(y, p0) & y->lt(p0 + H) & ge(x, q0) & x->lt(q0 + W) & (gx * L + lx)->lt(OW);
    roots.push_back(valid->where((y - p0) * W + (x - q0), k(0)));
  }

  // tiled matmul loads: A[(gidx1*TM + lidx1*UM + um)*K + r*4 + rk], B[(r*4 + rk)*N + ...]
  void matmul() {
    axis_ = 0;
    int64_t TM = pick({32, 64}), UM = pick({2, 4}), K = pick({256, 512, 4096}),
            N = pick({512, 1024, 4096});
    UOpRef g1 = special("gidx1", N / TM), l1 = special("lidx1", TM / UM),
           g0 = special("gidx0", N / TM), l0 = special("lidx0", TM / UM), r = range(K / 4),
           rk = range(4);
    int64_t um = uni(0, UM - 1), un = uni(0, UM - 1);
    UOpRef row = g1 * TM + l1 * UM + um, col = g0 * TM + l0 * UM + un, kk = r * 4 + rk;
    roots.push_back(row * K + kk);
    roots.push_back(kk * N + col);
    // the output tile written through a flattened global id: (flat // N) * N + flat % N
    UOpRef flat = row * N + col;
    roots.push_back(idiv(flat, N) * N + flat % N);
  }

  // pooling through the repeat/reshape trick: position k*(I+D) + o*S in a repeated axis
  void pool() {
    axis_ = 0;
    int64_t Iw = pick({8, 14, 28, 32}), D = pick({0, 1}), S = pick({1, 2}), KW = pick({2, 3});
    int64_t O = (Iw - D * (KW - 1) - 1) / S + 1;
    UOpRef o = special("gidx0", O), kk = range(KW), b = special("gidx1", pick({4, 16}));
    UOpRef pos = kk * (Iw + D) + o * S;
    UOpRef inner = pos % (Iw + D);
    UOpRef valid = inner->lt(Iw);
    roots.push_back(valid->where(b * Iw + inner % Iw, k(0)));
  }

  // flip and a strided slice along one axis of a 3D tensor
  void flip() {
    axis_ = 0;
    int64_t A = pick({3, 8, 12}), B = pick({5, 16, 30}), Cc = pick({4, 7, 64});
    UOpRef a = range(A), b = range((B + 1) / 2), c = range(Cc);
    UOpRef fb = k(B - 1) - b * 2;
    roots.push_back((a * B + fb) * Cc + (k(Cc - 1) - c));
  }

  void generate(int n_each) {
    for (int i = 0; i < n_each; i++) {
      reshape_permute();
      conv();
      pad();
      matmul();
      pool();
      flip();
    }
  }

 private:
  std::mt19937_64 rng_;
  int64_t axis_ = 0;
};

// The expressions as a replayable recipe: nodes in topological order over all roots.
struct Recipe {
  struct Node {
    Op op;
    DType dtype;
    Arg arg;
    std::vector<uint32_t> src;
  };
  std::vector<Node> nodes;
  std::vector<uint32_t> roots;
  std::vector<int64_t> root_nodes;  // DAG size of each root (its own unique nodes)
  int64_t total_nodes = 0;          // sum of root_nodes: the "nodes" of the rewrite benchmark

  explicit Recipe(const std::vector<UOpRef>& exprs) {
    std::unordered_map<const UOp*, uint32_t> id;
    for (const UOpRef& r : exprs) {
      std::vector<const UOp*> order = r->toposort();
      for (const UOp* n : order) {
        if (id.count(n)) continue;
        Node nd{n->op, n->dtype, n->arg, {}};
        for (const UOpRef& s : n->src()) nd.src.push_back(id.at(s.get()));
        id[n] = static_cast<uint32_t>(nodes.size());
        nodes.push_back(std::move(nd));
      }
      roots.push_back(id.at(r.get()));
      root_nodes.push_back(static_cast<int64_t>(order.size()));
      total_nodes += static_cast<int64_t>(order.size());
    }
  }
  // builds every node; returns the number of UOp::make calls
  size_t build(std::vector<UOpRef>& out) const {
    out.resize(nodes.size());
    std::vector<UOpRef> src;
    for (size_t i = 0; i < nodes.size(); i++) {
      const Node& n = nodes[i];
      src.clear();
      for (uint32_t s : n.src) src.push_back(out[s]);
      out[i] = UOp::make(n.op, n.dtype, src, n.arg);
    }
    return nodes.size();
  }
  void dump(const std::string& path) const {
    std::ofstream f(path);
    f << "# femtograd symbolic benchmark expressions: " << nodes.size() << " nodes, "
      << roots.size() << " roots, " << total_nodes << " nodes summed over roots\n";
    for (size_t i = 0; i < nodes.size(); i++) {
      const Node& n = nodes[i];
      f << i << " " << op_name(n.op) << " " << n.dtype.name();
      if (n.op == Op::CONST)
        f << " " << (n.arg.is_bool() ? (n.arg.as_bool() ? "True" : "False") : n.arg.str());
      else if (n.op == Op::DEFINE_VAR)
        f << " " << n.arg.as_var().name << " " << n.arg.as_var().min << " " << n.arg.as_var().max;
      else if (n.op == Op::RANGE)
        f << " " << n.arg.as_ints()[0];
      else if (n.op == Op::SPECIAL)
        f << " " << n.arg.as_str();
      for (uint32_t s : n.src) f << " " << s;
      f << "\n";
    }
    for (uint32_t r : roots) f << "expr " << r << "\n";
  }
};

const Recipe& recipe() {
  static const Recipe* r = [] {
    Exprs e(20240601);
    e.generate(40);
    return new Recipe(e.roots);
  }();
  return *r;
}

// (a) interning, every node new: the graph is dropped after each build
void BM_InternMiss(benchmark::State& state) {
  const Recipe& r = recipe();
  size_t made = 0, created0 = UOp::created_count();
  for (auto _ : state) {
    std::vector<UOpRef> nodes;
    made += r.build(nodes);
    benchmark::DoNotOptimize(nodes.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(made));
  state.counters["miss_frac"] =
      static_cast<double>(UOp::created_count() - created0) / static_cast<double>(made);
}
BENCHMARK(BM_InternMiss)->Unit(benchmark::kMillisecond);

// (a) interning, every node already alive: lookups that find the node
void BM_InternHit(benchmark::State& state) {
  const Recipe& r = recipe();
  std::vector<UOpRef> alive;
  r.build(alive);
  size_t made = 0;
  for (auto _ : state) {
    std::vector<UOpRef> nodes;
    made += r.build(nodes);
    benchmark::DoNotOptimize(nodes.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(made));
}
BENCHMARK(BM_InternHit)->Unit(benchmark::kMillisecond);

// (b) simplify every expression (one graph_rewrite each), items = input nodes
void BM_SymbolicRewrite(benchmark::State& state) {
  const Recipe& r = recipe();
  std::vector<UOpRef> nodes;
  r.build(nodes);
  (void)symbolic();
  RewriteStats before = rewrite_stats();
  int64_t out_nodes = 0;
  for (auto _ : state) {
    for (uint32_t root : r.roots) {
      UOpRef s = simplify(nodes[root]);
      benchmark::DoNotOptimize(s.get());
    }
  }
  for (uint32_t root : r.roots)
    out_nodes += static_cast<int64_t>(simplify(nodes[root])->toposort().size());
  RewriteStats after = rewrite_stats();
  state.SetItemsProcessed(state.iterations() * r.total_nodes);
  state.counters["visited/s"] = benchmark::Counter(static_cast<double>(after.nodes - before.nodes),
                                                   benchmark::Counter::kIsRate);
  state.counters["fired/s"] = benchmark::Counter(static_cast<double>(after.fired - before.fired),
                                                 benchmark::Counter::kIsRate);
  state.counters["exprs"] = static_cast<double>(r.roots.size());
  state.counters["nodes_in"] = static_cast<double>(r.total_nodes);
  state.counters["nodes_out"] = static_cast<double>(out_nodes);
}
BENCHMARK(BM_SymbolicRewrite)->Unit(benchmark::kMillisecond);

// (b) as above, with the previous pass's results kept alive (as tinygrad's functools.cache of
// div/mod folds keeps its results): the rewrite then finds its result nodes already interned
void BM_SymbolicRewriteWarm(benchmark::State& state) {
  const Recipe& r = recipe();
  std::vector<UOpRef> nodes, keep(r.roots.size());
  r.build(nodes);
  for (auto _ : state)
    for (size_t i = 0; i < r.roots.size(); i++) keep[i] = simplify(nodes[r.roots[i]]);
  state.SetItemsProcessed(state.iterations() * r.total_nodes);
}
BENCHMARK(BM_SymbolicRewriteWarm)->Unit(benchmark::kMillisecond);

// (b) the same expressions built fresh each time and simplified: a compiler's first look at a
// kernel
void BM_BuildAndSimplify(benchmark::State& state) {
  const Recipe& r = recipe();
  for (auto _ : state) {
    std::vector<UOpRef> nodes;
    r.build(nodes);
    for (uint32_t root : r.roots) benchmark::DoNotOptimize(simplify(nodes[root]).get());
  }
  state.SetItemsProcessed(state.iterations() * r.total_nodes);
}
BENCHMARK(BM_BuildAndSimplify)->Unit(benchmark::kMillisecond);
}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string dump, simplified;
  for (int i = 0; i < argc; i++) {
    if (std::strcmp(argv[i], "--simplified") == 0 && i + 1 < argc) {
      simplified = argv[++i];
      continue;
    }
    if (std::strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
      dump = argv[++i];
    else if (std::strncmp(argv[i], "--dump=", 7) == 0)
      dump = argv[i] + 7;
    else
      args.push_back(argv[i]);
  }
  if (!simplified
           .empty()) {  // the simplified form of each root, one per line (for comparing rules)
    std::vector<UOpRef> nodes;
    recipe().build(nodes);
    std::ofstream f(simplified);
    for (uint32_t r : recipe().roots) f << simplify(nodes[r])->expr() << "\n";
  }
  if (!dump.empty()) {
    recipe().dump(dump);
    std::fprintf(stderr, "wrote %zu expressions (%lld nodes summed over roots) to %s\n",
                 recipe().roots.size(), static_cast<long long>(recipe().total_nodes), dump.c_str());
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
