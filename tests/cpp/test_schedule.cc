// Fusion rules of the scheduler: how many kernels a realize makes, and that fused kernels compute
// the right values (checked against loops written here).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "femtograd/base/flags.h"
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

TEST(Schedule, SoftmaxInAtMostThreeKernels) {
  auto av = randv(6 * 9, 4);
  Tensor a = Tensor::from_vector(av, {6, 9});
  Tensor s = a.softmax(-1);
  EXPECT_LE(kernels_for(s), 3u);
  std::vector<float> want(av.size());
  for (int i = 0; i < 6; i++) {
    float m = -INFINITY;
    for (int j = 0; j < 9; j++) m = std::max(m, av[i * 9 + j]);
    double sum = 0;
    for (int j = 0; j < 9; j++) sum += std::exp(av[i * 9 + j] - m);
    for (int j = 0; j < 9; j++) want[i * 9 + j] = static_cast<float>(std::exp(av[i * 9 + j] - m) / sum);
  }
  expect_near(s.to_vector<float>(), want);
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

TEST(Schedule, ExpandedReduceIsStoredOnce) {
  auto av = randv(3 * 8, 6);
  Tensor a = Tensor::from_vector(av, {3, 8});
  Tensor c = a - a.max({1}, true);
  EXPECT_EQ(kernels_for(c), 2u);
  std::vector<float> want(av.size());
  for (int i = 0; i < 3; i++) {
    float m = -INFINITY;
    for (int j = 0; j < 8; j++) m = std::max(m, av[i * 8 + j]);
    for (int j = 0; j < 8; j++) want[i * 8 + j] = av[i * 8 + j] - m;
  }
  expect_near(c.to_vector<float>(), want);
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
