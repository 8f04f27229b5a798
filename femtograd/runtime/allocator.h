// Device memory: the raw Allocator interface a backend implements, and the CachingAllocator every
// Device puts in front of it. Guarantees: freed blocks are kept in per-size free lists and handed
// out again for requests of the same size bucket; every block is aligned to the device's
// alignment (64 bytes on CPU); all methods are thread-safe; the counters are exact at any moment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace fg {

// Raw device memory. Pointers are device addresses: only the device's kernels and copy_in/out
// may dereference them (on CPU they are ordinary host pointers).
class Allocator {
 public:
  virtual ~Allocator();
  virtual void* alloc(size_t bytes) = 0;         // never returns null; throws Error(Runtime)
  virtual void free(void* p, size_t bytes) = 0;  // bytes: the size passed to alloc
  virtual void copy_in(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_out(void* host_dst, const void* src, size_t bytes) = 0;
};

struct MemStats {
  size_t in_use = 0;       // bytes of blocks held by live allocations (bucket sizes)
  size_t cached = 0;       // bytes of freed blocks kept for reuse
  size_t peak = 0;         // the most in_use has been (since start or reset_peak)
  size_t raw_allocs = 0;   // blocks taken from the raw allocator
  size_t reuses = 0;       // allocations served from the cache
  size_t live_blocks = 0;  // allocations not yet freed
};

class CachingAllocator final : public Allocator {
 public:
  CachingAllocator(std::unique_ptr<Allocator> raw, size_t alignment);
  ~CachingAllocator() override;  // returns cached blocks to the raw allocator

  void* alloc(size_t bytes) override;
  void free(void* p, size_t bytes) override;  // keeps the block in its bucket's free list
  void copy_in(void* dst, const void* host_src, size_t bytes) override;
  void copy_out(void* host_dst, const void* src, size_t bytes) override;

  void free_cache();  // returns every cached block to the raw allocator
  MemStats stats() const;
  void reset_peak();
  // the block size a request of `bytes` gets: small sizes round up to a power of two,
  // larger ones to 1/8 of their power of two (at most 12.5% waste), always to the alignment
  size_t bucket_size(size_t bytes) const;
  size_t alignment() const { return alignment_; }
  Allocator& raw() { return *raw_; }

 private:
  std::unique_ptr<Allocator> raw_;
  size_t alignment_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;  // bucket size -> blocks
  std::unordered_map<void*, size_t> live_;                     // block -> bucket size
  MemStats stats_;
};

}  // namespace fg
