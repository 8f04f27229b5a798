#include "femtograd/runtime/cuda/nvrtc_compiler.h"

#include <algorithm>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/runtime/cuda/cuda_api.h"

namespace fg {
namespace {

// the numbered source lines around line `at` (1-based)
std::string source_excerpt(const std::string& src, int at) {
  std::istringstream in(src);
  std::string line, out;
  for (int n = 1; std::getline(in, line); n++)
    if (n >= at - 3 && n <= at + 3) out += cat(n == at ? ">" : " ", n, ": ", line, "\n");
  return out;
}

// first "NAME.cu(LINE): error" in NVRTC's log
int first_error_line(const std::string& log) {
  size_t p = log.find("): error");
  if (p == std::string::npos) return 0;
  size_t open = log.rfind('(', p);
  if (open == std::string::npos) return 0;
  try {
    return std::stoi(log.substr(open + 1, p - open - 1));
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::string default_cuda_arch() {
  std::string a = getenv_str(Flag::CUDA_ARCH);
  return a.empty() ? "sm_90" : a;
}

NVRTCCompiler::NVRTCCompiler(std::string arch) : arch_(std::move(arch)) {
  FG_CHECK(arch_.starts_with("sm_") && arch_.size() >= 5, ErrorKind::Value, "NVRTC",
           "architecture must look like sm_90, got '", arch_, "'");
  const cuda::NVRTC& n = cuda::nvrtc();
  int major = 0, minor = 0;
  n.nvrtcVersion(&major, &minor);
  options_ = {"--gpu-architecture=" + arch_, "--std=c++17", "-default-device"};
  std::string inc = cuda::cuda_include_dir();
  if (!inc.empty()) options_.push_back("-I" + inc);
  cache_key_ = cat("nvrtc ", major, ".", minor);
  for (const auto& o : options_) cache_key_ += " " + o;
}

std::string NVRTCCompiler::compile(const std::string& src, const std::string& name) {
  const cuda::NVRTC& n = cuda::nvrtc();
  cuda::nvrtcProgram prog = nullptr;
  std::string file = name + ".cu";
  cuda::nvrtcResult r = n.nvrtcCreateProgram(&prog, src.c_str(), file.c_str(), 0, nullptr, nullptr);
  FG_CHECK(r == 0, ErrorKind::Runtime, "NVRTC", "kernel ", name, ": cannot create program: ",
           n.nvrtcGetErrorString(r));
  std::vector<const char*> opts;
  for (const auto& o : options_) opts.push_back(o.c_str());
  r = n.nvrtcCompileProgram(prog, static_cast<int>(opts.size()), opts.data());
  size_t log_size = 0;
  n.nvrtcGetProgramLogSize(prog, &log_size);
  std::string log(log_size, '\0');
  if (log_size) n.nvrtcGetProgramLog(prog, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (r != 0) {
    n.nvrtcDestroyProgram(&prog);
    int at = first_error_line(log);
    fail(ErrorKind::Runtime, "NVRTC", "kernel ", name, " does not compile (", arch_, "): ",
         n.nvrtcGetErrorString(r), "\n", log, at ? "\n" + source_excerpt(src, at) : std::string());
  }
  size_t size = 0;
  n.nvrtcGetCUBINSize(prog, &size);
  std::string cubin(size, '\0');
  r = size ? n.nvrtcGetCUBIN(prog, cubin.data()) : 1;
  n.nvrtcDestroyProgram(&prog);
  FG_CHECK(r == 0, ErrorKind::Runtime, "NVRTC", "kernel ", name, ": no CUBIN for ", arch_);
  return cubin;
}

}  // namespace fg
