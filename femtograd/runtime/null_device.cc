// The NULL device: renders C and "compiles" nothing, hands out memory addresses that are never
// dereferenced, and runs programs that do nothing. It measures what the rest of the stack does
// (scheduling, codegen, memory accounting) without doing any compute.
#include <atomic>

#include "femtograd/runtime/device.h"

namespace fg {
namespace {

class NullAllocator final : public Allocator {
 public:
  void* alloc(size_t bytes) override {
    // distinct, aligned, non-null addresses in a range nothing maps (never dereferenced)
    uintptr_t a = next_.fetch_add((bytes + 63) / 64 * 64 + 64);
    return reinterpret_cast<void*>(a);
  }
  void free(void*, size_t) override {}
  void copy_in(void*, const void*, size_t) override {}
  void copy_out(void*, const void*, size_t) override {}

 private:
  std::atomic<uintptr_t> next_{uintptr_t(1) << 44};
};

class NullProgram final : public Program {
 public:
  double run(std::span<void* const>, std::span<const int64_t>, const LaunchDims&, bool) override {
    return 0;
  }
};

class NullDevice final : public Device {
 public:
  NullDevice() : Device("NULL", std::make_unique<NullAllocator>(), 64) {}
  std::string renderer() const override { return "c"; }
  Compiler* compiler() override { return nullptr; }
  std::unique_ptr<Program> load(const std::string&, const std::string&) override {
    return std::make_unique<NullProgram>();
  }
  void synchronize() override {}
};

}  // namespace

std::unique_ptr<Device> make_null_device() { return std::make_unique<NullDevice>(); }

}  // namespace fg
