// BEAM=n on the CPU: searched kernels compute what naive loops compute, the winner is recorded and
// cached on disk (a second search re-applies it without a launch), a deliberately wrong candidate
// is rejected, an in-place update runs once on the real buffer, and every action the search can
// take for a GPU renders to CUDA that NVRTC compiles. Tiny shapes and BEAM_MAX_STEPS keep it fast.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/codegen/codegen.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/engine/beam.h"
#include "femtograd/engine/realize.h"
#include "femtograd/render/cuda.h"
#include "femtograd/render/render.h"
#include "femtograd/runtime/cuda/cuda_api.h"
#include "femtograd/runtime/cuda/cuda_check.h"
#include "femtograd/runtime/cuda/nvrtc_compiler.h"
#include "femtograd/runtime/device.h"
#include "femtograd/runtime/disk_cache.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

using namespace fg;
namespace fs = std::filesystem;

namespace {

std::vector<float> randv(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Tensor cpu(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s, "CPU"); }

std::vector<UOpRef> kernel_asts(const Tensor& t) {
  std::vector<UOpRef> out;
  for (const ScheduleItem& it : create_schedule({t.uop()}).items)
    if (it.kind == ScheduleItem::Kind::Kernel) out.push_back(it.ast);
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << "element " << i;
}

// every test searches in a fresh cache folder, with a short search
class Beam : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fg_beam_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ctx_.reset(new Context{{"CACHEDIR", dir_.string()}, {"BEAM", 2}, {"BEAM_MAX_STEPS", 1}});
    beam_clear_memory_cache();
    beam_reset_stats();
  }
  void TearDown() override {
    set_beam_source_hook(nullptr);
    ctx_.reset();
    fs::remove_all(dir_);
  }
  // realizes t; the kernels it ran
  static std::vector<ExecItem> run(Tensor& t) {
    std::vector<ExecItem> items;
    set_capture(&items);
    t.realize();
    set_capture(nullptr);
    return items;
  }
  // the opts the realized (last) kernel was generated with equal the search's winner
  static void expect_recorded(const std::vector<ExecItem>& items) {
    BeamResult r = beam_last_result();
    EXPECT_TRUE(r.searched);
    EXPECT_GE(r.steps, 1);
    EXPECT_GT(r.best_s, 0);
    EXPECT_LE(r.best_s, r.heuristic_s) << "the beam starts from the heuristic's program";
    ASSERT_FALSE(items.empty());
    const KernelProgram& k = items.back().kernel->prog;
    ASSERT_EQ(k.opts.size(), r.opts.size());
    for (size_t i = 0; i < r.opts.size(); i++) EXPECT_EQ(opt_str(k.opts[i]), opt_str(r.opts[i]));
  }
  fs::path dir_;
  std::unique_ptr<Context> ctx_;
};

}  // namespace

TEST_F(Beam, MatmulMatchesNaiveLoop) {
  const int M = 8, K = 12, N = 16;
  auto av = randv(M * K, 1), bv = randv(K * N, 2);
  Tensor c = cpu(av, {M, K}).matmul(cpu(bv, {K, N}));
  auto items = run(c);
  std::vector<float> got = c.to_vector<float>(), want(M * N, 0);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      for (int k = 0; k < K; k++) want[i * N + j] += av[i * K + k] * bv[k * N + j];
  expect_close(got, want);
  expect_recorded(items);
  BeamStats s = beam_stats();
  EXPECT_EQ(s.searches, 1);
  EXPECT_GT(s.candidates, 2);
  EXPECT_GT(s.launches, 0);
  EXPECT_EQ(s.rejected_wrong, 0) << "every real opt keeps the result";
}

TEST_F(Beam, ReduceMatchesNaiveLoop) {
  const int R = 6, C = 40;
  auto xv = randv(R * C, 3);
  Tensor s = cpu(xv, {R, C}).sum({1});
  auto items = run(s);
  std::vector<float> got = s.to_vector<float>(), want(R, 0);
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) want[r] += xv[r * C + c];
  expect_close(got, want);
  expect_recorded(items);
}

TEST_F(Beam, IntegerReduceIsExact) {
  const int R = 4, C = 24;
  std::vector<int32_t> xv(R * C);
  for (int i = 0; i < R * C; i++) xv[i] = (i * 37) % 101 - 50;
  Tensor s = Tensor::from_vector(xv, {R, C}, "CPU").max({1});
  std::vector<int32_t> got = s.to_vector<int32_t>();
  for (int r = 0; r < R; r++) {
    int32_t m = xv[r * C];
    for (int c = 0; c < C; c++) m = std::max(m, xv[r * C + c]);
    EXPECT_EQ(got[r], m);
  }
  EXPECT_EQ(beam_stats().searches, 1);
}

TEST_F(Beam, ElementwiseChainMatches) {
  const int n = 64;
  auto av = randv(n, 4), bv = randv(n, 5), cv = randv(n, 6);
  Tensor y = cpu(av, {8, 8}).mul(cpu(bv, {8, 8})).add(cpu(cv, {8, 8})).relu().exp();
  auto items = run(y);
  std::vector<float> got = y.to_vector<float>(), want(n);
  for (int i = 0; i < n; i++) want[i] = std::exp(std::max(av[i] * bv[i] + cv[i], 0.0f));
  expect_close(got, want);
  expect_recorded(items);
}

TEST_F(Beam, ConvMatchesNaiveLoop) {
  const int B = 1, Ci = 2, H = 6, W = 6, Co = 4, KH = 3, KW = 3, OH = H - KH + 1, OW = W - KW + 1;
  auto xv = randv(B * Ci * H * W, 7), wv = randv(Co * Ci * KH * KW, 8);
  Tensor y = conv2d(cpu(xv, {B, Ci, H, W}), cpu(wv, {Co, Ci, KH, KW}));
  std::vector<float> got = y.to_vector<float>(), want(B * Co * OH * OW, 0);
  for (int o = 0; o < Co; o++)
    for (int i = 0; i < OH; i++)
      for (int j = 0; j < OW; j++)
        for (int c = 0; c < Ci; c++)
          for (int u = 0; u < KH; u++)
            for (int v = 0; v < KW; v++)
              want[(o * OH + i) * OW + j] += xv[(c * H + i + u) * W + j + v] * wv[((o * Ci + c) * KH + u) * KW + v];
  expect_close(got, want);
  EXPECT_GE(beam_stats().searches, 1);
  EXPECT_EQ(beam_stats().rejected_wrong, 0);
}

TEST_F(Beam, SecondSearchHitsTheDiskCacheWithoutLaunching) {
  Tensor c = cpu(randv(4 * 8, 9), {4, 8}).sum({1});
  UOpRef ast = kernel_asts(c).at(0);
  Device& dev = get_device("CPU");
  auto first = beam_opts(ast, dev, 2);
  BeamStats s1 = beam_stats();
  EXPECT_EQ(s1.searches, 1);
  EXPECT_GT(s1.launches, 0);
  EXPECT_FALSE(fs::is_empty(dir_ / "beam")) << "the winner is written to the disk cache";

  auto again = beam_opts(ast, dev, 2);  // in memory
  EXPECT_EQ(beam_stats().memory_hits, 1);
  beam_clear_memory_cache();  // as in a new process
  auto third = beam_opts(ast, dev, 2);
  BeamStats s3 = beam_stats();
  EXPECT_EQ(s3.disk_hits, 1);
  EXPECT_EQ(s3.searches, 1);
  EXPECT_EQ(s3.launches, s1.launches) << "a cached winner is applied without timing";
  EXPECT_TRUE(beam_last_result().from_cache);
  ASSERT_EQ(first.has_value(), third.has_value());
  if (first) {
    ASSERT_EQ(first->size(), third->size());
    for (size_t i = 0; i < first->size(); i++) EXPECT_EQ(opt_str((*first)[i]), opt_str((*third)[i]));
  }
  // another beam width is another entry; IGNORE_BEAM_CACHE searches again
  beam_opts(ast, dev, 1);
  EXPECT_EQ(beam_stats().searches, 2);
  {
    Context ignore{{"IGNORE_BEAM_CACHE", 1}};
    beam_opts(ast, dev, 2);
  }
  EXPECT_EQ(beam_stats().searches, 3);
}

// the heuristic's cache blocking (BLOCK) is part of what the search starts from and may keep: a
// winner holding it is read back from the disk cache like any other
TEST_F(Beam, WinnerWithCacheBlockingComesBackFromTheDisk) {
  Tensor c = cpu(randv(128 * 64, 21), {128, 64}).matmul(cpu(randv(64 * 64, 22), {64, 64}));
  UOpRef ast = kernel_asts(c).at(0);
  KernelProgram heuristic = codegen(ast, Target{});
  bool blocked = false;
  for (const Opt& o : heuristic.opts) blocked |= o.kind == Opt::Kind::BLOCK;
  EXPECT_TRUE(blocked) << "the heuristic blocks this matmul's rows";
  Device& dev = get_device("CPU");
  auto first = beam_opts(ast, dev, 2);
  beam_clear_memory_cache();
  auto again = beam_opts(ast, dev, 2);
  EXPECT_EQ(beam_stats().searches, 1) << "the cached winner must parse (every opt kind)";
  EXPECT_EQ(beam_stats().disk_hits, 1);
  ASSERT_EQ(first.has_value(), again.has_value());
  if (first)
    for (size_t i = 0; i < first->size(); i++) EXPECT_EQ(opt_str((*first)[i]), opt_str((*again)[i]));
}

TEST_F(Beam, StaleOrForeignCacheEntryIsSearchedAgain) {
  Tensor c = cpu(randv(16, 11), {16}).mul(2);
  UOpRef ast = kernel_asts(c).at(0);
  Device& dev = get_device("CPU");
  beam_opts(ast, dev, 2);
  std::string key = beam_cache_key(ast, dev, 2);
  // a winner naming an axis the kernel does not have (codegen changed since): searched again
  disk_cache_put("beam", key, "fgbeam1\nopts\nUPCAST 7 4\n");
  beam_clear_memory_cache();
  beam_opts(ast, dev, 2);
  EXPECT_EQ(beam_stats().searches, 2);
  // text this version did not write: searched again
  disk_cache_put("beam", key, "something else");
  beam_clear_memory_cache();
  beam_opts(ast, dev, 2);
  EXPECT_EQ(beam_stats().searches, 3);
  EXPECT_EQ(beam_stats().disk_hits, 0);
}

TEST_F(Beam, WrongCandidateIsRejected) {
  const int n = 64;
  auto av = randv(n, 12), bv = randv(n, 13);
  Tensor a = cpu(av, {n}), b = cpu(bv, {n});
  UOpRef bad = kernel_asts(a.sub(b)).at(0);
  // every candidate with an opt computes a - b instead of a + b (same name, same parameters)
  int corrupted = 0;
  set_beam_source_hook([&](const std::vector<Opt>& opts, std::string& src) {
    if (opts.empty()) return;
    try {
      src = render("c", codegen(bad, Target{}, &opts));
      corrupted++;
    } catch (const std::exception&) {
    }
  });
  Tensor y = a.add(b);
  std::vector<float> got = y.to_vector<float>();
  for (int i = 0; i < n; i++) EXPECT_FLOAT_EQ(got[i], av[i] + bv[i]);
  EXPECT_GT(corrupted, 0);
  BeamStats s = beam_stats();
  EXPECT_EQ(s.rejected_wrong, corrupted);
  EXPECT_TRUE(beam_last_result().opts.empty()) << "only the unoptimized program computes a + b";
}

TEST_F(Beam, InPlaceUpdateRunsOnceOnTheRealBuffer) {
  // the search launches the ASSIGN kernel many times, on scratch buffers only
  Tensor x = cpu(randv(32, 14), {4, 8}).contiguous().realize();
  std::vector<float> before = x.to_vector<float>();
  assign_to(x, x.mul(2).add(1));
  x.realize();
  std::vector<float> after = x.to_vector<float>();
  for (size_t i = 0; i < after.size(); i++) EXPECT_FLOAT_EQ(after[i], before[i] * 2 + 1);
  EXPECT_GE(beam_stats().launches, 2);
}

TEST_F(Beam, NullDeviceAndZeroWidthKeepTheHeuristic) {
  Tensor c = cpu(randv(16, 15), {16}).mul(3);
  UOpRef ast = kernel_asts(c).at(0);
  EXPECT_FALSE(beam_opts(ast, get_device("NULL"), 2).has_value());
  EXPECT_FALSE(beam_opts(ast, get_device("CPU"), 0).has_value());
  EXPECT_EQ(beam_stats().launches, 0);
}

// The actions BEAM takes on a GPU (each alone; the thread opts also after the heuristic's opts) generate CUDA that
// NVRTC compiles; no GPU needed.
TEST(BeamCuda, ActionsCompileWithNvrtc) {
  if (!cuda::nvrtc_available()) GTEST_SKIP() << "no NVRTC (CUDA toolkit) on this machine";
  Tensor mm = cpu(randv(32 * 64, 16), {32, 64}).matmul(cpu(randv(64 * 32, 17), {64, 32}));
  Tensor red = cpu(randv(16 * 256, 18), {16, 256}).sum({1});
  Tensor odd = cpu(randv(20 * 37, 19), {20, 37}).max({1});  // odd sizes: PADTO actions
  NVRTCCompiler nvrtc(default_cuda_arch());
  Target t = cuda_target();
  for (const Tensor* x : {&mm, &red, &odd}) {
    UOpRef ast = kernel_asts(*x).at(0);
    std::vector<Opt> heur = codegen(ast, t).opts;
    std::vector<std::pair<std::string, std::string>> srcs;
    bool saw_local = false, saw_group = false, saw_pad = false;
    for (const Opt& a : beam_actions(ast, t))
      for (const std::vector<Opt>& start : {std::vector<Opt>{}, heur}) {
        bool gpu_kind = a.kind == Opt::Kind::LOCAL || a.kind == Opt::Kind::GROUP || a.kind == Opt::Kind::GROUPTOP;
        if (!start.empty() && !gpu_kind) continue;  // after the heuristic: the thread opts only (fast)
        std::vector<Opt> opts = start;
        opts.push_back(a);
        KernelProgram k;
        try {
          k = codegen(ast, t, &opts);
        } catch (const Error&) {
          continue;  // does not apply
        }
        EXPECT_LE(k.local_size[0] * k.local_size[1] * k.local_size[2], 1024);
        saw_local |= a.kind == Opt::Kind::LOCAL;
        saw_group |= a.kind == Opt::Kind::GROUP || a.kind == Opt::Kind::GROUPTOP;
        saw_pad |= a.kind == Opt::Kind::PADTO;
        srcs.emplace_back(k.name, render_cuda(k));
      }
    EXPECT_TRUE(saw_local);
    if (x == &red) EXPECT_TRUE(saw_group);  // (37 is prime: no group divides it)
    if (x == &odd) EXPECT_TRUE(saw_pad);
    // distinct sources only, compiled in parallel
    std::sort(srcs.begin(), srcs.end());
    srcs.erase(std::unique(srcs.begin(), srcs.end()), srcs.end());
    std::vector<std::string> errors(srcs.size());
    parallel_for(
        static_cast<int64_t>(srcs.size()),
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; i++) try {
              nvrtc.compile(srcs[i].second, srcs[i].first);
            } catch (const std::exception& ex) {
              errors[i] = ex.what();
            }
        },
        static_cast<int64_t>(srcs.size()));
    for (size_t i = 0; i < srcs.size(); i++) EXPECT_EQ(errors[i], "") << srcs[i].second;
    EXPECT_GT(srcs.size(), 10u);
  }
}
