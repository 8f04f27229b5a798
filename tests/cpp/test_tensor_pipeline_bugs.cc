// Minimal reproductions of bugs found by the tensor op tests in code outside tensor/*.cc ops
// (tensor.cc core, schedule, codegen, render, engine). Each is disabled until fixed; the name
// says where the bug is. Run them with --gtest_also_run_disabled_tests.
#include "femtograd/base/flags.h"
#include "tensor_ref.h"

using namespace fgt;

// tensor.cc Tensor::eye: for n > m + 1 the tiled (m+1)-pattern wraps into the rows below the
// diagonal: eye(4, 2) has a 1 at [3, 0]
TEST(TensorPipelineBugs, EyeTallerThanWide) {
  std::vector<float> e = Tensor::eye(4, 2).to_vector<float>();
  EXPECT_EQ(e, (std::vector<float>{1, 0, 0, 1, 0, 0, 0, 0}));
}


// codegen/lower.cc: a load whose index does not depend on a reduce's loop was hoisted above the
// loop even when the loop runs zero times: the sum over an empty axis read element 0 of an empty
// buffer (`const float val0 = data1[0];` before `for (ridx1000 = 0; ridx1000 < 0; ...)`).
// CHECK_OOB=1 found it; an empty reduce now lowers to its identity.
TEST(TensorPipelineBugs, EmptyReduceLoadsBeforeItsLoop) {
  Tensor t = Tensor::from_vector<float>({}, {0, 3});
  EXPECT_EQ(t.sum({0}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(t.prod({0}).to_vector<float>(), (std::vector<float>{1, 1, 1}));
  try {  // and z3 proves the kernel in bounds (where the build has z3)
    fg::Context ctx{{"CHECK_OOB", 1}};
    Tensor u = Tensor::from_vector<float>({}, {3, 0});
    EXPECT_EQ(u.sum({1}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  } catch (const fg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("z3"), std::string::npos) << e.what();  // built without z3
  }
}

// codegen parameters: a buffer whose every read simplifies away (x != x of an integer buffer is
// false) is still a parameter of the kernel; its slot once had no dtype and render_c failed with
// "no C type for void"
TEST(TensorPipelineBugs, KernelWhoseBufferReadFoldsAway) {
  Tensor i = Tensor::from_vector<int32_t>({3, -1, 7, 0, 2}, {5});
  Tensor f = Tensor::from_vector<float>({1, 2, 3, 4, 5}, {5});
  Tensor r = f + i.ne(i).cast(dt::float32) * 10;
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5}));
}

// render_c bool vectors: a lane is a mask (-1 true), so max/sum over bools is "or" and
// false < true; a vectorized any() over a reduce axis of 2, 4 and 8 lanes once gave false for
// [false, true] (max(0, -1) = 0)
TEST(TensorPipelineBugs, VectorizedBoolReduces) {
  for (int64_t w : {2, 4, 8, 16}) {
    std::vector<float> v(static_cast<size_t>(3 * w), 0.0f);
    v[static_cast<size_t>(w - 1)] = 1;      // row 0: only the last lane true
    v[static_cast<size_t>(2 * w)] = 1;      // row 2: only the first lane true
    Tensor t = Tensor::from_vector(v, {3, w});
    Tensor b = t.gt(0.5);
    EXPECT_EQ(b.any({1}).cast(dt::int32).to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 1})) << w;
    EXPECT_EQ(b.all({1}).cast(dt::int32).to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 0})) << w;
    // false < true per lane, in a vectorized elementwise kernel
    Tensor lt = t.lt(0.5).lt(b);
    std::vector<int32_t> want(v.size());
    for (size_t k = 0; k < v.size(); k++) want[k] = (v[k] < 0.5f) < (v[k] > 0.5f);
    EXPECT_EQ(lt.cast(dt::int32).to_vector<int32_t>(), want) << w;
  }
}
