// Minimal reproductions of bugs found by the tensor op tests in code outside tensor/*.cc ops
// (tensor.cc core, schedule, codegen, render, engine). Each is disabled until fixed; the name
// says where the bug is. Run them with --gtest_also_run_disabled_tests.
#include "tensor_ref.h"

using namespace fgt;

// tensor.cc Tensor::eye: for n > m + 1 the tiled (m+1)-pattern wraps into the rows below the
// diagonal: eye(4, 2) has a 1 at [3, 0]
TEST(TensorPipelineBugs, EyeTallerThanWide) {
  std::vector<float> e = Tensor::eye(4, 2).to_vector<float>();
  EXPECT_EQ(e, (std::vector<float>{1, 0, 0, 1, 0, 0, 0, 0}));
}

