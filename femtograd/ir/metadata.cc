// Kernel metadata storage and collection (metadata.h).
#include "femtograd/ir/metadata.h"

#include <unordered_set>

namespace fg {

std::string Metadata::str() const {
  std::string s = name;
  if (backward) s += "(bw)";
  if (!caller.empty()) s += "@" + caller;
  return s;
}

void set_metadata(const UOp* u, const MetadataRef& m) {
  if (!m || u->op == Op::BUFFER || u->payload()) return;
  u->set_payload(std::const_pointer_cast<Metadata>(m));
}

MetadataRef metadata_of(const UOp* u) {
  if (u->op == Op::BUFFER) return nullptr;
  return std::static_pointer_cast<const Metadata>(u->payload());
}

std::vector<MetadataRef> collect_metadata(std::span<const UOpRef> outputs,
                                          const std::function<bool(const UOp*)>& boundary) {
  std::vector<MetadataRef> out;
  std::unordered_set<const UOp*> seen, outs;
  for (const UOpRef& o : outputs) outs.insert(o.get());
  // sources before users (post-order, no recursion), so the list reads in the order ops ran
  std::vector<std::pair<const UOp*, bool>> stack;
  for (size_t i = outputs.size(); i-- > 0;) stack.push_back({outputs[i].get(), false});
  while (!stack.empty()) {
    auto [n, expanded] = stack.back();
    stack.pop_back();
    if (expanded) {
      MetadataRef m = metadata_of(n);
      bool dup = !m;
      for (const MetadataRef& x : out) dup = dup || *x == *m;
      if (!dup) out.push_back(m);
      continue;
    }
    if (!seen.insert(n).second) continue;
    // the outputs are what this kernel stores; below them, stored values belong to other kernels
    if (!outs.count(n) && boundary(n)) continue;
    stack.push_back({n, true});
    for (size_t i = n->nsrc(); i-- > 0;) stack.push_back({n->src(i).get(), false});
  }
  return out;
}

std::string metadata_str(const std::vector<MetadataRef>& ms) {
  if (ms.empty()) return "";
  std::string s = "[";
  for (size_t i = 0; i < ms.size(); i++) s += (i ? ", " : "") + ms[i]->str();
  return s + "]";
}

}  // namespace fg
