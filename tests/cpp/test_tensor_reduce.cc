// Reductions and the ops built on them, against naive loops: sum, prod, max, min, mean, var, std,
// any, all, argmax, argmin over any axes with keepdim; logsumexp, softmax, log_softmax; cumsum,
// cumprod, cummax, cummin (short and long axes); sort, argsort, topk; matmul, dot, linear, einsum.
// Awkward shapes (size 1, primes, zero-size axes), non-contiguous inputs, several dtypes.
#include <algorithm>
#include <numeric>

#include "femtograd/base/flags.h"
#include "femtograd/schedule/schedule.h"
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;

namespace {

// reduce a over axes (sorted, non-negative) with f(acc, x) from init; keepdim or not
Arr<double> ref_reduce(const Arr<double>& a, const std::vector<int64_t>& axes, bool keepdim, double init,
                       const std::function<double(double, double)>& f) {
  Shape kept = a.shape;
  for (int64_t ax : axes) kept[ax] = 1;
  Arr<double> r(kept, init);
  for_each_index(a.shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> o = i;
    for (int64_t ax : axes) o[ax] = 0;
    r.at(o) = f(r.at(o), a.at(i));
  });
  if (keepdim) return r;
  Shape out;
  for (int64_t d = 0; d < a.ndim(); d++)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) out.push_back(a.shape[d]);
  return r.reshape(out);
}
int64_t count_of(const Shape& s, const std::vector<int64_t>& axes) {
  int64_t n = 1;
  for (int64_t ax : axes) n *= s[ax];
  return n;
}

struct Input {
  Arr<double> a;
  Tensor t;
};
Input make_input(const Shape& s, DType d, uint64_t seed, double lo = -5, double hi = 5) {
  Input in{rand_arr(s, d, lo, hi, seed), {}};
  in.t = to_tensor(in.a, d);
  return in;
}

Arr<double> ref_cum(const Arr<double>& a, int64_t ax, const std::function<double(double, double)>& f) {
  Arr<double> r(a.shape);
  for_each_index(a.shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> p = i;
    if (i[ax] == 0) { r.at(i) = a.at(i); return; }
    p[ax] = i[ax] - 1;
    r.at(i) = f(r.at(p), a.at(i));
  });
  return r;
}

}  // namespace

TEST(TensorReduce, BasicReductionsFloat) {
  // (3, 5, 7) seen through a permute of a (7, 3, 5) buffer
  Arr<double> base = rand_arr({7, 3, 5}, dt::float32, -5, 5, 21);
  Arr<double> a = base.permute({1, 2, 0});
  Tensor t = to_tensor(base, dt::float32).permute({1, 2, 0});
  std::vector<std::vector<int64_t>> axes_list{{}, {0}, {1}, {2}, {0, 2}, {1, 2}};
  std::vector<Tensor> outs;
  std::vector<Stacked> stacks;
  std::vector<std::string> what;
  auto sum_f = [](double x, double y) { return x + y; };
  for (const auto& axes : axes_list) {
    std::vector<int64_t> ax = axes;
    if (ax.empty()) ax = {0, 1, 2};
    double n = static_cast<double>(count_of(a.shape, ax));
    Arr<double> s = ref_reduce(a, ax, true, 0, sum_f);
    Arr<double> ss = ref_reduce(a, ax, true, 0, [](double x, double y) { return x + y * y; });
    Stacked f, b;
    f.add("sum", t.sum(axes, true), s, {1e-4, 1e-5});
    f.add("max", t.max(axes, true), ref_reduce(a, ax, true, -INFINITY, [](double x, double y) { return std::max(x, y); }), {0, 0});
    f.add("min", t.min(axes, true), ref_reduce(a, ax, true, INFINITY, [](double x, double y) { return std::min(x, y); }), {0, 0});
    f.add("mean", t.mean(axes, true), s.map([&](double v) { return v / n; }), {1e-5, 1e-5});
    f.add("var", t.var(axes, true), zip(s, ss, [&](double sm, double sq) { return (sq - sm * sm / n) / (n - 1); }), {1e-4, 1e-4});
    f.add("std", t.stddev(axes, true, 0), zip(s, ss, [&](double sm, double sq) { return std::sqrt((sq - sm * sm / n) / n); }), {1e-4, 1e-4});
    f.add("prod", t.mul(0.3).prod(axes, true), ref_reduce(a, ax, true, 1, [](double x, double y) { return x * y * 0.3; }), {1e-6, 1e-4});
    b.add("any", t.gt(4.0).any(axes, true), ref_reduce(a, ax, true, 0, [](double x, double y) { return double(x || y > 4); }), {0, 0});
    b.add("all", t.gt(-4.5).all(axes, true), ref_reduce(a, ax, true, 1, [](double x, double y) { return double(x && y > -4.5); }), {0, 0});
    outs.push_back(f.stacked());
    stacks.push_back(f);
    outs.push_back(b.stacked());
    stacks.push_back(b);
    what.insert(what.end(), 2, "axes " + fg::shape_str(axes));
    // keepdim=false drops the reduced axes (a view of the same kernel's result)
    Shape dropped;
    for (int64_t d = 0; d < 3; d++)
      if (std::find(ax.begin(), ax.end(), d) == ax.end()) dropped.push_back(a.shape[d]);
    EXPECT_EQ(t.sum(axes).shape(), dropped);
    EXPECT_EQ(t.var(axes).shape(), dropped);
    EXPECT_EQ(t.any(axes).shape(), dropped);
  }
  // logsumexp / softmax / log_softmax on every axis
  for (int64_t ax : {0, 1, -1}) {
    int64_t pa = ax < 0 ? ax + 3 : ax;
    Arr<double> m = ref_reduce(a, {pa}, true, -INFINITY, [](double x, double y) { return std::max(x, y); });
    Arr<double> se = ref_reduce(zip(a, m, [](double x, double mx) { return std::exp(x - mx); }), {pa}, true, 0, sum_f);
    Arr<double> lse = zip(m, se, [](double mx, double s) { return mx + std::log(s); });
    Stacked f;
    f.add("logsumexp", t.logsumexp(ax, true).expand(t.shape()), lse.expand(a.shape).contiguous(), {1e-5, 1e-5});
    f.add("softmax", t.softmax(ax), zip(a, lse, [](double x, double l) { return std::exp(x - l); }), {1e-6, 1e-5});
    f.add("log_softmax", t.log_softmax(ax), zip(a, lse, [](double x, double l) { return x - l; }), {1e-5, 1e-5});
    outs.push_back(f.stacked());
    stacks.push_back(f);
    what.push_back("softmax axis " + std::to_string(ax));
  }
  EXPECT_EQ(t.logsumexp(1).shape(), (Shape{3, 7}));
  realize_all(outs);
  for (size_t k = 0; k < outs.size(); k++) check_stacked(outs[k], stacks[k], what[k]);
}

TEST(TensorReduce, DtypesAndResultTypes) {
  std::vector<Tensor> outs;
  std::vector<Stacked> stacks;
  for (DType d : all_dtypes()) {
    // (4, 3) flipped: sums stay small enough for every dtype
    Arr<double> base = rand_arr({4, 3}, d, -20, 20, 30 + static_cast<int>(d.scalar));
    Arr<double> a = base.flip(0);
    Tensor t = to_tensor(base, d).flip({0});
    Tensor s = t.sum({0}, true), mx = t.max({0}, true), mn = t.min({0}, true), pr = t.prod({0}, true);
    // PyTorch's result dtypes
    DType want_sum = d.is_float() ? d : d == dt::uint64 ? d : dt::int64;
    EXPECT_EQ(s.dtype(), want_sum) << d.name();
    EXPECT_EQ(pr.dtype(), want_sum) << d.name();
    EXPECT_EQ(mx.dtype(), d) << d.name();
    EXPECT_EQ(mn.dtype(), d) << d.name();
    Tol tol = d.is_float() ? tol_for(d) : Tol{0, 0};
    // every result as float64, stacked: one kernel per dtype
    auto f64 = [](const Tensor& x) { return x.cast(dt::float64); };
    Stacked st;
    st.add("sum", f64(s), ref_reduce(a, {0}, true, 0, [](double x, double y) { return x + y; }), tol);
    st.add("max", f64(mx), ref_reduce(a, {0}, true, -INFINITY, [](double x, double y) { return std::max(x, y); }), {0, 0});
    st.add("min", f64(mn), ref_reduce(a, {0}, true, INFINITY, [](double x, double y) { return std::min(x, y); }), {0, 0});
    st.add("max_rows", f64(t.max({1}, true)).reshape({1, 4}).shrink({{0, 1}, {0, 3}}),
           ref_reduce(a, {1}, true, -INFINITY, [](double x, double y) { return std::max(x, y); }).reshape({1, 4}).slice(1, 0, 3), {0, 0});
    if (d.is_int() || d.is_bool())
      st.add("prod", f64(pr), ref_reduce(a, {0}, true, 1, [](double x, double y) { return x * y; }), {0, 0});
    if (!d.is_bool()) {
      Tensor m = t.mean({0}, true);
      EXPECT_EQ(m.dtype(), d.is_float() ? d : dt::float32) << d.name();
      st.add("mean", f64(m), ref_reduce(a, {0}, true, 0, [](double x, double y) { return x + y / 4; }),
             d.is_float() ? tol : Tol{1e-5, 1e-5});
    }
    outs.push_back(st.stacked());
    stacks.push_back(st);
  }
  realize_all(outs);
  for (size_t k = 0; k < outs.size(); k++) check_stacked(outs[k], stacks[k], all_dtypes()[k].name());
}

TEST(TensorReduce, ArgmaxArgminAwkward) {
  // ties pick the first index; NaN is the maximum (PyTorch); size-1 and prime axes
  Tensor t = Tensor::from_vector<float>({1, 3, 3, -2, 0, NAN, 5, 5, 2, 2, 1, 1}, {3, 4});
  Tensor ti = Tensor::from_vector<int16_t>({4, -1, 4, -1, 7, 7}, {2, 3});
  Input p = make_input({1, 13, 3}, dt::float32, 40);
  std::vector<Tensor> outs{t.argmax(1), t.argmin(1), t.argmax(0, true), t.argmax(), ti.argmax(1), ti.argmin(0),
                           p.t.argmax(1), p.t.flip({1}).argmin(1), p.t.argmax(0)};
  realize_all(outs);
  EXPECT_EQ(outs[0].dtype(), dt::int64);
  EXPECT_EQ(outs[0].to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(outs[1].to_vector<int64_t>(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(outs[2].shape(), (Shape{1, 4}));
  EXPECT_EQ(outs[2].to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(outs[3].to_vector<int64_t>(), (std::vector<int64_t>{5}));
  EXPECT_EQ(outs[4].to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(outs[5].to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  Arr<int64_t> amax({1, 3}), amin({1, 3});
  for (int64_t c = 0; c < 3; c++) {
    int64_t bi = 0, wi = 0;
    Arr<double> f = p.a.flip(1);
    for (int64_t r = 1; r < 13; r++) {
      if (p.a.at({0, r, c}) > p.a.at({0, bi, c})) bi = r;
      if (f.at({0, r, c}) < f.at({0, wi, c})) wi = r;
    }
    amax.at({0, c}) = bi;
    amin.at({0, c}) = wi;
  }
  EXPECT_TRUE(matches_i(outs[6], amax));
  EXPECT_TRUE(matches_i(outs[7], amin));
  EXPECT_TRUE(matches_i(outs[8], Arr<int64_t>({13, 3}, 0)));
}

TEST(TensorReduce, ZeroSizeAndEmptyAxes) {
  Tensor z = Tensor::zeros({0, 3});
  std::vector<Tensor> outs{z.sum({0}), z.prod({0}), z.any({0}), z.all({0}), z.mean({0}), z.sum(), z.sum({1})};
  realize_all(outs);
  EXPECT_EQ(outs[0].to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(outs[1].to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(outs[2].to_vector<bool>(), (std::vector<bool>{false, false, false}));
  EXPECT_EQ(outs[3].to_vector<bool>(), (std::vector<bool>{true, true, true}));
  for (float v : outs[4].to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(outs[5].item(), 0);
  EXPECT_EQ(outs[6].shape(), (Shape{0}));
  // a 0-d tensor reduces to itself
  Tensor s = Tensor::full({}, 2.5);
  EXPECT_EQ(s.sum().item(), 2.5);
  EXPECT_EQ(s.max().shape(), Shape{});
}

TEST(TensorReduce, Scans) {
  Input in = make_input({5, 6}, dt::float32, 50, -2, 2);
  Tensor v = in.t.T();  // (6, 5) transposed view
  Arr<double> av = in.a.transpose(0, 1);
  Input lng = make_input({2, 600}, dt::float32, 51, -1, 1);  // long axis: the blocked path
  Tensor ints = Tensor::from_vector<int8_t>({100, 100, 100, -5, 3, 2}, {6});
  Tensor bools = Tensor::from_vector<bool>({true, false, true, true}, {4});
  std::vector<Tensor> outs{v.cumsum(0),      v.cumsum(-1),     v.cumprod(1),  v.cummax(0), v.cummin(1),
                           lng.t.cumsum(1),  lng.t.cummax(1),  ints.cumsum(), ints.cumprod(), bools.cumsum(),
                           ints.cummax(),    ints.cummin(),    lng.t.flip({1}).cumsum(-1)};
  realize_all(outs);
  auto add = [](double x, double y) { return x + y; };
  auto mul = [](double x, double y) { return x * y; };
  auto mx = [](double x, double y) { return std::max(x, y); };
  auto mn = [](double x, double y) { return std::min(x, y); };
  EXPECT_TRUE(matches(outs[0], ref_cum(av, 0, add)));
  EXPECT_TRUE(matches(outs[1], ref_cum(av, 1, add)));
  EXPECT_TRUE(matches(outs[2], ref_cum(av, 1, mul)));
  EXPECT_TRUE(matches(outs[3], ref_cum(av, 0, mx)));
  EXPECT_TRUE(matches(outs[4], ref_cum(av, 1, mn)));
  EXPECT_TRUE(matches(outs[5], ref_cum(lng.a, 1, add), {1e-4, 1e-5}));
  EXPECT_TRUE(matches(outs[6], ref_cum(lng.a, 1, mx)));
  EXPECT_EQ(outs[7].dtype(), dt::int64);  // no int8 overflow: ints accumulate in int64
  EXPECT_EQ(outs[7].to_vector<int64_t>(), (std::vector<int64_t>{100, 200, 300, 295, 298, 300}));
  EXPECT_EQ(outs[8].to_vector<int64_t>(), (std::vector<int64_t>{100, 10000, 1000000, -5000000, -15000000, -30000000}));
  EXPECT_EQ(outs[9].to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(outs[10].dtype(), dt::int8);
  EXPECT_EQ(outs[10].to_vector<int64_t>(), (std::vector<int64_t>{100, 100, 100, 100, 100, 100}));
  EXPECT_EQ(outs[11].to_vector<int64_t>(), (std::vector<int64_t>{100, 100, 100, -5, -5, -5}));
  EXPECT_TRUE(matches(outs[12], ref_cum(lng.a.flip(1), 1, add), {1e-4, 1e-5}));
  EXPECT_EQ(Tensor::zeros({3, 0}).cumsum(1).shape(), (Shape{3, 0}));
}

TEST(TensorReduce, SortTopk) {
  // ties (stable order), negative values, a non-contiguous view, NaN
  std::vector<float> vals{3, -1, 2, 3, 0, -1, 7, 2, 2, 5, 5, -4};
  Tensor t = Tensor::from_vector<float>(vals, {3, 4});
  Input r = make_input({5, 9}, dt::float32, 60);
  Tensor rv = r.t.T();  // (9, 5)
  Arr<double> rav = r.a.transpose(0, 1);
  Tensor nan = Tensor::from_vector<float>({1, NAN, -2, NAN, 0}, {5});
  Tensor i16 = Tensor::from_vector<int16_t>({5, -3, 5, 0, -3}, {5});
  auto [sv, si] = t.sort(1);
  auto [dv, di] = t.sort(1, true);
  auto [s0, i0] = rv.sort(0);
  auto [kv, ki] = rv.topk(3, 1);
  auto [kv2, ki2] = rv.topk(2, 0, false);
  auto [nv, ni] = nan.sort();
  auto [nd, ndi] = nan.sort(0, true);
  auto [iv, ii] = i16.sort(0, true);
  std::vector<Tensor> outs{sv, si, dv, di, s0, i0, kv, ki, kv2, ki2, nv, ni, nd, ndi, iv, ii, t.argsort(0)};
  realize_all(outs);
  // reference: stable sort of (value, index) pairs per row
  auto ref_sort = [](const Arr<double>& a, int64_t ax, bool desc, int64_t k, Arr<double>& vo, Arr<int64_t>& io) {
    Shape s = a.shape;
    s[ax] = k;
    vo = Arr<double>(s);
    io = Arr<int64_t>(s);
    Shape rows = a.shape;
    rows[ax] = 1;
    for_each_index(rows, [&](const std::vector<int64_t>& base) {
      std::vector<int64_t> order(a.shape[ax]);
      std::iota(order.begin(), order.end(), 0);
      auto val = [&](int64_t j) { std::vector<int64_t> i = base; i[ax] = j; return a.at(i); };
      auto key = [&](int64_t j) { double x = val(j); return std::isnan(x) ? INFINITY : x; };
      auto isn = [&](int64_t j) { return std::isnan(val(j)); };
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
        if (isn(x) != isn(y)) return desc ? isn(x) : isn(y);  // NaN is the largest
        return desc ? key(x) > key(y) : key(x) < key(y);
      });
      for (int64_t j = 0; j < k; j++) {
        std::vector<int64_t> o = base;
        o[ax] = j;
        vo.at(o) = val(order[j]);
        io.at(o) = order[j];
      }
    });
  };
  Arr<double> ta({3, 4}, std::vector<double>(vals.begin(), vals.end()));
  Arr<double> rv_, dv_;
  Arr<int64_t> ri_, di_;
  ref_sort(ta, 1, false, 4, rv_, ri_);
  EXPECT_TRUE(matches(outs[0], rv_));
  EXPECT_TRUE(matches_i(outs[1], ri_));
  ref_sort(ta, 1, true, 4, dv_, di_);
  EXPECT_TRUE(matches(outs[2], dv_));
  EXPECT_TRUE(matches_i(outs[3], di_));
  ref_sort(rav, 0, false, 9, rv_, ri_);
  EXPECT_TRUE(matches(outs[4], rv_));
  EXPECT_TRUE(matches_i(outs[5], ri_));
  ref_sort(rav, 1, true, 3, rv_, ri_);
  EXPECT_TRUE(matches(outs[6], rv_));
  EXPECT_TRUE(matches_i(outs[7], ri_));
  ref_sort(rav, 0, false, 2, rv_, ri_);
  EXPECT_TRUE(matches(outs[8], rv_));
  EXPECT_TRUE(matches_i(outs[9], ri_));
  Arr<double> na({5}, std::vector<double>{1, NAN, -2, NAN, 0});
  ref_sort(na, 0, false, 5, rv_, ri_);
  EXPECT_TRUE(matches(outs[10], rv_));
  EXPECT_TRUE(matches_i(outs[11], ri_));
  ref_sort(na, 0, true, 5, rv_, ri_);
  EXPECT_TRUE(matches(outs[12], rv_));
  EXPECT_TRUE(matches_i(outs[13], ri_));
  EXPECT_EQ(outs[14].dtype(), dt::int16);
  EXPECT_EQ(outs[14].to_vector<int64_t>(), (std::vector<int64_t>{5, 5, 0, -3, -3}));
  EXPECT_EQ(outs[15].to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 3, 1, 4}));
  ref_sort(ta, 0, false, 3, rv_, ri_);
  EXPECT_TRUE(matches_i(outs[16], ri_));
  EXPECT_EQ(t.topk(0, 1).first.shape(), (Shape{3, 0}));
}

TEST(TensorReduce, MatmulLinearEinsum) {
  Input a = make_input({2, 3, 4}, dt::float32, 70), b = make_input({4, 5}, dt::float32, 71);
  Input c = make_input({5, 1, 4, 3}, dt::float32, 72), v = make_input({4}, dt::float32, 73);
  Input bias = make_input({5}, dt::float32, 74);
  Tensor bt = b.t.T().contiguous().T();  // (4, 5) with column-major strides (lazy: transposed twice)
  auto ref_mm = [](const Arr<double>& x, const Arr<double>& y) {  // (..., n, k) x (..., k, m), broadcast
    Shape xs = x.shape, ys = y.shape;
    int64_t n = xs[xs.size() - 2], k = xs.back(), m = ys.back();
    Shape xb(xs.begin(), xs.end() - 2), yb(ys.begin(), ys.end() - 2);
    Shape bb = bshape(xb, yb);
    Shape xe = bb, ye = bb, out = bb;
    xe.insert(xe.end(), {n, k});
    ye.insert(ye.end(), {k, m});
    out.insert(out.end(), {n, m});
    Arr<double> X = x.expand(xe), Y = y.expand(ye), r(out);
    for_each_index(out, [&](const std::vector<int64_t>& i) {
      double s = 0;
      for (int64_t q = 0; q < k; q++) {
        std::vector<int64_t> xi = i, yi = i;
        xi[xi.size() - 1] = q;
        yi[yi.size() - 2] = q;
        s += X.at(xi) * Y.at(yi);
      }
      r.at(i) = s;
    });
    return r;
  };
  std::vector<Tensor> outs{a.t.matmul(b.t), a.t.matmul(bt), c.t.matmul(a.t), a.t.matmul(v.t), v.t.matmul(b.t),
                           v.t.dot(v.t), a.t.linear(b.t, bias.t), a.t.linear(v.t),
                           Tensor::einsum("bij,jk->bik", {a.t, b.t}), Tensor::einsum("bij->bji", {a.t}),
                           Tensor::einsum("i,i->", {v.t, v.t}), Tensor::einsum("ij,ik->jk", {b.t, b.t}),
                           Tensor::einsum("ii->i", {b.t.shrink({{0, 4}, {0, 4}})}),
                           Tensor::einsum("ii", {b.t.shrink({{0, 4}, {0, 4}})}),
                           Tensor::einsum("...ij,...jk->...ik", {c.t, a.t}), Tensor::einsum("ij,jk", {a.t[0], b.t}),
                           Tensor::einsum("i,j->ij", {v.t, bias.t})};
  realize_all(outs);
  Tol tol{2e-5, 2e-5};
  EXPECT_TRUE(matches(outs[0], ref_mm(a.a, b.a), tol));
  EXPECT_TRUE(matches(outs[1], ref_mm(a.a, b.a), tol));
  EXPECT_TRUE(matches(outs[2], ref_mm(c.a, a.a), tol));
  EXPECT_TRUE(matches(outs[3], ref_mm(a.a, v.a.reshape({4, 1})).reshape({2, 3}), tol));
  EXPECT_TRUE(matches(outs[4], ref_mm(v.a.reshape({1, 4}), b.a).reshape({5}), tol));
  EXPECT_TRUE(matches(outs[5], ref_mm(v.a.reshape({1, 4}), v.a.reshape({4, 1})).reshape({}), tol));
  EXPECT_TRUE(matches(outs[6], zip(ref_mm(a.a, b.a), bias.a, [](double x, double y) { return x + y; }), tol));
  EXPECT_TRUE(matches(outs[7], zip(a.a, v.a, [](double x, double y) { return x * y; }), tol));
  EXPECT_TRUE(matches(outs[8], ref_mm(a.a, b.a), tol));
  EXPECT_TRUE(matches(outs[9], a.a.transpose(1, 2), tol));
  EXPECT_TRUE(matches(outs[10], ref_mm(v.a.reshape({1, 4}), v.a.reshape({4, 1})).reshape({}), tol));
  EXPECT_TRUE(matches(outs[11], ref_mm(b.a.transpose(0, 1), b.a), tol));
  Arr<double> diag({4});
  for (int64_t i = 0; i < 4; i++) diag.at({i}) = b.a.at({i, i});
  EXPECT_TRUE(matches(outs[12], diag, tol));
  EXPECT_NEAR(outs[13].item(), diag.at({0}) + diag.at({1}) + diag.at({2}) + diag.at({3}), 1e-5);
  EXPECT_TRUE(matches(outs[14], ref_mm(c.a, a.a), tol));
  EXPECT_TRUE(matches(outs[15], ref_mm(a.a.slice(0, 0, 1).reshape({3, 4}), b.a), tol));
  EXPECT_TRUE(matches(outs[16], zip(v.a.reshape({4, 1}), bias.a, [](double x, double y) { return x * y; }), tol));
  // integer matmul keeps the dtype and is exact
  Tensor im = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor r = im.matmul(im.T());
  EXPECT_EQ(r.dtype(), dt::int32);
  EXPECT_EQ(r.to_vector<int32_t>(), (std::vector<int32_t>{14, 32, 32, 77}));
}

// Large CPU matmuls read their right operand through column panels (a copy made first, see
// panel_packed in tensor_reduce.cc): batched, transposed, fused and float64 operands, against a
// naive loop, and the same values with the packing off.
TEST(TensorReduce, MatmulThroughPanels) {
  auto ref = [](const Arr<double>& x, const Arr<double>& y) {  // (B, n, k) x (B or 1, k, m)
    int64_t B = x.shape[0], n = x.shape[1], k = x.shape[2], m = y.shape[2];
    Arr<double> r({B, n, m});
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
          double s = 0;
          for (int64_t q = 0; q < k; q++) s += x.at({b, i, q}) * y.at({y.shape[0] == 1 ? 0 : b, q, j});
          r.at({b, i, j}) = s;
        }
    return r;
  };
  struct Case {
    Shape a, b;
    DType dt;
    bool transposed_b;  // b given as the transpose of a (m, k) tensor
  };
  const std::vector<Case> cases = {
      {{1, 160, 256}, {1, 256, 96}, dt::float32, false},  // blocked: 40 row tiles
      {{1, 64, 256}, {1, 256, 80}, dt::float32, true},
      {{3, 40, 128}, {3, 128, 144}, dt::float32, false},  // batched, 40 rows: a partial last tile
      {{2, 37, 128}, {1, 128, 144}, dt::float32, false},  // b broadcast over the batch, prime rows
      {{1, 48, 96}, {1, 96, 88}, dt::float64, false},
  };
  uint64_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(fg::shape_str(c.a) + " @ " + fg::shape_str(c.b) + " " + std::string(c.dt.name()));
    Input a = make_input(c.a, c.dt, seed++, -1, 1), b = make_input(c.b, c.dt, seed++, -1, 1);
    Tensor bt = b.t;
    if (c.transposed_b) bt = to_tensor(b.a.transpose(1, 2), c.dt).transpose(1, 2);
    Tensor fused = a.t.matmul(bt * 2.0 + 1.0);  // the panel copy computes b*2+1 on the way
    Tensor plain = a.t.matmul(bt);
    std::vector<Tensor> outs{plain, fused};
    realize_all(outs);
    Arr<double> b2(b.a.shape);
    for_each_index(b.a.shape, [&](const std::vector<int64_t>& i) { b2.at(i) = b.a.at(i) * 2 + 1; });
    Tol tol = c.dt == dt::float64 ? Tol{1e-10, 1e-10} : Tol{1e-4, 1e-4};
    EXPECT_TRUE(matches(outs[0], ref(a.a, b.a), tol));
    EXPECT_TRUE(matches(outs[1], ref(a.a, b2), tol));
    fg::Context off{{"MATMUL_PACK", 0}};
    EXPECT_TRUE(matches(a.t.matmul(bt).realize(), ref(a.a, b.a), tol));
  }
}

TEST(TensorReduce, HalfMatmulMultipliesInFloat) {
  // x = 1 + 2^-10 and y = 1 - 2^-11 are exact in float16; their product 1 + 2^-11 - 2^-21 rounds to
  // 1 in float16. 3072 exact products sum to 3073.4985..., which rounds to 3074 in float16; products
  // rounded to float16 first would sum to 3072. Matmul multiplies in float32 (exact) and rounds once.
  for (fg::DType dt : {fg::dtypes::float16, fg::dtypes::bfloat16}) {
    float x = dt == fg::dtypes::float16 ? 1 + std::ldexp(1.f, -10) : 1 + std::ldexp(1.f, -7);
    float y = dt == fg::dtypes::float16 ? 1 - std::ldexp(1.f, -11) : 1 - std::ldexp(1.f, -8);
    int64_t k = 3072;
    fg::Tensor a = fg::Tensor::from_vector(std::vector<float>(k, x), {1, k}).cast(dt);
    fg::Tensor b = fg::Tensor::from_vector(std::vector<float>(k, y), {k, 1}).cast(dt);
    float got = a.matmul(b).cast(fg::dtypes::float32).to_vector<float>()[0];
    float want = a.cast(fg::dtypes::float32).matmul(b.cast(fg::dtypes::float32)).cast(dt).cast(fg::dtypes::float32).to_vector<float>()[0];
    EXPECT_EQ(got, want) << dt.name();
    EXPECT_GT(got, float(k)) << dt.name() << ": products were rounded before the sum";
    // (the CPU backend computes half math in float without rounding each result, so there the
    // values above agree either way: the kernel's multiply itself must be a float32 one)
    int muls = 0;
    for (const fg::ScheduleItem& it : fg::create_schedule({a.matmul(b).uop()}).items)
      if (it.kind == fg::ScheduleItem::Kind::Kernel)
        for (const fg::UOp* n : it.ast->toposort())
          if (n->op == fg::Op::MUL) {
            muls++;
            EXPECT_EQ(n->dtype, fg::dtypes::float32) << dt.name();
          }
    EXPECT_GE(muls, 1);
  }
}

TEST(TensorReduce, Errors) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_FG_ERROR(t.sum({2}), ErrorKind::Index, "axis 2 is out of range");
  EXPECT_FG_ERROR(t.sum({0, -2}), ErrorKind::Value, "repeated axis");
  EXPECT_FG_ERROR(Tensor::zeros({0, 3}).max({0}), ErrorKind::Value, "empty axis");
  EXPECT_FG_ERROR(Tensor::zeros({0, 3}).min({0}), ErrorKind::Value, "empty axis");
  EXPECT_FG_ERROR(Tensor::zeros({0, 3}).argmax(0), ErrorKind::Value, "empty axis");
  EXPECT_FG_ERROR(t.softmax(2), ErrorKind::Index, "out of range");
  EXPECT_FG_ERROR(t.cumsum(-3), ErrorKind::Index, "out of range");
  EXPECT_FG_ERROR(t.topk(4, 1), ErrorKind::Value, "k = 4 is out of range");
  EXPECT_FG_ERROR(t.sort(5), ErrorKind::Index, "out of range");
  EXPECT_FG_ERROR(t.matmul(Tensor::zeros({2, 3})), ErrorKind::Value, "cannot be multiplied");
  EXPECT_FG_ERROR(t.matmul(Tensor::zeros({})), ErrorKind::Value, "at least one dimension");
  EXPECT_FG_ERROR(Tensor::zeros({2, 2, 3}).matmul(Tensor::zeros({3, 3, 1})), ErrorKind::Value, "do not broadcast");
  EXPECT_FG_ERROR(Tensor::einsum("ij,jk->ik", {t}), ErrorKind::Value, "has 2 operands, 1 were given");
  EXPECT_FG_ERROR(Tensor::einsum("ij,jk->ik", {t, t}), ErrorKind::Value, "label 'j' has size 3");
  EXPECT_FG_ERROR(Tensor::einsum("ijk->i", {t}), ErrorKind::Value, "names 3 axes, the operand has 2");
  EXPECT_FG_ERROR(Tensor::einsum("ij->iz", {t}), ErrorKind::Value, "output label 'z'");
  EXPECT_FG_ERROR(Tensor::einsum("i1->i", {t}), ErrorKind::Value, "invalid character '1'");
  EXPECT_FG_ERROR(Tensor::einsum("ii->i", {t}), ErrorKind::Value, "repeats in operand 0");
}
