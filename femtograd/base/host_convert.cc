#include "femtograd/base/host_convert.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "femtograd/base/error.h"

namespace fg {

float half_to_float(uint16_t h) {
  uint32_t s = static_cast<uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(s | 0x7f800000u | (m << 13));
  if (e == 0) {
    float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return s ? -v : v;
  }
  return std::bit_cast<float>(s | ((e + 112u) << 23) | (m << 13));
}

uint16_t float_to_half(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f), s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(s | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<uint16_t>(s | 0x7c00u);
  if (a < 0x38800000u) {
    float v = std::bit_cast<float>(a) * 16777216.0f;
    return static_cast<uint16_t>(s | static_cast<uint32_t>(std::nearbyint(v)));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
  return static_cast<uint16_t>(s | ((r - 0x38000000u) >> 13));
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float fp8_to_float(uint8_t v, bool e4m3) {
  int mbits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
  int s = v >> 7, e = (v >> mbits) & ((1 << (7 - mbits)) - 1), m = v & ((1 << mbits) - 1);
  float r;
  if (e4m3 && e == 15 && m == 7) r = NAN;
  else if (!e4m3 && e == 31) r = m ? NAN : INFINITY;
  else if (e == 0) r = std::ldexp(static_cast<float>(m), 1 - bias - mbits);
  else r = std::ldexp(static_cast<float>(m + (1 << mbits)), e - bias - mbits);
  return s ? -r : r;
}

uint8_t float_to_fp8(float f, bool e4m3) {
  int mbits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15, emin = 1 - bias;
  uint8_t s = std::signbit(f) ? 0x80 : 0;
  if (std::isnan(f)) return static_cast<uint8_t>(s | 0x7f);
  float a = std::fabs(f), maxv = e4m3 ? 448.0f : 57344.0f;
  int e;
  std::frexp(a, &e);
  e -= 1;
  if (e < emin) e = emin;
  float v = std::ldexp(std::nearbyint(std::ldexp(a, mbits - e)), e - mbits);
  if (v > maxv) return static_cast<uint8_t>(s | (e4m3 ? 0x7f : 0x7c));
  if (v == 0.0f) return s;
  std::frexp(v, &e);
  e -= 1;
  if (e < emin) return static_cast<uint8_t>(s | static_cast<uint32_t>(std::ldexp(v, mbits - emin)));
  uint32_t m = static_cast<uint32_t>(std::ldexp(v, mbits - e)) - (1u << mbits);
  return static_cast<uint8_t>(s | (static_cast<uint32_t>(e + bias) << mbits) | m);
}

namespace {
template <class T>
T rd(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void wr(void* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
}  // namespace

double load_as_double(DType dt, const void* p) {
  switch (dt.scalar) {
    case ScalarType::Bool: return rd<uint8_t>(p) != 0;
    case ScalarType::Int8: return rd<int8_t>(p);
    case ScalarType::Int16: return rd<int16_t>(p);
    case ScalarType::Int32: return rd<int32_t>(p);
    case ScalarType::Int64: return static_cast<double>(rd<int64_t>(p));
    case ScalarType::UInt8: return rd<uint8_t>(p);
    case ScalarType::UInt16: return rd<uint16_t>(p);
    case ScalarType::UInt32: return rd<uint32_t>(p);
    case ScalarType::UInt64: return static_cast<double>(rd<uint64_t>(p));
    case ScalarType::Float16: return half_to_float(rd<uint16_t>(p));
    case ScalarType::BFloat16: return bf16_to_float(rd<uint16_t>(p));
    case ScalarType::Float32: return rd<float>(p);
    case ScalarType::Float64: return rd<double>(p);
    case ScalarType::FP8E4M3: return fp8_to_float(rd<uint8_t>(p), true);
    case ScalarType::FP8E5M2: return fp8_to_float(rd<uint8_t>(p), false);
    default: fail(ErrorKind::Type, "convert", "cannot read elements of ", dt.name());
  }
}

void store_from_double(DType dt, double v, void* p) {
  switch (dt.scalar) {
    case ScalarType::Bool: wr<uint8_t>(p, v != 0); return;
    case ScalarType::Int8: wr<int8_t>(p, static_cast<int8_t>(static_cast<int64_t>(v))); return;
    case ScalarType::Int16: wr<int16_t>(p, static_cast<int16_t>(static_cast<int64_t>(v))); return;
    case ScalarType::Int32: wr<int32_t>(p, static_cast<int32_t>(static_cast<int64_t>(v))); return;
    case ScalarType::Int64: wr<int64_t>(p, static_cast<int64_t>(v)); return;
    case ScalarType::UInt8: wr<uint8_t>(p, static_cast<uint8_t>(static_cast<int64_t>(v))); return;
    case ScalarType::UInt16: wr<uint16_t>(p, static_cast<uint16_t>(static_cast<int64_t>(v))); return;
    case ScalarType::UInt32: wr<uint32_t>(p, static_cast<uint32_t>(static_cast<int64_t>(v))); return;
    case ScalarType::UInt64: wr<uint64_t>(p, v >= 9223372036854775808.0 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(static_cast<int64_t>(v))); return;
    case ScalarType::Float16: wr<uint16_t>(p, float_to_half(static_cast<float>(v))); return;
    case ScalarType::BFloat16: wr<uint16_t>(p, float_to_bf16(static_cast<float>(v))); return;
    case ScalarType::Float32: wr<float>(p, static_cast<float>(v)); return;
    case ScalarType::Float64: wr<double>(p, v); return;
    case ScalarType::FP8E4M3: wr<uint8_t>(p, float_to_fp8(static_cast<float>(v), true)); return;
    case ScalarType::FP8E5M2: wr<uint8_t>(p, float_to_fp8(static_cast<float>(v), false)); return;
    default: fail(ErrorKind::Type, "convert", "cannot write elements of ", dt.name());
  }
}

void convert_from(DType src, const void* data, int64_t n, DType dst, void* out) {
  int si = src.itemsize(), di = dst.itemsize();
  if (src == dst) {
    std::memcpy(out, data, static_cast<size_t>(n) * si);
    return;
  }
  const auto* s = static_cast<const unsigned char*>(data);
  auto* d = static_cast<unsigned char*>(out);
  bool int64_exact = (src.scalar == ScalarType::Int64 || src.scalar == ScalarType::UInt64) && dst.is_int();
  for (int64_t i = 0; i < n; i++) {
    if (int64_exact) {  // keep all 64 bits for integer -> integer
      int64_t v = rd<int64_t>(s + i * si);
      std::memcpy(d + i * di, &v, di);  // little-endian truncation
      continue;
    }
    store_from_double(dst, load_as_double(src, s + i * si), d + i * di);
  }
}

}  // namespace fg
