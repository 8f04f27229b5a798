// nn layers: construction (PyTorch's initialization), forward passes, and tensors by name.
#include "femtograd/nn/layers.h"

#include <cmath>
#include <set>

#include "femtograd/base/error.h"
#include "femtograd/base/host_convert.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"

namespace fg::nn {

namespace {
// a tensor of its own buffer filled with v (no kernel: the host writes it)
Tensor filled(const Shape& shape, double v, DType dt, const std::string& device) {
  int64_t n = prod(shape);
  std::vector<double> src(static_cast<size_t>(n), v);
  std::vector<unsigned char> raw(static_cast<size_t>(n) * dt.itemsize());
  if (n) convert_from(dtypes::float64, src.data(), n, dt, raw.data());
  return Tensor::from_data(raw.data(), dt, shape, device);
}

// PyTorch's default initialization of weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, DType dt, const std::string& device) {
  double b = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return Tensor::uniform(shape, -b, b, dt, device);
}

Tensor param(Tensor t) {
  t.requires_grad_();
  return t;
}

std::optional<Tensor> opt(const Tensor& t) { return t.defined() ? std::optional<Tensor>(t) : std::nullopt; }
}  // namespace

// ---------------------------------------------------------------- Module

NamedTensors Module::named_tensors(const std::string& prefix) {
  NamedTensors out;
  collect(prefix, out);
  return out;
}

NamedTensors Module::named_parameters(const std::string& prefix) {
  NamedTensors out;
  for (auto& [n, t] : named_tensors(prefix))
    if (t->dtype().is_float() && t->requires_grad()) out.push_back({n, t});
  return out;
}

std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<Tensor*> Module::tensors() {
  std::vector<Tensor*> out;
  for (auto& [n, t] : named_tensors()) out.push_back(t);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_tensors()) out.emplace(n, *t);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& sd, bool strict) {
  NamedTensors mine = named_tensors();
  std::set<std::string> names;
  std::vector<std::pair<Tensor*, Tensor>> todo;
  for (auto& [n, t] : mine) {
    names.insert(n);
    auto it = sd.find(n);
    if (it == sd.end()) {
      FG_CHECK(!strict, ErrorKind::Value, "load_state_dict", "the state dict has no tensor '", n, "'");
      continue;
    }
    const Tensor& v = it->second;
    // PyTorch stores num_batches_tracked as a 0-d tensor, tinygrad as (1,): one element either way
    bool scalar_ok = t->numel() == 1 && v.numel() == 1;
    FG_CHECK(v.shape() == t->shape() || scalar_ok, ErrorKind::Value, "load_state_dict", "'", n, "' has shape ",
             shape_str(v.shape()), " in the state dict but ", shape_str(t->shape()), " in the module");
    FG_CHECK(v.device() == t->device(), ErrorKind::Value, "load_state_dict", "'", n, "' is on ", v.device(),
             " in the state dict but on ", t->device(), " in the module");
    todo.push_back({t, v.reshape(t->shape()).cast(t->dtype())});
  }
  if (strict)
    for (auto& [n, v] : sd)
      FG_CHECK(names.count(n), ErrorKind::Value, "load_state_dict", "the module has no tensor '", n, "'");
  // lazy tensors (fresh random initializations) get their buffers first, in one schedule, so that
  // every handle of them sees the loaded values
  std::vector<Tensor*> lazy;
  for (auto& [t, v] : todo)
    if (!buffer_of_tensor(*t)) lazy.push_back(t);
  if (!lazy.empty()) Tensor::realize_all(lazy);
  for (auto& [t, v] : todo) {
    UOpRef buf = buffer_of_tensor(*t);
    if (buf && buf->op == Op::BUFFER && buf->arg.as_int() == t->numel()) {
      // the module's own buffer takes the values (no kernel unless a cast is needed)
      std::vector<unsigned char> raw(static_cast<size_t>(t->numel()) * t->dtype().itemsize());
      v.copy_to_host(raw.data(), raw.size());
      auto b = buffer_of(buf);
      b->ensure_allocated();
      get_device(t->device()).synchronize();
      if (!raw.empty()) b->copy_in(raw.data(), raw.size());
    } else {  // a constant that realize left without a buffer: it becomes the value
      assign_to(*t, v.contiguous());
      t->realize();
    }
  }
}

// ---------------------------------------------------------------- Linear and convolutions

Linear::Linear(int64_t in, int64_t out, bool has_bias, DType dt, const std::string& device)
    : weight(param(uniform_fan_in({out, in}, in, dt, device))) {
  if (has_bias) bias = param(uniform_fan_in({out}, in, dt, device));
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = x.matmul(weight.T());
  return bias.defined() ? y.add(bias) : y;
}

void Linear::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
}

ConvNd::ConvNd(size_t nd, int64_t in, int64_t out, Ints k, ConvOpts o, bool has_bias, DType dt,
               const std::string& device)
    : opts(std::move(o)) {
  FG_CHECK(nd >= 1 && (k.size() == 1 || k.size() == nd), ErrorKind::Value, "Conv", "kernel size ", shape_str(k),
           " for a ", nd, "-d convolution");
  FG_CHECK(opts.groups >= 1 && in % opts.groups == 0 && out % opts.groups == 0, ErrorKind::Value, "Conv",
           "channels ", in, " -> ", out, " are not divisible by groups=", opts.groups);
  Shape ws{out, in / opts.groups};
  for (size_t i = 0; i < nd; i++) ws.push_back(k.size() == 1 ? k[0] : k[i]);
  int64_t fan_in = prod(Shape(ws.begin() + 1, ws.end()));
  weight = param(uniform_fan_in(ws, fan_in, dt, device));
  if (has_bias) bias = param(uniform_fan_in({out}, fan_in, dt, device));
}

void ConvNd::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
}

ConvTransposeNd::ConvTransposeNd(size_t nd, int64_t in, int64_t out, Ints k, ConvTransposeOpts o, bool has_bias,
                                 DType dt, const std::string& device)
    : opts(std::move(o)) {
  FG_CHECK(nd >= 1 && (k.size() == 1 || k.size() == nd), ErrorKind::Value, "ConvTranspose", "kernel size ",
           shape_str(k), " for a ", nd, "-d convolution");
  FG_CHECK(opts.groups >= 1 && in % opts.groups == 0 && out % opts.groups == 0, ErrorKind::Value, "ConvTranspose",
           "channels ", in, " -> ", out, " are not divisible by groups=", opts.groups);
  Shape ws{in, out / opts.groups};
  for (size_t i = 0; i < nd; i++) ws.push_back(k.size() == 1 ? k[0] : k[i]);
  int64_t fan_in = prod(Shape(ws.begin() + 1, ws.end()));  // PyTorch computes it from weight.size(1)
  weight = param(uniform_fan_in(ws, fan_in, dt, device));
  if (has_bias) bias = param(uniform_fan_in({out}, fan_in, dt, device));
}

void ConvTransposeNd::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
}

// ---------------------------------------------------------------- normalization

BatchNorm::BatchNorm(int64_t n, double eps, bool affine, bool track, double momentum, DType dt,
                     const std::string& device)
    : eps(eps), momentum(momentum), track_running_stats(track) {
  if (affine) {
    weight = param(filled({n}, 1.0, dt, device));
    bias = param(filled({n}, 0.0, dt, device));
  }
  if (track) {
    running_mean = filled({n}, 0.0, dt, device);
    running_var = filled({n}, 1.0, dt, device);
    num_batches_tracked = filled({}, 0.0, dtypes::int64, device);
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  FG_CHECK(x.ndim() >= 2, ErrorKind::Value, "BatchNorm", "expects (N, C, ...), got shape ", shape_str(x.shape()));
  int64_t C = x.shape()[1];
  if (weight.defined())
    FG_CHECK(weight.shape()[0] == C, ErrorKind::Value, "BatchNorm", "input of shape ", shape_str(x.shape()), " has ",
             C, " channels, the layer ", weight.shape()[0]);
  bool training = is_training();
  if (track_running_stats && !training)
    return batchnorm(x, opt(weight), opt(bias), running_mean, running_var.add(eps).rsqrt());
  std::vector<int64_t> axes;
  for (int64_t a = 0; a < x.ndim(); a++)
    if (a != 1) axes.push_back(a);
  Shape s(x.ndim(), 1);
  s[1] = C;
  Tensor mean = x.mean(axes);
  Tensor y = x.sub(mean.detach().reshape(s));  // d(var)/d(mean) is 0: no need to differentiate through it
  Tensor var = y.mul(y).mean(axes);
  if (track_running_stats && training) {
    double n = static_cast<double>(x.numel() / std::max<int64_t>(C, 1));
    double unbias = n > 1 ? n / (n - 1) : 1.0;
    assign_to(running_mean, running_mean.mul(1.0 - momentum).add(mean.detach().cast(running_mean.dtype()).mul(momentum)));
    assign_to(running_var, running_var.mul(1.0 - momentum)
                               .add(var.detach().cast(running_var.dtype()).mul(momentum * unbias)));
    assign_to(num_batches_tracked, num_batches_tracked.add(1));
  }
  return batchnorm(x, opt(weight), opt(bias), mean, var.add(eps).rsqrt());
}

void BatchNorm::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
  add(out, p, "running_mean", running_mean);
  add(out, p, "running_var", running_var);
  add(out, p, "num_batches_tracked", num_batches_tracked);
}

LayerNorm::LayerNorm(Shape ns, double eps, bool affine, DType dt, const std::string& device)
    : normalized_shape(std::move(ns)), eps(eps) {
  if (affine) {
    weight = param(filled(normalized_shape, 1.0, dt, device));
    bias = param(filled(normalized_shape, 0.0, dt, device));
  }
}
Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, normalized_shape, opt(weight), opt(bias), eps); }
void LayerNorm::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
}

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps, bool affine, DType dt, const std::string& device)
    : num_groups(g), eps(eps) {
  FG_CHECK(g > 0 && c % g == 0, ErrorKind::Value, "GroupNorm", c, " channels cannot be split into ", g, " groups");
  if (affine) {
    weight = param(filled({c}, 1.0, dt, device));
    bias = param(filled({c}, 0.0, dt, device));
  }
}
Tensor GroupNorm::forward(const Tensor& x) const { return group_norm(x, num_groups, opt(weight), opt(bias), eps); }
void GroupNorm::collect(const std::string& p, NamedTensors& out) {
  add(out, p, "weight", weight);
  add(out, p, "bias", bias);
}

RMSNorm::RMSNorm(Shape ns, std::optional<double> eps, bool affine, DType dt, const std::string& device)
    : normalized_shape(std::move(ns)), eps(eps) {
  if (affine) weight = param(filled(normalized_shape, 1.0, dt, device));
}
Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, normalized_shape, opt(weight), eps); }
void RMSNorm::collect(const std::string& p, NamedTensors& out) { add(out, p, "weight", weight); }

// ---------------------------------------------------------------- Embedding

Embedding::Embedding(int64_t n, int64_t d, DType dt, const std::string& device)
    : weight(param(Tensor::normal({n, d}, 0.0, 1.0, dt, device))) {}

Tensor Embedding::forward(const Tensor& idx) const {
  FG_CHECK(!idx.dtype().is_float(), ErrorKind::Type, "Embedding", "indices must be integers, got ",
           idx.dtype().name());
  int64_t V = weight.shape()[0];
  // one-hot select and sum over the vocabulary: fuses into one kernel and differentiates into weight
  Tensor oh = idx.unsqueeze(-1).eq(Tensor::arange(0, V, 1, idx.dtype(), idx.device()));  // (..., V)
  return oh.unsqueeze(-1).where(weight, weight.zeros_like()).sum({-2});
}
void Embedding::collect(const std::string& p, NamedTensors& out) { add(out, p, "weight", weight); }

}  // namespace fg::nn
