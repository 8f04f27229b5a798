#include "femtograd/runtime/buffer.h"

#include "femtograd/base/error.h"

namespace fg {

std::shared_ptr<Buffer> Buffer::create(Device& dev, DType dtype, int64_t size) {
  FG_CHECK(size >= 0, ErrorKind::Value, "Buffer", "size must be >= 0, got ", size);
  FG_CHECK(!dtype.is_ptr() && dtype.itemsize() > 0, ErrorKind::Type, "Buffer",
           "cannot hold elements of dtype ", dtype.name());
  return std::make_shared<Buffer>(Private{}, dev, dtype, size, nullptr, 0);
}

std::shared_ptr<Buffer> Buffer::view(const std::shared_ptr<Buffer>& base, DType dtype, int64_t size,
                                     int64_t offset) {
  FG_CHECK(base, ErrorKind::Value, "Buffer.view", "base is null");
  FG_CHECK(!dtype.is_ptr() && dtype.itemsize() > 0, ErrorKind::Type, "Buffer.view",
           "cannot hold elements of dtype ", dtype.name());
  FG_CHECK(size >= 0 && offset >= 0, ErrorKind::Value, "Buffer.view",
           "size and offset must be >= 0, got size ", size, " offset ", offset);
  size_t start = static_cast<size_t>(offset) * dtype.itemsize();
  size_t end = start + static_cast<size_t>(size) * dtype.itemsize();
  FG_CHECK(end <= base->nbytes(), ErrorKind::Value, "Buffer.view", "view of ", size, " ",
           dtype.name(), " at offset ", offset, " (bytes ", start, "..", end, ") does not fit in ",
           base->str(), " of ", base->nbytes(), " bytes");
  const std::shared_ptr<Buffer>& root = base->is_view() ? base->base() : base;
  return std::make_shared<Buffer>(Private{}, base->device(), dtype, size, root,
                                  base->byte_offset() + start);
}

Buffer::Buffer(Private, Device& dev, DType dtype, int64_t size, std::shared_ptr<Buffer> base,
               size_t byte_offset)
    : device_(&dev),
      dtype_(dtype),
      size_(size),
      base_(std::move(base)),
      byte_offset_(byte_offset) {}

Buffer::~Buffer() {
  if (ptr_) device_->allocator().free(ptr_, nbytes());
}

bool Buffer::is_allocated() const {
  if (base_) return base_->is_allocated();
  std::lock_guard lock(mu_);
  return ptr_ != nullptr;
}

void* Buffer::ptr() const {
  if (base_) {
    void* p = base_->ptr();
    return p ? static_cast<char*>(p) + byte_offset_ : nullptr;
  }
  std::lock_guard lock(mu_);
  return ptr_;
}

void* Buffer::ensure_allocated() {
  if (base_) return static_cast<char*>(base_->ensure_allocated()) + byte_offset_;
  std::lock_guard lock(mu_);
  if (!ptr_) ptr_ = device_->allocator().alloc(nbytes());
  return ptr_;
}

void Buffer::copy_in(const void* host_src, size_t bytes) {
  FG_CHECK(bytes == nbytes(), ErrorKind::Value, "Buffer.copy_in", str(), " holds ", nbytes(),
           " bytes but the copy is ", bytes, " bytes");
  void* p = ensure_allocated();
  if (bytes) device_->allocator().copy_in(p, host_src, bytes);
}

void Buffer::copy_out(void* host_dst, size_t bytes) {
  FG_CHECK(bytes == nbytes(), ErrorKind::Value, "Buffer.copy_out", str(), " holds ", nbytes(),
           " bytes but the copy is ", bytes, " bytes");
  if (bytes == 0) return;
  void* p = ptr();
  FG_CHECK(p, ErrorKind::Runtime, "Buffer.copy_out", str(), " was never allocated or written");
  device_->allocator().copy_out(host_dst, p, bytes);
}

std::string Buffer::str() const {
  return cat("<Buffer ", device_->name(), " ", dtype_.name(), "[", size_, "]",
             is_view() ? cat(" view at byte ", byte_offset_) : std::string(), ">");
}

}  // namespace fg
