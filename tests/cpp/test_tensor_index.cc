// Indexing ops of fg::Tensor against naive references: getitem (ints, slices with positive and
// negative steps, newaxis, ellipsis, integer tensors alone, together, broadcast, adjacent and
// separated), setitem, masked_fill, gather, scatter (replace, add, multiply), scatter_reduce,
// one_hot, tril/triu; several dtypes and non-contiguous inputs.
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;
using S = Tensor::Slice;

namespace {

struct Input {
  Arr<double> a;
  Tensor t;
};
Input make_input(const Shape& s, DType d, uint64_t seed, double lo = -10, double hi = 10) {
  Input in{rand_arr(s, d, lo, hi, seed), {}};
  in.t = to_tensor(in.a, d);
  return in;
}

// Python's slice.indices(n): resolved (start, step, count)
struct Sl {
  int64_t start, step, count;
};
Sl py_slice(std::optional<int64_t> b, std::optional<int64_t> e, std::optional<int64_t> st, int64_t n) {
  int64_t step = st.value_or(1);
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  auto fix = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    return std::clamp(x, lo, hi);
  };
  int64_t start = fix(b, step > 0 ? 0 : n - 1), stop = fix(e, step > 0 ? n : -1);
  int64_t count = 0;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) count++;
  return {start, step, count};
}
Arr<double> ref_slice(const Arr<double>& a, int64_t ax, std::optional<int64_t> b, std::optional<int64_t> e,
                      std::optional<int64_t> st) {
  Sl s = py_slice(b, e, st, a.shape[ax]);
  return a.slice(ax, s.count ? s.start : 0, s.count, s.step);
}
Arr<double> ref_take(const Arr<double>& a, int64_t ax, int64_t i) {  // a[..., i, ...] (drops the axis)
  Shape s = a.shape;
  s.erase(s.begin() + ax);
  Arr<double> v = a.slice(ax, i, 1);
  return v.reshape(s);
}

}  // namespace

TEST(TensorIndex, BasicIndexing) {
  Input in = make_input({4, 5, 6}, dt::float32, 11);
  const Tensor& t = in.t;
  const Arr<double>& a = in.a;
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  add(t[1], ref_take(a, 0, 1));
  add(t[-1], ref_take(a, 0, 3));
  add(t.getitem({2, -3}), ref_take(ref_take(a, 0, 2), 0, 2));
  add(t.getitem({S{1, 3}}), ref_slice(a, 0, 1, 3, {}));
  add(t.getitem({S{}, S{{}, {}, 2}}), ref_slice(a, 1, {}, {}, 2));
  add(t.getitem({S{}, S{}, S{{}, {}, -1}}), ref_slice(a, 2, {}, {}, -1));
  add(t.getitem({S{{}, {}, -2}, S{4, 0, -3}}), ref_slice(ref_slice(a, 0, {}, {}, -2), 1, 4, 0, -3));
  add(t.getitem({S{-100, 100, 3}}), ref_slice(a, 0, -100, 100, 3));
  add(t.getitem({Tensor::ellipsis, 0}), ref_take(a, 2, 0));
  add(t.getitem({1, Tensor::ellipsis, S{1, -1, 2}}), ref_slice(ref_take(a, 0, 1), 1, 1, -1, 2));
  add(t.getitem({Tensor::newaxis, 1, Tensor::newaxis, S{{}, {}, -1}}), ref_slice(ref_take(a, 0, 1), 0, {}, {}, -1).reshape({1, 1, 5, 6}));
  add(t.getitem({S{}, 3, Tensor::newaxis}), ref_take(a, 1, 3).reshape({4, 1, 6}));
  // indexing a non-contiguous view: permuted and flipped
  Tensor v = t.permute({2, 0, 1}).flip({1});
  Arr<double> av = a.permute({2, 0, 1}).flip(1);
  add(v.getitem({S{1, 5, 2}, -1}), ref_take(ref_slice(av, 0, 1, 5, 2), 1, 3));
  add(v[{S{{}, {}, -4}}], ref_slice(av, 0, {}, {}, -4));
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;
  // empty results: shape only
  EXPECT_EQ(t.getitem({S{3, 1}}).shape(), (Shape{0, 5, 6}));
  EXPECT_EQ(t.getitem({S{1, 3, -1}}).shape(), (Shape{0, 5, 6}));
  EXPECT_EQ(t.getitem({S{}, S{5, 100}}).shape(), (Shape{4, 0, 6}));
  EXPECT_EQ(t.getitem({Tensor::ellipsis}).shape(), t.shape());
  EXPECT_EQ(t.getitem({}).shape(), t.shape());
  // a 0-d result
  EXPECT_FLOAT_EQ(static_cast<float>(t.getitem({1, 2, 3}).item()), static_cast<float>(a.at({1, 2, 3})));
}

TEST(TensorIndex, TensorIndices) {
  Input in = make_input({5, 6, 7}, dt::float32, 12);
  const Tensor& t = in.t;
  const Arr<double>& a = in.a;
  Arr<int64_t> i1({2, 3}, {0, 4, -1, 2, -5, 3});  // negative entries count from the end
  Arr<int64_t> i2({3}, {5, 0, -2});
  Tensor t1 = to_tensor_i(i1, dt::int64), t2 = to_tensor_i(i2, dt::int32);
  auto norm = [](int64_t v, int64_t n) { return v < 0 ? v + n : v; };
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  {  // one tensor index on axis 0: (2, 3, 6, 7)
    Arr<double> r({2, 3, 6, 7});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) { r.at(o) = a.at({norm(i1.at({o[0], o[1]}), 5), o[2], o[3]}); });
    add(t.getitem({t1}), r);
  }
  {  // on the middle axis, in place: (5, 3, 7)
    Arr<double> r({5, 3, 7});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) { r.at(o) = a.at({o[0], norm(i2.at({o[1]}), 6), o[2]}); });
    add(t.getitem({S{}, t2}), r);
  }
  {  // two adjacent tensors broadcast together (2,3) with (3,): result (5, 2, 3)
    Arr<double> r({5, 2, 3});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) = a.at({o[0], norm(i1.at({o[1], o[2]}), 6), norm(i2.at({o[2]}), 7)});
    });
    add(t.getitem({S{}, t1, t2}), r);
  }
  {  // separated by a slice: the broadcast axes go first: (2, 3, 6) with (2, 1) and (3,) -> (2, 3, 6)
    Arr<double> r({2, 3, 6});
    Arr<int64_t> i3b({2, 1}, {4, 1});
    Tensor t3b = to_tensor_i(i3b, dt::int16);
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) = a.at({i3b.at({o[0], 0}), o[2], norm(i2.at({o[1]}), 7)});
    });
    add(t.getitem({t3b, S{}, t2}), r);
  }
  {  // an int and a tensor separated by a slice: both are advanced indices (numpy), so the
     // broadcast axes go first: t[1, ::-1, t2] is (3, 6); t[:, 1, t2] keeps them in place (5, 3)
    Arr<double> r({3, 6});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) { r.at(o) = a.at({1, 5 - o[1], norm(i2.at({o[0]}), 7)}); });
    add(t.getitem({1, S{{}, {}, -1}, t2}), r);
    Arr<double> r2({5, 3});
    for_each_index(r2.shape, [&](const std::vector<int64_t>& o) { r2.at(o) = a.at({o[0], 1, norm(i2.at({o[1]}), 7)}); });
    add(t.getitem({S{}, 1, t2}), r2);
  }
  {  // a lazy index tensor (computed): (t2 + 1) % 6 on axis 1 of a flipped view
    Tensor lazy = t2.add(1).mod(6);
    Arr<double> r({5, 3, 7});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      int64_t k = ((i2.at({o[1]}) + 1) % 6 + 6) % 6;
      r.at(o) = a.at({4 - o[0], k, o[2]});
    });
    add(t.flip({0}).getitem({S{}, lazy}), r);
  }
  {  // 0-d tensor index acts like an int
    Tensor z = Tensor::from_vector<int64_t>({3}, {1}).reshape({});
    add(t.getitem({S{}, S{}, z}), ref_take(a, 2, 3));
  }
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;

  // other dtypes come through exactly: int64 beyond 2^53, bool, float16
  Tensor big = Tensor::from_vector<int64_t>({(int64_t{1} << 60) + 1, -7, 42}, {3});
  Tensor idx = Tensor::from_vector<int32_t>({2, 0, 0, 1}, {4});
  EXPECT_EQ(big.getitem({idx}).to_vector<int64_t>(), (std::vector<int64_t>{42, (int64_t{1} << 60) + 1, (int64_t{1} << 60) + 1, -7}));
  Tensor bl = Tensor::from_vector<bool>({true, false, true}, {3});
  EXPECT_EQ(bl.getitem({idx}).to_vector<bool>(), (std::vector<bool>{true, true, true, false}));
}

TEST(TensorIndex, SetitemMaskedFill) {
  Input in = make_input({4, 6}, dt::float32, 13);
  const Tensor& t = in.t;
  const Arr<double>& a = in.a;
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  {  // t[1:4:2, ::-3] = v (2, 2)
    Arr<double> r = a.contiguous();
    Tensor vt = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
    double vals[2][2] = {{1, 2}, {3, 4}};
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) r.at({1 + 2 * i, 5 - 3 * j}) = vals[i][j];
    add(t.setitem({S{1, 4, 2}, S{{}, {}, -3}}, vt), r);
  }
  {  // t[-1] = 9 (scalar broadcast), t[:, 2] = column of a (4,) tensor
    Arr<double> r = a.contiguous();
    for (int j = 0; j < 6; j++) r.at({3, j}) = 9;
    add(t.setitem({-1}, 9.0), r);
    Arr<double> r2 = a.contiguous();
    for (int i = 0; i < 4; i++) r2.at({i, 2}) = 10 + i;
    add(t.setitem({S{}, 2}, Tensor::from_vector<float>({10, 11, 12, 13}, {4})), r2);
  }
  {  // ellipsis, newaxis and a negative step: t[..., None, ::-2] = 0.5
    Arr<double> r = a.contiguous();
    for (int i = 0; i < 4; i++)
      for (int j = 5; j >= 0; j -= 2) r.at({i, j}) = 0.5;
    add(t.setitem({Tensor::ellipsis, Tensor::newaxis, S{{}, {}, -2}}, 0.5), r);
  }
  {  // masked_fill with a broadcast mask (1, 6) and a scalar; with a tensor value
    std::vector<bool> mv{true, false, false, true, true, false};
    Tensor m = Tensor::from_vector<bool>(mv, {1, 6});
    Arr<double> r = a.contiguous();
    for_each_index(r.shape, [&](const std::vector<int64_t>& i) { if (mv[i[1]]) r.at(i) = -1.5; });
    add(t.masked_fill(m, -1.5), r);
    Tensor m2 = t.gt(0.0);
    Arr<double> r2 = a.map([](double x) { return x > 0 ? -x : x; });
    add(t.masked_fill(m2, t.neg()), r2);
  }
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;
  // int dtype keeps its dtype; a float value is cast into it
  Tensor it = Tensor::from_vector<int32_t>({1, 2, 3}, {3});
  Tensor f = it.masked_fill(Tensor::from_vector<bool>({false, true, false}, {3}), 7.9);
  EXPECT_EQ(f.dtype(), dt::int32);
  EXPECT_EQ(f.to_vector<int32_t>(), (std::vector<int32_t>{1, 7, 3}));
}

TEST(TensorIndex, GatherScatter) {
  Input in = make_input({4, 5}, dt::float32, 14);
  const Tensor& t = in.t;
  const Arr<double>& a = in.a;
  Arr<int64_t> g0({3, 4}, {0, 3, 3, 1, 2, 2, 0, 3, 1, 0, 0, 0});  // along dim 0: values < 4, smaller on dim 1
  Arr<int64_t> g1({4, 2}, {4, 0, 1, 1, 3, 2, 0, 4});              // along dim 1: values < 5
  Tensor tg0 = to_tensor_i(g0, dt::int64), tg1 = to_tensor_i(g1, dt::int32);
  std::vector<Tensor> outs;
  std::vector<Arr<double>> refs;
  auto add = [&](Tensor x, Arr<double> r) { outs.push_back(std::move(x)); refs.push_back(std::move(r)); };
  {
    Arr<double> r(g0.shape);
    for_each_index(r.shape, [&](const std::vector<int64_t>& i) { r.at(i) = a.at({g0.at(i), i[1]}); });
    add(t.gather(0, tg0), r);
    Arr<double> r1(g1.shape);
    for_each_index(r1.shape, [&](const std::vector<int64_t>& i) { r1.at(i) = a.at({i[0], g1.at(i)}); });
    add(t.gather(-1, tg1), r1);
    // gather from a flipped view
    Arr<double> af = a.flip(1);
    Arr<double> r2(g1.shape);
    for_each_index(r2.shape, [&](const std::vector<int64_t>& i) { r2.at(i) = af.at({i[0], g1.at(i)}); });
    add(t.flip({1}).gather(1, tg1), r2);
  }
  // scatter along dim 1: src (4, 3) larger than index (4, 2); duplicates in row 1 (1, 1)
  Input src = make_input({4, 3}, dt::float32, 15);
  auto ref_scatter = [&](int mode, bool include_self) {  // 0 replace (last wins), 1 add, 2 mul, 3 amax, 4 amin, 5 mean
    Arr<double> r = a.contiguous();
    Arr<double> cnt(a.shape, include_self ? 1.0 : 0.0);
    Arr<int64_t> hit(a.shape, 0);
    for_each_index(g1.shape, [&](const std::vector<int64_t>& i) {
      std::vector<int64_t> o{i[0], g1.at(i)};
      double s = src.a.at(i);
      double& d = r.at(o);
      bool first = !hit.at(o) && !include_self;
      hit.at(o) = 1;
      cnt.at(o) += 1;
      if (mode == 0 || first) { d = s; return; }
      if (mode == 1 || mode == 5) d += s;
      if (mode == 2) d *= s;
      if (mode == 3) d = std::max(d, s);
      if (mode == 4) d = std::min(d, s);
    });
    if (mode == 5)
      for_each_index(r.shape, [&](const std::vector<int64_t>& i) { if (hit.at(i)) r.at(i) /= cnt.at(i); });
    return r;
  };
  add(t.scatter(1, tg1, src.t), ref_scatter(0, true));
  add(t.scatter(1, tg1, src.t, "add"), ref_scatter(1, true));
  add(t.scatter(1, tg1, src.t, "multiply"), ref_scatter(2, true));
  add(t.scatter_reduce(1, tg1, src.t, "sum", false), ref_scatter(1, false));
  add(t.scatter_reduce(1, tg1, src.t, "prod", false), ref_scatter(2, false));
  add(t.scatter_reduce(1, tg1, src.t, "amax", true), ref_scatter(3, true));
  add(t.scatter_reduce(1, tg1, src.t, "amin", false), ref_scatter(4, false));
  add(t.scatter_reduce(1, tg1, src.t, "mean", true), ref_scatter(5, true));
  add(t.scatter_reduce(1, tg1, src.t, "mean", false), ref_scatter(5, false));
  {  // scatter a scalar along dim 0
    Arr<double> r = a.contiguous();
    for_each_index(g0.shape, [&](const std::vector<int64_t>& i) { r.at({g0.at(i), i[1]}) = 0.25; });
    add(t.scatter(0, tg0, 0.25), r);
  }
  realize_all(outs);
  for (size_t i = 0; i < outs.size(); i++) EXPECT_TRUE(matches(outs[i], refs[i])) << "case " << i;

  // int64 values beyond 2^53 survive gather and scatter exactly
  Tensor big = Tensor::from_vector<int64_t>({(int64_t{1} << 62) + 3, 5, -9}, {1, 3});
  Tensor ix = Tensor::from_vector<int64_t>({2, 0}, {1, 2});
  EXPECT_EQ(big.gather(1, ix).to_vector<int64_t>(), (std::vector<int64_t>{-9, (int64_t{1} << 62) + 3}));
  Tensor sc = Tensor::zeros({1, 3}, dt::int64).scatter(1, ix, big);
  EXPECT_EQ(sc.to_vector<int64_t>(), (std::vector<int64_t>{5, 0, (int64_t{1} << 62) + 3}));
}

TEST(TensorIndex, OneHotTriangles) {
  Tensor idx = Tensor::from_vector<int32_t>({2, 0, 3, 3}, {2, 2});
  Tensor oh = idx.one_hot(5);
  Tensor oh_auto = idx.one_hot();  // 4 classes from the (realized) values
  Input in = make_input({2, 3, 5}, dt::float32, 16);
  Tensor v = in.t.flip({2});
  Arr<double> av = in.a.flip(2);
  std::vector<Tensor> outs{oh, oh_auto, v.tril(), v.tril(-1), v.triu(2), v.triu(-5),
                           Tensor::ones({4, 4}, dt::bool_).tril(1)};
  realize_all(outs);
  Arr<int64_t> roh({2, 2, 5});
  std::vector<int32_t> iv{2, 0, 3, 3};
  for_each_index(roh.shape, [&](const std::vector<int64_t>& i) { roh.at(i) = iv[i[0] * 2 + i[1]] == i[2]; });
  EXPECT_EQ(outs[0].dtype(), dt::int64);
  EXPECT_TRUE(matches_i(outs[0], roh));
  EXPECT_EQ(outs[1].shape(), (Shape{2, 2, 4}));
  auto tri = [&](int64_t k, bool lower) {
    Arr<double> r(av.shape);
    for_each_index(r.shape, [&](const std::vector<int64_t>& i) {
      bool keep = lower ? i[2] - i[1] <= k : i[2] - i[1] >= k;
      r.at(i) = keep ? av.at(i) : 0;
    });
    return r;
  };
  EXPECT_TRUE(matches(outs[2], tri(0, true)));
  EXPECT_TRUE(matches(outs[3], tri(-1, true)));
  EXPECT_TRUE(matches(outs[4], tri(2, false)));
  EXPECT_TRUE(matches(outs[5], tri(-5, false)));
  Arr<int64_t> rb({4, 4});
  for_each_index(rb.shape, [&](const std::vector<int64_t>& i) { rb.at(i) = i[1] - i[0] <= 1; });
  EXPECT_TRUE(matches_i(outs[6], rb));
}

// out-of-range and malformed indices fail before any kernel runs
TEST(TensorIndex, Errors) {
  Tensor t = Tensor::zeros({3, 4});
  EXPECT_FG_ERROR(t[3], ErrorKind::Index, "index 3 is out of bounds for axis 0 with size 3");
  EXPECT_FG_ERROR(t.getitem({0, -5}), ErrorKind::Index, "index -5 is out of bounds for axis 1");
  EXPECT_FG_ERROR(t.getitem({0, 0, 0}), ErrorKind::Index, "too many indices");
  EXPECT_FG_ERROR(t.getitem({Tensor::ellipsis, Tensor::ellipsis}), ErrorKind::Index, "single ellipsis");
  EXPECT_FG_ERROR(t.getitem({S{{}, {}, 0}}), ErrorKind::Value, "slice step cannot be zero");
  Tensor realized = Tensor::from_vector<int32_t>({0, 3}, {2});
  EXPECT_FG_ERROR(t.getitem({realized}), ErrorKind::Index, "index 3 is out of bounds for axis 0 with size 3");
  EXPECT_FG_ERROR(t.getitem({Tensor::zeros({2})}), ErrorKind::Type, "index tensors must hold integers");
  EXPECT_FG_ERROR(t.getitem({Tensor::zeros({2}, dt::bool_)}), ErrorKind::NotImplemented, "bool mask");
  EXPECT_FG_ERROR(t.gather(0, realized.reshape({1, 2})), ErrorKind::Index, "index 3 is out of bounds");
  EXPECT_FG_ERROR(t.gather(2, realized.reshape({1, 2})), ErrorKind::Index, "axis 2 is out of range");
  EXPECT_FG_ERROR(t.gather(0, realized), ErrorKind::Value, "needs as many axes");
  EXPECT_FG_ERROR(t.gather(0, Tensor::zeros({1, 5}, dt::int32)), ErrorKind::Value, "larger than the tensor");
  EXPECT_FG_ERROR(t.scatter(1, Tensor::zeros({1, 2}, dt::int32), Tensor::zeros({1, 1})), ErrorKind::Value,
                  "larger than src");
  EXPECT_FG_ERROR(t.scatter(1, Tensor::zeros({1, 2}, dt::int32), 1.0, "max"), ErrorKind::Value, "reduce must be");
  EXPECT_FG_ERROR(t.scatter_reduce(1, Tensor::zeros({1, 2}, dt::int32), Tensor::zeros({1, 2}), "add"),
                  ErrorKind::Value, "reduce must be");
  EXPECT_FG_ERROR(t.masked_fill(Tensor::zeros({3, 4}), 1.0), ErrorKind::Type, "mask must be bool");
  EXPECT_FG_ERROR(t.masked_fill(Tensor::zeros({2, 4}, dt::bool_), 1.0), ErrorKind::Value, "do not broadcast");
  EXPECT_FG_ERROR(t.setitem({S{0, 2}}, Tensor::zeros({3, 4})), ErrorKind::Value, "indexed shape (2, 4)");
  EXPECT_FG_ERROR(t.setitem({realized}, 1.0), ErrorKind::NotImplemented, "tensor indices");
  EXPECT_FG_ERROR(realized.one_hot(3), ErrorKind::Index, "class 3 is out of range for 3 classes");
  EXPECT_FG_ERROR(t.one_hot(3), ErrorKind::Type, "needs an integer tensor");
  EXPECT_FG_ERROR(Tensor::zeros({3}).tril(), ErrorKind::Value, "at least 2 dimensions");
}
