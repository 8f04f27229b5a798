// nn layers (tinygrad's nn / PyTorch's torch.nn): Linear, Conv1d/2d/3d, ConvTranspose2d, BatchNorm,
// LayerNorm, GroupNorm, RMSNorm, Embedding, Dropout.
//
// A layer owns its tensors as members and lists them by PyTorch's names ("weight", "bias",
// "running_mean", "running_var", "num_batches_tracked"), so a state dict saved by PyTorch loads.
// Parameters are marked requires_grad_() and initialized like PyTorch (uniform in +-1/sqrt(fan_in),
// which is kaiming_uniform with a = sqrt(5)); the random values stay lazy until first realized (the
// optimizer realizes them all in one schedule). Training mode is the global fg::is_training()
// (tinygrad's Tensor.training; fg::TrainingScope sets it): BatchNorm uses batch statistics and
// updates its running statistics (an assign, realized with the optimizer step or any realize of
// those tensors), Dropout drops.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "femtograd/tensor/metadata.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor*>>;

// Anything with tensors by name. A model made of layers lists its children with add_child, so names
// compose like PyTorch's ("layer1.0.conv1.weight").
struct Module {
  virtual ~Module() = default;
  // appends this module's tensors (parameters and buffers), each name prefixed
  virtual void collect(const std::string& prefix, NamedTensors& out) = 0;

  NamedTensors named_tensors(const std::string& prefix = "");     // PyTorch's state_dict order
  NamedTensors named_parameters(const std::string& prefix = "");  // those that require grad
  std::vector<Tensor*> parameters();                              // those that require grad
  std::vector<Tensor*> tensors();                                 // every tensor (tinygrad's get_parameters)
  // copies of the handles by name (PyTorch's state_dict; safe_save writes it)
  std::map<std::string, Tensor> state_dict();
  // writes each tensor's values into this module's tensors (same names and shapes; values cast to
  // the module's dtypes) and realizes them together. strict: every name on both sides must match.
  void load_state_dict(const std::map<std::string, Tensor>& sd, bool strict = true);

 protected:
  static void add(NamedTensors& out, const std::string& prefix, const char* name, Tensor& t) {
    if (t.defined()) out.push_back({prefix + name, &t});
  }
  static void add_child(NamedTensors& out, const std::string& prefix, const std::string& name, Module& m) {
    m.collect(prefix + name + ".", out);
  }
};

// all tensors of a module, tinygrad's nn.state.get_parameters (an optimizer updates the ones that
// require grad and realizes the rest, e.g. running statistics, with each step)
inline std::vector<Tensor*> get_parameters(Module& m) { return m.tensors(); }

struct Linear : Module {
  Tensor weight, bias;  // (out, in), (out)
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = dtypes::float32,
         const std::string& device = "");
  Tensor forward(const Tensor& x) const;
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("Linear", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};

// an N-d convolution layer; Conv1d/2d/3d fix N
struct ConvNd : Module {
  Tensor weight, bias;  // (out, in/groups, *kernel), (out)
  ConvOpts opts;
  ConvNd(size_t nd, int64_t in_channels, int64_t out_channels, Ints kernel_size, ConvOpts opts = {},
         bool bias = true, DType dtype = dtypes::float32, const std::string& device = "");
  Tensor forward(const Tensor& x) const { return conv(x, weight, bias.defined() ? std::optional<Tensor>(bias) : std::nullopt, opts); }
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("Conv" + std::to_string(weight.ndim() - 2) + "d", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};
struct Conv1d : ConvNd {
  Conv1d(int64_t in, int64_t out, Ints k, ConvOpts o = {}, bool bias = true, DType dt = dtypes::float32,
         const std::string& device = "")
      : ConvNd(1, in, out, std::move(k), std::move(o), bias, dt, device) {}
};
struct Conv2d : ConvNd {
  Conv2d(int64_t in, int64_t out, Ints k, ConvOpts o = {}, bool bias = true, DType dt = dtypes::float32,
         const std::string& device = "")
      : ConvNd(2, in, out, std::move(k), std::move(o), bias, dt, device) {}
};
struct Conv3d : ConvNd {
  Conv3d(int64_t in, int64_t out, Ints k, ConvOpts o = {}, bool bias = true, DType dt = dtypes::float32,
         const std::string& device = "")
      : ConvNd(3, in, out, std::move(k), std::move(o), bias, dt, device) {}
};

struct ConvTransposeNd : Module {
  Tensor weight, bias;  // (in, out/groups, *kernel), (out)
  ConvTransposeOpts opts;
  ConvTransposeNd(size_t nd, int64_t in_channels, int64_t out_channels, Ints kernel_size, ConvTransposeOpts opts = {},
                  bool bias = true, DType dtype = dtypes::float32, const std::string& device = "");
  Tensor forward(const Tensor& x) const {
    return conv_transpose(x, weight, bias.defined() ? std::optional<Tensor>(bias) : std::nullopt, opts);
  }
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("ConvTranspose" + std::to_string(weight.ndim() - 2) + "d", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};
struct ConvTranspose2d : ConvTransposeNd {
  ConvTranspose2d(int64_t in, int64_t out, Ints k, ConvTransposeOpts o = {}, bool bias = true,
                  DType dt = dtypes::float32, const std::string& device = "")
      : ConvTransposeNd(2, in, out, std::move(k), std::move(o), bias, dt, device) {}
};

// BatchNorm over axis 1 of (N, C, ...) (PyTorch's BatchNorm1d/2d/3d are all this)
struct BatchNorm : Module {
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
  bool track_running_stats;
  BatchNorm(int64_t num_features, double eps = 1e-5, bool affine = true, bool track_running_stats = true,
            double momentum = 0.1, DType dtype = dtypes::float32, const std::string& device = "");
  // training (fg::is_training()) or without running stats: the batch's statistics, and the running
  // statistics move toward them (unbiased variance, like PyTorch); otherwise the running ones
  Tensor forward(const Tensor& x);
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) {
    OpScope scope("BatchNorm", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};
using BatchNorm1d = BatchNorm;
using BatchNorm2d = BatchNorm;
using BatchNorm3d = BatchNorm;

struct LayerNorm : Module {
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
  LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, DType dtype = dtypes::float32,
            const std::string& device = "");
  Tensor forward(const Tensor& x) const;
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("LayerNorm", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};

struct GroupNorm : Module {
  Tensor weight, bias;
  int64_t num_groups;
  double eps;
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            DType dtype = dtypes::float32, const std::string& device = "");
  Tensor forward(const Tensor& x) const;
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("GroupNorm", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};

struct RMSNorm : Module {
  Tensor weight;
  Shape normalized_shape;
  std::optional<double> eps;
  RMSNorm(Shape normalized_shape, std::optional<double> eps = {}, bool elementwise_affine = true,
          DType dtype = dtypes::float32, const std::string& device = "");
  Tensor forward(const Tensor& x) const;
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("RMSNorm", loc);
    return forward(x);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};

struct Embedding : Module {
  Tensor weight;  // (num_embeddings, embedding_dim), N(0, 1) like PyTorch
  Embedding(int64_t num_embeddings, int64_t embedding_dim, DType dtype = dtypes::float32,
            const std::string& device = "");
  // integer indices of any shape -> (..., embedding_dim)
  Tensor forward(const Tensor& idx) const;
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& idx, std::source_location loc = std::source_location::current()) const {
    OpScope scope("Embedding", loc);
    return forward(idx);
  }
  void collect(const std::string& prefix, NamedTensors& out) override;
};

struct Dropout : Module {
  double p;
  explicit Dropout(double p = 0.5) : p(p) {}
  Tensor forward(const Tensor& x) const { return dropout(x, p); }
  // the layer names its kernels, with its caller's line (tensor/metadata.h)
  Tensor operator()(const Tensor& x, std::source_location loc = std::source_location::current()) const {
    OpScope scope("Dropout", loc);
    return forward(x);
  }
  void collect(const std::string&, NamedTensors&) override {}
};

}  // namespace fg::nn
