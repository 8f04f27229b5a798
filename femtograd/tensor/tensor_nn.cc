// Convolutions, pooling and resampling as movement + elementwise + reduce ops (tinygrad's way): a
// convolution is the input padded, seen through a sliding-window view (pool_windows), multiplied by
// the weight and summed, so it is one reduce kernel with the padding, the windowing and the bias
// fused in, and autograd differentiates it through the movement ops.
#include "femtograd/tensor/tensor_nn.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "femtograd/base/error.h"
#include "femtograd/tensor/autograd.h"

namespace fg {

namespace {
int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }  // a >= 0, b > 0

// one value per spatial axis
Ints per_axis(const Ints& v, size_t nd, const char* op, const char* what) {
  if (v.size() == nd) return v;
  FG_CHECK(v.size() == 1, ErrorKind::Value, op, what, " has ", v.size(), " values for ", nd, " spatial axes");
  return Ints(nd, v[0]);
}

void check_positive(const Ints& v, const char* op, const char* what) {
  for (int64_t x : v) FG_CHECK(x > 0, ErrorKind::Value, op, what, " must be positive, got ", shape_str(v));
}

Ints spatial(const Tensor& x, size_t nd) { return Ints(x.shape().end() - nd, x.shape().end()); }

// the lowest value of a dtype, as the padding of a max pool
Scalar lowest_of(DType dt) {
  if (dt.is_float()) return -std::numeric_limits<double>::infinity();
  if (dt.is_bool()) return false;
  if (dt.is_unsigned()) return 0;
  return static_cast<int64_t>(-(int64_t{1} << (8 * dt.itemsize() - 1)));
}

// pads of the last nd axes: (before, after) for each, the leading axes untouched
Tensor pad_spatial(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, Scalar value = 0) {
  bool any = false;
  for (auto [b, a] : pads) any |= b != 0 || a != 0;
  return any ? x.pad(pads, value) : x;
}
}  // namespace

// ---------------------------------------------------------------- padding

Padding::Padding(std::initializer_list<int64_t> per_axis) {
  sides.clear();
  for (int64_t p : per_axis) sides.push_back({p, p});
}

Padding::Padding(const char* m) {
  std::string s(m);
  if (s == "same") mode = Mode::Same;
  else if (s == "valid") mode = Mode::Valid;
  else fail(ErrorKind::Value, "padding", "unknown padding mode '", s, "' (use \"same\" or \"valid\")");
}

std::vector<std::pair<int64_t, int64_t>> Padding::resolve(const Ints& in, const Ints& kernel, const Ints& stride,
                                                          const Ints& dilation, const char* op) const {
  size_t nd = in.size();
  std::vector<std::pair<int64_t, int64_t>> out(nd, {0, 0});
  if (mode == Mode::Valid) return out;
  if (mode == Mode::Same) {
    // total padding so that out = ceil(in / stride): the window of the last output ends at the last input
    for (size_t i = 0; i < nd; i++) {
      int64_t o = cdiv(in[i], stride[i]);
      int64_t total = std::max<int64_t>(0, (o - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - in[i]);
      out[i] = {total / 2, total - total / 2};
    }
    return out;
  }
  if (sides.size() == 1) return std::vector<std::pair<int64_t, int64_t>>(nd, sides[0]);
  FG_CHECK(sides.size() == nd, ErrorKind::Value, op, "padding has ", sides.size(), " entries for ", nd,
           " spatial axes");
  return sides;
}

// ---------------------------------------------------------------- sliding windows

Tensor pool_windows(const Tensor& x, const Ints& k_, const Ints& stride, const Ints& dilation) {
  size_t nd = k_.size();
  FG_CHECK(nd >= 1 && static_cast<size_t>(x.ndim()) >= nd, ErrorKind::Value, "pool", "cannot take ", nd,
           "-d windows of a tensor of shape ", shape_str(x.shape()));
  Ints s_ = per_axis(stride, nd, "pool", "stride"), d_ = per_axis(dilation, nd, "pool", "dilation");
  check_positive(k_, "pool", "kernel size");
  check_positive(s_, "pool", "stride");
  check_positive(d_, "pool", "dilation");
  Ints i_ = spatial(x, nd);
  size_t lead = x.ndim() - nd;
  Shape noop(x.shape().begin(), x.shape().begin() + lead);
  std::vector<std::pair<int64_t, int64_t>> keep;
  for (size_t a = 0; a < lead; a++) keep.push_back({0, x.shape()[a]});
  Ints o_(nd);
  for (size_t i = 0; i < nd; i++) {
    FG_CHECK(d_[i] * (k_[i] - 1) + 1 <= i_[i], ErrorKind::Value, "pool", "kernel ", shape_str(k_), " with dilation ",
             shape_str(d_), " does not fit the (padded) input ", shape_str(x.shape()));
    o_[i] = cdiv(i_[i] - d_[i] * (k_[i] - 1), s_[i]);
  }
  std::vector<int64_t> order;
  bool overlap = false;
  for (size_t i = 0; i < nd; i++) overlap |= k_[i] > s_[i] || d_[i] != 1;
  if (overlap) {
    // windows overlap: tile each axis k times with period i*f + d, so that window element j of output
    // o sits at j*(i*f + d) + o*s in the tiling, i.e. at input o*s + j*d (f makes room for the stride)
    Ints f_(nd), rep;
    for (size_t a = 0; a < lead; a++) rep.push_back(1);
    for (size_t i = 0; i < nd; i++) {
      f_[i] = 1 + (o_[i] * s_[i] > i_[i] - d_[i] * (k_[i] - 1) ? 1 : 0);
      rep.push_back(cdiv(k_[i] * (i_[i] * f_[i] + d_[i]), i_[i]));
    }
    Tensor t = x.repeat(rep);
    auto b1 = keep;
    Shape s1 = noop;
    for (size_t i = 0; i < nd; i++) {
      b1.push_back({0, k_[i] * (i_[i] * f_[i] + d_[i])});
      s1.push_back(k_[i]);
      s1.push_back(i_[i] * f_[i] + d_[i]);
    }
    t = t.shrink(b1).reshape(s1);
    auto b2 = keep;
    Shape s2 = noop;
    for (size_t i = 0; i < nd; i++) {
      b2.push_back({0, k_[i]});
      b2.push_back({0, o_[i] * s_[i]});
      s2.push_back(k_[i]);
      s2.push_back(o_[i]);
      s2.push_back(s_[i]);
    }
    t = t.shrink(b2).reshape(s2);
    auto b3 = keep;
    Shape s3 = noop;
    for (size_t i = 0; i < nd; i++) {
      b3.push_back({0, k_[i]});
      b3.push_back({0, o_[i]});
      b3.push_back({0, 1});
      s3.push_back(k_[i]);
      s3.push_back(o_[i]);
    }
    t = t.shrink(b3).reshape(s3);
    for (size_t a = 0; a < lead; a++) order.push_back(static_cast<int64_t>(a));
    for (size_t i = 0; i < nd; i++) order.push_back(static_cast<int64_t>(lead + 2 * i + 1));
    for (size_t i = 0; i < nd; i++) order.push_back(static_cast<int64_t>(lead + 2 * i));
    return t.permute(order);
  }
  // windows do not overlap (k <= s, no dilation): cut each axis into (o, s) and keep the first k
  std::vector<std::pair<int64_t, int64_t>> pads(nd);
  auto b1 = keep;
  for (size_t i = 0; i < nd; i++) {
    pads[i] = {0, std::max<int64_t>(0, o_[i] * s_[i] - i_[i])};
    b1.push_back({0, o_[i] * s_[i]});
  }
  Tensor t = pad_spatial(x, pads).shrink(b1);
  Shape s1 = noop;
  auto b2 = keep;
  for (size_t i = 0; i < nd; i++) {
    s1.push_back(o_[i]);
    s1.push_back(s_[i]);
    b2.push_back({0, o_[i]});
    b2.push_back({0, k_[i]});
  }
  t = t.reshape(s1).shrink(b2);
  for (size_t a = 0; a < lead; a++) order.push_back(static_cast<int64_t>(a));
  for (size_t i = 0; i < nd; i++) order.push_back(static_cast<int64_t>(lead + 2 * i));
  for (size_t i = 0; i < nd; i++) order.push_back(static_cast<int64_t>(lead + 2 * i + 1));
  return t.permute(order);
}

// ---------------------------------------------------------------- convolutions

namespace {
// The input a convolution's windows read: padded once into a buffer of its own, so the conv kernel's
// loads are plain (ungated) and vectorize; the copy is one pass over the input, the conv reads it
// cin*prod(K) times.
Tensor padded_input(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads) {
  Tensor p = pad_spatial(x, pads);
  return p.uop() == x.uop() ? p : p.contiguous();
}

// conv's gradients. For the input: a transposed convolution of g (of the padded input, then cut back
// to the input), which is a plain convolution kernel; the generic rules would differentiate the
// sliding-window view instead, giving a reduce over ceil(K*(I+1)/I) copies of every window axis with
// div/mod index math. For the weight: the windows times g, summed over the batch and output
// positions (what the generic rules give too). params: nd, groups, stride[nd], dilation[nd],
// (pad before, pad after)[nd].
std::vector<std::optional<Tensor>> conv_grad(const Tensor& g, const Tensor&, std::span<const Tensor> in,
                                             std::span<const int64_t> p) {
  const Tensor &x = in[0], &w = in[1];
  size_t nd = static_cast<size_t>(p[0]);
  int64_t groups = p[1];
  Ints stride(p.begin() + 2, p.begin() + 2 + nd), dil(p.begin() + 2 + nd, p.begin() + 2 + 2 * nd);
  std::vector<std::pair<int64_t, int64_t>> pads;
  for (size_t i = 0; i < nd; i++) pads.push_back({p[2 + 2 * nd + 2 * i], p[3 + 2 * nd + 2 * i]});
  Ints K(w.shape().begin() + 2, w.shape().end()), O(g.shape().begin() + 2, g.shape().end());
  Tensor xp = padded_input(x, pads);
  // input: transposed conv back to the padded size; output_padding restores the rows the stride skipped
  ConvTransposeOpts t;
  t.stride = stride;
  t.dilation = dil;
  t.groups = groups;
  t.output_padding.assign(nd, 0);
  std::vector<std::pair<int64_t, int64_t>> cut{{0, x.shape()[0]}, {0, x.shape()[1]}};
  for (size_t i = 0; i < nd; i++) {
    int64_t ip = xp.shape()[2 + i];
    t.output_padding[i] = ip - ((O[i] - 1) * stride[i] + dil[i] * (K[i] - 1) + 1);
    cut.push_back({pads[i].first, pads[i].first + x.shape()[2 + i]});
  }
  Tensor dx = conv_transpose(g, w, {}, t).shrink(cut);
  // weight: (bs, G, 1, cin, *O, *K) * (bs, G, rcout, 1, *O, 1..) summed over bs and O. Every output
  // element reads all of x and g, so the batch is summed in chunks of images whose x and g fit in
  // about 1 MiB of cache: the first kernel's tiles (one chunk each) reuse what they load across the
  // kernel positions, and the chunks' partial sums (small: one weight each) are added after.
  int64_t bs = x.shape()[0], cout = w.shape()[0], cin = w.shape()[1], rcout = cout / groups;
  int64_t per_image = (prod(Shape(xp.shape().begin() + 1, xp.shape().end())) + prod(Shape(g.shape().begin() + 1, g.shape().end()))) *
                      static_cast<int64_t>(x.dtype().itemsize());
  int64_t chunk = std::clamp<int64_t>((int64_t{1} << 20) / std::max<int64_t>(1, per_image), 1, std::max<int64_t>(bs, 1));
  while (bs % chunk != 0) chunk--;
  int64_t nch = bs / chunk;
  Tensor win = pool_windows(xp, K, stride, dil);  // (bs, G*cin, *O, *K): the forward's own view
  Shape ws{nch, chunk, groups, 1, cin}, gs{nch, chunk, groups, rcout, 1};
  ws.insert(ws.end(), O.begin(), O.end());
  ws.insert(ws.end(), K.begin(), K.end());
  gs.insert(gs.end(), O.begin(), O.end());
  gs.insert(gs.end(), nd, 1);
  std::vector<int64_t> axes{1};
  for (size_t i = 0; i < nd; i++) axes.push_back(5 + static_cast<int64_t>(i));
  Tensor part = win.reshape(ws).mul(g.reshape(gs)).sum(axes);  // (nch, G, rcout, cin, *K)
  Tensor dw = (nch > 1 ? part.contiguous().sum({0}) : part.squeeze(0)).reshape(w.shape());
  return {dx, dw};
}

int conv_grad_rule() {
  static const int id = register_custom_grad("conv", conv_grad);
  return id;
}
}  // namespace

Tensor conv(const Tensor& x_, const Tensor& w, const std::optional<Tensor>& bias, const ConvOpts& o) {
  FG_CHECK(w.ndim() >= 3, ErrorKind::Value, "conv", "the weight must be (Cout, Cin/groups, *kernel), got shape ",
           shape_str(w.shape()));
  size_t nd = w.ndim() - 2;
  bool unbatched = x_.ndim() == static_cast<int64_t>(nd) + 1;
  Tensor x = unbatched ? x_.unsqueeze(0) : x_;
  FG_CHECK(x.ndim() == static_cast<int64_t>(nd) + 2, ErrorKind::Value, "conv", "input of shape ", shape_str(x_.shape()),
           " does not fit a ", nd, "-d weight of shape ", shape_str(w.shape()));
  int64_t bs = x.shape()[0], cin_ = x.shape()[1], cout = w.shape()[0], cin = w.shape()[1], g = o.groups;
  FG_CHECK(g >= 1 && cin * g == cin_ && cout % g == 0, ErrorKind::Value, "conv", "input channels ", cin_,
           " and weight ", shape_str(w.shape()), " do not fit groups=", g);
  Ints K(w.shape().begin() + 2, w.shape().end());
  Ints stride = per_axis(o.stride, nd, "conv", "stride"), dil = per_axis(o.dilation, nd, "conv", "dilation");
  check_positive(stride, "conv", "stride");
  check_positive(dil, "conv", "dilation");
  auto pads = o.padding.resolve(spatial(x, nd), K, stride, dil, "conv");
  Tensor win = pool_windows(padded_input(x, pads), K, stride, dil);  // (bs, cin_, *O, *K)
  Ints O(win.shape().begin() + 2, win.shape().begin() + 2 + nd);
  int64_t rcout = cout / g;
  Shape s1{bs, g, cin, 1}, s2{bs, g, cin, rcout}, ws{1, g, rcout};
  s1.insert(s1.end(), O.begin(), O.end());
  s1.insert(s1.end(), K.begin(), K.end());
  s2.insert(s2.end(), O.begin(), O.end());
  s2.insert(s2.end(), K.begin(), K.end());
  for (size_t i = 0; i < nd; i++) ws.push_back(1);
  ws.push_back(cin);
  ws.insert(ws.end(), K.begin(), K.end());
  // (bs, g, rcout, *O, cin, *K) * (1, g, rcout, 1.., cin, *K), summed over (cin, *K)
  std::vector<int64_t> order{0, 1, 3};
  for (size_t i = 0; i < nd; i++) order.push_back(4 + static_cast<int64_t>(i));
  order.push_back(2);
  for (size_t i = 0; i < nd; i++) order.push_back(4 + static_cast<int64_t>(nd + i));
  Tensor xw = win.reshape(s1).expand(s2).permute(order).mul(w.reshape(ws));
  std::vector<int64_t> axes;
  for (size_t i = 0; i <= nd; i++) axes.push_back(-1 - static_cast<int64_t>(i));
  Shape out{bs, cout};
  out.insert(out.end(), O.begin(), O.end());
  Tensor r = xw.sum(axes).reshape(out);
  Ints params{static_cast<int64_t>(nd), g};
  params.insert(params.end(), stride.begin(), stride.end());
  params.insert(params.end(), dil.begin(), dil.end());
  for (auto [b, a] : pads) params.insert(params.end(), {b, a});
  r = with_custom_grad(r, {x, w}, conv_grad_rule(), params);
  if (bias) {
    FG_CHECK(bias->ndim() == 1 && bias->shape()[0] == cout, ErrorKind::Value, "conv", "bias of shape ",
             shape_str(bias->shape()), " does not fit ", cout, " output channels");
    Shape bsh{1, cout};
    for (size_t i = 0; i < nd; i++) bsh.push_back(1);
    r = r.add(bias->reshape(bsh));
  }
  return unbatched ? r.squeeze(0) : r;
}

namespace {
Tensor conv_nd(const char* op, size_t nd, const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
               const ConvOpts& o) {
  FG_CHECK(w.ndim() == static_cast<int64_t>(nd) + 2, ErrorKind::Value, op, "the weight must have ", nd + 2,
           " axes, got shape ", shape_str(w.shape()));
  return conv(x, w, b, o);
}
}  // namespace
Tensor conv1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvOpts& o) { return conv_nd("conv1d", 1, x, w, b, o); }
Tensor conv2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvOpts& o) { return conv_nd("conv2d", 2, x, w, b, o); }
Tensor conv3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvOpts& o) { return conv_nd("conv3d", 3, x, w, b, o); }

Tensor conv_transpose(const Tensor& x_, const Tensor& w, const std::optional<Tensor>& bias, const ConvTransposeOpts& o) {
  FG_CHECK(w.ndim() >= 3, ErrorKind::Value, "conv_transpose",
           "the weight must be (Cin, Cout/groups, *kernel), got shape ", shape_str(w.shape()));
  size_t nd = w.ndim() - 2;
  bool unbatched = x_.ndim() == static_cast<int64_t>(nd) + 1;
  Tensor x = unbatched ? x_.unsqueeze(0) : x_;
  FG_CHECK(x.ndim() == static_cast<int64_t>(nd) + 2, ErrorKind::Value, "conv_transpose", "input of shape ",
           shape_str(x_.shape()), " does not fit a ", nd, "-d weight of shape ", shape_str(w.shape()));
  int64_t g = o.groups, cin = w.shape()[0];
  FG_CHECK(g >= 1 && cin % g == 0 && x.shape()[1] == cin, ErrorKind::Value, "conv_transpose", "input channels ",
           x.shape()[1], " and weight ", shape_str(w.shape()), " do not fit groups=", g);
  Ints K(w.shape().begin() + 2, w.shape().end());
  Ints stride = per_axis(o.stride, nd, "conv_transpose", "stride");
  Ints dil = per_axis(o.dilation, nd, "conv_transpose", "dilation");
  Ints pad = per_axis(o.padding, nd, "conv_transpose", "padding");
  Ints opad = per_axis(o.output_padding, nd, "conv_transpose", "output_padding");
  check_positive(stride, "conv_transpose", "stride");
  check_positive(dil, "conv_transpose", "dilation");
  for (size_t i = 0; i < nd; i++)
    FG_CHECK(opad[i] >= 0 && (opad[i] < stride[i] || opad[i] < dil[i]), ErrorKind::Value, "conv_transpose",
             "output_padding ", shape_str(opad), " must be smaller than the stride or the dilation");
  // (Cin, Cout/g, *K) -> (g, Cin/g, Cout/g, *K) -> (g, Cout/g, Cin/g, *K), kernel flipped -> (Cout, Cin/g, *K)
  Shape ws{g, cin / g};
  ws.insert(ws.end(), w.shape().begin() + 1, w.shape().end());
  std::vector<int64_t> flips;
  for (size_t i = 0; i < nd; i++) flips.push_back(3 + static_cast<int64_t>(i));
  Tensor wt = w.reshape(ws).transpose(1, 2).flip(flips);
  Shape wf{g * w.shape()[1], cin / g};
  wf.insert(wf.end(), K.begin(), K.end());
  wt = wt.reshape(wf);
  // a stride spreads the input: s-1 zeros between neighbours
  bool strided = false;
  for (int64_t s : stride) strided |= s > 1;
  if (strided) {
    Shape s1{x.shape()[0], x.shape()[1]}, s2{x.shape()[0], x.shape()[1]};
    std::vector<std::pair<int64_t, int64_t>> p, cut{{0, x.shape()[0]}, {0, x.shape()[1]}};
    for (size_t i = 0; i < nd; i++) {
      int64_t n = x.shape()[2 + i];
      s1.push_back(n);
      s1.push_back(1);
      p.push_back({0, 0});
      p.push_back({0, stride[i] - 1});
      s2.push_back(n * stride[i]);
      cut.push_back({0, n * stride[i] - (stride[i] - 1)});
    }
    x = x.reshape(s1).pad(p).reshape(s2).shrink(cut);
  }
  std::vector<std::pair<int64_t, int64_t>> pads;
  for (size_t i = 0; i < nd; i++) {
    int64_t e = (K[i] - 1) * dil[i];
    pads.push_back({e - pad[i], e - pad[i] + opad[i]});
  }
  ConvOpts co;
  co.stride = {1};
  co.padding = Padding(pads);
  co.dilation = dil;
  co.groups = g;
  Tensor r = conv(x, wt, bias, co);
  return unbatched ? r.squeeze(0) : r;
}

namespace {
Tensor conv_t_nd(const char* op, size_t nd, const Tensor& x, const Tensor& w, const std::optional<Tensor>& b,
                 const ConvTransposeOpts& o) {
  FG_CHECK(w.ndim() == static_cast<int64_t>(nd) + 2, ErrorKind::Value, op, "the weight must have ", nd + 2,
           " axes, got shape ", shape_str(w.shape()));
  return conv_transpose(x, w, b, o);
}
}  // namespace
Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvTransposeOpts& o) {
  return conv_t_nd("conv_transpose1d", 1, x, w, b, o);
}
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvTransposeOpts& o) {
  return conv_t_nd("conv_transpose2d", 2, x, w, b, o);
}
Tensor conv_transpose3d(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const ConvTransposeOpts& o) {
  return conv_t_nd("conv_transpose3d", 3, x, w, b, o);
}

// ---------------------------------------------------------------- pooling

namespace {
struct PoolSetup {
  size_t nd;
  Ints k, s, d;
  std::vector<std::pair<int64_t, int64_t>> reg, ceil;  // regular and ceil-mode padding
};

PoolSetup pool_setup(const Tensor& x, const Ints& kernel, const PoolOpts& o, const char* op) {
  PoolSetup p;
  p.nd = kernel.size();
  FG_CHECK(p.nd >= 1 && static_cast<size_t>(x.ndim()) >= p.nd, ErrorKind::Value, op, "a ", p.nd,
           "-d kernel does not fit an input of shape ", shape_str(x.shape()));
  p.k = kernel;
  p.s = per_axis(o.stride ? *o.stride : kernel, p.nd, op, "stride");
  p.d = per_axis(o.dilation, p.nd, op, "dilation");
  check_positive(p.k, op, "kernel size");
  check_positive(p.s, op, "stride");
  check_positive(p.d, op, "dilation");
  Ints in = spatial(x, p.nd);
  p.reg = o.padding.resolve(in, p.k, p.s, p.d, op);
  p.ceil = p.reg;
  if (o.ceil_mode) {
    // the output size rounds up, but the last window must start inside the input or the left padding
    for (size_t i = 0; i < p.nd; i++) {
      auto [pb, pa] = p.reg[i];
      int64_t span = p.d[i] * (p.k[i] - 1) + 1, n = in[i] + pb + pa;
      FG_CHECK(n >= span, ErrorKind::Value, op, "kernel ", shape_str(p.k), " does not fit the padded input");
      int64_t out = cdiv(n - span, p.s[i]) + 1;
      p.ceil[i].second += p.s[i] * (out - 1) + span - n - std::max<int64_t>(p.s[i] * (out - 1) - (pb + in[i] - 1), 0);
    }
  }
  return p;
}

std::vector<int64_t> last_axes(size_t nd) {
  std::vector<int64_t> a;
  for (size_t i = 0; i < nd; i++) a.push_back(-1 - static_cast<int64_t>(i));
  return a;
}
}  // namespace

Tensor max_pool(const Tensor& x, const Ints& kernel, const PoolOpts& o) {
  PoolSetup p = pool_setup(x, kernel, o, "max_pool");
  Tensor xp = pad_spatial(x, o.ceil_mode ? p.ceil : p.reg, lowest_of(x.dtype()));
  return pool_windows(xp, p.k, p.s, p.d).max(last_axes(p.nd));
}

Tensor avg_pool(const Tensor& x_, const Ints& kernel, const PoolOpts& o) {
  PoolSetup p = pool_setup(x_, kernel, o, "avg_pool");
  Tensor x = x_.dtype().is_float() ? x_ : x_.cast(dtypes::default_float);
  auto pool = [&](const Tensor& t, const std::vector<std::pair<int64_t, int64_t>>& pads) {
    return pool_windows(pad_spatial(t, pads), p.k, p.s, p.d).sum(last_axes(p.nd));
  };
  if (!o.count_include_pad) {
    const auto& pads = o.ceil_mode ? p.ceil : p.reg;
    return pool(x, pads).div(pool(x.ones_like(), pads));
  }
  if (!o.ceil_mode) return pool_windows(pad_spatial(x, p.reg), p.k, p.s, p.d).mean(last_axes(p.nd));
  // ceil mode counts the regular padding but not the extra padding at the end
  std::vector<std::pair<int64_t, int64_t>> extra;
  for (size_t i = 0; i < p.nd; i++) extra.push_back({p.ceil[i].first - p.reg[i].first, p.ceil[i].second - p.reg[i].second});
  return pool(x, p.ceil).div(pool(pad_spatial(x, p.reg).ones_like(), extra));
}

namespace {
void check_pool_nd(const char* op, size_t nd, const Ints& kernel) {
  FG_CHECK(kernel.size() == 1 || kernel.size() == nd, ErrorKind::Value, op, "kernel ", shape_str(kernel), " for ",
           nd, " spatial axes");
}
Ints kernel_nd(const Ints& kernel, size_t nd) { return kernel.size() == nd ? kernel : Ints(nd, kernel[0]); }
}  // namespace
#define FG_POOL_ND(name, fn, nd)                                           \
  Tensor name(const Tensor& x, const Ints& kernel, const PoolOpts& o) {    \
    check_pool_nd(#name, nd, kernel);                                      \
    FG_CHECK(x.ndim() == nd + 1 || x.ndim() == nd + 2, ErrorKind::Value, #name, "expects a ", nd + 1, "-d or ", \
             nd + 2, "-d input, got shape ", shape_str(x.shape()));       \
    return fn(x, kernel_nd(kernel, nd), o);                                \
  }
FG_POOL_ND(max_pool1d, max_pool, 1)
FG_POOL_ND(max_pool2d, max_pool, 2)
FG_POOL_ND(max_pool3d, max_pool, 3)
FG_POOL_ND(avg_pool1d, avg_pool, 1)
FG_POOL_ND(avg_pool2d, avg_pool, 2)
FG_POOL_ND(avg_pool3d, avg_pool, 3)
#undef FG_POOL_ND

// ---------------------------------------------------------------- adaptive pools and resampling

namespace {
// out[..., o] over axis `ax` from M (O, I) applied along it: x moved last, broadcast (..., O, I)
Tensor along_last(const Tensor& x, int64_t ax, const std::function<Tensor(const Tensor&)>& fn) {
  int64_t last = x.ndim() - 1;
  Tensor t = ax == last ? x : x.transpose(ax, last);
  Tensor r = fn(t);
  return ax == last ? r : r.transpose(ax, last);
}

Tensor iota_i32(int64_t n, const std::string& device) { return Tensor::arange(0, n, 1, dtypes::int32, device); }

Tensor adaptive_axis(const Tensor& x, int64_t ax, int64_t O, bool is_max) {
  int64_t I = x.shape()[ax];
  FG_CHECK(O > 0 || I == 0, ErrorKind::Value, is_max ? "adaptive_max_pool" : "adaptive_avg_pool",
           "output size must be positive, got ", O);
  if (I == O) return x;
  if (I % O == 0) {  // equal windows: a reshape and a reduce
    Shape s = x.shape();
    s[ax] = I / O;
    s.insert(s.begin() + ax, O);
    Tensor t = x.reshape(s);
    return is_max ? t.max({ax + 1}) : t.mean({ax + 1});
  }
  return along_last(x, ax, [&](const Tensor& t) {
    const std::string& dev = x.device();
    Tensor o = iota_i32(O, dev).reshape({O, 1}), i = iota_i32(I, dev).reshape({1, I});
    Tensor start = o.mul(static_cast<int>(I)).idiv(static_cast<int>(O));
    Tensor end = o.add(1).mul(static_cast<int>(I)).add(static_cast<int>(O - 1)).idiv(static_cast<int>(O));
    Tensor m = i.ge(start).logical_and(i.lt(end));  // (O, I)
    Tensor tx = t.unsqueeze(-2);                    // (..., 1, I)
    if (is_max) return m.where(tx, tx.scalar_like(lowest_of(t.dtype())).cast(t.dtype())).max({-1});
    Tensor cnt = end.sub(start).reshape({O}).cast(t.dtype());
    return m.where(tx, tx.zeros_like()).sum({-1}).div(cnt);
  });
}

Tensor adaptive(const Tensor& x_, const Ints& size, bool is_max) {
  const char* op = is_max ? "adaptive_max_pool" : "adaptive_avg_pool";
  FG_CHECK(!size.empty() && static_cast<size_t>(x_.ndim()) >= size.size(), ErrorKind::Value, op, "output size ",
           shape_str(size), " does not fit an input of shape ", shape_str(x_.shape()));
  Tensor x = is_max || x_.dtype().is_float() ? x_ : x_.cast(dtypes::default_float);
  int64_t nd = static_cast<int64_t>(size.size());
  for (int64_t i = 0; i < nd; i++) x = adaptive_axis(x, x.ndim() - nd + i, size[i], is_max);
  return x;
}
}  // namespace

Tensor adaptive_avg_pool(const Tensor& x, const Ints& size) { return adaptive(x, size, false); }
Tensor adaptive_max_pool(const Tensor& x, const Ints& size) { return adaptive(x, size, true); }
#define FG_ADAPTIVE_ND(name, is_max, nd)                                                    \
  Tensor name(const Tensor& x, const Ints& size) {                                          \
    FG_CHECK(size.size() == 1 || size.size() == nd, ErrorKind::Value, #name, "output size ", \
             shape_str(size), " for ", nd, " spatial axes");                                \
    return adaptive(x, size.size() == nd ? size : Ints(nd, size[0]), is_max);              \
  }
FG_ADAPTIVE_ND(adaptive_avg_pool1d, false, 1)
FG_ADAPTIVE_ND(adaptive_avg_pool2d, false, 2)
FG_ADAPTIVE_ND(adaptive_avg_pool3d, false, 3)
FG_ADAPTIVE_ND(adaptive_max_pool1d, true, 1)
FG_ADAPTIVE_ND(adaptive_max_pool2d, true, 2)
FG_ADAPTIVE_ND(adaptive_max_pool3d, true, 3)
#undef FG_ADAPTIVE_ND

Tensor interpolate(const Tensor& x_, const Ints& size, InterpMode mode, bool align_corners) {
  FG_CHECK(!size.empty() && static_cast<size_t>(x_.ndim()) >= size.size(), ErrorKind::Value, "interpolate", "size ",
           shape_str(size), " does not fit an input of shape ", shape_str(x_.shape()));
  for (int64_t s : size) FG_CHECK(s > 0, ErrorKind::Value, "interpolate", "sizes must be positive, got ", shape_str(size));
  bool linear = mode == InterpMode::Linear;
  Tensor x = !linear || x_.dtype().is_float() ? x_ : x_.cast(dtypes::default_float);
  int64_t nd = static_cast<int64_t>(size.size());
  for (int64_t i = nd - 1; i >= 0; i--) {
    int64_t ax = x.ndim() - nd + i, I = x.shape()[ax], O = size[i];
    if (I == O) continue;  // every mode maps o to o
    const std::string& dev = x.device();
    if (!linear) {
      if (mode == InterpMode::Nearest && O % I == 0) {  // each input repeated O/I times
        Shape s1 = x.shape(), s2 = x.shape(), s3 = x.shape();
        s1.insert(s1.begin() + ax + 1, 1);
        s2.insert(s2.begin() + ax + 1, O / I);
        s3[ax] = O;
        x = x.reshape(s1).expand(s2).reshape(s3);
        continue;
      }
      x = along_last(x, ax, [&](const Tensor& t) {
        Tensor o = iota_i32(O, dev).reshape({O, 1}), in = iota_i32(I, dev).reshape({1, I});
        // nearest: floor(o*I/O); nearest-exact: floor((o + 0.5)*I/O) = floor((2o+1)*I / 2O)
        Tensor src = mode == InterpMode::Nearest
                         ? o.mul(static_cast<int>(I)).idiv(static_cast<int>(O))
                         : o.mul(2).add(1).mul(static_cast<int>(I)).idiv(static_cast<int>(2 * O));
        Tensor m = in.eq(src.minimum(static_cast<int>(I - 1)));
        Tensor tx = t.unsqueeze(-2);
        return m.where(tx, tx.zeros_like()).sum({-1}).cast(t.dtype());
      });
      continue;
    }
    // linear: output o reads inputs lo and hi with weights (1 - l, l), a (O, I) matrix made on the host
    std::vector<double> wm(static_cast<size_t>(O * I), 0.0);
    for (int64_t o = 0; o < O; o++) {
      double src;
      if (align_corners) src = O > 1 ? static_cast<double>(o) * (I - 1) / (O - 1) : 0.0;
      else src = std::max(0.0, (o + 0.5) * static_cast<double>(I) / static_cast<double>(O) - 0.5);
      int64_t lo = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), I - 1);
      int64_t hi = std::min<int64_t>(lo + 1, I - 1);
      double l = src - static_cast<double>(lo);
      wm[o * I + lo] += 1.0 - l;
      wm[o * I + hi] += l;
    }
    Tensor W = Tensor::from_vector(wm, {O, I}, dev).cast(x.dtype());
    std::vector<uint8_t> nz(wm.size());
    for (size_t k = 0; k < wm.size(); k++) nz[k] = wm[k] != 0;
    Tensor M = Tensor::from_data(nz.data(), dtypes::bool_, {O, I}, dev);
    x = along_last(x, ax, [&](const Tensor& t) {
      Tensor tx = t.unsqueeze(-2);  // (..., 1, I): 0 * inf never happens outside the two taps
      return M.where(tx.mul(W), tx.zeros_like()).sum({-1});
    });
  }
  return x;
}

// ---------------------------------------------------------------- normalization

Tensor batchnorm(const Tensor& x, const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
                 const Tensor& mean, const Tensor& invstd, int64_t axis) {
  int64_t ax = x.norm_axis(axis, "batchnorm");
  Shape s(x.ndim(), 1);
  s[ax] = x.shape()[ax];
  Tensor y = x.sub(mean.reshape(s));
  if (weight) y = y.mul(weight->reshape(s));
  y = y.mul(invstd.ndim() == 1 ? invstd.reshape(s) : invstd);
  return bias ? y.add(bias->reshape(s)) : y;
}

Tensor batch_norm(const Tensor& x, const std::optional<Tensor>& running_mean, const std::optional<Tensor>& running_var,
                  const std::optional<Tensor>& weight, const std::optional<Tensor>& bias, bool training, double eps) {
  FG_CHECK(x.ndim() >= 2, ErrorKind::Value, "batch_norm", "expects (N, C, ...), got shape ", shape_str(x.shape()));
  std::vector<int64_t> axes;
  for (int64_t a = 0; a < x.ndim(); a++)
    if (a != 1) axes.push_back(a);
  Tensor mean, var;
  if (training || !running_mean || !running_var) {
    mean = x.mean(axes);
    Shape s(x.ndim(), 1);
    s[1] = x.shape()[1];
    Tensor d = x.sub(mean.reshape(s));
    var = d.mul(d).mean(axes);
  } else {
    mean = *running_mean;
    var = *running_var;
  }
  return batchnorm(x, weight, bias, mean, var.add(eps).rsqrt(), 1);
}

namespace {
std::vector<int64_t> trailing_axes(const Tensor& x, const Shape& ns, const char* op) {
  FG_CHECK(static_cast<size_t>(x.ndim()) >= ns.size() &&
               std::equal(ns.begin(), ns.end(), x.shape().end() - ns.size()),
           ErrorKind::Value, op, "normalized shape ", shape_str(ns), " does not end the input's shape ",
           shape_str(x.shape()));
  std::vector<int64_t> axes;
  for (size_t i = 0; i < ns.size(); i++) axes.push_back(x.ndim() - 1 - static_cast<int64_t>(i));
  return axes;
}
}  // namespace

Tensor layernorm(const Tensor& x, std::vector<int64_t> axes, double eps) {
  Tensor y = x.sub(x.mean(axes, true));
  return y.mul(y.mul(y).mean(axes, true).add(eps).rsqrt());
}

Tensor layer_norm(const Tensor& x, const Shape& ns, const std::optional<Tensor>& weight,
                  const std::optional<Tensor>& bias, double eps) {
  Tensor y = layernorm(x, trailing_axes(x, ns, "layer_norm"), eps);
  if (weight) y = y.mul(*weight);
  return bias ? y.add(*bias) : y;
}

Tensor group_norm(const Tensor& x, int64_t G, const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
                  double eps) {
  FG_CHECK(x.ndim() >= 2 && G > 0 && x.shape()[1] % G == 0, ErrorKind::Value, "group_norm", "cannot split ",
           shape_str(x.shape()), " into ", G, " groups of channels");
  int64_t C = x.shape()[1];
  Tensor y = layernorm(x.reshape({x.shape()[0], G, -1}), {-1}, eps).reshape(x.shape());
  Shape s(x.ndim(), 1);
  s[1] = C;
  if (weight) y = y.mul(weight->reshape(s));
  return bias ? y.add(bias->reshape(s)) : y;
}

Tensor rms_norm(const Tensor& x, const Shape& ns, const std::optional<Tensor>& weight, std::optional<double> eps) {
  auto axes = trailing_axes(x, ns, "rms_norm");
  double e = eps ? *eps
             : x.dtype() == dtypes::float64 ? std::numeric_limits<double>::epsilon()
             : x.dtype() == dtypes::float16 ? 0.0009765625
             : x.dtype() == dtypes::bfloat16 ? 0.0078125
                                             : std::numeric_limits<float>::epsilon();
  Tensor y = x.mul(x.mul(x).mean(axes, true).add(e).rsqrt());
  return weight ? y.mul(*weight) : y;
}

// ---------------------------------------------------------------- training mode and dropout

namespace {
std::atomic<bool> g_training{false};
}
bool is_training() { return g_training.load(); }
void set_training(bool on) { g_training.store(on); }
TrainingScope::TrainingScope(bool on) : prev_(g_training.exchange(on)) {}
TrainingScope::~TrainingScope() { g_training.store(prev_); }

Tensor dropout(const Tensor& x, double p, std::optional<bool> training) {
  FG_CHECK(p >= 0 && p <= 1, ErrorKind::Value, "dropout", "probability must be in [0, 1], got ", p);
  if (!training.value_or(is_training()) || p == 0) return x;
  if (p == 1) return x.zeros_like();
  DType rt = x.dtype().is_float() ? x.dtype() : dtypes::default_float;
  Tensor keep = Tensor::rand(x.shape(), rt, x.device()).ge(p);
  return keep.where(x.div(1.0 - p), x.zeros_like().cast(x.dtype().is_float() ? x.dtype() : rt));
}

// ---------------------------------------------------------------- attention

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k_, const Tensor& v_,
                                    const std::optional<Tensor>& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, bool enable_gqa) {
  FG_CHECK(q.ndim() >= 2 && k_.ndim() >= 2 && v_.ndim() >= 2, ErrorKind::Value, "scaled_dot_product_attention",
           "q, k and v need (..., L, E) shapes, got ", shape_str(q.shape()), ", ", shape_str(k_.shape()), ", ",
           shape_str(v_.shape()));
  Tensor k = k_, v = v_;
  if (enable_gqa && q.ndim() >= 3 && k.shape(-3) != q.shape(-3)) {
    FG_CHECK(q.shape(-3) % k.shape(-3) == 0, ErrorKind::Value, "scaled_dot_product_attention", "q has ", q.shape(-3),
             " heads, not a multiple of k's ", k.shape(-3));
    k = k.repeat_interleave(q.shape(-3) / k.shape(-3), -3);
    v = v.repeat_interleave(q.shape(-3) / v.shape(-3), -3);
  }
  double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.shape(-1)));
  Tensor qk = q.matmul(k.transpose(-2, -1)).mul(sc);
  std::optional<Tensor> mask = attn_mask;
  if (is_causal) {
    FG_CHECK(!attn_mask, ErrorKind::Value, "scaled_dot_product_attention", "give attn_mask or is_causal, not both");
    int64_t L = q.shape(-2), S = k.shape(-2);
    Tensor i = iota_i32(L, q.device()).reshape({L, 1}), j = iota_i32(S, q.device()).reshape({1, S});
    mask = j.le(i);
  }
  if (mask) {
    if (mask->dtype().is_bool()) qk = mask->where(qk, qk.scalar_like(-std::numeric_limits<double>::infinity()));
    else qk = qk.add(mask->cast(qk.dtype()));
  }
  return dropout(qk.softmax(-1), dropout_p, true).matmul(v);
}

// ---------------------------------------------------------------- losses

namespace {
Tensor reduce_loss(const Tensor& t, Reduction r) {
  switch (r) {
    case Reduction::Mean: return t.mean();
    case Reduction::Sum: return t.sum();
    case Reduction::None: return t;
  }
  return t;
}
// (N, d...) class indices -> (N, C, d...) bool one-hot (all false for an index outside [0, C))
Tensor one_hot_axis1(const Tensor& target, int64_t C) {
  Shape s(target.ndim() + 1, 1);
  s[1] = C;
  return target.unsqueeze(1).eq(Tensor::arange(0, C, 1, target.dtype(), target.device()).reshape(s));
}
Shape class_shape(int64_t ndim, int64_t C) {
  Shape s(ndim, 1);
  s[1] = C;
  return s;
}
void check_targets(const Tensor& x, const Tensor& target, const char* op) {
  FG_CHECK(!target.dtype().is_float(), ErrorKind::Type, op, "class indices must be integers, got ",
           target.dtype().name());
  Shape want = x.shape();
  want.erase(want.begin() + 1);
  FG_CHECK(target.shape() == want, ErrorKind::Value, op, "target of shape ", shape_str(target.shape()),
           " does not fit input of shape ", shape_str(x.shape()), " (expected ", shape_str(want), ")");
}
}  // namespace

Tensor nll_loss(const Tensor& logp_, const Tensor& target_, const std::optional<Tensor>& weight, int64_t ignore_index,
                Reduction reduction) {
  bool single = logp_.ndim() == 1;
  Tensor logp = single ? logp_.unsqueeze(0) : logp_;
  Tensor target = single ? target_.unsqueeze(0) : target_;
  check_targets(logp, target, "nll_loss");
  int64_t C = logp.shape()[1];
  Tensor oh = one_hot_axis1(target, C);
  Tensor picked = oh.where(logp, logp.zeros_like()).sum({1});
  Tensor wt = target.ne(ignore_index).cast(logp.dtype());
  if (weight) {
    FG_CHECK(weight->shape() == Shape{C}, ErrorKind::Value, "nll_loss", "weight of shape ", shape_str(weight->shape()),
             " does not fit ", C, " classes");
    Tensor wc = weight->cast(logp.dtype()).reshape(class_shape(logp.ndim(), C));
    wt = wt.mul(oh.where(wc, logp.zeros_like()).sum({1}));
  }
  Tensor loss = picked.mul(wt).neg();
  if (reduction == Reduction::Mean) return loss.sum().div(wt.sum());
  if (reduction == Reduction::Sum) return loss.sum();
  return single ? loss.squeeze(0) : loss;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target_, const CrossEntropyOpts& o) {
  FG_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, ErrorKind::Value, "cross_entropy",
           "label_smoothing must be in [0, 1], got ", o.label_smoothing);
  bool single = logits.ndim() == 1;
  Tensor x = single ? logits.unsqueeze(0) : logits;
  FG_CHECK(x.ndim() >= 2, ErrorKind::Value, "cross_entropy", "logits must be (C,) or (N, C, ...), got ",
           shape_str(logits.shape()));
  if (!x.dtype().is_float()) x = x.cast(dtypes::default_float);
  int64_t C = x.shape()[1];
  double eps = o.label_smoothing;
  Tensor logp = x.log_softmax(1);
  std::optional<Tensor> wc;
  if (o.weight) {
    FG_CHECK(o.weight->shape() == Shape{C}, ErrorKind::Value, "cross_entropy", "weight of shape ",
             shape_str(o.weight->shape()), " does not fit ", C, " classes");
    wc = o.weight->cast(x.dtype()).reshape(class_shape(x.ndim(), C));
  }
  if (target_.dtype().is_float()) {  // class probabilities
    Tensor t = single ? target_.unsqueeze(0) : target_;
    FG_CHECK(t.shape() == x.shape(), ErrorKind::Value, "cross_entropy", "probability target of shape ",
             shape_str(target_.shape()), " does not fit logits of shape ", shape_str(logits.shape()));
    Tensor tt = eps > 0 ? t.cast(x.dtype()).mul(1.0 - eps).add(eps / static_cast<double>(C)) : t.cast(x.dtype());
    Tensor term = logp.mul(tt);
    if (wc) term = term.mul(*wc);
    Tensor per = term.sum({1}).neg();
    if (o.reduction == Reduction::None && single) return per.squeeze(0);
    return reduce_loss(per, o.reduction);
  }
  Tensor target = single ? target_.unsqueeze(0) : target_;
  check_targets(x, target, "cross_entropy");
  Tensor nll = nll_loss(logp, target, o.weight, o.ignore_index, o.reduction);
  if (eps == 0) return single && o.reduction == Reduction::None ? nll.squeeze(0) : nll;
  // PyTorch: (1 - eps) * nll + eps / C * sum over classes of -w_c log p_c (ignored targets give 0)
  Tensor keep = target.ne(o.ignore_index);
  Tensor smooth = (wc ? logp.mul(*wc) : logp).sum({1}).neg();
  smooth = keep.where(smooth, smooth.zeros_like());
  Tensor ret;
  if (o.reduction == Reduction::Mean) {
    Tensor denom = keep.cast(x.dtype());
    if (wc) denom = denom.mul(one_hot_axis1(target, C).where(*wc, logp.zeros_like()).sum({1}));
    ret = smooth.sum().div(denom.sum());
  } else if (o.reduction == Reduction::Sum) {
    ret = smooth.sum();
  } else {
    ret = smooth;
  }
  Tensor out = nll.mul(1.0 - eps).add(ret.mul(eps / static_cast<double>(C)));
  return single && o.reduction == Reduction::None ? out.squeeze(0) : out;
}

Tensor sparse_categorical_crossentropy(const Tensor& logits, const Tensor& Y, int64_t ignore_index,
                                       double label_smoothing, Reduction reduction) {
  FG_CHECK(label_smoothing >= 0 && label_smoothing <= 1, ErrorKind::Value, "sparse_categorical_crossentropy",
           "label_smoothing must be in [0, 1], got ", label_smoothing);
  FG_CHECK(!Y.dtype().is_float(), ErrorKind::Type, "sparse_categorical_crossentropy",
           "labels must be integers, got ", Y.dtype().name());
  int64_t C = logits.shape(-1);
  Tensor logp = logits.log_softmax(-1);
  Tensor mask = ignore_index != -1 ? Y.ne(ignore_index) : Y.ne(Y).logical_not();
  Tensor y = Y.unsqueeze(-1).eq(Tensor::arange(0, C, 1, Y.dtype(), Y.device())).logical_and(mask.unsqueeze(-1));
  Tensor maskf = mask.cast(logp.dtype());
  Tensor smoothing = logp.mean({-1}).mul(maskf).mul(label_smoothing);
  Tensor unreduced = y.where(logp, logp.zeros_like()).sum({-1}).mul(1.0 - label_smoothing).add(smoothing);
  if (reduction == Reduction::Mean) return unreduced.sum().div(maskf.sum()).neg();
  if (reduction == Reduction::Sum) return unreduced.sum().neg();
  return unreduced.neg();
}

Tensor binary_cross_entropy(const Tensor& p, const Tensor& y, const std::optional<Tensor>& weight, Reduction r) {
  // PyTorch clamps the logs at -100 so that p = 0 or 1 gives a finite loss
  Tensor lp = p.log().maximum(-100.0), l1p = p.neg().add(1.0).log().maximum(-100.0);
  Tensor loss = y.mul(lp).add(y.neg().add(1.0).mul(l1p)).neg();
  if (weight) loss = loss.mul(*weight);
  return reduce_loss(loss, r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, const std::optional<Tensor>& weight,
                                        const std::optional<Tensor>& pos_weight, Reduction r) {
  // (1 - y) x + (1 + (pw - 1) y) softplus(-x): stable for any x (PyTorch's formula)
  Tensor sp = x.neg().softplus();
  Tensor coef = pos_weight ? pos_weight->sub(1.0).mul(y).add(1.0) : y.ones_like().cast(x.dtype());
  Tensor loss = y.neg().add(1.0).mul(x).add(coef.mul(sp));
  if (weight) loss = loss.mul(*weight);
  return reduce_loss(loss, r);
}

Tensor mse_loss(const Tensor& x, const Tensor& t, Reduction r) { return reduce_loss(x.sub(t).square(), r); }
Tensor l1_loss(const Tensor& x, const Tensor& t, Reduction r) { return reduce_loss(x.sub(t).abs(), r); }
Tensor smooth_l1_loss(const Tensor& x, const Tensor& t, double beta, Reduction r) {
  Tensor d = x.sub(t).abs();
  if (beta == 0) return reduce_loss(d, r);
  return reduce_loss(d.lt(beta).where(d.square().mul(0.5 / beta), d.sub(0.5 * beta)), r);
}
Tensor huber_loss(const Tensor& x, const Tensor& t, double delta, Reduction r) {
  Tensor d = x.sub(t).abs();
  return reduce_loss(d.lt(delta).where(d.square().mul(0.5), d.sub(0.5 * delta).mul(delta)), r);
}

// ---------------------------------------------------------------- assign

UOpRef buffer_of_tensor(const Tensor& t) {
  const UOp* u = t.uop().get();
  while (true) {
    if (u->op == Op::BUFFER) return u->ref();
    if (UOpRef r = u->realized()) return r;
    if (u->op != Op::RESHAPE) return nullptr;
    u = u->src(0).get();
  }
}

namespace {
// the node an ASSIGN into t writes through: t itself when it is a buffer seen through reshapes, the
// target of a pending assign (a second assign before realize chains onto the first), else null
UOpRef assign_target(const UOpRef& u) {
  if (u->op == Op::ASSIGN) return assign_target(u->src(0));
  const UOp* n = u.get();
  while (true) {
    if (n->op == Op::BUFFER || n->realized()) return u;
    if (n->op != Op::RESHAPE) return nullptr;
    n = n->src(0).get();
  }
}
}  // namespace

Tensor& assign_to(Tensor& target, const Tensor& value) {
  FG_CHECK(target.defined() && value.defined(), ErrorKind::Value, "assign", "use of an empty Tensor handle");
  FG_CHECK(target.shape() == value.shape(), ErrorKind::Value, "assign", "cannot assign a value of shape ",
           shape_str(value.shape()), " to a tensor of shape ", shape_str(target.shape()));
  FG_CHECK(target.device() == value.device(), ErrorKind::Value, "assign", "cannot assign a value on ", value.device(),
           " to a tensor on ", target.device());
  Tensor v = value.cast(target.dtype());
  if (v.uop() == target.uop()) return target;
  bool marked = target.dtype().is_float() && target.requires_grad();
  Tensor g = target.grad();
  UOpRef into = assign_target(target.uop());
  Tensor nt = into ? Tensor(UOp::make(Op::ASSIGN, target.dtype(), {into, v.uop()}), target.shape(), target.device())
                   : Tensor(v.uop(), v.shape(), v.device());  // a state of its own, not value's
  if (marked) nt.requires_grad_();
  if (g.defined()) nt.set_grad(g);
  target = nt;
  return target;
}

}  // namespace fg
