// The CPU device: 64-byte aligned host memory, generated C compiled by the system's clang or gcc
// into a shared object, loaded with dlopen, and kernels split over the thread pool. The kernel
// ABI is documented in runtime/device.h.
#pragma once
#include <memory>
#include <string>

#include "femtograd/runtime/device.h"

namespace fg {

std::unique_ptr<Device> make_cpu_device();

// Loads a shared object's bytes and finds the kernel NAME in it. Throws Error(Runtime) naming
// the kernel when the bytes are not a loadable object or lack the symbol.
std::unique_ptr<Program> load_cpu_program(const std::string& name, const std::string& binary);

}  // namespace fg
