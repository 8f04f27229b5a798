// Codegen: the index math a person would write, opts that keep results, and the C it renders.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/codegen/codegen.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/engine/realize.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"
#include "femtograd/render/c.h"
#include "femtograd/render/render.h"
#include "femtograd/runtime/device.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor.h"

using namespace fg;

namespace {
UOpRef only_ast(const Tensor& t) {
  auto s = create_schedule({t.uop()});
  EXPECT_EQ(s.items.size(), 1u);
  return s.items.at(0).ast;
}
// the simplified index expressions of the loads of a kernel, in toposort order
std::vector<UOpRef> load_indices(const UOpRef& ast, Lowered* out = nullptr) {
  Lowered low = lower_kernel(ast, iteration_shape(ast));
  UOpRef sink = simplify(low.sink);
  std::vector<UOpRef> idx;
  for (const UOp* n : sink->toposort())
    if (n->op == Op::LOAD) idx.push_back(n->src(0)->src(1));
  if (out) *out = low;
  return idx;
}
UOpRef c(int64_t v) { return UOp::cnst_int(dtypes::index, v); }
std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<float>(i % 97) * 0.5f - 7;
  return v;
}
}  // namespace

TEST(Codegen, TransposeIndexIsWhatAPersonWrites) {
  Tensor a = Tensor::from_vector(iota(12 * 7), {12, 7});
  Lowered low;
  auto idx = load_indices(only_ast(a.permute({1, 0}) + 1), &low);
  ASSERT_EQ(idx.size(), 1u);
  ASSERT_EQ(low.out_ranges.size(), 2u);
  // out[i, j] = a[j, i]: a is read at j*7 + i
  EXPECT_EQ(idx[0].get(), simplify(low.out_ranges[1] * 7 + low.out_ranges[0]).get()) << idx[0]->expr();
}

TEST(Codegen, ContiguousReshapesBecomeOneLoop) {
  Tensor a = Tensor::from_vector(iota(4 * 6 * 5), {4, 6, 5});
  Lowered low;
  auto idx = load_indices(only_ast(a.reshape({24, 5}).reshape({2, 60}) * 2), &low);
  ASSERT_EQ(low.out_ranges.size(), 1u);  // (2, 60) merged into 120
  EXPECT_EQ(idx[0].get(), low.out_ranges[0].get()) << idx[0]->expr();
}

TEST(Codegen, BroadcastIndexDropsTheExpandedAxis) {
  Tensor a = Tensor::from_vector(iota(9), {9, 1});
  Lowered low;
  auto idx = load_indices(only_ast(a.expand({9, 13}) + 0.5f), &low);
  ASSERT_EQ(low.out_ranges.size(), 2u);
  EXPECT_EQ(idx[0].get(), low.out_ranges[0].get()) << idx[0]->expr();
}

TEST(Codegen, PaddingGuardsTheLoad) {
  Tensor a = Tensor::from_vector(iota(5), {5});
  Tensor p = a.pad({{2, 3}}) + 1;
  Lowered low = lower_kernel(only_ast(p), iteration_shape(only_ast(p)));
  UOpRef sink = simplify(low.sink);
  const UOp* load = nullptr;
  for (const UOp* n : sink->toposort())
    if (n->op == Op::LOAD) load = n;
  ASSERT_TRUE(load);
  ASSERT_EQ(load->src(0)->nsrc(), 3u) << "the load must carry a valid condition";
  EXPECT_EQ(load->src(0)->src(1).get(), simplify(low.out_ranges[0] - 2).get()) << load->src(0)->src(1)->expr();
  auto got = p.to_vector<float>();
  auto av = iota(5);
  std::vector<float> want = {1, 1, av[0] + 1, av[1] + 1, av[2] + 1, av[3] + 1, av[4] + 1, 1, 1, 1};
  EXPECT_EQ(got, want);
}

namespace {
// runs ast with the given opts (or none) on fresh buffers filled from the inputs of t's schedule
std::vector<float> run_with(const Tensor& t, const std::vector<Opt>* opts) {
  auto sched = create_schedule({t.uop()});
  EXPECT_EQ(sched.items.size(), 1u);
  const ScheduleItem& it = sched.items[0];
  Device& dev = get_device(it.device);  // the default device (DEV): CPU, or CUDA on a GPU machine
  KernelProgram k = codegen(it.ast, target_for(dev), opts);
  std::string src = render(dev.renderer(), k);
  auto prog = dev.load(k.name, compile_cached(dev, src, k.name));
  std::vector<void*> ptrs;
  std::vector<std::shared_ptr<Buffer>> bufs;
  for (const UOpRef& b : it.bufs) {
    bufs.push_back(buffer_of(b));
    ptrs.push_back(bufs.back()->ensure_allocated());
  }
  LaunchDims d;
  for (int i = 0; i < 3; i++) d.global[i] = k.global_size[i], d.local[i] = k.local_size[i];
  prog->run(ptrs, {}, d, false);
  std::vector<float> out(bufs[0]->size());
  bufs[0]->copy_out(out.data(), out.size() * sizeof(float));
  return out;
}
void expect_close(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) ASSERT_NEAR(a[i], b[i], 1e-3 * (1 + std::fabs(b[i]))) << "at " << i;
}
}  // namespace

TEST(Codegen, EveryOptKeepsTheResult) {
  Tensor a = Tensor::from_vector(iota(16 * 24), {16, 24}), b = Tensor::from_vector(iota(24 * 32), {24, 32});
  Tensor mm = a.matmul(b);
  std::vector<Opt> none;
  std::vector<float> ref = run_with(mm, &none);
  const std::vector<std::vector<Opt>> cases = {
      {{Opt::Kind::UPCAST, 0, 4}},
      {{Opt::Kind::UPCAST, 1, 8}},
      {{Opt::Kind::UNROLL, 1000, 4}},
      {{Opt::Kind::VECTOR, 1, 8}},
      {{Opt::Kind::VECTOR, 1000, 8}},
      {{Opt::Kind::VECTOR, 1, 8}, {Opt::Kind::UPCAST, 0, 4}, {Opt::Kind::UPCAST, 1, 2}, {Opt::Kind::UNROLL, 1000, 3}},
      {{Opt::Kind::BLOCK, 0, 4}},
      {{Opt::Kind::BLOCK, 1, 8}, {Opt::Kind::VECTOR, 200001, 8}},
      {{Opt::Kind::VECTOR, 1, 8}, {Opt::Kind::UPCAST, 0, 4}, {Opt::Kind::BLOCK, 0, 2}, {Opt::Kind::UNROLL, 1000, 2}},
      {{Opt::Kind::PADTO, 1000, 32}, {Opt::Kind::UNROLL, 1000, 8}},  // reduce 24 -> 32
      {{Opt::Kind::PADTO, 0, 24}, {Opt::Kind::UPCAST, 0, 8}},        // rows 16 -> 24
      {{Opt::Kind::PADTO, 1, 40}, {Opt::Kind::UPCAST, 1, 8}, {Opt::Kind::PADTO, 1000, 28}},
  };
  for (const auto& opts : cases) {
    SCOPED_TRACE(opts[0].str());
    expect_close(run_with(mm, &opts), ref);
  }
}

// A large matmul on the CPU: its right operand is copied into 16-column panels (one elementwise
// kernel), and the matmul kernel reads them with plain affine indices (no div/mod left once the
// vector and tile splits line up with the panels), in row blocks (BLOCK) for the caches.
TEST(Codegen, PackedMatmulIsBlockedAndReadsPanelsContiguously) {
  Context cpu{{"DEV", "CPU"}};  // panels are a CPU layout (on DEV=CUDA the matmul stages tiles)
  Tensor a = Tensor::from_vector(iota(256 * 128), {256, 128}), b = Tensor::from_vector(iota(128 * 192), {128, 192});
  auto sched = create_schedule({a.matmul(b).uop()});
  ASSERT_EQ(sched.items.size(), 2u);
  KernelProgram k = codegen(sched.items[1].ast, Target{});
  std::string opts;
  for (const Opt& o : k.opts) opts += o.str() + " ";
  EXPECT_EQ(opts, "VECTOR(1, 8) UPCAST(0, 4) UPCAST(1, 2) BLOCK(0, 16) ");
  std::string src = render("c", k);
  for (size_t at = src.find("const long long idx"); at != std::string::npos; at = src.find("const long long idx", at + 1)) {
    std::string line = src.substr(at, src.find('\n', at) - at);
    EXPECT_EQ(line.find_first_of("/%"), std::string::npos) << line;
  }
  EXPECT_EQ(src.find("data2["), std::string::npos) << "the panels must be read as vectors";
  // the panel copy is off with MATMUL_PACK=0: one kernel
  Context off{{"MATMUL_PACK", 0}};
  EXPECT_EQ(create_schedule({a.matmul(b).uop()}).items.size(), 1u);
}

// PADTO on reduces whose identity is not 0 (max over negative values) and on an output axis of an
// integer division (the padded lanes must not divide by zero): the same values as without opts
TEST(Codegen, PadtoKeepsReducesAndDivisionsExact) {
  std::vector<float> v(5 * 13);
  for (size_t i = 0; i < v.size(); i++) v[i] = -1.0f - static_cast<float>((i * 7) % 11);
  Tensor m = Tensor::from_vector(v, {5, 13}).max({1});
  std::vector<Opt> none, pad = {{Opt::Kind::PADTO, 1000, 16}, {Opt::Kind::UNROLL, 1000, 4}};
  expect_close(run_with(m, &pad), run_with(m, &none));
  Tensor p = Tensor::from_vector(v, {5, 13}).prod({0});
  std::vector<Opt> pad_out = {{Opt::Kind::PADTO, 0, 16}, {Opt::Kind::UPCAST, 0, 4}, {Opt::Kind::PADTO, 1000, 8}};
  expect_close(run_with(p, &pad_out), run_with(p, &none));
  std::vector<int32_t> a(37), b(37);
  for (int i = 0; i < 37; i++) a[i] = 100 + 13 * i, b[i] = 1 + i % 5;
  Tensor q = Tensor::from_vector(a, {37}).idiv(Tensor::from_vector(b, {37})).cast(dtypes::float32);
  std::vector<Opt> pad_q = {{Opt::Kind::PADTO, 0, 40}, {Opt::Kind::UPCAST, 0, 8}};
  expect_close(run_with(q, &pad_q), run_with(q, &none));
  std::vector<Opt> even = {{Opt::Kind::PADTO, 0, 37}};  // nothing to pad
  EXPECT_THROW(codegen(only_ast(q), Target{}, &even), Error);
}

TEST(Codegen, OptThatDoesNotDivideIsRefused) {
  Tensor a = Tensor::from_vector(iota(10), {10});
  std::vector<Opt> bad = {{Opt::Kind::UPCAST, 0, 3}};
  EXPECT_THROW(codegen(only_ast(a + 1), Target{}, &bad), Error);
}

TEST(Codegen, VectorizedReductionsMatchLoops) {
  auto v = iota(8 * 256);
  v[77] = NAN;  // max must propagate NaN through the vector lanes
  Tensor a = Tensor::from_vector(v, {8, 256});
  auto s = a.sum({1}).to_vector<float>();
  auto m = a.max({1}).to_vector<float>();
  for (int i = 0; i < 8; i++) {
    double ws = 0;
    float wm = -INFINITY;
    bool nan = false;
    for (int j = 0; j < 256; j++) {
      ws += v[i * 256 + j];
      nan |= std::isnan(v[i * 256 + j]);
      wm = std::max(wm, v[i * 256 + j]);
    }
    if (nan) {
      EXPECT_TRUE(std::isnan(m[i])) << i;
      EXPECT_TRUE(std::isnan(s[i])) << i;
    } else {
      EXPECT_NEAR(s[i], ws, 1e-2) << i;
      EXPECT_EQ(m[i], wm) << i;
    }
  }
}

TEST(Codegen, SpecAcceptsEveryStage) {
  Context ctx{{"SPEC", 1}};
  Tensor a = Tensor::from_vector(iota(32 * 16), {32, 16});
  Tensor r = a.pad({{1, 0}, {0, 0}}).shrink({{0, 32}, {0, 16}}).softmax(-1).matmul(a.T()).realize();
  EXPECT_EQ(r.shape(), (Shape{32, 32}));
}
