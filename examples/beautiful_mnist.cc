// The main job: tinygrad's beautiful_mnist network trained on Fashion-MNIST on the CPU, in C++.
//   make demo                       (builds this in Release and runs it)
//   build-release/examples/beautiful_mnist [--steps N] [--bs N] [--lr X] [--eval-every N] [--target PCT]
// Adam with a one-cycle learning rate (peak --lr). Each step draws a random batch on the host (a
// fresh permutation per epoch), uploads it, builds the forward and backward graph, and realizes the Adam update and the loss in one schedule; the
// kernels compile on the first step (in parallel, cached on disk) and are reused after. The end
// reports test accuracy over the 10000 test images and what ran (kernels, GFLOP, GB, time).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "femtograd/femtograd.h"

using namespace fg;
using namespace fg::nn;

namespace {

struct Model : Module {
  Conv2d c1{1, 32, {5}}, c2{32, 32, {5}};
  BatchNorm bn1{32};
  Conv2d c3{32, 64, {3}}, c4{64, 64, {3}};
  BatchNorm bn2{64};
  Linear fc{576, 10};

  Tensor operator()(const Tensor& x) {
    Tensor h = max_pool2d(bn1(c2(c1(x).relu()).relu()), {2});
    h = max_pool2d(bn2(c4(c3(h).relu()).relu()), {2});
    return fc(h.flatten(1));
  }
  void collect(const std::string& p, NamedTensors& out) override {
    add_child(out, p, "c1", c1);
    add_child(out, p, "c2", c2);
    add_child(out, p, "bn1", bn1);
    add_child(out, p, "c3", c3);
    add_child(out, p, "c4", c4);
    add_child(out, p, "bn2", bn2);
    add_child(out, p, "fc", fc);
  }
};

struct Args {
  int64_t steps = 1200, bs = 128, eval_every = 0, eval_bs = 1000;
  double lr = 5e-3, target = 0;  // lr: the peak of the one-cycle schedule
  std::string dir = kFashionMnistDir;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    std::string k = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) throw Error(ErrorKind::Value, "beautiful_mnist", k + " needs a value");
      return argv[++i];
    };
    if (k == "--steps") a.steps = std::atoll(next());
    else if (k == "--bs") a.bs = std::atoll(next());
    else if (k == "--lr") a.lr = std::atof(next());
    else if (k == "--eval-every") a.eval_every = std::atoll(next());
    else if (k == "--target") a.target = std::atof(next());
    else if (k == "--data") a.dir = next();
    else throw Error(ErrorKind::Value, "beautiful_mnist",
                     "unknown option " + k + " (use --steps --bs --lr --eval-every --target --data)");
  }
  if (a.steps < 1 || a.bs < 1) throw Error(ErrorKind::Value, "beautiful_mnist", "--steps and --bs must be positive");
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// images as floats in [0, 1], (N, 1, 28, 28), on the host
std::vector<float> to_floats(const Tensor& x) {
  std::vector<uint8_t> raw = x.to_vector<uint8_t>();
  std::vector<float> out(raw.size());
  for (size_t i = 0; i < raw.size(); i++) out[i] = raw[i] / 255.0f;
  return out;
}

// accuracy in percent over all test images, in batches (eval mode: BatchNorm's running statistics)
double test_accuracy(Model& m, const std::vector<float>& X, const std::vector<uint8_t>& Y, int64_t bs) {
  TrainingScope eval(false);
  NoGrad ng;
  int64_t n = static_cast<int64_t>(Y.size()), correct = 0;
  for (int64_t s = 0; s < n; s += bs) {
    int64_t b = std::min(bs, n - s);
    Tensor x = Tensor::from_data(X.data() + s * 784, dtypes::float32, {b, 1, 28, 28});
    Tensor y = Tensor::from_data(Y.data() + s, dtypes::uint8, {b}).cast(dtypes::int32);
    correct += static_cast<int64_t>(m(x).argmax(1).eq(y).sum().item());
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    auto t0 = std::chrono::steady_clock::now();
    Dataset d = fashion_mnist(a.dir);
    std::vector<float> Xtr = to_floats(d.X_train), Xte = to_floats(d.X_test);
    std::vector<uint8_t> Ytr = d.Y_train.to_vector<uint8_t>(), Yte = d.Y_test.to_vector<uint8_t>();
    int64_t ntrain = static_cast<int64_t>(Ytr.size());
    std::printf("Fashion-MNIST: %lld train, %zu test images (%.2f s); %s, %lld steps of batch %lld, Adam, one-cycle lr peak %g\n",
                static_cast<long long>(ntrain), Yte.size(), seconds_since(t0), default_device().c_str(),
                static_cast<long long>(a.steps), static_cast<long long>(a.bs), a.lr);

    Model model;
    Adam opt(get_parameters(model), a.lr);  // every tensor: BatchNorm's running statistics are realized with each step
    // one cycle: warm up to the peak lr over the first 20% of the steps, then anneal (cosine) to ~0;
    // a short run converges much further this way than at a constant lr
    OneCycleLR sched(opt, a.lr, a.steps, 0.2);
    std::mt19937_64 rng(1337);
    std::vector<int64_t> order(static_cast<size_t>(ntrain));
    std::iota(order.begin(), order.end(), 0);
    size_t cursor = order.size();
    std::vector<float> xb(static_cast<size_t>(a.bs * 784));
    std::vector<int32_t> yb(static_cast<size_t>(a.bs));

    GlobalCounters::get().reset();
    auto train0 = std::chrono::steady_clock::now();
    double first_step = 0, loss = 0, acc = -1;
    for (int64_t step = 1; step <= a.steps; step++) {
      for (int64_t i = 0; i < a.bs; i++) {  // the next batch of a fresh permutation per epoch
        if (cursor == order.size()) { std::shuffle(order.begin(), order.end(), rng); cursor = 0; }
        int64_t j = order[cursor++];
        std::memcpy(xb.data() + i * 784, Xtr.data() + j * 784, 784 * sizeof(float));
        yb[static_cast<size_t>(i)] = Ytr[static_cast<size_t>(j)];
      }
      Tensor x = Tensor::from_data(xb.data(), dtypes::float32, {a.bs, 1, 28, 28});
      Tensor y = Tensor::from_data(yb.data(), dtypes::int32, {a.bs});
      Tensor l;
      {
        TrainingScope train(true);
        opt.zero_grad();
        l = sparse_categorical_crossentropy(model(x), y);
        l.backward();
        opt.step({&l});
        sched.step();
      }
      loss = l.item();
      if (step == 1) first_step = seconds_since(train0);
      if (a.eval_every > 0 && step % a.eval_every == 0 && step != a.steps)
        acc = test_accuracy(model, Xte, Yte, a.eval_bs);
      double el = seconds_since(train0);
      double rate = step > 1 ? static_cast<double>(step - 1) / (el - first_step) : 0;
      int filled = static_cast<int>(30 * step / a.steps);
      std::printf("\r[%.*s%*s] step %4lld/%lld  loss %.3f  %.2f steps/s  %.0f s", filled,
                  "==============================", 30 - filled, "", static_cast<long long>(step),
                  static_cast<long long>(a.steps), loss, rate, el);
      if (acc >= 0) std::printf("  test accuracy %.2f%%", acc);
      std::fflush(stdout);
    }
    std::printf("\n");
    double train_s = seconds_since(train0);
    GlobalCounters c = GlobalCounters::get();
    acc = test_accuracy(model, Xte, Yte, a.eval_bs);
    double total = seconds_since(t0);
    std::printf("test accuracy %.2f%% after %lld steps\n", acc, static_cast<long long>(a.steps));
    std::printf("training: %.1f s (first step, compiling its kernels: %.1f s); %lld kernels run, %.1f GFLOP "
                "(%.1f GFLOP/s), %.1f GB moved\n",
                train_s, first_step, static_cast<long long>(c.kernel_count), static_cast<double>(c.global_ops) / 1e9,
                static_cast<double>(c.global_ops) / 1e9 / train_s, static_cast<double>(c.global_mem) / 1e9);
    std::printf("total wall time %.1f s (data, training, test)\n", total);
    if (a.target > 0 && acc < a.target) {
      std::printf("FAILED: test accuracy %.2f%% is below the target %.2f%%\n", acc, a.target);
      return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "beautiful_mnist: %s\n", e.what());
    return 2;
  }
}
