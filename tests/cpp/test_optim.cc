// Optimizers against reference implementations written here (PyTorch's update rules), several steps
// on float64 to 1e-9 relative; learning-rate schedules against their closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "femtograd/nn/optim.h"
#include "femtograd/base/error.h"
#include "femtograd/tensor/autograd.h"
#include "femtograd/tensor/jit.h"

namespace {
using fg::Shape;
using fg::Tensor;
using Vec = std::vector<double>;
namespace nn = fg::nn;

Vec rand_vec(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(g);
  return v;
}
int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto v : s) n *= v;
  return n;
}

struct Cfg {
  std::string kind;  // sgd, adam, lamb
  double lr = 0.05, momentum = 0, wd = 0, dampening = 0;
  bool nesterov = false, decoupled = false, adam = false;
  double b1 = 0.9, b2 = 0.999, eps = 1e-8;
};

// the reference: one parameter's state and PyTorch's (or LAMB's) rule
struct RefState {
  Vec p, b, m, v;
  void step(const Cfg& c, const Vec& grad, int64_t t, double lr) {
    size_t n = p.size();
    if (c.kind == "sgd") {
      Vec g(n);
      for (size_t i = 0; i < n; i++) g[i] = grad[i] + c.wd * p[i];
      if (c.momentum != 0) {
        if (b.empty()) b = g;
        else
          for (size_t i = 0; i < n; i++) b[i] = c.momentum * b[i] + (1 - c.dampening) * g[i];
        for (size_t i = 0; i < n; i++) g[i] = c.nesterov ? g[i] + c.momentum * b[i] : b[i];
      }
      for (size_t i = 0; i < n; i++) p[i] -= lr * g[i];
      return;
    }
    if (m.empty()) m.assign(n, 0), v.assign(n, 0);
    double bc1 = 1 - std::pow(c.b1, t), bc2 = 1 - std::pow(c.b2, t);
    if (c.kind == "adam") {
      for (size_t i = 0; i < n; i++) {
        double g = grad[i] + (c.decoupled ? 0 : c.wd * p[i]);
        if (c.decoupled) p[i] *= 1 - lr * c.wd;
        m[i] = c.b1 * m[i] + (1 - c.b1) * g;
        v[i] = c.b2 * v[i] + (1 - c.b2) * g * g;
        p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + c.eps);
      }
      return;
    }
    Vec up(n);  // lamb
    double r1 = 0, r2 = 0;
    for (size_t i = 0; i < n; i++) {
      m[i] = c.b1 * m[i] + (1 - c.b1) * grad[i];
      v[i] = c.b2 * v[i] + (1 - c.b2) * grad[i] * grad[i];
      up[i] = (m[i] / bc1) / (std::sqrt(v[i] / bc2) + c.eps) + c.wd * p[i];
      r1 += p[i] * p[i];
      r2 += up[i] * up[i];
    }
    r1 = std::sqrt(r1), r2 = std::sqrt(r2);
    double r = c.adam ? 1.0 : (r1 > 0 && r2 > 0 ? r1 / r2 : 1.0);
    for (size_t i = 0; i < n; i++) p[i] -= lr * r * up[i];
  }
};

std::unique_ptr<nn::Optimizer> make_opt(const Cfg& c, std::vector<Tensor*> ps) {
  if (c.kind == "sgd") return std::make_unique<nn::SGD>(ps, c.lr, c.momentum, c.wd, c.nesterov, c.dampening);
  if (c.kind == "adam") return std::make_unique<nn::Adam>(ps, c.lr, c.b1, c.b2, c.eps, c.wd, c.decoupled);
  return std::make_unique<nn::LAMB>(ps, c.lr, c.b1, c.b2, c.eps, c.wd, c.adam);
}

void expect_close(const Vec& got, const Vec& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++)
    ASSERT_NEAR(got[i], want[i], 1e-9 * (1 + std::abs(want[i]))) << what << " element " << i;
}

// loss = sum(0.5 C p^2 + D p) over parameters of awkward shapes: grad = C p + D, a different
// curvature per element so that every rule's terms matter. An lr schedule changes lr every step.
void run_quadratic(const Cfg& c, int steps = 4, bool schedule = false) {
  std::vector<Shape> shapes{{3, 5}, {7}, {2, 1, 3}};
  std::vector<Tensor> ps, Cs, Ds;
  std::vector<RefState> ref;
  std::vector<Vec> Ch, Dh;
  uint64_t seed = 1;
  for (const Shape& s : shapes) {
    Vec p = rand_vec(numel(s), seed++), C = rand_vec(numel(s), seed++, 0.5, 2), D = rand_vec(numel(s), seed++);
    ps.push_back(Tensor::from_vector(p, s));
    ps.back().requires_grad_();
    Cs.push_back(Tensor::from_vector(C, s));
    Ds.push_back(Tensor::from_vector(D, s));
    ref.push_back({p});
    Ch.push_back(C);
    Dh.push_back(D);
  }
  std::vector<Tensor*> pp;
  for (auto& p : ps) pp.push_back(&p);
  auto opt = make_opt(c, pp);
  std::unique_ptr<nn::StepLR> sched;
  if (schedule) sched = std::make_unique<nn::StepLR>(*opt, 1, 0.7);
  for (int t = 1; t <= steps; t++) {
    double lr = opt->get_lr();
    opt->zero_grad();
    Tensor loss;
    for (size_t k = 0; k < ps.size(); k++) {
      Tensor l = ps[k].square().mul(Cs[k]).mul(0.5).add(ps[k].mul(Ds[k])).sum();
      loss = loss.defined() ? loss.add(l) : l;
    }
    // the loss of this step (before the update) is realized with the step
    double want_loss = 0;
    for (size_t k = 0; k < ps.size(); k++)
      for (size_t i = 0; i < ref[k].p.size(); i++)
        want_loss += 0.5 * Ch[k][i] * ref[k].p[i] * ref[k].p[i] + Dh[k][i] * ref[k].p[i];
    loss.backward();
    opt->step({&loss});
    EXPECT_NEAR(loss.item(), want_loss, 1e-9 * (1 + std::abs(want_loss))) << c.kind << " step " << t;
    if (sched) sched->step();
    for (size_t k = 0; k < ps.size(); k++) {
      Vec g(ref[k].p.size());
      for (size_t i = 0; i < g.size(); i++) g[i] = Ch[k][i] * ref[k].p[i] + Dh[k][i];
      ref[k].step(c, g, t, lr);
      expect_close(ps[k].to_vector<double>(), ref[k].p, c.kind + " param " + std::to_string(k) + " step " +
                                                           std::to_string(t));
    }
  }
  EXPECT_EQ(opt->steps(), steps);
}

TEST(Optim, SGD) { run_quadratic({.kind = "sgd", .lr = 0.1}); }
TEST(Optim, SGDMomentumWeightDecay) { run_quadratic({.kind = "sgd", .lr = 0.1, .momentum = 0.9, .wd = 0.01}); }
TEST(Optim, SGDNesterov) { run_quadratic({.kind = "sgd", .lr = 0.1, .momentum = 0.8, .nesterov = true}); }
TEST(Optim, SGDDampening) { run_quadratic({.kind = "sgd", .lr = 0.1, .momentum = 0.9, .dampening = 0.5}); }
TEST(Optim, Adam) { run_quadratic({.kind = "adam", .lr = 0.05}); }
TEST(Optim, AdamL2WeightDecay) { run_quadratic({.kind = "adam", .lr = 0.05, .wd = 0.1}); }
TEST(Optim, AdamW) { run_quadratic({.kind = "adam", .lr = 0.05, .wd = 0.1, .decoupled = true}); }
TEST(Optim, LAMB) { run_quadratic({.kind = "lamb", .lr = 0.05, .wd = 0.01, .eps = 1e-6}); }
TEST(Optim, LAMBAdamMode) { run_quadratic({.kind = "lamb", .lr = 0.05, .adam = true, .eps = 1e-6}); }
// the learning rate changes every step: the kernels read it from a buffer, the values follow
TEST(Optim, AdamWithStepLRSchedule) { run_quadratic({.kind = "adam", .lr = 0.05, .wd = 0.1, .decoupled = true}, 4, true); }

// Two layers: the gradient of the first reads the second's weights, which the same schedule updates;
// the step must compute every gradient before overwriting any parameter.
TEST(Optim, TwoLayerUpdatesReadOldWeights) {
  const int64_t N = 4, I = 3, H = 5, O = 2;
  Vec x = rand_vec(N * I, 11), y = rand_vec(N * O, 12), w1 = rand_vec(I * H, 13), w2 = rand_vec(H * O, 14);
  Tensor X = Tensor::from_vector(x, {N, I}), Y = Tensor::from_vector(y, {N, O});
  Tensor W1 = Tensor::from_vector(w1, {I, H}), W2 = Tensor::from_vector(w2, {H, O});
  W1.requires_grad_();
  W2.requires_grad_();
  nn::SGD opt({&W1, &W2}, 0.05, 0.9);
  Vec b1, b2;
  for (int t = 1; t <= 3; t++) {
    opt.zero_grad();
    X.matmul(W1).matmul(W2).sub(Y).square().sum().backward();
    opt.step();
    // reference: h = x w1, r = 2 (h w2 - y), dW2 = h^T r, dW1 = x^T (r w2^T)
    Vec h(N * H, 0), r(N * O, 0), g1(I * H, 0), g2(H * O, 0), rw(N * H, 0);
    for (int64_t n = 0; n < N; n++)
      for (int64_t j = 0; j < H; j++)
        for (int64_t i = 0; i < I; i++) h[n * H + j] += x[n * I + i] * w1[i * H + j];
    for (int64_t n = 0; n < N; n++)
      for (int64_t o = 0; o < O; o++) {
        double s = 0;
        for (int64_t j = 0; j < H; j++) s += h[n * H + j] * w2[j * O + o];
        r[n * O + o] = 2 * (s - y[n * O + o]);
      }
    for (int64_t j = 0; j < H; j++)
      for (int64_t o = 0; o < O; o++)
        for (int64_t n = 0; n < N; n++) g2[j * O + o] += h[n * H + j] * r[n * O + o];
    for (int64_t n = 0; n < N; n++)
      for (int64_t j = 0; j < H; j++)
        for (int64_t o = 0; o < O; o++) rw[n * H + j] += r[n * O + o] * w2[j * O + o];
    for (int64_t i = 0; i < I; i++)
      for (int64_t j = 0; j < H; j++)
        for (int64_t n = 0; n < N; n++) g1[i * H + j] += x[n * I + i] * rw[n * H + j];
    auto sgd = [&](Vec& w, Vec& b, const Vec& g) {
      if (b.empty()) b = g;
      else
        for (size_t i = 0; i < b.size(); i++) b[i] = 0.9 * b[i] + g[i];
      for (size_t i = 0; i < w.size(); i++) w[i] -= 0.05 * b[i];
    };
    sgd(w1, b1, g1);
    sgd(w2, b2, g2);
    expect_close(W1.to_vector<double>(), w1, "W1 step " + std::to_string(t));
    expect_close(W2.to_vector<double>(), w2, "W2 step " + std::to_string(t));
  }
}

TEST(Optim, ParamWithoutGradIsLeftAlone) {
  Tensor a = Tensor::from_vector(Vec{1, 2, 3}, {3}), b = Tensor::from_vector(Vec{4, 5}, {2});
  a.requires_grad_();
  b.requires_grad_();
  nn::Adam opt({&a, &b}, 0.1);
  a.square().sum().backward();
  opt.step();
  expect_close(b.to_vector<double>(), {4, 5}, "b");
  EXPECT_NE(a.to_vector<double>()[0], 1.0);
}

TEST(Optim, Errors) {
  Tensor a = Tensor::from_vector(Vec{1, 2, 3}, {3});
  EXPECT_THROW(nn::SGD({&a}, 0.1), fg::Error);  // nothing requires grad
  a.requires_grad_();
  EXPECT_THROW(nn::SGD({&a}, 0.1, 0, 0, true), fg::Error);  // nesterov without momentum
}

// A jitted training step (forward, backward, Adam step, lr schedule step) replays what the eager
// steps do: the step count, the bias corrections and the scheduled lr are computed on the device,
// so a replay, which writes nothing from the host, still moves them on.
TEST(Optim, JittedAdamStepsWithScheduleMatchEagerSteps) {
  const int64_t N = 8, I = 5, H = 7, O = 3;
  const int steps = 7;
  struct Model {
    Tensor w1, b1, w2, b2;
    std::unique_ptr<nn::Adam> opt;
    std::unique_ptr<nn::LinearWarmup> sched;
    Model() {
      w1 = Tensor::from_vector(rand_vec(I * H, 31), {I, H}).cast(fg::dtypes::float32).contiguous();
      b1 = Tensor::from_vector(rand_vec(H, 32), {H}).cast(fg::dtypes::float32).contiguous();
      w2 = Tensor::from_vector(rand_vec(H * O, 33), {H, O}).cast(fg::dtypes::float32).contiguous();
      b2 = Tensor::from_vector(rand_vec(O, 34), {O}).cast(fg::dtypes::float32).contiguous();
      for (Tensor* p : {&w1, &b1, &w2, &b2}) p->requires_grad_();
      opt = std::make_unique<nn::Adam>(std::vector<Tensor*>{&w1, &b1, &w2, &b2}, 0.02, 0.9, 0.99, 1e-8, 0.01, true);
      sched = std::make_unique<nn::LinearWarmup>(*opt, 3, std::make_shared<nn::CosineAnnealingLR>(*opt, 5, 0.001));
    }
    std::vector<Tensor> train_step(const std::vector<Tensor>& in) {
      opt->zero_grad();
      Tensor loss = in[0].matmul(w1).add(b1).relu().matmul(w2).add(b2).sub(in[1]).square().mean();
      loss.backward();
      opt->step({&loss});
      sched->step();
      return {loss};
    }
    Vec params() const {
      Vec out;
      for (const Tensor* p : {&w1, &b1, &w2, &b2})
        for (double v : p->to_vector<double>()) out.push_back(v);
      return out;
    }
  };
  std::vector<std::vector<Tensor>> data;
  for (int t = 0; t < steps; t++)
    data.push_back({Tensor::from_vector(rand_vec(N * I, 100 + t), {N, I}).cast(fg::dtypes::float32).contiguous(),
                    Tensor::from_vector(rand_vec(N * O, 200 + t), {N, O}).cast(fg::dtypes::float32).contiguous()});

  Model eager, jitted;
  fg::TinyJit jit([&](const std::vector<Tensor>& in) { return jitted.train_step(in); });
  for (int t = 0; t < steps; t++) {
    double le = eager.train_step(data[t])[0].item();
    double lj = jit(data[t])[0].item();
    EXPECT_EQ(jit.captured(), t >= 1);
    EXPECT_NEAR(lj, le, 1e-6 * std::abs(le)) << "loss of step " << t;
    EXPECT_NEAR(jitted.opt->get_lr(), eager.opt->get_lr(), 1e-15) << "lr after step " << t;
    Vec pe = eager.params(), pj = jitted.params();
    ASSERT_EQ(pe.size(), pj.size());
    for (size_t i = 0; i < pe.size(); i++)
      ASSERT_NEAR(pj[i], pe[i], 1e-6 * (std::abs(pe[i]) + 1e-3)) << "parameter " << i << " after step " << t;
  }
  EXPECT_GT(jit.kernel_count(), 0u);
  EXPECT_EQ(jitted.opt->steps(), steps);
  EXPECT_EQ(jitted.sched->epoch(), steps);
  EXPECT_NEAR(jitted.opt->get_lr(), jitted.sched->lr_at(int64_t{steps}), 1e-15);  // the schedule moved on
  EXPECT_NE(eager.params(), Model().params());  // it trained
}

// ---- schedules: PyTorch's closed forms
TEST(LRSchedule, ClosedForms) {
  Tensor a = Tensor::from_vector(Vec{1}, {1});
  a.requires_grad_();
  auto lrs = [&](nn::LRScheduler& s, nn::Optimizer& o, int n) {
    Vec out{o.get_lr()};
    for (int i = 1; i < n; i++) {
      s.step();  // computed on the device
      out.push_back(o.get_lr());
      EXPECT_EQ(s.epoch(), i);
      EXPECT_NEAR(o.get_lr(), s.lr_at(int64_t{i}), 1e-15) << "device and host forms agree at epoch " << i;
    }
    return out;
  };
  auto near = [](const Vec& got, const Vec& want, const char* what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); i++) EXPECT_NEAR(got[i], want[i], 1e-12) << what << " epoch " << i;
  };
  {
    nn::SGD o({&a}, 0.1);
    nn::StepLR s(o, 2, 0.5);
    near(lrs(s, o, 6), {0.1, 0.1, 0.05, 0.05, 0.025, 0.025}, "StepLR");
  }
  {
    nn::SGD o({&a}, 0.1);
    nn::MultiStepLR s(o, {1, 3}, 0.1);
    near(lrs(s, o, 5), {0.1, 0.01, 0.01, 0.001, 0.001}, "MultiStepLR");
  }
  {
    nn::SGD o({&a}, 0.1);
    nn::CosineAnnealingLR s(o, 4, 0.01);
    Vec want;
    for (int e = 0; e < 5; e++) want.push_back(0.01 + 0.09 * (1 + std::cos(M_PI * e / 4)) / 2);
    near(lrs(s, o, 5), want, "CosineAnnealingLR");
  }
  {
    nn::SGD o({&a}, 0.1);
    nn::LinearLR s(o, 0.25, 1.0, 3);
    near(lrs(s, o, 5), {0.025, 0.05, 0.075, 0.1, 0.1}, "LinearLR");
  }
  {
    nn::SGD o({&a}, 0.1);
    auto cos = std::make_shared<nn::CosineAnnealingLR>(o, 2, 0.0);
    nn::LinearWarmup s(o, 3, cos);
    near(lrs(s, o, 6), {0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.05, 0.0}, "LinearWarmup then cosine");
  }
  {
    // PyTorch: OneCycleLR(max_lr=1, total_steps=10): 0.04 up to 1 at step 2, down to 4e-6 at step 9
    nn::SGD o({&a}, 0.1);
    nn::OneCycleLR s(o, 1.0, 10, 0.3, 25, 1e4);
    Vec want;
    auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(M_PI * pct) + 1); };
    for (int e = 0; e < 10; e++)
      want.push_back(e <= 2 ? anneal(0.04, 1.0, e / 2.0) : anneal(1.0, 4e-6, (e - 2) / 7.0));
    Vec got = lrs(s, o, 10);
    near(got, want, "OneCycleLR");
    EXPECT_NEAR(got[0], 0.04, 1e-12);
    EXPECT_NEAR(got[2], 1.0, 1e-12);
    EXPECT_NEAR(got[9], 4e-6, 1e-12);
  }
}

}  // namespace
