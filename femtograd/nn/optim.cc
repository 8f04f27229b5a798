// Optimizers and learning-rate schedules: each step builds every parameter's update lazily and
// realizes it in one schedule (optim.h says how and why).
#include "femtograd/nn/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "femtograd/base/error.h"
#include "femtograd/base/host_convert.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fg::nn {

namespace {
// a (2, *shape) tensor holding a in row 0 and b in row 1 (one kernel writes both)
Tensor stack2(const Tensor& a, const Tensor& b) {
  std::vector<std::pair<int64_t, int64_t>> pa{{0, 1}}, pb{{1, 0}};
  for (int64_t i = 0; i < a.ndim(); i++) {
    pa.push_back({0, 0});
    pb.push_back({0, 0});
  }
  return a.unsqueeze(0).pad(pa).add(b.unsqueeze(0).pad(pb));
}
// row r of a (2, *shape) tensor
Tensor row(const Tensor& t, int64_t r) {
  std::vector<std::pair<int64_t, int64_t>> b{{r, r + 1}};
  for (int64_t i = 1; i < t.ndim(); i++) b.push_back({0, t.shape()[i]});
  Shape s(t.shape().begin() + 1, t.shape().end());
  return t.shrink(b).reshape(s);
}
void write_host(const Tensor& t, const std::vector<double>& vals) {
  UOpRef buf = buffer_of_tensor(t);
  FG_ASSERT(buf && buf->op == Op::BUFFER, "optimizer: the hyper-parameter tensor lost its buffer");
  std::vector<unsigned char> raw(vals.size() * t.dtype().itemsize());
  convert_from(dtypes::float64, vals.data(), static_cast<int64_t>(vals.size()), t.dtype(), raw.data());
  auto b = buffer_of(buf);
  b->ensure_allocated();
  get_device(t.device()).synchronize();
  b->copy_in(raw.data(), raw.size());
}
}  // namespace

// ---------------------------------------------------------------- Optimizer

Optimizer::Optimizer(std::vector<Tensor*> params, double lr) : lr(lr) {
  std::vector<Tensor*> lazy;
  for (Tensor* p : params) {
    FG_CHECK(p && p->defined(), ErrorKind::Value, "Optimizer", "a parameter is an empty Tensor handle");
    if (p->dtype().is_float() && p->requires_grad()) {
      params_.push_back(p);
      if (!buffer_of_tensor(*p)) lazy.push_back(p);
    } else {
      buffers_.push_back(p);
    }
  }
  FG_CHECK(!params_.empty(), ErrorKind::Value, "Optimizer",
           "no parameter requires grad (mark them with requires_grad_())");
  if (!lazy.empty()) Tensor::realize_all(lazy);
}

Tensor Optimizer::zeros_buffer(const Shape& shape, DType dt, const std::string& device) {
  std::vector<unsigned char> raw(static_cast<size_t>(prod(shape)) * dt.itemsize(), 0);
  return Tensor::from_data(raw.data(), dt, shape, device);
}

Tensor Optimizer::h(size_t k, DType dt, const std::string& device) {
  auto key = std::make_pair(device, std::string(dt.name()));
  auto it = hyper_bufs_.find(key);
  if (it == hyper_bufs_.end()) {
    Tensor t = zeros_buffer({static_cast<int64_t>(hyper_now_.size())}, dt, device);
    write_host(t, hyper_now_);
    it = hyper_bufs_.emplace(key, t).first;
  }
  FG_ASSERT(k < hyper_now_.size(), "optimizer: hyper-parameter ", k, " of ", hyper_now_.size());
  int64_t i = static_cast<int64_t>(k);
  return it->second.shrink({{i, i + 1}}).reshape({});
}

void Optimizer::zero_grad() {
  for (Tensor* p : params_) p->zero_grad();
}

void Optimizer::step(std::vector<Tensor*> also) {
  t_++;
  hyper_now_ = hyper(t_);
  for (auto& [k, t] : hyper_bufs_) write_host(t, hyper_now_);
  // a parameter replaced by a lazy value since (e.g. by assign_to) needs its buffer back first
  std::vector<Tensor*> lazy;
  for (Tensor* p : params_)
    if (!buffer_of_tensor(*p)) lazy.push_back(p);
  if (!lazy.empty()) Tensor::realize_all(lazy);

  std::vector<Tensor> grads, news;
  std::vector<Tensor*> state;
  grads.reserve(params_.size());
  news.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); i++) {
    Tensor& p = *params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    grads.push_back(g);
    Tensor nv = update(i, p, g, state).cast(p.dtype());
    FG_ASSERT(nv.shape() == p.shape(), "optimizer: update of shape ", shape_str(nv.shape()), " for ",
              shape_str(p.shape()));
    news.push_back(Tensor(UOp::make(Op::ASSIGN, p.dtype(), {p.uop(), nv.uop()}), p.shape(), p.device()));
  }
  // gradients and everything else that reads the old parameters come first in the schedule
  std::vector<Tensor*> roots;
  for (Tensor& g : grads) roots.push_back(&g);
  for (Tensor* t : also) roots.push_back(t);
  for (Tensor* t : buffers_) roots.push_back(t);
  for (Tensor* t : state) roots.push_back(t);
  for (Tensor& n : news) roots.push_back(&n);
  Tensor::realize_all(roots);
}

// ---------------------------------------------------------------- SGD

SGD::SGD(std::vector<Tensor*> params, double lr, double momentum, double weight_decay, bool nesterov, double dampening)
    : Optimizer(std::move(params), lr), momentum(momentum), weight_decay(weight_decay), dampening(dampening),
      nesterov(nesterov) {
  FG_CHECK(!nesterov || (momentum > 0 && dampening == 0), ErrorKind::Value, "SGD",
           "nesterov momentum needs a momentum and zero dampening");
  if (momentum != 0)
    for (Tensor* p : params_) buf_.push_back(zeros_buffer(p->shape(), p->dtype(), p->device()));
}

std::vector<double> SGD::hyper(int64_t t) const { return {lr, t == 1 ? 1.0 : 1.0 - dampening}; }

Tensor SGD::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  Tensor gg = g;
  if (weight_decay != 0) gg = gg.add(p.mul(weight_decay));
  if (momentum != 0) {
    assign_to(buf_[i], buf_[i].mul(momentum).add(gg.mul(h(1, dt, p.device()))));
    state.push_back(&buf_[i]);
    gg = nesterov ? gg.add(buf_[i].mul(momentum)) : buf_[i];
  }
  return p.sub(gg.mul(h(0, dt, p.device())));
}

// ---------------------------------------------------------------- Adam, AdamW

Adam::Adam(std::vector<Tensor*> params, double lr, double b1, double b2, double eps, double weight_decay, bool decoupled)
    : Optimizer(std::move(params), lr), b1(b1), b2(b2), eps(eps), weight_decay(weight_decay), decoupled(decoupled) {
  for (Tensor* p : params_) {
    Shape s = p->shape();
    s.insert(s.begin(), 2);
    mv_.push_back(zeros_buffer(s, p->dtype(), p->device()));
  }
}

std::vector<double> Adam::hyper(int64_t t) const {
  double bc1 = 1 - std::pow(b1, static_cast<double>(t)), bc2 = 1 - std::pow(b2, static_cast<double>(t));
  return {lr, lr / bc1, 1 / std::sqrt(bc2)};
}

Tensor Adam::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  const std::string& dev = p.device();
  Tensor gg = g;
  if (weight_decay != 0 && !decoupled) gg = gg.add(p.mul(weight_decay));
  Tensor m = row(mv_[i], 0), v = row(mv_[i], 1);
  assign_to(mv_[i], stack2(m.mul(b1).add(gg.mul(1 - b1)), v.mul(b2).add(gg.mul(gg).mul(1 - b2))));
  state.push_back(&mv_[i]);
  Tensor mn = row(mv_[i], 0), vn = row(mv_[i], 1);
  Tensor base = weight_decay != 0 && decoupled ? p.sub(p.mul(h(0, dt, dev)).mul(weight_decay)) : p;
  return base.sub(mn.mul(h(1, dt, dev)).div(vn.sqrt().mul(h(2, dt, dev)).add(eps)));
}

// ---------------------------------------------------------------- LAMB

LAMB::LAMB(std::vector<Tensor*> params, double lr, double b1, double b2, double eps, double weight_decay, bool adam)
    : Optimizer(std::move(params), lr), b1(b1), b2(b2), eps(eps), weight_decay(weight_decay), adam(adam) {
  for (Tensor* p : params_) {
    Shape s = p->shape();
    s.insert(s.begin(), 2);
    mv_.push_back(zeros_buffer(s, p->dtype(), p->device()));
  }
}

std::vector<double> LAMB::hyper(int64_t t) const {
  return {lr, 1 / (1 - std::pow(b1, static_cast<double>(t))), 1 / (1 - std::pow(b2, static_cast<double>(t)))};
}

Tensor LAMB::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  const std::string& dev = p.device();
  Tensor m = row(mv_[i], 0), v = row(mv_[i], 1);
  assign_to(mv_[i], stack2(m.mul(b1).add(g.mul(1 - b1)), v.mul(b2).add(g.mul(g).mul(1 - b2))));
  state.push_back(&mv_[i]);
  Tensor m_hat = row(mv_[i], 0).mul(h(1, dt, dev)), v_hat = row(mv_[i], 1).mul(h(2, dt, dev));
  Tensor up = m_hat.div(v_hat.sqrt().add(eps));
  if (weight_decay != 0) up = up.add(p.mul(weight_decay));
  Tensor step = up.mul(h(0, dt, dev));
  if (!adam) {
    Tensor r1 = p.square().sum().sqrt(), r2 = up.square().sum().sqrt();
    Tensor r = r1.gt(0.0).where(r2.gt(0.0).where(r1.div(r2), 1.0), 1.0).cast(dt);
    step = step.mul(r);
  }
  return p.sub(step);
}

// ---------------------------------------------------------------- schedules

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size(step_size), gamma(gamma) {
  FG_CHECK(step_size > 0, ErrorKind::Value, "StepLR", "step_size must be positive, got ", step_size);
  start();
}
double StepLR::lr_at(int64_t e) const { return base_lr_ * std::pow(gamma, static_cast<double>(e / step_size)); }

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> ms, double gamma)
    : LRScheduler(opt), milestones(std::move(ms)), gamma(gamma) {
  start();
}
double MultiStepLR::lr_at(int64_t e) const {
  int64_t n = std::count_if(milestones.begin(), milestones.end(), [&](int64_t m) { return m <= e; });
  return base_lr_ * std::pow(gamma, static_cast<double>(n));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max(T_max), eta_min(eta_min) {
  FG_CHECK(T_max > 0, ErrorKind::Value, "CosineAnnealingLR", "T_max must be positive, got ", T_max);
  start();
}
double CosineAnnealingLR::lr_at(int64_t e) const {
  return eta_min + (base_lr_ - eta_min) * (1 + std::cos(std::numbers::pi * static_cast<double>(e) / T_max)) / 2;
}

LinearLR::LinearLR(Optimizer& opt, double s, double e, int64_t total)
    : LRScheduler(opt), start_factor(s), end_factor(e), total_iters(total) {
  FG_CHECK(total > 0, ErrorKind::Value, "LinearLR", "total_iters must be positive, got ", total);
  start();
}
double LinearLR::lr_at(int64_t e) const {
  double f = static_cast<double>(std::min(e, total_iters)) / static_cast<double>(total_iters);
  return base_lr_ * (start_factor + (end_factor - start_factor) * f);
}

LinearWarmup::LinearWarmup(Optimizer& opt, int64_t warmup, std::shared_ptr<LRScheduler> then)
    : LRScheduler(opt), warmup(warmup), then(std::move(then)) {
  FG_CHECK(warmup >= 0, ErrorKind::Value, "LinearWarmup", "warmup must not be negative, got ", warmup);
  if (this->then) base_lr_ = this->then->base_lr();
  start();
}
double LinearWarmup::lr_at(int64_t e) const {
  if (e < warmup) return base_lr_ * static_cast<double>(e + 1) / static_cast<double>(warmup);
  return then ? then->lr_at(e - warmup) : base_lr_;
}

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, double pct_start, double div_factor,
                       double final_div_factor)
    : LRScheduler(opt), max_lr(max_lr), initial_lr(max_lr / div_factor), min_lr(max_lr / div_factor / final_div_factor),
      total_steps(total_steps), pct_start(pct_start) {
  FG_CHECK(total_steps > 0 && pct_start > 0 && pct_start < 1, ErrorKind::Value, "OneCycleLR",
           "needs total_steps > 0 and pct_start in (0, 1), got ", total_steps, " and ", pct_start);
  base_lr_ = initial_lr;
  start();
}
double OneCycleLR::lr_at(int64_t e) const {
  auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(std::numbers::pi * pct) + 1); };
  double end1 = pct_start * static_cast<double>(total_steps) - 1, end2 = static_cast<double>(total_steps) - 1;
  double s = static_cast<double>(e);
  if (s <= end1) return anneal(initial_lr, max_lr, s / end1);
  return anneal(max_lr, min_lr, (s - end1) / (end2 - end1));
}

}  // namespace fg::nn
