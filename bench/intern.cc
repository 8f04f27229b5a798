// Interning speed: UOp nodes built per second through UOp::make, the path every graph construction
// and every rewrite takes. Misses create fresh nodes; hits rebuild a live graph and get the
// existing pointers back. Each runs on 1 and 2 threads (threads build separate graphs: the table is
// shared). Goal on the 2-core CI machine: >= 3M nodes/s. Prints Google Benchmark's table; add
// --benchmark_out=intern.json --benchmark_out_format=json for JSON.
#include <benchmark/benchmark.h>

#include <atomic>
#include <string>
#include <vector>

#include "femtograd/ir/uop.h"

using namespace fg;

namespace {
constexpr int kSteps = 4096;  // each step interns 2 nodes: a CONST and an ADD on the chain

// e = (((x + c0) + c1) + ...): a chain whose constants start at `base`.
UOpRef build_chain(const UOpRef& x, int64_t base) {
  UOpRef e = x;
  for (int i = 0; i < kSteps; i++) {
    UOpRef c = UOp::make(Op::CONST, dtypes::int32, {}, Arg(base + i));
    e = UOp::make(Op::ADD, dtypes::int32, {e, c});
  }
  return e;
}

UOpRef thread_var(const benchmark::State& state) {
  return UOp::var("bench_x" + std::to_string(state.thread_index()), 0, 1000, dtypes::int32);
}

std::atomic<int64_t> g_base{0};  // makes every miss graph distinct from every other

// Fresh nodes; freeing each graph is left out of the timing.
void BM_InternMiss(benchmark::State& state) {
  UOpRef x = thread_var(state);
  int64_t nodes = 0;
  for (auto _ : state) {
    UOpRef g = build_chain(x, g_base.fetch_add(kSteps) + 1000000);
    benchmark::DoNotOptimize(g.get());
    nodes += 2 * kSteps;
    state.PauseTiming();
    g = nullptr;
    state.ResumeTiming();
  }
  state.counters["nodes/s"] = benchmark::Counter(double(nodes), benchmark::Counter::kIsRate);
}

// Fresh nodes, and the graph freed inside the timing: the full life of a temporary graph.
void BM_InternMissAndFree(benchmark::State& state) {
  UOpRef x = thread_var(state);
  int64_t nodes = 0;
  for (auto _ : state) {
    UOpRef g = build_chain(x, g_base.fetch_add(kSteps) + 1000000);
    benchmark::DoNotOptimize(g.get());
    nodes += 2 * kSteps;
  }
  state.counters["nodes/s"] = benchmark::Counter(double(nodes), benchmark::Counter::kIsRate);
}

// Rebuilding a graph that is alive: every UOp::make finds the node it asks for.
void BM_InternHit(benchmark::State& state) {
  UOpRef x = thread_var(state);
  // per-thread constants: threads sharing CONST nodes would contend on their reference counts
  int64_t base = int64_t(state.thread_index()) << 32;
  UOpRef live = build_chain(x, base);
  size_t created0 = UOp::created_count();
  int64_t nodes = 0;
  for (auto _ : state) {
    UOpRef g = build_chain(x, base);
    if (g.get() != live.get()) state.SkipWithError("rebuilt graph is not the interned one");
    nodes += 2 * kSteps;
  }
  if (state.threads() == 1 && UOp::created_count() != created0)
    state.SkipWithError("hits created nodes");
  state.counters["nodes/s"] = benchmark::Counter(double(nodes), benchmark::Counter::kIsRate);
}
}  // namespace

// Real time, so that with 2 threads nodes/s is the total of both threads over the wall clock.
BENCHMARK(BM_InternMiss)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_InternMissAndFree)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_InternHit)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
