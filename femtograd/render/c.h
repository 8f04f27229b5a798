// The C renderer: a KernelProgram becomes one C function with the CPU kernel ABI
//   void NAME(void** bufs, const long long* vars, long long lo, long long hi)
// (buffer pointers, integer variables, and the slice [lo, hi) of the parallel loop this call runs).
// float16, bfloat16 and fp8 values are held as float in registers and converted at loads, stores
// and casts (rounding to nearest even), so C compilers without those types still build them.
#pragma once
#include <string>

#include "femtograd/codegen/codegen.h"

namespace fg {

std::string render_c(const KernelProgram& k);

}  // namespace fg
