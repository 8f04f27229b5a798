// Kernel metadata: every kernel of a small conv-net training step (forward, backward, optimizer)
// says which user-level ops it came from, with the caller's file:line, and DEBUG=2 prints it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "femtograd/base/flags.h"
#include "femtograd/engine/realize.h"
#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/tensor/metadata.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

namespace {
std::string here(int line) { return "test_metadata.cc:" + std::to_string(line); }

// the kernels whose metadata holds an entry named `name` (backward or not) with caller `caller`
int count(const std::vector<ExecItem>& items, const std::string& name, bool backward, const std::string& caller) {
  int n = 0;
  for (const ExecItem& it : items) {
    bool hit = false;
    for (const MetadataRef& m : it.metadata) hit = hit || (m->name == name && m->backward == backward && m->caller == caller);
    n += hit;
  }
  return n;
}
}  // namespace

TEST(Metadata, ConvNetTrainingStep) {
  Tensor::manual_seed(0);
  nn::Conv2d conv(1, 4, {3, 3});
  nn::Linear fc(4 * 3 * 3, 10);
  std::vector<Tensor*> params{&conv.weight, &conv.bias, &fc.weight, &fc.bias};
  for (Tensor* p : params) p->requires_grad_();
  nn::Adam opt(params, 1e-3);
  Tensor x = Tensor::rand({2, 1, 8, 8}).realize();
  Tensor y = Tensor::from_vector<int64_t>({3, 7}, {2});

  std::vector<ExecItem> items;
  set_capture(&items);
  opt.zero_grad();
  const int conv_line = __LINE__ + 1;
  Tensor h = max_pool2d(conv(x).relu(), {2, 2}).reshape({2, -1});
  const int fc_line = __LINE__ + 1;
  Tensor loss = cross_entropy(fc(h), y);
  loss.backward();
  const int step_line = __LINE__ + 1;
  opt.step({&loss});
  set_capture(nullptr);
  ASSERT_GT(items.size(), 10u);

  // forward and backward kernels of each layer name the layer and the line that called it
  EXPECT_GE(count(items, "Conv2d", false, here(conv_line)), 1);
  EXPECT_GE(count(items, "Conv2d", true, here(conv_line)), 1);  // the weight's gradient
  EXPECT_GE(count(items, "Linear", false, here(fc_line)), 1);
  EXPECT_GE(count(items, "Linear", true, here(fc_line)), 2);  // the input's and the weight's gradients
  // the update of every parameter, its moments and the step count are Adam.step's
  EXPECT_GE(count(items, "Adam.step", false, here(step_line)), static_cast<int>(params.size()) * 2);
  // ops outside layers are named by what they are
  int relu_bw = 0;
  for (const ExecItem& it : items)
    for (const MetadataRef& m : it.metadata) relu_bw += m->name == "max" && m->backward;
  EXPECT_GE(relu_bw, 1);  // relu and max_pool2d are max
  // every kernel knows something about where it came from
  for (const ExecItem& it : items) EXPECT_FALSE(it.metadata.empty()) << it.kernel->prog.name;

  // DEBUG=2 prints the metadata on each kernel's line; replays (JIT) keep it
  testing::internal::CaptureStderr();
  {
    Context ctx{{"DEBUG", 2}};
    for (const ExecItem& it : items) run_exec_item(it);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Conv2d@" + here(conv_line)), std::string::npos) << err;
  EXPECT_NE(err.find("Conv2d(bw)@" + here(conv_line)), std::string::npos) << err;
  EXPECT_NE(err.find("[Adam.step@" + here(step_line) + "]"), std::string::npos) << err;
}

TEST(Metadata, OuterScopeWinsAndSourceLocationNamesTheCaller) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3});
  std::vector<ExecItem> items;
  set_capture(&items);
  {
    const int line = __LINE__ + 1;
    OpScope scope("my_block");
    Tensor b = (a * 2).exp().sum();  // everything inside is my_block's
    b.realize();
    ASSERT_EQ(items.size(), 1u);
    ASSERT_EQ(items[0].metadata.size(), 1u);
    EXPECT_EQ(items[0].metadata[0]->str(), "my_block@" + here(line));
  }
  items.clear();
  Tensor c = (a + 1).sqrt();  // no scope: named by its ops
  c.realize();
  set_capture(nullptr);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(metadata_str(items[0].metadata), "[add, sqrt]");
}
