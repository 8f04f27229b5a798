// TinyJit: capture on the second call, replay on new inputs, refuse changed inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "femtograd/base/error.h"
#include "femtograd/engine/realize.h"
#include "femtograd/tensor/jit.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

TEST(TinyJit, ReplaysWithNewInputs) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  TinyJit jit([&](const std::vector<Tensor>& in) {
    Tensor h = in[0].matmul(w).relu();
    return std::vector<Tensor>{h.sum({1}), h.max()};
  });
  for (int step = 0; step < 5; step++) {
    std::vector<float> xv = {float(step), -1, 2, 0.5f * step, 3, -2};
    Tensor x = Tensor::from_vector(xv, {2, 3});
    int64_t before = GlobalCounters::get().kernel_count;
    auto out = jit({x});
    if (step >= 2) {
      EXPECT_TRUE(jit.captured());
      EXPECT_EQ(GlobalCounters::get().kernel_count - before, static_cast<int64_t>(jit.kernel_count()));
    }
    // reference: loops
    std::vector<float> h(4);
    float mx = -1e30f;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) {
        float s = 0;
        for (int k = 0; k < 3; k++) s += xv[i * 3 + k] * (float)(1 + k * 2 + j);
        h[i * 2 + j] = std::max(s, 0.f);
        mx = std::max(mx, h[i * 2 + j]);
      }
    auto sums = out[0].to_vector<float>();
    EXPECT_FLOAT_EQ(sums[0], h[0] + h[1]) << "step " << step;
    EXPECT_FLOAT_EQ(sums[1], h[2] + h[3]) << "step " << step;
    EXPECT_FLOAT_EQ(static_cast<float>(out[1].item()), mx) << "step " << step;
  }
}

// the same input tensors on every call (a benchmark's loop): the capture call still runs, and so
// captures, every kernel, and a replay computes from what the input buffers hold now
TEST(TinyJit, SameInputsEveryCallStillComputes) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}), b = Tensor::from_vector<float>({1, 0, 0, 1}, {2, 2});
  a.realize();
  b.realize();
  TinyJit jit([](const std::vector<Tensor>& in) {
    Tensor r = in[0].matmul(in[1]).exp().sum({1});
    r.realize();  // realized inside, as a benchmark's function does
    return std::vector<Tensor>{r};
  });
  std::vector<Tensor> held;  // each call's result stays alive (its graph with it) during the next
  for (int i = 0; i < 3; i++) held.push_back(jit({a, b}).at(0));
  EXPECT_GE(jit.kernel_count(), 1u);
  assign_to(b, Tensor::from_vector<float>({0, 1, 1, 0}, {2, 2})).realize();  // new values, same buffer
  auto out = jit({a, b}).at(0).to_vector<float>();
  // a @ [[0, 1], [1, 0]] = [[2, 1], [4, 3]]
  EXPECT_FLOAT_EQ(out[0], std::exp(2.f) + std::exp(1.f));
  EXPECT_FLOAT_EQ(out[1], std::exp(4.f) + std::exp(3.f));
}

TEST(TinyJit, RefusesChangedShapeOrDtype) {
  TinyJit jit([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2}; });
  for (int i = 0; i < 3; i++) jit({Tensor::from_vector<float>({1, 2, 3}, {3})});
  try {
    jit({Tensor::from_vector<float>({1, 2, 3, 4}, {4})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 0 changed shape from (3,) to (4,)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(jit({Tensor::from_vector<int32_t>({1, 2, 3}, {3})}), Error);
}

// The RNG key and counter live on the device and the captured kernels advance them: replays draw
// new numbers, the very ones the same calls make without the JIT, and manual_seed restarts them.
TEST(TinyJit, RandomNumbersChangeBetweenReplays) {
  auto fn = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] + Tensor::rand({8}), Tensor::randint({5}, 0, 1000, dtypes::int32)};
  };
  Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  auto draw = [](std::vector<Tensor> out) {
    std::vector<double> v = out[0].to_vector<double>();
    for (int32_t r : out[1].to_vector<int32_t>()) v.push_back(r);
    return v;
  };
  const int n = 6;
  Tensor::manual_seed(3);
  std::vector<std::vector<double>> eager;
  for (int i = 0; i < n; i++) eager.push_back(draw(fn({x})));
  for (int i = 1; i < n; i++) EXPECT_NE(eager[i], eager[i - 1]) << "call " << i;

  Tensor::manual_seed(3);
  TinyJit jit(fn);
  for (int i = 0; i < n; i++) {
    EXPECT_EQ(draw(jit({x})), eager[i]) << "jitted call " << i;
    EXPECT_EQ(jit.captured(), i >= 1);
  }
  Tensor::manual_seed(3);  // written into the device state: the replays start over
  EXPECT_EQ(draw(jit({x})), eager[0]);
  EXPECT_EQ(draw(jit({x})), eager[1]);
}
