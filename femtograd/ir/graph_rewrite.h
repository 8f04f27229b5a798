// graph_rewrite: applies a PatternMatcher to every node of a graph until nothing matches.
// Guarantees: no recursion (an explicit stack, so graph depth is unbounded), memoized per call (a
// shared subgraph is rewritten once), a fixed point (each result is rewritten again), and loud
// failure: a rule that changes a node's dtype, or rules that loop, stop with an Error naming the
// pass and the rule's file:line.
#pragma once
#include <string_view>

#include "femtograd/ir/pattern_matcher.h"

namespace fg {

enum class Traversal {
  SourcesFirst,  // rewrite a node's sources, then the node (bottom-up; the default)
  NodeFirst,     // try the node before its sources; descend only where no rule fired (top-down)
};

UOpRef graph_rewrite(const UOpRef& root, const PatternMatcher& pm, void* ctx, std::string_view pass,
                     Traversal order = Traversal::SourcesFirst);
inline UOpRef graph_rewrite(const UOpRef& root, const PatternMatcher& pm, std::string_view pass,
                            Traversal order = Traversal::SourcesFirst) {
  return graph_rewrite(root, pm, nullptr, pass, order);
}
template <class Ctx>
UOpRef graph_rewrite(const UOpRef& root, const PatternMatcher& pm, Ctx& ctx, std::string_view pass,
                     Traversal order = Traversal::SourcesFirst) {
  return graph_rewrite(root, pm, static_cast<void*>(&ctx), pass, order);
}

// Observes rewrites (VIZ and DEBUG>=5 install one). Calls come from the rewriting thread.
struct RewriteTracer {
  virtual ~RewriteTracer() = default;
  virtual void begin(std::string_view pass, const UOp* root) = 0;
  virtual void fired(const Rule& rule, const UOp* before, const UOp* after) = 0;
  virtual void end(const UOp* result) = 0;
};
// Installs a tracer for every graph_rewrite in the process (null removes it).
void set_rewrite_tracer(RewriteTracer* t);

// Statistics of the calling thread, for benchmarks: graph_rewrite calls, nodes visited, rules fired.
struct RewriteStats {
  uint64_t calls = 0, nodes = 0, fired = 0;
};
RewriteStats& rewrite_stats();

}  // namespace fg
