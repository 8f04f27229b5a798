// Compile speed on ResNet-50 (tinygrad's test/external/external_benchmark_schedule.py, the same
// steps): the forward pass at batch 64 on 224x224 images, parameters unrealized (lazy random
// initializations, so their RNG kernels are part of the schedule), BatchNorm in eval mode. Timed
// separately, per run:
//   graph      model(x): building the lazy tensor graph
//   schedule   create_schedule: fusion into kernels and their ASTs
//   codegen    every distinct kernel AST (dedup by the interned pointer, as the engine's kernel
//              cache and tinygrad's script do) through iteration shape, lowering, symbolic,
//              heuristic opts and vectorizing for the CPU target
//   linearize  each of those into its linear program
//   render     each program to C (reported, not in the total: tinygrad's total leaves it out)
// Prints the kernel count (all and distinct) and the total UOps of the linear programs.
// Runs under Google Benchmark (so `make bench` flags work); the first run is the cold one (fresh
// process, empty intern table). Writes JSON beside the binary (NAME.json) unless --benchmark_out
// is given. Extra flags: --batch=N (64), --size=S (224), --model=18|34|50 (50).
// Goal (issue 4): total <= 100 ms on the 2-core CI machine; tinygrad took 13.3-19.2 s there.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <unordered_set>
#include <vector>

#include "femtograd/codegen/codegen.h"
#include "femtograd/models/resnet.h"
#include "femtograd/render/c.h"
#include "femtograd/schedule/schedule.h"

using namespace fg;

namespace {
int64_t g_batch = 64, g_size = 224, g_model = 50;

struct Run {
  double graph = 0, schedule = 0, codegen = 0, linearize = 0, render = 0;  // wall-clock ms
  double cpu = 0;  // this thread's CPU ms over the four timed phases (robust to a loaded machine)
  size_t kernels = 0, distinct = 0, uops = 0, ast_nodes = 0;
  double total() const { return graph + schedule + codegen + linearize; }
};
std::vector<Run> g_runs;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

models::ResNet& model() {
  static models::ResNet* m = [] {
    Tensor::manual_seed(0);
    switch (g_model) {
      case 18: return new models::ResNet(models::resnet18());
      case 34: return new models::ResNet(models::resnet34());
      default: return new models::ResNet(models::resnet50());
    }
  }();
  return *m;
}

Run run_once() {
  Run r;
  Target target;  // the CPU target (C renderer, AVX2-wide vectors)
  double cpu0 = thread_cpu_ms();
  auto t0 = std::chrono::steady_clock::now();
  Tensor x = Tensor::empty({g_batch, 3, g_size, g_size});
  Tensor out = model()(x);
  r.graph = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  Schedule sched = create_schedule({out.uop()});
  r.schedule = ms_since(t0);

  std::vector<UOpRef> asts;
  std::unordered_set<const UOp*> seen;
  for (const ScheduleItem& it : sched.items) {
    if (it.kind != ScheduleItem::Kind::Kernel) continue;
    r.kernels++;
    if (seen.insert(it.ast.get()).second) asts.push_back(it.ast);
  }
  r.distinct = asts.size();
  for (const UOpRef& a : asts) r.ast_nodes += a->toposort().size();

  t0 = std::chrono::steady_clock::now();
  std::vector<OptimizedKernel> opt;
  opt.reserve(asts.size());
  for (const UOpRef& a : asts) opt.push_back(optimize_kernel(a, target));
  r.codegen = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  std::vector<KernelProgram> progs;
  progs.reserve(opt.size());
  for (const OptimizedKernel& o : opt) progs.push_back(linearize_kernel(o, target));
  r.linearize = ms_since(t0);
  r.cpu = thread_cpu_ms() - cpu0;
  for (const KernelProgram& p : progs) r.uops += p.lines.size();

  t0 = std::chrono::steady_clock::now();
  size_t chars = 0;
  for (const KernelProgram& p : progs) chars += render_c(p).size();
  r.render = ms_since(t0);
  benchmark::DoNotOptimize(chars);
  return r;
}

void BM_ScheduleResNet(benchmark::State& state) {
  Run last;
  double sums[7] = {0, 0, 0, 0, 0, 0, 0};
  for (auto _ : state) {
    last = run_once();
    // the graph, schedule and programs die here; freeing them is outside the phases but inside
    // the iteration's wall time
    state.SetIterationTime(last.total() / 1e3);
    g_runs.push_back(last);
    double v[7] = {last.graph, last.schedule, last.codegen, last.linearize, last.render, last.total(), last.cpu};
    for (int i = 0; i < 7; i++) sums[i] += v[i];
  }
  double n = static_cast<double>(state.iterations());
  const char* names[7] = {"graph_ms",  "schedule_ms", "codegen_ms",  "linearize_ms",
                          "render_ms", "total_ms",    "total_cpu_ms"};
  for (int i = 0; i < 7; i++) state.counters[names[i]] = sums[i] / n;
  state.counters["first_total_ms"] = g_runs.empty() ? 0 : g_runs.front().total();  // the cold run
  state.counters["kernels"] = static_cast<double>(last.kernels);
  state.counters["distinct"] = static_cast<double>(last.distinct);
  state.counters["uops"] = static_cast<double>(last.uops);
  state.counters["ast_nodes"] = static_cast<double>(last.ast_nodes);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void print_summary() {
  if (g_runs.empty()) return;
  const Run& cold = g_runs.front();
  std::vector<Run> warm(g_runs.begin() + (g_runs.size() > 1 ? 1 : 0), g_runs.end());
  auto med = [&](double Run::*f) {
    std::vector<double> v;
    for (const Run& r : warm) v.push_back(r.*f);
    return median(v);
  };
  std::vector<double> tot;
  for (const Run& r : warm) tot.push_back(r.total());
  std::printf("\nResNet-%lld forward, batch %lld, %lldx%lld, CPU target: %zu kernels (%zu distinct ASTs, "
              "%zu AST nodes), %zu UOps after linearize\n",
              static_cast<long long>(g_model), static_cast<long long>(g_batch), static_cast<long long>(g_size),
              static_cast<long long>(g_size), cold.kernels, cold.distinct, cold.ast_nodes, cold.uops);
  std::printf("%-12s %12s %14s\n", "phase (ms)", "first run", "median of rest");
  std::printf("%-12s %12.2f %14.2f\n", "graph", cold.graph, med(&Run::graph));
  std::printf("%-12s %12.2f %14.2f\n", "schedule", cold.schedule, med(&Run::schedule));
  std::printf("%-12s %12.2f %14.2f\n", "codegen", cold.codegen, med(&Run::codegen));
  std::printf("%-12s %12.2f %14.2f\n", "linearize", cold.linearize, med(&Run::linearize));
  std::printf("%-12s %12.2f %14.2f\n", "total", cold.total(), median(tot));
  std::printf("%-12s %12.2f %14.2f   (CPU time of the same phases)\n", "total CPU", cold.cpu, med(&Run::cpu));
  std::printf("%-12s %12.2f %14.2f   (not in the total)\n", "render C", cold.render, med(&Run::render));
  std::printf("runs: %zu; goal: total <= 100 ms; tinygrad on ci-2core: 13,300-19,200 ms\n", g_runs.size());
}
}  // namespace

BENCHMARK(BM_ScheduleResNet)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  bool has_out = false;
  std::vector<char*> keep;
  for (int i = 1; i < argc; i++) {
    auto flag = [&](const char* name, int64_t& v) {
      size_t n = std::strlen(name);
      if (std::strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
        v = std::atoll(argv[i] + n + 1);
        return true;
      }
      return false;
    };
    if (flag("--batch", g_batch) || flag("--size", g_size) || flag("--model", g_model)) continue;
    if (std::strncmp(argv[i], "--benchmark_out=", 16) == 0) has_out = true;
    keep.push_back(argv[i]);
  }
  std::string out_flag = std::string("--benchmark_out=") + argv[0] + ".json";
  std::string fmt_flag = "--benchmark_out_format=json";
  std::vector<char*> bargs{argv[0]};
  for (char* k : keep) bargs.push_back(k);
  if (!has_out) {
    bargs.push_back(out_flag.data());
    bargs.push_back(fmt_flag.data());
  }
  int bargc = static_cast<int>(bargs.size());
  benchmark::Initialize(&bargc, bargs.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, bargs.data())) return 1;
  model();  // built outside the timing, like tinygrad's script
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
