#include "femtograd/render/cuda.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/lower.h"
#include "femtograd/codegen/stage_local.h"
#include "femtograd/render/render_util.h"

namespace fg {
namespace {

// Helpers a kernel may need; only those it uses are emitted (less for NVRTC to parse).
const char* kHead = R"(#define FG_INF __int_as_float(0x7f800000)
#define FG_NAN __int_as_float(0x7fc00000)
#define FG_INF64 __longlong_as_double(0x7ff0000000000000LL)
#define FG_NAN64 __longlong_as_double(0x7ff8000000000000LL)
template <class T, int N> struct alignas(sizeof(T) * N <= 16 ? sizeof(T) * N : 16) fg_vec { T v[N]; };
__device__ __forceinline__ float fg_max(float a, float b) { return (a != a || a > b) ? a : b; }
__device__ __forceinline__ double fg_max(double a, double b) { return (a != a || a > b) ? a : b; }
template <class T> __device__ __forceinline__ T fg_max(T a, T b) { return a > b ? a : b; }
)";
const char* kF16 = R"(#include <cuda_fp16.h>
__device__ __forceinline__ float fg_from_f16(unsigned short h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ unsigned short fg_to_f16(float f) { return __half_as_ushort(__float2half_rn(f)); }
)";
const char* kBF16 = R"(#include <cuda_bf16.h>
__device__ __forceinline__ float fg_from_bf16(unsigned short h) { return __bfloat162float(__ushort_as_bfloat16(h)); }
__device__ __forceinline__ unsigned short fg_to_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
)";
const char* kFP8 = R"(#include <cuda_fp16.h>
#include <cuda_fp8.h>
__device__ __forceinline__ float fg_from_e4m3(unsigned char v) { return __half2float(__half(__nv_cvt_fp8_to_halfraw(v, __NV_E4M3))); }
__device__ __forceinline__ unsigned char fg_to_e4m3(float f) { return __nv_cvt_float_to_fp8(f, __NV_NOSAT, __NV_E4M3); }
__device__ __forceinline__ float fg_from_e5m2(unsigned char v) { return __half2float(__half(__nv_cvt_fp8_to_halfraw(v, __NV_E5M2))); }
__device__ __forceinline__ unsigned char fg_to_e5m2(float f) { return __nv_cvt_float_to_fp8(f, __NV_NOSAT, __NV_E5M2); }
)";
const char* kBitcast = R"(template <class To, class From> __device__ __forceinline__ To fg_bitcast(From f) {
  static_assert(sizeof(To) == sizeof(From), "bitcast between types of different sizes");
  To t; memcpy(&t, &f, sizeof(To)); return t;
}
)";
const char* kThreefry = R"(__device__ __forceinline__ unsigned long long fg_threefry(unsigned long long x, unsigned long long key) {
  unsigned int x0 = (unsigned int)x, x1 = (unsigned int)(x >> 32);
  unsigned int k0 = (unsigned int)key, k1 = (unsigned int)(key >> 32), k2 = k0 ^ k1 ^ 0x1BD11BDAu;
  const unsigned int ks[3] = {k0, k1, k2};
  const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  x0 += ks[0]; x1 += ks[1];
#pragma unroll
  for (int i = 0; i < 5; i++) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int r = rot[(i % 2) * 4 + j];
      x0 += x1; x1 = (x1 << r) | (x1 >> (32 - r)); x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3]; x1 += ks[(i + 2) % 3] + (unsigned int)(i + 1);
  }
  return ((unsigned long long)x1 << 32) | x0;
}
)";
// A reduce across the K threads of a group (threadIdx.x in [0, K), K a power of two dividing or a
// multiple of 32, blockDim.x == K): butterfly shuffles inside each warp, then one value per warp
// through shared memory. Every thread of the group gets the result. Every thread of the block must
// call it (it holds barriers); consecutive calls are safe (the first barrier protects the slots).
const char* kGroupReduce = R"(template <class T> __device__ __forceinline__ T fg_shfl_xor(unsigned m, T v, int o) {
  if constexpr (sizeof(T) < 4) return (T)__shfl_xor_sync(m, (int)v, o); else return __shfl_xor_sync(m, v, o);
}
template <int OP, class T> __device__ __forceinline__ T fg_combine(T a, T b) {
  if constexpr (OP == 0) return a + b; else if constexpr (OP == 2) return a * b; else return fg_max(a, b);
}
template <int OP, int K, class T> __device__ __forceinline__ T fg_group_reduce(T v) {
  const unsigned m = __activemask();
#pragma unroll
  for (int o = (K < 32 ? K : 32) / 2; o > 0; o /= 2) v = fg_combine<OP>(v, fg_shfl_xor(m, v, o));
  if constexpr (K > 32) {
    __shared__ T slots[32];
    const int tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    __syncthreads();
    if ((tid & 31) == 0) slots[tid >> 5] = v;
    __syncthreads();
    const int first = (tid / K) * (K / 32);
    v = slots[first];
#pragma unroll
    for (int w = 1; w < K / 32; w++) v = fg_combine<OP>(v, slots[first + w]);
  }
  return v;
}
)";

// a number the integer value e is always a multiple of (1 when nothing is known)
int64_t known_multiple(const UOp* e) {
  switch (e->op) {
    case Op::CONST: return e->arg.to_int() == 0 ? int64_t(1) << 40 : std::abs(e->arg.to_int());
    case Op::ADD: return std::gcd(known_multiple(e->src(0).get()), known_multiple(e->src(1).get()));
    case Op::MUL: return std::min(known_multiple(e->src(0).get()) * known_multiple(e->src(1).get()), int64_t(1) << 40);
    default: return 1;
  }
}

std::string render_const(const UOp& c, const std::string& index_type) {
  DType dt = c.dtype.scalar_type();
  if (dt.is_bool()) return c.arg.to_int() ? "true" : "false";
  if (dt.is_float()) {
    double v = c.arg.to_double();
    bool f64 = dt.scalar == ScalarType::Float64;
    if (std::isnan(v)) return f64 ? "FG_NAN64" : "FG_NAN";
    if (std::isinf(v)) return std::string(v < 0 ? "(-" : "(") + (f64 ? "FG_INF64)" : "FG_INF)");
    return float_literal(v, f64);
  }
  return int_literal(dt, c.arg.to_int(), index_type == "int");
}

struct CUDARenderer {
  const KernelProgram& k;
  std::string index_type;  // "int" when every index value fits, else "long long"
  PtrMap<std::string> names;
  std::vector<UOpRef> keep;
  std::ostringstream body;
  int indent = 1;
  int counter = 0;

  // the C type a value of this (scalar) dtype is computed in
  std::string ctype(DType dt) const {
    switch (dt.scalar) {
      case ScalarType::Bool: return "bool";
      case ScalarType::Int8: return "signed char";
      case ScalarType::Int16: return "short";
      case ScalarType::Int32: return "int";
      case ScalarType::Int64: return "long long";
      case ScalarType::Index: return index_type;
      case ScalarType::UInt8: return "unsigned char";
      case ScalarType::UInt16: return "unsigned short";
      case ScalarType::UInt32: return "unsigned int";
      case ScalarType::UInt64: return "unsigned long long";
      case ScalarType::Float32: case ScalarType::Float16: case ScalarType::BFloat16:
      case ScalarType::FP8E4M3: case ScalarType::FP8E5M2: return "float";
      case ScalarType::Float64: return "double";
      default: fail(ErrorKind::NotImplemented, "render_cuda", "no CUDA type for ", dt.name());
    }
  }
  // the C type a buffer of this dtype stores
  std::string storage_type(DType dt) const {
    switch (dt.scalar) {
      case ScalarType::Float16: case ScalarType::BFloat16: return "unsigned short";
      case ScalarType::FP8E4M3: case ScalarType::FP8E5M2: return "unsigned char";
      default: return ctype(dt);
    }
  }
  std::string type(DType dt) const {
    if (dt.count == 1) return ctype(dt);
    return "fg_vec<" + ctype(dt.scalar_type()) + ", " + std::to_string(dt.count) + ">";
  }

  std::string name(const UOp* u) {
    if (std::string* s = names.find(u)) return *s;
    if (u->op == Op::CONST) {
      std::string c = render_const(*u, index_type);
      if (u->dtype.count > 1) {  // a vector constant: every lane the same
        std::string r = type(u->dtype) + "{{";
        for (int i = 0; i < u->dtype.count; i++) r += (i ? ", " : "") + c;
        return set(u, r + "}}");
      }
      return set(u, c);
    }
    if (u->op == Op::VCONST) {
      std::string r = type(u->dtype) + "{{";
      const auto& vals = u->arg.as_ints();
      for (size_t i = 0; i < vals.size(); i++) r += (i ? ", " : "") + std::to_string(vals[i]);
      return set(u, r + "}}");
    }
    if (u->op == Op::DEFINE_GLOBAL) return set(u, "data" + std::to_string(u->arg.as_int()));
    if (u->op == Op::DEFINE_VAR) return set(u, "((" + index_type + ")" + u->arg.as_var().name + ")");
    fail(ErrorKind::Internal, "render_cuda", "use of ", u->line(), " before it is defined");
  }
  std::string set(const UOp* u, std::string s) {
    keep.push_back(u->ref());
    return names.put(u, std::move(s));
  }
  void line(const std::string& s) { body << std::string(2 * indent, ' ') << s << "\n"; }
  std::string fresh(const char* prefix) { return prefix + std::to_string(counter++); }

  // lane i of value u (a scalar is the same in every lane)
  std::string lane(const UOp* u, int i) {
    std::string n = name(u);
    return u->dtype.count > 1 ? n + ".v[" + std::to_string(i) + "]" : n;
  }

  static std::string math(const char* fn, DType dt, const std::string& a) {
    return std::string(fn) + (dt.scalar == ScalarType::Float64 ? "" : "f") + "(" + a + ")";
  }
  // Transcendentals: the exact (libdevice) functions for float32 and float64. float16, bfloat16 and
  // fp8 compute in float and round to at most 11 significant bits, so the hardware approximations
  // (a few float ulp) change nothing there: log2 becomes one lg2.approx instruction (exp2f is one
  // ex2.approx already). sin keeps its range reduction: sin.approx loses accuracy for large
  // arguments, which half types hold (up to 65504).
  static std::string fast_or_exact(Op op, DType dt, const std::string& a) {
    if (op == Op::LOG2 && is_emulated(dt.scalar)) return "__log2f(" + a + ")";
    return math(op == Op::EXP2 ? "exp2" : op == Op::LOG2 ? "log2" : op == Op::SIN ? "sin" : "sqrt", dt, a);
  }

  // one lane of an ALU op; s are the operands' expressions, dt the (scalar) result type
  std::string alu(Op op, DType dt, DType in, const std::vector<std::string>& s) {
    switch (op) {
      case Op::ADD: return "(" + s[0] + "+" + s[1] + ")";
      case Op::MUL: return "(" + s[0] + "*" + s[1] + ")";
      case Op::IDIV: case Op::FDIV: return "(" + s[0] + "/" + s[1] + ")";
      case Op::MOD: return "(" + s[0] + "%" + s[1] + ")";
      case Op::CMPLT: return "(" + s[0] + "<" + s[1] + ")";
      case Op::CMPNE: return "(" + s[0] + "!=" + s[1] + ")";
      case Op::CMPEQ: return "(" + s[0] + "==" + s[1] + ")";
      case Op::AND: return "(" + s[0] + "&" + s[1] + ")";
      case Op::OR: return "(" + s[0] + "|" + s[1] + ")";
      case Op::XOR: return "(" + s[0] + "^" + s[1] + ")";
      case Op::SHL: return "(" + s[0] + "<<" + s[1] + ")";
      case Op::SHR: return "(" + s[0] + ">>" + s[1] + ")";
      case Op::MAX:
        if (dt.is_float()) return "fg_max(" + s[0] + "," + s[1] + ")";
        return "((" + s[0] + ">" + s[1] + ")?" + s[0] + ":" + s[1] + ")";
      case Op::WHERE: return "(" + s[0] + "?" + s[1] + ":" + s[2] + ")";
      case Op::MULACC: return "((" + s[0] + "*" + s[1] + ")+" + s[2] + ")";
      case Op::EXP2: case Op::LOG2: case Op::SIN: case Op::SQRT: return fast_or_exact(op, dt, s[0]);
      case Op::TRUNC: return dt.is_float() ? math("trunc", dt, s[0]) : s[0];
      case Op::RECIP: return "(" + std::string(dt.scalar == ScalarType::Float64 ? "1.0" : "1.0f") + "/" + s[0] + ")";
      case Op::POW: return (dt.scalar == ScalarType::Float64 ? "pow(" : "powf(") + s[0] + "," + s[1] + ")";
      case Op::THREEFRY: return "fg_threefry(" + s[0] + "," + s[1] + ")";
      default: (void)in; fail(ErrorKind::NotImplemented, "render_cuda", "no CUDA for ", op_name(op));
    }
  }

  // float value rounded to an emulated type's precision
  static std::string round_to(DType dt, const std::string& v) {
    std::string sn = short_name(dt.scalar);
    return "fg_from_" + sn + "(fg_to_" + sn + "(" + v + "))";
  }

  // one lane of a CAST from `from` to `to` (scalar types)
  std::string cast(DType to, DType from, const std::string& v) {
    if (to.is_bool()) return "(" + v + "!=0)";
    if (is_emulated(to.scalar)) return round_to(to, "(float)" + v);
    // float -> narrow or unsigned int: through a 64-bit int, so out-of-range values wrap like
    // the CPU backend's (CUDA's conversions would saturate)
    if (from.is_float() && to.is_int() && to.itemsize() < 8)
      return "((" + ctype(to) + ")(long long)" + v + ")";
    return "((" + ctype(to) + ")" + v + ")";
  }

  void render_alu_like(const UOp& u) {
    DType dt = u.dtype, st = dt.scalar_type();
    auto scalar_expr = [&](int i) -> std::string {
      std::vector<std::string> s;
      for (size_t j = 0; j < u.nsrc(); j++) s.push_back(lane(u.src(j).get(), i));
      if (u.op == Op::CAST) return cast(st, u.src(0)->dtype.scalar_type(), s[0]);
      if (u.op == Op::BITCAST) return bitcast(st, u.src(0)->dtype.scalar_type(), s[0]);
      DType in = u.nsrc() ? u.src(u.op == Op::WHERE ? 1 : 0)->dtype.scalar_type() : st;
      std::string e = alu(u.op, st, in, s);
      // float16/bfloat16/fp8 math happens in float; round each result like the real type would
      if (is_emulated(st.scalar)) e = round_to(st, e);
      return e;
    };
    std::string v = set(&u, fresh(st.scalar == ScalarType::Index ? "idx" : u.op == Op::CAST ? "cast" : "alu"));
    if (dt.count == 1) {
      line("const " + type(dt) + " " + v + " = " + scalar_expr(0) + ";");
      return;
    }
    line(type(dt) + " " + v + ";");
    for (int i = 0; i < dt.count; i++) line(v + ".v[" + std::to_string(i) + "] = " + scalar_expr(i) + ";");
  }

  std::string bitcast(DType to, DType from, const std::string& v) {
    std::string x = v;
    if (is_emulated(from.scalar)) x = "fg_to_" + short_name(from.scalar) + "(" + v + ")";
    std::string r = "fg_bitcast<" + storage_type(to) + ">(" + x + ")";
    if (is_emulated(to.scalar)) r = "fg_from_" + short_name(to.scalar) + "(" + r + ")";
    return r;
  }

  std::string load_scalar(const std::string& ptr, DType vt) {
    if (is_emulated(vt.scalar)) return "fg_from_" + short_name(vt.scalar) + "(" + ptr + ")";
    return ptr;
  }

  // a vector access of a shared-memory tile (16-byte aligned) at an index that is a multiple of
  // the vector width: no run-time alignment check
  static bool aligned(const UOp& idx, int width) {
    return idx.src(0)->op == Op::DEFINE_LOCAL && known_multiple(idx.src(1).get()) % width == 0;
  }

  static std::string special_var(const std::string& n) {
    static const char* dims[3] = {"x", "y", "z"};
    FG_CHECK(n.size() == 5 && (n.starts_with("gidx") || n.starts_with("lidx")) && n[4] >= '0' && n[4] <= '2',
             ErrorKind::Internal, "render_cuda", "unknown thread index '", n, "'");
    return std::string(n[0] == 'g' ? "blockIdx." : "threadIdx.") + dims[n[4] - '0'];
  }

  void render_line(const UOp& u) {
    switch (u.op) {
      case Op::SPECIAL: {
        std::string n = set(&u, u.arg.as_str());
        line("const " + index_type + " " + n + " = " + special_var(n) + ";");
        return;
      }
      case Op::RANGE: {
        std::string r = set(&u, "ridx" + std::to_string(u.arg.as_ints()[0]));
        if (u.arg.as_ints()[0] >= kStageInnerAxis && u.arg.as_ints()[1] == AXIS_REDUCE) line("#pragma unroll");
        line("for (" + index_type + " " + r + " = 0; " + r + " < " + name(u.src(0).get()) + "; " + r + "++) {");
        indent++;
        return;
      }
      case Op::END: case Op::ENDIF: indent--; line("}"); return;
      case Op::IF: line("if (" + name(u.src(0).get()) + ") {"); indent++; return;
      case Op::DEFINE_REG: {
        std::string a = set(&u, "acc" + std::to_string(u.arg.as_int()));
        line(type(u.dtype) + " " + a + " = " + name(u.src(0).get()) + ";");
        return;
      }
      case Op::DEFINE_LOCAL: {
        std::string a = set(&u, "smem" + std::to_string(u.arg.as_int()));
        line("__shared__ __align__(16) " + storage_type(u.dtype.base()) + " " + a + "[" + std::to_string(u.dtype.size) + "];");
        return;
      }
      case Op::BARRIER: line("__syncthreads();"); return;
      case Op::INDEX: set(&u, ""); return;  // printed by the LOAD or STORE that uses it
      case Op::LOAD: {
        const UOp& idx = *u.src(0);
        std::string v = set(&u, fresh("val"));
        std::string buf = name(idx.src(0).get()), off = name(idx.src(1).get());
        if (u.dtype.count > 1) {  // consecutive elements: one aligned vector load, else lane by lane
          // half types load their stored bits (raw) and widen each lane to the float they compute in
          DType st = u.dtype.scalar_type();
          bool widen = is_emulated(st.scalar);
          std::string t = type(u.dtype), n = std::to_string(u.dtype.count);
          std::string raw_t = widen ? "fg_vec<" + storage_type(st) + ", " + n + ">" : t, raw = widen ? "r_" : v;
          line(t + " " + v + ";");
          std::string lanes, widened;
          for (int i = 0; i < u.dtype.count; i++) {
            std::string l = ".v[" + std::to_string(i) + "]";
            lanes += " " + raw + l + " = p_[" + std::to_string(i) + "];";
            widened += " " + v + l + " = fg_from_" + short_name(st.scalar) + "(r_" + l + ");";
          }
          std::string ld = "const auto* p_ = " + buf + " + " + off + "; if (((unsigned long long)p_ & (sizeof(" + raw_t +
                           ") - 1)) == 0) " + raw + " = *(const " + raw_t + "*)p_; else {" + lanes + " }";
          if (aligned(idx, u.dtype.count)) ld = raw + " = *(const " + raw_t + "*)(" + buf + " + " + off + ");";
          ld = "{ " + (widen ? raw_t + " r_; " : "") + ld + (widen ? widened : "") + " }";
          if (idx.nsrc() > 2) line("if (" + name(idx.src(2).get()) + ") " + ld + " else " + v + " = " + name(u.src(1).get()) + ";");
          else line(ld);
          return;
        }
        std::string e = load_scalar(buf + "[" + off + "]", u.dtype);
        if (idx.nsrc() > 2) e = "(" + name(idx.src(2).get()) + "?" + e + ":" + name(u.src(1).get()) + ")";
        line("const " + type(u.dtype) + " " + v + " = " + e + ";");
        return;
      }
      case Op::STORE: {
        const UOp& dst = *u.src(0);
        std::string v = name(u.src(1).get());
        if (dst.op == Op::DEFINE_REG) { line(name(&dst) + " = " + v + ";"); return; }
        DType vt = u.src(1)->dtype;
        std::string guard = dst.nsrc() > 2 ? "if (" + name(dst.src(2).get()) + ") " : "";
        std::string buf = name(dst.src(0).get()), off = name(dst.src(1).get());
        if (vt.count > 1) {
          // half types: each lane rounded to its stored bits (raw) first
          DType st = vt.scalar_type();
          bool narrow = is_emulated(st.scalar);
          std::string t = narrow ? "fg_vec<" + storage_type(st) + ", " + std::to_string(vt.count) + ">" : type(vt);
          std::string raw = narrow ? "r_" : v, lanes, narrowed;
          for (int i = 0; i < vt.count; i++) {
            std::string l = ".v[" + std::to_string(i) + "]";
            lanes += " p_[" + std::to_string(i) + "] = " + raw + l + ";";
            narrowed += " r_" + l + " = fg_to_" + short_name(st.scalar) + "(" + v + l + ");";
          }
          std::string pre = narrow ? t + " r_;" + narrowed + " " : "";
          if (aligned(dst, vt.count)) {
            line(guard + "{ " + pre + "*(" + t + "*)(" + buf + " + " + off + ") = " + raw + "; }");
            return;
          }
          line(guard + "{ " + pre + "auto* p_ = " + buf + " + " + off + "; if (((unsigned long long)p_ & (sizeof(" + t +
               ") - 1)) == 0) *(" + t + "*)p_ = " + raw + "; else {" + lanes + " } }");
          return;
        }
        if (is_emulated(vt.scalar)) v = "fg_to_" + short_name(vt.scalar) + "(" + v + ")";
        line(guard + buf + "[" + off + "] = " + v + ";");
        return;
      }
      case Op::VECTORIZE: {
        std::string r = type(u.dtype) + "{{";
        for (size_t i = 0; i < u.nsrc(); i++) r += (i ? ", " : "") + name(u.src(i).get());
        std::string v = set(&u, fresh("vec"));
        line("const " + type(u.dtype) + " " + v + " = " + r + "}};");
        return;
      }
      case Op::GEP: set(&u, lane(u.src(0).get(), static_cast<int>(u.arg.as_ints()[0]))); return;
      case Op::REDUCE: {  // the lanes of a vector accumulator, combined
        const UOp& x = *u.src(0);
        Op op = u.arg.as_reduce().op;
        std::string v = set(&u, fresh("red"));
        line(type(u.dtype) + " " + v + " = " + lane(&x, 0) + ";");
        for (int i = 1; i < x.dtype.count; i++) {
          std::vector<std::string> s{v, lane(&x, i)};
          line(v + " = " + alu(op == Op::MAX ? Op::MAX : op, u.dtype, u.dtype, s) + ";");
        }
        return;
      }
      case Op::CUSTOMI: {
        std::string f = u.arg.as_str(), out;
        for (size_t i = 0; i < f.size(); i++) {
          if (f[i] == '{' && i + 2 < f.size() && f[i + 2] == '}' && std::isdigit(static_cast<unsigned char>(f[i + 1]))) {
            out += name(u.src(f[i + 1] - '0').get());
            i += 2;
          } else {
            out += f[i];
          }
        }
        std::string v = set(&u, fresh("cst"));
        line("const " + type(u.dtype) + " " + v + " = " + out + ";");
        return;
      }
      default: break;
    }
    if (is_alu(u.op) || u.op == Op::CAST || u.op == Op::BITCAST) return render_alu_like(u);
    fail(ErrorKind::NotImplemented, "render_cuda", "cannot render ", u.line());
  }
};

// 32-bit index math when every index value of the kernel fits in an int (bounds are exact ranges
// of the values, so no intermediate of a 32-bit expression can overflow)
std::string pick_index_type(const KernelProgram& k) {
  for (const UOpRef& l : k.lines) {
    auto check = [](const UOp* n) {
      if (n->dtype.scalar != ScalarType::Index || n->dtype.is_ptr()) return true;
      if (!n->has_bounds()) return false;
      return n->vmin() >= INT_MIN && n->vmax() <= INT_MAX;
    };
    if (!check(l.get())) return "long long";
    for (const UOpRef& s : l->src())
      if (!check(s.get())) return "long long";
  }
  return "int";
}

}  // namespace

std::string render_cuda(const KernelProgram& k) {
  CUDARenderer r{k, pick_index_type(k)};
  std::vector<bool> written = written_params(k);
  for (const UOpRef& l : k.lines) r.render_line(*l);
  const std::string b = r.body.str();
  std::ostringstream os;
  os << kHead;
  if (b.find("_f16(") != std::string::npos) os << kF16;  // "_bf16(" does not contain "_f16("
  if (b.find("bf16(") != std::string::npos) os << kBF16;
  if (b.find("_e4m3(") != std::string::npos || b.find("_e5m2(") != std::string::npos) os << kFP8;
  if (b.find("fg_bitcast<") != std::string::npos) os << kBitcast;
  if (b.find("fg_threefry(") != std::string::npos) os << kThreefry;
  if (b.find("fg_group_reduce<") != std::string::npos) os << kGroupReduce;
  int64_t threads = k.local_size[0] * k.local_size[1] * k.local_size[2];
  os << "extern \"C\" __global__ void __launch_bounds__(" << threads << ") " << k.name << "(";
  for (size_t i = 0; i < k.params.size(); i++) {
    std::string t = r.storage_type(k.params[i].base());
    os << (i ? ", " : "") << (written[i] ? "" : "const ") << t << "* __restrict__ data" << i;
  }
  for (size_t i = 0; i < k.var_names.size(); i++)
    os << (k.params.empty() && i == 0 ? "" : ", ") << "const long long " << k.var_names[i];
  os << ") {\n" << b << "}\n";
  return os.str();
}

}  // namespace fg
