#include "femtograd/runtime/cpu/cpu_device.h"
#include "femtograd/runtime/disk_cache.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/base/timing.h"
#include "femtograd/runtime/cpu/c_compiler.h"

namespace fg {
namespace {

constexpr size_t kAlign = 64;

class CPUAllocator final : public Allocator {
 public:
  void* alloc(size_t bytes) override {
    size_t size = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, size);
    FG_CHECK(p, ErrorKind::Runtime, "CPU", "out of memory allocating ", bytes, " bytes");
    return p;
  }
  void free(void* p, size_t) override { std::free(p); }
  void copy_in(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_out(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
};

using KernelFn = void (*)(void**, const long long*, long long, long long);
static_assert(sizeof(long long) == sizeof(int64_t));

bool write_all(int fd, const std::string& data) { return fg::write_all(fd, data.data(), data.size()); }

// dlopen of in-memory bytes: through a memfd (no file on disk, works on noexec /tmp), else
// through a temporary file that is unlinked as soon as it is mapped. The memfd stays open while the
// library is loaded (*keep_fd): dlopen knows libraries by path, and a closed fd's number, reused
// for the next kernel, would make dlopen hand back the old library.
void* dlopen_bytes(const std::string& binary, const std::string& name, std::string* error, int* keep_fd) {
  *keep_fd = -1;
  int fd = ::memfd_create(("fg_" + name).substr(0, 240).c_str(), MFD_CLOEXEC);
  if (fd >= 0) {
    void* h = nullptr;
    if (write_all(fd, binary)) {
      std::string path = "/proc/self/fd/" + std::to_string(fd);
      h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) *error = ::dlerror();
    }
    if (h) {
      *keep_fd = fd;
      return h;
    }
    ::close(fd);
  }
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t ? t : "/tmp") + "/fg-kernel-XXXXXX.so";
  fd = ::mkstemps(tmpl.data(), 3);
  if (fd < 0) {
    if (error->empty()) *error = std::string("mkstemps: ") + std::strerror(errno);
    return nullptr;
  }
  bool ok = write_all(fd, binary);
  ::close(fd);
  void* h = ok ? ::dlopen(tmpl.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
  if (!h) *error = ok ? ::dlerror() : "cannot write " + tmpl;
  ::unlink(tmpl.c_str());
  return h;
}

class CPUProgram final : public Program {
 public:
  CPUProgram(const std::string& name, const std::string& binary) : name_(name) {
    std::string error;
    handle_ = dlopen_bytes(binary, name, &error, &fd_);
    FG_CHECK(handle_, ErrorKind::Runtime, "CPU load", "kernel ", name, ": cannot load its ",
             binary.size(), "-byte binary: ", error);
    fn_ = reinterpret_cast<KernelFn>(::dlsym(handle_, name.c_str()));
    if (!fn_) {
      ::dlclose(handle_);
      if (fd_ >= 0) ::close(fd_);
      fail(ErrorKind::Runtime, "CPU load", "kernel ", name, ": no symbol '", name,
           "' in its binary");
    }
  }
  ~CPUProgram() override {
    ::dlclose(handle_);
    if (fd_ >= 0) ::close(fd_);
  }

  double run(std::span<void* const> bufs, std::span<const int64_t> vars, const LaunchDims& dims,
             bool timed) override {
    double t0 = timed ? now_seconds() : 0;
    void** b = const_cast<void**>(bufs.data());  // the kernel reads the array, never writes it
    const auto* v = reinterpret_cast<const long long*>(vars.data());
    int64_t n = dims.global[0];
    int64_t chunks = std::min<int64_t>(num_threads(), n / std::max<int64_t>(dims.grain, 1));
    if (chunks >= 2) {
      KernelFn fn = fn_;
      parallel_for(n, [fn, b, v](int64_t lo, int64_t hi) { fn(b, v, lo, hi); }, chunks);
    } else if (n >= 1) {
      fn_(b, v, 0, n);
    }
    return timed ? now_seconds() - t0 : 0;
  }

 private:
  std::string name_;
  void* handle_ = nullptr;
  int fd_ = -1;  // the memfd behind handle_, open while it is loaded
  KernelFn fn_ = nullptr;
};

class CPUDevice final : public Device {
 public:
  CPUDevice() : Device("CPU", std::make_unique<CPUAllocator>(), kAlign) {
    if (getenv_int(Flag::DEBUG) >= 1)
      std::cerr << "CPU: opened device, " << num_threads() << " threads\n";
  }
  std::string renderer() const override { return "c"; }

  // one compiler per (CC, CPU_CFLAGS) setting, so that a Context changing them takes effect
  Compiler* compiler() override {
    std::string cc = getenv_str(Flag::CC), extra = getenv_str(Flag::CPU_CFLAGS);
    std::lock_guard lock(mu_);
    auto& slot = compilers_[cc + '\0' + extra];
    if (!slot) {
      std::vector<std::string> flags;
      std::istringstream in(extra);
      for (std::string w; in >> w;) flags.push_back(w);
      auto c = std::make_unique<CCompiler>(find_c_compiler(), std::move(flags));
      if (getenv_int(Flag::DEBUG) >= 1) {
        std::cerr << "CPU: C compiler " << c->command()[0] << " (" << c->version() << "), flags";
        for (const auto& f : c->flags()) std::cerr << " " << f;
        std::cerr << "\n";
      }
      slot = std::move(c);
    }
    return slot.get();
  }

  std::unique_ptr<Program> load(const std::string& name, const std::string& binary) override {
    return load_cpu_program(name, binary);
  }
  void synchronize() override {}  // kernels run synchronously

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<CCompiler>> compilers_;
};

}  // namespace

std::unique_ptr<Program> load_cpu_program(const std::string& name, const std::string& binary) {
  return std::make_unique<CPUProgram>(name, binary);
}

std::unique_ptr<Device> make_cpu_device() { return std::make_unique<CPUDevice>(); }

}  // namespace fg
