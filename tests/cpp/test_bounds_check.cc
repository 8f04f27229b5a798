// CHECK_OOB: z3 proves the loads and stores of real kernels in bounds (a broad set of ops, forward
// and backward, with and without optimizations), and catches kernels built by hand with broken
// indices, naming the kernel, the buffer and a counterexample.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/codegen/bounds_check.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/runtime/device.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

namespace {

// out[r] = in[r + shift] for r in [0, n), optionally gated by `r + shift < limit`: a program built by
// hand the way linearize() lays one out
KernelProgram shifted_copy(int64_t n, int64_t in_size, int64_t shift, std::optional<int64_t> limit = {},
                           int width = 1) {
  KernelProgram k;
  k.name = "E_broken_" + std::to_string(n);
  DType f = dtypes::float32;
  UOpRef out = UOp::make(Op::DEFINE_GLOBAL, f.ptr(n), {}, Arg(int64_t{0}));
  UOpRef in = UOp::make(Op::DEFINE_GLOBAL, f.ptr(in_size), {}, Arg(int64_t{1}));
  UOpRef r = UOp::range(UOp::cnst_int(dtypes::index, n / width), 0, AXIS_LOOP);
  UOpRef base = width > 1 ? r * UOp::cnst_int(dtypes::index, width) : r;
  UOpRef src_idx = base + UOp::cnst_int(dtypes::index, shift);
  std::vector<UOpRef> isrc{in, src_idx};
  if (limit) isrc.push_back(src_idx->alu(Op::CMPLT, UOp::cnst_int(dtypes::index, *limit)));
  UOpRef in_index = UOp::make(Op::INDEX, in->dtype, isrc);
  DType vt = f.vec(width);
  UOpRef alt = width > 1 ? UOp::make(Op::VECTORIZE, vt, std::vector<UOpRef>(width, UOp::cnst(f, 0))) : UOp::cnst(f, 0);
  UOpRef ld = limit ? UOp::make(Op::LOAD, vt, {in_index, alt}) : UOp::make(Op::LOAD, vt, {in_index});
  UOpRef st = UOp::make(Op::STORE, dtypes::void_, {UOp::make(Op::INDEX, out->dtype, {out, base}), ld});
  UOpRef end = UOp::make(Op::END, dtypes::void_, {st, r});
  k.lines = {out, in, r, base, src_idx};
  if (limit) k.lines.push_back(isrc[2]);
  k.lines.insert(k.lines.end(), {in_index, ld, st->src(0), st, end});
  k.params = {out->dtype, in->dtype};
  return k;
}

std::string oob_error(const KernelProgram& k, const std::vector<int64_t>& sizes = {}) {
  try {
    check_bounds(k, sizes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(BoundsCheck, CatchesAHandBuiltBrokenIndex) {
  if (!bounds_check_available()) GTEST_SKIP() << "built without z3";
  EXPECT_EQ(oob_error(shifted_copy(16, 16, 0)), "");  // in bounds: proved
  std::string e = oob_error(shifted_copy(16, 16, 1));  // reads in[16] at r = 15
  EXPECT_NE(e.find("CHECK_OOB: kernel E_broken_16"), std::string::npos) << e;
  EXPECT_NE(e.find("load from buffer 1 (float32, 16 elements)"), std::string::npos) << e;
  EXPECT_NE(e.find("index 16 when ridx0=15"), std::string::npos) << e;
  // the gate makes the same access safe; a gate that admits one element too many does not
  EXPECT_EQ(oob_error(shifted_copy(16, 16, 1, 16)), "");
  e = oob_error(shifted_copy(16, 16, 1, 17));
  EXPECT_NE(e.find("index 16 when ridx0=15"), std::string::npos) << e;
  // a negative index is out of bounds too
  e = oob_error(shifted_copy(16, 16, -3));
  EXPECT_NE(e.find("index -"), std::string::npos) << e;
  // a vector access covers width elements: 4-wide loads of in[4r + 1 ...] overrun at r = 3
  EXPECT_EQ(oob_error(shifted_copy(16, 16, 0, {}, 4)), "");
  e = oob_error(shifted_copy(16, 16, 1, {}, 4));
  EXPECT_NE(e.find("index 13 (a 4-wide access) when ridx0=3"), std::string::npos) << e;
  // the store: out declared 16 but the real buffer behind parameter 0 has 8 elements
  e = oob_error(shifted_copy(16, 16, 0), {8, 16});
  EXPECT_NE(e.find("store to buffer 0 (float32, 8 elements)"), std::string::npos) << e;
}

// A loop that runs zero times proves nothing about the code outside it (its bounds are assumed only
// for the accesses inside it), and an access inside it never runs.
TEST(BoundsCheck, AnEmptyLoopCoversOnlyItsOwnBody) {
  if (!bounds_check_available()) GTEST_SKIP() << "built without z3";
  KernelProgram k = shifted_copy(16, 16, 1);  // broken: reads in[16]
  DType f = dtypes::float32;
  UOpRef empty = UOp::range(UOp::cnst_int(dtypes::index, 0), 7, AXIS_LOOP);
  UOpRef far = UOp::make(Op::INDEX, f.ptr(16), {k.lines[1], empty + UOp::cnst_int(dtypes::index, 100)});
  UOpRef ld = UOp::make(Op::LOAD, f, {far});
  UOpRef end = UOp::make(Op::END, dtypes::void_, {ld, empty});
  k.lines.insert(k.lines.begin() + 2, {empty, far->src(1), far, ld, end});  // before the copy's loop
  std::string e = oob_error(k);
  EXPECT_NE(e.find("index 16 when ridx0=15"), std::string::npos) << e;  // still caught
  EXPECT_EQ(e.find("ridx7"), std::string::npos) << e;                   // in[100] in the empty loop: fine
}

TEST(BoundsCheck, EngineChecksBeforeTheKernelRuns) {
  if (!bounds_check_available()) GTEST_SKIP() << "built without z3";
  Context ctx{{"CHECK_OOB", 1}};
  ExecItem it;
  it.device = "CPU";
  auto ck = std::make_shared<CompiledKernel>();
  ck->prog = shifted_copy(16, 16, 1);  // no program: the check must stop it before it would run
  it.kernel = ck;
  it.bufs = {Buffer::create(get_device("CPU"), dtypes::float32, 16), Buffer::create(get_device("CPU"), dtypes::float32, 16)};
  try {
    run_exec_item(it);
    FAIL() << "expected CHECK_OOB to stop the kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 16 when ridx0=15"), std::string::npos) << e.what();
  }
}

TEST(BoundsCheck, WithoutZ3TheFlagSaysSo) {
  if (bounds_check_available()) GTEST_SKIP() << "built with z3";
  EXPECT_THROW(check_bounds(shifted_copy(16, 16, 0)), Error);
}

// A broad set of ops, forward and backward (a small conv net), random numbers included: the values
// to realize, still lazy
std::vector<Tensor> op_set() {
  Tensor::manual_seed(1);
  Tensor a = Tensor::rand({5, 7}), b = Tensor::rand({7, 3}), v = Tensor::rand({7});
  std::vector<Tensor> outs;
  outs.push_back(a + v);                                          // broadcast
  outs.push_back(a.matmul(b));                                    // reduce with upcasts
  outs.push_back(a.sum({1}));
  outs.push_back(a.max({0}, true));
  outs.push_back(a.sum());
  outs.push_back(Tensor::rand({3000}).sum());                     // a large reduce, split in two
  outs.push_back(a.permute({1, 0}).contiguous());
  outs.push_back(a.pad({{1, 2}, {0, 3}}, 1.5));
  outs.push_back(a.shrink({{1, 4}, {2, 7}}).flip({0, 1}).contiguous());
  outs.push_back(a.reshape({35}).reshape({7, 5}).T().contiguous());
  outs.push_back(Tensor::cat({a, a * 2}, 1));
  outs.push_back(a.cumsum(1));
  outs.push_back(a.softmax(1));
  outs.push_back(a.argmax(1));
  outs.push_back(a.tril(1));
  outs.push_back(a.repeat({2, 3}));
  Tensor idx = Tensor::randint({5, 4}, 0, 7, dtypes::int64);
  outs.push_back(a.gather(1, idx));
  outs.push_back(a.scatter(1, idx, 2.0));
  outs.push_back(Tensor::arange(10) * 3);
  outs.push_back(Tensor::eye(4, 6));
  outs.push_back(Tensor::randn({33}));
  outs.push_back(Tensor::rand({64, 48}).matmul(Tensor::rand({48, 40})));  // big enough to vectorize
  Tensor img = Tensor::rand({2, 3, 9, 11});
  Tensor w = Tensor::rand({4, 3, 3, 3});
  outs.push_back(conv2d(img, w, {}, ConvOpts{.stride = {2}, .padding = {1}}));
  outs.push_back(max_pool2d(img, {2, 2}));
  outs.push_back(avg_pool2d(img, {3, 3}, PoolOpts{.stride = Ints{2}, .padding = {1}}));
  outs.push_back(interpolate(img, {5, 7}, InterpMode::Linear));
  outs.push_back(layernorm(a));
  // backward of a small conv net
  Tensor x = Tensor::rand({2, 3, 8, 8}), w1 = Tensor::rand({4, 3, 3, 3}), w2 = Tensor::rand({4 * 3 * 3, 5});
  w1.requires_grad_();
  w2.requires_grad_();
  Tensor h = max_pool2d(conv2d(x, w1).relu(), {2, 2});
  Tensor loss = h.reshape({2, -1}).matmul(w2).softmax(1).sum();
  loss.backward();
  outs.push_back(w1.grad());
  outs.push_back(w2.grad());
  return outs;
}

TEST(BoundsCheck, ProvesABroadOpSetInBounds) {
  if (!bounds_check_available()) GTEST_SKIP() << "built without z3";
  std::vector<Tensor> outs = op_set();
  std::vector<UOpRef> roots;
  for (const Tensor& t : outs) roots.push_back(t.uop());
  Schedule sched = create_schedule(roots);
  // every kernel, generated with and without optimizations, is proved in bounds
  for (int noopt : {0, 1}) {
    Context ctx{{"NOOPT", noopt}};
    int64_t proved = 0, kernels = 0;
    for (const ScheduleItem& it : sched.items) {
      if (it.kind != ScheduleItem::Kind::Kernel) continue;
      std::vector<int64_t> sizes;
      for (const UOpRef& b : it.bufs) sizes.push_back(b->arg.as_int());
      KernelProgram prog = codegen(it.ast, Target{});
      try {
        proved += check_bounds(prog, sizes);
      } catch (const Error& e) {
        ADD_FAILURE() << (noopt ? "NOOPT=1: " : "") << e.what();
      }
      kernels++;
    }
    EXPECT_GT(kernels, 30);
    EXPECT_GT(proved, 2 * kernels);  // at least a load and a store each
  }
  // and the engine checks what it runs under CHECK_OOB=1
  Context ctx{{"CHECK_OOB", 1}};
  std::vector<Tensor*> ptrs;
  for (Tensor& t : outs) ptrs.push_back(&t);
  EXPECT_NO_THROW(Tensor::realize_all(ptrs));
}
