// PtrMap: an open-addressing hash map keyed by pointer, for memo tables on interned nodes
// (pointer equality is structural equality there). No deletion; cleared as a whole.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "femtograd/base/hash.h"

namespace fg {

template <class V>
class PtrMap {
 public:
  explicit PtrMap(size_t expected = 16) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    keys_.assign(cap, nullptr);
    vals_.resize(cap);
  }
  V* find(const void* k) {
    size_t mask = keys_.size() - 1;
    for (size_t i = slot(k) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == k) return &vals_[i];
      if (!keys_[i]) return nullptr;
    }
  }
  bool contains(const void* k) { return find(k) != nullptr; }
  // inserts or overwrites
  V& put(const void* k, V v) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t mask = keys_.size() - 1, i = slot(k) & mask;
    for (; keys_[i] && keys_[i] != k; i = (i + 1) & mask) {}
    if (!keys_[i]) { keys_[i] = k; size_++; }
    vals_[i] = std::move(v);
    return vals_[i];
  }
  size_t size() const { return size_; }

 private:
  static size_t slot(const void* k) { return hash_mix(reinterpret_cast<uintptr_t>(k)); }
  void grow() {
    std::vector<const void*> ok(keys_.size() * 2, nullptr);
    std::vector<V> ov(keys_.size() * 2);
    ok.swap(keys_);
    ov.swap(vals_);
    size_ = 0;
    for (size_t i = 0; i < ok.size(); i++)
      if (ok[i]) put(ok[i], std::move(ov[i]));
  }
  std::vector<const void*> keys_;
  std::vector<V> vals_;
  size_t size_ = 0;
};

}  // namespace fg
