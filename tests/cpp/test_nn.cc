// nn layers (forward values, names, initialization, BatchNorm's running statistics, state dicts),
// the functional normalizations, dropout, attention and losses against references written here,
// and assign_to.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/nn/safetensors.h"
#include "femtograd/base/error.h"
#include "femtograd/tensor/autograd.h"
#include "femtograd/tensor/tensor_nn.h"

namespace {
using fg::Shape;
using fg::Tensor;
using Vec = std::vector<double>;
namespace nn = fg::nn;
namespace dt = fg::dtypes;

Vec rand_vec(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(g);
  return v;
}
Tensor T(const Vec& v, const Shape& s, fg::DType d = dt::float32) { return Tensor::from_vector(v, s).cast(d); }
Tensor I64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }

struct Check {
  std::string name;
  Tensor t;
  Vec want;
  double tol;
};
struct Batch {
  std::vector<Check> cs;
  void add(std::string n, Tensor t, Vec want, double tol = 1e-5) { cs.push_back({std::move(n), t, std::move(want), tol}); }
  void add(std::string n, Tensor t, double want, double tol = 1e-5) { add(std::move(n), t, Vec{want}, tol); }
  void run() {
    std::vector<Tensor*> ts;
    for (auto& c : cs) ts.push_back(&c.t);
    Tensor::realize_all(ts);
    for (auto& c : cs) {
      Vec got = c.t.to_vector<double>();
      ASSERT_EQ(got.size(), c.want.size()) << c.name;
      int bad = 0;
      for (size_t i = 0; i < got.size() && bad < 4; i++) {
        bool ok = (std::isnan(c.want[i]) && std::isnan(got[i])) ||
                  std::abs(got[i] - c.want[i]) <= c.tol * (1 + std::abs(c.want[i]));
        if (!ok) {
          ADD_FAILURE() << c.name << ": element " << i << " is " << got[i] << ", expected " << c.want[i];
          bad++;
        }
      }
    }
    cs.clear();
  }
};

// host reference of normalizing groups of `inner` consecutive elements (biased variance)
Vec ref_norm(const Vec& x, size_t inner, double eps, bool rms = false) {
  Vec out(x.size());
  for (size_t s = 0; s < x.size(); s += inner) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < inner; i++) mean += x[s + i];
    mean = rms ? 0 : mean / inner;
    for (size_t i = 0; i < inner; i++) var += (x[s + i] - mean) * (x[s + i] - mean);
    var /= inner;
    for (size_t i = 0; i < inner; i++) out[s + i] = (x[s + i] - mean) / std::sqrt(var + eps);
  }
  return out;
}

// ================================================================ layers

TEST(NN, LinearConvNamesAndInit) {
  Tensor::manual_seed(3);
  nn::Linear lin(5, 3);
  nn::Conv2d conv(4, 6, {3, 2}, {.groups = 2});
  nn::ConvTranspose2d convt(4, 6, {3}, {.stride = {2}}, false);
  auto names = [](nn::Module& m) {
    std::vector<std::string> out;
    for (auto& [n, t] : m.named_tensors("m.")) out.push_back(n);
    return out;
  };
  EXPECT_EQ(names(lin), (std::vector<std::string>{"m.weight", "m.bias"}));
  EXPECT_EQ(conv.weight.shape(), (Shape{6, 2, 3, 2}));
  EXPECT_EQ(convt.weight.shape(), (Shape{4, 6, 3, 3}));
  EXPECT_EQ(names(convt), (std::vector<std::string>{"m.weight"}));
  EXPECT_EQ(lin.parameters().size(), 2u);
  // PyTorch's bounds: 1/sqrt(fan_in), fan_in = in (Linear), in/groups * prod(kernel) (Conv)
  std::vector<Tensor*> all{&lin.weight, &lin.bias, &conv.weight, &conv.bias, &convt.weight};
  Tensor::realize_all(all);
  auto check_bound = [](const Tensor& t, double b, const char* what) {
    Vec v = t.to_vector<double>();
    double mx = 0, mean = 0;
    for (double x : v) mx = std::max(mx, std::abs(x)), mean += x;
    EXPECT_LE(mx, b) << what;
    EXPECT_GT(mx, 0.5 * b) << what;  // spread over the range
  };
  check_bound(lin.weight, 1 / std::sqrt(5.0), "Linear.weight");
  check_bound(lin.bias, 1 / std::sqrt(5.0), "Linear.bias");
  check_bound(conv.weight, 1 / std::sqrt(12.0), "Conv2d.weight");
  check_bound(convt.weight, 1 / std::sqrt(54.0), "ConvTranspose2d.weight");
  // forward values: Linear is x W^T + b
  Vec x = rand_vec(2 * 5, 1), W = lin.weight.to_vector<double>(), b = lin.bias.to_vector<double>();
  Vec want(2 * 3);
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 3; o++) {
      want[n * 3 + o] = b[o];
      for (int i = 0; i < 5; i++) want[n * 3 + o] += x[n * 5 + i] * W[o * 5 + i];
    }
  Batch B;
  B.add("Linear forward", lin(T(x, {2, 5})), want);
  Tensor y = conv(Tensor::ones({1, 4, 5, 5}));
  EXPECT_EQ(y.shape(), (Shape{1, 6, 3, 4}));
  EXPECT_EQ(convt(Tensor::ones({1, 4, 3, 3})).shape(), (Shape{1, 6, 7, 7}));
  B.run();
}

TEST(NN, BatchNormTrainEvalAndRunningStats) {
  nn::BatchNorm bn(3);
  EXPECT_EQ(bn.named_tensors().size(), 5u);
  EXPECT_EQ(bn.named_tensors()[2].first, "running_mean");
  EXPECT_EQ(bn.named_parameters().size(), 2u);
  const int64_t N = 4, C = 3, HW = 5;
  Vec x = rand_vec(N * C * HW, 2, -2, 3);
  Tensor xt = T(x, {N, C, HW});
  Vec mean(C, 0), var(C, 0);
  for (int64_t c = 0; c < C; c++) {
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) mean[c] += x[(n * C + c) * HW + i];
    mean[c] /= N * HW;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) var[c] += std::pow(x[(n * C + c) * HW + i] - mean[c], 2);
    var[c] /= N * HW;
  }
  Vec want_train(x.size());
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < HW; i++) {
        size_t k = (n * C + c) * HW + i;
        want_train[k] = (x[k] - mean[c]) / std::sqrt(var[c] + 1e-5);
      }
  Tensor y;
  {
    fg::TrainingScope train;
    y = bn(xt);
  }
  EXPECT_FALSE(fg::is_training());
  Batch B;
  B.add("BatchNorm train", y, want_train);
  // realizing the running statistics runs the pending assigns (the optimizer does this with a step)
  B.add("running_mean", bn.running_mean, [&] {
    Vec v(C);
    for (int64_t c = 0; c < C; c++) v[c] = 0.1 * mean[c];
    return v;
  }());
  B.add("running_var", bn.running_var, [&] {
    Vec v(C);
    double n = N * HW;
    for (int64_t c = 0; c < C; c++) v[c] = 0.9 + 0.1 * var[c] * n / (n - 1);
    return v;
  }());
  B.add("num_batches_tracked", bn.num_batches_tracked, 1.0);
  B.run();
  // eval: the running statistics normalize
  Vec rm = bn.running_mean.to_vector<double>(), rv = bn.running_var.to_vector<double>();
  Vec want_eval(x.size());
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < HW; i++) {
        size_t k = (n * C + c) * HW + i;
        want_eval[k] = (x[k] - rm[c]) / std::sqrt(rv[c] + 1e-5);
      }
  B.add("BatchNorm eval", bn(xt), want_eval);
  B.run();
  // two training steps of a model: the optimizer realizes the running statistics with the step
  nn::Conv1d conv(3, 3, {1});
  std::vector<Tensor*> ps = conv.tensors();
  for (Tensor* t : bn.tensors()) ps.push_back(t);
  nn::SGD opt2(ps, 0.01);
  for (int s = 0; s < 2; s++) {
    fg::TrainingScope train;
    opt2.zero_grad();
    bn(conv(xt)).square().mean().backward();
    opt2.step();
  }
  EXPECT_EQ(bn.num_batches_tracked.item(), 3.0);
  EXPECT_TRUE(fg::buffer_of_tensor(bn.running_mean));  // realized again, not a pending assign
}

TEST(NN, NormsEmbeddingDropout) {
  Batch B;
  Vec x = rand_vec(2 * 4 * 6, 3, -2, 2);
  // LayerNorm over the last 2 axes (4*6 = 24 elements per sample), weights given
  nn::LayerNorm ln({4, 6});
  B.add("LayerNorm", ln(T(x, {2, 4, 6})), ref_norm(x, 24, 1e-5));
  // GroupNorm: 4 channels in 2 groups: groups of 2*6 consecutive elements
  nn::GroupNorm gn(2, 4);
  B.add("GroupNorm", gn(T(x, {2, 4, 6})), ref_norm(x, 12, 1e-5));
  nn::RMSNorm rms({6}, 1e-6);
  B.add("RMSNorm", rms(T(x, {2, 4, 6})), ref_norm(x, 6, 1e-6, true));
  // affine parameters: weight * y + bias per channel
  {
    Vec w = rand_vec(4, 4), b = rand_vec(4, 5);
    Vec r = ref_norm(x, 12, 1e-5);
    for (size_t k = 0; k < r.size(); k++) {
      size_t c = (k / 6) % 4;
      r[k] = r[k] * w[c] + b[c];
    }
    B.add("group_norm affine", fg::group_norm(T(x, {2, 4, 6}), 2, T(w, {4}), T(b, {4})), r);
  }
  // functional batch_norm in eval with given statistics
  {
    Vec rm{0.5, -0.5, 0.1, 0.2}, rv{1.5, 0.5, 2.0, 1.0};
    Vec r(x.size());
    for (size_t k = 0; k < r.size(); k++) {
      size_t c = (k / 6) % 4;
      r[k] = (x[k] - rm[c]) / std::sqrt(rv[c] + 1e-5);
    }
    B.add("batch_norm eval", fg::batch_norm(T(x, {2, 4, 6}), T(rm, {4}), T(rv, {4})), r);
  }
  // Embedding: rows of the weight, any index shape
  nn::Embedding emb(7, 3);
  emb.weight.realize();
  Vec W = emb.weight.to_vector<double>();
  std::vector<int64_t> idx{6, 0, 3, 3, 1, 5};
  Vec want;
  for (int64_t i : idx)
    for (int d = 0; d < 3; d++) want.push_back(W[i * 3 + d]);
  Tensor e = emb(I64(idx, {2, 3}));
  EXPECT_EQ(e.shape(), (Shape{2, 3, 3}));
  B.add("Embedding", e, want);
  B.run();
  // Embedding gradient: a repeated index accumulates
  e.sum().backward();
  Vec g = emb.weight.grad().to_vector<double>();
  Vec gw{1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  for (size_t i = 0; i < g.size(); i++) EXPECT_EQ(g[i], gw[i]) << "Embedding grad " << i;

  // Dropout: identity in eval; in training about p dropped, the rest scaled by 1/(1-p)
  Tensor ones = Tensor::ones({4000});
  nn::Dropout drop(0.25);
  EXPECT_EQ(drop(ones).uop(), ones.uop());
  Vec d;
  {
    fg::TrainingScope train;
    d = drop(ones).to_vector<double>();
  }
  int zeros = 0;
  for (double v : d) {
    if (v == 0) zeros++;
    else EXPECT_NEAR(v, 1 / 0.75, 1e-6);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
}

// ================================================================ attention

TEST(NN, ScaledDotProductAttention) {
  const int64_t B_ = 2, L = 3, S = 4, E = 5, Ev = 2;
  Vec q = rand_vec(B_ * L * E, 7), k = rand_vec(B_ * S * E, 8), v = rand_vec(B_ * S * Ev, 9);
  Vec fm = rand_vec(L * S, 10);
  std::vector<bool> bm{true, false, true, true, false, true, false, true, true, true, true, false};
  auto ref = [&](int mode) {  // 0 none, 1 causal, 2 bool mask, 3 float mask
    Vec out(B_ * L * Ev, 0);
    for (int64_t b = 0; b < B_; b++)
      for (int64_t i = 0; i < L; i++) {
        Vec s(S);
        double mx = -INFINITY;
        for (int64_t j = 0; j < S; j++) {
          double d = 0;
          for (int64_t e = 0; e < E; e++) d += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
          d /= std::sqrt(double(E));
          if (mode == 1 && j > i) d = -INFINITY;
          if (mode == 2 && !bm[i * S + j]) d = -INFINITY;
          if (mode == 3) d += fm[i * S + j];
          s[j] = d;
          mx = std::max(mx, d);
        }
        double z = 0;
        for (auto& x : s) z += (x = std::exp(x - mx));
        for (int64_t j = 0; j < S; j++)
          for (int64_t e = 0; e < Ev; e++) out[(b * L + i) * Ev + e] += s[j] / z * v[(b * S + j) * Ev + e];
      }
    return out;
  };
  Tensor Q = T(q, {B_, L, E}), K = T(k, {B_, S, E}), V = T(v, {B_, S, Ev});
  Batch B;
  B.add("sdpa", fg::scaled_dot_product_attention(Q, K, V), ref(0));
  B.add("sdpa causal", fg::scaled_dot_product_attention(Q, K, V, {}, 0, true), ref(1));
  B.add("sdpa bool mask", fg::scaled_dot_product_attention(Q, K, V, Tensor::from_vector(bm, {L, S})), ref(2));
  B.add("sdpa float mask", fg::scaled_dot_product_attention(Q, K, V, T(fm, {L, S})), ref(3));
  B.run();
  EXPECT_THROW(fg::scaled_dot_product_attention(Q, K, V, T(fm, {L, S}), 0, true), fg::Error);
}

// ================================================================ losses

TEST(NN, Losses) {
  const int64_t N = 5, C = 4;
  Vec x = rand_vec(N * C, 20, -3, 3);
  std::vector<int64_t> y{2, 0, 3, -100, 1};
  Vec w{0.5, 1.0, 2.0, 1.5};
  Vec logp(N * C);
  for (int64_t n = 0; n < N; n++) {
    double mx = -INFINITY, z = 0;
    for (int64_t c = 0; c < C; c++) mx = std::max(mx, x[n * C + c]);
    for (int64_t c = 0; c < C; c++) z += std::exp(x[n * C + c] - mx);
    for (int64_t c = 0; c < C; c++) logp[n * C + c] = x[n * C + c] - mx - std::log(z);
  }
  // PyTorch's cross_entropy with class indices, weights, ignore_index and label smoothing
  auto ce = [&](bool weighted, double eps, int reduction /*0 mean 1 sum 2 none*/) {
    Vec per(N, 0);
    double wsum = 0, ssum = 0, nsum = 0;
    for (int64_t n = 0; n < N; n++) {
      if (y[n] == -100) continue;
      double wt = weighted ? w[y[n]] : 1.0;
      double nll = -logp[n * C + y[n]] * wt, smooth = 0;
      for (int64_t c = 0; c < C; c++) smooth -= logp[n * C + c] * (weighted ? w[c] : 1.0);
      per[n] = (1 - eps) * nll + eps / C * smooth;
      wsum += wt;
      nsum += nll;
      ssum += smooth;
    }
    if (reduction == 2) return per;
    if (reduction == 1) return Vec{(1 - eps) * nsum + eps / C * ssum};
    double count = 0;
    for (int64_t n = 0; n < N; n++) count += y[n] != -100;
    // mean: nll over the targets' weights; smoothing over the same (PyTorch)
    return Vec{(1 - eps) * nsum / wsum + eps / C * ssum / (weighted ? wsum : count)};
  };
  Tensor X = T(x, {N, C}), Y = I64(y, {N});
  using R = fg::Reduction;
  Batch B;
  B.add("cross_entropy", fg::cross_entropy(X, Y), ce(false, 0, 0));
  B.add("cross_entropy sum", fg::cross_entropy(X, Y, {.reduction = R::Sum}), ce(false, 0, 1));
  B.add("cross_entropy none", fg::cross_entropy(X, Y, {.reduction = R::None}), ce(false, 0, 2));
  B.add("cross_entropy smoothing", fg::cross_entropy(X, Y, {.label_smoothing = 0.1}), ce(false, 0.1, 0));
  B.add("cross_entropy weighted smoothing", fg::cross_entropy(X, Y, {.label_smoothing = 0.2, .weight = T(w, {C})}),
        ce(true, 0.2, 0));
  B.add("cross_entropy weighted none", fg::cross_entropy(X, Y, {.reduction = R::None, .weight = T(w, {C})}),
        ce(true, 0, 2));
  // probabilities as targets
  {
    Vec p = rand_vec(N * C, 21, 0, 1);
    for (int64_t n = 0; n < N; n++) {
      double s = 0;
      for (int64_t c = 0; c < C; c++) s += p[n * C + c];
      for (int64_t c = 0; c < C; c++) p[n * C + c] /= s;
    }
    double tot = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++) tot -= logp[n * C + c] * (p[n * C + c] * 0.9 + 0.1 / C);
    B.add("cross_entropy probabilities smoothing", fg::cross_entropy(X, T(p, {N, C}), {.label_smoothing = 0.1}),
          tot / N);
  }
  // (N, C, d) layout: classes on axis 1
  {
    Vec x3(2 * C * 3);
    std::vector<int64_t> y3{0, 3, 1, 2, 2, 0};
    x3 = rand_vec(x3.size(), 22);
    double tot = 0;
    for (int64_t n = 0; n < 2; n++)
      for (int64_t d = 0; d < 3; d++) {
        double mx = -INFINITY, z = 0;
        for (int64_t c = 0; c < C; c++) mx = std::max(mx, x3[(n * C + c) * 3 + d]);
        for (int64_t c = 0; c < C; c++) z += std::exp(x3[(n * C + c) * 3 + d] - mx);
        tot -= x3[(n * C + y3[n * 3 + d]) * 3 + d] - mx - std::log(z);
      }
    B.add("cross_entropy (N, C, d)", fg::cross_entropy(T(x3, {2, C, 3}), I64(y3, {2, 3})), tot / 6);
  }
  // nll_loss on log-probabilities, weights
  {
    double num = 0, den = 0;
    for (int64_t n = 0; n < N; n++)
      if (y[n] != -100) num -= logp[n * C + y[n]] * w[y[n]], den += w[y[n]];
    B.add("nll_loss weighted", fg::nll_loss(X.log_softmax(1), Y, T(w, {C})), num / den);
  }
  // tinygrad's sparse_categorical_crossentropy: classes last, ignore_index, smoothing
  {
    std::vector<int64_t> ys{2, 0, 3, 3, 1};
    double num = 0, cnt = 0;
    for (int64_t n = 0; n < N; n++) {
      if (ys[n] == 3) continue;  // ignored
      double mean_lp = 0;
      for (int64_t c = 0; c < C; c++) mean_lp += logp[n * C + c] / C;
      num += 0.9 * logp[n * C + ys[n]] + 0.1 * mean_lp;
      cnt++;
    }
    B.add("sparse_categorical_crossentropy", fg::sparse_categorical_crossentropy(X, I64(ys, {N}), 3, 0.1),
          -num / cnt);
  }
  // binary losses
  {
    Vec t = rand_vec(N * C, 23, 0, 1), pw = rand_vec(C, 24, 0.5, 2);
    double bce = 0, bcel = 0;
    for (int64_t i = 0; i < N * C; i++) {
      double p = 1 / (1 + std::exp(-x[i]));
      bce -= t[i] * std::log(p) + (1 - t[i]) * std::log(1 - p);
      bcel -= pw[i % C] * t[i] * std::log(p) + (1 - t[i]) * std::log(1 - p);
    }
    B.add("binary_cross_entropy", fg::binary_cross_entropy(X.sigmoid(), T(t, {N, C})), bce / (N * C));
    B.add("binary_cross_entropy_with_logits pos_weight",
          fg::binary_cross_entropy_with_logits(X, T(t, {N, C}), {}, T(pw, {C})), bcel / (N * C));
    // large logits stay finite
    B.add("bce_with_logits large", fg::binary_cross_entropy_with_logits(T({100, -100}, {2}), T({0, 1}, {2})), 100.0);
  }
  // regression losses
  {
    Vec a = rand_vec(12, 25, -2, 2), b = rand_vec(12, 26, -2, 2);
    double mse = 0, l1 = 0, sl1 = 0, hub = 0;
    for (int i = 0; i < 12; i++) {
      double d = std::abs(a[i] - b[i]);
      mse += d * d;
      l1 += d;
      sl1 += d < 0.5 ? 0.5 * d * d / 0.5 : d - 0.25;
      hub += d < 0.7 ? 0.5 * d * d : 0.7 * (d - 0.35);
    }
    Tensor A = T(a, {3, 4}), Bt = T(b, {3, 4});
    B.add("mse_loss", fg::mse_loss(A, Bt), mse / 12);
    B.add("l1_loss sum", fg::l1_loss(A, Bt, R::Sum), l1);
    B.add("smooth_l1_loss", fg::smooth_l1_loss(A, Bt, 0.5), sl1 / 12);
    B.add("huber_loss", fg::huber_loss(A, Bt, 0.7), hub / 12);
  }
  B.run();
}

// cross entropy's gradient is softmax - onehot (scaled): a check of the whole chain
TEST(NN, CrossEntropyGradient) {
  const int64_t N = 3, C = 4;
  Vec x = rand_vec(N * C, 30, -2, 2);
  Tensor X = Tensor::from_vector(x, {N, C});
  std::vector<int64_t> y{1, 3, 0};
  Tensor g = fg::cross_entropy(X, I64(y, {N})).gradient({X})[0];
  Vec got = g.to_vector<double>();
  for (int64_t n = 0; n < N; n++) {
    double mx = -INFINITY, z = 0;
    for (int64_t c = 0; c < C; c++) mx = std::max(mx, x[n * C + c]);
    for (int64_t c = 0; c < C; c++) z += std::exp(x[n * C + c] - mx);
    for (int64_t c = 0; c < C; c++) {
      double want = (std::exp(x[n * C + c] - mx) / z - (c == y[n])) / N;
      EXPECT_NEAR(got[n * C + c], want, 1e-12);
    }
  }
}

// ================================================================ state dicts and assign

TEST(NN, StateDictSafetensorsRoundTrip) {
  struct Net : nn::Module {
    nn::Conv2d c1{1, 2, {3}};
    nn::BatchNorm bn{2};
    nn::Linear fc{8, 3};
    void collect(const std::string& p, nn::NamedTensors& out) override {
      add_child(out, p, "c1", c1);
      add_child(out, p, "bn", bn);
      add_child(out, p, "fc", fc);
    }
  };
  Tensor::manual_seed(1);
  Net a;
  Tensor::manual_seed(2);
  Net b;
  std::vector<std::string> names;
  for (auto& [n, t] : a.named_tensors()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"c1.weight", "c1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                             "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"}));
  std::vector<Tensor*> ts = a.tensors();
  Tensor::realize_all(ts);
  std::string path = ::testing::TempDir() + "fg_test_nn_state.safetensors";
  fg::safe_save(a.state_dict(), path);
  Tensor keep_handle = b.fc.weight;  // an earlier copy of the handle sees the loaded values too
  b.load_state_dict(fg::safe_load(path));
  for (auto& [n, t] : a.named_tensors()) {
    Tensor* other = nullptr;
    for (auto& [m, u] : b.named_tensors())
      if (m == n) other = u;
    ASSERT_TRUE(other) << n;
    EXPECT_EQ(other->to_vector<double>(), t->to_vector<double>()) << n;
  }
  EXPECT_EQ(keep_handle.to_vector<double>(), a.fc.weight.to_vector<double>());
  EXPECT_TRUE(b.fc.weight.requires_grad());
  std::remove(path.c_str());
  auto sd = a.state_dict();
  sd.erase("fc.bias");
  EXPECT_THROW(b.load_state_dict(sd), fg::Error);
  sd["fc.bias"] = Tensor::zeros({4});
  EXPECT_THROW(b.load_state_dict(sd), fg::Error);  // shape
}

TEST(NN, AssignTo) {
  Tensor t = Tensor::from_vector(Vec{1, 2, 3, 4}, {2, 2});
  Tensor alias = t;  // shares state
  Tensor copy_of_buffer(t.uop(), t.shape(), t.device());  // another handle of the same buffer
  fg::assign_to(t, t.mul(2.0).add(1.0));
  EXPECT_EQ(t.uop()->op, fg::Op::ASSIGN);
  // a second assign before realize chains onto the first
  fg::assign_to(t, t.add(10.0));
  t.realize();
  EXPECT_EQ(t.to_vector<double>(), (Vec{13, 15, 17, 19}));
  EXPECT_EQ(copy_of_buffer.to_vector<double>(), (Vec{13, 15, 17, 19}));  // same buffer
  EXPECT_EQ(fg::buffer_of_tensor(t), fg::buffer_of_tensor(copy_of_buffer));
  // a lazy target simply becomes the value
  Tensor lazy = Tensor::ones({3}).mul(2.0);
  fg::assign_to(lazy, Tensor::full({3}, 5.0));
  EXPECT_EQ(lazy.to_vector<double>(), (Vec{5, 5, 5}));
  // marks and gradients survive
  Tensor p = Tensor::from_vector(Vec{1, 2}, {2});
  p.requires_grad_();
  p.square().sum().backward();
  fg::assign_to(p, p.mul(0.5));
  EXPECT_TRUE(p.requires_grad());
  EXPECT_TRUE(p.grad().defined());
  p.realize();
  EXPECT_EQ(p.to_vector<double>(), (Vec{0.5, 1}));
  EXPECT_THROW(fg::assign_to(p, Tensor::zeros({3}, dt::float64)), fg::Error);
  (void)alias;
}

}  // namespace
