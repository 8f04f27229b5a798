// ResNet-18/34/50/101/152 with torchvision's names (resnet.h says what is guaranteed).
#include "femtograd/models/resnet.h"

#include <cmath>

#include "femtograd/base/error.h"
#include "femtograd/nn/safetensors.h"

namespace fg::models {

namespace {
// torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"), std = sqrt(2 / fan_out)
nn::Conv2d make_conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t groups, DType dt,
                     const std::string& device) {
  ConvOpts o;
  o.stride = {stride};
  o.padding = Padding(pad);
  o.groups = groups;
  nn::Conv2d c(in, out, {k}, o, /*bias=*/false, dt, device);
  double fan_out = static_cast<double>(out * k * k);
  c.weight = Tensor::normal(c.weight.shape(), 0.0, std::sqrt(2.0 / fan_out), dt, device);
  c.weight.requires_grad_();
  return c;
}
nn::BatchNorm make_bn(int64_t c, DType dt, const std::string& device) {
  return nn::BatchNorm(c, 1e-5, true, true, 0.1, dt, device);
}
}  // namespace

// ---------------------------------------------------------------- blocks

Downsample::Downsample(int64_t in, int64_t out, int64_t stride, DType dt, const std::string& device)
    : conv(make_conv(in, out, 1, stride, 0, 1, dt, device)), bn(make_bn(out, dt, device)) {}

void Downsample::collect(const std::string& p, nn::NamedTensors& out) {
  add_child(out, p, "0", conv);
  add_child(out, p, "1", bn);
}

namespace {
int64_t block_width(BlockKind kind, int64_t planes, int64_t groups, int64_t base_width) {
  if (kind == BlockKind::Basic) return planes;
  return planes * base_width / 64 * groups;
}
}  // namespace

ResBlock::ResBlock(BlockKind kind, int64_t in, int64_t planes, int64_t stride, int64_t groups, int64_t base_width,
                   DType dt, const std::string& device)
    : kind(kind),
      conv1(kind == BlockKind::Basic
                ? make_conv(in, planes, 3, stride, 1, 1, dt, device)
                : make_conv(in, block_width(kind, planes, groups, base_width), 1, 1, 0, 1, dt, device)),
      bn1(make_bn(block_width(kind, planes, groups, base_width), dt, device)),
      conv2(kind == BlockKind::Basic ? make_conv(planes, planes, 3, 1, 1, 1, dt, device)
                                     : make_conv(block_width(kind, planes, groups, base_width),
                                                 block_width(kind, planes, groups, base_width), 3, stride, 1,
                                                 groups, dt, device)),
      bn2(make_bn(block_width(kind, planes, groups, base_width), dt, device)) {
  FG_CHECK(kind == BlockKind::Bottleneck || (groups == 1 && base_width == 64), ErrorKind::Value, "ResNet",
           "a basic block supports only groups=1 and width_per_group=64");
  int64_t outc = planes * expansion(kind);
  if (kind == BlockKind::Bottleneck) {
    int64_t w = block_width(kind, planes, groups, base_width);
    conv3 = std::make_unique<nn::Conv2d>(make_conv(w, outc, 1, 1, 0, 1, dt, device));
    bn3 = std::make_unique<nn::BatchNorm>(make_bn(outc, dt, device));
  }
  if (stride != 1 || in != outc) downsample = std::make_unique<Downsample>(in, outc, stride, dt, device);
}

int64_t ResBlock::out_channels() const { return (conv3 ? conv3->weight : conv2.weight).shape()[0]; }

Tensor ResBlock::forward(const Tensor& x) {
  Tensor out = bn1(conv1(x)).relu();
  out = bn2(conv2(out));
  if (kind == BlockKind::Bottleneck) out = (*bn3)((*conv3)(out.relu()));
  Tensor identity = downsample ? downsample->forward(x) : x;
  return out.add(identity).relu();
}

void ResBlock::collect(const std::string& p, nn::NamedTensors& out) {
  add_child(out, p, "conv1", conv1);
  add_child(out, p, "bn1", bn1);
  add_child(out, p, "conv2", conv2);
  add_child(out, p, "bn2", bn2);
  if (conv3) {
    add_child(out, p, "conv3", *conv3);
    add_child(out, p, "bn3", *bn3);
  }
  if (downsample) add_child(out, p, "downsample", *downsample);
}

// ---------------------------------------------------------------- the network

ResNet::ResNet(const ResNetConfig& cfg)
    : conv1(make_conv(3, 64, 7, 2, 3, 1, cfg.dtype, cfg.device)),
      bn1(make_bn(64, cfg.dtype, cfg.device)),
      fc(512 * ResBlock::expansion(cfg.block), cfg.num_classes, true, cfg.dtype, cfg.device),
      cfg_(cfg) {
  FG_CHECK(cfg.layers.size() == 4, ErrorKind::Value, "ResNet", "needs 4 stages of blocks, got ",
           cfg.layers.size());
  FG_CHECK(cfg.num_classes > 0 && cfg.groups > 0 && cfg.width_per_group > 0, ErrorKind::Value, "ResNet",
           "num_classes, groups and width_per_group must be positive");
  int64_t in = 64;
  for (size_t s = 0; s < 4; s++) {
    int64_t planes = 64 << s;
    int64_t stride = s == 0 ? 1 : 2;
    std::vector<std::unique_ptr<ResBlock>> blocks;
    for (int64_t i = 0; i < cfg.layers[s]; i++) {
      blocks.push_back(std::make_unique<ResBlock>(cfg.block, in, planes, i == 0 ? stride : 1, cfg.groups,
                                                  cfg.width_per_group, cfg.dtype, cfg.device));
      in = blocks.back()->out_channels();
    }
    stages.push_back(std::move(blocks));
  }
}

Tensor ResNet::features(const Tensor& x) {
  FG_CHECK(x.ndim() == 4 && x.shape()[1] == 3, ErrorKind::Value, "ResNet", "expects input (N, 3, H, W), got ",
           shape_str(x.shape()));
  PoolOpts pool;
  pool.stride = Ints{2};
  pool.padding = Padding(1);
  Tensor h = max_pool2d(bn1(conv1(x)).relu(), {3}, pool);
  for (auto& stage : stages)
    for (auto& b : stage) h = b->forward(h);
  return h.mean({2, 3});  // adaptive_avg_pool2d to 1x1, then flatten
}

Tensor ResNet::forward(const Tensor& x) { return fc(features(x)); }

void ResNet::collect(const std::string& p, nn::NamedTensors& out) {
  add_child(out, p, "conv1", conv1);
  add_child(out, p, "bn1", bn1);
  for (size_t s = 0; s < stages.size(); s++)
    for (size_t i = 0; i < stages[s].size(); i++)
      add_child(out, p, "layer" + std::to_string(s + 1) + "." + std::to_string(i), *stages[s][i]);
  add_child(out, p, "fc", fc);
}

void ResNet::save(const std::string& path) { safe_save(state_dict(), path); }

void ResNet::load(const std::string& path) {
  std::string dev = conv1.weight.device();
  load_state_dict(safe_load(path, dev));
}

// ---------------------------------------------------------------- torchvision's constructors

namespace {
ResNet make(BlockKind k, std::vector<int64_t> layers, int64_t nc, DType dt, const std::string& device) {
  ResNetConfig c;
  c.block = k;
  c.layers = std::move(layers);
  c.num_classes = nc;
  c.dtype = dt;
  c.device = device;
  return ResNet(c);
}
}  // namespace

ResNet resnet18(int64_t nc, DType dt, const std::string& d) { return make(BlockKind::Basic, {2, 2, 2, 2}, nc, dt, d); }
ResNet resnet34(int64_t nc, DType dt, const std::string& d) { return make(BlockKind::Basic, {3, 4, 6, 3}, nc, dt, d); }
ResNet resnet50(int64_t nc, DType dt, const std::string& d) {
  return make(BlockKind::Bottleneck, {3, 4, 6, 3}, nc, dt, d);
}
ResNet resnet101(int64_t nc, DType dt, const std::string& d) {
  return make(BlockKind::Bottleneck, {3, 4, 23, 3}, nc, dt, d);
}
ResNet resnet152(int64_t nc, DType dt, const std::string& d) {
  return make(BlockKind::Bottleneck, {3, 8, 36, 3}, nc, dt, d);
}

}  // namespace fg::models
