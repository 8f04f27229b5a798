#include "femtograd/runtime/cuda/cuda_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "femtograd/base/error.h"

namespace fg::cuda {
namespace {

struct Lib {
  void* handle = nullptr;
  std::string tried;  // where it looked, for the error message
};

Lib open_lib(const std::vector<std::string>& names) {
  Lib lib;
  for (const std::string& n : names) {
    lib.handle = ::dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle) return lib;
    const char* e = ::dlerror();
    lib.tried += (lib.tried.empty() ? "" : "; ") + (e ? std::string(e) : n);
  }
  return lib;
}

// first of the names that the library exports
template <class F>
void bind(void* h, F*& fn, std::initializer_list<const char*> names, const char* lib) {
  for (const char* n : names)
    if (void* p = ::dlsym(h, n)) {
      fn = reinterpret_cast<F*>(p);
      return;
    }
  fail(ErrorKind::Runtime, "CUDA", lib, " has no symbol ", *names.begin(),
       " (driver or toolkit too old?)");
}

struct DriverState {
  Driver api{};
  std::string error;  // why it could not be loaded
  bool ok = false;
};

const DriverState& driver_state() {
  static DriverState* s = [] {
    auto* st = new DriverState;
    Lib lib = open_lib({"libcuda.so.1", "libcuda.so"});
    if (!lib.handle) {
      st->error = "cannot load libcuda (no NVIDIA driver on this machine?): " + lib.tried;
      return st;
    }
    try {
      Driver& d = st->api;
      void* h = lib.handle;
      const char* L = "libcuda";
      bind(h, d.cuInit, {"cuInit"}, L);
      bind(h, d.cuDriverGetVersion, {"cuDriverGetVersion"}, L);
      bind(h, d.cuDeviceGetCount, {"cuDeviceGetCount"}, L);
      bind(h, d.cuDeviceGet, {"cuDeviceGet"}, L);
      bind(h, d.cuDeviceGetName, {"cuDeviceGetName"}, L);
      bind(h, d.cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, L);
      bind(h, d.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, L);
      bind(h, d.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, L);
      bind(h, d.cuCtxSetCurrent, {"cuCtxSetCurrent"}, L);
      bind(h, d.cuCtxSynchronize, {"cuCtxSynchronize"}, L);
      bind(h, d.cuMemAlloc, {"cuMemAlloc_v2"}, L);
      bind(h, d.cuMemFree, {"cuMemFree_v2"}, L);
      bind(h, d.cuMemHostAlloc, {"cuMemHostAlloc"}, L);
      bind(h, d.cuMemFreeHost, {"cuMemFreeHost"}, L);
      bind(h, d.cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, L);
      bind(h, d.cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"}, L);
      bind(h, d.cuMemcpyDtoDAsync, {"cuMemcpyDtoDAsync_v2"}, L);
      bind(h, d.cuMemsetD8Async, {"cuMemsetD8Async"}, L);
      bind(h, d.cuStreamCreate, {"cuStreamCreate"}, L);
      bind(h, d.cuStreamSynchronize, {"cuStreamSynchronize"}, L);
      bind(h, d.cuStreamWaitEvent, {"cuStreamWaitEvent"}, L);
      bind(h, d.cuEventCreate, {"cuEventCreate"}, L);
      bind(h, d.cuEventRecord, {"cuEventRecord"}, L);
      bind(h, d.cuEventSynchronize, {"cuEventSynchronize"}, L);
      bind(h, d.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, L);
      bind(h, d.cuEventDestroy, {"cuEventDestroy_v2"}, L);
      bind(h, d.cuModuleLoadData, {"cuModuleLoadData"}, L);
      bind(h, d.cuModuleUnload, {"cuModuleUnload"}, L);
      bind(h, d.cuModuleGetFunction, {"cuModuleGetFunction"}, L);
      bind(h, d.cuFuncSetAttribute, {"cuFuncSetAttribute"}, L);
      bind(h, d.cuLaunchKernel, {"cuLaunchKernel"}, L);
      bind(h, d.cuGetErrorString, {"cuGetErrorString"}, L);
      bind(h, d.cuGetErrorName, {"cuGetErrorName"}, L);
      bind(h, d.cuEventQuery, {"cuEventQuery"}, L);
      try {  // graphs are optional: without them TinyJit launches kernel by kernel
        bind(h, d.cuGraphCreate, {"cuGraphCreate"}, L);
        bind(h, d.cuGraphAddKernelNode, {"cuGraphAddKernelNode_v2", "cuGraphAddKernelNode"}, L);
        bind(h, d.cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, L);
        bind(h, d.cuGraphExecKernelNodeSetParams, {"cuGraphExecKernelNodeSetParams_v2", "cuGraphExecKernelNodeSetParams"}, L);
        bind(h, d.cuGraphLaunch, {"cuGraphLaunch"}, L);
        bind(h, d.cuGraphExecDestroy, {"cuGraphExecDestroy"}, L);
        bind(h, d.cuGraphDestroy, {"cuGraphDestroy"}, L);
        d.graphs = true;
      } catch (const Error&) {
        d.graphs = false;
      }
      st->ok = true;
    } catch (const Error& e) {
      st->error = e.what();
    }
    return st;
  }();
  return *s;
}

struct NVRTCState {
  NVRTC api{};
  std::string error;
  bool ok = false;
};

std::vector<std::string> nvrtc_candidates() {
  std::vector<std::string> names;
  for (const char* env : {"CUDA_PATH", "CUDA_HOME"})
    if (const char* p = std::getenv(env); p && *p) names.push_back(std::string(p) + "/lib64/libnvrtc.so");
  // the toolkit's own NVRTC first: it matches the headers kernels include (cuda_include_dir)
  for (const char* n : {"/usr/local/cuda/lib64/libnvrtc.so", "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"})
    names.emplace_back(n);
  return names;
}

const NVRTCState& nvrtc_state() {
  static NVRTCState* s = [] {
    auto* st = new NVRTCState;
    Lib lib = open_lib(nvrtc_candidates());
    if (!lib.handle) {
      st->error = "cannot load libnvrtc (install the CUDA toolkit or set CUDA_PATH): " + lib.tried;
      return st;
    }
    try {
      NVRTC& n = st->api;
      void* h = lib.handle;
      const char* L = "libnvrtc";
      bind(h, n.nvrtcVersion, {"nvrtcVersion"}, L);
      bind(h, n.nvrtcCreateProgram, {"nvrtcCreateProgram"}, L);
      bind(h, n.nvrtcDestroyProgram, {"nvrtcDestroyProgram"}, L);
      bind(h, n.nvrtcCompileProgram, {"nvrtcCompileProgram"}, L);
      bind(h, n.nvrtcGetProgramLogSize, {"nvrtcGetProgramLogSize"}, L);
      bind(h, n.nvrtcGetProgramLog, {"nvrtcGetProgramLog"}, L);
      bind(h, n.nvrtcGetCUBINSize, {"nvrtcGetCUBINSize"}, L);
      bind(h, n.nvrtcGetCUBIN, {"nvrtcGetCUBIN"}, L);
      bind(h, n.nvrtcGetErrorString, {"nvrtcGetErrorString"}, L);
      st->ok = true;
    } catch (const Error& e) {
      st->error = e.what();
    }
    return st;
  }();
  return *s;
}

}  // namespace

const Driver& cuda_driver() {
  const DriverState& s = driver_state();
  FG_CHECK(s.ok, ErrorKind::Runtime, "CUDA", s.error);
  return s.api;
}

const NVRTC& nvrtc() {
  const NVRTCState& s = nvrtc_state();
  FG_CHECK(s.ok, ErrorKind::Runtime, "NVRTC", s.error);
  return s.api;
}

bool nvrtc_available() { return nvrtc_state().ok; }

std::string cu_error_text(CUresult r) {
  const DriverState& s = driver_state();
  const char *name = nullptr, *text = nullptr;
  if (s.ok) {
    s.api.cuGetErrorName(r, &name);
    s.api.cuGetErrorString(r, &text);
  }
  return cat(name ? name : "CUDA error", " ", r, " (", text ? text : "unknown", ")");
}

void check_cu(CUresult r, const char* op, const std::string& what) {
  if (r != 0) [[unlikely]]
    fail(ErrorKind::Runtime, op, what, " failed: ", cu_error_text(r));
}

std::string cuda_include_dir() {
  std::vector<std::string> roots;
  for (const char* env : {"CUDA_PATH", "CUDA_HOME"})
    if (const char* p = std::getenv(env); p && *p) roots.emplace_back(p);
  roots.emplace_back("/usr/local/cuda");
  for (const std::string& r : roots) {
    std::error_code ec;
    if (std::filesystem::exists(r + "/include/cuda_fp16.h", ec)) return r + "/include";
  }
  return "";
}

}  // namespace fg::cuda
