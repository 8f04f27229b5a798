// Buffer lifetimes: a buffer lives exactly as long as some tensor or lazy graph needs it.
#include <gtest/gtest.h>

#include <memory>

#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/tensor.h"

using namespace fg;

namespace {
size_t in_use() { return get_device("CPU").allocator().stats().in_use; }
}  // namespace

TEST(Memory, LongRealizeLoopHoldsMemoryFlat) {
  Tensor x = Tensor::from_vector(std::vector<float>(4096, 0.5f), {64, 64});
  size_t after_first = 0;
  for (int i = 0; i < 200; i++) {
    Tensor y = (x * static_cast<double>(i) + 1).relu().sum({1});
    y.realize();
    EXPECT_EQ(y.shape(), (Shape{64}));
    if (i == 0) after_first = in_use();
  }
  EXPECT_LE(in_use(), after_first);  // each iteration's buffers died with its tensors
}

TEST(Memory, TrainingStepsThenDroppingTheModelReturnToBaseline) {
  Tensor::rand({1}).realize();  // the device's RNG state (key and counter) lives as long as the program
  size_t baseline = in_use();
  {
    nn::Linear l1(16, 32), l2(32, 4);
    std::vector<Tensor*> params{&l1.weight, &l1.bias, &l2.weight, &l2.bias};
    for (Tensor* p : params) p->requires_grad_();
    nn::Adam opt(params, 1e-2);
    Tensor x = Tensor::from_vector(std::vector<float>(8 * 16, 0.25f), {8, 16});
    Tensor t = Tensor::from_vector(std::vector<float>(8 * 4, 1.0f), {8, 4});
    double first = 0, last = 0;
    for (int step = 0; step < 5; step++) {
      opt.zero_grad();
      Tensor out = l2(l1(x).relu());
      Tensor loss = (out - t).square().mean();
      loss.backward();
      opt.step({&loss});
      (step == 0 ? first : last) = loss.item();
    }
    EXPECT_LT(last, first);  // it trains
    EXPECT_GT(in_use(), baseline);
  }
  EXPECT_EQ(in_use(), baseline);  // model, optimizer state, gradients and activations are gone
}
