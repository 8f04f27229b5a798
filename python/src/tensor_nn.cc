// Bindings of tensor/tensor_nn.h as Tensor methods with tinygrad's names and arguments: convolutions,
// pooling, interpolation, normalization, dropout, attention and losses. Options that tinygrad takes
// as an int or a tuple (kernel_size, stride, dilation, padding) take both here. Dropout reads the
// Python-side training flag (Tensor.training), which Tensor.train() also sets in the C++ core.
#include "common.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fgpy {

namespace {
using fg::Ints;

// an int, or a tuple/list of ints (one per spatial axis)
Ints ints_arg(nb::handle h, const char* op) {
  if (PyTuple_Check(h.ptr()) || PyList_Check(h.ptr())) return to_shape(h, op);
  return {to_int(h, op)};
}

// tinygrad's padding: an int; "same"/"valid"; one value per spatial axis; or 2 values per axis given
// PyTorch-style, last axis first (left, right, top, bottom); nd is the number of spatial axes
fg::Padding padding_arg(nb::handle h, size_t nd, const char* op) {
  if (PyUnicode_Check(h.ptr())) return fg::Padding(nb::cast<std::string>(h));
  if (!(PyTuple_Check(h.ptr()) || PyList_Check(h.ptr()))) return fg::Padding(to_int(h, op));
  std::vector<int64_t> p = to_shape(h, op);
  if (p.size() == 1) return fg::Padding(p[0]);
  if (p.size() == nd) {
    std::vector<std::pair<int64_t, int64_t>> sides;
    for (int64_t v : p) sides.emplace_back(v, v);
    return fg::Padding(sides);
  }
  if (p.size() == 2 * nd) {
    std::vector<std::pair<int64_t, int64_t>> sides(nd);
    for (size_t k = 0; k < nd; k++) sides[nd - 1 - k] = {p[2 * k], p[2 * k + 1]};
    return fg::Padding(sides);
  }
  value_error(std::string(op) + ": padding needs 1, " + std::to_string(nd) + " or " + std::to_string(2 * nd) +
              " values for " + std::to_string(nd) + " spatial axes, got " + std::to_string(p.size()));
}

fg::Reduction reduction_arg(const std::string& r, const char* op) {
  if (r == "mean") return fg::Reduction::Mean;
  if (r == "sum") return fg::Reduction::Sum;
  if (r == "none") return fg::Reduction::None;
  value_error(std::string(op) + ": reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

std::optional<Tensor> opt_tensor(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return nb::cast<Tensor>(h);
}

bool py_training() {
  nb::object t = nb::type<Tensor>().attr("training");
  return PyObject_IsTrue(t.ptr()) == 1;
}

// the number of spatial axes of a pool given its kernel (an int means `dflt` axes)
Ints kernel_arg(nb::handle h, size_t dflt, const char* op) {
  Ints k = ints_arg(h, op);
  if (!(PyTuple_Check(h.ptr()) || PyList_Check(h.ptr()))) k.assign(dflt, k[0]);
  return k;
}

fg::PoolOpts pool_opts(nb::handle stride, nb::handle dilation, nb::handle padding, bool ceil_mode, size_t nd,
                       const char* op) {
  fg::PoolOpts o;
  if (!stride.is_none()) o.stride = ints_arg(stride, op);
  o.dilation = ints_arg(dilation, op);
  o.padding = padding_arg(padding, nd, op);
  o.ceil_mode = ceil_mode;
  return o;
}

fg::InterpMode interp_mode(const std::string& m) {
  if (m == "nearest") return fg::InterpMode::Nearest;
  if (m == "nearest-exact") return fg::InterpMode::NearestExact;
  if (m == "linear" || m == "bilinear" || m == "trilinear") return fg::InterpMode::Linear;
  value_error("interpolate: mode must be 'linear', 'nearest' or 'nearest-exact', got '" + m + "'");
}
}  // namespace

void init_tensor_nn(nb::module_& m) {
  nb::class_<Tensor> cls = nb::borrow<nb::class_<Tensor>>(m.attr("Tensor"));

  m.def("set_training", &fg::set_training, "on"_a, "Sets the C++ core's training mode (Tensor.train() does).");
  m.def("is_training", &fg::is_training, "The C++ core's training mode.");

  // ---- convolutions: N-d from the weight (conv2d takes 1-d and 3-d weights too, like tinygrad)
  auto conv = [](const Tensor& x, const Tensor& w, nb::handle bias, int64_t groups, nb::handle stride,
                 nb::handle dilation, nb::handle padding, nb::handle dtype) {
    fg::ConvOpts o;
    o.groups = groups;
    o.stride = ints_arg(stride, "conv2d");
    o.dilation = ints_arg(dilation, "conv2d");
    o.padding = padding_arg(padding, static_cast<size_t>(std::max<int64_t>(w.ndim() - 2, 1)), "conv2d");
    Tensor r = fg::conv(x, w, opt_tensor(bias), o);
    auto d = to_dtype(dtype);
    return d ? r.cast(*d) : r;
  };
  for (const char* name : {"conv2d", "conv1d", "conv3d", "conv"})
    cls.def(name, conv, "weight"_a, "bias"_a = nb::none(), "groups"_a = 1, "stride"_a = 1, "dilation"_a = 1,
            "padding"_a = 0, "dtype"_a = nb::none(),
            "Convolution (N-d from the weight (Cout, Cin/groups, *kernel)); padding: an int, 'same', 'valid', one "
            "value per axis or PyTorch's flat (left, right, top, bottom).");
  auto conv_t = [](const Tensor& x, const Tensor& w, nb::handle bias, int64_t groups, nb::handle stride,
                   nb::handle dilation, nb::handle padding, nb::handle output_padding) {
    fg::ConvTransposeOpts o;
    o.groups = groups;
    o.stride = ints_arg(stride, "conv_transpose2d");
    o.dilation = ints_arg(dilation, "conv_transpose2d");
    o.padding = ints_arg(padding, "conv_transpose2d");
    o.output_padding = ints_arg(output_padding, "conv_transpose2d");
    return fg::conv_transpose(x, w, opt_tensor(bias), o);
  };
  for (const char* name : {"conv_transpose2d", "conv_transpose1d", "conv_transpose3d"})
    cls.def(name, conv_t, "weight"_a, "bias"_a = nb::none(), "groups"_a = 1, "stride"_a = 1, "dilation"_a = 1,
            "padding"_a = 0, "output_padding"_a = 0,
            "Transposed convolution (the gradient of conv2d); weight (Cin, Cout/groups, *kernel).");

  // ---- pooling over the last len(kernel_size) axes (an int kernel means 1, 2 or 3 axes by the name)
  struct PoolDef { const char* name; size_t nd; bool max; };
  for (PoolDef d : {PoolDef{"max_pool2d", 2, true}, PoolDef{"max_pool1d", 1, true}, PoolDef{"max_pool3d", 3, true},
                    PoolDef{"avg_pool2d", 2, false}, PoolDef{"avg_pool1d", 1, false}, PoolDef{"avg_pool3d", 3, false}}) {
    if (d.max) {
      cls.def(d.name, [d](const Tensor& x, nb::handle kernel_size, nb::handle stride, nb::handle dilation,
                          nb::handle padding, bool ceil_mode, bool return_indices) {
        if (return_indices) throw fg::Error(fg::ErrorKind::NotImplemented, d.name, "return_indices is not supported yet");
        Ints k = kernel_arg(kernel_size, d.nd, d.name);
        return fg::max_pool(x, k, pool_opts(stride, dilation, padding, ceil_mode, k.size(), d.name));
      }, "kernel_size"_a = nb::make_tuple(2, 2), "stride"_a = nb::none(), "dilation"_a = 1, "padding"_a = 0,
         "ceil_mode"_a = false, "return_indices"_a = false,
         "Max pool over the last spatial axes (stride defaults to the kernel size).");
    } else {
      cls.def(d.name, [d](const Tensor& x, nb::handle kernel_size, nb::handle stride, nb::handle dilation,
                          nb::handle padding, bool ceil_mode, bool count_include_pad) {
        Ints k = kernel_arg(kernel_size, d.nd, d.name);
        fg::PoolOpts o = pool_opts(stride, dilation, padding, ceil_mode, k.size(), d.name);
        o.count_include_pad = count_include_pad;
        return fg::avg_pool(x, k, o);
      }, "kernel_size"_a = nb::make_tuple(2, 2), "stride"_a = nb::none(), "dilation"_a = 1, "padding"_a = 0,
         "ceil_mode"_a = false, "count_include_pad"_a = true,
         "Average pool over the last spatial axes (stride defaults to the kernel size).");
    }
  }
  cls.def("adaptive_avg_pool2d", [](const Tensor& x, nb::handle size) { return fg::adaptive_avg_pool(x, kernel_arg(size, 2, "adaptive_avg_pool2d")); },
          "output_size"_a, "Average pool to an output size (PyTorch's adaptive cells).");
  cls.def("adaptive_avg_pool1d", [](const Tensor& x, nb::handle size) { return fg::adaptive_avg_pool(x, kernel_arg(size, 1, "adaptive_avg_pool1d")); },
          "output_size"_a, "Average pool to an output size.");
  cls.def("adaptive_max_pool2d", [](const Tensor& x, nb::handle size) { return fg::adaptive_max_pool(x, kernel_arg(size, 2, "adaptive_max_pool2d")); },
          "output_size"_a, "Max pool to an output size.");
  cls.def("adaptive_max_pool1d", [](const Tensor& x, nb::handle size) { return fg::adaptive_max_pool(x, kernel_arg(size, 1, "adaptive_max_pool1d")); },
          "output_size"_a, "Max pool to an output size.");
  cls.def("interpolate", [](const Tensor& x, nb::handle size, const std::string& mode, bool align_corners) {
    return fg::interpolate(x, ints_arg(size, "interpolate"), interp_mode(mode), align_corners);
  }, "size"_a, "mode"_a = "linear", "align_corners"_a = false,
     "Resizes the last len(size) axes: 'linear' (bi/trilinear), 'nearest' or 'nearest-exact'.");

  // ---- normalization
  cls.def("batchnorm", [](const Tensor& x, nb::handle weight, nb::handle bias, const Tensor& mean, const Tensor& invstd,
                          int64_t axis) { return fg::batchnorm(x, opt_tensor(weight), opt_tensor(bias), mean, invstd, axis); },
          "weight"_a.none(), "bias"_a.none(), "mean"_a, "invstd"_a, "axis"_a = 1,
          "(self - mean) * invstd * weight + bias with 1-d statistics along axis (tinygrad's).");
  cls.def("layernorm", [](const Tensor& x, nb::handle axis, double eps) {
    return fg::layernorm(x, to_axes(axis, "layernorm"), eps);
  }, "axis"_a = -1, "eps"_a = 1e-5, "(self - mean) / sqrt(var + eps) over the axes (no affine part).");
  cls.def("layer_norm", [](const Tensor& x, nb::handle shape, nb::handle weight, nb::handle bias, double eps) {
    return fg::layer_norm(x, to_shape(shape, "layer_norm"), opt_tensor(weight), opt_tensor(bias), eps);
  }, "normalized_shape"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5, "PyTorch's F.layer_norm.");
  cls.def("group_norm", [](const Tensor& x, int64_t groups, nb::handle weight, nb::handle bias, double eps) {
    return fg::group_norm(x, groups, opt_tensor(weight), opt_tensor(bias), eps);
  }, "num_groups"_a, "weight"_a = nb::none(), "bias"_a = nb::none(), "eps"_a = 1e-5, "PyTorch's F.group_norm.");
  cls.def("rms_norm", [](const Tensor& x, nb::handle shape, nb::handle weight, std::optional<double> eps) {
    return fg::rms_norm(x, to_shape(shape, "rms_norm"), opt_tensor(weight), eps);
  }, "normalized_shape"_a, "weight"_a = nb::none(), "eps"_a = nb::none(), "PyTorch's F.rms_norm.");

  // ---- dropout and attention
  cls.def("dropout", [](const Tensor& x, double p) { return fg::dropout(x, p, py_training()); }, "p"_a = 0.5,
          "Zeroes each value with probability p and scales the rest by 1/(1-p), only while Tensor.training.");
  cls.def("scaled_dot_product_attention", [](const Tensor& q, const Tensor& k, const Tensor& v, nb::handle mask,
                                             double dropout_p, bool is_causal, std::optional<double> scale,
                                             bool enable_gqa) {
    return fg::scaled_dot_product_attention(q, k, v, opt_tensor(mask), py_training() ? dropout_p : 0.0, is_causal,
                                            scale, enable_gqa);
  }, "key"_a, "value"_a, "attn_mask"_a = nb::none(), "dropout_p"_a = 0.0, "is_causal"_a = false, "scale"_a = nb::none(),
     "enable_gqa"_a = false, "softmax(self @ key^T * scale + mask) @ value (self is the query).");

  // ---- losses
  cls.def("sparse_categorical_crossentropy", [](const Tensor& x, const Tensor& y, int64_t ignore_index,
                                                double label_smoothing, const std::string& reduction) {
    return fg::sparse_categorical_crossentropy(x, y, ignore_index, label_smoothing,
                                               reduction_arg(reduction, "sparse_categorical_crossentropy"));
  }, "Y"_a, "ignore_index"_a = -1, "label_smoothing"_a = 0.0, "reduction"_a = "mean",
     "Cross entropy of logits (classes on the last axis) against integer labels (tinygrad's).");
  cls.def("cross_entropy", [](const Tensor& x, const Tensor& y, const std::string& reduction, double label_smoothing,
                              int64_t ignore_index, nb::handle weight) {
    fg::CrossEntropyOpts o;
    o.reduction = reduction_arg(reduction, "cross_entropy");
    o.label_smoothing = label_smoothing;
    o.ignore_index = ignore_index;
    o.weight = opt_tensor(weight);
    return fg::cross_entropy(x, y, o);
  }, "Y"_a, "reduction"_a = "mean", "label_smoothing"_a = 0.0, "ignore_index"_a = -100, "weight"_a = nb::none(),
     "PyTorch's cross entropy: logits (N, C, ...) against class indices (N, ...) or probabilities.");
  cls.def("nll_loss", [](const Tensor& x, const Tensor& y, nb::handle weight, int64_t ignore_index,
                         const std::string& reduction) {
    return fg::nll_loss(x, y, opt_tensor(weight), ignore_index, reduction_arg(reduction, "nll_loss"));
  }, "Y"_a, "weight"_a = nb::none(), "ignore_index"_a = -100, "reduction"_a = "mean",
     "Negative log likelihood of log-probabilities (N, C, ...) against class indices.");
  cls.def("binary_crossentropy", [](const Tensor& x, const Tensor& y, const std::string& reduction) {
    return fg::binary_cross_entropy(x, y, std::nullopt, reduction_arg(reduction, "binary_crossentropy"));
  }, "Y"_a, "reduction"_a = "mean", "Binary cross entropy of probabilities against targets.");
  cls.def("binary_crossentropy_logits", [](const Tensor& x, const Tensor& y, const std::string& reduction,
                                           nb::handle pos_weight) {
    return fg::binary_cross_entropy_with_logits(x, y, std::nullopt, opt_tensor(pos_weight),
                                                reduction_arg(reduction, "binary_crossentropy_logits"));
  }, "Y"_a, "reduction"_a = "mean", "pos_weight"_a = nb::none(), "Binary cross entropy of logits (stable).");
  cls.def("mse_loss", [](const Tensor& x, const Tensor& y, const std::string& r) { return fg::mse_loss(x, y, reduction_arg(r, "mse_loss")); },
          "Y"_a, "reduction"_a = "mean", "Mean squared error.");
  cls.def("l1_loss", [](const Tensor& x, const Tensor& y, const std::string& r) { return fg::l1_loss(x, y, reduction_arg(r, "l1_loss")); },
          "Y"_a, "reduction"_a = "mean", "Mean absolute error.");
  cls.def("smooth_l1_loss", [](const Tensor& x, const Tensor& y, double beta, const std::string& r) {
    return fg::smooth_l1_loss(x, y, beta, reduction_arg(r, "smooth_l1_loss"));
  }, "Y"_a, "beta"_a = 1.0, "reduction"_a = "mean", "PyTorch's smooth L1 loss.");
  cls.def("huber_loss", [](const Tensor& x, const Tensor& y, double delta, const std::string& r) {
    return fg::huber_loss(x, y, delta, reduction_arg(r, "huber_loss"));
  }, "Y"_a, "delta"_a = 1.0, "reduction"_a = "mean", "PyTorch's Huber loss.");
}

}  // namespace fgpy
