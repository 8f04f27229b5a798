#include "femtograd/ir/graph_rewrite.h"

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/ptr_map.h"

namespace fg {
namespace {
std::atomic<RewriteTracer*> g_tracer{nullptr};
thread_local RewriteStats t_stats;

struct Frame {
  const UOp* n;   // the node being rewritten (alive: a source of a live node, or held by a frame)
  UOpRef target;  // stage 2: the node whose final form n takes
  uint8_t stage;
  const Rule* rule;  // the rule that produced target (null when only sources changed)
};

struct Rewriter {
  const PatternMatcher& pm;
  void* ctx;
  std::string_view pass;
  Traversal order;
  RewriteTracer* tracer;
  PtrMap<UOpRef> done;         // node -> its final form; finals map to themselves
  PtrMap<uint8_t> in_progress;  // 1 while a node's rewrite runs, 0 after (PtrMap cannot erase)
  std::vector<Frame> stack;
  Match scratch;
  int64_t limit = getenv_int(Flag::REWRITE_LIMIT);
  int64_t nested = 0;  // stage-2 frames on the stack that came from a rule

  bool started(const UOp* n) {
    const uint8_t* p = in_progress.find(n);
    return p && *p;
  }

  [[noreturn]] void loop_error(const UOp* n) {
    std::string rules;
    int shown = 0;
    for (auto it = stack.rbegin(); it != stack.rend() && shown < 4; ++it)
      if (it->stage == 2 && it->rule) {
        rules += (shown ? ", " : "") + it->rule->where();
        shown++;
      }
    fail(ErrorKind::Internal, "graph_rewrite", "pass '", pass, "' does not converge: ", n->line(),
         " is rewritten into a graph containing itself again; rules that fired: ",
         rules.empty() ? "(none)" : rules);
  }

  // applies the matcher to n; on success pushes the result to be rewritten in turn
  bool try_rules(const UOp* n) {
    const Rule* rule = nullptr;
    UOpRef r = pm.rewrite(n, ctx, scratch, &rule);
    if (!r) return false;
    t_stats.fired++;
    if (!rule->may_change_dtype && !(r->dtype == n->dtype))
      fail(ErrorKind::Internal, "graph_rewrite", "pass '", pass, "': rule at ", rule->where(),
           " turned ", n->line(), " into ", r->line(), " (dtype changed from ", n->dtype.name(),
           " to ", r->dtype.name(), ")");
    if (tracer) tracer->fired(*rule, n, r.get());
    if (++nested > limit)
      fail(ErrorKind::Internal, "graph_rewrite", "pass '", pass, "' applied more than ", limit,
           " nested rewrites (REWRITE_LIMIT); last rule: ", rule->where());
    stack.push_back({n, r, 2, rule});
    push_new(r.get());
    return true;
  }

  void push_new(const UOp* n) {
    if (done.find(n)) return;
    if (started(n)) loop_error(n);
    stack.push_back({n, nullptr, 0, nullptr});
  }

  void push_sources(const UOp* n) {
    stack.push_back({n, nullptr, 1, nullptr});
    for (size_t i = n->nsrc(); i-- > 0;) {
      const UOpRef& s = n->src(i);
      if (!done.find(s.get())) {
        if (started(s.get())) loop_error(s.get());
        stack.push_back({s.get(), nullptr, 0, nullptr});
      }
    }
  }

  UOpRef run(const UOpRef& root) {
    stack.push_back({root.get(), nullptr, 0, nullptr});
    while (!stack.empty()) {
      Frame f = std::move(stack.back());
      stack.pop_back();
      const UOp* n = f.n;
      if (f.stage == 0) {
        if (done.find(n)) continue;  // reached twice through a shared subgraph
        if (started(n)) loop_error(n);
        in_progress.put(n, 1);
        t_stats.nodes++;
        if (order == Traversal::NodeFirst && try_rules(f.n)) continue;
        push_sources(f.n);
      } else if (f.stage == 1) {
        bool changed = false;
        for (const UOpRef& s : n->src()) changed |= done.find(s.get())->get() != s.get();
        if (changed) {
          new_src.clear();
          for (const UOpRef& s : n->src()) new_src.push_back(*done.find(s.get()));
          UOpRef rebuilt = n->replace_src(new_src);
          stack.push_back({f.n, rebuilt, 2, nullptr});
          push_new(rebuilt.get());
        } else if (order == Traversal::NodeFirst || !try_rules(f.n)) {
          finish(f.n, f.n->ref());
        }
      } else {
        if (f.rule) nested--;
        finish(f.n, *done.find(f.target.get()));
      }
    }
    return *done.find(root.get());
  }

  void finish(const UOp* n, UOpRef final_form) {
    in_progress.put(n, 0);
    // keep n alive while its address is a key: a freed node's address could be reused
    keep_alive.push_back(n->ref());
    done.put(n, std::move(final_form));
  }
  std::vector<UOpRef> keep_alive;
  std::vector<UOpRef> new_src;
};

// DEBUG>=5 without an installed tracer: each pass that changed something prints how many rules
// fired; DEBUG>=6 also prints every rule that fired (its file:line, the node before and after)
struct DebugTracer final : RewriteTracer {
  struct Open {
    std::string pass;
    uint64_t fired = 0;
  };
  std::vector<Open> open;  // graph_rewrite calls nest (a rule may rewrite a subgraph)
  void begin(std::string_view pass, const UOp*) override {
    open.push_back({std::string(pass), 0});
    if (getenv_int(Flag::DEBUG) >= 6) std::fprintf(stderr, "%*srewrite %s:\n", indent(), "", open.back().pass.c_str());
  }
  void fired(const Rule& rule, const UOp* before, const UOp* after) override {
    open.back().fired++;
    if (getenv_int(Flag::DEBUG) < 6) return;
    std::string file = rule.loc.file_name();
    if (size_t slash = file.find_last_of('/'); slash != std::string::npos) file = file.substr(slash + 1);
    std::fprintf(stderr, "%*s  %s:%u  %s  ->  %s\n", indent(), "", file.c_str(), static_cast<unsigned>(rule.loc.line()),
                 text(before).c_str(), text(after).c_str());
  }
  // a node as one line: integer and bool math as its expression ("((r0*4)+r1)"), the rest by op
  static std::string text(const UOp* u) {
    std::string t = u->has_bounds() ? u->expr() : u->line();
    return t.size() > 160 ? t.substr(0, 157) + "..." : t;
  }
  void end(const UOp* result) override {
    Open o = std::move(open.back());
    open.pop_back();
    if (o.fired)
      std::fprintf(stderr, "%*srewrite %-32s %6llu rules fired -> %s\n", indent(), "", o.pass.c_str(),
                   static_cast<unsigned long long>(o.fired), result->line().c_str());
  }
  int indent() const { return 2 * static_cast<int>(open.size() > 0 ? open.size() - 1 : 0); }
};
DebugTracer& debug_tracer() {
  thread_local DebugTracer t;
  return t;
}

}  // namespace

void set_rewrite_tracer(RewriteTracer* t) { g_tracer.store(t); }
RewriteStats& rewrite_stats() { return t_stats; }

UOpRef graph_rewrite(const UOpRef& root, const PatternMatcher& pm, void* ctx, std::string_view pass,
                     Traversal order) {
  t_stats.calls++;
  RewriteTracer* tracer = g_tracer.load();
  if (!tracer && getenv_int(Flag::DEBUG) >= 5) tracer = &debug_tracer();
  Rewriter rw{pm, ctx, pass, order, tracer, PtrMap<UOpRef>(64), PtrMap<uint8_t>(64), {}, {}};
  if (rw.tracer) rw.tracer->begin(pass, root.get());
  UOpRef out = rw.run(root);
  if (rw.tracer) rw.tracer->end(out.get());
  return out;
}

}  // namespace fg
