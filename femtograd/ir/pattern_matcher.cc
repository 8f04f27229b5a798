#include "femtograd/ir/pattern_matcher.h"

#include <cstring>

namespace fg {

std::string Rule::where() const {
  std::string f = loc.file_name();
  // shorten to the part under femtograd/ (or the last two path parts) for readable messages
  size_t pos = f.rfind("femtograd/");
  if (pos != std::string::npos) f = f.substr(pos + 10);
  return f + ":" + std::to_string(loc.line());
}

PatternMatcher::PatternMatcher(std::vector<Rule> rules) : rules_(std::move(rules)) { index(); }

PatternMatcher PatternMatcher::operator+(const PatternMatcher& o) const {
  std::vector<Rule> all = rules_;
  all.insert(all.end(), o.rules_.begin(), o.rules_.end());
  return PatternMatcher(std::move(all));
}

void PatternMatcher::index() {
  required_.clear();
  for (auto& v : by_op_) v.clear();
  for (uint32_t i = 0; i < rules_.size(); i++) {
    const UPat& p = rules_[i].pat;
    required_.push_back(p.required_src_ops());
    OpSet ops = p.node().ops.empty() ? OpSet::all() : p.node().ops;
    for (int o = 0; o < kNumOps; o++)
      if (ops.has(static_cast<Op>(o))) by_op_[o].push_back(i);
  }
}

UOpRef PatternMatcher::rewrite(const UOp* n, void* ctx, Match& m, const Rule** fired) const {
  const auto& candidates = by_op_[static_cast<int>(n->op)];
  if (candidates.empty()) return nullptr;
  OpSet present;
  for (const UOpRef& s : n->src()) present.add(s->op);
  for (uint32_t i : candidates) {
    if (!present.contains_all(required_[i])) continue;
    m.undo(0);
    m.root = n;
    if (!match(rules_[i].pat, n, m)) continue;
    UOpRef r = rules_[i].fn(m, ctx);
    if (r && r.get() != n) {
      if (fired) *fired = &rules_[i];
      return r;
    }
  }
  return nullptr;
}

UOpRef PatternMatcher::rewrite(const UOp* n, void* ctx) const {
  Match m;
  return rewrite(n, ctx, m);
}

}  // namespace fg
