// BEAM=n search: a beam of the n fastest opt lists, each step extended by one action, every
// distinct program compiled in parallel, checked against the unoptimized kernel and timed on
// scratch buffers; stops when a step finds nothing faster. The beam starts from no opts and from
// the heuristic's choice, so the search never ends slower than the heuristic it measured.
#include "femtograd/engine/beam.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/hash.h"
#include "femtograd/base/host_convert.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/base/timing.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/engine/realize.h"
#include "femtograd/render/render.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/runtime/disk_cache.h"

namespace fg {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct State {
  std::mutex mu;
  BeamStats stats;
  BeamResult last;
  // key -> winner (nullopt: the heuristic)
  std::unordered_map<std::string, std::optional<std::vector<Opt>>> memory;
  BeamSourceHook hook;
};
State& state() {
  static State* s = new State();  // never destroyed: used until static teardown
  return *s;
}

template <class F>
void bump(F f) {
  std::lock_guard lock(state().mu);
  f(state().stats);
}

bool beam_debug(int level) {
  return getenv_int(Flag::BEAM_DEBUG) >= level || (level <= 1 && getenv_int(Flag::DEBUG) >= 2);
}

std::string opts_str(const std::vector<Opt>& opts) {
  std::string s;
  for (const Opt& o : opts) s += (s.empty() ? "" : " ") + opt_str(o);
  return "[" + s + "]";
}

// ----------------------------------------------------------------------------- the cache

// "CUDA:1" and "CUDA:0" share winners (same arch: the compiler key says which)
std::string device_kind(const Device& dev) {
  std::string n = dev.name();
  return n.substr(0, n.find(':'));
}

}  // namespace

std::string beam_cache_key(const UOpRef& ast, Device& dev, int width) {
  std::string k = "fgbeam1";
  k += '\0' + device_kind(dev) + '\0' + dev.renderer() + '\0' + dev.compiler()->cache_key();
  k += '\0' + std::to_string(width) + '\0' + ast->str();
  return sha256_hex(k);
}

namespace {

std::string serialize(const std::optional<std::vector<Opt>>& w) {
  std::string s = "fgbeam1\n";
  if (!w) return s + "heuristic\n";
  s += "opts\n";
  for (const Opt& o : *w)
    s += std::string(opt_kind_name(o.kind)) + " " + std::to_string(o.axis) + " " + std::to_string(o.amount) + "\n";
  return s;
}

// false when the text is not a winner this version wrote
bool parse(const std::string& text, std::optional<std::vector<Opt>>* out) {
  std::istringstream in(text);
  std::string magic, what;
  if (!(in >> magic >> what) || magic != "fgbeam1") return false;
  if (what == "heuristic") {
    *out = std::nullopt;
    return true;
  }
  if (what != "opts") return false;
  std::vector<Opt> opts;
  std::string kind;
  int64_t axis, amount;
  while (in >> kind >> axis >> amount) {
    bool found = false;
    for (Opt::Kind k : {Opt::Kind::UPCAST, Opt::Kind::UNROLL, Opt::Kind::VECTOR, Opt::Kind::LOCAL,
                        Opt::Kind::GROUP, Opt::Kind::GROUPTOP, Opt::Kind::STAGE, Opt::Kind::BLOCK,
                        Opt::Kind::PADTO})
      if (kind == opt_kind_name(k)) opts.push_back({k, axis, amount}), found = true;
    if (!found) return false;
  }
  if (!in.eof()) return false;
  *out = std::move(opts);
  return true;
}

// ----------------------------------------------------------------------------- scratch runs

// Kernels whose launches on random data could trap (integer division by a loaded value) or that
// need run-time values (variables) are not searched.
bool searchable(const UOpRef& ast, std::string* why) {
  for (const UOp* n : ast->toposort()) {
    if (n->op == Op::DEFINE_VAR) return *why = "it has variables", false;
    if ((n->op == Op::IDIV || n->op == Op::MOD))
      for (const UOp* m : n->src(1)->toposort())
        if (m->op == Op::DEFINE_GLOBAL) return *why = "an integer division by a loaded value", false;
    if (n->op == Op::DEFINE_GLOBAL && n->dtype.size <= 0) return *why = "an empty buffer", false;
  }
  return true;
}

// random contents for a buffer of dt: floats in [-1, 1], integers in [1, 16] (no zero divisors
// from loaded values), bools 0/1
std::vector<unsigned char> random_bytes(DType dt, int64_t n, std::mt19937_64& rng) {
  std::vector<unsigned char> out(static_cast<size_t>(n) * dt.itemsize());
  std::uniform_real_distribution<double> f(-1.0, 1.0);
  std::uniform_int_distribution<int> i(1, 16), b(0, 1);
  for (int64_t k = 0; k < n; k++) {
    double v = dt.is_bool() ? b(rng) : dt.is_float() ? f(rng) : i(rng);
    store_from_double(dt, v, out.data() + k * dt.itemsize());
  }
  return out;
}

// whether got matches want (the unoptimized kernel's output): integers and bools exactly; floats
// within a tolerance for reassociated sums, scaled by the output's magnitude; NaN matches NaN
bool outputs_match(DType dt, const std::vector<unsigned char>& want, const std::vector<unsigned char>& got) {
  if (want.size() != got.size()) return false;
  if (!dt.is_float()) return want == got;
  int64_t n = static_cast<int64_t>(want.size()) / dt.itemsize();
  double rtol = dt.scalar == ScalarType::Float32 || dt.scalar == ScalarType::Float64 ? 1e-3
                : dt.is_fp8()                                                        ? 0.25
                                                                                     : 2e-2;
  double scale = 0;
  for (int64_t k = 0; k < n; k++) {
    double a = load_as_double(dt, want.data() + k * dt.itemsize());
    if (std::isfinite(a)) scale = std::max(scale, std::fabs(a));
  }
  double atol = rtol * std::max(1.0, scale) * 1e-2;
  for (int64_t k = 0; k < n; k++) {
    double a = load_as_double(dt, want.data() + k * dt.itemsize());
    double b = load_as_double(dt, got.data() + k * dt.itemsize());
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) return false;
      continue;
    }
    if (std::isinf(a) || std::isinf(b)) {
      if (a != b) return false;
      continue;
    }
    if (std::fabs(a - b) > atol + rtol * std::fabs(a)) return false;
  }
  return true;
}

struct Candidate {
  std::vector<Opt> opts;
  bool heuristic = false;  // the heuristic's own program (its opts may not replay as a list)
  KernelProgram prog;
  std::string src;
  std::string bin;
  bool compiled = false;
  double t = kInf;         // min of the timed launches; inf: rejected
};

class Search {
 public:
  Search(const UOpRef& ast, Device& dev, int width)
      : ast_(ast), dev_(dev), target_(target_for(dev)), width_(width) {}

  // the winner; throws nothing for a bad candidate, but does for a broken reference
  BeamResult run() {
    Timer clock;
    BeamResult res;
    std::vector<Opt> none;
    Candidate base;
    base.prog = codegen(ast_, target_, &none);
    res.kernel = base.prog.name;
    setup_buffers(base.prog);
    base.src = render(dev_.renderer(), base.prog);
    base.bin = dev_.compiler()->compile(base.src, base.prog.name);
    base.compiled = true;
    std::unique_ptr<Program> p0 = dev_.load(base.prog.name, base.bin);
    reset_outputs();
    double t0 = launch(*p0, base.prog);
    reference_ = read_output();
    base.t = t0;  // one launch: the reference is rarely a contender, and can be slow
    seen_.insert(base.src);

    Candidate heur;
    heur.heuristic = true;
    heur.prog = codegen(ast_, target_);
    heur.opts = heur.prog.opts;
    res.heuristic_opts = heur.opts;
    std::vector<Candidate> first;
    heur.src = render(dev_.renderer(), heur.prog);
    if (seen_.insert(heur.src).second) {
      first.push_back(std::move(heur));
      evaluate(first, kInf);
      if (first[0].t < kInf) heuristic_ = first[0];  // kept for the final confirmation
    }
    res.unoptimized_s = base.t;
    res.heuristic_s = first.empty() ? base.t : first[0].t;
    std::vector<Candidate> beam{std::move(base)};
    if (!first.empty() && first[0].t < kInf) beam.push_back(std::move(first[0]));
    std::sort(beam.begin(), beam.end(), [](const Candidate& a, const Candidate& b) { return a.t < b.t; });
    prune(beam);
    if (beam_debug(1))
      std::fprintf(stderr, "BEAM %s: unoptimized %.2f us, heuristic %s %.2f us\n", res.kernel.c_str(),
                   res.unoptimized_s * 1e6, opts_str(res.heuristic_opts).c_str(), res.heuristic_s * 1e6);

    std::vector<Opt> actions = beam_actions(ast_, target_);
    int64_t max_steps = getenv_int(Flag::BEAM_MAX_STEPS);
    int64_t uops_max = getenv_int(Flag::BEAM_UOPS_MAX);
    for (int step = 1; max_steps <= 0 || step <= max_steps; step++) {
      std::vector<Candidate> cands;
      for (const Candidate& b : beam) {
        for (const Opt& a : actions) {
          Candidate c;
          c.opts = b.opts;
          c.opts.push_back(a);
          try {
            c.prog = codegen(ast_, target_, &c.opts);
          } catch (const std::exception&) {
            continue;  // the opt does not apply here
          }
          if (uops_max > 0 && static_cast<int64_t>(c.prog.lines.size()) > uops_max) {
            bump([](BeamStats& s) { s.rejected_limit++; });
            continue;
          }
          try {
            c.src = render(dev_.renderer(), c.prog);
          } catch (const std::exception&) {
            bump([](BeamStats& s) { s.rejected_failed++; });
            continue;
          }
          if (!seen_.insert(c.src).second) continue;  // the same program by another path
          cands.push_back(std::move(c));
        }
      }
      if (cands.empty()) break;
      evaluate(cands, beam[0].t);
      std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.t < b.t; });
      if (beam_debug(1))
        std::fprintf(stderr, "BEAM %s: step %d, %zu programs, best %s %.2f us (%.1f s so far)\n", res.kernel.c_str(),
                     step, cands.size(), opts_str(cands[0].opts).c_str(), cands[0].t * 1e6, clock.elapsed());
      res.steps = step;
      if (!(cands[0].t < beam[0].t)) break;  // no faster program: the beam's best wins
      beam.clear();
      for (size_t i = 0; i < cands.size() && static_cast<int>(i) < width_ && cands[i].t < kInf; i++)
        beam.push_back(std::move(cands[i]));
      prune(beam);
    }
    Candidate win = std::move(beam[0]);
    // on a busy machine one fast launch can be luck: a winner other than the heuristic must also
    // beat it in 6 interleaved launches each (ABBA order), or the heuristic stays
    if (!win.heuristic && heuristic_) {
      std::unique_ptr<Program> pw = dev_.load(win.prog.name, win.bin);
      std::unique_ptr<Program> ph = dev_.load(heuristic_->prog.name, heuristic_->bin);
      double tw = kInf, th = kInf;
      for (int r = 0; r < 6; r++) {  // ABBA order: neither runs always first
        bool h_first = r % 4 == 0 || r % 4 == 3;
        if (h_first) th = std::min(th, launch(*ph, heuristic_->prog));
        tw = std::min(tw, launch(*pw, win.prog));
        if (!h_first) th = std::min(th, launch(*ph, heuristic_->prog));
      }
      if (beam_debug(1))
        std::fprintf(stderr, "BEAM %s: interleaved: %s %.2f us, heuristic %.2f us\n", res.kernel.c_str(),
                     opts_str(win.opts).c_str(), tw * 1e6, th * 1e6);
      res.heuristic_s = th;
      win.t = tw;
      if (!(tw < th)) {
        win = std::move(*heuristic_);
        win.t = th;
      }
    }
    res.opts = win.opts;
    res.best_s = win.t;
    res.searched = true;
    if (beam_debug(1))
      std::fprintf(stderr, "BEAM %s: winner %s %.2f us vs heuristic %s %.2f us (%.2fx), unoptimized %.2f us; %.1f s\n",
                   res.kernel.c_str(), opts_str(res.opts).c_str(), res.best_s * 1e6,
                   opts_str(res.heuristic_opts).c_str(), res.heuristic_s * 1e6, res.heuristic_s / res.best_s,
                   res.unoptimized_s * 1e6, clock.elapsed());
    winner_is_heuristic_ = win.heuristic;
    return res;
  }

  bool winner_is_heuristic() const { return winner_is_heuristic_; }

 private:
  // a beam entry 3x slower than the best is not extended: its variants are rarely contenders and
  // each costs a slow launch (the unoptimized start of a large matmul takes seconds)
  static void prune(std::vector<Candidate>& beam) {
    while (beam.size() > 1 && beam.back().t > 3 * beam[0].t) beam.pop_back();
  }

  void setup_buffers(const KernelProgram& prog) {
    std::mt19937_64 rng(0x5eed5eedULL);
    for (const UOp* n : ast_->toposort())
      if (n->op == Op::STORE && n->src(0)->op == Op::DEFINE_GLOBAL)
        outputs_.push_back(static_cast<size_t>(n->src(0)->arg.as_int()));
    FG_ASSERT(!outputs_.empty(), "BEAM: a kernel without a store to a buffer");
    for (const DType& p : prog.params) {
      auto b = Buffer::create(dev_, p.base(), p.size);
      auto bytes = random_bytes(p.base(), p.size, rng);
      b->copy_in(bytes.data(), bytes.size());
      bufs_.push_back(b);
      init_.push_back(std::move(bytes));
      ptrs_.push_back(b->ensure_allocated());
    }
  }
  // the buffers a kernel writes start from the same contents for every checked launch (a kernel
  // that reads what it writes, and a variant that skips elements, both show)
  void reset_outputs() {
    for (size_t i : outputs_) bufs_[i]->copy_in(init_[i].data(), init_[i].size());
  }
  std::vector<std::vector<unsigned char>> read_output() {
    std::vector<std::vector<unsigned char>> out;
    for (size_t i : outputs_) {
      out.emplace_back(bufs_[i]->nbytes());
      bufs_[i]->copy_out(out.back().data(), out.back().size());
    }
    return out;
  }
  double launch(Program& p, const KernelProgram& k) {
    LaunchDims d;
    for (int i = 0; i < 3; i++) d.global[i] = k.global_size[i], d.local[i] = k.local_size[i];
    bump([](BeamStats& s) { s.launches++; });
    return p.run(std::span<void* const>(ptrs_.data(), ptrs_.size()), {}, d, true);
  }
  // min of `first` (a launch already made) and up to 2 more; none when clearly slower than `best`
  double time(Program& p, const KernelProgram& k, double best, double first = kInf) {
    double t = first;
    for (int i = 0; i < 2 && !(t > 2 * best); i++) t = std::min(t, launch(p, k));
    return t;
  }

  // compiles the candidates in parallel, then checks and times each one in turn
  void evaluate(std::vector<Candidate>& cs, double best) {
    BeamSourceHook hook;
    {
      std::lock_guard lock(state().mu);
      hook = state().hook;
    }
    if (hook)
      for (Candidate& c : cs) hook(c.opts, c.src);
    Compiler* comp = dev_.compiler();
    parallel_for(
        static_cast<int64_t>(cs.size()),
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; i++) {
            try {
              cs[i].bin = comp->compile(cs[i].src, cs[i].prog.name);
              cs[i].compiled = true;
            } catch (const std::exception&) {
            }
          }
        },
        static_cast<int64_t>(cs.size()));
    bump([&](BeamStats& s) { s.candidates += static_cast<int64_t>(cs.size()); });
    for (Candidate& c : cs) {
      c.t = kInf;
      const char* verdict = "ok";
      try {
        if (!c.compiled) throw Error(ErrorKind::Runtime, "BEAM", "compile failed");
        std::unique_ptr<Program> p = dev_.load(c.prog.name, c.bin);
        reset_outputs();
        double t0 = launch(*p, c.prog);
        if (!matches_reference(read_output())) {
          verdict = "WRONG";
          bump([](BeamStats& s) { s.rejected_wrong++; });
        } else {
          c.t = time(*p, c.prog, best, t0);
          best = std::min(best, c.t);
        }
      } catch (const std::exception&) {
        verdict = "failed";
        bump([](BeamStats& s) { s.rejected_failed++; });
      }
      if (beam_debug(2))
        std::fprintf(stderr, "BEAM   %-60s %10.2f us  %s\n", opts_str(c.opts).c_str(), c.t * 1e6, verdict);
    }
  }
  bool matches_reference(const std::vector<std::vector<unsigned char>>& got) {
    if (got == reference_) return true;
    for (size_t j = 0; j < outputs_.size(); j++)
      if (!outputs_match(bufs_[outputs_[j]]->dtype(), reference_[j], got[j])) return false;
    return true;
  }

  UOpRef ast_;
  Device& dev_;
  Target target_;
  int width_;
  std::vector<std::shared_ptr<Buffer>> bufs_;
  std::vector<void*> ptrs_;
  std::vector<std::vector<unsigned char>> init_;
  std::vector<size_t> outputs_;
  std::vector<std::vector<unsigned char>> reference_;
  std::unordered_set<std::string> seen_;
  bool winner_is_heuristic_ = false;
  std::optional<Candidate> heuristic_;
};

}  // namespace

std::vector<Opt> beam_actions(const UOpRef& ast, const Target& target) {
  std::vector<Opt> none;
  KernelProgram base = codegen(ast, Target{}, &none);  // every loop, unsplit (the axes are target independent)
  std::vector<Opt> out;
  auto add = [&](Opt::Kind k, int64_t axis, int64_t amt) {
    for (const Opt& o : out)
      if (o.kind == k && o.axis == axis && o.amount == amt) return;
    out.push_back({k, axis, amt});
  };
  for (const UOpRef& l : base.lines) {
    if (l->op != Op::RANGE || l->src(0)->op != Op::CONST) continue;
    int64_t axis = l->arg.as_ints()[0], type = l->arg.as_ints()[1], size = l->src(0)->arg.to_int();
    bool reduce = type == AXIS_REDUCE;
    if (type != AXIS_REDUCE && type != AXIS_GLOBAL && type != AXIS_LOOP) continue;
    Opt::Kind split = reduce ? Opt::Kind::UNROLL : Opt::Kind::UPCAST;
    for (int64_t a : {2, 3, 4, 8}) add(split, axis, a);
    if (size <= 16) add(split, axis, size);  // the whole loop into registers
    for (int64_t a : {2, 4, 8, 16}) add(Opt::Kind::VECTOR, axis, a);
    if (!target.gpu && !reduce)
      for (int64_t a : {8, 16}) add(Opt::Kind::BLOCK, axis, a);  // cache blocking (opts.h)
    for (int64_t a : {8, 32})  // odd sizes: pad, so that the splits above apply after it
      if (size > a && size % a != 0) add(Opt::Kind::PADTO, axis, a);
    if (target.gpu) {
      if (!reduce)
        for (int64_t a : {2, 4, 8, 16, 32, 64, 128, 256}) add(Opt::Kind::LOCAL, axis, a);
      if (reduce)
        for (int64_t a : {4, 8, 16, 32, 64, 128, 256}) {
          add(Opt::Kind::GROUP, axis, a);
          add(Opt::Kind::GROUPTOP, axis, a);
        }
    }
  }
  return out;
}

std::optional<std::vector<Opt>> beam_opts(const UOpRef& ast, Device& dev, int width) {
  State& st = state();
  if (width <= 0 || !dev.compiler()) return std::nullopt;  // the NULL device times nothing
  std::string why;
  if (!searchable(ast, &why)) {
    bump([](BeamStats& s) { s.skipped++; });
    if (beam_debug(1)) std::fprintf(stderr, "BEAM: kernel keeps the heuristic: %s\n", why.c_str());
    return std::nullopt;
  }
  bool use_cache = getenv_int(Flag::IGNORE_BEAM_CACHE) == 0;
  std::string key = beam_cache_key(ast, dev, width);
  Target target = target_for(dev);
  // a cached winner is used when it still applies (codegen may have changed since it was written)
  auto applies = [&](const std::optional<std::vector<Opt>>& w) {
    if (!w) return true;
    try {
      codegen(ast, target, &*w);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  auto hit = [&](const std::optional<std::vector<Opt>>& w, bool disk) {
    std::lock_guard lock(st.mu);
    (disk ? st.stats.disk_hits : st.stats.memory_hits)++;
    st.last = BeamResult{};
    st.last.opts = w ? *w : std::vector<Opt>{};
    st.last.from_cache = true;
    if (disk) st.memory[key] = w;
    return w;
  };
  if (use_cache) {
    {
      std::lock_guard lock(st.mu);
      auto it = st.memory.find(key);
      if (it != st.memory.end()) {
        st.stats.memory_hits++;
        st.last = BeamResult{};
        st.last.opts = it->second ? *it->second : std::vector<Opt>{};
        st.last.from_cache = true;
        return it->second;
      }
    }
    if (auto text = disk_cache_get("beam", key)) {
      std::optional<std::vector<Opt>> w;
      if (parse(*text, &w) && applies(w)) {
        if (beam_debug(1)) std::fprintf(stderr, "BEAM: cached winner %s\n", w ? opts_str(*w).c_str() : "heuristic");
        return hit(w, true);
      }
    }
  }
  Search search(ast, dev, width);
  BeamResult res;
  try {
    res = search.run();
  } catch (const std::exception& e) {  // the unoptimized reference itself failed: nothing to compare with
    bump([](BeamStats& s) { s.skipped++; });
    if (beam_debug(1)) std::fprintf(stderr, "BEAM: kernel keeps the heuristic: %s\n", e.what());
    return std::nullopt;
  }
  std::optional<std::vector<Opt>> w = res.opts;
  if (search.winner_is_heuristic() && !applies(w)) w = std::nullopt;  // the heuristic's own path
  {
    std::lock_guard lock(st.mu);
    st.stats.searches++;
    st.last = res;
    if (use_cache) st.memory[key] = w;
  }
  if (use_cache) disk_cache_put("beam", key, serialize(w));
  return w;
}

BeamResult beam_last_result() {
  std::lock_guard lock(state().mu);
  return state().last;
}

BeamStats beam_stats() {
  std::lock_guard lock(state().mu);
  return state().stats;
}

void beam_reset_stats() {
  std::lock_guard lock(state().mu);
  state().stats = BeamStats{};
}

void beam_clear_memory_cache() {
  std::lock_guard lock(state().mu);
  state().memory.clear();
}

void set_beam_source_hook(BeamSourceHook hook) {
  std::lock_guard lock(state().mu);
  state().hook = std::move(hook);
}

}  // namespace fg
