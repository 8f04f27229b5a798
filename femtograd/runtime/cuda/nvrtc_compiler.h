// NVRTC: CUDA C source -> CUBIN for one GPU architecture. It needs no GPU, so a machine without
// one still compiles every CUDA kernel (CI checks CUDA codegen that way). Guarantees: the cache key
// names NVRTC's version, the architecture and every option; exact IEEE float math (no
// --use_fast_math); a failed compile throws Error(Runtime) naming the kernel, with NVRTC's log and
// the numbered source lines around the first error.
#pragma once
#include <string>
#include <vector>

#include "femtograd/runtime/device.h"

namespace fg {

class NVRTCCompiler final : public Compiler {
 public:
  // arch: "sm_90" (the device's own); throws Error(Runtime) when libnvrtc cannot be loaded
  explicit NVRTCCompiler(std::string arch);
  std::string compile(const std::string& src, const std::string& name) override;
  std::string cache_key() const override { return cache_key_; }
  const std::string& arch() const { return arch_; }
  const std::vector<std::string>& options() const { return options_; }

 private:
  std::string arch_, cache_key_;
  std::vector<std::string> options_;
};

// The architecture CUDA kernels compile for when no GPU says: the CUDA_ARCH flag, else sm_90.
std::string default_cuda_arch();

}  // namespace fg
