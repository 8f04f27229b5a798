#include "femtograd/runtime/disk_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/hash.h"

namespace fg {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
namespace fs = std::filesystem;
namespace {

// entry layout: magic, payload length (8 bytes little endian), sha256 hex of payload, payload
constexpr char kMagic[4] = {'F', 'G', 'C', '1'};
constexpr size_t kHeader = 4 + 8 + 64;

struct Counters {
  std::atomic<int64_t> hits{0}, misses{0}, corrupt{0}, writes{0}, write_failures{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

void check_table(std::string_view table) {
  bool ok = !table.empty();
  for (char ch : table) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
  FG_CHECK(ok, ErrorKind::Value, "disk_cache", "table name '", table,
           "' must be non-empty and made of letters, digits and _");
}

}  // namespace

std::string cache_dir() {
  std::string dir = getenv_str(Flag::CACHEDIR);
  if (!dir.empty()) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return (fs::path(xdg) / "femtograd").string();
  if (const char* home = std::getenv("HOME"); home && *home)
    return (fs::path(home) / ".cache" / "femtograd").string();
  return (fs::temp_directory_path() / ("femtograd-cache-" + std::to_string(getuid()))).string();
}

std::string disk_cache_path(std::string_view table, std::string_view key) {
  check_table(table);
  return (fs::path(cache_dir()) / table / sha256_hex(key)).string();
}

std::optional<std::string> disk_cache_get(std::string_view table, std::string_view key) {
  std::string path = disk_cache_path(table, key);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    counters().misses++;
    return std::nullopt;
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bool ok = data.size() >= kHeader && std::memcmp(data.data(), kMagic, 4) == 0;
  if (ok) {
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len |= uint64_t(static_cast<unsigned char>(data[4 + i])) << (8 * i);
    std::string_view payload = std::string_view(data).substr(kHeader);
    ok = len == payload.size() && sha256_hex(payload) == std::string_view(data).substr(12, 64);
    if (ok) {
      counters().hits++;
      return std::string(payload);
    }
  }
  counters().corrupt++;
  counters().misses++;
  if (getenv_int(Flag::DEBUG) >= 1)
    std::cerr << "disk cache: removed corrupt entry " << path << " (" << data.size() << " bytes)\n";
  std::error_code ec;
  fs::remove(path, ec);
  return std::nullopt;
}

void disk_cache_put(std::string_view table, std::string_view key, std::string_view value) {
  static std::atomic<uint64_t> serial{0};
  std::string path = disk_cache_path(table, key);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(serial++);
  std::string header(kMagic, 4);
  uint64_t len = value.size();
  for (int i = 0; i < 8; i++) header.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  header += sha256_hex(value);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write_all(fd, header.data(), header.size()) &&
            write_all(fd, value.data(), value.size());
  if (fd >= 0) ok = (::close(fd) == 0) && ok;
  if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    int err = errno;
    ::unlink(tmp.c_str());
    counters().write_failures++;
    if (getenv_int(Flag::DEBUG) >= 1)
      std::cerr << "disk cache: could not write " << path << ": " << std::strerror(err) << "\n";
    return;
  }
  counters().writes++;
}

DiskCacheStats disk_cache_stats() {
  Counters& c = counters();
  return {c.hits.load(), c.misses.load(), c.corrupt.load(), c.writes.load(),
          c.write_failures.load()};
}

}  // namespace fg
