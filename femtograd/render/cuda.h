// The CUDA C renderer: a KernelProgram becomes one `extern "C" __global__` function
//   NAME(T0* data0, const T1* data1, ..., long long var0, ...)
// launched with the program's global_size as the grid and local_size as the block. Guarantees:
// SPECIAL gidxN/lidxN are blockIdx/threadIdx .x/.y/.z; index math is 32-bit when every index value
// of the kernel provably fits (its bounds), else 64-bit; float16/bfloat16/fp8 are stored in their
// own formats and computed in float, converted with cuda_fp16.h/cuda_bf16.h/cuda_fp8.h intrinsics
// (round to nearest even) at every load, store, cast and op, like the C renderer; transcendentals
// are the exact CUDA math functions (expf-family, IEEE division and sqrt); vector values (VECTOR
// opt) are aligned structs, loaded and stored 16 bytes at a time when the address is aligned
// (checked at run time: buffer views may start anywhere); a group reduce (GROUP opt) is a call of
// fg_group_reduce, which reduces across the block's threadIdx.x through warp shuffles and shared
// memory.
#pragma once
#include <string>

#include "femtograd/codegen/codegen.h"

namespace fg {

std::string render_cuda(const KernelProgram& k);

}  // namespace fg
