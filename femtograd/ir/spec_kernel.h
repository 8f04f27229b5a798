// Verifiers of the kernel stages (see ir/spec.h for how a spec works). SPEC=1 runs them in codegen.
#pragma once
#include "femtograd/ir/spec.h"

namespace fg {

// A lowered kernel (codegen/lower.h and after opts): spec_alu plus SINK of STOREs into
// INDEX(DEFINE_GLOBAL, index[, bool valid]), LOADs of INDEXes (with an alternative value when
// gated), REDUCE(value, RANGE...) with a ReduceArg, and the SIMD ops VECTORIZE, VCONST and GEP.
const PatternMatcher& spec_kernel();
// A linearized program: spec_kernel plus DEFINE_REG accumulators, stores into them, END of a
// RANGE, and REDUCE of a vector accumulator's lanes.
const PatternMatcher& spec_program();

}  // namespace fg
