// CHECK_OOB: proves with z3 that every load and store of a linear program stays inside its buffer
// whenever it happens (its gate and the conditions of the IF blocks around it hold), for every value
// the loop indices, thread ids, run-time variables and loaded integers can take. A failure is an
// Error naming the kernel, the buffer and a counterexample (the index and the values that give it).
// Integer index math is modeled exactly (no wrapping: index arithmetic is 64-bit); values the
// model cannot follow (a loaded integer, a float cast to int) are unknowns inside their bounds.
#pragma once
#include <cstdint>
#include <vector>

#include "femtograd/codegen/codegen.h"

namespace fg {

// whether this build has z3 (without it check_bounds throws NotImplemented)
bool bounds_check_available();

// Checks every access of prog; returns how many it proved. sizes[i]: the element count of
// DEFINE_GLOBAL i's buffer (missing or negative: the size the pointer dtype declares; accesses of
// buffers of unknown size are not checked).
int64_t check_bounds(const KernelProgram& prog, const std::vector<int64_t>& sizes = {});

// check_bounds once per (program, sizes): the engine calls it before each run under CHECK_OOB=1.
void check_bounds_once(const KernelProgram& prog, const std::vector<int64_t>& sizes);

}  // namespace fg
