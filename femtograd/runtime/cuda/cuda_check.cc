#include "femtograd/runtime/cuda/cuda_check.h"

#include <mutex>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"
#include "femtograd/render/cuda.h"
#include "femtograd/runtime/cuda/nvrtc_compiler.h"
#include "femtograd/runtime/disk_cache.h"

namespace fg {

Target cuda_target() {
  Target t;
  t.lang = "cuda";
  t.gpu = true;
  t.vector_bytes = 16;
  return t;
}

std::string check_cuda_compile(const UOpRef& ast) {
  static std::mutex mu;
  static std::unique_ptr<NVRTCCompiler> compiler;
  {
    std::lock_guard lock(mu);
    if (!compiler) compiler = std::make_unique<NVRTCCompiler>(default_cuda_arch());
  }
  KernelProgram k = codegen(ast, cuda_target());
  std::string src = render_cuda(k);
  std::string key = sha256_hex(std::string("cuda") + '\0' + compiler->cache_key() + '\0' + src);
  if (!disk_cache_get("compile", key)) disk_cache_put("compile", key, compiler->compile(src, k.name));
  return src;
}

}  // namespace fg
