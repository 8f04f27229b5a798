// Buffer lifetimes: a buffer lives exactly as long as some tensor or lazy graph needs it.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/jit.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

namespace {
// the memory of the device the tensors live on (DEV=CUDA runs the suite on the GPU)
size_t in_use() { return get_device(default_device()).allocator().stats().in_use; }
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

// A jitted training step of a conv net with dropout (random numbers every step), Adam and an lr
// schedule: after N replays, dropping the model, the optimizer and the JIT gives every byte back.
TEST(Memory, JittedConvNetTrainingThenDroppingEverythingReturnsToBaseline) {
  Tensor::rand({1}).realize();  // the RNG state lives as long as the program
  size_t baseline = in_use();
  {
    TrainingScope training(true);
    nn::Conv2d conv(1, 4, {3, 3});
    nn::Linear fc(4 * 3 * 3, 10);
    std::vector<Tensor*> params{&conv.weight, &conv.bias, &fc.weight, &fc.bias};
    for (Tensor* p : params) p->requires_grad_();
    nn::Adam opt(params, 1e-2);
    nn::StepLR sched(opt, 2, 0.5);
    Tensor y = Tensor::from_vector<int64_t>({3, 7}, {2});
    TinyJit step([&](const std::vector<Tensor>& in) {
      opt.zero_grad();
      Tensor h = max_pool2d(conv(in[0]).relu(), {2, 2}).reshape({2, -1});
      Tensor loss = cross_entropy(fc(dropout(h, 0.25)), y);
      loss.backward();
      opt.step({&loss});
      sched.step();
      return std::vector<Tensor>{loss};
    });
    size_t after_capture = 0;
    for (int i = 0; i < 8; i++) {
      Tensor x = Tensor::rand({2, 1, 8, 8}).realize();
      EXPECT_TRUE(std::isfinite(step({x})[0].item()));
      if (i == 2) after_capture = in_use();
    }
    EXPECT_TRUE(step.captured());
    EXPECT_LE(in_use(), after_capture);  // replays allocate nothing new
  }
  EXPECT_EQ(in_use(), baseline);  // model, optimizer state, captured buffers and random state of the calls
}
