// Movement ops of fg::Tensor against naive references over strided arrays: reshape, permute,
// expand, pad (every mode), shrink, flip, squeeze/unsqueeze, flatten/unflatten, cat, stack, split,
// chunk, repeat, repeat_interleave, roll, movedim; on contiguous and non-contiguous inputs
// (permuted, flipped = negative strides, sliced), awkward sizes (1, primes, 0) and several dtypes.
// Each test realizes its results together so kernels compile in parallel.
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;

namespace {

// input: (3, 5, 7) float32 values, as a tensor and a reference array
struct Input {
  Arr<double> a;
  Tensor t;
};
Input make_input(const Shape& s, DType d, uint64_t seed, double lo = -10, double hi = 10) {
  Input in{rand_arr(s, d, lo, hi, seed), {}};
  in.t = to_tensor(in.a, d);
  return in;
}

// reference pad with a value / mode; modes: 0 constant, 1 reflect, 2 replicate, 3 circular
Arr<double> ref_pad(const Arr<double>& a, const std::vector<std::pair<int64_t, int64_t>>& pad, int mode,
                    double value) {
  Shape s = a.shape;
  size_t first = s.size() - pad.size();
  for (size_t i = 0; i < pad.size(); i++) s[first + i] += pad[i].first + pad[i].second;
  Arr<double> r(s);
  for_each_index(s, [&](const std::vector<int64_t>& o) {
    std::vector<int64_t> src = o;
    bool inside = true;
    for (size_t i = 0; i < pad.size(); i++) {
      size_t d = first + i;
      int64_t n = a.shape[d], k = o[d] - pad[i].first;
      if (k >= 0 && k < n) { src[d] = k; continue; }
      if (mode == 0) { inside = false; break; }
      if (mode == 1) k = k < 0 ? -k : 2 * (n - 1) - k;
      if (mode == 2) k = k < 0 ? 0 : n - 1;
      if (mode == 3) k = ((k % n) + n) % n;
      src[d] = k;
    }
    r.at(o) = inside ? a.at(src) : value;
  });
  return r;
}

Arr<double> ref_cat(const std::vector<Arr<double>>& xs, int64_t ax) {
  Shape s = xs[0].shape;
  s[ax] = 0;
  for (auto& x : xs) s[ax] += x.shape[ax];
  Arr<double> r(s);
  int64_t off = 0;
  for (auto& x : xs) {
    for_each_index(x.shape, [&](const std::vector<int64_t>& i) {
      std::vector<int64_t> o = i;
      o[ax] += off;
      r.at(o) = x.at(i);
    });
    off += x.shape[ax];
  }
  return r;
}

}  // namespace

TEST(TensorMovement, ViewsOfViews) {
  Input in = make_input({3, 5, 7}, dt::float32, 1);
  const Arr<double>& a = in.a;
  const Tensor& t = in.t;
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  // permute, transpose, T
  add(t.permute({2, 0, 1}), a.permute({2, 0, 1}));
  add(t.transpose(0, 2), a.transpose(0, 2));
  add(t.transpose(-1, -2), a.transpose(1, 2));
  // flip (negative strides), several axes, then permuted
  add(t.flip({0, 2}), a.flip(0).flip(2));
  add(t.flip({1}).permute({1, 2, 0}), a.flip(1).permute({1, 2, 0}));
  // shrink, then flip, then reshape
  add(t.shrink({{1, 3}, {0, 5}, {2, 7}}), a.slice(0, 1, 2).slice(2, 2, 5));
  add(t.shrink({{0, 3}, {1, 4}, {0, 7}}).flip({1}).reshape({3, 21}),
      a.slice(1, 1, 3).flip(1).reshape({3, 21}));
  // reshape with -1 of a non-contiguous view
  add(t.permute({1, 0, 2}).reshape({-1, 7}), a.permute({1, 0, 2}).reshape({15, 7}));
  // expand of a size-1 axis and new leading axes
  add(t.shrink({{0, 3}, {2, 3}, {0, 7}}).expand({2, 3, 4, 7}), a.slice(1, 2, 1).expand({2, 3, 4, 7}));
  // squeeze / unsqueeze / flatten / unflatten / movedim
  add(t.unsqueeze(1).unsqueeze(-1), a.reshape({3, 1, 5, 7, 1}));
  add(t.shrink({{0, 1}, {0, 5}, {0, 7}}).squeeze(), a.slice(0, 0, 1).reshape({5, 7}));
  add(t.shrink({{0, 1}, {0, 5}, {0, 7}}).squeeze(0), a.slice(0, 0, 1).reshape({5, 7}));
  add(t.flatten(1), a.reshape({3, 35}));
  add(t.flatten(), a.reshape({105}));
  add(t.flatten(0, 1).unflatten(0, {5, -1}), a.reshape({5, 3, 7}));
  add(t.movedim(0, -1), a.permute({1, 2, 0}));
  add(t.movedim(2, 0), a.permute({2, 0, 1}));
  add(t.view({35, 3}), a.reshape({35, 3}));
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;
  // squeeze of an axis that is not 1 keeps the shape; zero-size views have shapes
  EXPECT_EQ(t.squeeze(1).shape(), (Shape{3, 5, 7}));
  EXPECT_EQ(t.shrink({{0, 3}, {2, 2}, {0, 7}}).shape(), (Shape{3, 0, 7}));
  EXPECT_EQ(t.reshape({7, -1, 3}).shape(), (Shape{7, 5, 3}));
  EXPECT_EQ(Tensor::zeros({0, 4}).reshape({-1, 2, 2}).shape(), (Shape{0, 2, 2}));
  EXPECT_EQ(t.expand_as(Tensor::zeros({2, 3, 5, 7})).shape(), (Shape{2, 3, 5, 7}));
}

TEST(TensorMovement, PadModes) {
  Input in = make_input({4, 5}, dt::float32, 2);
  // a flipped, transposed view: negative and non-unit strides
  Tensor v = in.t.flip({1}).T();   // (5, 4)
  Arr<double> av = in.a.flip(1).transpose(0, 1);
  std::vector<std::pair<int64_t, int64_t>> p2{{2, 1}, {3, 2}}, p1{{1, 3}};
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  add(v.pad(p2), ref_pad(av, p2, 0, 0));
  add(v.pad(p2, 2.5), ref_pad(av, p2, 0, 2.5));
  add(v.pad(p1, -std::numeric_limits<double>::infinity()), ref_pad(av, p1, 0, -INFINITY));
  add(v.pad(p2, Tensor::PadMode::Reflect), ref_pad(av, p2, 1, 0));
  add(v.pad(p2, Tensor::PadMode::Replicate), ref_pad(av, p2, 2, 0));
  add(v.pad(p2, Tensor::PadMode::Circular), ref_pad(av, p2, 3, 0));
  add(v.pad({{4, 4}}, Tensor::PadMode::Circular), ref_pad(av, {{4, 4}}, 3, 0));  // padding == size
  add(v.pad({{3, 3}}, Tensor::PadMode::Reflect), ref_pad(av, {{3, 3}}, 1, 0));    // size - 1
  // negative constant padding shrinks
  add(v.pad({{-1, 2}, {1, -2}}), ref_pad(av.slice(0, 1, 4), {{0, 2}, {1, 0}}, 0, 0).slice(1, 0, 3));
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;

  // integer and bool pads with a value keep the dtype
  Tensor ib = Tensor::from_vector<int32_t>({1, 2, 3}, {3}).pad({{1, 1}}, 7);
  EXPECT_EQ(ib.dtype(), dt::int32);
  EXPECT_EQ(ib.to_vector<int32_t>(), (std::vector<int32_t>{7, 1, 2, 3, 7}));
  Tensor bb = Tensor::from_vector<bool>({false, true}, {2}).pad({{0, 2}}, true);
  EXPECT_EQ(bb.to_vector<bool>(), (std::vector<bool>{false, true, true, true}));
}

TEST(TensorMovement, CatStackSplit) {
  Input a = make_input({2, 3, 4}, dt::float32, 3), b = make_input({2, 5, 4}, dt::float32, 4);
  Input c = make_input({4, 1, 2}, dt::float32, 5);
  Tensor cv = c.t.permute({2, 1, 0}).flip({2});  // (2, 1, 4), non-contiguous
  Arr<double> cr = c.a.permute({2, 1, 0}).flip(2);
  Tensor empty = Tensor::zeros({2, 0, 4});
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  add(Tensor::cat({a.t, b.t, cv, empty}, 1), ref_cat({a.a, b.a, cr}, 1));
  add(Tensor::cat({a.t, a.t}, -1), ref_cat({a.a, a.a}, 2));
  add(Tensor::cat({cv, a.t.shrink({{0, 2}, {0, 1}, {0, 4}})}, 0), ref_cat({cr, a.a.slice(1, 0, 1)}, 0));
  // stack: new axis anywhere
  Tensor s1 = Tensor::stack({a.t, a.t.flip({0})}, 1);
  Arr<double> rs1({2, 2, 3, 4});
  for_each_index(rs1.shape, [&](const std::vector<int64_t>& i) {
    rs1.at(i) = i[1] == 0 ? a.a.at({i[0], i[2], i[3]}) : a.a.at({1 - i[0], i[2], i[3]});
  });
  add(s1, rs1);
  add(Tensor::stack({a.t}, -1), a.a.reshape({2, 3, 4, 1}));
  // split / chunk / unbind
  std::vector<Tensor> sp = b.t.split(2, 1);  // 2, 2, 1
  ASSERT_EQ(sp.size(), 3u);
  add(sp[0], b.a.slice(1, 0, 2));
  add(sp[2], b.a.slice(1, 4, 1));
  std::vector<Tensor> sz = b.t.split(std::vector<int64_t>{1, 0, 4}, 1);
  ASSERT_EQ(sz.size(), 3u);
  EXPECT_EQ(sz[1].shape(), (Shape{2, 0, 4}));
  add(sz[2], b.a.slice(1, 1, 4));
  std::vector<Tensor> ch = b.t.chunk(2, -1);
  ASSERT_EQ(ch.size(), 2u);
  add(ch[1], b.a.slice(2, 2, 2));
  EXPECT_EQ(b.t.chunk(3, 1).size(), 3u);  // 5 -> 2, 2, 1
  std::vector<Tensor> ub = a.t.unbind(2);
  ASSERT_EQ(ub.size(), 4u);
  add(ub[3], a.a.slice(2, 3, 1).reshape({2, 3}));
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;

  // promotion and dtypes that addition would not keep exact: bool, int8 with uint8, -0.0
  Tensor bi = Tensor::cat({Tensor::from_vector<bool>({true, false}, {2}), Tensor::from_vector<bool>({true}, {1})});
  EXPECT_EQ(bi.dtype(), dt::bool_);
  EXPECT_EQ(bi.to_vector<bool>(), (std::vector<bool>{true, false, true}));
  Tensor pm = Tensor::cat({Tensor::from_vector<int8_t>({-1, 2}, {2}), Tensor::from_vector<uint8_t>({200}, {1})});
  EXPECT_EQ(pm.dtype(), dt::int16);
  EXPECT_EQ(pm.to_vector<int64_t>(), (std::vector<int64_t>{-1, 2, 200}));
  Tensor nz = Tensor::cat({Tensor::from_vector<float>({-0.0f}, {1}), Tensor::from_vector<float>({1.0f}, {1})});
  EXPECT_TRUE(std::signbit(nz.to_vector<float>()[0]));
}

TEST(TensorMovement, RepeatRollInterleave) {
  Input in = make_input({3, 4}, dt::float32, 6);
  Tensor v = in.t.flip({0});
  Arr<double> av = in.a.flip(0);
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  auto ref_repeat = [&](const Arr<double>& x, const std::vector<int64_t>& rep) {
    Shape base(rep.size() - x.shape.size(), 1);
    base.insert(base.end(), x.shape.begin(), x.shape.end());
    Arr<double> xb = x.reshape(base);
    Shape s;
    for (size_t i = 0; i < rep.size(); i++) s.push_back(rep[i] * base[i]);
    Arr<double> r(s);
    for_each_index(s, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> src(o.size());
      for (size_t i = 0; i < o.size(); i++) src[i] = o[i] % base[i];
      r.at(o) = xb.at(src);
    });
    return r;
  };
  add(v.repeat({2, 3}), ref_repeat(av, {2, 3}));
  add(v.repeat({2, 1, 1}), ref_repeat(av, {2, 1, 1}));
  EXPECT_EQ(v.repeat({0, 2}).shape(), (Shape{0, 8}));
  auto ref_roll = [&](const Arr<double>& x, int64_t shift, int64_t ax) {
    Arr<double> r(x.shape);
    int64_t n = x.shape[ax];
    for_each_index(x.shape, [&](const std::vector<int64_t>& i) {
      std::vector<int64_t> o = i;
      o[ax] = (((i[ax] + shift) % n) + n) % n;
      r.at(o) = x.at(i);
    });
    return r;
  };
  add(v.roll(1, 0), ref_roll(av, 1, 0));
  add(v.roll(-5, 1), ref_roll(av, -5, 1));
  add(v.roll({2, 7}, {1, 0}), ref_roll(ref_roll(av, 2, 1), 7, 0));
  add(v.roll(5), ref_roll(av.reshape({12}), 5, 0).reshape({3, 4}));
  auto ref_ri = [&](const Arr<double>& x, int64_t r, int64_t ax) {
    Shape s = x.shape;
    s[ax] *= r;
    Arr<double> out(s);
    for_each_index(s, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> i = o;
      i[ax] = o[ax] / r;
      out.at(o) = x.at(i);
    });
    return out;
  };
  add(v.repeat_interleave(3, 1), ref_ri(av, 3, 1));
  add(v.repeat_interleave(2, 0), ref_ri(av, 2, 0));
  add(v.repeat_interleave(2), ref_ri(av.reshape({12}), 2, 0));
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;
}

// cat, pad modes and flip on the other dtypes: values must come through bit-exact
TEST(TensorMovement, Dtypes) {
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  for (DType d : {dt::bool_, dt::int8, dt::uint16, dt::int64, dt::float16, dt::bfloat16, dt::float64}) {
    Input x = make_input({2, 3}, d, 7, -100, 100), y = make_input({2, 2}, d, 8, -100, 100);
    Tensor xv = x.t.flip({1});
    Arr<double> xa = x.a.flip(1);
    outs.push_back(Tensor::cat({xv, y.t}, 1).pad({{1, 1}}, Tensor::PadMode::Reflect));
    refs.push_back(ref_pad(ref_cat({xa, y.a}, 1), {{1, 1}}, 1, 0));
    outs.push_back(xv.pad({{1, 0}, {0, 2}}, Tensor::PadMode::Replicate).T());
    refs.push_back(ref_pad(xa, {{1, 0}, {0, 2}}, 2, 0).transpose(0, 1));
  }
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i], {0, 0})) << "case " << i << " " << outs[i].dtype().name();
}

// zero-size inputs give zero-size outputs without running kernels
TEST(TensorMovement, ZeroSize) {
  Tensor z = Tensor::zeros({0, 3});
  int64_t k0 = kernels_run();
  EXPECT_EQ(Tensor::cat({z, z}, 0).shape(), (Shape{0, 3}));
  EXPECT_EQ(Tensor::cat({z, z}, 1).shape(), (Shape{0, 6}));
  EXPECT_EQ(z.pad({{0, 0}, {1, 1}}, Tensor::PadMode::Reflect).shape(), (Shape{0, 5}));
  EXPECT_EQ(z.repeat({2, 2}).shape(), (Shape{0, 6}));
  EXPECT_EQ(z.roll(3, 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(Tensor::stack({z, z}).shape(), (Shape{2, 0, 3}));
  EXPECT_TRUE(z.pad({{1, 1}}, Tensor::PadMode::Circular).to_vector<float>().empty());
  EXPECT_EQ(kernels_run(), k0);
}
