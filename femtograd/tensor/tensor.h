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

  // ---- helpers shared by the op files
  int64_t norm_axis(int64_t axis, const char* op) const;  // negative -> positive, checked
  std::vector<int64_t> norm_axes(std::vector<int64_t> axes, const char* op) const;
  static std::pair<Tensor, Tensor> broadcast(const Tensor& a, const Tensor& b, const char* op);
  Tensor broadcast_to(const Shape& shape) const;
  Tensor alu(Op op, const Tensor& o, const char* name) const;  // same shape and dtype
  Tensor alu(Op op) const;
  Tensor reduce(Op op, std::vector<int64_t> axes, bool keepdim) const;
  Tensor movement(Op op, Arg arg, Shape new_shape) const;

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
