// Data types: scalar kinds, vector widths and pointer address spaces in one 16-byte value.
// Guarantees: DType is a regular value (==, hash), and promote() follows PyTorch's promotion
// lattice for every pair PyTorch defines (see docs/architecture.md for the pairs it leaves open).
#pragma once
#include <cstdint>
#include <string>

namespace fg {

enum class ScalarType : uint8_t {
  Void, Bool, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64,
  Float16, BFloat16, Float32, Float64, FP8E4M3, FP8E5M2,
  Index,  // integer of unbounded width used for index math; rendered as int or long long
  COUNT
};
constexpr int kNumScalarTypes = static_cast<int>(ScalarType::COUNT);

enum class AddrSpace : uint8_t { None, Global, Local, Reg };

struct DType {
  ScalarType scalar = ScalarType::Void;
  AddrSpace space = AddrSpace::None;  // None: a value; otherwise a pointer to `scalar x count`
  uint16_t count = 1;                 // vector width of the value (or of the pointee)
  int64_t size = -1;                  // pointers: element count of the buffer, -1 unknown

  constexpr DType() = default;
  constexpr DType(ScalarType s, uint16_t c = 1) : scalar(s), count(c) {}

  // vector and pointer variants of this type
  constexpr DType vec(int n) const { DType d = *this; d.count = static_cast<uint16_t>(n); return d; }
  constexpr DType scalar_type() const { return DType(scalar); }  // drops vector and pointer
  constexpr DType base() const { DType d = *this; d.space = AddrSpace::None; d.size = -1; return d; }
  constexpr DType ptr(int64_t sz = -1, AddrSpace as = AddrSpace::Global) const {
    DType d = *this; d.space = as; d.size = sz; return d;
  }
  constexpr bool is_ptr() const { return space != AddrSpace::None; }
  constexpr bool is_vec() const { return count > 1; }

  bool is_float() const;     // float16/bfloat16/float32/float64/fp8
  bool is_int() const;       // signed or unsigned integers and Index (not bool)
  bool is_unsigned() const;
  bool is_bool() const { return scalar == ScalarType::Bool && !is_ptr(); }
  bool is_fp8() const { return !is_ptr() && (scalar == ScalarType::FP8E4M3 || scalar == ScalarType::FP8E5M2); }
  int itemsize() const;      // bytes of one element of the value (vector width included)
  int bits() const { return scalar_itemsize(scalar) * 8; }
  static int scalar_itemsize(ScalarType s);

  // value range of the scalar type; ints exactly, floats as the largest finite value
  double min_value() const;
  double max_value() const;
  int64_t int_min() const;   // clamped to int64 (uint64 max saturates)
  int64_t int_max() const;

  std::string name() const;  // "float32", "int8.vec(4)", "float32*[16]"

  friend constexpr bool operator==(const DType& a, const DType& b) {
    return a.scalar == b.scalar && a.space == b.space && a.count == b.count && a.size == b.size;
  }
  uint64_t hash() const;
};

namespace dtypes {
inline constexpr DType void_{ScalarType::Void}, bool_{ScalarType::Bool};
inline constexpr DType int8{ScalarType::Int8}, int16{ScalarType::Int16}, int32{ScalarType::Int32},
    int64{ScalarType::Int64};
inline constexpr DType uint8{ScalarType::UInt8}, uint16{ScalarType::UInt16},
    uint32{ScalarType::UInt32}, uint64{ScalarType::UInt64};
inline constexpr DType float16{ScalarType::Float16}, bfloat16{ScalarType::BFloat16},
    float32{ScalarType::Float32}, float64{ScalarType::Float64};
inline constexpr DType fp8e4m3{ScalarType::FP8E4M3}, fp8e5m2{ScalarType::FP8E5M2};
inline constexpr DType index{ScalarType::Index};
inline constexpr DType default_float = float32, default_int = int32;

// every scalar type a tensor can hold (not void, not index)
const DType* all_storable(int* n);
// parse "float32", "float", "half", "bf16", "int", "bool", ... ; throws on unknown names
DType from_name(const std::string& name);
}  // namespace dtypes

// PyTorch's result type for a binary op between tensors of dtypes a and b (scalars only).
DType promote(DType a, DType b);
// The float type an op like exp or mean computes in: floats stay, ints and bool go to default_float.
DType least_upper_float(DType d);

}  // namespace fg
