// Shared helpers of the tensor op tests: seeded random data, a strided N-d reference array (views
// by permute / flip / slice, like the tensor's), values rounded through a dtype, and comparison
// with per-dtype tolerance that names the first mismatch with its N-d index.
// The references in the tests are naive loops over these arrays, written independently of
// femtograd's implementation.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/base/host_convert.h"
#include "femtograd/engine/realize.h"
#include "femtograd/tensor/tensor.h"

namespace fgt {
using fg::DType;
using fg::Shape;
using fg::Tensor;
namespace dt = fg::dtypes;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

inline std::string idx_str(const std::vector<int64_t>& idx) {
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); i++) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

// calls fn(index) for every index of shape in row-major order
inline void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& fn) {
  int64_t n = numel(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < n; k++) {
    fn(idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// A strided N-d array: a view (shape, strides, offset) of shared storage.
template <class T>
struct Arr {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  std::shared_ptr<std::vector<T>> data;

  Arr() = default;
  explicit Arr(Shape s, T fill = T{}) : shape(std::move(s)) {
    data = std::make_shared<std::vector<T>>(numel(shape), fill);
    strides = contiguous_strides(shape);
  }
  Arr(Shape s, std::vector<T> v) : shape(std::move(s)) {
    EXPECT_EQ(static_cast<int64_t>(v.size()), numel(shape)) << "Arr: data does not fit shape";
    data = std::make_shared<std::vector<T>>(std::move(v));
    strides = contiguous_strides(shape);
  }
  static std::vector<int64_t> contiguous_strides(const Shape& s) {
    std::vector<int64_t> st(s.size());
    int64_t acc = 1;
    for (size_t d = s.size(); d-- > 0;) {
      st[d] = acc;
      acc *= s[d];
    }
    return st;
  }
  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
  int64_t size() const { return numel(shape); }
  int64_t pos(const std::vector<int64_t>& idx) const {
    int64_t p = offset;
    for (size_t d = 0; d < idx.size(); d++) p += idx[d] * strides[d];
    return p;
  }
  T& at(const std::vector<int64_t>& idx) { return (*data)[pos(idx)]; }
  const T& at(const std::vector<int64_t>& idx) const { return (*data)[pos(idx)]; }

  // ---- views (share storage)
  Arr permute(const std::vector<int64_t>& order) const {
    Arr r = *this;
    for (size_t i = 0; i < order.size(); i++) {
      r.shape[i] = shape[order[i]];
      r.strides[i] = strides[order[i]];
    }
    return r;
  }
  Arr transpose(int64_t a, int64_t b) const {
    std::vector<int64_t> o(shape.size());
    for (size_t i = 0; i < o.size(); i++) o[i] = static_cast<int64_t>(i);
    std::swap(o[a], o[b]);
    return permute(o);
  }
  // Python's x[start:stop:step] on one axis, start and stop already resolved (stop exclusive)
  Arr slice(int64_t axis, int64_t start, int64_t count, int64_t step = 1) const {
    Arr r = *this;
    r.offset += start * strides[axis];
    r.shape[axis] = count;
    r.strides[axis] = strides[axis] * step;
    return r;
  }
  Arr flip(int64_t axis) const {
    Arr r = *this;
    if (shape[axis] > 0) r.offset += (shape[axis] - 1) * strides[axis];
    r.strides[axis] = -strides[axis];
    return r;
  }
  // a broadcast view: size-1 axes get stride 0, new leading axes too
  Arr expand(const Shape& s) const {
    Arr r;
    r.data = data;
    r.offset = offset;
    r.shape = s;
    r.strides.assign(s.size(), 0);
    size_t lead = s.size() - shape.size();
    for (size_t i = 0; i < shape.size(); i++) r.strides[lead + i] = shape[i] == 1 ? 0 : strides[i];
    return r;
  }

  // ---- copies
  std::vector<T> values() const {
    std::vector<T> v;
    v.reserve(size());
    for_each_index(shape, [&](const std::vector<int64_t>& i) { v.push_back(at(i)); });
    return v;
  }
  Arr contiguous() const { return Arr(shape, values()); }
  Arr reshape(const Shape& s) const { return Arr(s, values()); }
  template <class F>
  auto map(F f) const {
    using R = decltype(f(std::declval<T>()));
    Arr<R> r(shape);
    for_each_index(shape, [&](const std::vector<int64_t>& i) { r.at(i) = f(at(i)); });
    return r;
  }
};

// the broadcast shape of two shapes (numpy rules; the test's own version)
inline Shape bshape(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; i++) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = x == 1 ? y : x;
  }
  return out;
}

template <class T, class U, class F>
auto zip(const Arr<T>& a, const Arr<U>& b, F f) {
  Shape s = bshape(a.shape, b.shape);
  Arr<T> ea = a.expand(s);
  Arr<U> eb = b.expand(s);
  using R = decltype(f(std::declval<T>(), std::declval<U>()));
  Arr<R> r(s);
  for_each_index(s, [&](const std::vector<int64_t>& i) { r.at(i) = f(ea.at(i), eb.at(i)); });
  return r;
}

// ---------------------------------------------------------------- random data (fixed seeds)

inline std::vector<double> rand_vals(int64_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
inline std::vector<int64_t> rand_ints(int64_t n, int64_t lo, int64_t hi, uint64_t seed) {  // [lo, hi]
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// the value v becomes when stored in dtype (ints wrap, floats round)
inline double round_to(DType t, double v) {
  unsigned char buf[8];
  fg::store_from_double(t, v, buf);
  return fg::load_as_double(t, buf);
}
// an int64 wrapped to the bits of dtype t (sign-extended for signed types)
inline int64_t wrap(DType t, int64_t v) {
  if (t.is_bool()) return v != 0;
  int bits = t.itemsize() * 8;
  if (bits == 64) return v;
  uint64_t m = (uint64_t{1} << bits) - 1, u = static_cast<uint64_t>(v) & m;
  if (!t.is_unsigned() && (u >> (bits - 1))) u |= ~m;
  return static_cast<int64_t>(u);
}

// random values that the dtype holds exactly (floats in [lo, hi], ints in [lo, hi] clamped to the
// dtype's range, bools 0/1)
inline Arr<double> rand_arr(const Shape& s, DType t, double lo, double hi, uint64_t seed) {
  int64_t n = numel(s);
  std::vector<double> v;
  if (t.is_float()) {
    v = rand_vals(n, lo, hi, seed);
    for (auto& x : v) x = round_to(t, x);
  } else if (t.is_bool()) {
    for (int64_t x : rand_ints(n, 0, 1, seed)) v.push_back(static_cast<double>(x));
  } else {
    int64_t l = std::max<int64_t>(static_cast<int64_t>(lo), t.int_min());
    int64_t h = std::min<int64_t>(static_cast<int64_t>(hi), t.is_unsigned() && t.itemsize() == 8 ? INT64_MAX : t.int_max());
    for (int64_t x : rand_ints(n, l, h, seed)) v.push_back(static_cast<double>(x));
  }
  return Arr<double>(s, v);
}

// a tensor holding the values of a (converted to dtype t), contiguous and realized
inline Tensor to_tensor(const Arr<double>& a, DType t) {
  std::vector<double> v = a.values();
  std::vector<unsigned char> raw(v.size() * t.itemsize() + 1);
  for (size_t i = 0; i < v.size(); i++) fg::store_from_double(t, v[i], raw.data() + i * t.itemsize());
  return Tensor::from_data(raw.data(), t, a.shape);
}
inline Tensor to_tensor_i(const Arr<int64_t>& a, DType t) {
  std::vector<int64_t> v = a.values();
  std::vector<unsigned char> raw(v.size() * t.itemsize() + 1);
  fg::convert_from(dt::int64, v.data(), static_cast<int64_t>(v.size()), t, raw.data());
  return Tensor::from_data(raw.data(), t, a.shape);
}

inline std::vector<DType> all_dtypes() {
  return {dt::bool_, dt::int8, dt::int16, dt::int32, dt::int64, dt::uint8, dt::uint16,
          dt::uint32, dt::uint64, dt::float16, dt::bfloat16, dt::float32, dt::float64};
}
inline std::vector<DType> int_dtypes() {
  return {dt::int8, dt::int16, dt::int32, dt::int64, dt::uint8, dt::uint16, dt::uint32, dt::uint64};
}
inline std::vector<DType> float_dtypes() { return {dt::float16, dt::bfloat16, dt::float32, dt::float64}; }

// ---------------------------------------------------------------- comparison

struct Tol {
  double atol, rtol;
};
inline Tol tol_for(DType t) {
  switch (t.scalar) {
    case fg::ScalarType::Float16: return {2e-3, 2e-3};
    case fg::ScalarType::BFloat16: return {1.6e-2, 1.6e-2};
    case fg::ScalarType::Float32: return {1e-5, 1e-5};
    case fg::ScalarType::Float64: return {1e-12, 1e-12};
    case fg::ScalarType::FP8E4M3: case fg::ScalarType::FP8E5M2: return {0.13, 0.13};
    default: return {0, 0};
  }
}

inline bool close(double got, double want, Tol tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol.atol + tol.rtol * std::fabs(want);
}

// values of t (realizing it) against ref, within tol; the first mismatch is reported with its index
inline ::testing::AssertionResult matches(const Tensor& t, const Arr<double>& ref, Tol tol) {
  if (t.shape() != ref.shape)
    return ::testing::AssertionFailure() << "shape " << fg::shape_str(t.shape()) << " != expected "
                                         << fg::shape_str(ref.shape);
  std::vector<double> got = t.to_vector<double>();
  std::vector<double> want = ref.values();
  int64_t bad = 0, k = 0;
  std::string first;
  for_each_index(ref.shape, [&](const std::vector<int64_t>& i) {
    if (!close(got[k], want[k], tol)) {
      if (!bad++) {
        std::ostringstream os;
        os.precision(10);
        os << "at " << idx_str(i) << ": got " << got[k] << ", expected " << want[k];
        first = os.str();
      }
    }
    k++;
  });
  if (bad)
    return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ (" << t.dtype().name()
                                         << ", atol " << tol.atol << ", rtol " << tol.rtol << "); first " << first;
  return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult matches(const Tensor& t, const Arr<double>& ref) {
  return matches(t, ref, tol_for(t.dtype()));
}
// exact integer comparison (int64 values: uint64 compares by its bits)
inline ::testing::AssertionResult matches_i(const Tensor& t, const Arr<int64_t>& ref) {
  if (t.shape() != ref.shape)
    return ::testing::AssertionFailure() << "shape " << fg::shape_str(t.shape()) << " != expected "
                                         << fg::shape_str(ref.shape);
  std::vector<int64_t> got;
  if (t.dtype() == dt::uint64) {
    std::vector<uint64_t> u = t.to_vector<uint64_t>();
    for (uint64_t x : u) got.push_back(static_cast<int64_t>(x));
  } else {
    got = t.to_vector<int64_t>();
  }
  std::vector<int64_t> want = ref.values();
  int64_t bad = 0, k = 0;
  std::string first;
  for_each_index(ref.shape, [&](const std::vector<int64_t>& i) {
    if (got[k] != want[k] && !bad++)
      first = "at " + idx_str(i) + ": got " + std::to_string(got[k]) + ", expected " + std::to_string(want[k]);
    k++;
  });
  if (bad)
    return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ (" << t.dtype().name()
                                         << "); first " << first;
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- stacking

// Results of one shape and dtype stacked along a new first axis compute in one kernel (every
// distinct kernel costs a C compile); each slice keeps its own reference, tolerance and name.
struct Stacked {
  std::vector<std::string> names;
  std::vector<Tensor> ts;
  std::vector<Arr<double>> refs;
  std::vector<Tol> tols;
  void add(std::string n, Tensor t, Arr<double> r, Tol tol) {
    names.push_back(std::move(n));
    ts.push_back(std::move(t));
    refs.push_back(std::move(r));
    tols.push_back(tol);
  }
  Tensor stacked() const { return Tensor::stack(ts); }
};

// compares the slices of a realized stack, each with its own tolerance and name
inline void check_stacked(const Tensor& st, const Stacked& s, const std::string& what) {
  ASSERT_EQ(st.shape()[0], static_cast<int64_t>(s.ts.size()));
  std::vector<double> all = st.to_vector<double>();
  for (size_t k = 0; k < s.ts.size(); k++) {
    int64_t n = numel(s.refs[k].shape);
    Arr<double> got(s.refs[k].shape, std::vector<double>(all.begin() + k * n, all.begin() + (k + 1) * n));
    std::vector<double> want = s.refs[k].values();
    int64_t bad = 0, i = 0;
    std::string first;
    for_each_index(got.shape, [&](const std::vector<int64_t>& idx) {
      double g = (*got.data)[i], w = want[i];
      if (!close(g, w, s.tols[k]) && !bad++) {
        std::ostringstream os;
        os.precision(10);
        os << "at " << idx_str(idx) << ": got " << g << ", expected " << w;
        first = os.str();
      }
      i++;
    });
    EXPECT_EQ(bad, 0) << what << " " << s.names[k] << " (" << st.dtype().name() << "): " << bad << " of " << n
                      << " differ; first " << first;
  }
}

inline Tol scaled(Tol t, double f) { return {t.atol * f, t.rtol * f}; }

// realizes every tensor in one schedule (their kernels compile in parallel)
inline void realize_all(std::vector<Tensor>& ts) {
  std::vector<Tensor*> ps;
  for (auto& t : ts) ps.push_back(&t);
  Tensor::realize_all(ps);
}

// the number of kernels run so far in this process
inline int64_t kernels_run() { return fg::GlobalCounters::get().kernel_count; }

// expects fn to throw fg::Error of `kind` whose message contains `needle`, with no kernel run
#define EXPECT_FG_ERROR(stmt, kind_, needle)                                                          \
  do {                                                                                                \
    int64_t k0_ = ::fgt::kernels_run();                                                               \
    try {                                                                                             \
      (void)(stmt);                                                                                   \
      ADD_FAILURE() << #stmt " did not throw";                                                        \
    } catch (const ::fg::Error& e_) {                                                                 \
      EXPECT_EQ(e_.kind(), kind_) << #stmt ": " << e_.what();                                         \
      EXPECT_NE(std::string(e_.what()).find(needle), std::string::npos)                               \
          << #stmt ": message '" << e_.what() << "' lacks '" << needle << "'";                        \
    }                                                                                                 \
    EXPECT_EQ(::fgt::kernels_run(), k0_) << #stmt " ran a kernel before failing";                     \
  } while (0)

}  // namespace fgt
