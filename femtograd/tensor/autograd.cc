// The autograd API of fg::Tensor: requires_grad marks, .grad accumulation, detach, NoGrad scopes,
// backward() and gradient(). The gradients themselves come from tensor/gradient.cc; the rules a
// user can rely on are in tensor/autograd.h.
#include "femtograd/tensor/autograd.h"

#include <mutex>
#include <unordered_set>

#include "femtograd/base/error.h"

namespace fg {

namespace {
thread_local bool t_grad_enabled = true;
}  // namespace

NoGrad::NoGrad() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = prev_; }
bool Tensor::grad_enabled() { return t_grad_enabled; }

// The registry of tensors marked with requires_grad_(): backward() looks for them in the loss graph.
// Held weakly; dead entries are pruned as the list grows. (Members are defined out of line here, so a
// second definition of TensorAccess elsewhere would be a link error, not a silent clash.)
struct TensorAccess {
  static void autograd_track(const Tensor& t);
  static std::vector<Tensor> autograd_marked();
};

namespace {
struct Registry {
  std::mutex mu;
  std::vector<std::weak_ptr<void>> marked;
  size_t prune_at = 64;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}
}  // namespace

void TensorAccess::autograd_track(const Tensor& t) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (r.marked.size() >= r.prune_at) {
    std::erase_if(r.marked, [](const std::weak_ptr<void>& w) { return w.expired(); });
    r.prune_at = std::max<size_t>(64, 2 * r.marked.size());
  }
  r.marked.push_back(std::static_pointer_cast<void>(t.s_));
}

std::vector<Tensor> TensorAccess::autograd_marked() {
  Registry& r = registry();
  std::vector<Tensor> out;
  std::unordered_set<const void*> seen;
  std::lock_guard lock(r.mu);
  for (const auto& w : r.marked) {
    auto sp = std::static_pointer_cast<Tensor::State>(w.lock());
    if (!sp || !sp->requires_grad || !seen.insert(sp.get()).second) continue;
    Tensor t;
    t.s_ = std::move(sp);
    out.push_back(std::move(t));
  }
  return out;
}

namespace {
// does the graph hold data of its own (a buffer or a realized value), or is it a pure constant
// expression that another tensor built the same way would share?
bool holds_data(const UOp* root) {
  for (const UOp* n : root->toposort())
    if (n->op == Op::BUFFER || n->op == Op::BUFFER_VIEW || n->realized()) return true;
  return false;
}

std::vector<UOpRef> uops_of(const std::vector<Tensor>& ts) {
  std::vector<UOpRef> out;
  out.reserve(ts.size());
  for (const Tensor& t : ts) out.push_back(t.uop());
  return out;
}

// the gradient backward()/gradient() start from: the given one (checked, cast), or 1 for a scalar
Tensor root_gradient(const Tensor& t, const std::optional<Tensor>& given, const char* op) {
  FG_CHECK(t.dtype().is_float(), ErrorKind::Type, op, "only a floating point tensor can be differentiated, got ",
           t.dtype().name());
  if (given) {
    FG_CHECK(given->defined(), ErrorKind::Value, op, "the gradient is an empty Tensor handle");
    FG_CHECK(given->shape() == t.shape(), ErrorKind::Value, op, "the gradient has shape ",
             shape_str(given->shape()), " but the tensor has shape ", shape_str(t.shape()));
    FG_CHECK(given->device() == t.device(), ErrorKind::Value, op, "the gradient is on ", given->device(),
             " but the tensor is on ", t.device());
    return given->cast(t.dtype());
  }
  FG_CHECK(t.numel() == 1, ErrorKind::Value, op,
           "a gradient can be implied only for a tensor of one element, this one has shape ", shape_str(t.shape()),
           "; pass a gradient of that shape");
  return t.full_like(1.0);
}
}  // namespace

bool Tensor::requires_grad() const {
  const State& s = st();
  if (s.requires_grad) return true;
  if (s.built_without_grad) return false;
  std::vector<Tensor> marked = TensorAccess::autograd_marked();
  if (marked.empty()) return false;
  std::vector<UOpRef> targets = uops_of(marked);
  return depends_differentiably(uop().get(), targets);
}

Tensor& Tensor::requires_grad_(bool on) {
  st();
  if (!on) {
    s_->requires_grad = false;
    return *this;
  }
  FG_CHECK(dtype().is_float(), ErrorKind::Type, "requires_grad_",
           "only floating point tensors can require gradients, got ", dtype().name());
  if (s_->requires_grad) return *this;
  // a constant expression is interned: two zeros((3,)) would be one node, so give it a buffer
  if (!holds_data(uop().get())) {
    std::vector<unsigned char> raw(static_cast<size_t>(numel()) * dtype().itemsize());
    copy_to_host(raw.data(), raw.size());
    s_->uop = from_data(raw.data(), dtype(), shape(), device()).uop();
  }
  s_->requires_grad = true;
  TensorAccess::autograd_track(*this);
  return *this;
}

Tensor Tensor::grad() const {
  const State& s = st();
  return s.grad ? *s.grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  st();
  if (!g.defined()) {
    s_->grad.reset();
    return;
  }
  FG_CHECK(g.shape() == shape(), ErrorKind::Value, "set_grad", "the gradient has shape ", shape_str(g.shape()),
           " but the tensor has shape ", shape_str(shape()));
  FG_CHECK(g.dtype() == dtype(), ErrorKind::Type, "set_grad", "the gradient is ", g.dtype().name(),
           " but the tensor is ", dtype().name());
  FG_CHECK(g.device() == device(), ErrorKind::Value, "set_grad", "the gradient is on ", g.device(),
           " but the tensor is on ", device());
  s_->grad = std::make_shared<Tensor>(g);
}

void Tensor::zero_grad() const {
  st();
  s_->grad.reset();
}

Tensor Tensor::detach() const {
  if (uop()->op == Op::DETACH) return *this;
  return Tensor(UOp::make(Op::DETACH, dtype(), {uop()}), shape(), device());
}

void Tensor::backward(std::optional<Tensor> gradient) const {
  Tensor g = root_gradient(*this, gradient, "backward");
  FG_CHECK(!st().built_without_grad || st().requires_grad, ErrorKind::Value, "backward",
           "the tensor was built inside a NoGrad scope, so nothing requires its gradient");
  std::vector<Tensor> marked = TensorAccess::autograd_marked();
  std::vector<UOpRef> targets = uops_of(marked);
  std::vector<std::optional<Tensor>> grads = compute_gradient(*this, g, targets);
  bool any = false;
  for (size_t i = 0; i < marked.size(); i++) {
    if (!grads[i]) continue;
    any = true;
    Tensor old = marked[i].grad();
    marked[i].set_grad(old.defined() ? old + *grads[i] : *grads[i]);
  }
  FG_CHECK(any, ErrorKind::Value, "backward",
           "the tensor does not depend on any tensor with requires_grad (mark parameters with requires_grad_())");
}

std::vector<Tensor> Tensor::gradient(const std::vector<Tensor>& wrt, std::optional<Tensor> gradient) const {
  Tensor g = root_gradient(*this, gradient, "gradient");
  for (const Tensor& w : wrt)
    FG_CHECK(w.dtype().is_float(), ErrorKind::Type, "gradient", "cannot differentiate with respect to a ",
             shape_str(w.shape()), " ", w.dtype().name(), " tensor: only floating point tensors have gradients");
  std::vector<UOpRef> targets = uops_of(wrt);
  std::vector<std::optional<Tensor>> grads = compute_gradient(*this, g, targets);
  std::vector<Tensor> out;
  out.reserve(wrt.size());
  for (size_t i = 0; i < wrt.size(); i++) out.push_back(grads[i] ? *grads[i] : wrt[i].zeros_like());
  return out;
}


namespace {
struct CustomGradRegistry {
  std::mutex mu;
  std::vector<std::pair<std::string, CustomGradRule>> rules;
};
CustomGradRegistry& custom_grads() {
  static CustomGradRegistry* r = new CustomGradRegistry();
  return *r;
}
}  // namespace

int register_custom_grad(const char* name, CustomGradRule rule) {
  CustomGradRegistry& r = custom_grads();
  std::lock_guard<std::mutex> lock(r.mu);
  for (size_t i = 0; i < r.rules.size(); i++)
    if (r.rules[i].first == name) {
      FG_ASSERT(r.rules[i].second == rule, "register_custom_grad: two rules named ", name);
      return static_cast<int>(i);
    }
  r.rules.emplace_back(name, rule);
  return static_cast<int>(r.rules.size() - 1);
}

CustomGradRule custom_grad_rule(int64_t id) {
  CustomGradRegistry& r = custom_grads();
  std::lock_guard<std::mutex> lock(r.mu);
  FG_ASSERT(id >= 0 && static_cast<size_t>(id) < r.rules.size(), "custom gradient rule ", id, " is not registered");
  return r.rules[static_cast<size_t>(id)].second;
}

Tensor with_custom_grad(const Tensor& value, const std::vector<Tensor>& inputs, int rule,
                        const std::vector<int64_t>& params) {
  custom_grad_rule(rule);  // checks the id
  std::vector<UOpRef> srcs{value.uop()};
  for (const Tensor& t : inputs) {
    FG_CHECK(t.device() == value.device(), ErrorKind::Value, "with_custom_grad", "input on ", t.device(),
             " but the value is on ", value.device());
    srcs.push_back(t.uop());
  }
  std::vector<int64_t> arg{rule};
  arg.insert(arg.end(), params.begin(), params.end());
  return Tensor(UOp::make(Op::CUSTOM_GRAD, value.dtype(), srcs, Arg(arg)), value.shape(), value.device());
}
}  // namespace fg
