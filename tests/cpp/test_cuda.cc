// CUDA: codegen for GPUs (thread mapping, GPU opts), the CUDA renderer compiled by NVRTC (runs
// without a GPU: NVRTC is in the toolkit), device names, and, where a GPU is present, the device
// itself against the CPU. GPU tests skip cleanly on machines without one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/codegen/codegen.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/engine/realize.h"
#include "femtograd/render/cuda.h"
#include "femtograd/runtime/cuda/cuda_api.h"
#include "femtograd/runtime/cuda/cuda_check.h"
#include "femtograd/runtime/cuda/cuda_device.h"
#include "femtograd/runtime/cuda/nvrtc_compiler.h"
#include "femtograd/runtime/device.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/jit.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;

namespace {

bool have_gpu() {
  static bool g = cuda_device_count() > 0;
  return g;
}

std::vector<float> randv(size_t n, uint32_t seed, float lo = -2, float hi = 2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Tensor cpu(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s, "CPU"); }

std::vector<UOpRef> kernel_asts(const std::vector<Tensor>& ts) {
  std::vector<UOpRef> roots;
  for (const Tensor& t : ts) roots.push_back(t.uop());
  std::vector<UOpRef> out;
  for (const ScheduleItem& it : create_schedule(roots).items)
    if (it.kind == ScheduleItem::Kind::Kernel) out.push_back(it.ast);
  return out;
}

// a representative set of the op suite's kernels: elementwise math, casts to every float format,
// integer and bit ops, reductions of every kind and shape, matmul, conv, scans, random numbers
std::vector<Tensor> op_set() {
  Tensor a = cpu(randv(37 * 61, 1), {37, 61}), b = cpu(randv(37 * 61, 2), {37, 61});
  Tensor p = cpu(randv(37 * 61, 3, 0.1f, 3), {37, 61});
  Tensor x = cpu(randv(8 * 3 * 17 * 19, 4), {8, 3, 17, 19}), w = cpu(randv(16 * 3 * 3 * 3, 5), {16, 3, 3, 3});
  Tensor i = a.mul(100).cast(dtypes::int32), j = b.mul(7).cast(dtypes::int32).abs().add(1);
  std::vector<Tensor> ts = {
      a.add(b).mul(a).sub(b.div(p)),
      p.log().add(a.exp()).add(a.sin()).add(p.sqrt()).add(a.tanh()).add(a.sigmoid()),
      a.pow(cpu(randv(37 * 61, 6, 0.5f, 2), {37, 61})).add(p.pow(b)),
      a.lt(b).where(a, b).add(a.maximum(b)).add(a.trunc()).add(a.reciprocal()),
      a.cast(dtypes::float16).mul(b.cast(dtypes::float16)).cast(dtypes::float32),
      a.cast(dtypes::bfloat16).add(b.cast(dtypes::bfloat16)).cast(dtypes::float32),
      a.cast(dtypes::fp8e4m3).cast(dtypes::float32).add(a.cast(dtypes::fp8e5m2).cast(dtypes::float32)),
      a.cast(dtypes::float64).exp().cast(dtypes::float32),
      i.idiv(j).add(i.mod(j)).add(i.lshift(2)).add(i.rshift(1)).bitwise_xor(j).bitwise_and(i),
      a.cast(dtypes::uint8).cast(dtypes::int64).add(a.cast(dtypes::int8).cast(dtypes::int64)),
      a.bitcast(dtypes::int32).add(1).bitcast(dtypes::float32),
      a.cast(dtypes::bool_).logical_not().cast(dtypes::float32),
      a.sum({1}), a.sum({0}), a.max({1}), a.max({0}), a.sum(), a.prod({1}), i.sum({1}), i.max({0}),
      a.cast(dtypes::float16).sum({1}).cast(dtypes::float32),
      a.softmax(1), a.logsumexp(1), layer_norm(a, {61}), a.argmax(1).cast(dtypes::float32),
      cpu(randv(64 * 4096, 7), {64, 4096}).sum({1}), cpu(randv(64 * 4096, 8), {64, 4096}).max({1}),
      cpu(randv(40 * 72, 9), {40, 72}).matmul(cpu(randv(72 * 56, 10), {72, 56})),
      cpu(randv(3 * 17 * 33, 11), {3, 17, 33}).matmul(cpu(randv(3 * 33 * 9, 12), {3, 33, 9})),
      conv2d(x, w, {}, ConvOpts{.padding = Padding(1)}),
      a.cumsum(1), a.pad({{2, 1}, {0, 3}}).flip({0}).permute({1, 0}).add(1),
      Tensor::rand({1000}, dtypes::float32, "CPU"),
  };
  return ts;
}

}  // namespace

TEST(CudaCodegen, NvrtcCompilesRepresentativeKernels) {
  if (!cuda::nvrtc_available()) GTEST_SKIP() << "no NVRTC (CUDA toolkit) on this machine";
  int n = 0;
  bool saw_group = false, saw_vector = false, saw_half = false;
  for (const UOpRef& ast : kernel_asts(op_set())) {
    std::string src = check_cuda_compile(ast);  // throws with NVRTC's log when it does not compile
    EXPECT_NE(src.find("__global__"), std::string::npos);
    saw_group |= src.find("fg_group_reduce<") != std::string::npos;
    saw_vector |= src.find("fg_vec<float, 4>") != std::string::npos;
    saw_half |= src.find("__float2half_rn") != std::string::npos;
    n++;
  }
  EXPECT_GE(n, 30);
  EXPECT_TRUE(saw_group) << "a row reduction should split over a thread group";
  EXPECT_TRUE(saw_vector) << "contiguous float32 work should use 16-byte vectors";
  EXPECT_TRUE(saw_half);
}

TEST(CudaCodegen, ElementwiseUsesVectorsAndBlocks) {
  Tensor a = cpu(randv(1 << 20, 1), {1 << 20});
  auto asts = kernel_asts({a.mul(2).add(1)});
  ASSERT_EQ(asts.size(), 1u);
  KernelProgram k = codegen(asts[0], cuda_target());
  EXPECT_EQ(k.local_size[0], 256);
  EXPECT_EQ(k.global_size[0], (1 << 20) / 4 / 256);
  bool vec = false;
  for (const Opt& o : k.opts) vec |= o.kind == Opt::Kind::VECTOR && o.amount == 4;
  EXPECT_TRUE(vec);
  std::string src = render_cuda(k);
  EXPECT_NE(src.find("blockIdx.x"), std::string::npos);
  EXPECT_NE(src.find("threadIdx.x"), std::string::npos);
  EXPECT_NE(src.find("const int "), std::string::npos) << "index math fits in 32 bits:\n" << src;
}

TEST(CudaCodegen, RowReduceSplitsOverAThreadGroup) {
  auto asts = kernel_asts({cpu(randv(64 * 4096, 1), {64, 4096}).sum({1})});
  ASSERT_EQ(asts.size(), 1u);
  KernelProgram k = codegen(asts[0], cuda_target());
  EXPECT_EQ(k.local_size[0], 256);
  EXPECT_EQ(k.global_size[0], 64);
  ASSERT_FALSE(k.opts.empty());
  EXPECT_EQ(k.opts[0].kind, Opt::Kind::GROUP);
  EXPECT_EQ(opt_str(k.opts[0]), "GROUP(1000, 256)");
}

TEST(CudaCodegen, OddReducesArePaddedToAThreadGroup) {
  // 61 and 999 have no power-of-two divisor of 32 or more: padded to 64 and 1024 (the extra lanes
  // add the identity) and split over a group rather than looped by one thread per output
  for (auto [cols, group] : {std::pair<int64_t, int64_t>{61, 64}, {999, 256}}) {
    auto asts = kernel_asts({cpu(randv(37 * cols, 3), {37, cols}).max({1})});
    ASSERT_EQ(asts.size(), 1u);
    KernelProgram k = codegen(asts[0], cuda_target());
    std::string opts;
    for (const Opt& o : k.opts) opts += opt_str(o) + " ";
    int64_t padded = (cols + group - 1) / group * group;
    EXPECT_NE(opts.find("PADTO(1000, " + std::to_string(group) + ")"), std::string::npos) << opts << padded;
    EXPECT_NE(opts.find("GROUP(1000, " + std::to_string(group) + ")"), std::string::npos) << opts;
    EXPECT_EQ(k.local_size[0], group);
    if (cuda::nvrtc_available()) check_cuda_compile(asts[0]);
  }
}

TEST(CudaCodegen, RowKernelIsOneBlockARow) {
  // softmax fused into one kernel: a block per row, its max, sum and output loop all split over the
  // block's 256 threads (two group reduces), every thread reading the row again from cache
  auto asts = kernel_asts({cpu(randv(1024 * 4096, 1), {1024, 4096}).softmax(1)});
  ASSERT_EQ(asts.size(), 1u);
  KernelProgram k = codegen(asts[0], cuda_target());
  EXPECT_EQ(k.global_size[0], 1024);
  EXPECT_EQ(k.local_size[0], 256);
  int groups = 0;
  for (const Opt& o : k.opts) groups += o.kind == Opt::Kind::GROUP && o.amount == 256;
  EXPECT_EQ(groups, 3);
  std::string src = render_cuda(k);
  size_t reduces = 0;
  for (size_t at = src.find("fg_group_reduce<"); at != std::string::npos; at = src.find("fg_group_reduce<", at + 1)) reduces++;
  EXPECT_EQ(reduces, 2u) << src;  // the max and the sum
  if (cuda::nvrtc_available()) check_cuda_compile(asts[0]);
  // a row over two axes that do not merge (a permuted input): each pass splits one of its ranges over
  // the group and loops over the other, the outer row axis stays a loop in each thread; the work is
  // that of reading the row a few times, not of every thread running the passes again
  Tensor p = cpu(randv(64 * 33 * 40, 5), {64, 40, 33}).permute({0, 2, 1});
  auto ln = kernel_asts({layernorm(p, {-2, -1}, 1e-5)});
  ASSERT_EQ(ln.size(), 1u);
  KernelProgram l = codegen(ln[0], cuda_target());
  EXPECT_EQ(l.global_size[0] * l.local_size[1], 64);  // the rows: blocks x rows a block
  EXPECT_LT(l.flops, 64 * 33 * 40 * 64) << "the passes run once a row";
  std::string opts;
  for (const Opt& o : l.opts) opts += opt_str(o) + " ";
  EXPECT_NE(opts.find("GROUP(1000, 64)"), std::string::npos) << "the mean's contiguous range: " << opts;
  if (cuda::nvrtc_available()) check_cuda_compile(ln[0]);
  // two sums down the columns in one kernel: not a row kernel (its group would read with a stride),
  // a thread a column as before
  Tensor c1 = cpu(randv(512 * 300, 6), {512, 300}), c2 = cpu(randv(512 * 300, 7), {512, 300});
  auto cols = kernel_asts({c1.sum({0}).add(c2.max({0}))});
  ASSERT_EQ(cols.size(), 1u);
  KernelProgram cs = codegen(cols[0], cuda_target());
  for (const Opt& o : cs.opts) EXPECT_NE(o.kind, Opt::Kind::GROUP) << opt_str(o);
  // long rows (a 32000-word vocabulary): 1024 threads a row, so few rows are in flight on an SM and
  // the later passes find them in L2
  KernelProgram vocab = codegen(kernel_asts({cpu(randv(300 * 32000, 8), {300, 32000}).log_softmax(1)})[0], cuda_target());
  EXPECT_EQ(vocab.local_size[0], 1024);
  EXPECT_EQ(vocab.global_size[0], 300);
  // few rows: a wider group (16 rows of 4096 on 512 threads each)
  KernelProgram few = codegen(kernel_asts({cpu(randv(16 * 4096, 4), {16, 4096}).softmax(1)})[0], cuda_target());
  EXPECT_EQ(few.local_size[0], 256 * 2);
  // short rows of an odd length: padded to a 64-thread group, four rows a block
  auto short_rows = kernel_asts({cpu(randv(100 * 50, 2), {100, 50}).log_softmax(1)});
  ASSERT_EQ(short_rows.size(), 1u);
  KernelProgram s = codegen(short_rows[0], cuda_target());
  EXPECT_EQ(s.local_size[0], 64);
  EXPECT_EQ(s.local_size[1], 4);
  EXPECT_EQ(s.global_size[0], 25);
  if (cuda::nvrtc_available()) check_cuda_compile(short_rows[0]);
}

TEST(CudaCodegen, MatmulStagesTilesInSharedMemory) {
  Context unpacked{{"MATMUL_PACK", 0}};  // the CPU tensors' matmul as one kernel, as on a GPU
  auto asts = kernel_asts({cpu(randv(2048 * 64, 1), {2048, 64}).matmul(cpu(randv(64 * 2048, 2), {64, 2048}))});
  ASSERT_EQ(asts.size(), 1u);
  KernelProgram k = codegen(asts[0], cuda_target());
  ASSERT_FALSE(k.opts.empty());
  EXPECT_EQ(opt_str(k.opts[0]), "STAGE(1000, 16)");
  EXPECT_EQ(k.local_size[0] * k.local_size[1], 256);
  EXPECT_EQ(k.global_size[0] * k.global_size[1], 16 * 16) << "128x128 outputs a block";
  std::string src = render_cuda(k);
  EXPECT_NE(src.find("__shared__"), std::string::npos) << src;
  EXPECT_NE(src.find("__syncthreads();"), std::string::npos) << src;
  if (cuda::nvrtc_available()) check_cuda_compile(asts[0]);
  // the same opts given explicitly; STAGE after another opt does not apply
  KernelProgram again = codegen(asts[0], cuda_target(), &k.opts);
  EXPECT_EQ(render_cuda(again), src);
  std::vector<Opt> late = {{Opt::Kind::LOCAL, 0, 16}, {Opt::Kind::STAGE, 1000, 16}};
  EXPECT_THROW(codegen(asts[0], cuda_target(), &late), Error);
  std::vector<Opt> uneven = {{Opt::Kind::STAGE, 1000, 16}, {Opt::Kind::LOCAL, 0, 48}};
  EXPECT_THROW(codegen(asts[0], cuda_target(), &uneven), Error);  // 48 does not divide 2048
}

// log2 of a half type takes the hardware approximation (its error is far below half precision);
// float32 keeps the exact libdevice function
TEST(CudaCodegen, HalfTypesUseVectorsAndStagedMatmuls) {
  // 2-byte types load and store 8 lanes (16 bytes) at a time, widened to float for the math; their
  // matmuls take the staged shared-memory tiles with float products
  for (DType dt : {dtypes::float16, dtypes::bfloat16}) {
    Tensor a = cpu(randv(1 << 16, 1), {1 << 16}).cast(dt).realize(), b = cpu(randv(1 << 16, 2), {1 << 16}).cast(dt).realize();
    auto ew = kernel_asts({a.mul(b).add(a)});
    ASSERT_EQ(ew.size(), 1u);
    std::string src = render_cuda(codegen(ew[0], cuda_target()));
    EXPECT_NE(src.find("fg_vec<unsigned short, 8>"), std::string::npos) << src;
    if (cuda::nvrtc_available()) check_cuda_compile(ew[0]);
    Context unpacked{{"MATMUL_PACK", 0}};
    Tensor x = cpu(randv(512 * 256, 3), {512, 256}).cast(dt).realize(), y = cpu(randv(256 * 512, 4), {256, 512}).cast(dt).realize();
    auto mm = kernel_asts({x.matmul(y)});
    ASSERT_EQ(mm.size(), 1u);
    KernelProgram k = codegen(mm[0], cuda_target());
    bool staged = false;
    for (const Opt& o : k.opts) staged |= o.kind == Opt::Kind::STAGE;
    EXPECT_TRUE(staged) << dt.name();
    if (cuda::nvrtc_available()) check_cuda_compile(mm[0]);
  }
}

TEST(CudaCodegen, ConvTileDeepensAlongRowsAndUnrollsTheWindow) {
  // a 3x3 conv: 4 columns (vector) x 4 output channels x 4 output rows a thread, the kernel-row
  // window unrolled so the 4 rows share the input rows they overlap; a 5x5 window stays a loop
  Tensor x = cpu(randv(2 * 16 * 28 * 28, 1), {2, 16, 28, 28}), w3 = cpu(randv(16 * 16 * 9, 2), {16, 16, 3, 3});
  Tensor w5 = cpu(randv(16 * 16 * 25, 3), {16, 16, 5, 5});
  for (auto [w, unrolled] : {std::pair<Tensor, bool>{w3, true}, {w5, false}}) {
    int64_t k = w.shape()[2];
    auto asts = kernel_asts({conv2d(x, w, {}, ConvOpts{.padding = Padding(k / 2)})});
    const UOpRef& conv = asts.back();  // after the padding's copy
    KernelProgram p = codegen(conv, cuda_target());
    std::string opts;
    for (const Opt& o : p.opts) opts += opt_str(o) + " ";
    EXPECT_NE(opts.find("UPCAST(2, 4)"), std::string::npos) << opts;
    EXPECT_EQ(opts.find("UNROLL(1001, " + std::to_string(k) + ")") != std::string::npos, unrolled) << opts;
    if (cuda::nvrtc_available()) check_cuda_compile(conv);
  }
}

TEST(CudaCodegen, FastLog2OnlyForHalfTypes) {
  for (DType dt : {dtypes::float16, dtypes::bfloat16, dtypes::float32}) {
    auto asts = kernel_asts({cpu(randv(64, 3), {64}).abs().add(0.5).cast(dt).log2()});
    ASSERT_EQ(asts.size(), 1u);
    std::string src = render_cuda(codegen(asts[0], cuda_target()));
    bool half = dt != dtypes::float32;
    EXPECT_EQ(src.find("__log2f(") != std::string::npos, half) << dt.name() << "\n" << src;
    if (!half) EXPECT_NE(src.find("log2f("), std::string::npos) << src;
    if (cuda::nvrtc_available()) check_cuda_compile(asts[0]);
  }
}

TEST(CudaCodegen, ExplicitOptsAndMaskedThreads) {
  auto asts = kernel_asts({cpu(randv(100, 1), {100}).add(1)});
  ASSERT_EQ(asts.size(), 1u);
  std::vector<Opt> opts = {{Opt::Kind::LOCAL, 0, 8}};
  KernelProgram k = codegen(asts[0], cuda_target(), &opts);
  EXPECT_EQ(k.local_size[0], 8);
  EXPECT_EQ(k.global_size[0], 13);  // ceil(100 / 8): the last block masks 4 threads off
  std::string src = render_cuda(k);
  EXPECT_NE(src.find("if ("), std::string::npos) << "the store must be masked:\n" << src;
  // a GROUP whose amount does not divide the reduce, and a LOCAL of more threads than a block holds
  auto r = kernel_asts({cpu(randv(5 * 100, 1), {5, 100}).sum({1})});
  std::vector<Opt> bad = {{Opt::Kind::GROUP, 1000, 64}};
  EXPECT_THROW(codegen(r[0], cuda_target(), &bad), Error);
  std::vector<Opt> big = {{Opt::Kind::LOCAL, 0, 5}, {Opt::Kind::GROUP, 1000, 4}, {Opt::Kind::UPCAST, 0, 5}};
  EXPECT_THROW(codegen(r[0], cuda_target(), &big), Error);  // UPCAST after LOCAL on the same axis
  // a group's lanes must share one output: not the rows a reduce depends on, not a second range of a
  // grouped reduce (the lanes would only meet on the diagonal); the row kernel's split is fine
  auto rows = kernel_asts({cpu(randv(8 * 64, 4), {8, 64}).sum({1})});
  std::vector<Opt> rows_over_lanes = {{Opt::Kind::GROUP, 1000, 4}, {Opt::Kind::GROUP, 0, 4}};
  EXPECT_THROW(codegen(rows[0], cuda_target(), &rows_over_lanes), Error);
  auto two = kernel_asts({cpu(randv(4 * 16 * 16, 2), {4, 16, 16}).sum({1, 2})});
  std::vector<Opt> diagonal = {{Opt::Kind::GROUP, 1000, 4}, {Opt::Kind::GROUP, 1001, 4}};
  EXPECT_THROW(codegen(two[0], cuda_target(), &diagonal), Error);
  auto row = kernel_asts({cpu(randv(4 * 64, 3), {4, 64}).softmax(1)});
  std::vector<Opt> split = {{Opt::Kind::GROUP, 1000, 16}, {Opt::Kind::GROUP, 1001, 16}, {Opt::Kind::GROUP, 1, 16}};
  EXPECT_EQ(codegen(row[0], cuda_target(), &split).local_size[0], 16);
  if (cuda::nvrtc_available()) {
    std::vector<Opt> good = {{Opt::Kind::GROUPTOP, 1000, 4}, {Opt::Kind::LOCAL, 0, 5}};
    KernelProgram g = codegen(r[0], cuda_target(), &good);
    EXPECT_EQ(g.local_size[0], 4);
    EXPECT_EQ(g.local_size[1], 5);
    NVRTCCompiler("sm_90");  // constructible without a GPU
  }
}

TEST(CudaDevice, NamesAndErrors) {
  EXPECT_EQ(canonical_device("cuda"), "CUDA");
  EXPECT_EQ(canonical_device("cuda:0"), "CUDA");
  EXPECT_EQ(canonical_device("Cuda:3"), "CUDA:3");
  EXPECT_THROW(canonical_device("CUDA:x"), Error);
  EXPECT_THROW(canonical_device("CPU:1"), Error);
  if (have_gpu()) GTEST_SKIP() << "a GPU is present: the no-GPU error cannot be checked";
  try {
    get_device("CUDA");
    FAIL() << "expected an error without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

// ---- on a GPU -----------------------------------------------------------------------------------

#define NEED_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no NVIDIA GPU on this machine"

TEST(CudaDevice, PropertiesAndCopies) {
  NEED_GPU();
  Device& dev = get_device("CUDA");
  EXPECT_EQ(dev.renderer(), "cuda");
  const CUDAInfo& in = cuda_info(dev);
  EXPECT_GE(in.cc_major, 5);
  EXPECT_GT(in.sm_count, 0);
  EXPECT_GE(in.max_threads_per_block, 1024);
  // sizes around the 16 MiB staging buffer and odd ones
  for (size_t n : {size_t(1), size_t(1000003), size_t(5) << 20, (size_t(16) << 20) / 4 + 7}) {
    std::vector<float> v = randv(n, static_cast<uint32_t>(n));
    auto buf = Buffer::create(dev, dtypes::float32, static_cast<int64_t>(n));
    buf->copy_in(v.data(), n * 4);
    std::vector<float> back(n, -1);
    buf->copy_out(back.data(), n * 4);
    EXPECT_EQ(std::memcmp(v.data(), back.data(), n * 4), 0) << n << " floats";
  }
  EXPECT_THROW(get_device("CUDA:" + std::to_string(cuda_device_count())), Error);
}

namespace {
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); i++) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " [" << i << "]";
      continue;
    }
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << what << " [" << i << "]";
  }
}
Tensor on(const Tensor& t, const std::string& dev) {
  return Tensor::from_vector(t.to_vector<float>(), t.shape(), dev);
}
}  // namespace

TEST(CudaDevice, OpsMatchTheCPU) {
  NEED_GPU();
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> f;
    Shape sa, sb;
  };
  std::vector<Case> cases = {
      {"chain", [](auto& a, auto& b) { return a.mul(b).add(a.exp()).sub(b.sin()); }, {1000, 37}, {1000, 37}},
      {"sum rows", [](auto& a, auto&) { return a.sum({1}); }, {96, 4096}, {1}},
      {"sum cols", [](auto& a, auto&) { return a.sum({0}); }, {4096, 96}, {1}},
      {"sum all", [](auto& a, auto&) { return a.sum(); }, {1 << 20}, {1}},
      {"max rows", [](auto& a, auto&) { return a.max({1}); }, {33, 1000}, {1}},
      {"sum odd rows", [](auto& a, auto&) { return a.sum({1}); }, {37, 61}, {1}},
      {"softmax", [](auto& a, auto&) { return a.softmax(1); }, {128, 1024}, {1}},
      {"logsumexp", [](auto& a, auto&) { return a.logsumexp(1); }, {128, 999}, {1}},
      {"layernorm", [](auto& a, auto&) { return layer_norm(a, {768}); }, {64, 768}, {1}},
      // row kernels of awkward sizes: rows padded to the thread group, several rows a block, a
      // layernorm over two axes, rows longer than a group's 256 threads by one
      {"softmax odd", [](auto& a, auto&) { return a.softmax(1); }, {37, 61}, {1}},
      {"log_softmax short", [](auto& a, auto&) { return a.log_softmax(1); }, {100, 50}, {1}},
      {"layernorm 2 axes", [](auto& a, auto&) { return layernorm(a, {-2, -1}, 1e-5); }, {6, 9, 31}, {1}},
      {"layernorm permuted", [](auto& a, auto&) { return layernorm(a.permute({0, 2, 1}), {-2, -1}, 1e-5); }, {16, 40, 33}, {1}},
      {"x - mean, 1 row", [](auto& a, auto&) { return a.sub(a.mean()); }, {3000}, {1}},
      {"two column reduces", [](auto& a, auto&) { return a.sum({0}).add(a.max({0})); }, {300, 77}, {1}},
      {"layernorm transposed", [](auto& a, auto&) { return layernorm(a.permute({1, 0}), {-1}, 1e-5); }, {300, 64}, {1}},
      {"softmax 257", [](auto& a, auto&) { return a.softmax(1).mul(2); }, {9, 257}, {1}},
      {"matmul", [](auto& a, auto& b) { return a.matmul(b); }, {129, 80}, {80, 67}},
      {"matmul big", [](auto& a, auto& b) { return a.matmul(b); }, {512, 256}, {256, 384}},
      // shared-memory staged tiles (STAGE): the 64x64 and 128x128 block tiles, a transposed
      // operand, a batch, an elementwise epilogue
      {"matmul staged 64", [](auto& a, auto& b) { return a.matmul(b); }, {256, 136}, {136, 320}},
      {"matmul staged 128", [](auto& a, auto& b) { return a.matmul(b); }, {2048, 64}, {64, 1024}},
      {"matmul staged a.T", [](auto& a, auto& b) { return a.permute({1, 0}).matmul(b).relu(); }, {96, 512}, {96, 256}},
      {"matmul staged batch", [](auto& a, auto& b) { return a.matmul(b).add(1); }, {3, 128, 40}, {3, 40, 192}},
      {"conv2d", [](auto& a, auto& b) { return conv2d(a, b, {}, ConvOpts{.padding = Padding(1)}); }, {4, 8, 20, 20}, {16, 8, 3, 3}},
      {"half", [](auto& a, auto& b) { return a.cast(dtypes::float16).mul(b.cast(dtypes::float16)).cast(dtypes::float32); }, {5000}, {5000}},
      // half-type matmuls staged through shared memory (8-lane fills of 2-byte elements, float products)
      {"matmul fp16 staged", [](auto& a, auto& b) { return a.cast(dtypes::float16).matmul(b.cast(dtypes::float16)).cast(dtypes::float32); }, {256, 128}, {128, 512}},
      {"matmul bf16 staged", [](auto& a, auto& b) { return a.cast(dtypes::bfloat16).matmul(b.cast(dtypes::bfloat16)).cast(dtypes::float32); }, {128, 64}, {64, 256}},
  };
  for (const Case& c : cases) {
    Tensor a = cpu(randv(prod(c.sa), 1), c.sa), b = cpu(randv(prod(c.sb), 2), c.sb);
    std::vector<float> want = c.f(a, b).to_vector<float>();
    std::vector<float> got = c.f(on(a, "CUDA"), on(b, "CUDA")).to_vector<float>();
    // half types: the two devices may sum in different orders, a unit in the last place apart
    std::string n = c.name;
    expect_close(got, want, n == "half" || n.find("fp16") != n.npos ? 2e-3 : n.find("bf16") != n.npos ? 1e-2 : 2e-4, c.name);
  }
}

TEST(CudaDevice, LaunchErrorsNameTheKernel) {
  NEED_GPU();
  Device& dev = get_device("CUDA");
  auto asts = kernel_asts({cpu(randv(64, 1), {64}).add(1)});
  auto k = get_kernel(asts[0], dev);
  LaunchDims bad;
  bad.local[0] = 4096;  // more threads than a block can have
  void* p = nullptr;
  try {
    k->program->run(std::span<void* const>(&p, 1), {}, bad, false);
    FAIL() << "expected a launch error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(k->prog.name), std::string::npos) << e.what();
  }
}

// TinyJit on CUDA replays its kernels as one CUDA graph (JIT=1) or kernel by kernel (JIT=2): both
// give what the eager run gives, on inputs that change every call (the graph's nodes are rewritten
// to the new buffers) and with weights captured once.
TEST(CudaDevice, JitGraphReplayMatchesEager) {
  NEED_GPU();
  Tensor w = on(cpu(randv(64 * 32, 3), {64, 32}), "CUDA");
  auto f = [&](const std::vector<Tensor>& in) {
    Tensor h = in[0].matmul(w).add(in[1]).relu();
    return std::vector<Tensor>{h.sum({1}), h.softmax(1), in[1].mul(2).sub(1).exp()};
  };
  for (int mode : {1, 2}) {
    Context ctx{{"JIT", mode}};
    TinyJit jit(f);
    for (int step = 0; step < 6; step++) {
      // the eager run gets inputs of its own: the same tensors would share (hash-consed) graphs
      // that the first run already realized, so the JIT's capture would see no kernels
      auto inputs = [&] {
        return std::vector<Tensor>{on(cpu(randv(128 * 64, 10 + step), {128, 64}), "CUDA"),
                                   on(cpu(randv(128 * 32, 20 + step), {128, 32}), "CUDA")};
      };
      int64_t before = GlobalCounters::get().kernel_count;
      std::vector<Tensor> got = jit(inputs());
      if (step >= 2) {
        EXPECT_EQ(GlobalCounters::get().kernel_count - before, int64_t(jit.kernel_count()));
      }
      std::vector<std::vector<float>> got_v;
      for (const Tensor& t : got) got_v.push_back(t.to_vector<float>());
      std::vector<Tensor> want = f(inputs());
      for (size_t i = 0; i < want.size(); i++)
        EXPECT_EQ(got_v[i], want[i].to_vector<float>()) << "mode " << mode << " step " << step << " output " << i;
    }
  }
}

// Host<->device copies run on a copy stream: a copy into memory that queued kernels still read
// waits for them (write after read), kernels queued after a copy see its data (read after write),
// and a copy out waits for the kernel writing its source; buffers freed and reused keep all three.
TEST(CudaDevice, CopiesOnTheCopyStreamKeepOrder) {
  NEED_GPU();
  auto buffer_behind = [](const Tensor& t) {
    const UOp* u = t.uop().get();
    while (u->op == Op::RESHAPE) u = u->src(0).get();
    UOpRef b = u->op == Op::BUFFER ? u->ref() : u->realized();
    return buffer_of(b);
  };
  const int64_t n = int64_t(1) << 25;  // 128 MB: a kernel over it outlasts a launch by far
  std::vector<float> v1(n, 1.0f), v2(n, 3.0f);
  for (int round = 0; round < 3; round++) {
    Tensor a = Tensor::from_vector(v1, {n}, "CUDA").realize();
    Tensor s = a.mul(2).sum();
    s.realize();                                 // queued, not finished
    buffer_behind(a)->copy_in(v2.data(), n * 4);  // must wait for the sum to read v1
    Tensor t = a.add(1).max();                    // must see v2
    t.realize();
    EXPECT_EQ(t.item(), 4.0) << "round " << round;
    EXPECT_NEAR(s.item(), 2.0 * n, 1e-5 * n) << "round " << round;
    std::vector<float> back = a.to_vector<float>();
    EXPECT_EQ(back[0], 3.0f);
    EXPECT_EQ(back[n - 1], 3.0f);
  }
  // many small inputs through reused blocks, each read by a kernel right after its copy
  for (int i = 0; i < 50; i++) {
    std::vector<float> v(1000, float(i));
    Tensor x = Tensor::from_vector(v, {1000}, "CUDA");
    EXPECT_EQ(x.mul(2).sum().item(), 2000.0 * i) << i;
  }
}
