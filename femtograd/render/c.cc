#include "femtograd/render/c.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"

namespace fg {
namespace {

bool is_emulated(ScalarType s) {
  return s == ScalarType::Float16 || s == ScalarType::BFloat16 || s == ScalarType::FP8E4M3 ||
         s == ScalarType::FP8E5M2;
}

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

std::string short_name(ScalarType s) {
  switch (s) {
    case ScalarType::Float16: return "f16";
    case ScalarType::BFloat16: return "bf16";
    case ScalarType::FP8E4M3: return "e4m3";
    case ScalarType::FP8E5M2: return "e5m2";
    default: return "";
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
    char buf[64];
    if (f32) std::snprintf(buf, sizeof buf, "%.9gf", v);
    else std::snprintf(buf, sizeof buf, "%.17g", v);
    std::string s = buf;
    if (s.find_first_of(".e") == std::string::npos) s.insert(s.size() - (f32 ? 1 : 0), ".0");
    return s;
  }
  int64_t v = c.arg.to_int();
  if (dt.scalar == ScalarType::UInt64) return std::to_string(static_cast<uint64_t>(v)) + "ULL";
  if (dt.is_unsigned()) return std::to_string(v) + "u";
  if (v == INT64_MIN) return "(-9223372036854775807LL-1)";
  if (dt.scalar == ScalarType::Int64 || dt.scalar == ScalarType::Index) return std::to_string(v) + "LL";
  if (dt.scalar == ScalarType::Int32 && v == INT32_MIN) return "(-2147483647-1)";
  return std::to_string(v);
}

struct CRenderer {
  const KernelProgram& k;
  PtrMap<std::string> names;
  std::vector<UOpRef> keep;
  std::ostringstream body;
  int indent = 1;
  int counter = 0;

  // by value: a later set() may grow the map and move the strings
  std::string name(const UOp* u) {
    if (std::string* s = names.find(u)) return *s;
    if (u->op == Op::CONST) return set(u, render_const(*u));
    if (u->op == Op::DEFINE_GLOBAL) return set(u, "data" + std::to_string(u->arg.as_int()));
    fail(ErrorKind::Internal, "render_c", "use of ", u->line(), " before it is defined");
  }
  std::string set(const UOp* u, std::string s) {
    keep.push_back(u->ref());
    return names.put(u, std::move(s));
  }
  void line(const std::string& s) { body << std::string(2 * indent, ' ') << s << "\n"; }
  std::string fresh(const char* prefix) { return prefix + std::to_string(counter++); }

  std::string math(const char* fn, DType dt, const std::string& a) {
    return std::string(fn) + (dt.scalar == ScalarType::Float64 ? "" : "f") + "(" + a + ")";
  }

  std::string alu(const UOp& u) {
    auto s = [&](int i) { return name(u.src(i).get()); };
    DType dt = u.dtype;
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

  // float value rounded to an emulated type's precision
  std::string round_to(DType dt, const std::string& v) {
    std::string sn = short_name(dt.scalar);
    return "fg_from_" + sn + "(fg_to_" + sn + "(" + v + "))";
  }

  std::string cast(const UOp& u) {
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
        line(ctype(u.dtype) + " " + a + " = " + name(u.src(0).get()) + ";");
        return;
      }
      case Op::INDEX: set(&u, ""); return;  // printed by the LOAD or STORE that uses it
      case Op::LOAD: {
        const UOp& idx = *u.src(0);
        std::string e = load_expr(idx, u.dtype);
        if (idx.nsrc() > 2) e = "(" + name(idx.src(2).get()) + "?" + e + ":" + name(u.src(1).get()) + ")";
        std::string v = set(&u, fresh("val"));
        line("const " + ctype(u.dtype) + " " + v + " = " + e + ";");
        return;
      }
      case Op::STORE: {
        const UOp& dst = *u.src(0);
        std::string v = name(u.src(1).get());
        if (dst.op == Op::DEFINE_REG) { line(name(&dst) + " = " + v + ";"); return; }
        DType vt = u.src(1)->dtype;
        if (is_emulated(vt.scalar)) v = "fg_to_" + short_name(vt.scalar) + "(" + v + ")";
        std::string target = name(dst.src(0).get()) + "[" + name(dst.src(1).get()) + "]";
        if (dst.nsrc() > 2) line("if (" + name(dst.src(2).get()) + ") " + target + " = " + v + ";");
        else line(target + " = " + v + ";");
        return;
      }
      default: break;
    }
    std::string e;
    if (u.op == Op::CAST) e = cast(u);
    else if (u.op == Op::BITCAST) e = bitcast(u);
    else if (is_alu(u.op)) e = alu(u);
    else fail(ErrorKind::NotImplemented, "render_c", "cannot render ", u.line());
    // float16/bfloat16 math happens in float; round each result like the real type would
    if (is_alu(u.op) && is_emulated(u.dtype.scalar)) e = round_to(u.dtype, e);
    std::string v = set(&u, fresh(u.dtype.is_int() && u.dtype.scalar == ScalarType::Index ? "idx" : "alu"));
    line("const " + ctype(u.dtype) + " " + v + " = " + e + ";");
  }
};

}  // namespace

std::string render_c(const KernelProgram& k) {
  CRenderer r{k};
  std::vector<bool> written(k.params.size(), false);
  for (const UOpRef& l : k.lines)
    if (l->op == Op::STORE && l->src(0)->op == Op::INDEX) written[l->src(0)->src(0)->arg.as_int()] = true;
  for (const UOpRef& l : k.lines) r.render_line(*l);
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
