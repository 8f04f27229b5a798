// Fast non-cryptographic hashing for interning and memo tables (hash_mix, hash_combine,
// hash_bytes), and SHA-256 for keys that must not collide (the disk cache of compiled kernels).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fg {

// A bijective 64-bit mixer (splitmix64's finalizer): every input bit affects every output bit.
constexpr uint64_t hash_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t hash_combine(uint64_t seed, uint64_t v) {
  return hash_mix(seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)));
}

uint64_t hash_bytes(const void* data, size_t len, uint64_t seed = 0);
inline uint64_t hash_str(std::string_view s) { return hash_bytes(s.data(), s.size()); }

// SHA-256 of a byte string, as 64 lowercase hex characters.
std::string sha256_hex(std::string_view data);

}  // namespace fg
