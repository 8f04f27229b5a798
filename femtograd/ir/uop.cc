// Interning: a sharded open-addressing table of weak node pointers.
// A lookup that finds a node whose count already fell to zero (it is being freed by another
// thread) never revives it: it puts a fresh node in that slot instead, and the dying node, no longer
// in the table, is freed by its releasing thread. Freeing a graph runs an explicit worklist, so a
// long chain of nodes cannot overflow the stack.
#include "femtograd/ir/uop.h"

#include <mutex>
#include <new>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"

namespace fg {
namespace {
std::atomic<size_t> g_live{0}, g_created{0};

uint64_t node_hash(Op op, const DType& dt, std::span<const UOpRef> src, const Arg& arg) {
  uint64_t h = hash_combine(hash_mix(static_cast<uint64_t>(op) + 0x51), dt.hash());
  h = hash_combine(h, arg.hash());
  for (const UOpRef& s : src) h = hash_combine(h, s->hash());
  return h;
}
}  // namespace

struct InternTable {
  static constexpr int kShardBits = 6;
  struct Shard {
    std::mutex mu;
    std::vector<UOp*> slots = std::vector<UOp*>(64, nullptr);
    size_t count = 0;
  };
  Shard shards[1 << kShardBits];

  static InternTable& get() {
    static InternTable* t = new InternTable();  // never destroyed: nodes may outlive statics
    return *t;
  }
  Shard& shard_of(uint64_t h) { return shards[h >> (64 - kShardBits)]; }

  static bool same(const UOp* n, Op op, const DType& dt, std::span<const UOpRef> src, const Arg& arg) {
    if (n->op != op || !(n->dtype == dt) || n->nsrc_ != src.size()) return false;
    for (size_t i = 0; i < src.size(); i++)
      if (n->srcs_[i].get() != src[i].get()) return false;
    return n->arg == arg;
  }

  static UOp* create(Op op, const DType& dt, std::span<const UOpRef> src, Arg arg, uint64_t h) {
    void* mem = ::operator new(sizeof(UOp) + src.size() * sizeof(UOpRef));
    UOp* n;
    try {
      n = new (mem) UOp(op, dt, std::move(arg), src, h);
    } catch (...) {
      ::operator delete(mem);
      throw;
    }
    g_live.fetch_add(1, std::memory_order_relaxed);
    g_created.fetch_add(1, std::memory_order_relaxed);
    return n;
  }

  static void grow(Shard& s) {
    std::vector<UOp*> old(s.slots.size() * 2, nullptr);
    old.swap(s.slots);
    size_t mask = s.slots.size() - 1;
    for (UOp* n : old)
      if (n) {
        size_t i = n->hash_ & mask;
        while (s.slots[i]) i = (i + 1) & mask;
        s.slots[i] = n;
      }
  }

  UOpRef intern(Op op, const DType& dt, std::span<const UOpRef> src, Arg&& arg) {
    uint64_t h = node_hash(op, dt, src, arg);
    Shard& s = shard_of(h);
    std::lock_guard lock(s.mu);
    size_t mask = s.slots.size() - 1, i = h & mask;
    for (; s.slots[i]; i = (i + 1) & mask) {
      UOp* n = s.slots[i];
      if (n->hash_ != h || !same(n, op, dt, src, arg)) continue;
      uint32_t c = n->refs_.load(std::memory_order_relaxed);
      while (c != 0)
        if (n->refs_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) {
          UOpRef r;
          r.p_ = n;
          return r;
        }
      // n is dying: a fresh node takes its slot
      UOp* fresh = create(op, dt, src, std::move(arg), h);
      fresh->refs_.store(1, std::memory_order_relaxed);
      s.slots[i] = fresh;
      UOpRef r;
      r.p_ = fresh;
      return r;
    }
    UOp* fresh = create(op, dt, src, std::move(arg), h);
    fresh->refs_.store(1, std::memory_order_relaxed);
    s.slots[i] = fresh;
    if (++s.count * 2 > s.slots.size()) grow(s);
    UOpRef r;
    r.p_ = fresh;
    return r;
  }

  // Removes n if the table still points at it (backward-shift deletion keeps probes unbroken).
  void unlink(UOp* n) {
    Shard& s = shard_of(n->hash_);
    std::lock_guard lock(s.mu);
    size_t mask = s.slots.size() - 1, i = n->hash_ & mask;
    for (; s.slots[i]; i = (i + 1) & mask)
      if (s.slots[i] == n) break;
    if (!s.slots[i]) return;
    s.slots[i] = nullptr;
    s.count--;
    for (size_t j = (i + 1) & mask; s.slots[j]; j = (j + 1) & mask) {
      size_t home = s.slots[j]->hash_ & mask;
      // move slots[j] into the hole if its home is not in (i, j]
      bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!between) {
        s.slots[i] = s.slots[j];
        s.slots[j] = nullptr;
        i = j;
      }
    }
  }
};

UOp::UOp(Op op_, DType dtype_, Arg arg_, std::span<const UOpRef> src, uint64_t h)
    : op(op_), dtype(dtype_), arg(std::move(arg_)), nsrc_(static_cast<uint32_t>(src.size())), hash_(h) {
  srcs_ = reinterpret_cast<UOpRef*>(this + 1);
  for (size_t i = 0; i < src.size(); i++) new (&srcs_[i]) UOpRef(src[i]);
  try {
    compute_bounds(op, dtype, src, arg, &vmin_, &vmax_);
  } catch (...) {  // the sources' references were taken: give them back before unwinding
    for (size_t i = 0; i < src.size(); i++) srcs_[i].~UOpRef();
    throw;
  }
}

UOp::~UOp() {
  for (size_t i = 0; i < nsrc_; i++) srcs_[i].~UOpRef();
}

void UOp::release(UOp* p) {
  // Runs when p's count reached zero. Sources released while freeing p are queued, not recursed.
  // never destroyed: nodes held by static objects are released after thread_locals die at exit
  thread_local std::vector<UOp*>* pending = new std::vector<UOp*>();
  thread_local bool draining = false;
  InternTable::get().unlink(p);
  pending->push_back(p);
  if (draining) return;
  draining = true;
  while (!pending->empty()) {
    UOp* n = pending->back();
    pending->pop_back();
    n->~UOp();
    ::operator delete(n);
    g_live.fetch_sub(1, std::memory_order_relaxed);
  }
  draining = false;
}

namespace {
std::mutex& attach_lock(const UOp* n) {
  static std::mutex stripes[64];
  return stripes[hash_mix(reinterpret_cast<uintptr_t>(n)) & 63];
}
}  // namespace

UOpRef UOp::realized() const {
  std::lock_guard lock(attach_lock(this));
  return realized_;
}
void UOp::set_realized(const UOpRef& buffer) const {
  std::lock_guard lock(attach_lock(this));
  realized_ = buffer;
}
std::shared_ptr<void> UOp::payload() const {
  std::lock_guard lock(attach_lock(this));
  return payload_;
}
void UOp::set_payload(std::shared_ptr<void> p) const {
  std::lock_guard lock(attach_lock(this));
  payload_ = std::move(p);
}

size_t UOp::live_count() { return g_live.load(); }
size_t UOp::created_count() { return g_created.load(); }

bool UOp::has_bounds() const {
  return !dtype.is_ptr() && (dtype.is_int() || dtype.is_bool());
}

UOpRef UOp::make(Op op, DType dtype, std::span<const UOpRef> src, Arg arg) {
  for (const UOpRef& s : src)
    FG_CHECK(s, ErrorKind::Internal, "UOp", "null source building ", op_name(op));
  return InternTable::get().intern(op, dtype, src, std::move(arg));
}

}  // namespace fg
