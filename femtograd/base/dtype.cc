#include "femtograd/base/dtype.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"

namespace fg {
namespace {
using S = ScalarType;

struct ScalarInfo {
  const char* name;
  int itemsize;
  bool is_float, is_int, is_unsigned;
  double minv, maxv;
};

constexpr double kI64Min = -9223372036854775808.0, kI64Max = 9223372036854775807.0;
// indexed by ScalarType
constexpr ScalarInfo kInfo[] = {
    {"void", 0, false, false, false, 0, 0},
    {"bool", 1, false, false, false, 0, 1},
    {"int8", 1, false, true, false, -128, 127},
    {"int16", 2, false, true, false, -32768, 32767},
    {"int32", 4, false, true, false, -2147483648.0, 2147483647.0},
    {"int64", 8, false, true, false, kI64Min, kI64Max},
    {"uint8", 1, false, true, true, 0, 255},
    {"uint16", 2, false, true, true, 0, 65535},
    {"uint32", 4, false, true, true, 0, 4294967295.0},
    {"uint64", 8, false, true, true, 0, 18446744073709551615.0},
    {"float16", 2, true, false, false, -65504.0, 65504.0},
    {"bfloat16", 2, true, false, false, -3.38953139e38, 3.38953139e38},
    {"float32", 4, true, false, false, -3.4028234663852886e38, 3.4028234663852886e38},
    {"float64", 8, true, false, false, -1.7976931348623157e308, 1.7976931348623157e308},
    {"fp8e4m3", 1, true, false, false, -448.0, 448.0},
    {"fp8e5m2", 1, true, false, false, -57344.0, 57344.0},
    {"index", 8, false, true, false, kI64Min, kI64Max},
};
static_assert(std::size(kInfo) == kNumScalarTypes, "one row per ScalarType");

const ScalarInfo& info(S s) { return kInfo[static_cast<int>(s)]; }

constexpr DType kStorable[] = {dtypes::bool_,   dtypes::int8,    dtypes::int16,    dtypes::int32,
                               dtypes::int64,   dtypes::uint8,   dtypes::uint16,   dtypes::uint32,
                               dtypes::uint64,  dtypes::float16, dtypes::bfloat16, dtypes::float32,
                               dtypes::float64, dtypes::fp8e4m3, dtypes::fp8e5m2};
}  // namespace

bool DType::is_float() const { return !is_ptr() && info(scalar).is_float; }
bool DType::is_int() const { return !is_ptr() && info(scalar).is_int; }
bool DType::is_unsigned() const { return !is_ptr() && info(scalar).is_unsigned; }
int DType::scalar_itemsize(ScalarType s) { return info(s).itemsize; }
int DType::itemsize() const { return is_ptr() ? 8 : info(scalar).itemsize * count; }
double DType::min_value() const { return info(scalar).minv; }
double DType::max_value() const { return info(scalar).maxv; }
int64_t DType::int_min() const {
  if (info(scalar).is_float) return std::numeric_limits<int64_t>::min();  // no int range: saturate
  return scalar == S::Int64 || scalar == S::Index ? std::numeric_limits<int64_t>::min()
                                                  : static_cast<int64_t>(info(scalar).minv);
}
int64_t DType::int_max() const {
  if (info(scalar).is_float) return std::numeric_limits<int64_t>::max();
  if (scalar == S::Int64 || scalar == S::UInt64 || scalar == S::Index)
    return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(info(scalar).maxv);
}

std::string DType::name() const {
  std::string s = info(scalar).name;
  if (count != 1) s += ".vec(" + std::to_string(count) + ")";
  if (is_ptr()) {
    s += space == AddrSpace::Local ? "*local" : space == AddrSpace::Reg ? "*reg" : "*";
    if (size >= 0) s += "[" + std::to_string(size) + "]";
  }
  return s;
}

uint64_t DType::hash() const {
  uint64_t h = static_cast<uint64_t>(scalar) | (static_cast<uint64_t>(space) << 8) |
               (static_cast<uint64_t>(count) << 16);
  return hash_combine(hash_mix(h), static_cast<uint64_t>(size));
}

namespace dtypes {
const DType* all_storable(int* n) {
  *n = static_cast<int>(std::size(kStorable));
  return kStorable;
}

DType from_name(const std::string& name) {
  static const std::unordered_map<std::string, DType> names = {
      {"bool", bool_},       {"int8", int8},         {"char", int8},          {"int16", int16},
      {"short", int16},      {"int32", int32},       {"int", int32},          {"int64", int64},
      {"long", int64},       {"uint8", uint8},       {"uchar", uint8},        {"uint16", uint16},
      {"ushort", uint16},    {"uint32", uint32},     {"uint", uint32},        {"uint64", uint64},
      {"ulong", uint64},     {"float16", float16},   {"half", float16},       {"bfloat16", bfloat16},
      {"bf16", bfloat16},    {"float32", float32},   {"float", float32},      {"float64", float64},
      {"double", float64},   {"fp8e4m3", fp8e4m3},   {"float8_e4m3fn", fp8e4m3},
      {"fp8e5m2", fp8e5m2},  {"float8_e5m2", fp8e5m2}, {"index", index},      {"void", void_},
  };
  auto it = names.find(name);
  if (it == names.end()) throw Error(ErrorKind::Value, "dtype", "unknown dtype name '" + name + "'");
  return it->second;
}
}  // namespace dtypes

namespace {
// Smallest signed int type that holds every value of both a signed and an unsigned int type.
DType mixed_sign_int(DType s, DType u) {
  int need = std::max(s.bits(), u.bits() * 2);  // the unsigned type needs one more bit than it has
  if (need <= 16) return dtypes::int16;
  if (need <= 32) return dtypes::int32;
  if (need <= 64 && u.scalar != S::UInt64) return dtypes::int64;
  return dtypes::float64;  // uint64 with a signed type: no integer holds both (numpy's choice)
}

int float_rank(S s) {
  switch (s) {
    case S::FP8E4M3: case S::FP8E5M2: return 0;
    case S::Float16: case S::BFloat16: return 1;
    case S::Float32: return 2;
    default: return 3;
  }
}
}  // namespace

DType promote(DType a, DType b) {
  if (a.is_ptr() || b.is_ptr() || a.scalar == S::Void || b.scalar == S::Void)
    throw Error(ErrorKind::Type, "promote", "cannot promote " + a.name() + " with " + b.name());
  a = a.scalar_type(), b = b.scalar_type();
  if (a == b) return a;
  if (a.is_bool()) return b;
  if (b.is_bool()) return a;
  if (a.scalar == S::Index || b.scalar == S::Index) {
    if (a.is_float()) return a;
    if (b.is_float()) return b;
    return dtypes::index;
  }
  if (a.is_float() && b.is_float()) {
    int ra = float_rank(a.scalar), rb = float_rank(b.scalar);
    if (ra != rb) return ra > rb ? a : b;
    // same rank, different types: float16 with bfloat16, or e4m3 with e5m2
    return ra == 1 ? dtypes::float32 : dtypes::float16;
  }
  if (a.is_float()) return a;
  if (b.is_float()) return b;
  // both integers
  if (a.is_unsigned() == b.is_unsigned()) return a.bits() >= b.bits() ? a : b;
  return a.is_unsigned() ? mixed_sign_int(b, a) : mixed_sign_int(a, b);
}

DType least_upper_float(DType d) { return d.is_float() ? d.scalar_type() : dtypes::default_float; }

}  // namespace fg
