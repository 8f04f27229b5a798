// Converting element arrays between dtypes on the host (reading tensors back, loading files),
// including float16, bfloat16 and fp8, with round-to-nearest-even like the device code.
#pragma once
#include <cstdint>

#include "femtograd/base/dtype.h"

namespace fg {

// n elements of src at data -> n elements of dst at out (out must not overlap data)
void convert_from(DType src, const void* data, int64_t n, DType dst, void* out);
// one element read as a double / written from a double
double load_as_double(DType dt, const void* p);
void store_from_double(DType dt, double v, void* p);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);
float fp8_to_float(uint8_t v, bool e4m3);
uint8_t float_to_fp8(float f, bool e4m3);

}  // namespace fg
