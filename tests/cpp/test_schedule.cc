// Fusion rules of the scheduler: how many kernels a realize makes, and that fused kernels compute
// the right values (checked against loops written here).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/codegen/codegen.h"
#include "femtograd/engine/realize.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

namespace {
std::vector<float> randv(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-2, 2);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
size_t kernels_for(const Tensor& t) {
  size_t n = 0;
  for (const auto& it : create_schedule({t.uop()}).items) n += it.kind == ScheduleItem::Kind::Kernel;
  return n;
}
void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << "at " << i;
}
}  // namespace

TEST(Schedule, SumOfSumIsOneKernel) {
  auto av = randv(7 * 13, 1), bv = randv(7 * 13, 2);
  Tensor a = Tensor::from_vector(av, {7, 13}), b = Tensor::from_vector(bv, {7, 13});
  Tensor s = (a + b).sum();
  EXPECT_EQ(kernels_for(s), 1u);
  double want = 0;
  for (size_t i = 0; i < av.size(); i++) want += av[i] + bv[i];
  EXPECT_NEAR(s.item(), want, 1e-3);
}

TEST(Schedule, ElementwiseBeforeAndAfterReduceFuse) {
  auto av = randv(5 * 11, 3);
  Tensor a = Tensor::from_vector(av, {5, 11});
  Tensor r = (a * 2).exp().sum({1}).mul(3).add(1);
  EXPECT_EQ(kernels_for(r), 1u);
  std::vector<float> want(5);
  for (int i = 0; i < 5; i++) {
    double s = 0;
    for (int j = 0; j < 11; j++) s += std::exp(2.0 * av[i * 11 + j]);
    want[i] = static_cast<float>(s * 3 + 1);
  }
  expect_near(r.to_vector<float>(), want);
}

TEST(Schedule, MovementChainReadOnceMakesNoKernelOfItsOwn) {
  auto av = randv(4 * 6, 5);
  Tensor a = Tensor::from_vector(av, {4, 6});
  Tensor v = a.reshape({2, 2, 6}).permute({2, 0, 1}).reshape({6, 4});
  EXPECT_EQ(kernels_for(v), 0u);  // a view of a buffer: nothing to compute
  Tensor w = v + 1;
  EXPECT_EQ(kernels_for(w), 1u);
  std::vector<float> want(24);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 4; j++) want[i * 4 + j] = av[j * 6 + i] + 1;
  expect_near(w.to_vector<float>(), want);
}

TEST(Schedule, RowReduceRunsInsideItsReader) {
  // a - max(a) over rows: the max runs in the kernel that subtracts it, once per row; FUSE_ROWS=0
  // stores it first (two kernels); both give the same values
  auto av = randv(3 * 8, 6);
  std::vector<float> want(av.size());
  for (int i = 0; i < 3; i++) {
    float m = -INFINITY;
    for (int j = 0; j < 8; j++) m = std::max(m, av[i * 8 + j]);
    for (int j = 0; j < 8; j++) want[i * 8 + j] = av[i * 8 + j] - m;
  }
  for (int fuse : {16384, 0}) {
    Context ctx{{"FUSE_ROWS", fuse}};
    Tensor a = Tensor::from_vector(av, {3, 8});
    Tensor c = a - a.max({1}, true);
    EXPECT_EQ(kernels_for(c), fuse ? 1u : 2u);
    expect_near(c.to_vector<float>(), want);
  }
}

namespace {
// softmax, log-softmax, logsumexp and layernorm over the trailing `n` elements of each row, in double
std::vector<float> row_op_ref(const std::string& op, const std::vector<float>& x, int64_t n) {
  std::vector<float> out;
  for (size_t r = 0; r < x.size() / n; r++) {
    const float* v = x.data() + r * n;
    double m = -INFINITY, s = 0, mean = 0, var = 0;
    for (int64_t j = 0; j < n; j++) m = std::max(m, double(v[j])), mean += v[j] / double(n);
    for (int64_t j = 0; j < n; j++) s += std::exp(v[j] - m), var += (v[j] - mean) * (v[j] - mean) / n;
    if (op == "logsumexp") out.push_back(float(m + std::log(s)));
    for (int64_t j = 0; j < n && op != "logsumexp"; j++) {
      if (op == "softmax") out.push_back(float(std::exp(v[j] - m) / s));
      if (op == "log_softmax") out.push_back(float(v[j] - m - std::log(s)));
      if (op == "layernorm") out.push_back(float((v[j] - mean) / std::sqrt(var + 1e-5)));
    }
  }
  return out;
}
}  // namespace

TEST(Schedule, RowOpsAreOneKernel) {
  // the row's reduces (max and sum, mean and variance) run inside the kernel that writes the row;
  // rows of awkward lengths, a size-1 axis, and a layernorm over two trailing axes
  struct Case {
    Shape shape;
    int64_t row;  // trailing elements a row
  };
  for (const Case& c : {Case{{5, 37}, 37}, Case{{3, 1, 129}, 129}, Case{{1, 1000}, 1000}, Case{{2, 3, 7, 11}, 77}}) {
    auto xv = randv(prod(c.shape), 11);
    Tensor x = Tensor::from_vector(xv, c.shape);
    bool two = c.shape.size() == 4;  // normalize over the last two axes
    for (std::string op : {"softmax", "log_softmax", "logsumexp", "layernorm"}) {
      if (two && op != "layernorm") continue;
      Tensor y = op == "softmax" ? x.softmax(-1)
                 : op == "log_softmax" ? x.log_softmax(-1)
                 : op == "logsumexp" ? x.logsumexp(-1)
                 : layernorm(x, two ? std::vector<int64_t>{-2, -1} : std::vector<int64_t>{-1}, 1e-5);
      EXPECT_EQ(kernels_for(y), 1u) << op << " " << shape_str(c.shape);
      expect_near(y.to_vector<float>(), row_op_ref(op, xv, c.row), 1e-5f);
    }
  }
}

TEST(Schedule, RowFusionNeedsTrailingAxesShortRowsAndNoMovement) {
  auto av = randv(37 * 5, 12), bv = randv(5 * 37, 13);
  Tensor a = Tensor::from_vector(av, {37, 5}), b = Tensor::from_vector(bv, {5, 37});
  // softmax over axis 0: the broadcast axis is the outer loop, the max is stored first
  Tensor s0 = a.softmax(0);
  EXPECT_GT(kernels_for(s0), 1u);
  std::vector<float> at(av.size());  // a transposed: softmax over its rows is a's over axis 0
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 5; j++) at[j * 37 + i] = av[i * 5 + j];
  std::vector<float> ref_t = row_op_ref("softmax", at, 37), ref(av.size());
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 5; j++) ref[i * 5 + j] = ref_t[j * 37 + i];
  expect_near(s0.to_vector<float>(), ref);
  // a permute between the broadcast and the kernel's output: stored first
  Tensor d = b - b.max({1}, true);
  Tensor p = d.permute({1, 0}).add(a);
  EXPECT_EQ(kernels_for(p), 2u);
  std::vector<float> want(37 * 5);
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 5; j++) {
      float m = -INFINITY;
      for (int k = 0; k < 37; k++) m = std::max(m, bv[j * 37 + k]);
      want[i * 5 + j] = bv[j * 37 + i] - m + av[i * 5 + j];
    }
  expect_near(p.to_vector<float>(), want);
  // rows up to 8x FUSE_ROWS fuse only when there are 256 or more of them (parallelism)
  {
    Context limit{{"FUSE_ROWS", 16}};
    auto rows_of = [](int64_t r, int64_t c) { return kernels_for(Tensor::from_vector(randv(r * c, 15), {r, c}).softmax(1)); };
    EXPECT_EQ(rows_of(300, 100), 1u);  // 100 <= 8 * 16, 300 rows
    EXPECT_GT(rows_of(100, 100), 1u);  // too few rows
    EXPECT_GT(rows_of(300, 200), 1u);  // too long
  }
  // rows longer than FUSE_ROWS: a kernel each
  Context shorter{{"FUSE_ROWS", 36}};
  Tensor bt = Tensor::from_vector(bv, {5, 37});
  EXPECT_GT(kernels_for(bt.softmax(1)), 1u);
  expect_near(bt.softmax(1).to_vector<float>(), row_op_ref("softmax", bv, 37));
}

TEST(Schedule, RowKernelRunsEachReduceOncePerRow) {
  // the work of a fused softmax grows with the elements, not with elements x row length (the reduces
  // sit outside the row's output loop, with or without the CPU's vector opts)
  Tensor x = Tensor::from_vector(randv(16 * 512, 14), {16, 512});
  auto items = create_schedule({x.softmax(1).uop()}).items;
  ASSERT_EQ(items.size(), 1u);
  for (int noopt : {0, 1}) {
    Context ctx{{"NOOPT", noopt}};
    KernelProgram k = codegen(items[0].ast, Target{});
    EXPECT_LT(k.flops, 16 * 512 * 16) << "noopt " << noopt;
    EXPECT_GT(k.flops, 16 * 512 * 3) << "noopt " << noopt;
  }
}

TEST(Schedule, MatmulWithBiasAndReluIsOneKernel) {
  auto av = randv(5 * 7, 7), bv = randv(7 * 3, 8), cv = randv(3, 9);
  Tensor a = Tensor::from_vector(av, {5, 7}), b = Tensor::from_vector(bv, {7, 3}), c = Tensor::from_vector(cv, {3});
  Tensor r = a.matmul(b).add(c).relu();
  EXPECT_EQ(kernels_for(r), 1u);
  std::vector<float> want(15);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 3; j++) {
      double s = cv[j];
      for (int k = 0; k < 7; k++) s += double(av[i * 7 + k]) * bv[k * 3 + j];
      want[i * 3 + j] = static_cast<float>(std::max(s, 0.0));
    }
  expect_near(r.to_vector<float>(), want);
}

TEST(Schedule, RealizedValueIsReusedNotRecomputed) {
  auto av = randv(16, 10);
  Tensor a = Tensor::from_vector(av, {16});
  Tensor m = a.exp().sum();
  Tensor later = m + 1;  // built before m is realized: its graph holds m's lazy node
  m.realize();
  EXPECT_EQ(kernels_for(later), 1u);
  // the reduce is read from m's buffer: the kernel holds no loop over the 16 inputs
  auto items = create_schedule({later.uop()}).items;
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].bufs.size(), 2u);  // output and m's buffer, not a
}

TEST(Schedule, SameResultsWithAndWithoutOptimizations) {
  auto av = randv(33 * 17, 11), bv = randv(17 * 9, 12);
  auto run = [&] {
    Tensor a = Tensor::from_vector(av, {33, 17}), b = Tensor::from_vector(bv, {17, 9});
    Tensor r = a.matmul(b).softmax(-1).add(a.sum({1}, true).abs().sqrt());
    return r.to_vector<float>();
  };
  std::vector<float> opt = run(), plain;
  {
    Context ctx{{"NOOPT", 1}};
    plain = run();
  }
  expect_near(opt, plain, 1e-5f);
}

// A max pool over a conv (batchnorm in eval mode between them is elementwise): the conv's reduce is
// stored and the pool is a kernel of its own, so each loop nest stays a single reduce that the opts
// can tile and vectorize.
TEST(Schedule, ReduceOfReduceStoresTheInnerOne) {
  auto av = randv(2 * 3 * 8, 9), bv = randv(3 * 8 * 4, 10);
  Tensor a = Tensor::from_vector(av, {2, 3, 8}), b = Tensor::from_vector(bv, {3, 8, 4});
  // (2, 3, 8) x (3, 8, 4) summed over the 8 -> (2, 3, 4), then max over the 4
  Tensor prod = a.reshape({2, 3, 8, 1}).mul(b.reshape({1, 3, 8, 4})).sum({2});
  Tensor r = prod.max({2});
  EXPECT_EQ(kernels_for(r), 2u);
  std::vector<float> want(6);
  for (int i = 0; i < 2; i++)
    for (int c = 0; c < 3; c++) {
      float m = -INFINITY;
      for (int j = 0; j < 4; j++) {
        double s = 0;
        for (int k = 0; k < 8; k++) s += av[(i * 3 + c) * 8 + k] * bv[(c * 8 + k) * 4 + j];
        m = std::max(m, static_cast<float>(s));
      }
      want[i * 3 + c] = m;
    }
  expect_near(r.to_vector<float>(), want);
}

// A kernel reading a buffer's old value runs before the ASSIGN that overwrites it in the same
// schedule, whatever order the roots come in (a training step's loss, read with the optimizer's
// update of the weights it was computed from).
TEST(Schedule, ReadsOfTheOldValueRunBeforeTheAssign) {
  for (bool assign_first : {true, false}) {
    Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
    w.realize();
    Tensor y = (w * 2).sum();
    Tensor a = w;
    assign_to(a, w + 10);  // a and w now share the pending assign
    if (assign_first) Tensor::realize_all({&a, &y});
    else Tensor::realize_all({&y, &a});
    EXPECT_EQ(y.item(), 12) << assign_first;
    EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{11, 12, 13})) << assign_first;
  }
}

// DEBUG=2's GFLOP/s and GlobalCounters count every vector lane: a vectorized, upcast 64^3 matmul
// is 2*64^3 FLOPs (multiplies and adds), not an eighth of it
TEST(Schedule, FlopCountOfAVectorizedMatmul) {
  Tensor a = Tensor::from_vector(randv(64 * 64, 11), {64, 64}), b = Tensor::from_vector(randv(64 * 64, 12), {64, 64});
  a.realize();
  b.realize();
  int64_t before = GlobalCounters::get().global_ops;
  Tensor c = a.matmul(b);
  c.realize();
  double ops = static_cast<double>(GlobalCounters::get().global_ops - before), want = 2.0 * 64 * 64 * 64;
  EXPECT_GT(ops, 0.9 * want);
  EXPECT_LT(ops, 1.1 * want);
}
