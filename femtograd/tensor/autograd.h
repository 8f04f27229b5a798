// Autograd: gradients computed from the tensor-level UOp graph when they are asked for, by a pattern
// set of gradient rules (one rule per op, tensor/gradient.cc), like tinygrad's gradient.py.
//
// The rules of the game (what a user can rely on):
// - Nothing is recorded while the forward graph is built: the lazy UOp graph is the tape. backward()
//   walks it from the loss, in reverse topological order (no recursion), over the nodes that lie on
//   a path to a target, and sums the gradients of a node reached by several paths.
// - Tensors are identified by their UOp. A target is found in the loss graph as the tensor's current
//   UOp, or as the lazy node whose value it was when the tensor was realized after the loss was built.
//   Because nodes are interned, two tensors built the same way are the same node; requires_grad_()
//   therefore gives a pure-constant tensor (zeros, ones, arange, ...) a buffer of its own.
// - Gradients flow through every float-valued edge; they stop at DETACH (detach()), at ASSIGN, at
//   realized buffers (realizing an intermediate value cuts the graph there) and at values that are
//   not floating point (comparisons, integer ops, argmax). TRUNC (floor, ceil, round) has gradient 0.
// - requires_grad_() marks a leaf. backward() gives .grad only to marked tensors (PyTorch's leaf
//   rule; use gradient() for an intermediate value). requires_grad() of any other tensor is true when
//   it depends on a marked tensor through differentiable edges and was not built inside a NoGrad
//   scope (answered by a walk of its graph, so it costs O(graph)).
// - .grad accumulates across backward() calls and stays lazy: realize it (Tensor::realize_all over
//   the parameters' grads runs one schedule). The gradient keeps the parameter's dtype.
// - gradient(wrt) of a tensor the loss does not depend on is zeros (PyTorch gives None; tinygrad's
//   materialize_grads). Gradients with respect to non-float tensors are an error naming the dtype.
// - NoGrad (a thread_local scope): tensors built inside it report requires_grad() == false, so
//   backward() from them is an error. It does not cut gradients that later flow *through* such a
//   value into a marked tensor (a lazy graph has no tape to leave out, and interned nodes are shared):
//   use detach() for that, e.g. for a target network's output.
// - MAX splits the gradient equally between equal inputs (PyTorch's torch.maximum); so relu, built
//   as maximum(x, 0), has gradient 0.5 at exactly 0 where PyTorch's relu has 0. Max and min
//   reductions share the gradient equally among the maxima (PyTorch's amax/amin).
#pragma once
#include <optional>
#include <span>
#include <vector>

#include "femtograd/ir/pattern_matcher.h"
#include "femtograd/tensor/tensor.h"

namespace fg {

// While one lives, Tensor::grad_enabled() is false on this thread. Scopes nest.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

// What a gradient rule sees: the forward node, its sources and output as Tensors, and the gradient
// of its output (a tensor of the node's shape and dtype).
struct GradCtx {
  const UOp* node;
  Tensor g;
  ShapeCache* shapes;
  std::string device;
  std::vector<std::optional<Tensor>> out;  // set by the rule: one gradient per source, or none

  Tensor wrap(const UOpRef& u) const { return Tensor(u, (*shapes)(u.get()), device); }
  Tensor x(size_t i) const { return wrap(node->src(i)); }  // the i-th source
  Tensor ret() const { return wrap(node->ref()); }         // the node's own value
  Shape shape_of(size_t i) const { return (*shapes)(node->src(i).get()); }
};

// The gradient rules: each rule fills ctx.out with the gradients of the node's sources. A node of an
// op without a rule is an error (a missing rule is a bug, never a silent zero).
const PatternMatcher& gradient_rules();

// Gradients of `root` (whose own gradient is root_grad, of root's shape and dtype) with respect to
// each target UOp; an entry is empty where no differentiable path leads from root to that target.
std::vector<std::optional<Tensor>> compute_gradient(const Tensor& root, const Tensor& root_grad,
                                                    std::span<const UOpRef> targets);

// Whether root depends on any target through differentiable edges (the walk compute_gradient makes).
bool depends_differentiably(const UOp* root, std::span<const UOpRef> targets);

// ---- custom gradients (PyTorch's autograd.Function)
// A value can carry its own gradient rule: with_custom_grad(value, inputs, rule, params) is value
// (the scheduler drops the marker), but backward() gives the inputs the gradients the rule returns
// instead of differentiating value's graph. Use it where the generic rules would give a correct but
// badly shaped computation (a convolution's input gradient is a transposed convolution, not the
// transpose of the sliding-window view). A rule gets the output's gradient g, the value, the inputs
// and the integer params, and returns one gradient (or none) per input. Rules are plain functions
// registered once; the node holds the rule's id, so equal custom values stay one interned node.
// Targets strictly inside value's graph (neither an input nor reached through one) get no gradient.
using CustomGradRule = std::vector<std::optional<Tensor>> (*)(const Tensor& g, const Tensor& value,
                                                             std::span<const Tensor> inputs,
                                                             std::span<const int64_t> params);
int register_custom_grad(const char* name, CustomGradRule rule);
Tensor with_custom_grad(const Tensor& value, const std::vector<Tensor>& inputs, int rule,
                        const std::vector<int64_t>& params);
// the rule registered under id (for the CUSTOM_GRAD gradient rule)
CustomGradRule custom_grad_rule(int64_t id);

}  // namespace fg
