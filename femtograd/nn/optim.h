// Optimizers (SGD, Adam, AdamW, LAMB) and learning-rate schedules, with PyTorch's update rules.
//
// How a step runs: the whole update of every parameter is built lazily and realized in one
// schedule, together with the gradients, the non-trainable tensors handed to the optimizer (e.g.
// BatchNorm running statistics, which are pending assigns) and anything the caller adds (the loss).
// Each update writes into the parameter's own buffer (an ASSIGN), so every handle of a parameter
// sees the new values. The gradients are realized first in that schedule, so no update overwrites
// a parameter that a gradient still reads. Adam-style optimizers keep (m, v) of a parameter in one
// buffer of shape (2, *shape): one kernel updates both, a second the parameter.
// Everything that changes from step to step lives on the device and is computed there by kernels
// (as in tinygrad): the step count, the learning rate (a scheduler's step() rewrites it with
// kernels) and the scalars derived from them (bias corrections), which one small kernel per step
// writes into a buffer the update kernels read. So a step's kernels compile once, and a TinyJit
// that captured a training step (forward, backward, optimizer and scheduler steps) replays it
// exactly: nothing is written from the host between steps. Those scalars are float64.
#pragma once
#include <memory>
#include <vector>

#include <source_location>
#include <string>

#include "femtograd/tensor/tensor.h"

namespace fg::nn {

class Optimizer {
 public:
  // params: the tensors that require grad are updated; the others are realized with each step.
  // Parameters are realized here (in one schedule) if they are still lazy.
  Optimizer(std::vector<Tensor*> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void zero_grad();  // drops every parameter's gradient
  // one update from the parameters' .grad (a parameter without one is left alone), realized in one
  // schedule with `also` (e.g. the loss, to read it afterwards at no extra cost). Its kernels are
  // named "<optimizer>.step" with the caller's line (tensor/metadata.h).
  void step(std::vector<Tensor*> also = {}, std::source_location loc = std::source_location::current());
  virtual std::string name() const = 0;  // "SGD", "Adam", ...

  // The learning rate: a 0-d float64 buffer on the parameters' device, read by the update kernels.
  // Change it with set_lr (a host write, so outside a jitted function), with an LRScheduler, or
  // with assign_to(opt.lr, value) followed by a realize.
  Tensor lr;
  double get_lr() const;  // reads the buffer back
  void set_lr(double v);
  int64_t steps() const;  // steps taken, read back from the device counter
  const std::vector<Tensor*>& params() const { return params_; }
  const std::string& device() const { return device_; }

 protected:
  // the scalars of one step as 0-d float64 tensors, computed by kernels from t (the step count,
  // from 1, a 0-d float64 tensor) and lr
  virtual std::vector<Tensor> hyper(const Tensor& t) const = 0;
  // the new values of parameter i: assigns into its state (state_assigns) and the parameter's new value
  virtual Tensor update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state_assigns) = 0;
  // scalar k of this step's hyper() as a 0-d tensor of dtype dt
  Tensor h(size_t k, DType dt) const;
  // a zero-filled buffer like p (host written, no kernel)
  static Tensor zeros_buffer(const Shape& shape, DType dt, const std::string& device);

  std::vector<Tensor*> params_, buffers_;
  std::string device_;

 private:
  Tensor t_;      // the step count: a 0-d float64 buffer that each step advances with a kernel
  Tensor hyper_;  // this step's scalars (lazy, stored by one kernel of the step's schedule)
};

// PyTorch's SGD: g += wd p; b = momentum b + (1 - dampening) g (b = g on the first step);
// g = nesterov ? g + momentum b : b; p -= lr g
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor*> params, double lr = 0.001, double momentum = 0, double weight_decay = 0,
      bool nesterov = false, double dampening = 0);
  double momentum, weight_decay, dampening;
  bool nesterov;
  std::string name() const override { return "SGD"; }

 protected:
  std::vector<Tensor> hyper(const Tensor& t) const override;
  Tensor update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state_assigns) override;

 private:
  std::vector<Tensor> buf_;
};

// Adam (weight_decay as L2: g += wd p) and AdamW (decoupled: p *= 1 - lr wd), PyTorch's rules:
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr/(1 - b1^t) m / (sqrt(v)/sqrt(1 - b2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor*> params, double lr = 0.001, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8,
       double weight_decay = 0, bool decoupled = false);
  double b1, b2, eps, weight_decay;
  bool decoupled;
  std::string name() const override { return decoupled ? "AdamW" : "Adam"; }

 protected:
  std::vector<Tensor> hyper(const Tensor& t) const override;
  Tensor update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state_assigns) override;

 private:
  std::vector<Tensor> mv_;  // (2, *shape): m and v
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor*> params, double lr = 0.001, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8,
        double weight_decay = 0.01)
      : Adam(std::move(params), lr, b1, b2, eps, weight_decay, true) {}
};

// LAMB (You et al.; tinygrad's): up = m_hat / (sqrt(v_hat) + eps) + wd p; p -= lr r up with the trust
// ratio r = |p| / |up| (1 where either norm is 0); adam=true drops the trust ratio
class LAMB : public Optimizer {
 public:
  LAMB(std::vector<Tensor*> params, double lr = 0.001, double b1 = 0.9, double b2 = 0.999, double eps = 1e-6,
       double weight_decay = 0, bool adam = false);
  double b1, b2, eps, weight_decay;
  bool adam;
  std::string name() const override { return "LAMB"; }

 protected:
  std::vector<Tensor> hyper(const Tensor& t) const override;
  Tensor update(size_t i, const Tensor& p, const Tensor& g, std::vector<Tensor*>& state_assigns) override;

 private:
  std::vector<Tensor> mv_;
};

// ---- learning-rate schedules (PyTorch's closed forms). Construction sets the optimizer's lr for
// epoch 0; step() moves to the next epoch (call it after the optimizer's step, like PyTorch).
// The epoch is a device counter and step() computes the new lr with kernels (lr_at on a tensor),
// so a TinyJit that captured step() replays the schedule. lr_at on an integer is the same formula
// on the host.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  virtual double lr_at(int64_t epoch) const = 0;
  // the same on the device: e is a 0-d float64 tensor holding the epoch
  virtual Tensor lr_at(const Tensor& e) const = 0;
  void step(std::source_location loc = std::source_location::current());  // kernels named "lr_schedule"
  int64_t epoch() const;  // read back from the device counter
  double base_lr() const { return base_lr_; }

 protected:
  void start() { opt_.set_lr(lr_at(int64_t{0})); }
  Optimizer& opt_;
  double base_lr_;
  Tensor epoch_;  // 0-d float64 buffer
};

// base * gamma^(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  int64_t step_size;
  double gamma;
};

// base * gamma^(number of milestones <= epoch)
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  std::vector<int64_t> milestones;
  double gamma;
};

// eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  int64_t T_max;
  double eta_min;
};

// base * (start + (end - start) min(epoch, total_iters) / total_iters): a linear warmup
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  double start_factor, end_factor;
  int64_t total_iters;
};

// a linear warmup from base/warmup to base over `warmup` epochs, then `then` (from its epoch 0), or base
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& opt, int64_t warmup, std::shared_ptr<LRScheduler> then = nullptr);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  int64_t warmup;
  std::shared_ptr<LRScheduler> then;
};

// PyTorch's OneCycleLR (cosine annealing, two phases): from max_lr/div_factor up to max_lr over
// pct_start of the steps, then down to max_lr/div_factor/final_div_factor
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
             double final_div_factor = 1e4);
  double lr_at(int64_t e) const override;
  Tensor lr_at(const Tensor& e) const override;
  double max_lr, initial_lr, min_lr;
  int64_t total_steps;
  double pct_start;
};

}  // namespace fg::nn
