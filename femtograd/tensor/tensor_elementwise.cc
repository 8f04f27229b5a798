// Elementwise ops of fg::Tensor, written with the primitives (alu, cast, where). Transcendentals
// follow tinygrad's minimal op set: exp and log through exp2/log2, cos and tan through sin.
#include <cmath>
#include <numbers>

#include "femtograd/base/error.h"
#include "femtograd/tensor/tensor.h"

namespace fg {
namespace {
// ops that only exist for floats: ints and bools are computed in the default float type
Tensor as_float(const Tensor& t) { return t.cast(least_upper_float(t.dtype())); }
void check_int(const Tensor& t, const char* op) {
  FG_CHECK(t.dtype().is_int() || t.dtype().is_bool(), ErrorKind::Type, op, "needs an integer or bool tensor, got ",
           t.dtype().name());
}
}  // namespace

Tensor Tensor::add(const Tensor& o) const { return alu(Op::ADD, o, "add"); }
Tensor Tensor::mul(const Tensor& o) const { return alu(Op::MUL, o, "mul"); }
Tensor Tensor::sub(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "sub");
  FG_CHECK(!a.dtype().is_bool(), ErrorKind::Type, "sub", "subtraction of bool tensors is not supported, use logical_xor");
  return a.add(b.neg());
}
Tensor Tensor::neg() const {
  if (dtype().is_bool()) return logical_not();
  return mul(const_(-1, dtype(), {}, device()));
}
Tensor Tensor::div(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "div");
  Tensor fa = as_float(a), fb = as_float(b);
  return fa.alu(Op::FDIV, fb, "div");
}
namespace {
// C division traps on x / 0 and INT_MIN / -1 (x86 raises SIGFPE): divide by 1 there instead, so a
// lazy kernel never crashes; x // 0 and x % 0 give 0 (PyTorch raises, which a lazy op cannot)
struct SafeDiv {
  Tensor zero, minus1, safe;
};
SafeDiv safe_divisor(const Tensor& b) {
  Tensor zero = b.eq(Tensor::const_(0, b.dtype(), {}, b.device()));
  Tensor minus1 = b.dtype().is_unsigned() || b.dtype().is_bool() ? Tensor::const_(false, dtypes::bool_, {}, b.device())
                                                                  : b.eq(Tensor::const_(-1, b.dtype(), {}, b.device()));
  Tensor one = Tensor::const_(1, b.dtype(), {}, b.device());
  return {zero, minus1, zero.bitwise_or(minus1).where(one, b)};
}
}  // namespace

Tensor Tensor::idiv(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "idiv");
  check_int(a, "idiv");
  FG_CHECK(!a.dtype().is_bool(), ErrorKind::Type, "idiv", "not supported for bool tensors");
  SafeDiv sd = safe_divisor(b);
  Tensor q = a.alu(Op::IDIV, sd.safe, "idiv");
  Tensor zero = Tensor::const_(0, a.dtype(), {}, a.device());
  return sd.zero.where(zero, sd.minus1.where(a.neg(), q));
}
Tensor Tensor::mod(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "mod");
  if (a.dtype().is_float()) return a.sub(a.div(b).floor().mul(b));  // Python's sign-of-divisor remainder
  check_int(a, "mod");
  FG_CHECK(!a.dtype().is_bool(), ErrorKind::Type, "mod", "not supported for bool tensors");
  SafeDiv sd = safe_divisor(b);
  Tensor zero = Tensor::const_(0, a.dtype(), {}, a.device());
  Tensor r = sd.zero.bitwise_or(sd.minus1).where(zero, a.alu(Op::MOD, sd.safe, "mod"));
  // C's remainder has the sign of the dividend: move it to the divisor's sign
  Tensor fix = r.ne(0).bitwise_and(r.lt(0).ne(b.lt(0)));
  return fix.where(r.add(b), r);
}
Tensor Tensor::pow(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "pow");
  if (a.dtype().is_float()) return a.alu(Op::POW, b, "pow");
  // integer powers: exact in float64 for the values integers hold in practice
  return a.cast(dtypes::float64).alu(Op::POW, b.cast(dtypes::float64), "pow").round().cast(a.dtype());
}
Tensor Tensor::pow(Scalar s) const {
  if (s.kind != Scalar::Kind::Float && s.i == 2) return mul(*this);
  return pow(scalar_like(s));
}
Tensor Tensor::maximum(const Tensor& o) const { return alu(Op::MAX, o, "maximum"); }
Tensor Tensor::minimum(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "minimum");
  if (a.dtype().is_bool()) return a.bitwise_and(b);
  if (a.dtype().is_int()) return a.bitwise_not().maximum(b.bitwise_not()).bitwise_not();  // ~ reverses order
  return a.neg().maximum(b.neg()).neg();
}

Tensor Tensor::lt(const Tensor& o) const { return alu(Op::CMPLT, o, "lt"); }
Tensor Tensor::gt(const Tensor& o) const { return o.alu(Op::CMPLT, *this, "gt"); }
Tensor Tensor::eq(const Tensor& o) const { return alu(Op::CMPEQ, o, "eq"); }
Tensor Tensor::ne(const Tensor& o) const { return alu(Op::CMPNE, o, "ne"); }
// not !(a > b): that is true for NaN
Tensor Tensor::le(const Tensor& o) const { return lt(o).bitwise_or(eq(o)); }
Tensor Tensor::ge(const Tensor& o) const { return gt(o).bitwise_or(eq(o)); }

Tensor Tensor::bitwise_and(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "bitwise_and");
  check_int(a, "bitwise_and");
  return a.alu(Op::AND, b, "bitwise_and");
}
Tensor Tensor::bitwise_or(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "bitwise_or");
  check_int(a, "bitwise_or");
  return a.alu(Op::OR, b, "bitwise_or");
}
Tensor Tensor::bitwise_xor(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "bitwise_xor");
  check_int(a, "bitwise_xor");
  return a.alu(Op::XOR, b, "bitwise_xor");
}
Tensor Tensor::lshift(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "lshift");
  check_int(a, "lshift");
  return a.alu(Op::SHL, b, "lshift");
}
Tensor Tensor::rshift(const Tensor& o) const {
  auto [a, b] = broadcast(*this, o, "rshift");
  check_int(a, "rshift");
  return a.alu(Op::SHR, b, "rshift");
}
Tensor Tensor::logical_not() const {
  if (dtype().is_bool()) return ne(const_(true, dtypes::bool_, {}, device()));
  return eq(const_(0, dtype(), {}, device()));
}
Tensor Tensor::bitwise_not() const {
  check_int(*this, "bitwise_not");
  if (dtype().is_bool()) return logical_not();
  return bitwise_xor(const_(-1, dtype(), {}, device()));
}

Tensor Tensor::where(const Tensor& a, const Tensor& b) const {
  Tensor cond = dtype().is_bool() ? *this : ne(0);
  Shape s = broadcast_shape(broadcast_shape(cond.shape(), a.shape(), "where"), b.shape(), "where");
  DType dt = promote(a.dtype(), b.dtype());
  Tensor c = cond.broadcast_to(s), x = a.cast(dt).broadcast_to(s), y = b.cast(dt).broadcast_to(s);
  return Tensor(c.uop()->where(x.uop(), y.uop()), s, device());
}

Tensor Tensor::reciprocal() const { return as_float(*this).alu(Op::RECIP); }
Tensor Tensor::sqrt() const { return as_float(*this).alu(Op::SQRT); }
Tensor Tensor::rsqrt() const { return sqrt().reciprocal(); }
Tensor Tensor::exp2() const { return as_float(*this).alu(Op::EXP2); }
Tensor Tensor::log2() const { return as_float(*this).alu(Op::LOG2); }
Tensor Tensor::exp() const { return as_float(*this).mul(1.0 / std::numbers::ln2).exp2(); }
Tensor Tensor::log() const { return log2().mul(std::numbers::ln2); }
Tensor Tensor::sin() const { return as_float(*this).alu(Op::SIN); }
Tensor Tensor::cos() const { return as_float(*this).sub(std::numbers::pi / 2).neg().sin(); }
Tensor Tensor::tan() const { return sin().div(cos()); }
Tensor Tensor::relu() const { return maximum(0); }
Tensor Tensor::sigmoid() const { return as_float(*this).neg().exp().add(1).reciprocal(); }
Tensor Tensor::tanh() const { return as_float(*this).mul(2).sigmoid().mul(2).sub(1); }
Tensor Tensor::abs() const {
  if (dtype().is_bool() || dtype().is_unsigned()) return *this;
  return lt(0).where(neg(), *this);
}
Tensor Tensor::sign() const {
  if (dtype().is_bool()) return *this;
  Tensor pos = gt(0).cast(dtype()), neg_ = lt(0).cast(dtype());
  Tensor s = pos.sub(neg_);
  if (dtype().is_float()) return ne(*this).where(*this, s);  // NaN stays NaN
  return s;
}
Tensor Tensor::trunc() const {
  if (!dtype().is_float()) return *this;
  return alu(Op::TRUNC);
}
Tensor Tensor::floor() const {
  if (!dtype().is_float()) return *this;
  Tensor t = trunc();
  return t.gt(*this).where(t.sub(1), t);
}
Tensor Tensor::ceil() const {
  if (!dtype().is_float()) return *this;
  Tensor t = trunc();
  return t.lt(*this).where(t.add(1), t);
}
Tensor Tensor::round() const {
  if (!dtype().is_float()) return *this;
  // half to even: exact halves go to the even neighbour
  Tensor f = floor(), d = sub(f);
  Tensor f_even = f.sub(f.div(2).floor().mul(2)).eq(0);
  Tensor up = d.gt(0.5).bitwise_or(d.eq(0.5).bitwise_and(f_even.logical_not()));
  return up.where(f.add(1), f);
}
Tensor Tensor::clip(std::optional<Scalar> lo, std::optional<Scalar> hi) const {
  Tensor r = *this;
  if (lo) r = r.maximum(*lo);
  if (hi) r = r.minimum(*hi);
  return r;
}

}  // namespace fg
