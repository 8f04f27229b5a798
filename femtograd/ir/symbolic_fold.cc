// Exact constant evaluation of every ALU op, cast and bitcast for every scalar dtype.
// Guarantees: ints wrap at the dtype's width (two's complement), // and % truncate toward zero like
// C (INT_MIN // -1 wraps to INT_MIN), shifts are C shifts for amounts in [0, bits), floats are
// computed in the dtype's own precision with round to nearest even (half, bfloat16 and fp8 through
// correctly rounded helpers), MAX propagates NaN. Where C leaves a result undefined (division by
// zero, shift out of range, float -> int out of range) nothing is folded.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "femtograd/ir/symbolic.h"

namespace fg {
namespace {
using S = ScalarType;

struct FloatFmt {
  int mant, exp;  // explicit mantissa bits, exponent bits
  bool has_inf;   // fp8e4m3 (the "fn" variant) has no inf: its all-ones pattern is NaN
  double max;
};
const FloatFmt* small_float(S s) {
  static const FloatFmt half{10, 5, true, 65504.0}, bf16{7, 8, true, 3.3895313892515355e38},
      e4m3{3, 4, false, 448.0}, e5m2{2, 5, true, 57344.0};
  switch (s) {
    case S::Float16: return &half;
    case S::BFloat16: return &bf16;
    case S::FP8E4M3: return &e4m3;
    case S::FP8E5M2: return &e5m2;
    default: return nullptr;
  }
}

int int_bits(DType dt) { return dt.scalar == S::Index ? 64 : dt.bits(); }

// v rounded to a format with f.mant explicit mantissa bits, round to nearest even, from a double
double round_fmt(const FloatFmt& f, double v) {
  if (std::isnan(v)) return v;
  if (std::isinf(v)) return f.has_inf ? v : std::numeric_limits<double>::quiet_NaN();
  double a = std::fabs(v);
  if (a == 0) return v;
  int bias = (1 << (f.exp - 1)) - 1, emin = 1 - bias, e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int ex = std::max(e - 1, emin);
  double q = std::ldexp(1.0, ex - f.mant);  // spacing of representable values at a
  double r = std::nearbyint(a / q) * q;     // a/q is exact: a scaling by a power of two
  if (r > f.max)
    return f.has_inf ? std::copysign(INFINITY, v) : std::numeric_limits<double>::quiet_NaN();
  return std::copysign(r, v);
}

// An integer as a double rounded to odd at 53 bits, so a second rounding to fewer bits is correct.
double int_to_double_odd(bool neg, uint64_t mag) {
  if (mag < (1ULL << 53)) return neg ? -static_cast<double>(mag) : static_cast<double>(mag);
  int shift = 64 - std::countl_zero(mag) - 53;
  uint64_t m = mag >> shift;
  if (mag & ((1ULL << shift) - 1)) m |= 1;
  double d = std::ldexp(static_cast<double>(m), shift);
  return neg ? -d : d;
}

bool is_unsigned(DType dt) { return dt.is_unsigned(); }
uint64_t umask(DType dt) {
  int b = int_bits(dt);
  return b >= 64 ? ~0ULL : (1ULL << b) - 1;
}

// the integer an Arg holds, as the dtype's value (wrapped)
int64_t ival(DType dt, const Arg& a) {
  if (a.is_bool()) return a.as_bool();
  if (a.is_int()) return wrap_int(dt, a.as_int());
  return wrap_int(dt, static_cast<int64_t>(a.as_float()));
}
double fval(DType dt, const Arg& a) {
  if (a.is_float()) return round_float(dt, a.as_float());
  if (a.is_bool()) return a.as_bool();
  return round_float(dt, static_cast<double>(a.as_int()));
}
bool bval(const Arg& a) {
  return a.is_bool() ? a.as_bool() : a.is_int() ? a.as_int() != 0 : a.as_float() != 0;
}

// float math in the dtype's precision: float32 in float, float64 in double, the small types in
// float then rounded (float has more than 2p+2 bits for them, so + - * / sqrt round correctly)
template <class F>
double in_precision(DType dt, F f) {
  if (dt.scalar == S::Float64) return f(double{});
  if (dt.scalar == S::Float32) return static_cast<double>(f(float{}));
  return round_float(dt, static_cast<double>(f(float{})));
}

uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
// Threefry-2x32 with 20 rounds; the counter and key are uint64 split into (low, high) halves.
uint64_t threefry2x32(uint64_t x, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  uint32_t ks[3] = {k1, k0 ^ k1 ^ 0x1BD11BDAu, k0};
  uint32_t x0 = static_cast<uint32_t>(x) + ks[2], x1 = static_cast<uint32_t>(x >> 32) + ks[0];
  static const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  for (int i = 0; i < 5; i++) {
    for (int r : rot[i % 2]) {
      x0 += x1;
      x1 = x0 ^ rotl32(x1, r);
    }
    x0 += ks[i % 3];
    x1 += ks[(i + 1) % 3] + static_cast<uint32_t>(i + 1);
  }
  return (static_cast<uint64_t>(x1) << 32) | x0;
}

std::optional<Arg> fold_int(Op op, DType dt, std::span<const Arg> s) {
  bool uns = is_unsigned(dt);
  auto a = [&](int i) { return ival(dt, s[i]); };
  auto ua = [&](int i) { return static_cast<uint64_t>(a(i)); };
  auto W = [&](uint64_t v) { return Arg(wrap_int(dt, static_cast<int64_t>(v))); };
  auto lt = [&](int64_t x, int64_t y) {
    return uns ? static_cast<uint64_t>(x) < static_cast<uint64_t>(y) : x < y;
  };
  switch (op) {
    case Op::TRUNC: return W(ua(0));
    case Op::ADD: return W(ua(0) + ua(1));
    case Op::MUL: return W(ua(0) * ua(1));
    case Op::MULACC: return W(ua(0) * ua(1) + ua(2));
    case Op::IDIV:
    case Op::MOD: {
      int64_t x = a(0), y = a(1);
      if (y == 0) return std::nullopt;
      if (uns) return W(op == Op::IDIV ? ua(0) / ua(1) : ua(0) % ua(1));
      if (y == -1)
        return W(op == Op::IDIV ? 0 - static_cast<uint64_t>(x) : 0);  // INT_MIN / -1 wraps
      return W(static_cast<uint64_t>(op == Op::IDIV ? x / y : x % y));
    }
    case Op::MAX: return Arg(lt(a(0), a(1)) ? a(1) : a(0));
    case Op::CMPLT: return Arg(lt(a(0), a(1)));
    case Op::CMPNE: return Arg(a(0) != a(1));
    case Op::CMPEQ: return Arg(a(0) == a(1));
    case Op::XOR: return W(ua(0) ^ ua(1));
    case Op::OR: return W(ua(0) | ua(1));
    case Op::AND: return W(ua(0) & ua(1));
    case Op::SHL:
    case Op::SHR: {
      uint64_t amt = ua(1);
      if (!uns && a(1) < 0) return std::nullopt;
      if (amt >= static_cast<uint64_t>(int_bits(dt))) return std::nullopt;
      if (op == Op::SHL) return W(ua(0) << amt);
      return uns ? W((ua(0) & umask(dt)) >> amt) : Arg(a(0) >> amt);
    }
    case Op::THREEFRY:
      if (dt.scalar != S::UInt64) return std::nullopt;
      return W(threefry2x32(ua(0), ua(1)));
    case Op::WHERE: return Arg(bval(s[0]) ? a(1) : a(2));
    default: return std::nullopt;
  }
}

std::optional<Arg> fold_bool(Op op, std::span<const Arg> s) {
  auto b = [&](int i) { return bval(s[i]); };
  switch (op) {
    case Op::TRUNC: return Arg(b(0));
    case Op::ADD:
    case Op::OR:
    case Op::MAX: return Arg(b(0) || b(1));
    case Op::MUL:
    case Op::AND: return Arg(b(0) && b(1));
    case Op::XOR:
    case Op::CMPNE: return Arg(b(0) != b(1));
    case Op::CMPEQ: return Arg(b(0) == b(1));
    case Op::CMPLT: return Arg(!b(0) && b(1));
    case Op::WHERE: return Arg(b(0) ? b(1) : b(2));
    default: return std::nullopt;
  }
}

std::optional<Arg> fold_float(Op op, DType dt, std::span<const Arg> s) {
  auto v = [&](int i) { return fval(dt, s[i]); };
  auto R = [&](auto f) { return Arg(in_precision(dt, f)); };
  switch (op) {
    case Op::EXP2: return R([&](auto t) { return std::exp2(static_cast<decltype(t)>(v(0))); });
    case Op::LOG2: return R([&](auto t) { return std::log2(static_cast<decltype(t)>(v(0))); });
    case Op::SIN: return R([&](auto t) { return std::sin(static_cast<decltype(t)>(v(0))); });
    case Op::SQRT: return R([&](auto t) { return std::sqrt(static_cast<decltype(t)>(v(0))); });
    case Op::RECIP:
      return R([&](auto t) {
        using T = decltype(t);
        return T(1) / static_cast<T>(v(0));
      });
    case Op::TRUNC: return Arg(std::trunc(v(0)));
    case Op::ADD:
      return R([&](auto t) {
        using T = decltype(t);
        return static_cast<T>(v(0)) + static_cast<T>(v(1));
      });
    case Op::MUL:
      return R([&](auto t) {
        using T = decltype(t);
        return static_cast<T>(v(0)) * static_cast<T>(v(1));
      });
    case Op::FDIV:
      return R([&](auto t) {
        using T = decltype(t);
        return static_cast<T>(v(0)) / static_cast<T>(v(1));
      });
    case Op::POW:
      return R([&](auto t) {
        using T = decltype(t);
        return std::pow(static_cast<T>(v(0)), static_cast<T>(v(1)));
      });
    case Op::MULACC: {
      // a*b rounded, then +c rounded: the unfused a*b+c that the renderers emit
      double p = fold_float(Op::MUL, dt, s.subspan(0, 2))->as_float();
      Arg ps[2] = {Arg(p), s[2]};
      return fold_float(Op::ADD, dt, ps);
    }
    case Op::MAX: {
      double x = v(0), y = v(1);
      if (std::isnan(x)) return Arg(x);
      if (std::isnan(y)) return Arg(y);
      if (x == y) return Arg(std::signbit(x) ? y : x);  // max(-0, +0) is +0
      return Arg(x < y ? y : x);
    }
    case Op::CMPLT: return Arg(v(0) < v(1));
    case Op::CMPNE: return Arg(v(0) != v(1));
    case Op::CMPEQ: return Arg(v(0) == v(1));
    case Op::WHERE: return Arg(bval(s[0]) ? v(1) : v(2));
    default: return std::nullopt;
  }
}
}  // namespace

int64_t wrap_int(DType dt, int64_t v) {
  int b = int_bits(dt);
  if (dt.is_bool()) return v != 0;
  if (b >= 64) return v;
  uint64_t m = (1ULL << b) - 1, u = static_cast<uint64_t>(v) & m;
  if (dt.is_unsigned()) return static_cast<int64_t>(u);
  if (u >> (b - 1)) u |= ~m;  // sign-extend
  return static_cast<int64_t>(u);
}

double round_float(DType dt, double v) {
  if (dt.scalar == S::Float64) return v;
  if (dt.scalar == S::Float32) return static_cast<double>(static_cast<float>(v));
  if (const FloatFmt* f = small_float(dt.scalar)) return round_fmt(*f, v);
  return v;
}

uint64_t float_to_bits(DType dt, double v) {
  if (dt.scalar == S::Float64) return std::bit_cast<uint64_t>(v);
  if (dt.scalar == S::Float32) return std::bit_cast<uint32_t>(static_cast<float>(v));
  const FloatFmt& f = *small_float(dt.scalar);
  v = round_fmt(f, v);
  uint64_t sign = std::signbit(v) ? 1ULL << (f.mant + f.exp) : 0, expmask = (1ULL << f.exp) - 1;
  if (std::isnan(v))
    return f.has_inf ? (expmask << f.mant) | (1ULL << (f.mant - 1))
                     : (expmask << f.mant) | ((1ULL << f.mant) - 1);
  if (std::isinf(v)) return sign | (expmask << f.mant);
  double a = std::fabs(v);
  if (a == 0) return sign;
  int bias = (1 << (f.exp - 1)) - 1, emin = 1 - bias, e;
  std::frexp(a, &e);
  if (e - 1 < emin)  // subnormal
    return sign | static_cast<uint64_t>(std::ldexp(a, f.mant - emin));
  uint64_t m = static_cast<uint64_t>(std::ldexp(a, f.mant - (e - 1))) & ((1ULL << f.mant) - 1);
  return sign | (static_cast<uint64_t>(e - 1 + bias) << f.mant) | m;
}

double float_from_bits(DType dt, uint64_t bits) {
  if (dt.scalar == S::Float64) return std::bit_cast<double>(bits);
  if (dt.scalar == S::Float32) return std::bit_cast<float>(static_cast<uint32_t>(bits));
  const FloatFmt& f = *small_float(dt.scalar);
  uint64_t expmask = (1ULL << f.exp) - 1, mmask = (1ULL << f.mant) - 1;
  bool neg = (bits >> (f.mant + f.exp)) & 1;
  uint64_t e = (bits >> f.mant) & expmask, m = bits & mmask;
  int bias = (1 << (f.exp - 1)) - 1;
  double r;
  if (f.has_inf && e == expmask)
    r = m ? std::numeric_limits<double>::quiet_NaN() : INFINITY;
  else if (!f.has_inf && e == expmask && m == mmask)
    r = std::numeric_limits<double>::quiet_NaN();
  else if (e == 0)
    r = std::ldexp(static_cast<double>(m), 1 - bias - f.mant);
  else
    r = std::ldexp(static_cast<double>(m | (1ULL << f.mant)), static_cast<int>(e) - bias - f.mant);
  return neg ? -r : r;
}

Arg canonical_const(DType dt, const Arg& v) {
  if (dt.is_bool()) return Arg(bval(v));
  if (dt.is_int()) return Arg(ival(dt, v));
  if (dt.is_float()) return Arg(fval(dt, v));
  return v;
}

std::optional<Arg> fold_alu(Op op, DType dtype, std::span<const Arg> srcs) {
  DType dt = dtype.scalar_type();
  for (const Arg& a : srcs)
    if (!a.is_number()) return std::nullopt;
  if (dtype.is_ptr() || dtype.count != 1) return std::nullopt;
  size_t need = op_in(op, G_UNARY) ? 1 : op_in(op, G_BINARY) ? 2 : op_in(op, G_TERNARY) ? 3 : 0;
  if (need == 0 || srcs.size() != need) return std::nullopt;
  if (dt.is_bool()) return fold_bool(op, srcs);
  if (dt.is_int()) return fold_int(op, dt, srcs);
  if (dt.is_float()) return fold_float(op, dt, srcs);
  return std::nullopt;
}

std::optional<Arg> fold_cast(const Arg& v, DType from, DType to) {
  from = from.scalar_type(), to = to.scalar_type();
  if (!v.is_number()) return std::nullopt;
  if (from.is_bool() || from.is_int()) {
    int64_t x = from.is_bool() ? bval(v) : ival(from, v);
    bool big_unsigned = from.scalar == S::UInt64 && x < 0;  // a uint64 above int64's range
    if (to.is_bool()) return Arg(x != 0);
    if (to.is_int()) return Arg(wrap_int(to, x));
    if (to.is_float()) {
      if (to.scalar == S::Float64)
        return Arg(big_unsigned ? static_cast<double>(static_cast<uint64_t>(x))
                                : static_cast<double>(x));
      if (to.scalar == S::Float32)
        return Arg(static_cast<double>(big_unsigned ? static_cast<float>(static_cast<uint64_t>(x))
                                                    : static_cast<float>(x)));
      bool neg = !big_unsigned && x < 0;
      uint64_t mag = neg ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
      return Arg(round_float(to, int_to_double_odd(neg, mag)));
    }
    return std::nullopt;
  }
  if (from.is_float()) {
    double x = fval(from, v);
    if (to.is_bool()) return Arg(x != 0);  // NaN is true, as in C
    if (to.is_float()) return Arg(round_float(to, x));
    if (to.is_int()) {
      if (!std::isfinite(x)) return std::nullopt;
      double t = std::trunc(x);
      if (to.is_unsigned()) {
        if (t < 0 || t >= std::ldexp(1.0, int_bits(to))) return std::nullopt;
        return Arg(wrap_int(to, static_cast<int64_t>(static_cast<uint64_t>(t))));
      }
      if (t < std::ldexp(-1.0, int_bits(to) - 1) || t >= std::ldexp(1.0, int_bits(to) - 1))
        return std::nullopt;
      return Arg(static_cast<int64_t>(t));
    }
  }
  return std::nullopt;
}

std::optional<Arg> fold_bitcast(const Arg& v, DType from, DType to) {
  from = from.scalar_type(), to = to.scalar_type();
  if (!v.is_number() || from.itemsize() != to.itemsize()) return std::nullopt;
  uint64_t bits;
  if (from.is_float())
    bits = float_to_bits(from, fval(from, v));
  else if (from.is_bool())
    bits = bval(v);
  else if (from.is_int())
    bits = static_cast<uint64_t>(ival(from, v)) & umask(from);
  else
    return std::nullopt;
  if (to.is_float()) return Arg(float_from_bits(to, bits));
  if (to.is_int()) return Arg(wrap_int(to, static_cast<int64_t>(bits)));
  if (to.is_bool()) {
    if (bits > 1) return std::nullopt;  // not a valid bool
    return Arg(bits == 1);
  }
  return std::nullopt;
}

}  // namespace fg
