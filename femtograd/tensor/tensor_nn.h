// Functional neural-network ops (tinygrad's Tensor.conv2d, avg_pool2d, ... and PyTorch's
// torch.nn.functional): convolutions, pooling, interpolation, normalization, dropout, attention and
// losses, all written with movement, elementwise and reduce ops so that the lazy graph fuses into few
// kernels and autograd differentiates them with no rule of their own.
//
// Conventions (PyTorch's): inputs are (N, C, *spatial), or (C, *spatial) unbatched; weights of a
// convolution are (Cout, Cin/groups, *kernel), of a transposed one (Cin, Cout/groups, *kernel).
// A per-axis option (stride, dilation, kernel, ...) given as one value applies to every spatial axis.
#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "femtograd/tensor/tensor.h"

namespace fg {

using Ints = std::vector<int64_t>;  // one value for every spatial axis, or one per axis

// Padding of the spatial axes of a convolution or pool: one amount for every side, one amount per
// axis (both sides), a (before, after) pair per axis, "same" (output size = ceil(input / stride),
// the extra padding after, like PyTorch and TensorFlow) or "valid" (none).
struct Padding {
  enum class Mode { Explicit, Same, Valid };
  Mode mode = Mode::Explicit;
  std::vector<std::pair<int64_t, int64_t>> sides{{0, 0}};  // one pair for all axes, or one per axis
  Padding() = default;
  Padding(int p) : sides{{p, p}} {}
  Padding(int64_t p) : sides{{p, p}} {}
  Padding(std::initializer_list<int64_t> per_axis);
  Padding(std::vector<std::pair<int64_t, int64_t>> per_side) : sides(std::move(per_side)) {}
  Padding(const char* mode);  // "same" or "valid"
  Padding(const std::string& mode) : Padding(mode.c_str()) {}
  // the (before, after) padding of each of nd spatial axes for the given input, kernel, stride and
  // dilation (all of size nd); op names the caller in errors
  std::vector<std::pair<int64_t, int64_t>> resolve(const Ints& in, const Ints& kernel, const Ints& stride,
                                                   const Ints& dilation, const char* op) const;
};

// ---- convolutions
struct ConvOpts {
  Ints stride{1};
  Padding padding{};
  Ints dilation{1};
  int64_t groups = 1;
};
// an N-d convolution (N from the weight: w.ndim() - 2); bias (Cout,)
Tensor conv(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {}, const ConvOpts& o = {});
Tensor conv1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {}, const ConvOpts& o = {});
Tensor conv2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {}, const ConvOpts& o = {});
Tensor conv3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {}, const ConvOpts& o = {});

struct ConvTransposeOpts {
  Ints stride{1};
  Ints padding{0};  // removes dilation * (kernel - 1) - padding from each side, like PyTorch
  Ints output_padding{0};
  Ints dilation{1};
  int64_t groups = 1;
};
// the gradient of conv with respect to its input (PyTorch's conv_transpose); bias (Cout,)
Tensor conv_transpose(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {},
                      const ConvTransposeOpts& o = {});
Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {},
                        const ConvTransposeOpts& o = {});
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {},
                        const ConvTransposeOpts& o = {});
Tensor conv_transpose3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias = {},
                        const ConvTransposeOpts& o = {});

// ---- pooling
struct PoolOpts {
  std::optional<Ints> stride;  // default: the kernel size
  Padding padding{};
  Ints dilation{1};
  bool ceil_mode = false;          // the last window may start in the input or the left padding
  bool count_include_pad = true;   // avg only: divide by the window size, padding included
};
// the sliding windows of the last kernel.size() axes: (..., *out, *kernel), a view (no copy);
// tinygrad's Tensor._pool
Tensor pool_windows(const Tensor& x, const Ints& kernel, const Ints& stride = {1}, const Ints& dilation = {1});
// max and average pools over the last kernel.size() axes
Tensor max_pool(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor avg_pool(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor max_pool1d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor max_pool2d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor max_pool3d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor avg_pool1d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor avg_pool2d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
Tensor avg_pool3d(const Tensor& x, const Ints& kernel, const PoolOpts& o = {});
// PyTorch's adaptive pools: output cell i of an axis covers [floor(i*I/O), ceil((i+1)*I/O))
Tensor adaptive_avg_pool(const Tensor& x, const Ints& output_size);
Tensor adaptive_max_pool(const Tensor& x, const Ints& output_size);
Tensor adaptive_avg_pool1d(const Tensor& x, const Ints& output_size);
Tensor adaptive_avg_pool2d(const Tensor& x, const Ints& output_size);
Tensor adaptive_avg_pool3d(const Tensor& x, const Ints& output_size);
Tensor adaptive_max_pool1d(const Tensor& x, const Ints& output_size);
Tensor adaptive_max_pool2d(const Tensor& x, const Ints& output_size);
Tensor adaptive_max_pool3d(const Tensor& x, const Ints& output_size);

// ---- resampling: the last size.size() axes resized to size, like PyTorch's F.interpolate.
// Nearest: source floor(o * I / O); NearestExact: floor((o + 0.5) * I / O); Linear (linear, bilinear,
// trilinear: one axis at a time) with or without align_corners.
enum class InterpMode { Nearest, NearestExact, Linear };
Tensor interpolate(const Tensor& x, const Ints& size, InterpMode mode = InterpMode::Nearest, bool align_corners = false);

// ---- normalization
// tinygrad's Tensor.batchnorm: (x - mean) * weight * invstd + bias, the 1-d statistics along axis
Tensor batchnorm(const Tensor& x, const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
                 const Tensor& mean, const Tensor& invstd, int64_t axis = 1);
// PyTorch's F.batch_norm with the statistics given (eval) or, with training, the batch's own
// (biased variance); running stats are not touched (nn::BatchNorm does that)
Tensor batch_norm(const Tensor& x, const std::optional<Tensor>& running_mean, const std::optional<Tensor>& running_var,
                  const std::optional<Tensor>& weight = {}, const std::optional<Tensor>& bias = {},
                  bool training = false, double eps = 1e-5);
// normalizes over the last normalized_shape.size() axes (which must equal normalized_shape)
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const std::optional<Tensor>& weight = {},
                  const std::optional<Tensor>& bias = {}, double eps = 1e-5);
// tinygrad's Tensor.layernorm over the given axes (no affine)
Tensor layernorm(const Tensor& x, std::vector<int64_t> axes = {-1}, double eps = 1e-5);
Tensor group_norm(const Tensor& x, int64_t num_groups, const std::optional<Tensor>& weight = {},
                  const std::optional<Tensor>& bias = {}, double eps = 1e-5);
// x / sqrt(mean(x^2) + eps) * weight; eps defaults to the dtype's machine epsilon (PyTorch)
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const std::optional<Tensor>& weight = {},
                std::optional<double> eps = {});

// ---- training mode (tinygrad's Tensor.training): dropout and nn::BatchNorm read it. Off by default.
bool is_training();
void set_training(bool on);
class TrainingScope {  // sets the mode while it lives, then restores the previous one
 public:
  explicit TrainingScope(bool on = true);
  ~TrainingScope();
  TrainingScope(const TrainingScope&) = delete;
  TrainingScope& operator=(const TrainingScope&) = delete;

 private:
  bool prev_;
};

// zeroes each element with probability p (Tensor::rand) and scales the rest by 1 / (1 - p); the
// identity when not training (training unset: is_training())
Tensor dropout(const Tensor& x, double p = 0.5, std::optional<bool> training = {});

// softmax(q k^T * scale + mask) v over (..., L, E) x (..., S, E) x (..., S, Ev); a bool mask keeps
// where true, a float mask is added; scale defaults to 1/sqrt(E). enable_gqa repeats k and v heads
// (axis -3) to q's head count.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const std::optional<Tensor>& attn_mask = {}, double dropout_p = 0,
                                    bool is_causal = false, std::optional<double> scale = {},
                                    bool enable_gqa = false);

// ---- losses (PyTorch's definitions)
enum class Reduction { Mean, Sum, None };
struct CrossEntropyOpts {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  std::optional<Tensor> weight;  // (C,) class weights
};
// logits (N, C, d...) or (C,); target: class indices (N, d...) of an integer dtype, or class
// probabilities of the logits' shape
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOpts& o = {});
// tinygrad's: classes on the last axis, integer labels; ignore_index -1 means none
Tensor sparse_categorical_crossentropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index = -1,
                                       double label_smoothing = 0, Reduction reduction = Reduction::Mean);
// log-probabilities (N, C, d...) and class indices (N, d...)
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const std::optional<Tensor>& weight = {},
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& target, const std::optional<Tensor>& weight = {},
                            Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const std::optional<Tensor>& weight = {},
                                        const std::optional<Tensor>& pos_weight = {},
                                        Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& x, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& x, const Tensor& target, double beta = 1.0, Reduction reduction = Reduction::Mean);
Tensor huber_loss(const Tensor& x, const Tensor& target, double delta = 1.0, Reduction reduction = Reduction::Mean);

// ---- in-place update (tinygrad's Tensor.assign): target's values become value's when target is
// next realized (written into target's own buffer by an ASSIGN kernel), so every handle of that
// buffer sees them then. A target that holds no buffer yet simply becomes value. The target keeps its
// requires_grad mark and .grad. Shapes must match; value is cast to target's dtype.
Tensor& assign_to(Tensor& target, const Tensor& value);
// the BUFFER node that holds a realized contiguous tensor (a buffer seen through reshapes), or null
UOpRef buffer_of_tensor(const Tensor& t);

}  // namespace fg
