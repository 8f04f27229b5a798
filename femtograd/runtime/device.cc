// The device registry (one explicit list, no self-registration) and the shared compile paths.
#include "femtograd/runtime/device.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/hash.h"
#include "femtograd/base/thread_pool.h"
#include "femtograd/base/timing.h"
#include "femtograd/runtime/cpu/cpu_device.h"
#include "femtograd/runtime/cuda/cuda_device.h"
#include "femtograd/runtime/disk_cache.h"

namespace fg {

std::unique_ptr<Device> make_null_device();  // null_device.cc

Compiler::~Compiler() = default;
Program::~Program() = default;
DeviceGraph::~DeviceGraph() = default;
Device::~Device() = default;

Device::Device(std::string name, std::unique_ptr<Allocator> raw, size_t alignment)
    : name_(std::move(name)),
      allocator_(std::make_unique<CachingAllocator>(std::move(raw), alignment)) {}

namespace {

// THE list of backends. A new backend is one line here. An indexed backend has instances
// NAME (index 0) and NAME:n; the others have one instance (NAME:0 is NAME).
struct Backend {
  const char* name;
  std::unique_ptr<Device> (*open)(int index);
  bool indexed;
};
const Backend kBackends[] = {
    {"CPU", [](int) { return make_cpu_device(); }, false},
    {"NULL", [](int) { return make_null_device(); }, false},
    {"CUDA", make_cuda_device, true},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string known_list() {
  std::string s;
  for (const auto& b : kBackends) s += (s.empty() ? "" : ", ") + std::string(b.name);
  return s;
}

// "CUDA:1" -> the CUDA backend, index 1, canonical "CUDA:1"; "cuda:0" -> "CUDA"
const Backend& find_backend(std::string_view name, std::string* canon, int* index) {
  std::string u = upper(name);
  int idx = 0;
  if (size_t colon = u.find(':'); colon != std::string::npos) {
    std::string digits = u.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() <= 4 &&
              std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    FG_CHECK(ok, ErrorKind::Value, "get_device", "bad device '", name,
             "': the part after ':' must be a GPU number, as in CUDA:1");
    idx = std::stoi(digits);
    u.resize(colon);
  }
  for (const auto& b : kBackends)
    if (u == b.name) {
      FG_CHECK(idx == 0 || b.indexed, ErrorKind::Value, "get_device", "device '", name,
               "': ", b.name, " has one instance (", b.name, " or ", b.name, ":0)");
      *canon = idx == 0 ? u : u + ":" + std::to_string(idx);
      if (index) *index = idx;
      return b;
    }
  fail(ErrorKind::Value, "get_device", "unknown device '", name, "' (known: ", known_list(), ")");
}

struct Registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Device>> open;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: buffers may outlive static destructors
  return *r;
}

struct Counters {
  std::mutex mu;
  CompileStats stats;
};
Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace

std::string canonical_device(std::string_view name) {
  std::string canon;
  find_backend(name, &canon, nullptr);
  return canon;
}

Device& get_device(std::string_view name) {
  std::string canon;
  int index = 0;
  const Backend& b = find_backend(name, &canon, &index);
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.open.find(canon);
  if (it == r.open.end()) it = r.open.emplace(canon, b.open(index)).first;
  return *it->second;
}

std::vector<std::string> known_devices() {
  std::vector<std::string> out;
  for (const auto& b : kBackends) out.emplace_back(b.name);
  return out;
}

std::string default_device() {
  std::string dev = getenv_str(Flag::DEV);
  return dev.empty() ? "CPU" : canonical_device(dev);
}

std::string compile_cached(Device& dev, const std::string& src, const std::string& name) {
  Compiler* c = dev.compiler();
  if (!c) return src;
  bool use_cache = getenv_int(Flag::DISABLE_COMPILER_CACHE) == 0;
  std::string key;
  if (use_cache) {
    Timer t;
    key = dev.renderer();
    key += '\0';
    key += c->cache_key();
    key += '\0';
    key += src;
    key = sha256_hex(key);
    if (auto hit = disk_cache_get("compile", key)) {
      {
        std::lock_guard lock(counters().mu);
        counters().stats.cache_hits++;
      }
      if (getenv_int(Flag::DEBUG) >= 2) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.2f", t.elapsed_ms());
        std::cerr << dev.name() << ": kernel " << name << " from the disk cache in " << ms
                  << " ms\n";
      }
      return std::move(*hit);
    }
  }
  Timer t;
  std::string bin = c->compile(src, name);
  double s = t.elapsed();
  {
    std::lock_guard lock(counters().mu);
    counters().stats.compiles++;
    counters().stats.compile_seconds += s;
  }
  if (getenv_int(Flag::DEBUG) >= 1) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.1f", s * 1e3);
    std::cerr << dev.name() << ": compiled kernel " << name << " in " << ms << " ms ("
              << (use_cache ? "cache miss" : "cache disabled") << ", " << bin.size() << " bytes)\n";
  }
  if (use_cache) disk_cache_put("compile", key, bin);
  return bin;
}

std::vector<std::string> compile_all(
    Device& dev, const std::vector<std::pair<std::string, std::string>>& name_and_src) {
  // identical sources (the same kernel twice in a schedule) compile once
  std::vector<size_t> unique, first(name_and_src.size());
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < name_and_src.size(); i++) {
    auto [it, inserted] = seen.emplace(name_and_src[i].second, i);
    first[i] = it->second;
    if (inserted) unique.push_back(i);
  }
  std::vector<std::string> out(name_and_src.size());
  // one chunk per kernel: compile times differ a lot, so workers take kernels one at a time
  parallel_for(
      static_cast<int64_t>(unique.size()),
      [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; k++) {
          size_t i = unique[k];
          out[i] = compile_cached(dev, name_and_src[i].second, name_and_src[i].first);
        }
      },
      static_cast<int64_t>(unique.size()));
  for (size_t i = 0; i < out.size(); i++)
    if (first[i] != i) out[i] = out[first[i]];
  return out;
}

CompileStats compile_stats() {
  std::lock_guard lock(counters().mu);
  return counters().stats;
}

}  // namespace fg
