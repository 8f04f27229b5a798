// fg::Tensor: a lazy tensor. Every op builds UOps and returns at once; realize() (or reading the
// data) runs the kernels. Names and semantics follow tinygrad's Tensor API (itself PyTorch-like):
// broadcasting, PyTorch type promotion, Python-style scalars, negative axes.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "femtograd/base/host_convert.h"
#include "femtograd/ir/shape.h"
#include "femtograd/ir/uop.h"

namespace fg {

// A Python-style scalar operand: keeps whether it was written as a bool, an int or a float, which
// decides the result dtype the way PyTorch does (int tensor * 2 stays int; int tensor * 2.0 is float).
struct Scalar {
  enum class Kind { Bool, Int, Float } kind;
  double f = 0;
  int64_t i = 0;
  Scalar(bool v) : kind(Kind::Bool), f(v), i(v) {}
  Scalar(int v) : kind(Kind::Int), f(v), i(v) {}
  Scalar(int64_t v) : kind(Kind::Int), f(static_cast<double>(v)), i(v) {}
  Scalar(double v) : kind(Kind::Float), f(v), i(static_cast<int64_t>(v)) {}
  Scalar(float v) : Scalar(static_cast<double>(v)) {}
};

class Tensor {
 public:
  Tensor() = default;  // an empty handle; most methods require a real tensor
  Tensor(UOpRef uop, Shape shape, std::string device);

  // ---- creation
  static Tensor from_data(const void* data, DType dtype, const Shape& shape, const std::string& device = "");
  template <class V>
  static Tensor from_vector(const std::vector<V>& v, const Shape& shape, const std::string& device = "");
  static Tensor empty(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  static Tensor full(const Shape& shape, Scalar value, std::optional<DType> dtype = {}, const std::string& device = "");
  static Tensor zeros(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  static Tensor ones(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  static Tensor arange(Scalar start, std::optional<Scalar> stop = {}, Scalar step = 1,
                       std::optional<DType> dtype = {}, const std::string& device = "");
  static Tensor linspace(double start, double stop, int64_t steps, DType dtype = dtypes::float32,
                         const std::string& device = "");
  static Tensor eye(int64_t n, std::optional<int64_t> m = {}, DType dtype = dtypes::float32,
                    const std::string& device = "");
  Tensor full_like(Scalar value, std::optional<DType> dtype = {}) const;
  Tensor zeros_like() const { return full_like(0); }
  Tensor ones_like() const { return full_like(1); }
  // a tensor-level constant: a scalar broadcast to shape (no memory)
  static Tensor const_(Scalar value, DType dtype, const Shape& shape, const std::string& device);

  // ---- properties
  const Shape& shape() const { return st().shape; }
  int64_t shape(int64_t axis) const;
  int64_t ndim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const { return fg::prod(shape()); }
  DType dtype() const { return st().uop->dtype; }
  const std::string& device() const { return st().device; }
  const UOpRef& uop() const { return st().uop; }
  bool defined() const { return s_ != nullptr; }

  // ---- realize and read back
  Tensor& realize();
  static void realize_all(std::vector<Tensor*> ts);
  void copy_to_host(void* dst, size_t bytes) const;  // contiguous, row-major
  template <class V>
  std::vector<V> to_vector() const;                   // converts from the tensor's dtype
  double item() const;

  // ---- movement (never copies)
  Tensor reshape(Shape shape) const;  // one -1 allowed
  Tensor permute(std::vector<int64_t> order) const;
  Tensor expand(Shape shape) const;   // -1 keeps an axis
  Tensor pad(std::vector<std::pair<int64_t, int64_t>> padding, Scalar value = 0) const;
  Tensor shrink(std::vector<std::pair<int64_t, int64_t>> bounds) const;
  Tensor flip(std::vector<int64_t> axes) const;
  Tensor transpose(int64_t a = 1, int64_t b = 0) const;
  Tensor T() const { return transpose(0, 1); }
  Tensor squeeze(std::optional<int64_t> axis = {}) const;
  Tensor unsqueeze(int64_t axis) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor contiguous() const;

  // ---- elementwise
  Tensor cast(DType dt) const;
  Tensor bitcast(DType dt) const;
  Tensor add(const Tensor& o) const;
  Tensor sub(const Tensor& o) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;       // true division (ints give float)
  Tensor idiv(const Tensor& o) const;      // integer division toward zero
  Tensor mod(const Tensor& o) const;       // Python-style: sign of the divisor
  Tensor pow(const Tensor& o) const;
  Tensor maximum(const Tensor& o) const;
  Tensor minimum(const Tensor& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor le(const Tensor& o) const;
  Tensor gt(const Tensor& o) const;
  Tensor ge(const Tensor& o) const;
  Tensor eq(const Tensor& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor bitwise_and(const Tensor& o) const;
  Tensor bitwise_or(const Tensor& o) const;
  Tensor bitwise_xor(const Tensor& o) const;
  Tensor lshift(const Tensor& o) const;
  Tensor rshift(const Tensor& o) const;
  Tensor logical_not() const;
  Tensor bitwise_not() const;
  Tensor where(const Tensor& a, const Tensor& b) const;  // this is the condition
  Tensor neg() const;
  Tensor reciprocal() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor exp() const;
  Tensor exp2() const;
  Tensor log() const;
  Tensor log2() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tan() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor abs() const;
  Tensor sign() const;
  Tensor square() const { return mul(*this); }
  Tensor trunc() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor round() const;  // half to even
  Tensor clip(std::optional<Scalar> lo, std::optional<Scalar> hi) const;
  // scalars on the right
  Tensor add(Scalar s) const { return add(scalar_like(s)); }
  Tensor sub(Scalar s) const { return sub(scalar_like(s)); }
  Tensor mul(Scalar s) const { return mul(scalar_like(s)); }
  Tensor div(Scalar s) const { return div(scalar_like(s)); }
  Tensor pow(Scalar s) const;
  Tensor maximum(Scalar s) const { return maximum(scalar_like(s)); }
  Tensor minimum(Scalar s) const { return minimum(scalar_like(s)); }
  Tensor lt(Scalar s) const { return lt(scalar_like(s)); }
  Tensor gt(Scalar s) const { return gt(scalar_like(s)); }
  Tensor le(Scalar s) const { return le(scalar_like(s)); }
  Tensor ge(Scalar s) const { return ge(scalar_like(s)); }
  Tensor eq(Scalar s) const { return eq(scalar_like(s)); }
  Tensor ne(Scalar s) const { return ne(scalar_like(s)); }
  // a scalar as a 0-d tensor of the dtype PyTorch would give it next to this tensor
  Tensor scalar_like(Scalar s) const;

  // ---- reductions (axes may be negative; empty means all axes)
  Tensor sum(std::vector<int64_t> axes = {}, bool keepdim = false, std::optional<DType> acc = {}) const;
  Tensor prod(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor max(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor min(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor mean(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor var(std::vector<int64_t> axes = {}, bool keepdim = false, double correction = 1) const;
  Tensor stddev(std::vector<int64_t> axes = {}, bool keepdim = false, double correction = 1) const;  // tinygrad: std
  Tensor any(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor all(std::vector<int64_t> axes = {}, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> axis = {}, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> axis = {}, bool keepdim = false) const;
  Tensor logsumexp(int64_t axis, bool keepdim = false) const;
  Tensor softmax(int64_t axis = -1) const;
  Tensor log_softmax(int64_t axis = -1) const;

  // ---- linear algebra
  Tensor matmul(const Tensor& o) const;
  Tensor dot(const Tensor& o) const { return matmul(o); }

  // ---- autograd (tensor/autograd.h says the rules): gradients are computed from the UOp graph at
  // backward time by a pattern set of gradient rules (tensor/gradient.cc)
  // true for a tensor marked with requires_grad_(), and for one computed from a marked tensor through
  // differentiable ops outside a NoGrad scope (a walk of its graph)
  bool requires_grad() const;
  // marks this tensor as a leaf that backward() gives a .grad (floating point dtypes only)
  Tensor& requires_grad_(bool on = true);
  // the accumulated gradient, or an empty handle (defined() == false) before any backward
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops the gradient (grad() is empty again), like PyTorch's set_to_none
  // d(this)/d(every tensor with requires_grad_ that this depends on), accumulated (lazily) into
  // their grad; this must hold one element unless a gradient of its shape is given
  void backward(std::optional<Tensor> gradient = {}) const;
  Tensor detach() const;
  // gradients of this with respect to `wrt`, without touching .grad (functional form); a tensor
  // this does not depend on gets zeros
  std::vector<Tensor> gradient(const std::vector<Tensor>& wrt, std::optional<Tensor> gradient = {}) const;
  // false inside a NoGrad scope of this thread (tensor/autograd.h)
  static bool grad_enabled();

  // ---- more ops (tensor/*.cc beyond the core): declared below this line

  // ---- random numbers (tensor_random.cc). Counter-based: element i of a call is
  // threefry2x32(counter + i, key(seed)), with one global seed and one counter per device, so a seed
  // gives the same numbers on every device. The default seed is 0 (deterministic runs).
  static void manual_seed(uint64_t seed = 0);
  static Tensor rand(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");  // [0, 1)
  static Tensor randn(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  // uniform integers in [low, high)
  static Tensor randint(const Shape& shape, int64_t low, int64_t high, DType dtype = dtypes::int32,
                        const std::string& device = "");
  static Tensor uniform(const Shape& shape, double low = 0, double high = 1, DType dtype = dtypes::float32,
                        const std::string& device = "");
  static Tensor normal(const Shape& shape, double mean = 0, double std = 1, DType dtype = dtypes::float32,
                       const std::string& device = "");
  static Tensor randperm(int64_t n, DType dtype = dtypes::int64, const std::string& device = "");
  // tinygrad's initializers; fan_in is the product of shape[1:]
  static Tensor kaiming_uniform(const Shape& shape, double a = 0.01, DType dtype = dtypes::float32,
                                const std::string& device = "");
  static Tensor kaiming_normal(const Shape& shape, double a = 0.01, DType dtype = dtypes::float32,
                               const std::string& device = "");
  static Tensor glorot_uniform(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  static Tensor scaled_uniform(const Shape& shape, DType dtype = dtypes::float32, const std::string& device = "");
  Tensor rand_like(std::optional<DType> dtype = {}) const;
  Tensor randn_like(std::optional<DType> dtype = {}) const;
  Tensor empty_like(std::optional<DType> dtype = {}) const;

  // ---- more elementwise (tensor_math.cc)
  Tensor erf() const;          // polynomial approximation, |error| < 2e-7 (float32 and up)
  Tensor gelu() const;         // tanh approximation, like tinygrad
  Tensor gelu_exact() const;   // x * Phi(x) through erf, PyTorch's default
  Tensor quick_gelu() const;   // x * sigmoid(1.702 x)
  Tensor silu() const;         // x * sigmoid(x)
  Tensor swish() const { return silu(); }
  Tensor softplus(double beta = 1) const;  // log(1 + exp(beta x)) / beta, linear for large beta x
  Tensor mish() const;
  Tensor elu(double alpha = 1) const;
  Tensor celu(double alpha = 1) const;
  Tensor selu() const;
  Tensor leaky_relu(double neg_slope = 0.01) const;
  Tensor relu6() const;
  Tensor hardsigmoid() const;  // relu6(x + 3) / 6
  Tensor hardswish() const;
  Tensor hardtanh(double lo = -1, double hi = 1) const;
  Tensor softsign() const;
  Tensor logsigmoid() const;
  Tensor sinh() const;
  Tensor cosh() const;
  Tensor asin() const;
  Tensor acos() const;
  Tensor atan() const;
  Tensor asinh() const;
  Tensor acosh() const;
  Tensor atanh() const;
  Tensor log10() const;
  Tensor log1p() const;
  Tensor expm1() const;
  Tensor isnan() const;
  Tensor isinf(bool detect_positive = true, bool detect_negative = true) const;
  Tensor isfinite() const;
  Tensor logical_and(const Tensor& o) const;  // bool result; non-bool operands test != 0
  Tensor logical_or(const Tensor& o) const;
  Tensor logical_xor(const Tensor& o) const;
  Tensor lerp(const Tensor& end, const Tensor& weight) const;  // this + weight * (end - this)
  Tensor lerp(const Tensor& end, double weight) const;
  Tensor clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const { return clip(lo, hi); }
  Tensor clip(const Tensor& lo, const Tensor& hi) const;
  Tensor copysign(const Tensor& o) const;
  // scalar forms of the integer ops
  Tensor idiv(Scalar s) const { return idiv(scalar_like(s)); }
  Tensor mod(Scalar s) const { return mod(scalar_like(s)); }
  Tensor bitwise_and(Scalar s) const { return bitwise_and(scalar_like(s)); }
  Tensor bitwise_or(Scalar s) const { return bitwise_or(scalar_like(s)); }
  Tensor bitwise_xor(Scalar s) const { return bitwise_xor(scalar_like(s)); }
  Tensor lshift(Scalar s) const { return lshift(scalar_like(s)); }
  Tensor rshift(Scalar s) const { return rshift(scalar_like(s)); }
  Tensor where(const Tensor& a, Scalar b) const;
  Tensor where(Scalar a, const Tensor& b) const;
  Tensor where(Scalar a, Scalar b) const;
  // tinygrad's short casts
  Tensor float_() const { return cast(dtypes::float32); }
  Tensor half() const { return cast(dtypes::float16); }
  Tensor double_() const { return cast(dtypes::float64); }
  Tensor int_() const { return cast(dtypes::int32); }
  Tensor long_() const { return cast(dtypes::int64); }
  Tensor bool_() const { return cast(dtypes::bool_); }
  // x @ weight (+ bias), weight of shape (in, out) like tinygrad's Tensor.linear (a 1-d weight
  // multiplies elementwise); PyTorch's F.linear(x, W, b) is x.linear(W.T(), b)
  Tensor linear(const Tensor& weight, std::optional<Tensor> bias = {}) const;
  // "ij,jk->ik", "bij,bjk->bik", "ii->i", "ii", "i,i->", "...ij,...jk->...ik": letters name axes,
  // an axis missing from the output is summed, a repeated letter in one operand takes a diagonal
  static Tensor einsum(const std::string& formula, const std::vector<Tensor>& operands);

  // ---- scans and sorting (tensor_scan.cc)
  Tensor cumsum(int64_t axis = 0) const;   // ints accumulate in int64 like PyTorch
  Tensor cumprod(int64_t axis = 0) const;
  Tensor cummax(int64_t axis = 0) const;   // values only
  Tensor cummin(int64_t axis = 0) const;
  // (values, int64 indices); stable: equal values keep their order; NaN sorts as the largest
  std::pair<Tensor, Tensor> sort(int64_t dim = -1, bool descending = false) const;
  Tensor argsort(int64_t dim = -1, bool descending = false) const;
  std::pair<Tensor, Tensor> topk(int64_t k, int64_t dim = -1, bool largest = true) const;

  // ---- more movement (tensor_movement.cc); these never copy either
  enum class PadMode { Constant, Reflect, Replicate, Circular };
  // reflect needs padding < size, circular padding <= size (PyTorch's limits)
  Tensor pad(std::vector<std::pair<int64_t, int64_t>> padding, PadMode mode, Scalar value = 0) const;
  static Tensor cat(const std::vector<Tensor>& ts, int64_t dim = 0);   // promotes dtypes
  static Tensor stack(const std::vector<Tensor>& ts, int64_t dim = 0);
  std::vector<Tensor> split(int64_t size, int64_t dim = 0) const;     // pieces of `size`, the last smaller
  std::vector<Tensor> split(const std::vector<int64_t>& sizes, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> unbind(int64_t dim = 0) const;
  Tensor repeat(std::vector<int64_t> repeats) const;
  Tensor repeat_interleave(int64_t repeats, std::optional<int64_t> dim = {}) const;
  Tensor roll(std::vector<int64_t> shifts, std::vector<int64_t> dims) const;
  Tensor roll(int64_t shift, std::optional<int64_t> dim = {}) const;  // no dim: over the flattened tensor
  Tensor unflatten(int64_t dim, Shape sizes) const;
  Tensor movedim(int64_t source, int64_t destination) const;
  Tensor view(Shape s) const { return reshape(std::move(s)); }
  Tensor expand_as(const Tensor& o) const { return expand(o.shape()); }
  Tensor reshape_as(const Tensor& o) const { return reshape(o.shape()); }

  // ---- indexing (tensor_index.cc)
  // t.getitem({1, Slice{0, 4, 2}, newaxis, ellipsis, idx_tensor}) is t[1, 0:4:2, None, ..., idx]
  // in Python. Integer tensor indices gather (numpy advanced indexing: several broadcast
  // together; their axes replace the indexed ones when the tensor indices, and any ints among
  // them, are side by side, else they go first). Negative entries count from the end.
  // Out-of-range entries of an index tensor raise IndexError when the index tensor is already
  // realized (its values are read, no kernel runs); for a lazy index tensor they are undefined
  // (they select nothing, giving 0), like tinygrad.
  struct Slice {
    std::optional<int64_t> start = std::nullopt, stop = std::nullopt, step = std::nullopt;
  };
  struct NewAxis {};
  struct Ellipsis {};
  static constexpr NewAxis newaxis{};
  static constexpr Ellipsis ellipsis{};
  struct Idx {
    enum class Kind : uint8_t { Int, Slice, NewAxis, Ellipsis, Tensor };
    Kind kind;
    int64_t i = 0;
    Tensor::Slice slice;
    std::shared_ptr<const Tensor> tensor;
    Idx(int v) : kind(Kind::Int), i(v) {}
    Idx(int64_t v) : kind(Kind::Int), i(v) {}
    Idx(Tensor::Slice s) : kind(Kind::Slice), slice(s) {}
    Idx(NewAxis) : kind(Kind::NewAxis) {}
    Idx(Tensor::Ellipsis) : kind(Kind::Ellipsis) {}
    Idx(const Tensor& t) : kind(Kind::Tensor), tensor(std::make_shared<const Tensor>(t)) {}
  };
  Tensor getitem(const std::vector<Idx>& idx) const;
  Tensor operator[](const std::vector<Idx>& idx) const { return getitem(idx); }
  Tensor operator[](int64_t i) const { return getitem({Idx(i)}); }
  // a new tensor equal to this one with t[idx] = value (value broadcast to the indexed shape);
  // ints, slices, newaxis and ellipsis only
  Tensor setitem(const std::vector<Idx>& idx, const Tensor& value) const;
  Tensor setitem(const std::vector<Idx>& idx, Scalar value) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;   // where(mask, value, this)
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  // out[i][j] = this[index[i][j]][j] for dim 0 (PyTorch's gather); index may be smaller than this
  // on the other axes
  Tensor gather(int64_t dim, const Tensor& index) const;
  // out = this with out[index[i][j]][j] = src[i][j] (dim 0); reduce "" (duplicates: the last
  // write wins), "add" or "multiply"
  Tensor scatter(int64_t dim, const Tensor& index, const Tensor& src, const std::string& reduce = "") const;
  Tensor scatter(int64_t dim, const Tensor& index, Scalar value, const std::string& reduce = "") const;
  // reduce: "sum", "prod", "mean", "amax", "amin"
  Tensor scatter_reduce(int64_t dim, const Tensor& index, const Tensor& src, const std::string& reduce,
                        bool include_self = true) const;
  Tensor one_hot(int64_t num_classes = -1) const;  // int64; -1 reads max()+1 (runs a kernel)
  Tensor tril(int64_t diagonal = 0) const;
  Tensor triu(int64_t diagonal = 0) const;

  // ---- operators beyond the core's (hidden friends)
  friend Tensor operator%(const Tensor& a, const Tensor& b) { return a.mod(b); }
  friend Tensor operator&(const Tensor& a, const Tensor& b) { return a.bitwise_and(b); }
  friend Tensor operator|(const Tensor& a, const Tensor& b) { return a.bitwise_or(b); }
  friend Tensor operator^(const Tensor& a, const Tensor& b) { return a.bitwise_xor(b); }
  friend Tensor operator<<(const Tensor& a, const Tensor& b) { return a.lshift(b); }
  friend Tensor operator>>(const Tensor& a, const Tensor& b) { return a.rshift(b); }
  friend Tensor operator%(const Tensor& a, Scalar b) { return a.mod(b); }
  friend Tensor operator&(const Tensor& a, Scalar b) { return a.bitwise_and(b); }
  friend Tensor operator|(const Tensor& a, Scalar b) { return a.bitwise_or(b); }
  friend Tensor operator^(const Tensor& a, Scalar b) { return a.bitwise_xor(b); }
  friend Tensor operator<<(const Tensor& a, Scalar b) { return a.lshift(b); }
  friend Tensor operator>>(const Tensor& a, Scalar b) { return a.rshift(b); }
  friend Tensor operator~(const Tensor& a) { return a.bitwise_not(); }

  // ---- helpers shared by the op files
  int64_t norm_axis(int64_t axis, const char* op) const;  // negative -> positive, checked
  std::vector<int64_t> norm_axes(std::vector<int64_t> axes, const char* op) const;
  static std::pair<Tensor, Tensor> broadcast(const Tensor& a, const Tensor& b, const char* op);
  Tensor broadcast_to(const Shape& shape) const;
  Tensor alu(Op op, const Tensor& o, const char* name) const;  // same shape and dtype
  Tensor alu(Op op) const;
  Tensor reduce(Op op, std::vector<int64_t> axes, bool keepdim) const;
  Tensor movement(Op op, Arg arg) const;  // shape inferred and checked by ir/shape

 private:
  struct State {
    UOpRef uop;
    Shape shape;
    std::string device;
    bool requires_grad = false;
    std::shared_ptr<Tensor> grad;  // accumulated by backward()
    bool built_without_grad = !Tensor::grad_enabled();  // made inside a NoGrad scope
  };
  friend struct TensorAccess;
  const State& st() const;
  std::shared_ptr<State> s_;
};

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return a.add(b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return a.sub(b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return a.mul(b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return a.div(b); }
inline Tensor operator-(const Tensor& a) { return a.neg(); }
inline Tensor operator+(const Tensor& a, Scalar b) { return a.add(b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return a.sub(b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return a.mul(b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return a.div(b); }
inline Tensor operator+(Scalar a, const Tensor& b) { return b.scalar_like(a).add(b); }
inline Tensor operator-(Scalar a, const Tensor& b) { return b.scalar_like(a).sub(b); }
inline Tensor operator*(Scalar a, const Tensor& b) { return b.scalar_like(a).mul(b); }
inline Tensor operator/(Scalar a, const Tensor& b) { return b.scalar_like(a).div(b); }


template <class T>
struct HostDType;
template <> struct HostDType<float> { static constexpr DType v = dtypes::float32; };
template <> struct HostDType<double> { static constexpr DType v = dtypes::float64; };
template <> struct HostDType<int8_t> { static constexpr DType v = dtypes::int8; };
template <> struct HostDType<int16_t> { static constexpr DType v = dtypes::int16; };
template <> struct HostDType<int32_t> { static constexpr DType v = dtypes::int32; };
template <> struct HostDType<int64_t> { static constexpr DType v = dtypes::int64; };
template <> struct HostDType<uint8_t> { static constexpr DType v = dtypes::uint8; };
template <> struct HostDType<uint16_t> { static constexpr DType v = dtypes::uint16; };
template <> struct HostDType<uint32_t> { static constexpr DType v = dtypes::uint32; };
template <> struct HostDType<uint64_t> { static constexpr DType v = dtypes::uint64; };
template <> struct HostDType<bool> { static constexpr DType v = dtypes::bool_; };

template <class V>
Tensor Tensor::from_vector(const std::vector<V>& v, const Shape& shape, const std::string& device) {
  if constexpr (std::is_same_v<V, bool>) {
    std::vector<uint8_t> b(v.begin(), v.end());
    return from_data(b.data(), dtypes::bool_, shape, device);
  } else {
    return from_data(v.data(), HostDType<V>::v, shape, device);
  }
}

template <class V>
std::vector<V> Tensor::to_vector() const {
  std::vector<unsigned char> raw(static_cast<size_t>(numel()) * dtype().itemsize());
  copy_to_host(raw.data(), raw.size());
  std::vector<V> out(numel());
  if constexpr (std::is_same_v<V, bool>) {
    std::vector<uint8_t> b(numel());
    convert_from(dtype(), raw.data(), numel(), dtypes::bool_, b.data());
    for (size_t i = 0; i < b.size(); i++) out[i] = b[i];
  } else {
    convert_from(dtype(), raw.data(), numel(), HostDType<V>::v, out.data());
  }
  return out;
}

}  // namespace fg
