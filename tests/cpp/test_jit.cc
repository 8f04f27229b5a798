// TinyJit: capture on the second call, replay on new inputs, refuse changed inputs.
#include <gtest/gtest.h>

#include "femtograd/base/error.h"
#include "femtograd/engine/realize.h"
#include "femtograd/tensor/jit.h"

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
