// What the C and CUDA renderers share: the half types they emulate in float, the literals of
// finite numbers, and which kernel parameters a program writes.
#pragma once
#include <string>
#include <vector>

#include "femtograd/codegen/codegen.h"

namespace fg {

// float16, bfloat16 and the fp8 formats: stored as their bits, computed in float
bool is_emulated(ScalarType s);
// "f16", "bf16", "e4m3", "e5m2" (the suffix of the fg_to_* / fg_from_* helpers); "" for others
std::string short_name(ScalarType s);
// a finite float as a C literal that reads back exactly ("%.9g" with an f, "%.17g" for doubles)
std::string float_literal(double v, bool f64);
// an integer constant of dtype dt as a C literal (suffixes, and the minimums no literal spells);
// index_is_int: index math is 32-bit, so an index constant takes no suffix
std::string int_literal(DType dt, int64_t v, bool index_is_int = false);
// per DEFINE_GLOBAL parameter: does the program store into it (a store to a shared-memory tile or a
// register writes no parameter)
std::vector<bool> written_params(const KernelProgram& k);

}  // namespace fg
