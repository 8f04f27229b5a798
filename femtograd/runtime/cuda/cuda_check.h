// CHECK_CUDA=1: every kernel a realize compiles for another device is also generated for a GPU,
// rendered as CUDA C and compiled by NVRTC (for CUDA_ARCH, default sm_90), so a machine without a
// GPU checks CUDA codegen on real workloads (the op conformance suite). Binaries go through the
// disk cache like any compile. A kernel that does not render or compile throws Error(Runtime)
// naming it, with NVRTC's log.
#pragma once
#include <string>

#include "femtograd/codegen/codegen.h"
#include "femtograd/ir/uop.h"

namespace fg {

// the Target codegen uses for CUDA
Target cuda_target();
// Generates, renders and NVRTC-compiles one kernel AST for the GPU; returns the CUDA source.
std::string check_cuda_compile(const UOpRef& ast);

}  // namespace fg
