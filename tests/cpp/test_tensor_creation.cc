// Creation of fg::Tensor: full/zeros/ones/*_like on every dtype, arange, linspace, eye, from host
// data of every dtype (round trip with no kernel, and read through views), empty, the shape and
// dtype accessors, item, copy out, and realize's shared state.
#include <cstring>

#include "femtograd/runtime/device.h"
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;

TEST(TensorCreation, FullZerosOnesEveryDtype) {
  std::vector<Tensor> outs;
  std::vector<Stacked> stacks;
  for (DType d : all_dtypes()) {
    double v = d.is_bool() ? 1 : d.is_unsigned() ? 200 : d.is_float() ? -2.5 : -7;
    Tensor like = Tensor::empty({2, 3}, d);
    EXPECT_EQ(like.dtype(), d);
    EXPECT_EQ(like.shape(), (Shape{2, 3}));
    Stacked s;
    auto f64 = [](const Tensor& t) { return t.cast(dt::float64); };
    fg::Scalar sv = d.is_float() ? fg::Scalar(v) : d.is_bool() ? fg::Scalar(true) : fg::Scalar(static_cast<int64_t>(v));
    s.add("full", f64(Tensor::full({2, 3}, sv, d)), Arr<double>({2, 3}, v), {0, 0});
    s.add("zeros", f64(Tensor::zeros({2, 3}, d)), Arr<double>({2, 3}, 0.0), {0, 0});
    s.add("ones", f64(Tensor::ones({2, 3}, d)), Arr<double>({2, 3}, 1.0), {0, 0});
    s.add("full_like", f64(like.full_like(sv)), Arr<double>({2, 3}, v), {0, 0});
    s.add("zeros_like", f64(like.zeros_like()), Arr<double>({2, 3}, 0.0), {0, 0});
    s.add("ones_like", f64(like.ones_like()), Arr<double>({2, 3}, 1.0), {0, 0});
    s.add("full_like f32", like.full_like(1.5, dt::float32).cast(dt::float64), Arr<double>({2, 3}, 1.5), {0, 0});
    EXPECT_EQ(like.zeros_like().dtype(), d);
    EXPECT_EQ(like.empty_like().dtype(), d);
    EXPECT_EQ(like.full_like(1.5, dt::float32).dtype(), dt::float32);
    outs.push_back(s.stacked());
    stacks.push_back(s);
  }
  realize_all(outs);
  for (size_t k = 0; k < outs.size(); k++) check_stacked(outs[k], stacks[k], all_dtypes()[k].name());
  // the dtype follows the scalar's kind when not given
  EXPECT_EQ(Tensor::full({2}, 3).dtype(), dt::int64);
  EXPECT_EQ(Tensor::full({2}, 2.5).dtype(), dt::float32);
  EXPECT_EQ(Tensor::full({2}, true).dtype(), dt::bool_);
  EXPECT_EQ(Tensor::zeros({2}).dtype(), dt::float32);
  // 0-d and empty shapes
  EXPECT_EQ(Tensor::full({}, 4.0).item(), 4.0);
  EXPECT_EQ(Tensor::ones({}).ndim(), 0);
  EXPECT_EQ(Tensor::zeros({3, 0, 2}).numel(), 0);
  EXPECT_TRUE(Tensor::zeros({3, 0, 2}).to_vector<float>().empty());
}

TEST(TensorCreation, ArangeLinspaceEye) {
  Tensor a1 = Tensor::arange(5), a2 = Tensor::arange(2, 11, 3), a3 = Tensor::arange(5, 0, -2);
  Tensor a4 = Tensor::arange(0.0, 1.0, 0.25), a5 = Tensor::arange(-3.5, 2), a6 = Tensor::arange(10, {}, 1, dt::float16);
  Tensor a7 = Tensor::arange(1000), a8 = Tensor::arange(0), a9 = Tensor::arange(3, 3);
  Tensor l1 = Tensor::linspace(0, 1, 5), l2 = Tensor::linspace(-1, 1, 1), l3 = Tensor::linspace(3, -3, 7, dt::float64);
  Tensor l4 = Tensor::linspace(0, 1, 0);
  Tensor e1 = Tensor::eye(3), e2 = Tensor::eye(2, 4), e3 = Tensor::eye(3, 2, dt::int32), e4 = Tensor::eye(1);
  std::vector<Tensor> outs{a1, a2, a3, a4, a5, a6, a7, l1, l2, l3, e1, e2, e3, e4};
  realize_all(outs);
  EXPECT_EQ(a1.dtype(), dt::int64);
  EXPECT_EQ(a1.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(a2.to_vector<int64_t>(), (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(a3.to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(a4.dtype(), dt::float32);
  EXPECT_EQ(a4.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(a5.to_vector<float>(), (std::vector<float>{-3.5f, -2.5f, -1.5f, -0.5f, 0.5f, 1.5f}));
  EXPECT_EQ(a6.dtype(), dt::float16);
  EXPECT_EQ(a6.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::vector<int64_t> big = a7.to_vector<int64_t>();
  for (int64_t i = 0; i < 1000; i++) ASSERT_EQ(big[i], i);
  EXPECT_EQ(a8.shape(), (Shape{0}));
  EXPECT_EQ(a9.shape(), (Shape{0}));
  std::vector<float> lv = l1.to_vector<float>();
  for (int i = 0; i < 5; i++) EXPECT_FLOAT_EQ(lv[i], i * 0.25f);
  EXPECT_EQ(l2.to_vector<float>(), (std::vector<float>{-1}));
  EXPECT_EQ(l3.dtype(), dt::float64);
  EXPECT_EQ(l3.to_vector<double>(), (std::vector<double>{3, 2, 1, 0, -1, -2, -3}));
  EXPECT_EQ(l4.shape(), (Shape{0}));
  auto eye_ref = [](int64_t n, int64_t m) {
    Arr<double> r({n, m});
    for (int64_t i = 0; i < std::min(n, m); i++) r.at({i, i}) = 1;
    return r;
  };
  EXPECT_TRUE(matches(e1, eye_ref(3, 3), {0, 0}));
  EXPECT_TRUE(matches(e2, eye_ref(2, 4), {0, 0}));
  EXPECT_EQ(e3.dtype(), dt::int32);
  EXPECT_TRUE(matches(e3, eye_ref(3, 2), {0, 0}));  // eye(4, 2): see TensorPipelineBugs
  EXPECT_TRUE(matches(e4, eye_ref(1, 1), {0, 0}));
  EXPECT_EQ(Tensor::eye(0).shape(), (Shape{0, 0}));
}

TEST(TensorCreation, HostDataEveryDtype) {
  std::vector<Tensor> views;
  std::vector<Arr<double>> refs;
  for (DType d : all_dtypes()) {
    // from raw bytes of the dtype: read back bit-exact without a kernel
    Arr<double> a = rand_arr({3, 4}, d, -100, 100, 500 + static_cast<int>(d.scalar));
    std::vector<unsigned char> raw(12 * d.itemsize());
    std::vector<double> v = a.values();
    for (size_t i = 0; i < v.size(); i++) fg::store_from_double(d, v[i], raw.data() + i * d.itemsize());
    int64_t k0 = kernels_run();
    Tensor t = Tensor::from_data(raw.data(), d, {3, 4});
    std::vector<unsigned char> back(raw.size());
    t.copy_to_host(back.data(), back.size());
    EXPECT_EQ(back, raw) << d.name();
    EXPECT_TRUE(matches(t, a, {0, 0})) << d.name();
    EXPECT_EQ(kernels_run(), k0) << d.name() << ": reading a buffer back ran a kernel";
    // a transposed, flipped view reads back through a copy kernel
    views.push_back(t.T().flip({1}));
    refs.push_back(a.transpose(0, 1).flip(1));
  }
  realize_all(views);
  for (size_t k = 0; k < views.size(); k++) EXPECT_TRUE(matches(views[k], refs[k], {0, 0})) << views[k].dtype().name();
  // typed vectors and conversions on the way out
  Tensor f = Tensor::from_vector<double>({1.5, -2.25, 1e300}, {3});
  EXPECT_EQ(f.dtype(), dt::float64);
  EXPECT_EQ(f.to_vector<double>(), (std::vector<double>{1.5, -2.25, 1e300}));
  EXPECT_EQ(Tensor::from_vector<int64_t>({-1, 3}, {2}).to_vector<float>(), (std::vector<float>{-1, 3}));
  EXPECT_EQ(Tensor::from_vector<bool>({true, false}, {2}).to_vector<int32_t>(), (std::vector<int32_t>{1, 0}));
  uint64_t huge = ~uint64_t{0};
  EXPECT_EQ(Tensor::from_vector<uint64_t>({huge}, {1}).to_vector<uint64_t>()[0], huge);
  EXPECT_EQ(Tensor::from_vector<float>({}, {0, 5}).shape(), (Shape{0, 5}));
}

TEST(TensorCreation, AccessorsItemRealize) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.shape(-1), 3);
  EXPECT_EQ(t.ndim(), 2);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dtype(), dt::float32);
  EXPECT_EQ(t.device(), fg::default_device());  // DEV=CUDA runs the suite on the GPU
  EXPECT_TRUE(t.defined());
  EXPECT_FALSE(Tensor().defined());
  // realize updates every handle of the tensor (shared state, like a Python object)
  Tensor lazy = t * 2;
  Tensor alias = lazy;
  EXPECT_NE(lazy.uop()->op, fg::Op::BUFFER);
  lazy.realize();
  int64_t k0 = kernels_run();
  EXPECT_EQ(alias.to_vector<float>(), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(kernels_run(), k0);
  EXPECT_EQ(t[1].getitem({2}).item(), 6);
  EXPECT_EQ(Tensor::from_vector<int64_t>({-(int64_t{1} << 40)}, {1, 1}).item(), -static_cast<double>(int64_t{1} << 40));
  EXPECT_EQ(Tensor::from_vector<bool>({true}, {}).item(), 1);
  // contiguous() of a view makes a buffer; realized results are reused by later ops
  Tensor c = t.T().contiguous();
  c.realize();
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ((c + 1).to_vector<float>(), (std::vector<float>{2, 5, 3, 6, 4, 7}));
}
