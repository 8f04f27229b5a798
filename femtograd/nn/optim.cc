// Optimizers and learning-rate schedules: each step builds every parameter's update lazily and
// realizes it in one schedule (optim.h says how and why).
#include "femtograd/nn/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "femtograd/base/error.h"
#include "femtograd/base/host_convert.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/metadata.h"
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
// a 0-d float64 buffer holding v (host written, no kernel)
Tensor scalar_buffer(double v, const std::string& device) {
  return Tensor::from_data(&v, dtypes::float64, {}, device);
}
void write_host(const Tensor& t, double v) {
  UOpRef buf = buffer_of_tensor(t);
  FG_ASSERT(buf && buf->op == Op::BUFFER && t.dtype() == dtypes::float64, "optimizer: a scalar lost its buffer");
  auto b = buffer_of(buf);
  b->ensure_allocated();
  get_device(t.device()).synchronize();
  b->copy_in(&v, sizeof(v));
}
// base ** e for a constant base >= 0 and a 0-d float64 exponent e >= 0 (0 ** 0 is 1)
Tensor pow_of(double base, const Tensor& e) {
  if (base == 0) return e.eq(0.0).where(1.0, 0.0).cast(dtypes::float64);
  return e.mul(std::log2(base)).exp2();
}
}  // namespace

// ---------------------------------------------------------------- Optimizer

Optimizer::Optimizer(std::vector<Tensor*> params, double lr) {
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
  device_ = params_[0]->device();
  for (Tensor* p : params_)
    FG_CHECK(p->device() == device_, ErrorKind::Value, "Optimizer", "parameters on ", device_, " and ", p->device(),
             ": use one optimizer per device");
  if (!lazy.empty()) Tensor::realize_all(lazy);
  this->lr = scalar_buffer(lr, device_);
  t_ = scalar_buffer(0, device_);
}

Tensor Optimizer::zeros_buffer(const Shape& shape, DType dt, const std::string& device) {
  std::vector<unsigned char> raw(static_cast<size_t>(prod(shape)) * dt.itemsize(), 0);
  return Tensor::from_data(raw.data(), dt, shape, device);
}

double Optimizer::get_lr() const { return lr.item(); }
void Optimizer::set_lr(double v) {
  FG_CHECK(buffer_of_tensor(lr), ErrorKind::Value, "set_lr", "opt.lr has a pending assign: realize it first");
  write_host(lr, v);
}
int64_t Optimizer::steps() const { return static_cast<int64_t>(t_.item()); }

Tensor Optimizer::h(size_t k, DType dt) const {
  FG_ASSERT(hyper_.defined() && static_cast<int64_t>(k) < hyper_.numel(), "optimizer: hyper-parameter ", k);
  int64_t i = static_cast<int64_t>(k);
  return hyper_.shrink({{i, i + 1}}).reshape({}).cast(dt);
}

void Optimizer::zero_grad() {
  for (Tensor* p : params_) p->zero_grad();
}

void Optimizer::step(std::vector<Tensor*> also, std::source_location loc) {
  std::optional<OpScope> scope(std::in_place, name() + ".step", loc);  // names the update kernels
  // the step count and this step's scalars are computed on the device, in this step's schedule
  Tensor t = t_;
  assign_to(t, t.add(1.0));
  std::vector<Tensor> hs = hyper(t);
  for (Tensor& x : hs) x = x.cast(dtypes::float64).reshape({1});
  hyper_ = Tensor::cat(hs).contiguous();  // one small kernel; every update reads its result
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
  scope.reset();  // the gradients and `also` keep the names of the ops that built them
  // gradients and everything else that reads the old parameters come first in the schedule
  std::vector<Tensor*> roots;
  for (Tensor& g : grads) roots.push_back(&g);
  for (Tensor* x : also) roots.push_back(x);
  for (Tensor* x : buffers_) roots.push_back(x);
  roots.push_back(&t);
  for (Tensor* x : state) roots.push_back(x);
  for (Tensor& n : news) roots.push_back(&n);
  Tensor::realize_all(roots);
  hyper_ = Tensor();
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

std::vector<Tensor> SGD::hyper(const Tensor& t) const { return {lr, t.eq(1.0).where(1.0, 1.0 - dampening)}; }

Tensor SGD::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  Tensor gg = g;
  if (weight_decay != 0) gg = gg.add(p.mul(weight_decay));
  if (momentum != 0) {
    assign_to(buf_[i], buf_[i].mul(momentum).add(gg.mul(h(1, dt))));
    state.push_back(&buf_[i]);
    gg = nesterov ? gg.add(buf_[i].mul(momentum)) : buf_[i];
  }
  return p.sub(gg.mul(h(0, dt)));
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

std::vector<Tensor> Adam::hyper(const Tensor& t) const {
  Tensor bc1 = 1.0 - pow_of(b1, t), bc2 = 1.0 - pow_of(b2, t);
  return {lr, lr / bc1, bc2.sqrt().reciprocal()};
}

Tensor Adam::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  Tensor gg = g;
  if (weight_decay != 0 && !decoupled) gg = gg.add(p.mul(weight_decay));
  Tensor m = row(mv_[i], 0), v = row(mv_[i], 1);
  assign_to(mv_[i], stack2(m.mul(b1).add(gg.mul(1 - b1)), v.mul(b2).add(gg.mul(gg).mul(1 - b2))));
  state.push_back(&mv_[i]);
  Tensor mn = row(mv_[i], 0), vn = row(mv_[i], 1);
  Tensor base = weight_decay != 0 && decoupled ? p.sub(p.mul(h(0, dt)).mul(weight_decay)) : p;
  return base.sub(mn.mul(h(1, dt)).div(vn.sqrt().mul(h(2, dt)).add(eps)));
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

std::vector<Tensor> LAMB::hyper(const Tensor& t) const {
  return {lr, (1.0 - pow_of(b1, t)).reciprocal(), (1.0 - pow_of(b2, t)).reciprocal()};
}

Tensor LAMB::update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state) {
  DType dt = p.dtype();
  Tensor m = row(mv_[i], 0), v = row(mv_[i], 1);
  assign_to(mv_[i], stack2(m.mul(b1).add(g.mul(1 - b1)), v.mul(b2).add(g.mul(g).mul(1 - b2))));
  state.push_back(&mv_[i]);
  Tensor m_hat = row(mv_[i], 0).mul(h(1, dt)), v_hat = row(mv_[i], 1).mul(h(2, dt));
  Tensor up = m_hat.div(v_hat.sqrt().add(eps));
  if (weight_decay != 0) up = up.add(p.mul(weight_decay));
  Tensor step = up.mul(h(0, dt));
  if (!adam) {
    Tensor r1 = p.square().sum().sqrt(), r2 = up.square().sum().sqrt();
    Tensor r = r1.gt(0.0).where(r2.gt(0.0).where(r1.div(r2), 1.0), 1.0).cast(dt);
    step = step.mul(r);
  }
  return p.sub(step);
}

// ---------------------------------------------------------------- schedules

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt), base_lr_(opt.get_lr()) {
  epoch_ = scalar_buffer(0, opt.device());
}

void LRScheduler::step(std::source_location loc) {
  OpScope scope("lr_schedule", loc);
  Tensor e = epoch_, lr = opt_.lr;
  assign_to(e, e.add(1.0));
  assign_to(lr, lr_at(e).cast(dtypes::float64));
  Tensor::realize_all({&e, &lr});
}

int64_t LRScheduler::epoch() const { return static_cast<int64_t>(epoch_.item()); }

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size(step_size), gamma(gamma) {
  FG_CHECK(step_size > 0, ErrorKind::Value, "StepLR", "step_size must be positive, got ", step_size);
  FG_CHECK(gamma >= 0, ErrorKind::Value, "StepLR", "gamma must not be negative, got ", gamma);
  start();
}
double StepLR::lr_at(int64_t e) const { return base_lr_ * std::pow(gamma, static_cast<double>(e / step_size)); }
Tensor StepLR::lr_at(const Tensor& e) const {
  return pow_of(gamma, e.div(static_cast<double>(step_size)).floor()).mul(base_lr_);
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> ms, double gamma)
    : LRScheduler(opt), milestones(std::move(ms)), gamma(gamma) {
  FG_CHECK(gamma >= 0, ErrorKind::Value, "MultiStepLR", "gamma must not be negative, got ", gamma);
  start();
}
double MultiStepLR::lr_at(int64_t e) const {
  int64_t n = std::count_if(milestones.begin(), milestones.end(), [&](int64_t m) { return m <= e; });
  return base_lr_ * std::pow(gamma, static_cast<double>(n));
}
Tensor MultiStepLR::lr_at(const Tensor& e) const {
  Tensor n = e.mul(0.0);
  for (int64_t m : milestones) n = n.add(e.ge(static_cast<double>(m)).where(1.0, 0.0));
  return pow_of(gamma, n).mul(base_lr_);
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), T_max(T_max), eta_min(eta_min) {
  FG_CHECK(T_max > 0, ErrorKind::Value, "CosineAnnealingLR", "T_max must be positive, got ", T_max);
  start();
}
double CosineAnnealingLR::lr_at(int64_t e) const {
  return eta_min + (base_lr_ - eta_min) * (1 + std::cos(std::numbers::pi * static_cast<double>(e) / T_max)) / 2;
}
Tensor CosineAnnealingLR::lr_at(const Tensor& e) const {
  return e.mul(std::numbers::pi / static_cast<double>(T_max)).cos().add(1.0).mul((base_lr_ - eta_min) / 2).add(eta_min);
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
Tensor LinearLR::lr_at(const Tensor& e) const {
  Tensor f = e.minimum(static_cast<double>(total_iters)).div(static_cast<double>(total_iters));
  return f.mul(end_factor - start_factor).add(start_factor).mul(base_lr_);
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
Tensor LinearWarmup::lr_at(const Tensor& e) const {
  Tensor after = then ? then->lr_at(e.sub(static_cast<double>(warmup))).cast(dtypes::float64) : e.mul(0.0).add(base_lr_);
  if (warmup == 0) return after;
  return e.lt(static_cast<double>(warmup)).where(e.add(1.0).mul(base_lr_ / static_cast<double>(warmup)), after);
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
Tensor OneCycleLR::lr_at(const Tensor& e) const {
  auto anneal = [](double a, double b, const Tensor& pct) {
    return pct.mul(std::numbers::pi).cos().add(1.0).mul((a - b) / 2).add(b);
  };
  double end1 = pct_start * static_cast<double>(total_steps) - 1, end2 = static_cast<double>(total_steps) - 1;
  return e.le(end1).where(anneal(initial_lr, max_lr, e.div(end1)),
                          anneal(max_lr, min_lr, e.sub(end1).div(end2 - end1)));
}

}  // namespace fg::nn
