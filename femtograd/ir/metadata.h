// Kernel metadata (tinygrad's Metadata): which user-level operation built a tensor-level node, so
// that every kernel can say which ops it came from (DEBUG=2, VIZ). The frontend (tensor/metadata.h)
// names nodes as it builds them; the engine collects the names of the nodes a kernel computes.
// A node's metadata lives in its payload slot (which only BUFFER nodes use otherwise), so it dies
// with the node and costs nothing to nodes without one. Nodes are interned: the first op that
// builds a node names it.
#pragma once
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "femtograd/ir/uop.h"

namespace fg {

struct Metadata {
  std::string name;       // the user-level op: "conv2d", "Linear", "Adam.step", "add"
  std::string caller;     // "train.cc:42" where the frontend knows it, else empty
  bool backward = false;  // built by autograd for the gradient of `name`
  bool operator==(const Metadata&) const = default;
  std::string str() const;  // "relu@train.cc:42", "relu(bw)@train.cc:42", "add"
};
using MetadataRef = std::shared_ptr<const Metadata>;

// sets u's metadata unless it has one (BUFFER nodes never hold one)
void set_metadata(const UOp* u, const MetadataRef& m);
MetadataRef metadata_of(const UOp* u);

// The metadata of the nodes one kernel computes: from its outputs down to `boundary` nodes (buffers,
// values other kernels store), first seen first, each distinct one once.
std::vector<MetadataRef> collect_metadata(std::span<const UOpRef> outputs,
                                          const std::function<bool(const UOp*)>& boundary);
// "[conv2d@train.cc:42, relu@train.cc:42]"; empty for none
std::string metadata_str(const std::vector<MetadataRef>& ms);

}  // namespace fg
