// CPU kernels against numpy (issue 3): the femtograd half. bench/ops_cpu.py runs this binary
// (cold and warm kernel cache), runs the same cases in numpy, and prints the side-by-side table;
// run the driver, not this, for the comparison:
//   python3 bench/ops_cpu.py [--build build]
//
// For each case this program makes the inputs (fp32, fixed seed), builds the lazy graph, realizes
// it once (the first realize: codegen + compile or disk-cache load + run; compile_stats() deltas
// are recorded), then times N steady-state realizes. Each steady-state iteration rebuilds the lazy
// graph from the same input buffers (the AST is identical, so the in-memory kernel cache hits) and
// realizes it; the kernel time is the sum of the kernels' own timed launches (DEBUG=2 timing, the
// per-kernel lines are captured, not shown), the realize time is the whole realize() call
// (schedule, cache lookups, output allocation, launches). The output of the last iteration is
// checked against a reference computed here in double precision (all of it, or for matmul a
// sample of entries). One JSON object per case goes to stdout, one line each; a summary line ends.
//
// Flags: --reps N (steady-state iterations per case, default 20), --budget S (stop a case's
// iterations after S seconds once 3 have run, default 4), --cases a,b,c (only these; default all),
// --list (print the case names). DEBUG=4 in the environment prints the kernels' C source.
// `make bench` passes Google Benchmark's flags: --benchmark_min_time=S makes a brief run (3 reps,
// S seconds a case), --benchmark_out=FILE writes the objects as one JSON array too, and the other
// --benchmark_* flags are ignored.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "femtograd/base/flags.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/base/timing.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/tensor.h"

using namespace fg;

namespace {

using Vec = std::vector<float>;

// ---------------------------------------------------------------- inputs

// xorshift64*: the same inputs on every run, no dependence on the library
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform(float lo, float hi) {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    uint64_t r = s * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * static_cast<float>((r >> 40) * (1.0 / 16777216.0));
  }
};

Vec make_input(int64_t n, uint64_t seed, float lo, float hi) {
  Vec v(static_cast<size_t>(n));
  Rng r(seed);
  for (auto& x : v) x = r.uniform(lo, hi);
  return v;
}

// ---------------------------------------------------------------- checking

// |got - ref| <= atol + rtol * scale, per checked element; scale is |ref| for elementwise ops and
// the sum of the absolute terms for sums and dot products
struct Check {
  double worst = 0;  // max over elements of |got - ref| / (atol + rtol * scale); ok when <= 1
  double max_abs_err = 0;
  int64_t checked = 0, bad = 0;
  double atol, rtol;
  Check(double a, double r) : atol(a), rtol(r) {}
  void add(double got, double ref, double scale) {
    double err = std::fabs(got - ref);
    double ratio = err / (atol + rtol * std::fabs(scale));
    if (!(ratio <= 1.0)) bad++;  // NaN counts as bad
    if (!(ratio <= worst)) worst = ratio;
    if (!(err <= max_abs_err)) max_abs_err = err;
    checked++;
  }
};

// ---------------------------------------------------------------- cases

struct Case {
  std::string name, kind;  // kind: elementwise, reduce, softmax, matmul
  std::vector<Shape> in_shapes;
  float lo = -1, hi = 1;  // input range
  std::function<Tensor(const std::vector<Tensor>&)> build;
  std::function<void(const std::vector<Vec>&, const Vec&, Check&)> check;
  double atol = 1e-6, rtol = 1e-5;
  double bytes = 0;  // the least memory traffic: every input read once, the output written once
  double flops = 0;  // matmul only
  int max_reps = 0;  // 0: --reps
};

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_text(const Shape& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); i++) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

// one elementwise case: f on tensors, g the same function on doubles
Case elementwise(std::string name, Shape shape, int n_in, float lo, float hi,
                 std::function<Tensor(const std::vector<Tensor>&)> f,
                 std::function<double(const double*)> g, double rtol) {
  Case c;
  c.name = std::move(name);
  c.kind = "elementwise";
  c.in_shapes.assign(n_in, shape);
  c.lo = lo, c.hi = hi;
  c.build = std::move(f);
  c.rtol = rtol;
  c.check = [g, n_in](const std::vector<Vec>& in, const Vec& out, Check& ck) {
    double x[4];
    for (size_t i = 0; i < out.size(); i++) {
      for (int j = 0; j < n_in; j++) x[j] = in[j][i];
      double r = g(x);
      ck.add(out[i], r, r);
    }
  };
  c.bytes = 4.0 * numel(shape) * (n_in + 1);
  return c;
}

// sum or max over the last axis of (rows, cols), or over everything when rows == 0
Case reduction(std::string name, Op op, bool mean, int64_t rows, int64_t cols) {
  Case c;
  c.name = std::move(name);
  c.kind = "reduce";
  bool all = rows == 0;
  Shape shape = all ? Shape{cols} : Shape{rows, cols};
  if (all) {  // a 2-D input reduced over both axes, like numpy's x.sum() on a matrix
    int64_t r = 4096;
    shape = {r, cols / r};
  }
  c.in_shapes = {shape};
  c.build = [op, mean, all](const std::vector<Tensor>& t) {
    std::vector<int64_t> axes = all ? std::vector<int64_t>{} : std::vector<int64_t>{-1};
    if (op == Op::MAX) return t[0].max(axes);
    return mean ? t[0].mean(axes) : t[0].sum(axes);
  };
  c.atol = 1e-6, c.rtol = 2e-6;
  int64_t outer = all ? 1 : rows, inner = all ? numel(shape) : cols;
  c.check = [op, mean, outer, inner](const std::vector<Vec>& in, const Vec& out, Check& ck) {
    for (int64_t r = 0; r < outer; r++) {
      const float* x = in[0].data() + r * inner;
      double acc = op == Op::MAX ? -INFINITY : 0, abs_sum = 0;
      for (int64_t i = 0; i < inner; i++) {
        if (op == Op::MAX)
          acc = std::max(acc, double(x[i]));
        else
          acc += x[i], abs_sum += std::fabs(x[i]);
      }
      if (mean) acc /= double(inner), abs_sum /= double(inner);
      ck.add(out[r], acc, op == Op::MAX ? acc : abs_sum);
    }
  };
  c.bytes = 4.0 * (numel(shape) + outer);
  return c;
}

Case softmax_case(std::string name, int64_t rows, int64_t cols) {
  Case c;
  c.name = std::move(name);
  c.kind = "softmax";
  c.in_shapes = {{rows, cols}};
  c.lo = -4, c.hi = 4;
  c.build = [](const std::vector<Tensor>& t) { return t[0].softmax(-1); };
  c.atol = 1e-7, c.rtol = 1e-4;
  c.check = [rows, cols](const std::vector<Vec>& in, const Vec& out, Check& ck) {
    std::vector<double> e(cols);
    for (int64_t r = 0; r < rows; r++) {
      const float* x = in[0].data() + r * cols;
      double m = -INFINITY, s = 0;
      for (int64_t i = 0; i < cols; i++) m = std::max(m, double(x[i]));
      for (int64_t i = 0; i < cols; i++) s += e[i] = std::exp(x[i] - m);
      for (int64_t i = 0; i < cols; i++) ck.add(out[r * cols + i], e[i] / s, e[i] / s);
    }
  };
  c.bytes = 4.0 * 2 * rows * cols;
  return c;
}

Case matmul_case(int64_t n, int max_reps) {
  Case c;
  c.name = "matmul_" + std::to_string(n);
  c.kind = "matmul";
  c.in_shapes = {{n, n}, {n, n}};
  c.build = [](const std::vector<Tensor>& t) { return t[0].matmul(t[1]); };
  c.atol = 1e-5, c.rtol = 1e-5;
  c.check = [n](const std::vector<Vec>& in, const Vec& out, Check& ck) {
    Rng r(n);  // a sample of entries: the full reference is O(n^3) on one core
    for (int s = 0; s < 2048; s++) {
      int64_t i = std::min<int64_t>(n - 1, int64_t(r.uniform(0, 1) * n));
      int64_t j = std::min<int64_t>(n - 1, int64_t(r.uniform(0, 1) * n));
      if (s < 4) i = (s & 1) ? n - 1 : 0, j = (s & 2) ? n - 1 : 0;  // the corners always
      double acc = 0, abs_sum = 0;
      for (int64_t k = 0; k < n; k++) {
        double p = double(in[0][i * n + k]) * in[1][k * n + j];
        acc += p, abs_sum += std::fabs(p);
      }
      ck.add(out[i * n + j], acc, abs_sum);
    }
  };
  c.bytes = 4.0 * 3 * n * n;
  c.flops = 2.0 * n * n * n;
  c.max_reps = max_reps;
  return c;
}

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  const Shape big{4096, 4096}, small{1024, 1024};  // 16M and 1M elements
  for (auto [tag, shape] : {std::pair{"16M", big}, std::pair{"1M", small}}) {
    cs.push_back(elementwise(
        std::string("add1_") + tag, shape, 1, -1, 1,
        [](const std::vector<Tensor>& t) { return t[0] + 1.0; },
        [](const double* x) { return double(float(x[0] + 1.0)); }, 1e-6));
    cs.push_back(elementwise(
        std::string("chain_") + tag, shape, 3, -1, 1,
        [](const std::vector<Tensor>& t) { return ((t[0] * t[1] + t[2]) * 0.5).relu(); },
        [](const double* x) { return std::max(0.0, (x[0] * x[1] + x[2]) * 0.5); }, 1e-5));
    // softplus(a*b), then sqrt, times c: exp, log and sqrt in one chain (a*b in [-4, 4))
    cs.push_back(elementwise(
        std::string("chain_exp_log_sqrt_") + tag, shape, 3, -2, 2,
        [](const std::vector<Tensor>& t) {
          return ((t[0] * t[1]).exp() + 1.0).log().sqrt() * t[2];
        },
        [](const double* x) { return std::sqrt(std::log(std::exp(x[0] * x[1]) + 1.0)) * x[2]; },
        1e-4));
  }
  cs.push_back(reduction("sum_all_16M", Op::ADD, false, 0, 4096 * 4096));
  cs.push_back(reduction("sum_all_1M", Op::ADD, false, 0, 1024 * 1024));
  cs.push_back(reduction("mean_all_16M", Op::ADD, true, 0, 4096 * 4096));
  cs.push_back(reduction("sum_lastaxis_4096x4096", Op::ADD, false, 4096, 4096));
  cs.push_back(reduction("max_lastaxis_4096x4096", Op::MAX, false, 4096, 4096));
  cs.push_back(reduction("sum_lastaxis_1024x1024", Op::ADD, false, 1024, 1024));
  cs.push_back(softmax_case("softmax_4096x1024", 4096, 1024));
  cs.push_back(softmax_case("softmax_256x1024", 256, 1024));
  cs.push_back(matmul_case(512, 0));
  cs.push_back(matmul_case(1024, 0));
  cs.push_back(matmul_case(2048, 5));
  return cs;
}

// ---------------------------------------------------------------- DEBUG=2 capture

// Sends fd 2 to a temporary file while alive; lines() gives what was written.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    char path[] = "/tmp/fg_ops_cpu_XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0) return;
    ::unlink(path);
    saved_ = ::dup(2);
    ::dup2(fd_, 2);
  }
  ~StderrCapture() {
    restore();
    if (fd_ >= 0) ::close(fd_);
  }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string text() {
    restore();
    std::string s;
    if (fd_ < 0) return s;
    ::lseek(fd_, 0, SEEK_SET);
    char buf[4096];
    ssize_t k;
    while ((k = ::read(fd_, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(k));
    return s;
  }

 private:
  int fd_ = -1, saved_ = -1;
};

// "*** CPU       3 r_4096_4096              1234.56 us ..." -> (name, seconds), in launch order;
// anything else (the lines of another DEBUG level) goes to other
std::vector<std::pair<std::string, double>> parse_kernel_lines(const std::string& text,
                                                               std::string* other) {
  std::vector<std::pair<std::string, double>> r;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("*** ", 0) == 0) {
      std::istringstream ls(line.substr(4));
      std::string dev, name;
      long long idx;
      double us;
      if (ls >> dev >> idx >> name >> us) {
        r.emplace_back(name, us * 1e-6);
        continue;
      }
    }
    if (other) *other += line + "\n";
  }
  return r;
}

// ---------------------------------------------------------------- JSON

std::string jstr(const std::string& s) {
  std::string r = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      r += '\\', r += ch;
    else if (ch == '\n')
      r += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20)
      r += ' ';
    else
      r += ch;
  }
  return r + "\"";
}
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double minimum(const std::vector<double>& v) {
  return v.empty() ? NAN : *std::min_element(v.begin(), v.end());
}

// ---------------------------------------------------------------- one case

struct Totals {
  double first_realize_s = 0, compile_s = 0;
  int64_t compiles = 0, cache_hits = 0, kernels = 0;
};

std::string run_case(const Case& c, int reps, double budget, Totals& tot) {
  std::ostringstream js;
  js << "{\"case\":" << jstr(c.name) << ",\"kind\":" << jstr(c.kind)
     << ",\"shape\":" << jstr(shape_text(c.in_shapes[0])) << ",\"bytes\":" << jnum(c.bytes)
     << ",\"flops\":" << jnum(c.flops);

  std::vector<Vec> host;
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.in_shapes.size(); i++) {
    host.push_back(make_input(numel(c.in_shapes[i]), 1000 + i, c.lo, c.hi));
    in.push_back(Tensor::from_data(host.back().data(), dtypes::float32, c.in_shapes[i], "CPU"));
  }

  // the first realize: codegen, compile (or disk-cache load), run
  GlobalCounters& gc = GlobalCounters::get();
  CompileStats cs0 = compile_stats();
  int64_t k0 = gc.kernel_count;
  std::string other;
  std::vector<std::pair<std::string, double>> first_kernels;
  double first_s;
  {
    StderrCapture cap;
    Tensor y = c.build(in);
    Timer t;
    y.realize();
    first_s = t.elapsed();
    first_kernels = parse_kernel_lines(cap.text(), &other);
  }
  CompileStats cs1 = compile_stats();
  int64_t n_kernels = gc.kernel_count - k0;
  tot.first_realize_s += first_s;
  tot.compile_s += cs1.compile_seconds - cs0.compile_seconds;
  tot.compiles += cs1.compiles - cs0.compiles;
  tot.cache_hits += cs1.cache_hits - cs0.cache_hits;
  tot.kernels += n_kernels;
  js << ",\"first_realize_ms\":" << jnum(first_s * 1e3)
     << ",\"compiles\":" << (cs1.compiles - cs0.compiles)
     << ",\"disk_cache_hits\":" << (cs1.cache_hits - cs0.cache_hits)
     << ",\"compile_ms\":" << jnum((cs1.compile_seconds - cs0.compile_seconds) * 1e3)
     << ",\"n_kernels\":" << n_kernels;

  // steady state
  std::vector<double> realize_s, kernel_s, build_s;
  // per launch position (kernel names repeat: softmax's max and sum are both r_R_C): name, seconds
  std::vector<std::pair<std::string, std::vector<double>>> per_kernel;
  for (auto& [name, s] : first_kernels) per_kernel.push_back({name, {}});
  Vec out;
  MemStats mem0 = get_device("CPU").allocator().stats();
  int n = c.max_reps ? std::min(reps, c.max_reps) : reps;
  Timer case_timer;
  for (int it = 0; it < n; it++) {
    if (it >= 3 && case_timer.elapsed() > budget) break;
    StderrCapture cap;
    Timer tb;
    Tensor y = c.build(in);
    build_s.push_back(tb.elapsed());
    double ks0 = gc.time_sum_s;
    Timer tr;
    y.realize();
    realize_s.push_back(tr.elapsed());
    kernel_s.push_back(gc.time_sum_s - ks0);
    auto launches = parse_kernel_lines(cap.text(), &other);
    for (size_t k = 0; k < launches.size(); k++) {
      if (k >= per_kernel.size()) per_kernel.push_back({launches[k].first, {}});
      per_kernel[k].second.push_back(launches[k].second);
    }
    if (it == n - 1 || (it >= 2 && case_timer.elapsed() > budget)) out = y.to_vector<float>();
  }
  CompileStats cs2 = compile_stats();
  MemStats mem1 = get_device("CPU").allocator().stats();
  // steady state should compile nothing, load nothing and reuse the output buffer each time
  js << ",\"steady_compiles\":" << (cs2.compiles - cs1.compiles)
     << ",\"steady_disk_cache_hits\":" << (cs2.cache_hits - cs1.cache_hits)
     << ",\"steady_raw_allocs\":" << (mem1.raw_allocs - mem0.raw_allocs)
     << ",\"reps\":" << realize_s.size()
     << ",\"realize_ms\":{\"min\":" << jnum(minimum(realize_s) * 1e3)
     << ",\"median\":" << jnum(median(realize_s) * 1e3)
     << "},\"kernel_ms\":{\"min\":" << jnum(minimum(kernel_s) * 1e3)
     << ",\"median\":" << jnum(median(kernel_s) * 1e3)
     << "},\"build_graph_ms\":{\"min\":" << jnum(minimum(build_s) * 1e3)
     << ",\"median\":" << jnum(median(build_s) * 1e3) << "},\"kernels\":[";
  for (size_t i = 0; i < per_kernel.size(); i++) {
    const auto& v = per_kernel[i].second;
    js << (i ? "," : "") << "{\"name\":" << jstr(per_kernel[i].first)
       << ",\"min_ms\":" << jnum(minimum(v) * 1e3) << ",\"median_ms\":" << jnum(median(v) * 1e3)
       << "}";
  }
  js << "]";

  Check ck(c.atol, c.rtol);
  if (out.empty()) {
    js << ",\"check\":{\"ok\":false,\"error\":\"no output read\"}";
  } else {
    c.check(host, out, ck);
    js << ",\"check\":{\"ok\":" << (ck.bad == 0 && ck.checked > 0 ? "true" : "false")
       << ",\"checked\":" << ck.checked << ",\"bad\":" << ck.bad
       << ",\"worst_err_over_tol\":" << jnum(ck.worst)
       << ",\"max_abs_err\":" << jnum(ck.max_abs_err) << ",\"atol\":" << jnum(c.atol)
       << ",\"rtol\":" << jnum(c.rtol) << "}";
  }
  if (!other.empty()) js << ",\"stderr\":" << jstr(other.substr(0, 20000));
  if (getenv_int(Flag::DEBUG) >= 3)
    std::fprintf(stderr, "=== %s\n%s", c.name.c_str(), other.c_str());
  js << "}";
  return js.str();
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  double budget = 4;
  std::vector<std::string> only;
  bool list = false;
  std::string out_file;  // --benchmark_out: the same JSON objects, as one array
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], val;
    bool has_val = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos)
      val = a.substr(eq + 1), a = a.substr(0, eq), has_val = true;
    auto next = [&]() -> std::string {
      if (has_val) return val;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ops_cpu: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--reps")
      reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--budget")
      budget = std::atof(next().c_str());
    else if (a == "--cases") {
      std::stringstream ss(next());
      std::string s;
      while (std::getline(ss, s, ','))
        if (!s.empty()) only.push_back(s);
    } else if (a == "--list")
      list = true;
    // `make bench` runs every bench/ binary with Google Benchmark's flags: a brief run
    else if (a == "--benchmark_min_time")
      reps = 3, budget = std::atof(next().c_str());
    else if (a == "--benchmark_out")
      out_file = next();
    else if (a.rfind("--benchmark_", 0) == 0)
      continue;  // other Google Benchmark flags (--flag=value)
    else {
      std::fprintf(stderr,
                   "usage: ops_cpu [--reps N] [--budget SECONDS] [--cases a,b] [--list] "
                   "[--benchmark_min_time=S] [--benchmark_out=FILE]\n");
      return 2;
    }
  }
  std::vector<Case> cases = all_cases();
  if (list) {
    for (auto& c : cases) std::printf("%s\n", c.name.c_str());
    return 0;
  }
  for (auto& name : only)
    if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return c.name == name; })) {
      std::fprintf(stderr, "ops_cpu: unknown case '%s' (--list shows them)\n", name.c_str());
      return 2;
    }

  // kernel times come from the DEBUG=2 timed launches; the lines are captured per realize
  // (DEBUG=3 or more in the environment is kept, and what it prints besides the kernel lines is
  // passed on to stderr after each case: DEBUG=4 shows the kernels' C source)
  int64_t env_debug = getenv_int(Flag::DEBUG);
  Context dbg{{"DEBUG", std::max<int64_t>(2, env_debug)}};
  {  // open the device and start the pool's workers outside every measurement
    StderrCapture cap;
    get_device("CPU");
    parallel_for(num_threads(), [](int64_t, int64_t) {});
  }
  Timer total;
  Totals tot;
  int failed = 0;
  std::vector<std::string> lines;
  for (const Case& c : cases) {
    if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
    std::string line;
    try {
      line = run_case(c, reps, budget, tot);
      if (line.find("\"check\":{\"ok\":true") == std::string::npos) failed++;
    } catch (const std::exception& e) {
      failed++;
      line = "{\"case\":" + jstr(c.name) + ",\"kind\":" + jstr(c.kind) +
             ",\"error\":" + jstr(e.what()) + "}";
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    lines.push_back(line);
  }
  CompileStats cs = compile_stats();
  char summary[1024];
  std::snprintf(summary, sizeof summary,
                "{\"summary\":true,\"threads\":%d,\"cachedir\":%s,\"first_realize_total_ms\":%s,"
                "\"compile_total_ms\":%s,"
                "\"compiles\":%lld,\"disk_cache_hits\":%lld,\"kernels_first_realize\":%lld,"
                "\"process_compiles\":%lld,"
                "\"wall_s\":%s,\"failed_cases\":%d}",
                num_threads(), jstr(getenv_str(Flag::CACHEDIR)).c_str(),
                jnum(tot.first_realize_s * 1e3).c_str(), jnum(tot.compile_s * 1e3).c_str(),
                static_cast<long long>(tot.compiles), static_cast<long long>(tot.cache_hits),
                static_cast<long long>(tot.kernels), static_cast<long long>(cs.compiles),
                jnum(total.elapsed()).c_str(), failed);
  std::printf("%s\n", summary);
  lines.push_back(summary);
  if (!out_file.empty()) {
    if (FILE* f = std::fopen(out_file.c_str(), "w")) {
      std::fprintf(f, "[\n");
      for (size_t i = 0; i < lines.size(); i++)
        std::fprintf(f, "%s%s\n", lines[i].c_str(), i + 1 < lines.size() ? "," : "");
      std::fprintf(f, "]\n");
      std::fclose(f);
    } else {
      std::fprintf(stderr, "ops_cpu: cannot write %s\n", out_file.c_str());
      failed++;
    }
  }
  // _Exit, not return: skip static destructors. At exit the main thread's thread_local free
  // queue in UOp::release (ir/uop.cc) is destroyed before the function-local KernelCache of
  // engine/realize.cc, whose destructor then releases UOps into it (a use-after-free that
  // aborts now and then with "malloc_consolidate(): unaligned fastbin chunk detected").
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(failed ? 1 : 0);
}
