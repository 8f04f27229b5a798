// ResNet (He et al. 2015, "v1.5": the stride sits on the 3x3 conv of a bottleneck) with
// torchvision's module layout and names, so a torchvision state dict (converted to safetensors)
// loads as it is: conv1, bn1, layer1..layer4 of blocks "layerK.i" holding conv1/bn1/conv2/bn2
// (and conv3/bn3 in a bottleneck) plus "downsample.0" (1x1 conv) / "downsample.1" (BatchNorm) when
// the block changes stride or width, then fc. Tensors are listed in torchvision's state_dict
// order. Initialization follows torchvision: convs N(0, sqrt(2 / fan_out)), BatchNorm weight 1 and
// bias 0, fc PyTorch's Linear default. Parameters stay lazy until first realized.
// BatchNorm uses running statistics unless fg::is_training() (TrainingScope).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "femtograd/nn/layers.h"

namespace fg::models {

enum class BlockKind { Basic, Bottleneck };  // expansion 1 and 4

// torchvision's downsample: Sequential(conv1x1(stride), BatchNorm), named "0" and "1"
struct Downsample : nn::Module {
  nn::Conv2d conv;
  nn::BatchNorm bn;
  Downsample(int64_t in, int64_t out, int64_t stride, DType dtype, const std::string& device);
  Tensor forward(const Tensor& x) { return bn(conv(x)); }
  void collect(const std::string& prefix, nn::NamedTensors& out) override;
};

// BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut), two 3x3 convs (stride on conv1).
// Bottleneck: 1x1 conv to `width`, 3x3 conv (stride, groups), 1x1 conv to planes * 4.
struct ResBlock : nn::Module {
  BlockKind kind;
  nn::Conv2d conv1;
  nn::BatchNorm bn1;
  nn::Conv2d conv2;
  nn::BatchNorm bn2;
  std::unique_ptr<nn::Conv2d> conv3;  // bottleneck only
  std::unique_ptr<nn::BatchNorm> bn3;
  std::unique_ptr<Downsample> downsample;  // when stride != 1 or in != planes * expansion

  ResBlock(BlockKind kind, int64_t in, int64_t planes, int64_t stride, int64_t groups = 1,
           int64_t base_width = 64, DType dtype = dtypes::float32, const std::string& device = "");
  static int64_t expansion(BlockKind k) { return k == BlockKind::Basic ? 1 : 4; }
  int64_t out_channels() const;
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  void collect(const std::string& prefix, nn::NamedTensors& out) override;
};

struct ResNetConfig {
  BlockKind block = BlockKind::Basic;
  std::vector<int64_t> layers{2, 2, 2, 2};  // blocks per stage
  int64_t num_classes = 1000;
  int64_t groups = 1;            // ResNeXt: groups of the 3x3 conv of a bottleneck
  int64_t width_per_group = 64;  // wide ResNets and ResNeXt: 3x3 width = planes * wpg / 64 * groups
  DType dtype = dtypes::float32;
  std::string device;            // "" = the default device
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetConfig& cfg);

  // (N, 3, H, W) -> logits (N, num_classes)
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // the pooled features before fc: (N, 512 * expansion)
  Tensor features(const Tensor& x);

  // the whole state dict (torchvision's names) to a safetensors file, and back (strict names and
  // shapes; values cast to the model's dtype)
  void save(const std::string& path);
  void load(const std::string& path);

  void collect(const std::string& prefix, nn::NamedTensors& out) override;

  const ResNetConfig& config() const { return cfg_; }
  nn::Conv2d conv1;
  nn::BatchNorm bn1;
  std::vector<std::vector<std::unique_ptr<ResBlock>>> stages;  // layer1..layer4
  nn::Linear fc;

 private:
  ResNetConfig cfg_;
};

// torchvision's constructors
ResNet resnet18(int64_t num_classes = 1000, DType dtype = dtypes::float32, const std::string& device = "");
ResNet resnet34(int64_t num_classes = 1000, DType dtype = dtypes::float32, const std::string& device = "");
ResNet resnet50(int64_t num_classes = 1000, DType dtype = dtypes::float32, const std::string& device = "");
ResNet resnet101(int64_t num_classes = 1000, DType dtype = dtypes::float32, const std::string& device = "");
ResNet resnet152(int64_t num_classes = 1000, DType dtype = dtypes::float32, const std::string& device = "");

}  // namespace fg::models
