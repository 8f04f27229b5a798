// The CUDA device: one GPU through the driver API (libcuda, loaded at run time). Guarantees:
// memory comes from cuMemAlloc behind the per-device caching allocator; every kernel goes into one
// compute stream in order, so a block freed by the host and handed out again is only touched after
// the work queued before it (stream-ordered reuse); host<->device copies go through pinned staging
// buffers on a copy stream, after the queued kernels that use the copied memory and before the
// kernels queued later; TinyJit replays are CUDA graphs (make_graph); kernels are CUDA C compiled by NVRTC to CUBIN for the GPU's own architecture (sm_90 on
// H100), cached on disk; launches return once queued (timed launches wait), and a failed launch or
// a fault found at the next synchronize throws Error(Runtime) naming the kernel.
#pragma once
#include <memory>
#include <string>

#include "femtograd/runtime/device.h"

namespace fg {

// "CUDA" is GPU 0, "CUDA:n" GPU n. Throws Error(Runtime) when there is no driver or no such GPU.
std::unique_ptr<Device> make_cuda_device(int ordinal);

// How many GPUs the driver sees; 0 when libcuda is missing or cuInit fails (never throws).
int cuda_device_count();

struct CUDAInfo {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  int ordinal = 0, cc_major = 0, cc_minor = 0;
  int sm_count = 0, max_threads_per_block = 0, warp_size = 32;
  int max_shared_per_block = 0, max_shared_per_block_optin = 0, l2_bytes = 0;
  int max_grid[3] = {0, 0, 0};
  size_t total_mem = 0;
  std::string arch() const { return "sm_" + std::to_string(cc_major) + std::to_string(cc_minor); }
};
// The properties of a CUDA device; throws Error(Value) when dev is not a CUDA device.
const CUDAInfo& cuda_info(Device& dev);

}  // namespace fg
