// The CPU runtime: devices, buffers, the caching allocator, the disk cache and the C compiler,
// with kernels written by hand in the CPU ABI (see runtime/device.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/timing.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/runtime/cpu/c_compiler.h"
#include "femtograd/runtime/device.h"
#include "femtograd/runtime/disk_cache.h"

using namespace fg;
namespace fs = std::filesystem;

namespace {

const char* kAxpb = R"(
void axpb(void** bufs, const long long* vars, long long lo, long long hi) {
  float* y = (float*)bufs[0];
  const float* a = (const float*)bufs[1];
  const float* b = (const float*)bufs[2];
  for (long long i = lo; i < hi; i++) y[i] = a[i] * 2.0f + b[i];
}
)";

// one row per index of the parallel axis; vars[0] is the row length
const char* kRowSum = R"(
void rowsum(void** bufs, const long long* vars, long long lo, long long hi) {
  float* out = (float*)bufs[0];
  const float* x = (const float*)bufs[1];
  long long cols = vars[0];
  for (long long r = lo; r < hi; r++) {
    float acc = 0.0f;
    for (long long c = 0; c < cols; c++) acc += x[r * cols + c];
    out[r] = acc;
  }
}
)";

// writes the start of its chunk to every element it owns: shows how the range was split
const char* kChunkStart = R"(
void chunk_start(void** bufs, const long long* vars, long long lo, long long hi) {
  long long* out = (long long*)bufs[0];
  for (long long i = lo; i < hi; i++) out[i] = lo;
}
)";

// IEEE semantics: with -ffast-math the compiler may fold x != x to 0 and drop the inf check
const char* kIsNanInf = R"(
void nan_inf(void** bufs, const long long* vars, long long lo, long long hi) {
  int* out = (int*)bufs[0];
  const float* x = (const float*)bufs[1];
  for (long long i = lo; i < hi; i++) out[i] = (x[i] != x[i]) * 2 + (x[i] - x[i] != 0.0f && x[i] == x[i]);
}
)";

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-10.f, 10.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::shared_ptr<Buffer> upload(Device& dev, const std::vector<float>& v) {
  auto b = Buffer::create(dev, dtypes::float32, static_cast<int64_t>(v.size()));
  b->copy_in(v.data(), v.size() * sizeof(float));
  return b;
}

std::vector<float> download(Buffer& b) {
  std::vector<float> v(b.size());
  b.copy_out(v.data(), v.size() * sizeof(float));
  return v;
}

std::unique_ptr<Program> build(Device& dev, const std::string& name, const std::string& src) {
  return dev.load(name, compile_cached(dev, src, name));
}

LaunchDims dims1(int64_t n) {
  LaunchDims d;
  d.global[0] = n;
  return d;
}

std::vector<fs::path> cache_files(const std::string& dir) {
  std::vector<fs::path> out;
  if (fs::exists(dir + "/compile"))
    for (const auto& e : fs::directory_iterator(dir + "/compile")) out.push_back(e.path());
  return out;
}

// Every test gets an empty disk cache of its own.
class RuntimeCPU : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fg-test-cache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ctx_ = std::make_unique<Context>(std::initializer_list<Context::Setting>{{"CACHEDIR", dir_}});
  }
  void TearDown() override {
    ctx_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Device& cpu() { return get_device("CPU"); }
  std::string dir_;
  std::unique_ptr<Context> ctx_;
};

}  // namespace

TEST_F(RuntimeCPU, ElementwiseKernelMatchesLoopWithAndWithoutThreads) {
  const int64_t n = 1003;  // prime-ish: chunks of unequal length
  auto a = random_floats(n, 1), b = random_floats(n, 2);
  std::vector<float> want(n);
  for (int64_t i = 0; i < n; i++) want[i] = a[i] * 2.0f + b[i];
  auto prog = build(cpu(), "axpb", kAxpb);
  for (int threads : {1, 2, 4}) {
    Context ctx{{"THREADS", threads}};
    auto y = Buffer::create(cpu(), dtypes::float32, n);
    auto ba = upload(cpu(), a), bb = upload(cpu(), b);
    void* bufs[] = {y->ensure_allocated(), ba->ensure_allocated(), bb->ensure_allocated()};
    prog->run(bufs, {}, dims1(n), false);
    EXPECT_EQ(download(*y), want) << "THREADS=" << threads;
  }
}

TEST_F(RuntimeCPU, RowReductionWithAVariable) {
  const int64_t rows = 37, cols = 101;
  auto x = random_floats(rows * cols, 3);
  std::vector<float> want(rows);
  for (int64_t r = 0; r < rows; r++) {
    float acc = 0.0f;
    for (int64_t c = 0; c < cols; c++) acc += x[r * cols + c];
    want[r] = acc;
  }
  auto prog = build(cpu(), "rowsum", kRowSum);
  for (int threads : {1, 3}) {
    Context ctx{{"THREADS", threads}};
    auto out = Buffer::create(cpu(), dtypes::float32, rows);
    auto bx = upload(cpu(), x);
    void* bufs[] = {out->ensure_allocated(), bx->ensure_allocated()};
    int64_t vars[] = {cols};
    double t = prog->run(bufs, vars, dims1(rows), true);
    EXPECT_GT(t, 0.0);
    EXPECT_EQ(download(*out), want) << "THREADS=" << threads;
  }
}

TEST_F(RuntimeCPU, ParallelAxisIsSplitIntoContiguousChunks) {
  auto prog = build(cpu(), "chunk_start", kChunkStart);
  auto out = Buffer::create(cpu(), dtypes::int64, 100);
  void* bufs[] = {out->ensure_allocated()};
  std::vector<int64_t> got(100);
  {
    Context ctx{{"THREADS", 4}};
    prog->run(bufs, {}, dims1(100), false);
    out->copy_out(got.data(), 800);
    for (int64_t i = 0; i < 100; i++) EXPECT_EQ(got[i], i / 25 * 25) << i;
  }
  {
    Context ctx{{"THREADS", 1}};
    prog->run(bufs, {}, dims1(100), false);
    out->copy_out(got.data(), 800);
    for (int64_t i = 0; i < 100; i++) EXPECT_EQ(got[i], 0) << i;
  }
}

TEST_F(RuntimeCPU, NanAndInfSemanticsHold) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, std::nanf(""), inf, -inf, 0.0f};
  auto prog = build(cpu(), "nan_inf", kIsNanInf);
  auto out = Buffer::create(cpu(), dtypes::int32, 5);
  auto bx = upload(cpu(), x);
  void* bufs[] = {out->ensure_allocated(), bx->ensure_allocated()};
  prog->run(bufs, {}, dims1(5), false);
  std::vector<int32_t> got(5);
  out->copy_out(got.data(), 20);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 2, 1, 1, 0}));
}

TEST_F(RuntimeCPU, SecondCompileIsADiskCacheHit) {
  CompileStats s0 = compile_stats();
  Timer t1;
  std::string bin1 = compile_cached(cpu(), kAxpb, "axpb");
  double first = t1.elapsed_ms();
  CompileStats s1 = compile_stats();
  EXPECT_EQ(s1.compiles, s0.compiles + 1);
  EXPECT_EQ(cache_files(dir_).size(), 1u);
  Timer t2;
  std::string bin2 = compile_cached(cpu(), kAxpb, "axpb");
  double second = t2.elapsed_ms();
  CompileStats s2 = compile_stats();
  EXPECT_EQ(s2.compiles, s1.compiles);
  EXPECT_EQ(s2.cache_hits, s1.cache_hits + 1);
  EXPECT_EQ(bin1, bin2);
  EXPECT_LT(second, first);
  std::printf("[ compile  ] axpb: first %.2f ms, cached %.3f ms\n", first, second);
  // the cached binary loads and runs
  EXPECT_NE(cpu().load("axpb", bin2), nullptr);
}

TEST_F(RuntimeCPU, DisabledCacheAlwaysCompilesAndWritesNothing) {
  Context ctx{{"DISABLE_COMPILER_CACHE", 1}};
  CompileStats s0 = compile_stats();
  compile_cached(cpu(), kAxpb, "axpb");
  compile_cached(cpu(), kAxpb, "axpb");
  EXPECT_EQ(compile_stats().compiles, s0.compiles + 2);
  EXPECT_TRUE(cache_files(dir_).empty());
}

TEST_F(RuntimeCPU, CorruptCacheEntryIsRecompiled) {
  compile_cached(cpu(), kRowSum, "rowsum");
  auto files = cache_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  for (int how = 0; how < 3; how++) {
    if (how == 0) fs::resize_file(files[0], fs::file_size(files[0]) / 2);  // truncated
    if (how == 1) {                                                        // one byte flipped
      std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(200);
      f.put('\x5a');
    }
    if (how == 2) std::ofstream(files[0], std::ios::trunc) << "garbage";  // not an entry at all
    CompileStats s0 = compile_stats();
    DiskCacheStats d0 = disk_cache_stats();
    std::string bin = compile_cached(cpu(), kRowSum, "rowsum");
    EXPECT_EQ(compile_stats().compiles, s0.compiles + 1) << "case " << how;
    EXPECT_EQ(disk_cache_stats().corrupt, d0.corrupt + 1) << "case " << how;
    auto prog = cpu().load("rowsum", bin);
    auto x = random_floats(6, 4);
    auto out = Buffer::create(cpu(), dtypes::float32, 2);
    auto bx = upload(cpu(), x);
    void* bufs[] = {out->ensure_allocated(), bx->ensure_allocated()};
    int64_t vars[] = {3};
    prog->run(bufs, vars, dims1(2), false);
    EXPECT_EQ(download(*out), (std::vector<float>{x[0] + x[1] + x[2], x[3] + x[4] + x[5]}));
    EXPECT_EQ(compile_cached(cpu(), kRowSum, "rowsum"), bin);  // and the entry is good again
  }
}

TEST_F(RuntimeCPU, DiskCacheRoundTripAndChecks) {
  std::string value(10000, '\0');
  for (size_t i = 0; i < value.size(); i++) value[i] = static_cast<char>(i * 7);
  EXPECT_FALSE(disk_cache_get("test_table", "k1"));
  disk_cache_put("test_table", "k1", value);
  EXPECT_EQ(disk_cache_get("test_table", "k1"), value);
  disk_cache_put("test_table", "empty", "");
  EXPECT_EQ(disk_cache_get("test_table", "empty"), std::string());
  EXPECT_TRUE(fs::path(disk_cache_path("test_table", "k1")).string().starts_with(dir_));
  // no temp files are left behind
  for (const auto& e : fs::directory_iterator(dir_ + "/test_table"))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_THROW(disk_cache_get("../x", "k"), Error);
  fs::resize_file(disk_cache_path("test_table", "k1"), 3);
  EXPECT_FALSE(disk_cache_get("test_table", "k1"));
  EXPECT_FALSE(fs::exists(disk_cache_path("test_table", "k1")));  // removed
}

TEST_F(RuntimeCPU, UnwritableCacheIsANoOp) {
  Context ctx{{"CACHEDIR", "/proc/femtograd-cannot-write-here"}};
  auto prog = build(cpu(), "axpb", kAxpb);
  EXPECT_NE(prog, nullptr);
}

TEST_F(RuntimeCPU, CompileErrorNamesTheKernelAndShowsTheSource) {
  const char* bad =
      "void broken_kernel(void** bufs, const long long* vars, long long lo, long long hi) {\n"
      "  float* y = (float*)bufs[0];\n"
      "  y[0] = undefined_thing + 1;\n"
      "}\n";
  try {
    compile_cached(cpu(), bad, "broken_kernel");
    FAIL() << "expected a compile error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(msg.find("broken_kernel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("undefined_thing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("broken_kernel.c:3:"), std::string::npos) << msg;  // the compiler's message
    EXPECT_NE(msg.find(">    3 |   y[0] = undefined_thing + 1;"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("/tmp/fg-cc-"), std::string::npos) << msg;  // no temp paths
  }
  EXPECT_TRUE(cache_files(dir_).empty());  // failures are not cached
}

TEST_F(RuntimeCPU, BadBinaryOrMissingSymbolThrows) {
  EXPECT_THROW(cpu().load("axpb", "not an elf file"), Error);
  std::string bin = compile_cached(cpu(), kAxpb, "axpb");
  try {
    cpu().load("other_name", bin);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other_name"), std::string::npos) << e.what();
  }
}

TEST_F(RuntimeCPU, CompilerChoiceIsPartOfTheCacheKey) {
  if (!fs::exists("/usr/bin/gcc") || !fs::exists("/usr/bin/clang"))
    GTEST_SKIP() << "needs gcc and clang";
  std::string k_clang, k_gcc;
  {
    Context ctx{{"CC", "clang"}};
    k_clang = cpu().compiler()->cache_key();
    build(cpu(), "axpb", kAxpb);
  }
  {
    Context ctx{{"CC", "gcc"}};
    k_gcc = cpu().compiler()->cache_key();
    CompileStats s0 = compile_stats();
    auto prog = build(cpu(), "axpb", kAxpb);
    EXPECT_EQ(compile_stats().compiles, s0.compiles + 1);  // not clang's cached binary
    auto a = random_floats(9, 5), b = random_floats(9, 6);
    auto y = Buffer::create(cpu(), dtypes::float32, 9);
    auto ba = upload(cpu(), a), bb = upload(cpu(), b);
    void* bufs[] = {y->ensure_allocated(), ba->ensure_allocated(), bb->ensure_allocated()};
    prog->run(bufs, {}, dims1(9), false);
    auto got = download(*y);
    for (int i = 0; i < 9; i++) EXPECT_EQ(got[i], a[i] * 2.0f + b[i]);
  }
  EXPECT_NE(k_clang, k_gcc);
  EXPECT_NE(k_gcc.find("-ffp-contract=fast"), std::string::npos) << k_gcc;
  {
    Context ctx{{"CC", "no-such-compiler-fg"}};
    try {
      cpu().compiler();
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no-such-compiler-fg"), std::string::npos);
    }
  }
}

TEST_F(RuntimeCPU, CompileAllOfEightKernels) {
  std::vector<std::pair<std::string, std::string>> kernels;
  for (int k = 0; k < 8; k++) {
    std::string name = "scale_" + std::to_string(k);
    kernels.emplace_back(
        name, "void " + name +
                  "(void** bufs, const long long* vars, long long lo, long long hi) {\n"
                  "  float* y = (float*)bufs[0]; const float* x = (const float*)bufs[1];\n"
                  "  for (long long i = lo; i < hi; i++) y[i] = x[i] * " +
                  std::to_string(k + 1) + ".0f;\n}\n");
  }
  kernels.push_back(kernels[3]);  // a duplicate compiles once
  CompileStats s0 = compile_stats();
  Timer t;
  auto bins = compile_all(cpu(), kernels);
  double ms = t.elapsed_ms();
  EXPECT_EQ(compile_stats().compiles, s0.compiles + 8);
  ASSERT_EQ(bins.size(), 9u);
  EXPECT_EQ(bins[8], bins[3]);
  std::printf("[ compile  ] compile_all of 8 kernels: %.1f ms\n", ms);
  auto x = random_floats(50, 7);
  auto bx = upload(cpu(), x);
  for (int k = 0; k < 9; k++) {
    auto prog = cpu().load(kernels[k].first, bins[k]);
    auto y = Buffer::create(cpu(), dtypes::float32, 50);
    void* bufs[] = {y->ensure_allocated(), bx->ensure_allocated()};
    prog->run(bufs, {}, dims1(50), false);
    auto got = download(*y);
    float f = static_cast<float>(k == 8 ? 4 : k + 1);
    for (int i = 0; i < 50; i++) ASSERT_EQ(got[i], x[i] * f) << "kernel " << k;
  }
  // all cached now
  CompileStats s1 = compile_stats();
  compile_all(cpu(), kernels);
  EXPECT_EQ(compile_stats().compiles, s1.compiles);
  EXPECT_EQ(compile_stats().cache_hits, s1.cache_hits + 8);
}

TEST(Device, RegistryAndNames) {
  EXPECT_EQ(&get_device("cpu"), &get_device("CPU"));
  EXPECT_EQ(&get_device("CPU:0"), &get_device("CPU"));
  EXPECT_EQ(get_device("CPU").name(), "CPU");
  EXPECT_EQ(get_device("null").name(), "NULL");
  EXPECT_EQ(get_device("CPU").renderer(), "c");
  EXPECT_EQ(known_devices(), (std::vector<std::string>{"CPU", "NULL", "CUDA"}));
  try {
    get_device("TPU");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(msg.find("'TPU'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("CPU, NULL"), std::string::npos) << msg;
  }
  {
    Context ctx{{"DEV", ""}};
    EXPECT_EQ(default_device(), "CPU");
  }
  {
    Context ctx{{"DEV", "null"}};
    EXPECT_EQ(default_device(), "NULL");
  }
}

TEST(Buffer, CopySizeMismatchNamesBothSizes) {
  auto b = Buffer::create(get_device("CPU"), dtypes::float32, 16);
  std::vector<char> host(100);
  try {
    b->copy_in(host.data(), 60);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(msg.find("64 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("60 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("float32[16]"), std::string::npos) << msg;
  }
  EXPECT_THROW(b->copy_out(host.data(), 68), Error);
  EXPECT_THROW(b->copy_out(host.data(), 64), Error);  // never allocated: nothing to read
  EXPECT_FALSE(b->is_allocated());
  EXPECT_THROW(Buffer::create(get_device("CPU"), dtypes::float32, -1), Error);
}

TEST(Buffer, ViewsShareMemoryAndKeepTheBaseAlive) {
  Device& cpu = get_device("CPU");
  MemStats before = cpu.allocator().stats();
  std::vector<float> data(16);
  for (int i = 0; i < 16; i++) data[i] = static_cast<float>(i);
  auto base = upload(cpu, data);
  auto v = Buffer::view(base, dtypes::float32, 4, 8);
  auto vv = Buffer::view(v, dtypes::float32, 2, 1);  // elements 9, 10 of the base
  EXPECT_EQ(vv->base(), base);
  EXPECT_EQ(vv->byte_offset(), 36u);
  EXPECT_EQ(download(*v), (std::vector<float>{8, 9, 10, 11}));
  EXPECT_EQ(download(*vv), (std::vector<float>{9, 10}));
  EXPECT_EQ(static_cast<char*>(v->ptr()) - static_cast<char*>(base->ptr()), 32);
  // writes through a view land in the base
  float two[] = {-1, -2};
  vv->copy_in(two, 8);
  EXPECT_EQ(download(*base)[9], -1);
  // a view of another dtype: the same bytes
  auto bits = Buffer::view(base, dtypes::int32, 1, 0);
  int32_t i0;
  bits->copy_out(&i0, 4);
  EXPECT_EQ(i0, 0);
  EXPECT_THROW(Buffer::view(base, dtypes::float32, 4, 13), Error);  // 13 + 4 > 16
  size_t in_use = cpu.allocator().stats().in_use;
  base.reset();
  EXPECT_EQ(cpu.allocator().stats().in_use, in_use);  // the views keep it alive
  EXPECT_EQ(download(*vv), (std::vector<float>{-1, -2}));
  v.reset();
  vv.reset();
  bits.reset();
  EXPECT_EQ(cpu.allocator().stats().in_use, before.in_use);
}

TEST(Buffer, CachingAllocatorReusesAndCountersReturnToBaseline) {
  Device& cpu = get_device("CPU");
  CachingAllocator& al = cpu.allocator();
  al.free_cache();  // earlier tests may have left a block of this bucket in the cache
  MemStats before = al.stats();
  void* first;
  {
    auto b = Buffer::create(cpu, dtypes::float32, 1000);
    EXPECT_EQ(al.stats().in_use, before.in_use);  // lazy: nothing yet
    first = b->ensure_allocated();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    EXPECT_EQ(al.stats().in_use, before.in_use + al.bucket_size(4000));
    EXPECT_GE(al.stats().peak, before.in_use + al.bucket_size(4000));
  }
  MemStats after = al.stats();
  EXPECT_EQ(after.in_use, before.in_use);
  EXPECT_EQ(after.cached, before.cached + al.bucket_size(4000));
  {
    auto b = Buffer::create(cpu, dtypes::float32, 990);  // same bucket: the same block
    EXPECT_EQ(b->ensure_allocated(), first);
    EXPECT_EQ(al.stats().reuses, after.reuses + 1);
    EXPECT_EQ(al.stats().raw_allocs, after.raw_allocs);
  }
  al.free_cache();
  EXPECT_EQ(al.stats().cached, 0u);
  EXPECT_EQ(al.stats().in_use, before.in_use);
}

namespace {
struct CountingAllocator final : Allocator {
  std::atomic<int> live{0}, fail_next{0};
  void* alloc(size_t bytes) override {
    if (fail_next.exchange(0)) fail(ErrorKind::Runtime, "test", "out of memory");
    live++;
    return std::aligned_alloc(64, bytes);
  }
  void free(void* p, size_t) override {
    live--;
    std::free(p);
  }
  void copy_in(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void copy_out(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
};
}  // namespace

TEST(CachingAllocator, BucketsAlignmentRetryAndThreads) {
  auto raw = std::make_unique<CountingAllocator>();
  CountingAllocator* r = raw.get();
  CachingAllocator al(std::move(raw), 64);
  EXPECT_EQ(al.bucket_size(0), 64u);
  EXPECT_EQ(al.bucket_size(1), 64u);
  EXPECT_EQ(al.bucket_size(65), 128u);
  EXPECT_EQ(al.bucket_size(3000), 4096u);
  EXPECT_EQ(al.bucket_size(1 << 20), size_t(1) << 20);
  EXPECT_EQ(al.bucket_size((1 << 20) + 1), (size_t(1) << 20) + (1 << 17));  // 1/8 steps
  for (size_t s : {size_t(100000), size_t(12345678)}) {
    EXPECT_GE(al.bucket_size(s), s);
    EXPECT_LE(al.bucket_size(s), s + s / 8 + 64);
  }
  // out of memory: the cache is released and the allocation retried once
  void* p = al.alloc(1000);
  al.free(p, 1000);
  EXPECT_EQ(al.stats().cached, 1024u);
  r->fail_next = 1;
  void* q = al.alloc(5000);
  EXPECT_NE(q, nullptr);
  EXPECT_EQ(al.stats().cached, 0u);
  al.free(q, 5000);
  // many threads allocating and freeing at once
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&al, t] {
      for (int i = 0; i < 2000; i++) {
        size_t n = 64 + (i * 37 + t) % 5000;
        void* p = al.alloc(n);
        static_cast<char*>(p)[0] = 1;
        al.free(p, n);
      }
    });
  for (auto& t : ts) t.join();
  MemStats s = al.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.live_blocks, 0u);
  EXPECT_GT(s.reuses, 0u);
  al.free_cache();
  EXPECT_EQ(r->live.load(), 0);
}

TEST(NullDevice, CountsMemoryButRunsNothing) {
  Device& null = get_device("NULL");
  EXPECT_EQ(null.compiler(), nullptr);
  EXPECT_EQ(null.renderer(), "c");
  MemStats before = null.allocator().stats();
  {
    auto a = Buffer::create(null, dtypes::float32, 1 << 20);
    auto b = Buffer::create(null, dtypes::float32, 1 << 20);
    EXPECT_NE(a->ensure_allocated(), nullptr);
    EXPECT_NE(a->ensure_allocated(), b->ensure_allocated());
    std::vector<float> host(1 << 20);
    a->copy_in(host.data(), host.size() * 4);  // accepted, ignored
    EXPECT_EQ(null.allocator().stats().in_use, before.in_use + 2 * (size_t(4) << 20));
    std::string bin = compile_cached(null, kAxpb, "axpb");
    auto prog = null.load("axpb", bin);
    void* bufs[] = {a->ptr(), b->ptr(), b->ptr()};
    EXPECT_EQ(prog->run(bufs, {}, dims1(1 << 20), true), 0.0);
  }
  EXPECT_EQ(null.allocator().stats().in_use, before.in_use);
}
