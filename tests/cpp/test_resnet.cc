// models/resnet: the state dict matches torchvision's names, shapes and order (the expected list is
// generated here from torchvision's architecture definition, plus its published parameter counts),
// one BasicBlock and one grouped Bottleneck forward match naive loops written here, a small network
// runs end to end, and a state dict round-trips through a safetensors file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "femtograd/base/error.h"
#include "femtograd/models/resnet.h"
#include "femtograd/nn/safetensors.h"

namespace {
using fg::Shape;
using fg::Tensor;
using fg::models::BlockKind;
using Vec = std::vector<double>;
using Entry = std::pair<std::string, Shape>;
namespace models = fg::models;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- torchvision's state dict

// torchvision.models.resnet: conv1 7x7/2, bn1, four stages (planes 64, 128, 256, 512; stride 1, 2,
// 2, 2 on the first block), each block conv1/bn1/conv2/bn2[/conv3/bn3] then downsample.0/.1 on the
// first block when the stride or the width changes; fc. A BatchNorm holds weight, bias,
// running_mean, running_var, num_batches_tracked (0-d).
std::vector<Entry> torchvision_state(BlockKind kind, std::vector<int64_t> layers, int64_t classes) {
  std::vector<Entry> out;
  auto conv = [&](const std::string& n, int64_t o, int64_t i, int64_t k) { out.push_back({n + ".weight", {o, i, k, k}}); };
  auto bn = [&](const std::string& n, int64_t c) {
    for (const char* s : {".weight", ".bias", ".running_mean", ".running_var"}) out.push_back({n + s, {c}});
    out.push_back({n + ".num_batches_tracked", {}});
  };
  int64_t exp = kind == BlockKind::Basic ? 1 : 4;
  conv("conv1", 64, 3, 7);
  bn("bn1", 64);
  int64_t inplanes = 64;
  for (int s = 0; s < 4; s++) {
    int64_t planes = 64 << s;
    for (int64_t b = 0; b < layers[s]; b++) {
      std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      if (kind == BlockKind::Basic) {
        conv(p + "conv1", planes, inplanes, 3);
        bn(p + "bn1", planes);
        conv(p + "conv2", planes, planes, 3);
        bn(p + "bn2", planes);
      } else {
        conv(p + "conv1", planes, inplanes, 1);
        bn(p + "bn1", planes);
        conv(p + "conv2", planes, planes, 3);
        bn(p + "bn2", planes);
        conv(p + "conv3", planes * 4, planes, 1);
        bn(p + "bn3", planes * 4);
      }
      if (stride != 1 || inplanes != planes * exp) {
        conv(p + "downsample.0", planes * exp, inplanes, 1);
        bn(p + "downsample.1", planes * exp);
      }
      inplanes = planes * exp;
    }
  }
  out.push_back({"fc.weight", {classes, 512 * exp}});
  out.push_back({"fc.bias", {classes}});
  return out;
}

void expect_state(models::ResNet& m, const std::vector<Entry>& want, size_t n_params, int64_t param_numel) {
  auto got = m.named_tensors();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++) {
    EXPECT_EQ(got[i].first, want[i].first) << "entry " << i;
    EXPECT_EQ(got[i].second->shape(), want[i].second) << want[i].first;
  }
  auto params = m.named_parameters();
  EXPECT_EQ(params.size(), n_params);
  int64_t numel = 0;
  for (auto& [n, t] : params) numel += t->numel();
  EXPECT_EQ(numel, param_numel);
}

TEST(ResNet, StateDictMatchesTorchvision) {
  models::ResNet r18 = models::resnet18();
  models::ResNet r34 = models::resnet34();
  models::ResNet r50 = models::resnet50();
  // torchvision: len(state_dict()) 122 / 218 / 320; len(parameters()) 62 / 110 / 161;
  // parameter counts 11,689,512 / 21,797,672 / 25,557,032
  auto s18 = torchvision_state(BlockKind::Basic, {2, 2, 2, 2}, 1000);
  auto s34 = torchvision_state(BlockKind::Basic, {3, 4, 6, 3}, 1000);
  auto s50 = torchvision_state(BlockKind::Bottleneck, {3, 4, 6, 3}, 1000);
  EXPECT_EQ(s18.size(), 122u);
  EXPECT_EQ(s34.size(), 218u);
  EXPECT_EQ(s50.size(), 320u);
  expect_state(r18, s18, 62, 11689512);
  expect_state(r34, s34, 110, 21797672);
  expect_state(r50, s50, 161, 25557032);
  // a sample spelled out, as torchvision prints them
  auto shape_of = [](models::ResNet& m, const std::string& name) {
    for (auto& [n, t] : m.named_tensors())
      if (n == name) return t->shape();
    return Shape{-1};
  };
  EXPECT_EQ(shape_of(r18, "layer2.0.downsample.0.weight"), (Shape{128, 64, 1, 1}));
  EXPECT_EQ(shape_of(r18, "layer4.1.bn2.running_var"), (Shape{512}));
  EXPECT_EQ(shape_of(r18, "fc.weight"), (Shape{1000, 512}));
  EXPECT_EQ(shape_of(r50, "layer1.0.downsample.0.weight"), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(shape_of(r50, "layer3.5.conv2.weight"), (Shape{256, 256, 3, 3}));
  EXPECT_EQ(shape_of(r50, "layer4.2.conv3.weight"), (Shape{2048, 512, 1, 1}));
  EXPECT_EQ(shape_of(r50, "layer4.0.bn3.num_batches_tracked"), (Shape{}));
  EXPECT_EQ(shape_of(r50, "fc.weight"), (Shape{1000, 2048}));
  EXPECT_EQ(shape_of(r50, "layer1.1.downsample.0.weight"), (Shape{-1}));  // none past the first block
  EXPECT_EQ(r50.named_tensors()[5].first, "bn1.num_batches_tracked");
  EXPECT_EQ(r50.named_tensors()[5].second->dtype(), fg::dtypes::int64);
  // ResNeXt-50 32x4d: the 3x3 conv is grouped and wider
  models::ResNetConfig cx;
  cx.block = BlockKind::Bottleneck;
  cx.layers = {3, 4, 6, 3};
  cx.groups = 32;
  cx.width_per_group = 4;
  models::ResNet rx(cx);
  EXPECT_EQ(shape_of(rx, "layer1.0.conv2.weight"), (Shape{128, 4, 3, 3}));
  int64_t nx = 0;
  for (auto& [n, t] : rx.named_parameters()) nx += t->numel();
  EXPECT_EQ(nx, 25028904);  // torchvision's resnext50_32x4d
}

// ---------------------------------------------------------------- naive reference of one block

Vec rand_vec(size_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(g);
  return v;
}

struct Act {  // (N, C, H, W) row-major
  int64_t n, c, h, w;
  Vec v;
  double& at(int64_t a, int64_t b, int64_t y, int64_t x) { return v[((a * c + b) * h + y) * w + x]; }
};

Act ref_conv(Act& in, const Vec& wt, int64_t cout, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  int64_t ho = (in.h + 2 * pad - k) / stride + 1, wo = (in.w + 2 * pad - k) / stride + 1;
  int64_t cig = in.c / groups, cog = cout / groups;
  Act out{in.n, cout, ho, wo, Vec(in.n * cout * ho * wo, 0.0)};
  for (int64_t n = 0; n < in.n; n++)
    for (int64_t o = 0; o < cout; o++)
      for (int64_t y = 0; y < ho; y++)
        for (int64_t x = 0; x < wo; x++) {
          double acc = 0;
          int64_t g = o / cog;
          for (int64_t i = 0; i < cig; i++)
            for (int64_t ky = 0; ky < k; ky++)
              for (int64_t kx = 0; kx < k; kx++) {
                int64_t iy = y * stride + ky - pad, ix = x * stride + kx - pad;
                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                acc += in.at(n, g * cig + i, iy, ix) * wt[((o * cig + i) * k + ky) * k + kx];
              }
          out.at(n, o, y, x) = acc;
        }
  return out;
}

// eval-mode BatchNorm from the state dict's vectors: (x - mean) / sqrt(var + eps) * w + b
Act ref_bn(Act a, const Vec& w, const Vec& b, const Vec& mean, const Vec& var) {
  for (int64_t n = 0; n < a.n; n++)
    for (int64_t c = 0; c < a.c; c++)
      for (int64_t y = 0; y < a.h; y++)
        for (int64_t x = 0; x < a.w; x++) {
          double& v = a.at(n, c, y, x);
          v = (v - mean[c]) / std::sqrt(var[c] + 1e-5) * w[c] + b[c];
        }
  return a;
}
Act relu(Act a) {
  for (double& x : a.v) x = std::max(x, 0.0);
  return a;
}

// random values for every tensor of a block, loaded into it; returns them by name
std::map<std::string, Vec> randomize(models::ResBlock& blk, uint64_t seed) {
  std::map<std::string, Vec> vals;
  std::map<std::string, Tensor> sd;
  for (auto& [n, t] : blk.named_tensors()) {
    if (n.ends_with("num_batches_tracked")) {
      sd.emplace(n, *t);
      continue;
    }
    // variances and BatchNorm scales (1-d weights) positive, the rest around 0
    bool positive = n.ends_with("running_var") || (n.ends_with("weight") && t->ndim() == 1);
    double lo = positive ? 0.5 : -0.5, hi = positive ? 1.5 : 0.5;
    Vec v = rand_vec(static_cast<size_t>(t->numel()), seed++, lo, hi);
    vals[n] = v;
    sd.emplace(n, Tensor::from_vector(v, t->shape()).cast(fg::dtypes::float32));
  }
  blk.load_state_dict(sd);
  return vals;
}

void expect_close(const Vec& got, const Vec& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 4; i++)
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
      bad++;
    }
}

TEST(ResNet, BasicBlockMatchesNaiveLoops) {
  // stride 2 and a width change: the block has a downsample; odd spatial size exercises padding
  models::ResBlock blk(BlockKind::Basic, 4, 8, 2);
  ASSERT_TRUE(blk.downsample != nullptr);
  auto v = randomize(blk, 10);
  Act x{2, 4, 7, 7, rand_vec(2 * 4 * 7 * 7, 99, -1, 1)};
  auto bn = [&](Act a, const std::string& p) {
    return ref_bn(std::move(a), v[p + ".weight"], v[p + ".bias"], v[p + ".running_mean"], v[p + ".running_var"]);
  };
  Act h = relu(bn(ref_conv(x, v["conv1.weight"], 8, 3, 2, 1, 1), "bn1"));
  h = bn(ref_conv(h, v["conv2.weight"], 8, 3, 1, 1, 1), "bn2");
  Act id = bn(ref_conv(x, v["downsample.0.weight"], 8, 1, 2, 0, 1), "downsample.1");
  for (size_t i = 0; i < h.v.size(); i++) h.v[i] = std::max(h.v[i] + id.v[i], 0.0);

  Tensor y = blk(Tensor::from_vector(x.v, {2, 4, 7, 7}).cast(fg::dtypes::float32));
  EXPECT_EQ(y.shape(), (Shape{2, 8, 4, 4}));
  expect_close(y.to_vector<double>(), h.v, 1e-4, "BasicBlock");
}

TEST(ResNet, GroupedBottleneckMatchesNaiveLoops) {
  // planes 4 -> 3x3 width 4 * 64/64 * 2 = 8 in 2 groups, output 16 channels, stride 2
  models::ResBlock blk(BlockKind::Bottleneck, 6, 4, 2, /*groups=*/2);
  auto v = randomize(blk, 30);
  Act x{1, 6, 6, 5, rand_vec(6 * 6 * 5, 7, -1, 1)};
  auto bn = [&](Act a, const std::string& p) {
    return ref_bn(std::move(a), v[p + ".weight"], v[p + ".bias"], v[p + ".running_mean"], v[p + ".running_var"]);
  };
  Act h = relu(bn(ref_conv(x, v["conv1.weight"], 8, 1, 1, 0, 1), "bn1"));
  h = relu(bn(ref_conv(h, v["conv2.weight"], 8, 3, 2, 1, 2), "bn2"));
  h = bn(ref_conv(h, v["conv3.weight"], 16, 1, 1, 0, 1), "bn3");
  Act id = bn(ref_conv(x, v["downsample.0.weight"], 16, 1, 2, 0, 1), "downsample.1");
  for (size_t i = 0; i < h.v.size(); i++) h.v[i] = std::max(h.v[i] + id.v[i], 0.0);

  Tensor y = blk(Tensor::from_vector(x.v, {1, 6, 6, 5}).cast(fg::dtypes::float32));
  EXPECT_EQ(y.shape(), (Shape{1, 16, 3, 3}));
  expect_close(y.to_vector<double>(), h.v, 1e-4, "Bottleneck");
}

TEST(ResNet, SmallInputForwardRuns) {
  Tensor::manual_seed(5);
  models::ResNet m = models::resnet18(10);
  Tensor logits = m(Tensor::rand({1, 3, 32, 32}));
  EXPECT_EQ(logits.shape(), (Shape{1, 10}));
  Vec out = logits.to_vector<double>();
  bool varied = false;
  for (double o : out) {
    EXPECT_TRUE(std::isfinite(o));
    varied |= o != out[0];
  }
  EXPECT_TRUE(varied);
  EXPECT_THROW(m(Tensor::rand({1, 4, 32, 32})), fg::Error);
}

// ---------------------------------------------------------------- safetensors round trip

TEST(ResNet, StateDictRoundTripsThroughSafetensors) {
  fs::path dir = fs::temp_directory_path() / ("fg_resnet_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "resnet18.safetensors").string();
  Tensor::manual_seed(1);
  models::ResNet a = models::resnet18(10);
  // non-default running statistics and counters, so every kind of tensor carries information
  std::map<std::string, Tensor> sd = a.state_dict();
  size_t k = 0;
  for (auto& [n, t] : sd) {
    if (n.ends_with("running_mean")) t = Tensor::full(t.shape(), 0.01 * static_cast<double>(k++));
    if (n.ends_with("num_batches_tracked")) t = Tensor::full({}, int64_t(k++), fg::dtypes::int64);
  }
  a.load_state_dict(sd);
  a.save(path);

  Tensor::manual_seed(2);
  models::ResNet b = models::resnet18(10);
  b.load(path);
  auto ta = a.named_tensors(), tb = b.named_tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); i++) {
    ASSERT_EQ(ta[i].first, tb[i].first);
    EXPECT_EQ(ta[i].second->dtype(), tb[i].second->dtype()) << ta[i].first;
    EXPECT_EQ(ta[i].second->to_vector<double>(), tb[i].second->to_vector<double>()) << ta[i].first;
  }
  // the file's names are torchvision's; a different architecture refuses it, naming a tensor
  models::ResNet c = models::resnet34(10);
  try {
    c.load(path);
    ADD_FAILURE() << "resnet34 loaded a resnet18 file";
  } catch (const fg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer1.2"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
