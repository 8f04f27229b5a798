#include "femtograd/render/c.h"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/render/render_util.h"

namespace fg {
namespace {

// the C type a value of this dtype is computed in
std::string ctype(DType dt) {
  switch (dt.scalar) {
    case ScalarType::Bool: return "_Bool";
    case ScalarType::Int8: return "signed char";
    case ScalarType::Int16: return "short";
    case ScalarType::Int32: return "int";
    case ScalarType::Int64: case ScalarType::Index: return "long long";
    case ScalarType::UInt8: return "unsigned char";
    case ScalarType::UInt16: return "unsigned short";
    case ScalarType::UInt32: return "unsigned int";
    case ScalarType::UInt64: return "unsigned long long";
    case ScalarType::Float32: case ScalarType::Float16: case ScalarType::BFloat16:
    case ScalarType::FP8E4M3: case ScalarType::FP8E5M2: return "float";
    case ScalarType::Float64: return "double";
    default: fail(ErrorKind::NotImplemented, "render_c", "no C type for ", dt.name());
  }
}

// the C type a buffer of this dtype stores
std::string storage_type(DType dt) {
  switch (dt.scalar) {
    case ScalarType::Float16: case ScalarType::BFloat16: return "unsigned short";
    case ScalarType::FP8E4M3: case ScalarType::FP8E5M2: return "unsigned char";
    default: return ctype(dt);
  }
}

// Helper functions a kernel may need; only the ones it uses are emitted (less for the C compiler).
const char* kHead = R"(#include <math.h>
#include <string.h>
)";
const char* kBits = R"(typedef union { float f; unsigned int u; } fg_fu;
static inline float fg_bits2f(unsigned int u) { fg_fu x; x.u = u; return x.f; }
static inline unsigned int fg_f2bits(float f) { fg_fu x; x.f = f; return x.u; }
)";
const char* kBF16 = R"(static inline float fg_from_bf16(unsigned short h) { return fg_bits2f((unsigned int)h << 16); }
static inline unsigned short fg_to_bf16(float f) {
  unsigned int u = fg_f2bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40);
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
)";
const char* kF16 = R"(static inline float fg_from_f16(unsigned short h) {
  unsigned int s = (unsigned int)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return fg_bits2f(s | 0x7f800000u | (m << 13));
  if (e == 0) { float v = (float)m * 5.9604644775390625e-8f; return s ? -v : v; }
  return fg_bits2f(s | ((e + 112u) << 23) | (m << 13));
}
static inline unsigned short fg_to_f16(float f) {
  unsigned int u = fg_f2bits(f), s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (unsigned short)(s | 0x7e00u);
  if (a >= 0x477ff000u) return (unsigned short)(s | 0x7c00u);
  if (a < 0x38800000u) {  /* subnormal half: round to a multiple of 2^-24 */
    float v = fg_bits2f(a) * 16777216.0f;
    float r = rintf(v);
    return (unsigned short)(s | (unsigned int)r);
  }
  unsigned int r = a + 0xfffu + ((a >> 13) & 1u);
  return (unsigned short)(s | ((r - 0x38000000u) >> 13));
}
)";
const char* kFP8 = R"(static inline float fg_fp8_decode(unsigned char v, int mbits, int bias, int e4m3) {
  int s = v >> 7, e = (v >> mbits) & ((1 << (7 - mbits)) - 1), m = v & ((1 << mbits) - 1);
  float r;
  if (e4m3 && e == 15 && m == 7) r = NAN;
  else if (!e4m3 && e == 31) r = m ? NAN : INFINITY;
  else if (e == 0) r = ldexpf((float)m, 1 - bias - mbits);
  else r = ldexpf((float)(m + (1 << mbits)), e - bias - mbits);
  return s ? -r : r;
}
static inline unsigned char fg_fp8_encode(float f, int mbits, int bias, int e4m3) {
  unsigned char s = signbit(f) ? 0x80 : 0;
  if (isnan(f)) return (unsigned char)(s | 0x7f);
  float a = fabsf(f), maxv = e4m3 ? 448.0f : 57344.0f;
  int e, emin = 1 - bias;
  frexpf(a, &e);
  e -= 1;
  if (e < emin) e = emin;
  float r = rintf(ldexpf(a, mbits - e));  /* round to nearest even at this exponent */
  float v = ldexpf(r, e - mbits);
  if (v > maxv) return e4m3 ? (unsigned char)(s | 0x7f) : (unsigned char)(s | 0x7c);
  if (v == 0.0f) return s;
  frexpf(v, &e);
  e -= 1;
  if (e < emin) return (unsigned char)(s | (unsigned int)ldexpf(v, mbits - emin));
  unsigned int m = (unsigned int)ldexpf(v, mbits - e) - (1u << mbits);
  return (unsigned char)(s | ((unsigned int)(e + bias) << mbits) | m);
}
static inline float fg_from_e4m3(unsigned char v) { return fg_fp8_decode(v, 3, 7, 1); }
static inline unsigned char fg_to_e4m3(float f) { return fg_fp8_encode(f, 3, 7, 1); }
static inline float fg_from_e5m2(unsigned char v) { return fg_fp8_decode(v, 2, 15, 0); }
static inline unsigned char fg_to_e5m2(float f) { return fg_fp8_encode(f, 2, 15, 0); }
)";
// SIMD exp2 and log2 of 8 floats (libm has no vector forms the compiler can call): ~1 ulp.
const char* kVecMath = R"(typedef int fg_vi32x8 __attribute__((vector_size(32)));
typedef float fg_vf32x8 __attribute__((vector_size(32)));
static inline fg_vf32x8 fg_vsel8(fg_vi32x8 m, fg_vf32x8 a, fg_vf32x8 b) {
  return (fg_vf32x8)((m & (fg_vi32x8)a) | (~m & (fg_vi32x8)b));
}
static inline fg_vf32x8 fg_exp2_v8(fg_vf32x8 x) {
  const fg_vf32x8 z = {};
  fg_vf32x8 c = fg_vsel8(x < -151.0f, z - 151.0f, fg_vsel8(x > 129.0f, z + 129.0f, x));
  fg_vf32x8 r = (c + 12582912.0f) - 12582912.0f;  /* round to nearest integer */
  fg_vf32x8 f = c - r;                               /* in [-0.5, 0.5] */
  fg_vf32x8 p = z + 1.5252734e-05f;
  p = p * f + 1.5403530e-04f; p = p * f + 1.3333558e-03f; p = p * f + 9.6181291e-03f;
  p = p * f + 5.5504109e-02f; p = p * f + 2.4022651e-01f; p = p * f + 6.9314718e-01f; p = p * f + 1.0f;
  fg_vi32x8 n = __builtin_convertvector(r, fg_vi32x8);
  fg_vi32x8 n1 = n / 2, n2 = n - n1;                 /* two scales keep each exponent in range */
  fg_vf32x8 s1 = (fg_vf32x8)((n1 + 127) << 23), s2 = (fg_vf32x8)((n2 + 127) << 23);
  fg_vf32x8 y = p * s1 * s2;
  return fg_vsel8(x != x, x, y);
}
static inline fg_vf32x8 fg_log2_v8(fg_vf32x8 x) {
  fg_vi32x8 sub = x < 1.17549435e-38f;
  fg_vf32x8 xs = fg_vsel8(sub, x * 8388608.0f, x);   /* subnormals: scale by 2^23 first */
  fg_vi32x8 bits = (fg_vi32x8)xs;
  fg_vi32x8 e = ((bits >> 23) & 0xff) - 127 - (sub & 23);
  fg_vf32x8 m = (fg_vf32x8)((bits & 0x7fffff) | 0x3f800000);  /* [1, 2) */
  fg_vi32x8 big = m > 1.41421356f;
  m = fg_vsel8(big, m * 0.5f, m);
  e = e - big;                                       /* big is -1 where true */
  fg_vf32x8 s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  fg_vf32x8 q = s2 * 0.0f + 0.09090909f;
  q = q * s2 + 0.11111111f; q = q * s2 + 0.14285715f; q = q * s2 + 0.2f; q = q * s2 + 0.33333334f;
  q = q * s2 + 1.0f;
  fg_vf32x8 y = __builtin_convertvector(e, fg_vf32x8) + (2.0f * 1.44269504f) * s * q;
  const fg_vf32x8 z = {};
  y = fg_vsel8(x == 0.0f, z - INFINITY, y);
  y = fg_vsel8(x < 0.0f, z + NAN, y);
  y = fg_vsel8(x == INFINITY, x, y);
  return fg_vsel8(x != x, x, y);
}
/* max of 8 floats where a NaN in either operand wins (the IR's MAX). With AVX, maxps(b, a) gives
   b > a ? b : a, and a when either is NaN; one unordered test on b covers the other case: 3 vector ops
   where the portable select of (a != a) | (a > b) takes 5. */
static inline fg_vf32x8 fg_max_v8(fg_vf32x8 a, fg_vf32x8 b) {
#if defined(__AVX__) && (defined(__x86_64__) || defined(__i386__))
  return fg_vsel8(b != b, b, __builtin_ia32_maxps256(b, a));
#else
  return fg_vsel8((a != a) | (a > b), a, b);
#endif
}
)";
const char* kThreefry = R"(static inline unsigned long long fg_threefry(unsigned long long x, unsigned long long key) {
  unsigned int x0 = (unsigned int)x, x1 = (unsigned int)(x >> 32);
  unsigned int k0 = (unsigned int)key, k1 = (unsigned int)(key >> 32), k2 = k0 ^ k1 ^ 0x1BD11BDAu;
  unsigned int ks[3] = {k0, k1, k2};
  static const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  x0 += ks[0]; x1 += ks[1];
  for (int i = 0; i < 5; i++) {
    for (int j = 0; j < 4; j++) {
      int r = rot[(i % 2) * 4 + j];
      x0 += x1; x1 = (x1 << r) | (x1 >> (32 - r)); x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3]; x1 += ks[(i + 2) % 3] + (unsigned int)(i + 1);
  }
  return ((unsigned long long)x1 << 32) | x0;
}
)";

std::string render_const(const UOp& c) {
  DType dt = c.dtype;
  if (dt.is_bool()) return c.arg.to_int() ? "1" : "0";
  if (dt.is_float()) {
    double v = c.arg.to_double();
    bool f32 = dt.scalar != ScalarType::Float64;
    if (std::isnan(v)) return f32 ? "NAN" : "((double)NAN)";
    if (std::isinf(v)) return std::string(v < 0 ? "-" : "") + (f32 ? "INFINITY" : "((double)INFINITY)");
    return float_literal(v, !f32);
  }
  return int_literal(dt, c.arg.to_int());
}

struct CRenderer {
  const KernelProgram& k;
  std::vector<std::string> typedefs;  // vector types this kernel uses
  PtrMap<std::string> names;
  std::vector<UOpRef> keep;
  std::ostringstream body;
  int indent = 1;
  int counter = 0;

  // by value: a later set() may grow the map and move the strings
  std::string name(const UOp* u) {
    if (std::string* s = names.find(u)) return *s;
    if (u->op == Op::CONST) return set(u, render_const(*u));
    if (u->op == Op::VCONST) {  // lane numbers, printed inline like constants
      std::string r = "((" + type(u->dtype) + "){";
      const auto& vals = u->arg.as_ints();
      for (size_t i = 0; i < vals.size(); i++) r += (i ? ", " : "") + std::to_string(vals[i]);
      return set(u, r + "})");
    }
    if (u->op == Op::DEFINE_GLOBAL) return set(u, "data" + std::to_string(u->arg.as_int()));
    fail(ErrorKind::Internal, "render_c", "use of ", u->line(), " before it is defined");
  }
  std::string set(const UOp* u, std::string s) {
    keep.push_back(u->ref());
    return names.put(u, std::move(s));
  }
  void line(const std::string& s) { body << std::string(2 * indent, ' ') << s << "\n"; }

  // ---- SIMD values: GCC/clang vector extensions. A bool vector is a mask of int lanes (-1/0).
  std::string vec_type(const std::string& elem, int elem_bytes, int w, const std::string& tag) {
    std::string n = "fg_" + tag + "x" + std::to_string(w);
    std::string td = "typedef " + elem + " " + n + " __attribute__((vector_size(" + std::to_string(elem_bytes * w) + ")));";
    if (std::find(typedefs.begin(), typedefs.end(), td) == typedefs.end()) typedefs.push_back(td);
    return n;
  }
  std::string type(DType dt) {
    if (dt.count == 1) return ctype(dt);
    DType e = dt.scalar_type();
    if (e.is_bool()) return vec_type("int", 4, dt.count, "bool");
    std::string c = ctype(e);
    std::string tag = e.name();
    return vec_type(c, e.scalar == ScalarType::Index ? 8 : std::max(e.itemsize(), c == "float" ? 4 : e.itemsize()), dt.count, tag);
  }
  // the integer vector of the same lane size as dt (for bit selects); bool vectors have int lanes
  std::string mask_type(DType dt) {
    DType e = dt.scalar_type();
    int b = e.scalar == ScalarType::Index ? 8 : e.is_bool() || ctype(e) == "float" ? 4 : e.itemsize();
    const char* elem = b == 8 ? "long long" : b == 4 ? "int" : b == 2 ? "short" : "signed char";
    return vec_type(elem, b, dt.count, "mask" + std::to_string(b));
  }
  std::string select(DType dt, const std::string& c, const std::string& a, const std::string& b) {
    std::string m = mask_type(dt), t = type(dt);
    std::string cm = "__builtin_convertvector(" + c + ", " + m + ")";
    return "((" + t + ")((" + cm + " & (" + m + ")" + a + ") | (~" + cm + " & (" + m + ")" + b + ")))";
  }
  std::string per_lane(DType dt, const std::function<std::string(const std::string&)>& f, const std::string& a) {
    std::string r = "((" + type(dt) + "){";
    for (int i = 0; i < dt.count; i++) r += (i ? ", " : "") + f(a + "[" + std::to_string(i) + "]");
    return r + "})";
  }
  std::string fresh(const char* prefix) { return prefix + std::to_string(counter++); }

  std::string math(const char* fn, DType dt, const std::string& a) {
    return std::string(fn) + (dt.scalar == ScalarType::Float64 ? "" : "f") + "(" + a + ")";
  }

  std::string alu(const UOp& u) {
    auto s = [&](int i) { return name(u.src(i).get()); };
    DType dt = u.dtype;
    if (dt.count > 1) return vec_alu(u);
    switch (u.op) {
      case Op::ADD: return "(" + s(0) + "+" + s(1) + ")";
      case Op::MUL: return "(" + s(0) + "*" + s(1) + ")";
      case Op::IDIV: return "(" + s(0) + "/" + s(1) + ")";
      case Op::MOD: return "(" + s(0) + "%" + s(1) + ")";
      case Op::FDIV: return "(" + s(0) + "/" + s(1) + ")";
      case Op::CMPLT: return "(" + s(0) + "<" + s(1) + ")";
      case Op::CMPNE: return "(" + s(0) + "!=" + s(1) + ")";
      case Op::CMPEQ: return "(" + s(0) + "==" + s(1) + ")";
      case Op::AND: return "(" + s(0) + "&" + s(1) + ")";
      case Op::OR: return "(" + s(0) + "|" + s(1) + ")";
      case Op::XOR: return "(" + s(0) + "^" + s(1) + ")";
      case Op::SHL: return "(" + s(0) + "<<" + s(1) + ")";
      case Op::SHR: return "(" + s(0) + ">>" + s(1) + ")";
      case Op::MAX:
        if (dt.is_float()) return "((" + s(0) + "!=" + s(0) + "||" + s(0) + ">" + s(1) + ")?" + s(0) + ":" + s(1) + ")";
        return "((" + s(0) + ">" + s(1) + ")?" + s(0) + ":" + s(1) + ")";
      case Op::WHERE: return "(" + s(0) + "?" + s(1) + ":" + s(2) + ")";
      case Op::MULACC: return "((" + s(0) + "*" + s(1) + ")+" + s(2) + ")";
      case Op::EXP2: return math("exp2", dt, s(0));
      case Op::LOG2: return math("log2", dt, s(0));
      case Op::SIN: return math("sin", dt, s(0));
      case Op::SQRT: return math("sqrt", dt, s(0));
      case Op::TRUNC: return dt.is_float() ? math("trunc", dt, s(0)) : s(0);
      case Op::RECIP: return "(" + std::string(dt.scalar == ScalarType::Float64 ? "1.0" : "1.0f") + "/" + s(0) + ")";
      case Op::POW: return (dt.scalar == ScalarType::Float64 ? "pow(" : "powf(") + s(0) + "," + s(1) + ")";
      case Op::THREEFRY: return "fg_threefry(" + s(0) + "," + s(1) + ")";
      default: fail(ErrorKind::NotImplemented, "render_c", "no C for ", u.line());
    }
  }

  std::string vec_alu(const UOp& u) {
    auto s = [&](int i) { return name(u.src(i).get()); };
    DType dt = u.dtype, st = dt.scalar_type();
    DType in = u.nsrc() ? u.src(u.op == Op::WHERE ? 1 : 0)->dtype : dt;
    auto cmp = [&](const char* o) {
      return "__builtin_convertvector((" + s(0) + o + s(1) + "), " + type(dt) + ")";
    };
    auto lane = [&](const char* fn) {
      std::string f = std::string(fn) + (st.scalar == ScalarType::Float64 ? "" : "f");
      return per_lane(dt, [&](const std::string& x) { return f + "(" + x + ")"; }, s(0));
    };
    if (in.scalar_type().is_bool()) {  // lanes are masks (-1 true, 0 false): logic, not arithmetic
      switch (u.op) {
        case Op::ADD: case Op::MAX: case Op::OR: return "(" + s(0) + "|" + s(1) + ")";
        case Op::MUL: case Op::AND: return "(" + s(0) + "&" + s(1) + ")";
        case Op::CMPLT: return "(~" + s(0) + "&" + s(1) + ")";  // false < true
        default: break;
      }
    }
    switch (u.op) {
      case Op::ADD: return "(" + s(0) + "+" + s(1) + ")";
      case Op::MUL: return "(" + s(0) + "*" + s(1) + ")";
      case Op::IDIV: case Op::FDIV: return "(" + s(0) + "/" + s(1) + ")";
      case Op::MOD: return "(" + s(0) + "%" + s(1) + ")";
      case Op::AND: return "(" + s(0) + "&" + s(1) + ")";
      case Op::OR: return "(" + s(0) + "|" + s(1) + ")";
      case Op::XOR: return "(" + s(0) + "^" + s(1) + ")";
      case Op::SHL: return "(" + s(0) + "<<" + s(1) + ")";
      case Op::SHR: return "(" + s(0) + ">>" + s(1) + ")";
      case Op::CMPLT: return cmp("<");
      case Op::CMPNE: return cmp("!=");
      case Op::CMPEQ: return cmp("==");
      case Op::WHERE: return select(dt, s(0), s(1), s(2));
      case Op::MULACC: return "((" + s(0) + "*" + s(1) + ")+" + s(2) + ")";
      case Op::MAX:
        if (st.scalar == ScalarType::Float32 && dt.count == 8) return "fg_max_v8(" + s(0) + "," + s(1) + ")";
        if (st.is_float()) return select(dt, "((" + s(0) + "!=" + s(0) + ")|(" + s(0) + ">" + s(1) + "))", s(0), s(1));
        return select(dt, "(" + s(0) + ">" + s(1) + ")", s(0), s(1));
      case Op::EXP2:
        if (st.scalar == ScalarType::Float32 && dt.count == 8) return "fg_exp2_v8(" + s(0) + ")";
        return lane("exp2");
      case Op::LOG2:
        if (st.scalar == ScalarType::Float32 && dt.count == 8) return "fg_log2_v8(" + s(0) + ")";
        return lane("log2");
      case Op::SIN: return lane("sin");
      case Op::SQRT: return lane("sqrt");
      case Op::TRUNC: return st.is_float() ? lane("trunc") : s(0);
      case Op::RECIP: return "(" + std::string(st.scalar == ScalarType::Float64 ? "1.0" : "1.0f") + "/" + s(0) + ")";
      case Op::POW: {
        std::string f = st.scalar == ScalarType::Float64 ? "pow(" : "powf(";
        std::string r = "((" + type(dt) + "){";
        for (int i = 0; i < dt.count; i++)
          r += (i ? ", " : "") + f + s(0) + "[" + std::to_string(i) + "]," + s(1) + "[" + std::to_string(i) + "])";
        return r + "})";
      }
      case Op::THREEFRY: {
        std::string r = "((" + type(dt) + "){";
        for (int i = 0; i < dt.count; i++)
          r += (i ? ", " : "") + std::string("fg_threefry(") + s(0) + "[" + std::to_string(i) + "]," + s(1) + "[" + std::to_string(i) + "])";
        return r + "})";
      }
      default: (void)in; fail(ErrorKind::NotImplemented, "render_c", "no vector C for ", u.line());
    }
  }

  std::string vec_cast(const UOp& u) {
    const UOp& x = *u.src(0);
    std::string v = name(&x);
    if (u.dtype.scalar_type().is_bool()) return "__builtin_convertvector((" + v + "!=0), " + type(u.dtype) + ")";
    if (x.dtype.scalar_type().is_bool()) return "__builtin_convertvector((" + v + "&1), " + type(u.dtype) + ")";
    return "__builtin_convertvector(" + v + ", " + type(u.dtype) + ")";
  }

  // float value rounded to an emulated type's precision
  std::string round_to(DType dt, const std::string& v) {
    std::string sn = short_name(dt.scalar);
    return "fg_from_" + sn + "(fg_to_" + sn + "(" + v + "))";
  }

  std::string cast(const UOp& u) {
    if (u.dtype.count > 1) return vec_cast(u);
    const UOp& x = *u.src(0);
    std::string v = name(&x);
    DType to = u.dtype, from = x.dtype;
    if (to.is_bool()) return "(" + v + "!=0)";
    if (is_emulated(to.scalar)) {
      std::string f = from.is_float() ? "(float)" + v : "(float)" + v;
      return round_to(to, f);
    }
    return "((" + ctype(to) + ")" + v + ")";
  }

  std::string bitcast(const UOp& u) {
    const UOp& x = *u.src(0);
    std::string from_t = storage_type(x.dtype), to_t = storage_type(u.dtype);
    std::string v = name(&x);
    if (is_emulated(x.dtype.scalar)) v = "fg_to_" + short_name(x.dtype.scalar) + "(" + v + ")";
    std::string t = fresh("bc");
    line(to_t + " " + t + "; { " + from_t + " src_ = " + v + "; memcpy(&" + t + ", &src_, sizeof " + t + "); }");
    if (is_emulated(u.dtype.scalar)) return "fg_from_" + short_name(u.dtype.scalar) + "(" + t + ")";
    return t;
  }

  std::string load_expr(const UOp& idx, DType vt) {
    std::string e = name(idx.src(0).get()) + "[" + name(idx.src(1).get()) + "]";
    if (is_emulated(vt.scalar)) e = "fg_from_" + short_name(vt.scalar) + "(" + e + ")";
    return e;
  }

  void render_line(const UOp& u) {
    switch (u.op) {
      case Op::RANGE: {
        std::string r = set(&u, "ridx" + std::to_string(u.arg.as_ints()[0]));
        if (k.parallel_range.get() == &u)
          line("for (long long " + r + " = lo; " + r + " < hi; " + r + "++) {");
        else
          line("for (long long " + r + " = 0; " + r + " < " + name(u.src(0).get()) + "; " + r + "++) {");
        indent++;
        return;
      }
      case Op::END: indent--; line("}"); return;
      case Op::DEFINE_REG: {
        std::string a = set(&u, "acc" + std::to_string(u.arg.as_int()));
        line(type(u.dtype) + " " + a + " = " + name(u.src(0).get()) + ";");
        return;
      }
      case Op::INDEX: set(&u, ""); return;  // printed by the LOAD or STORE that uses it
      case Op::LOAD: {
        const UOp& idx = *u.src(0);
        std::string v = set(&u, fresh("val"));
        if (u.dtype.count > 1) {  // one vector load of consecutive elements
          std::string t = type(u.dtype);
          std::string src = name(idx.src(0).get()) + "+" + name(idx.src(1).get());
          line(t + " " + v + ";");
          if (idx.nsrc() > 2)
            line("if (" + name(idx.src(2).get()) + ") memcpy(&" + v + ", " + src + ", sizeof " + v + "); else " + v + " = " + name(u.src(1).get()) + ";");
          else
            line("memcpy(&" + v + ", " + src + ", sizeof " + v + ");");
          return;
        }
        std::string e = load_expr(idx, u.dtype);
        if (idx.nsrc() > 2) e = "(" + name(idx.src(2).get()) + "?" + e + ":" + name(u.src(1).get()) + ")";
        line("const " + ctype(u.dtype) + " " + v + " = " + e + ";");
        return;
      }
      case Op::STORE: {
        const UOp& dst = *u.src(0);
        std::string v = name(u.src(1).get());
        if (dst.op == Op::DEFINE_REG) { line(name(&dst) + " = " + v + ";"); return; }
        DType vt = u.src(1)->dtype;
        std::string guard = dst.nsrc() > 2 ? "if (" + name(dst.src(2).get()) + ") " : "";
        if (vt.count > 1) {
          line(guard + "memcpy(" + name(dst.src(0).get()) + "+" + name(dst.src(1).get()) + ", &" + v + ", sizeof " + v + ");");
          return;
        }
        if (is_emulated(vt.scalar)) v = "fg_to_" + short_name(vt.scalar) + "(" + v + ")";
        line(guard + name(dst.src(0).get()) + "[" + name(dst.src(1).get()) + "] = " + v + ";");
        return;
      }
      case Op::VECTORIZE: {
        bool b = u.dtype.scalar_type().is_bool();
        std::string r = "((" + type(u.dtype) + "){";
        for (size_t i = 0; i < u.nsrc(); i++) r += (i ? ", " : "") + std::string(b ? "-(int)" : "") + name(u.src(i).get());
        std::string v = set(&u, fresh("vec"));
        line("const " + type(u.dtype) + " " + v + " = " + r + "});");
        return;
      }
      case Op::GEP: {
        std::string e = name(u.src(0).get()) + "[" + std::to_string(u.arg.as_ints()[0]) + "]";
        if (u.dtype.is_bool()) e = "(" + e + "!=0)";
        set(&u, "(" + e + ")");
        return;
      }
      case Op::REDUCE: {  // the lanes of a vector accumulator, combined
        const UOp& x = *u.src(0);
        // a bool lane is a mask (-1 true): as 0/1, + and max are "or", * is "and"
        auto lane_of = [&](int i) {
          std::string l = name(&x) + "[" + std::to_string(i) + "]";
          return u.dtype.is_bool() ? "(" + l + "!=0)" : l;
        };
        std::string r = lane_of(0);
        Op op = u.arg.as_reduce().op;
        for (int i = 1; i < x.dtype.count; i++) {
          std::string l = lane_of(i);
          if (op == Op::ADD) r = "(" + r + "+" + l + ")";
          else if (op == Op::MUL) r = "(" + r + "*" + l + ")";
          else {
            std::string t = fresh("hmax");
            line("const " + ctype(u.dtype) + " " + t + " = " + r + ";");
            r = u.dtype.is_float() ? "((" + t + "!=" + t + "||" + t + ">" + l + ")?" + t + ":" + l + ")"
                                   : "((" + t + ">" + l + ")?" + t + ":" + l + ")";
          }
        }
        std::string v = set(&u, fresh("red"));
        line("const " + ctype(u.dtype) + " " + v + " = " + r + ";");
        return;
      }
      default: break;
    }
    std::string e;
    if (u.op == Op::CAST) e = cast(u);
    else if (u.op == Op::BITCAST) e = u.dtype.count > 1 ? "((" + type(u.dtype) + ")" + name(u.src(0).get()) + ")" : bitcast(u);
    else if (is_alu(u.op)) e = alu(u);
    else fail(ErrorKind::NotImplemented, "render_c", "cannot render ", u.line());
    // float16/bfloat16 math happens in float; round each result like the real type would (a vector
    // lane by lane, and a vector cast from another type too: its lanes are floats either way)
    DType st = u.dtype.scalar_type();
    bool from_other = u.op == Op::CAST && !(u.src(0)->dtype.scalar_type() == st);
    if (is_alu(u.op) && is_emulated(st.scalar) && u.dtype.count == 1) e = round_to(u.dtype, e);
    if ((is_alu(u.op) || from_other) && is_emulated(st.scalar) && u.dtype.count > 1) {
      std::string raw = fresh("unrounded");
      line("const " + type(u.dtype) + " " + raw + " = " + e + ";");
      e = "((" + type(u.dtype) + "){";
      for (int i = 0; i < u.dtype.count; i++) e += (i ? ", " : "") + round_to(st, raw + "[" + std::to_string(i) + "]");
      e += "})";
    }
    std::string v = set(&u, fresh(u.dtype.is_int() && u.dtype.scalar == ScalarType::Index ? "idx" : "alu"));
    line("const " + type(u.dtype) + " " + v + " = " + e + ";");
  }
};

}  // namespace

std::string render_c(const KernelProgram& k) {
  CRenderer r{k};
  std::vector<bool> written = written_params(k);
  for (const UOpRef& l : k.lines) {
    try {
      r.render_line(*l);
    } catch (const Error& e) {  // name the program line that could not be rendered
      throw Error(e.kind(), "render_c", std::string(e.what()) + " (at " + l->line() + " of kernel " + k.name + ")");
    }
  }
  std::ostringstream os;
  os << kHead;
  const std::string b = r.body.str();
  bool bf16 = b.find("bf16(") != std::string::npos, f16 = b.find("f16(") != std::string::npos;
  bool fp8 = b.find("_e4m3(") != std::string::npos || b.find("_e5m2(") != std::string::npos;
  if (bf16 || f16) os << kBits;
  if (bf16) os << kBF16;
  if (f16 && b.find("_f16(") != std::string::npos) os << kF16;
  if (fp8) os << kFP8;
  if (b.find("fg_threefry(") != std::string::npos) os << kThreefry;
  if (b.find("_v8(") != std::string::npos) os << kVecMath;
  for (const std::string& td : r.typedefs) os << td << "\n";
  os << "void " << k.name << "(void** bufs, const long long* vars, long long lo, long long hi) {\n";
  for (size_t i = 0; i < k.params.size(); i++) {
    std::string t = storage_type(k.params[i].base());
    os << "  " << (written[i] ? "" : "const ") << t << "* restrict data" << i << " = (" << (written[i] ? "" : "const ")
       << t << "*)bufs[" << i << "];\n";
  }
  for (size_t i = 0; i < k.var_names.size(); i++)
    os << "  const long long " << k.var_names[i] << " = vars[" << i << "];\n";
  os << "  (void)lo; (void)hi; (void)vars;\n";
  os << b << "}\n";
  return os.str();
}

}  // namespace fg
