// A key -> bytes store on disk under CACHEDIR (default ~/.cache/femtograd), used for compiled
// kernels and, later, search results. Guarantees: writes are atomic (temp file + rename), so
// concurrent writers and readers never see half a file; every entry carries its length and
// SHA-256, and an entry that fails the check (truncated, corrupt) is removed and reported as a
// miss, never returned; I/O failures (read-only disk) make the cache a no-op, never an error.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fg {

// Writes all n bytes to fd, retrying short writes and EINTR; false on any other error.
bool write_all(int fd, const char* p, size_t n);

std::string cache_dir();  // CACHEDIR, else $XDG_CACHE_HOME/femtograd, else ~/.cache/femtograd

// table: a short name made of [A-Za-z0-9_] (one folder per table); key: any bytes
std::optional<std::string> disk_cache_get(std::string_view table, std::string_view key);
void disk_cache_put(std::string_view table, std::string_view key, std::string_view value);
std::string disk_cache_path(std::string_view table, std::string_view key);  // the entry's file

struct DiskCacheStats {
  int64_t hits = 0, misses = 0;
  int64_t corrupt = 0;  // entries that failed the check and were removed
  int64_t writes = 0, write_failures = 0;
};
DiskCacheStats disk_cache_stats();

}  // namespace fg
