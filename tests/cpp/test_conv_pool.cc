// Convolutions, transposed convolutions, pools, adaptive pools and interpolation against naive loops
// written here (PyTorch's definitions), and their gradients against finite differences of those
// loops (float64). Cases are batched into few realizes: each distinct graph costs a compile.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/engine/realize.h"
#include "femtograd/tensor/autograd.h"
#include "femtograd/tensor/tensor_nn.h"

namespace {
using fg::Ints;
using fg::Shape;
using fg::Tensor;
namespace dt = fg::dtypes;
using Pads = std::vector<std::pair<int64_t, int64_t>>;
using Vec = std::vector<double>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

Vec rand_vec(int64_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(g);
  return v;
}

Tensor T(const Vec& v, const Shape& s, fg::DType d = dt::float32) { return Tensor::from_vector(v, s).cast(d); }

// spatial facts padded to 3 axes (a missing axis has size 1, kernel 1, stride 1, no padding)
struct Sp {
  int64_t n[3] = {1, 1, 1};
};
Sp sp3(const Shape& s, size_t first) {
  Sp r;
  size_t nd = s.size() - first;
  for (size_t i = 0; i < nd; i++) r.n[3 - nd + i] = s[first + i];
  return r;
}
Sp ints3(const Ints& v, size_t nd, int64_t fill) {
  Sp r;
  for (int i = 0; i < 3; i++) r.n[i] = fill;
  for (size_t i = 0; i < nd; i++) r.n[3 - nd + i] = v.size() == 1 ? v[0] : v[i];
  return r;
}
Pads pads3(const Pads& p, size_t nd) {
  Pads r(3, {0, 0});
  for (size_t i = 0; i < nd; i++) r[3 - nd + i] = p.size() == 1 ? p[0] : p[i];
  return r;
}

// ---- naive references
struct ConvCfg {
  Ints stride{1}, dilation{1};
  Pads pads{{0, 0}};
  int64_t groups = 1;
};

// x (N, C, *I), w (Cout, C/g, *K), b (Cout) or empty
Vec ref_conv(const Vec& x, const Shape& xs, const Vec& w, const Shape& ws, const Vec& b, const ConvCfg& c,
             Shape* out_shape) {
  size_t nd = ws.size() - 2;
  Sp I = sp3(xs, 2), K = sp3(ws, 2), S = ints3(c.stride, nd, 1), D = ints3(c.dilation, nd, 1);
  Pads P = pads3(c.pads, nd);
  int64_t N = xs[0], C = xs[1], CO = ws[0], CG = ws[1], G = c.groups, COG = CO / G;
  Sp O;
  for (int a = 0; a < 3; a++) O.n[a] = (I.n[a] + P[a].first + P[a].second - D.n[a] * (K.n[a] - 1) - 1) / S.n[a] + 1;
  *out_shape = {N, CO};
  for (size_t i = 0; i < nd; i++) out_shape->push_back(O.n[3 - nd + i]);
  Vec out(numel(*out_shape), 0.0);
  for (int64_t n = 0; n < N; n++)
    for (int64_t co = 0; co < CO; co++)
      for (int64_t o0 = 0; o0 < O.n[0]; o0++)
        for (int64_t o1 = 0; o1 < O.n[1]; o1++)
          for (int64_t o2 = 0; o2 < O.n[2]; o2++) {
            double acc = b.empty() ? 0.0 : b[co];
            int64_t g = co / COG;
            for (int64_t ci = 0; ci < CG; ci++)
              for (int64_t k0 = 0; k0 < K.n[0]; k0++)
                for (int64_t k1 = 0; k1 < K.n[1]; k1++)
                  for (int64_t k2 = 0; k2 < K.n[2]; k2++) {
                    int64_t i0 = o0 * S.n[0] + k0 * D.n[0] - P[0].first;
                    int64_t i1 = o1 * S.n[1] + k1 * D.n[1] - P[1].first;
                    int64_t i2 = o2 * S.n[2] + k2 * D.n[2] - P[2].first;
                    if (i0 < 0 || i0 >= I.n[0] || i1 < 0 || i1 >= I.n[1] || i2 < 0 || i2 >= I.n[2]) continue;
                    int64_t c_in = g * CG + ci;
                    double xv = x[(((n * C + c_in) * I.n[0] + i0) * I.n[1] + i1) * I.n[2] + i2];
                    double wv = w[(((co * CG + ci) * K.n[0] + k0) * K.n[1] + k1) * K.n[2] + k2];
                    acc += xv * wv;
                  }
            out[(((n * CO + co) * O.n[0] + o0) * O.n[1] + o1) * O.n[2] + o2] = acc;
          }
  (void)C;
  return out;
}

struct ConvTCfg {
  Ints stride{1}, padding{0}, output_padding{0}, dilation{1};
  int64_t groups = 1;
};
// x (N, Cin, *I), w (Cin, Cout/g, *K): every input scatters into the output
Vec ref_conv_t(const Vec& x, const Shape& xs, const Vec& w, const Shape& ws, const Vec& b, const ConvTCfg& c,
               Shape* out_shape) {
  size_t nd = ws.size() - 2;
  Sp I = sp3(xs, 2), K = sp3(ws, 2), S = ints3(c.stride, nd, 1), D = ints3(c.dilation, nd, 1);
  Sp P = ints3(c.padding, nd, 0), OP = ints3(c.output_padding, nd, 0);
  int64_t N = xs[0], CI = xs[1], G = c.groups, CIG = CI / G, COG = ws[1], CO = COG * G;
  Sp O;
  for (int a = 0; a < 3; a++)
    O.n[a] = (I.n[a] - 1) * S.n[a] - 2 * P.n[a] + D.n[a] * (K.n[a] - 1) + OP.n[a] + 1;
  *out_shape = {N, CO};
  for (size_t i = 0; i < nd; i++) out_shape->push_back(O.n[3 - nd + i]);
  Vec out(numel(*out_shape), 0.0);
  for (int64_t n = 0; n < N; n++)
    for (int64_t co = 0; co < CO; co++)
      for (int64_t o = 0; o < O.n[0] * O.n[1] * O.n[2]; o++)
        out[(n * CO + co) * O.n[0] * O.n[1] * O.n[2] + o] = b.empty() ? 0.0 : b[co];
  for (int64_t n = 0; n < N; n++)
    for (int64_t ci = 0; ci < CI; ci++)
      for (int64_t i0 = 0; i0 < I.n[0]; i0++)
        for (int64_t i1 = 0; i1 < I.n[1]; i1++)
          for (int64_t i2 = 0; i2 < I.n[2]; i2++) {
            double xv = x[(((n * CI + ci) * I.n[0] + i0) * I.n[1] + i1) * I.n[2] + i2];
            int64_t g = ci / CIG;
            for (int64_t cog = 0; cog < COG; cog++)
              for (int64_t k0 = 0; k0 < K.n[0]; k0++)
                for (int64_t k1 = 0; k1 < K.n[1]; k1++)
                  for (int64_t k2 = 0; k2 < K.n[2]; k2++) {
                    int64_t y0 = i0 * S.n[0] - P.n[0] + k0 * D.n[0];
                    int64_t y1 = i1 * S.n[1] - P.n[1] + k1 * D.n[1];
                    int64_t y2 = i2 * S.n[2] - P.n[2] + k2 * D.n[2];
                    if (y0 < 0 || y0 >= O.n[0] || y1 < 0 || y1 >= O.n[1] || y2 < 0 || y2 >= O.n[2]) continue;
                    double wv = w[(((ci * COG + cog) * K.n[0] + k0) * K.n[1] + k1) * K.n[2] + k2];
                    int64_t co = g * COG + cog;
                    out[(((n * CO + co) * O.n[0] + y0) * O.n[1] + y1) * O.n[2] + y2] += xv * wv;
                  }
          }
  return out;
}

struct PoolCfg {
  Ints kernel, stride, dilation{1};
  Pads pads{{0, 0}};
  bool ceil_mode = false, count_include_pad = true;
};
// PyTorch's output size: floor or ceil, and with ceil the last window must start before the input ends
int64_t pool_out(int64_t i, int64_t pb, int64_t pa, int64_t k, int64_t s, int64_t d, bool ceil_mode) {
  int64_t span = i + pb + pa - d * (k - 1) - 1;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (o - 1) * s >= i + pb) o--;
  return o;
}
// max (is_max) or average over the last nd axes of x (any leading axes)
Vec ref_pool(const Vec& x, const Shape& xs, size_t nd, const PoolCfg& c, bool is_max, Shape* out_shape) {
  Shape lead(xs.begin(), xs.end() - nd);
  Sp I = sp3(Shape(xs.end() - nd, xs.end()), 0), K = ints3(c.kernel, nd, 1);
  Sp S = ints3(c.stride.empty() ? c.kernel : c.stride, nd, 1), D = ints3(c.dilation, nd, 1);
  Pads P = pads3(c.pads, nd);
  Sp O;
  for (int a = 0; a < 3; a++) O.n[a] = pool_out(I.n[a], P[a].first, P[a].second, K.n[a], S.n[a], D.n[a], c.ceil_mode);
  *out_shape = lead;
  for (size_t i = 0; i < nd; i++) out_shape->push_back(O.n[3 - nd + i]);
  int64_t L = numel(lead), isz = I.n[0] * I.n[1] * I.n[2];
  Vec out;
  for (int64_t l = 0; l < L; l++)
    for (int64_t o0 = 0; o0 < O.n[0]; o0++)
      for (int64_t o1 = 0; o1 < O.n[1]; o1++)
        for (int64_t o2 = 0; o2 < O.n[2]; o2++) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t cnt_all = 1, cnt_in = 0;
          int64_t oo[3] = {o0, o1, o2};
          for (int a = 0; a < 3; a++) {  // positions inside [-pb, i + pa): PyTorch's divisor with padding
            int64_t n = 0;
            for (int64_t k = 0; k < K.n[a]; k++) {
              int64_t p = oo[a] * S.n[a] + k * D.n[a] - P[a].first;
              n += p < I.n[a] + P[a].second;
            }
            cnt_all *= n;
          }
          for (int64_t k0 = 0; k0 < K.n[0]; k0++)
            for (int64_t k1 = 0; k1 < K.n[1]; k1++)
              for (int64_t k2 = 0; k2 < K.n[2]; k2++) {
                int64_t i0 = o0 * S.n[0] + k0 * D.n[0] - P[0].first;
                int64_t i1 = o1 * S.n[1] + k1 * D.n[1] - P[1].first;
                int64_t i2 = o2 * S.n[2] + k2 * D.n[2] - P[2].first;
                if (i0 < 0 || i0 >= I.n[0] || i1 < 0 || i1 >= I.n[1] || i2 < 0 || i2 >= I.n[2]) continue;
                double v = x[l * isz + (i0 * I.n[1] + i1) * I.n[2] + i2];
                cnt_in++;
                acc = is_max ? std::max(acc, v) : acc + v;
              }
          out.push_back(is_max ? acc : acc / static_cast<double>(c.count_include_pad ? cnt_all : cnt_in));
        }
  return out;
}

// adaptive pools and interpolation act axis by axis: out[o] from the input along one axis
Vec ref_axis(const Vec& x, const Shape& xs, size_t ax, int64_t O,
             const std::function<double(const std::function<double(int64_t)>&, int64_t)>& f, Shape* out_shape) {
  Shape os = xs;
  os[ax] = O;
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < ax; i++) outer *= xs[i];
  for (size_t i = ax + 1; i < xs.size(); i++) inner *= xs[i];
  int64_t I = xs[ax];
  Vec out(numel(os));
  for (int64_t a = 0; a < outer; a++)
    for (int64_t o = 0; o < O; o++)
      for (int64_t b = 0; b < inner; b++)
        out[(a * O + o) * inner + b] = f([&](int64_t i) { return x[(a * I + i) * inner + b]; }, o);
  *out_shape = os;
  return out;
}

Vec ref_adaptive(Vec x, Shape xs, const Ints& size, bool is_max, Shape* out_shape) {
  size_t nd = size.size();
  for (size_t i = 0; i < nd; i++) {
    size_t ax = xs.size() - nd + i;
    int64_t I = xs[ax], O = size[i];
    x = ref_axis(x, xs, ax, O, [&](const std::function<double(int64_t)>& at, int64_t o) {
      int64_t s = o * I / O, e = ((o + 1) * I + O - 1) / O;
      double acc = is_max ? -INFINITY : 0.0;
      for (int64_t j = s; j < e; j++) acc = is_max ? std::max(acc, at(j)) : acc + at(j);
      return is_max ? acc : acc / static_cast<double>(e - s);
    }, &xs);
  }
  *out_shape = xs;
  return x;
}

Vec ref_interp(Vec x, Shape xs, const Ints& size, fg::InterpMode mode, bool align, Shape* out_shape) {
  size_t nd = size.size();
  for (size_t i = 0; i < nd; i++) {
    size_t ax = xs.size() - nd + i;
    int64_t I = xs[ax], O = size[i];
    x = ref_axis(x, xs, ax, O, [&](const std::function<double(int64_t)>& at, int64_t o) {
      if (mode == fg::InterpMode::Nearest) return at(std::min<int64_t>(o * I / O, I - 1));
      if (mode == fg::InterpMode::NearestExact) return at(std::min<int64_t>((2 * o + 1) * I / (2 * O), I - 1));
      double src = align ? (O > 1 ? double(o) * (I - 1) / (O - 1) : 0.0) : std::max(0.0, (o + 0.5) * I / O - 0.5);
      int64_t lo = std::min<int64_t>(int64_t(std::floor(src)), I - 1), hi = std::min<int64_t>(lo + 1, I - 1);
      double l = src - lo;
      return at(lo) * (1 - l) + at(hi) * l;
    }, &xs);
  }
  *out_shape = xs;
  return x;
}

// ---- checking many results with one realize
struct Check {
  std::string name;
  Tensor t;
  Vec want;
  Shape shape;
  double tol;
};
struct Batch {
  std::vector<Check> cs;
  void add(std::string name, Tensor t, Vec want, Shape shape, double tol = 1e-4) {
    cs.push_back({std::move(name), std::move(t), std::move(want), std::move(shape), tol});
  }
  void run() {
    std::vector<Tensor*> ts;
    for (auto& c : cs) ts.push_back(&c.t);
    Tensor::realize_all(ts);
    for (auto& c : cs) {
      ASSERT_EQ(c.t.shape(), c.shape) << c.name;
      std::vector<double> got = c.t.to_vector<double>();
      ASSERT_EQ(got.size(), c.want.size()) << c.name;
      int bad = 0;
      for (size_t i = 0; i < got.size() && bad < 5; i++) {
        bool ok = (std::isinf(c.want[i]) && got[i] == c.want[i]) ||
                  std::abs(got[i] - c.want[i]) <= c.tol * (1 + std::abs(c.want[i]));
        if (!ok) {
          ADD_FAILURE() << c.name << ": element " << i << " is " << got[i] << ", expected " << c.want[i];
          bad++;
        }
      }
    }
    cs.clear();
  }
};

// central finite differences of a host function's weighted sum, for every input element
Vec fd_grad(const std::function<Vec(const Vec&)>& f, Vec x, const Vec& weights, double eps = 1e-6) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); i++) {
    double old = x[i];
    x[i] = old + eps;
    Vec a = f(x);
    x[i] = old - eps;
    Vec b = f(x);
    x[i] = old;
    double s = 0;
    for (size_t j = 0; j < a.size(); j++) s += (a[j] - b[j]) * weights[j];
    g[i] = s / (2 * eps);
  }
  return g;
}

// ================================================================ convolutions

TEST(ConvPool, ConvForwardModes) {
  Batch B;
  struct Case {
    std::string name;
    Shape xs, ws;
    bool bias;
    ConvCfg ref;
    fg::ConvOpts opts;
  };
  std::vector<Case> cases = {
      {"conv1d groups stride pad dilation", {2, 4, 11}, {6, 2, 3}, true, {{2}, {2}, {{1, 1}}, 2}, {{2}, 1, {2}, 2}},
      {"conv1d same even kernel", {1, 3, 9}, {2, 3, 4}, false, {{1}, {1}, {{1, 2}}, 1}, {{1}, "same", {1}, 1}},
      {"conv1d same dilated", {1, 2, 10}, {3, 2, 3}, true, {{1}, {3}, {{3, 3}}, 1}, {{1}, "same", {3}, 1}},
      {"conv2d pad 1", {2, 3, 7, 9}, {4, 3, 3, 3}, true, {{1}, {1}, {{1, 1}}, 1}, {{1}, 1, {1}, 1}},
      {"conv2d stride per-side pads dilation",
       {1, 2, 9, 10}, {3, 2, 3, 2}, false,
       {{2, 3}, {2, 1}, {{1, 0}, {2, 1}}, 1},
       {{2, 3}, fg::Padding({{1, 0}, {2, 1}}), {2, 1}, 1}},
      {"conv2d depthwise groups same dilated", {1, 6, 8, 7}, {6, 1, 3, 2}, true,
       {{1}, {2}, {{2, 2}, {1, 1}}, 6}, {{1}, "same", {2}, 6}},
      {"conv2d groups 3", {2, 6, 5, 6}, {9, 2, 2, 3}, true, {{1, 2}, {1}, {{0, 0}, {1, 1}}, 3},
       {{1, 2}, {0, 1}, {1}, 3}},
      {"conv2d 1x1 stride 2", {1, 3, 7, 8}, {5, 3, 1, 1}, true, {{2}, {1}, {{0, 0}}, 1}, {{2}, 0, {1}, 1}},
      {"conv2d 2x2 stride 2", {2, 2, 8, 7}, {3, 2, 2, 2}, false, {{2}, {1}, {{0, 0}}, 1}, {{2}, 0, {1}, 1}},
      {"conv2d 3x3 stride 3 pad 1", {1, 2, 10, 11}, {2, 2, 3, 3}, false, {{3}, {1}, {{1, 1}}, 1}, {{3}, 1, {1}, 1}},
      {"conv2d same stride 2", {1, 1, 7, 8}, {2, 1, 3, 3}, false, {{2}, {1}, {{1, 1}, {0, 1}}, 1},
       {{2}, "same", {1}, 1}},
      {"conv2d valid", {1, 2, 6, 5}, {2, 2, 3, 2}, true, {{1}, {1}, {{0, 0}}, 1}, {{1}, "valid", {1}, 1}},
      {"conv3d", {1, 2, 5, 6, 4}, {3, 2, 2, 3, 2}, true, {{1, 2, 1}, {1, 1, 2}, {{1, 1}, {0, 0}, {1, 1}}, 1},
       {{1, 2, 1}, {1, 0, 1}, {1, 1, 2}, 1}},
      {"conv3d groups stride 2", {2, 4, 5, 5, 5}, {2, 2, 3, 3, 3}, false, {{2}, {1}, {{1, 1}}, 2}, {{2}, 1, {1}, 2}},
  };
  uint64_t seed = 1;
  for (auto& c : cases) {
    Vec x = rand_vec(numel(c.xs), seed++), w = rand_vec(numel(c.ws), seed++), b;
    std::optional<Tensor> bt;
    if (c.bias) {
      b = rand_vec(c.ws[0], seed++);
      bt = T(b, {c.ws[0]});
    }
    Shape os;
    Vec want = ref_conv(x, c.xs, w, c.ws, b, c.ref, &os);
    B.add(c.name, fg::conv(T(x, c.xs), T(w, c.ws), bt, c.opts), want, os);
  }
  // unbatched input (C, H, W)
  {
    Vec x = rand_vec(3 * 6 * 5, 91), w = rand_vec(2 * 3 * 3 * 3, 92);
    Shape os;
    Vec want = ref_conv(x, {1, 3, 6, 5}, w, {2, 3, 3, 3}, {}, {{1}, {1}, {{1, 1}}, 1}, &os);
    B.add("conv2d unbatched", fg::conv2d(T(x, {3, 6, 5}), T(w, {2, 3, 3, 3}), {}, {.padding = 1}), want,
          {2, os[2], os[3]});
  }
  B.run();
}

TEST(ConvPool, ConvTransposeForward) {
  Batch B;
  struct Case {
    std::string name;
    Shape xs, ws;
    bool bias;
    ConvTCfg c;
  };
  std::vector<Case> cases = {
      {"conv_transpose1d stride pad output_padding", {2, 4, 5}, {4, 3, 3}, true, {{2}, {1}, {1}, {1}, 1}},
      {"conv_transpose1d dilation groups", {1, 4, 6}, {4, 1, 3}, false, {{1}, {0}, {0}, {2}, 2}},
      {"conv_transpose2d groups stride dilation", {1, 4, 4, 5}, {4, 2, 3, 2}, true, {{2, 1}, {1, 0}, {0}, {1, 2}, 2}},
      {"conv_transpose2d stride 2 k 4 pad 1", {2, 3, 3, 4}, {3, 2, 4, 4}, true, {{2}, {1}, {0}, {1}, 1}},
      {"conv_transpose2d padding beyond kernel", {1, 2, 5, 5}, {2, 2, 2, 2}, false, {{3}, {2}, {1}, {1}, 1}},
      {"conv_transpose3d stride 2", {1, 2, 3, 3, 2}, {2, 2, 2, 2, 3}, true, {{2}, {0}, {1, 0, 1}, {1}, 1}},
  };
  uint64_t seed = 100;
  for (auto& c : cases) {
    Vec x = rand_vec(numel(c.xs), seed++), w = rand_vec(numel(c.ws), seed++), b;
    std::optional<Tensor> bt;
    int64_t cout = c.ws[1] * c.c.groups;
    if (c.bias) {
      b = rand_vec(cout, seed++);
      bt = T(b, {cout});
    }
    Shape os;
    Vec want = ref_conv_t(x, c.xs, w, c.ws, b, c.c, &os);
    fg::ConvTransposeOpts o{c.c.stride, c.c.padding, c.c.output_padding, c.c.dilation, c.c.groups};
    B.add(c.name, fg::conv_transpose(T(x, c.xs), T(w, c.ws), bt, o), want, os);
  }
  B.run();
}

// ================================================================ pools

TEST(ConvPool, PoolForwardModes) {
  Batch B;
  struct Case {
    std::string name;
    Shape xs;
    bool is_max;
    size_t nd;
    PoolCfg c;
  };
  std::vector<Case> cases;
  for (bool ceil : {false, true}) {
    std::string cs = ceil ? " ceil" : "";
    cases.push_back({"max_pool2d k3 s2 p1" + cs, {2, 3, 9, 8}, true, 2, {{3}, {2}, {1}, {{1, 1}}, ceil}});
    cases.push_back({"max_pool1d k4 s3 d2" + cs, {2, 2, 14}, true, 1, {{4}, {3}, {2}, {{0, 0}}, ceil}});
    cases.push_back({"max_pool1d k2" + cs, {1, 3, 7}, true, 1, {{2}, {}, {1}, {{0, 0}}, ceil}});
    cases.push_back({"max_pool3d" + cs, {1, 2, 5, 7, 4}, true, 3,
                     {{2, 3, 2}, {2, 2, 1}, {1}, {{1, 1}, {1, 1}, {0, 0}}, ceil}});
    cases.push_back({"max_pool2d dilated" + cs, {1, 1, 10, 9}, true, 2, {{3, 2}, {2}, {2, 3}, {{1, 1}, {0, 0}}, ceil}});
    for (bool cip : {true, false}) {
      std::string n = cs + (cip ? " count_include_pad" : " exclude_pad");
      cases.push_back({"avg_pool2d k3 s2 p1" + n, {1, 2, 8, 9}, false, 2, {{3}, {2}, {1}, {{1, 1}}, ceil, cip}});
      cases.push_back({"avg_pool1d k4 s3 p2" + n, {2, 1, 11}, false, 1, {{4}, {3}, {1}, {{2, 2}}, ceil, cip}});
      cases.push_back({"avg_pool2d k2 s2" + n, {1, 3, 7, 5}, false, 2, {{2}, {}, {1}, {{0, 0}}, ceil, cip}});
      cases.push_back({"avg_pool3d k(2,2,3) p1" + n, {1, 1, 5, 6, 7}, false, 3,
                       {{2, 2, 3}, {2, 1, 2}, {1}, {{1, 1}, {0, 0}, {1, 1}}, ceil, cip}});
      cases.push_back({"avg_pool2d k3 s1 p(1,0)|(0,1)" + n, {1, 1, 6, 6}, false, 2,
                       {{3}, {1}, {1}, {{1, 0}, {0, 1}}, ceil, cip}});
      cases.push_back({"avg_pool2d k(3,2) s(1,3) p(1,1)|(1,0) dilated" + n, {1, 2, 7, 8}, false, 2,
                       {{3, 2}, {1, 3}, {2, 1}, {{1, 1}, {1, 0}}, ceil, cip}});
    }
  }
  uint64_t seed = 200;
  for (auto& c : cases) {
    Vec x = rand_vec(numel(c.xs), seed++, -2, -0.5);  // all negative: a max over padding must not see 0
    if (c.c.kernel.size() == 1) c.c.kernel = Ints(c.nd, c.c.kernel[0]);
    Shape os;
    Vec want = ref_pool(x, c.xs, c.nd, c.c, c.is_max, &os);
    fg::PoolOpts o;
    if (!c.c.stride.empty()) o.stride = c.c.stride;
    o.padding = fg::Padding(c.c.pads);
    o.dilation = c.c.dilation;
    o.ceil_mode = c.c.ceil_mode;
    o.count_include_pad = c.c.count_include_pad;
    Tensor x_t = T(x, c.xs);
    B.add(c.name, c.is_max ? fg::max_pool(x_t, c.c.kernel, o) : fg::avg_pool(x_t, c.c.kernel, o), want, os);
  }
  // the named wrappers: 2-d pool with one kernel value, PyTorch's symmetric int padding
  {
    Vec x = rand_vec(2 * 5 * 6, 299);
    Shape os;
    Vec want = ref_pool(x, {2, 5, 6}, 2, {{2}, {1}, {1}, {{1, 1}}, false, true}, true, &os);
    B.add("max_pool2d unbatched", fg::max_pool2d(T(x, {2, 5, 6}), {2}, {.stride = Ints{1}, .padding = 1}), want, os);
  }
  B.run();
}

// The case that once broke tinygrad's view merging: kernel 8^3, stride 5, padding 1 on a 40^3 input
// (the windows overlap and the padded input is not a multiple of the stride).
TEST(ConvPool, AvgPool3dLargeKernelStride5Pad1) {
  Batch B;
  Shape xs{1, 1, 40, 40, 40};
  Vec x = rand_vec(numel(xs), 7);
  for (bool cip : {true, false}) {
    PoolCfg c{{8}, {5}, {1}, {{1, 1}}, false, cip};
    Shape os;
    Vec want = ref_pool(x, xs, 3, c, false, &os);
    ASSERT_EQ(os, (Shape{1, 1, 7, 7, 7}));
    fg::PoolOpts o{.stride = Ints{5}, .padding = 1, .count_include_pad = cip};
    B.add(cip ? "avg_pool3d 8/5/1" : "avg_pool3d 8/5/1 exclude pad", fg::avg_pool3d(T(x, xs), {8}, o), want, os);
  }
  B.run();
}

TEST(ConvPool, AdaptivePoolsAndInterpolate) {
  Batch B;
  struct A {
    Shape xs;
    Ints size;
  };
  uint64_t seed = 300;
  for (A a : {A{{1, 2, 7, 10}, {3, 4}}, A{{1, 2, 8, 8}, {4, 2}}, A{{2, 3, 10}, {5}}, A{{2, 3, 10}, {3}},
              A{{1, 1, 5, 6}, {1, 1}}, A{{1, 1, 4, 5, 6}, {3, 2, 4}}}) {
    Vec x = rand_vec(numel(a.xs), seed++);
    for (bool mx : {false, true}) {
      Shape os;
      Vec want = ref_adaptive(x, a.xs, a.size, mx, &os);
      Tensor xt = T(x, a.xs);
      B.add(std::string(mx ? "adaptive_max " : "adaptive_avg ") + fg::shape_str(a.xs) + "->" + fg::shape_str(a.size),
            mx ? fg::adaptive_max_pool(xt, a.size) : fg::adaptive_avg_pool(xt, a.size), want, os);
    }
  }
  using M = fg::InterpMode;
  struct I {
    Shape xs;
    Ints size;
    M mode;
    bool align;
  };
  for (I c : {I{{1, 2, 4, 5}, {7, 10}, M::Nearest, false}, I{{1, 2, 4, 5}, {8, 10}, M::Nearest, false},
              I{{1, 1, 9, 7}, {4, 3}, M::Nearest, false}, I{{1, 2, 5, 4}, {7, 9}, M::NearestExact, false},
              I{{2, 1, 5}, {8}, M::Linear, false}, I{{2, 1, 5}, {8}, M::Linear, true},
              I{{1, 2, 3, 4}, {5, 7}, M::Linear, false}, I{{1, 2, 3, 4}, {5, 7}, M::Linear, true},
              I{{1, 1, 8, 6}, {3, 4}, M::Linear, false}, I{{1, 1, 3, 4, 2}, {4, 2, 3}, M::Linear, false}}) {
    Vec x = rand_vec(numel(c.xs), seed++);
    Shape os;
    Vec want = ref_interp(x, c.xs, c.size, c.mode, c.align, &os);
    B.add("interpolate " + fg::shape_str(c.xs) + "->" + fg::shape_str(c.size) + " mode " +
              std::to_string(int(c.mode)) + (c.align ? " align" : ""),
          fg::interpolate(T(x, c.xs), c.size, c.mode, c.align), want, os);
  }
  B.run();
}

// ================================================================ gradients (float64)

// Autograd's gradient of sum(f(inputs) * R) for every input, against central differences of the
// naive reference (whose forward values the tests above check against femtograd's).
void check_grads(const std::string& name, const std::vector<Shape>& shapes,
                 const std::function<Tensor(const std::vector<Tensor>&)>& fg_fn,
                 const std::function<Vec(const std::vector<Vec>&)>& ref_fn, uint64_t seed) {
  std::vector<Vec> xs;
  std::vector<Tensor> ts;
  for (const Shape& s : shapes) {
    xs.push_back(rand_vec(numel(s), seed++));
    ts.push_back(Tensor::from_vector(xs.back(), s));
  }
  Vec out = ref_fn(xs);
  Vec R = rand_vec(out.size(), seed++);
  Tensor y = fg_fn(ts);
  ASSERT_EQ(numel(y.shape()), static_cast<int64_t>(out.size())) << name;
  Tensor loss = y.mul(Tensor::from_vector(R, y.shape())).sum();
  std::vector<Tensor> grads = loss.gradient(ts);
  std::vector<Tensor*> ptrs;
  for (auto& g : grads) ptrs.push_back(&g);
  Tensor::realize_all(ptrs);
  for (size_t k = 0; k < xs.size(); k++) {
    Vec want = fd_grad([&](const Vec& v) {
      std::vector<Vec> in = xs;
      in[k] = v;
      return ref_fn(in);
    }, xs[k], R);
    std::vector<double> got = grads[k].to_vector<double>();
    ASSERT_EQ(got.size(), want.size());
    int bad = 0;
    for (size_t i = 0; i < got.size() && bad < 5; i++)
      if (std::abs(got[i] - want[i]) > 1e-6 * (1 + std::abs(want[i]))) {
        ADD_FAILURE() << name << ": d/d input " << k << " element " << i << " is " << got[i] << ", expected "
                      << want[i];
        bad++;
      }
  }
}

TEST(ConvPool, ConvGradients) {
  {
    ConvCfg c{{2}, {1}, {{1, 1}}, 2};
    check_grads("conv2d stride 2 pad 1 groups 2", {{2, 4, 5, 6}, {4, 2, 3, 3}, {4}},
                [](const std::vector<Tensor>& t) {
                  return fg::conv2d(t[0], t[1], t[2], {.stride = Ints{2}, .padding = 1, .groups = 2});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_conv(v[0], {2, 4, 5, 6}, v[1], {4, 2, 3, 3}, v[2], c, &os);
                },
                10);
  }
  {
    ConvCfg c{{1}, {2}, {{2, 2}}, 1};
    check_grads("conv1d same dilation 2", {{1, 2, 9}, {3, 2, 3}},
                [](const std::vector<Tensor>& t) {
                  return fg::conv1d(t[0], t[1], {}, {.padding = "same", .dilation = Ints{2}});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_conv(v[0], {1, 2, 9}, v[1], {3, 2, 3}, {}, c, &os);
                },
                20);
  }
  {
    ConvTCfg c{{2}, {1}, {1}, {1}, 1};
    check_grads("conv_transpose2d stride 2", {{1, 2, 3, 4}, {2, 3, 3, 3}, {3}},
                [](const std::vector<Tensor>& t) {
                  return fg::conv_transpose2d(t[0], t[1], t[2],
                                              {.stride = Ints{2}, .padding = Ints{1}, .output_padding = Ints{1}});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_conv_t(v[0], {1, 2, 3, 4}, v[1], {2, 3, 3, 3}, v[2], c, &os);
                },
                30);
  }
}

TEST(ConvPool, ConvGradientsGroupsDilation3d) {
  {
    ConvCfg c{{1, 2}, {2, 1}, {{2, 1}, {0, 1}}, 3};
    check_grads("conv2d groups 3 dilation (2,1) per-side pads", {{1, 6, 6, 5}, {3, 2, 2, 3}, {3}},
                [](const std::vector<Tensor>& t) {
                  return fg::conv2d(t[0], t[1], t[2],
                                    {.stride = Ints{1, 2}, .padding = fg::Padding({{2, 1}, {0, 1}}),
                                     .dilation = Ints{2, 1}, .groups = 3});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_conv(v[0], {1, 6, 6, 5}, v[1], {3, 2, 2, 3}, v[2], c, &os);
                },
                110);
  }
  {
    ConvCfg c{{2, 1, 1}, {1}, {{1, 1}, {0, 0}, {1, 1}}, 1};
    check_grads("conv3d", {{1, 2, 4, 3, 4}, {2, 2, 2, 2, 3}},
                [](const std::vector<Tensor>& t) {
                  return fg::conv3d(t[0], t[1], {}, {.stride = Ints{2, 1, 1}, .padding = {1, 0, 1}});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_conv(v[0], {1, 2, 4, 3, 4}, v[1], {2, 2, 2, 2, 3}, {}, c, &os);
                },
                120);
  }
  check_grads("adaptive_max_pool2d (2, 3)", {{1, 2, 5, 7}},
              [](const std::vector<Tensor>& t) { return fg::adaptive_max_pool2d(t[0], {2, 3}); },
              [&](const std::vector<Vec>& v) {
                Shape os;
                return ref_adaptive(v[0], {1, 2, 5, 7}, {2, 3}, true, &os);
              },
              130);
  {
    PoolCfg c{{3}, {2}, {2}, {{0, 0}}, true, true};
    check_grads("max_pool1d dilation 2 ceil", {{2, 1, 12}},
                [](const std::vector<Tensor>& t) {
                  return fg::max_pool1d(t[0], {3}, {.stride = Ints{2}, .dilation = Ints{2}, .ceil_mode = true});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_pool(v[0], {2, 1, 12}, 1, c, true, &os);
                },
                140);
  }
}

TEST(ConvPool, PoolGradients) {
  {
    PoolCfg c{{3}, {2}, {1}, {{1, 1}}, true, true};
    check_grads("max_pool2d k3 s2 p1 ceil", {{1, 2, 7, 6}},
                [](const std::vector<Tensor>& t) {
                  return fg::max_pool2d(t[0], {3}, {.stride = Ints{2}, .padding = 1, .ceil_mode = true});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_pool(v[0], {1, 2, 7, 6}, 2, c, true, &os);
                },
                40);
  }
  {
    PoolCfg c{{3}, {2}, {1}, {{1, 1}}, true, false};
    check_grads("avg_pool2d k3 s2 p1 ceil exclude pad", {{1, 1, 7, 8}},
                [](const std::vector<Tensor>& t) {
                  return fg::avg_pool2d(t[0], {3},
                                        {.stride = Ints{2}, .padding = 1, .ceil_mode = true, .count_include_pad = false});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_pool(v[0], {1, 1, 7, 8}, 2, c, false, &os);
                },
                50);
  }
  {
    PoolCfg c{{2, 3, 2}, {1, 2, 2}, {1}, {{0, 0}, {1, 1}, {0, 0}}, false, true};
    check_grads("avg_pool3d", {{1, 1, 3, 5, 4}},
                [](const std::vector<Tensor>& t) {
                  return fg::avg_pool3d(t[0], {2, 3, 2}, {.stride = Ints{1, 2, 2}, .padding = {0, 1, 0}});
                },
                [&](const std::vector<Vec>& v) {
                  Shape os;
                  return ref_pool(v[0], {1, 1, 3, 5, 4}, 3, c, false, &os);
                },
                60);
  }
  check_grads("adaptive_avg_pool2d (3, 2)", {{1, 2, 7, 5}},
              [](const std::vector<Tensor>& t) { return fg::adaptive_avg_pool2d(t[0], {3, 2}); },
              [&](const std::vector<Vec>& v) {
                Shape os;
                return ref_adaptive(v[0], {1, 2, 7, 5}, {3, 2}, false, &os);
              },
              70);
  check_grads("interpolate bilinear", {{1, 1, 3, 4}},
              [](const std::vector<Tensor>& t) { return fg::interpolate(t[0], {5, 6}, fg::InterpMode::Linear); },
              [&](const std::vector<Vec>& v) {
                Shape os;
                return ref_interp(v[0], {1, 1, 3, 4}, {5, 6}, fg::InterpMode::Linear, false, &os);
              },
              80);
}

// A few finite differences of femtograd's own conv (not the reference): perturb single inputs.
TEST(ConvPool, ConvGradientMatchesOwnFiniteDifferences) {
  Shape xs{1, 2, 5, 5}, ws{2, 2, 3, 3};
  Vec x = rand_vec(numel(xs), 90), w = rand_vec(numel(ws), 91);
  auto loss_of = [&](const Vec& xv) {
    return fg::conv2d(Tensor::from_vector(xv, xs), Tensor::from_vector(w, ws), {}, {.stride = Ints{2}, .padding = 1})
        .square()
        .sum();
  };
  Tensor xt = Tensor::from_vector(x, xs);
  Tensor l = fg::conv2d(xt, Tensor::from_vector(w, ws), {}, {.stride = Ints{2}, .padding = 1}).square().sum();
  std::vector<double> g = l.gradient({xt})[0].to_vector<double>();
  for (size_t i : {0ul, 7ul, 24ul, 31ul, 49ul}) {
    Vec a = x, b = x;
    a[i] += 1e-6;
    b[i] -= 1e-6;
    double fd = (loss_of(a).item() - loss_of(b).item()) / 2e-6;
    EXPECT_NEAR(g[i], fd, 1e-6 * (1 + std::abs(fd))) << "element " << i;
  }
}

// DISABLED: a scheduler problem (schedule/schedule.cc), not wrong numbers. A reduce whose value is
// read by two kernels through an elementwise op (conv + bias, or matmul + 1, read by a mean and by
// an elementwise op: BatchNorm after a conv) is not stored: every reader recomputes the whole reduce.
// In a conv net's training step the conv is recomputed by BatchNorm's mean, its variance, the
// normalization and several backward kernels (tens of seconds per step at batch 64 for the
// beautiful_mnist network). Minimal form: y = x.matmul(w).add(1); y.sub(y.mean({0})).realize() runs
// the matmul twice. Expected: the value is stored once and read by both.
TEST(ConvPool, ConvOutputReadTwiceIsComputedOnce) {
  Tensor x = Tensor::rand({2, 4, 12, 12}), w = Tensor::rand({8, 4, 3, 3});
  x.realize();
  w.realize();
  Tensor y = fg::conv2d(x, w).add(1.0);
  Tensor z = y.sub(y.mean({0, 2, 3}, true));
  int64_t before = fg::GlobalCounters::get().global_ops;
  z.realize();
  double ops = static_cast<double>(fg::GlobalCounters::get().global_ops - before);
  double conv_flops = 2.0 * 2 * 8 * 10 * 10 * 4 * 9;
  EXPECT_LT(ops, 1.5 * conv_flops) << "the conv ran more than once";
}

TEST(ConvPool, Errors) {
  Tensor x = Tensor::zeros({1, 3, 5, 5}), w = Tensor::zeros({4, 3, 3, 3});
  EXPECT_THROW(fg::conv2d(x, Tensor::zeros({4, 2, 3, 3})), fg::Error);              // channels
  EXPECT_THROW(fg::conv2d(x, w, Tensor::zeros({3})), fg::Error);                    // bias size
  EXPECT_THROW(fg::conv2d(x, w, {}, {.groups = 2}), fg::Error);                     // groups
  EXPECT_THROW(fg::conv2d(x, Tensor::zeros({4, 3, 7, 7})), fg::Error);              // kernel > input
  EXPECT_THROW(fg::conv2d(x, w, {}, {.stride = Ints{1, 2, 3}}), fg::Error);         // stride arity
  EXPECT_THROW(fg::conv2d(x, w, {}, {.padding = "full"}), fg::Error);               // padding mode
  EXPECT_THROW(fg::max_pool2d(Tensor::zeros({5}), {2}), fg::Error);                 // rank
  EXPECT_THROW(fg::avg_pool2d(x, {2}, {.stride = Ints{0}}), fg::Error);             // stride 0
}

}  // namespace
