// Random tensors: exact agreement with a reference threefry2x32 written here (element i of a call
// is threefry(counter + i, splitmix64(seed)), the top mantissa bits make a float in [0, 1)),
// seeding and counters, every float dtype, distribution moments, and that repeated calls of one
// shape reuse the compiled kernel.
#include <algorithm>
#include <cstring>
#include <numbers>
#include <numeric>
#include <set>

#include "femtograd/runtime/device.h"
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;

namespace {

// Random123's threefry2x32 with 20 rounds: the key schedule is injected every 4 rounds
uint64_t threefry2x32(uint64_t ctr, uint64_t key) {
  auto rotl = [](uint32_t v, int r) { return (v << r) | (v >> (32 - r)); };
  static const int R[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  uint32_t ks[3] = {static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32), 0};
  ks[2] = ks[0] ^ ks[1] ^ 0x1BD11BDAu;
  uint32_t x0 = static_cast<uint32_t>(ctr) + ks[0], x1 = static_cast<uint32_t>(ctr >> 32) + ks[1];
  for (int round = 0; round < 20; round++) {
    x0 += x1;
    x1 = rotl(x1, R[round % 8]);
    x1 ^= x0;
    if (round % 4 == 3) {
      int s = round / 4 + 1;
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + static_cast<uint32_t>(s);
    }
  }
  return (static_cast<uint64_t>(x1) << 32) | x0;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

float ref_rand_f32(uint64_t seed, uint64_t ctr) {
  uint32_t bits = static_cast<uint32_t>(threefry2x32(ctr, splitmix64(seed)) >> 41) | 0x3F800000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f - 1.0f;
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double var_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / (v.size() - 1);
}

}  // namespace

TEST(TensorRandom, MatchesReferenceThreefry) {
  Tensor::manual_seed(1234);
  Tensor a = Tensor::rand({3, 5});
  Tensor b = Tensor::rand({4});                      // counters 15..18
  Tensor n = Tensor::randn({2, 3});                  // uniforms at counters 19..30
  Tensor r = Tensor::randint({7}, -5, 9, dt::int16);  // counters 31..37
  std::vector<Tensor> outs{a, b, n, r};
  realize_all(outs);
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  for (int i = 0; i < 15; i++) EXPECT_EQ(va[i], ref_rand_f32(1234, i)) << "rand element " << i;
  for (int i = 0; i < 4; i++) EXPECT_EQ(vb[i], ref_rand_f32(1234, 15 + i)) << "second call element " << i;
  Arr<double> rn({2, 3});
  for (int i = 0; i < 6; i++) {
    double u1 = ref_rand_f32(1234, 19 + i), u2 = ref_rand_f32(1234, 25 + i);
    (*rn.data)[i] = std::cos(2 * std::numbers::pi * u2) * std::sqrt(-2 * std::log(1 - u1));
  }
  EXPECT_TRUE(matches(n, rn, {1e-5, 1e-4}));
  Arr<int64_t> rr({7});
  uint64_t key = splitmix64(1234);
  for (int i = 0; i < 7; i++) (*rr.data)[i] = static_cast<int64_t>(threefry2x32(31 + i, key) % 14) - 5;
  EXPECT_EQ(r.dtype(), dt::int16);
  EXPECT_TRUE(matches_i(r, rr));
}

TEST(TensorRandom, SeedsAndCounters) {
  Tensor::manual_seed(7);
  std::vector<float> a1 = Tensor::rand({64}).to_vector<float>();
  std::vector<float> a2 = Tensor::rand({64}).to_vector<float>();
  Tensor::manual_seed(7);
  std::vector<float> b1 = Tensor::rand({64}).to_vector<float>();
  Tensor::manual_seed(8);
  std::vector<float> c1 = Tensor::rand({64}).to_vector<float>();
  EXPECT_EQ(a1, b1);  // the same seed gives the same numbers
  EXPECT_NE(a1, a2);  // the counter moves on between calls
  EXPECT_NE(a1, c1);  // another seed gives other numbers
  // a second call of the same shape reuses the compiled kernel: the seed and counter are data
  fg::CompileStats s0 = fg::compile_stats();
  int64_t k0 = kernels_run();
  std::vector<float> a3 = Tensor::rand({64}).to_vector<float>();
  fg::CompileStats s1 = fg::compile_stats();
  EXPECT_EQ(s1.compiles + s1.cache_hits, s0.compiles + s0.cache_hits);
  EXPECT_EQ(kernels_run(), k0 + 3);  // advance the device counter, keep its old value, the numbers
  EXPECT_NE(a3, c1);
}

TEST(TensorRandom, DtypesAndRanges) {
  Tensor::manual_seed(42);
  std::vector<Tensor> outs;
  for (DType d : {dt::float16, dt::bfloat16, dt::float32, dt::float64}) outs.push_back(Tensor::rand({500}, d));
  outs.push_back(Tensor::uniform({500}, -2, 3));
  outs.push_back(Tensor::randint({500}, 0, 10, dt::uint8));
  outs.push_back(Tensor::randint({300}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), dt::int64));
  outs.push_back(Tensor::rand({200}, dt::fp8e4m3));
  realize_all(outs);
  for (size_t k = 0; k < 4; k++) {
    std::vector<double> v = outs[k].to_vector<double>();
    std::set<double> distinct(v.begin(), v.end());
    for (double x : v) ASSERT_TRUE(x >= 0 && x < 1) << outs[k].dtype().name() << " value " << x;
    EXPECT_GT(distinct.size(), k == 1 ? 100u : 400u) << outs[k].dtype().name();  // bf16 has 128 values in [0,1)
    EXPECT_NEAR(mean_of(v), 0.5, 0.05) << outs[k].dtype().name();
  }
  // float64 uses all 52 mantissa bits: values are not float32 values
  std::vector<double> v64 = outs[3].to_vector<double>();
  int non_f32 = 0;
  for (double x : v64) non_f32 += static_cast<double>(static_cast<float>(x)) != x;
  EXPECT_GT(non_f32, 490);
  std::vector<double> u = outs[4].to_vector<double>();
  for (double x : u) ASSERT_TRUE(x >= -2 && x < 3) << x;
  std::vector<int64_t> ri = outs[5].to_vector<int64_t>();
  std::set<int64_t> seen(ri.begin(), ri.end());
  EXPECT_EQ(seen.size(), 10u);
  for (int64_t x : ri) ASSERT_TRUE(x >= 0 && x < 10) << x;
  std::vector<int64_t> full = outs[6].to_vector<int64_t>();
  int neg = 0;
  for (int64_t x : full) neg += x < 0;
  EXPECT_GT(neg, 100);
  EXPECT_LT(neg, 200);
  for (double x : outs[7].to_vector<double>()) ASSERT_TRUE(x >= 0 && x < 1) << "fp8e4m3 " << x;
  // empty shapes
  EXPECT_EQ(Tensor::rand({0, 3}).shape(), (Shape{0, 3}));
  EXPECT_EQ(Tensor::randn({4, 0}).numel(), 0);
}

TEST(TensorRandom, Moments) {
  Tensor::manual_seed(3);
  std::vector<Tensor> outs{Tensor::rand({20000}), Tensor::randn({20000}), Tensor::normal({20000}, 5, 2),
                           Tensor::randn({20000}, dt::float16), Tensor::randperm(50),
                           Tensor::kaiming_uniform({64, 8, 3, 3}), Tensor::glorot_uniform({30, 20}),
                           Tensor::kaiming_normal({200, 50}), Tensor::scaled_uniform({10, 10})};
  realize_all(outs);
  std::vector<double> r = outs[0].to_vector<double>();
  EXPECT_NEAR(mean_of(r), 0.5, 0.01);
  EXPECT_NEAR(var_of(r), 1.0 / 12, 0.005);
  std::vector<double> n = outs[1].to_vector<double>();
  EXPECT_NEAR(mean_of(n), 0.0, 0.03);
  EXPECT_NEAR(var_of(n), 1.0, 0.04);
  int within1 = 0;
  for (double x : n) within1 += std::fabs(x) < 1;
  EXPECT_NEAR(within1 / 20000.0, 0.6827, 0.015);
  std::vector<double> g = outs[2].to_vector<double>();
  EXPECT_NEAR(mean_of(g), 5.0, 0.06);
  EXPECT_NEAR(std::sqrt(var_of(g)), 2.0, 0.06);
  std::vector<double> h = outs[3].to_vector<double>();
  EXPECT_NEAR(mean_of(h), 0.0, 0.03);
  EXPECT_NEAR(var_of(h), 1.0, 0.04);
  std::vector<int64_t> p = outs[4].to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; i++) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(p, sorted);
  double bound = std::sqrt(3.0) * std::sqrt(2.0 / (1 + 0.01 * 0.01)) / std::sqrt(72.0);
  for (double x : outs[5].to_vector<double>()) ASSERT_LE(std::fabs(x), bound);
  double lim = std::sqrt(6.0 / 50.0);
  for (double x : outs[6].to_vector<double>()) ASSERT_LE(std::fabs(x), lim);
  std::vector<double> kn = outs[7].to_vector<double>();
  EXPECT_NEAR(std::sqrt(var_of(kn)), std::sqrt(2.0 / (1 + 1e-4)) / std::sqrt(50.0), 0.01);
  for (double x : outs[8].to_vector<double>()) ASSERT_LE(std::fabs(x), 0.1);
}

TEST(TensorRandom, Errors) {
  EXPECT_FG_ERROR(Tensor::rand({2}, dt::int32), ErrorKind::Type, "needs a float dtype, got int32");
  EXPECT_FG_ERROR(Tensor::randn({2}, dt::bool_), ErrorKind::Type, "needs a float dtype");
  EXPECT_FG_ERROR(Tensor::rand({2, -1}), ErrorKind::Value, "negative dimension");
  EXPECT_FG_ERROR(Tensor::randint({2}, 5, 5), ErrorKind::Value, "low (5) must be smaller than high (5)");
  EXPECT_FG_ERROR(Tensor::randint({2}, 0, 300, dt::uint8), ErrorKind::Value, "does not fit uint8");
  EXPECT_FG_ERROR(Tensor::randint({2}, 0, 3, dt::float32), ErrorKind::Type, "needs an integer dtype");
  EXPECT_FG_ERROR(Tensor::uniform({2}, 3, 2), ErrorKind::Value, "must not exceed high");
  EXPECT_FG_ERROR(Tensor::normal({2}, 0, -1), ErrorKind::Value, "std must be non-negative");
  EXPECT_FG_ERROR(Tensor::randperm(-1), ErrorKind::Value, "non-negative");
}
