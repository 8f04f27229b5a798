#include "femtograd/runtime/allocator.h"

#include <bit>

#include "femtograd/base/error.h"

namespace fg {

Allocator::~Allocator() = default;

CachingAllocator::CachingAllocator(std::unique_ptr<Allocator> raw, size_t alignment)
    : raw_(std::move(raw)), alignment_(alignment) {
  FG_ASSERT(raw_ && alignment_ > 0 && std::has_single_bit(alignment_));
}

CachingAllocator::~CachingAllocator() { free_cache(); }

size_t CachingAllocator::bucket_size(size_t bytes) const {
  constexpr size_t kSmall = 64 * 1024;
  size_t b = std::max(bytes, alignment_);
  if (b <= kSmall) {
    b = std::bit_ceil(b);
  } else {
    size_t step = std::bit_floor(b) / 8;
    b = (b + step - 1) / step * step;
  }
  return (b + alignment_ - 1) / alignment_ * alignment_;
}

void* CachingAllocator::alloc(size_t bytes) {
  size_t size = bucket_size(bytes);
  std::unique_lock lock(mu_);
  void* p = nullptr;
  auto it = free_lists_.find(size);
  if (it != free_lists_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    stats_.reuses++;
  } else {
    lock.unlock();  // the raw allocation may be slow; other threads go on meanwhile
    try {
      p = raw_->alloc(size);
    } catch (const Error&) {
      free_cache();  // out of memory: give the cached blocks back and try once more
      p = raw_->alloc(size);
    }
    lock.lock();
    stats_.raw_allocs++;
  }
  live_.emplace(p, size);
  stats_.live_blocks++;
  stats_.in_use += size;
  stats_.peak = std::max(stats_.peak, stats_.in_use);
  return p;
}

void CachingAllocator::free(void* p, size_t bytes) {
  if (!p) return;
  size_t size = bucket_size(bytes);
  std::lock_guard lock(mu_);
  auto it = live_.find(p);
  FG_ASSERT(it != live_.end(), "allocator: free of a block that is not allocated");
  FG_ASSERT(it->second == size, "allocator: block freed with size ", bytes, " (bucket ", size,
            ") but allocated in bucket ", it->second);
  live_.erase(it);
  stats_.live_blocks--;
  stats_.in_use -= size;
  stats_.cached += size;
  free_lists_[size].push_back(p);
}

void CachingAllocator::copy_in(void* dst, const void* host_src, size_t bytes) {
  raw_->copy_in(dst, host_src, bytes);
}
void CachingAllocator::copy_out(void* host_dst, const void* src, size_t bytes) {
  raw_->copy_out(host_dst, src, bytes);
}

void CachingAllocator::free_cache() {
  std::unordered_map<size_t, std::vector<void*>> blocks;
  {
    std::lock_guard lock(mu_);
    blocks.swap(free_lists_);
    stats_.cached = 0;
  }
  for (auto& [size, list] : blocks)
    for (void* p : list) raw_->free(p, size);
}

MemStats CachingAllocator::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mu_);
  stats_.peak = stats_.in_use;
}

}  // namespace fg
