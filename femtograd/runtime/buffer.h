// Buffer: a typed array in one device's memory. Guarantees: memory is allocated lazily (on
// ensure_allocated or the first copy_in) from the device's caching allocator and returned to it
// when the last shared_ptr to the Buffer dies; a view shares its base's memory at an offset and
// keeps the base alive; copies check the byte count against the buffer's size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "femtograd/base/dtype.h"
#include "femtograd/runtime/device.h"

namespace fg {

class Buffer {
  struct Private {};

 public:
  // a buffer of `size` elements of `dtype` on `dev`; no memory is taken yet
  static std::shared_ptr<Buffer> create(Device& dev, DType dtype, int64_t size);
  // `size` elements of `dtype` starting `offset` elements (of `dtype`) into base's memory;
  // a view of a view is a view of the root base. Throws Error(Value) when it does not fit.
  static std::shared_ptr<Buffer> view(const std::shared_ptr<Buffer>& base, DType dtype,
                                      int64_t size, int64_t offset);

  Buffer(Private, Device& dev, DType dtype, int64_t size, std::shared_ptr<Buffer> base,
         size_t byte_offset);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  Device& device() const { return *device_; }
  DType dtype() const { return dtype_; }
  int64_t size() const { return size_; }  // elements
  size_t nbytes() const { return static_cast<size_t>(size_) * dtype_.itemsize(); }
  bool is_view() const { return base_ != nullptr; }
  const std::shared_ptr<Buffer>& base() const { return base_; }  // null unless a view
  size_t byte_offset() const { return byte_offset_; }            // into the base; 0 unless a view

  bool is_allocated() const;
  void* ensure_allocated();  // the device pointer (a view allocates its base)
  void* ptr() const;         // the device pointer, or null before allocation

  // host <-> device copies of exactly nbytes() bytes; throw Error(Value) on any other count
  void copy_in(const void* host_src, size_t bytes);
  void copy_out(void* host_dst, size_t bytes);  // throws Error(Runtime) if never allocated

  std::string str() const;  // "<Buffer CPU float32[16]>" for messages

 private:
  Device* device_;
  DType dtype_;
  int64_t size_;
  std::shared_ptr<Buffer> base_;
  size_t byte_offset_ = 0;
  mutable std::mutex mu_;  // guards lazy allocation of ptr_
  void* ptr_ = nullptr;    // owned memory (base buffers only)
};

}  // namespace fg
