// UOp: the one node type of the IR, an immutable (op, dtype, src[], arg) tuple.
// Guarantees: nodes are hash-consed (building the same node twice gives the same pointer, from any
// thread), reference counted through UOpRef, and held weakly by the intern table, so a graph is
// freed when its last UOpRef goes. Integer and bool nodes carry [vmin, vmax] bounds computed when
// they are built (ir/bounds.cc).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "femtograd/base/dtype.h"
#include "femtograd/ir/arg.h"
#include "femtograd/ir/ops.h"

namespace fg {

class UOp;

// Owning pointer to a UOp (intrusive reference count). Equality is pointer equality, which is
// structural equality because nodes are interned.
class UOpRef {
 public:
  UOpRef() = default;
  UOpRef(std::nullptr_t) {}
  UOpRef(const UOpRef& o) : p_(o.p_) { inc(); }
  UOpRef(UOpRef&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  UOpRef& operator=(const UOpRef& o) {
    if (p_ != o.p_) { UOpRef tmp(o); std::swap(p_, tmp.p_); }
    return *this;
  }
  UOpRef& operator=(UOpRef&& o) noexcept {
    if (this != &o) { dec(); p_ = o.p_; o.p_ = nullptr; }
    return *this;
  }
  ~UOpRef() { dec(); }

  // Takes a new reference to a live node.
  static UOpRef share(const UOp* p) { UOpRef r; r.p_ = const_cast<UOp*>(p); r.inc(); return r; }

  UOp* get() const { return p_; }
  const UOp* operator->() const { return p_; }
  const UOp& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  friend bool operator==(const UOpRef& a, const UOpRef& b) { return a.p_ == b.p_; }
  friend bool operator==(const UOpRef& a, const UOp* b) { return a.p_ == b; }

 private:
  friend class UOp;
  friend struct InternTable;
  inline void inc() const;
  inline void dec();
  UOp* p_ = nullptr;
};

class UOp {
 public:
  const Op op;
  const DType dtype;
  const Arg arg;

  std::span<const UOpRef> src() const { return {srcs_, nsrc_}; }
  const UOpRef& src(size_t i) const { return srcs_[i]; }
  size_t nsrc() const { return nsrc_; }
  uint64_t hash() const { return hash_; }
  // value bounds; meaningful when has_bounds() (integer, index and bool dtypes)
  int64_t vmin() const { return vmin_; }
  int64_t vmax() const { return vmax_; }
  bool has_bounds() const;

  UOpRef ref() const { return UOpRef::share(this); }

  // ---- results of earlier realizes (set by the engine; nodes are otherwise immutable)
  // the BUFFER node this node's value was stored in, or null
  UOpRef realized() const;
  void set_realized(const UOpRef& buffer) const;
  // the runtime object behind a BUFFER node (opaque here: the engine's device buffer)
  std::shared_ptr<void> payload() const;
  void set_payload(std::shared_ptr<void> p) const;

  // ---- building
  static UOpRef make(Op op, DType dtype, std::span<const UOpRef> src = {}, Arg arg = {});
  static UOpRef make(Op op, DType dtype, std::initializer_list<UOpRef> src, Arg arg = {}) {
    return make(op, dtype, std::span<const UOpRef>(src.begin(), src.size()), std::move(arg));
  }
  // a CONST of dtype holding v, converted to the dtype's kind (bool, int or float); vector dtypes
  // give a VECTORIZE of the scalar constant
  static UOpRef cnst(DType dtype, double v);
  static UOpRef cnst_int(DType dtype, int64_t v);
  static UOpRef cnst_bool(bool v) { return make(Op::CONST, dtypes::bool_, {}, Arg(v)); }
  static UOpRef var(const std::string& name, int64_t min, int64_t max, DType dt = dtypes::index);
  static UOpRef range(const UOpRef& end, int64_t axis_id, int64_t axis_type = 0);

  UOpRef const_like(double v) const { return cnst(dtype, v); }
  UOpRef const_like_int(int64_t v) const { return cnst_int(dtype, v); }
  UOpRef replace_src(std::span<const UOpRef> new_src) const { return make(op, dtype, new_src, arg); }
  UOpRef with_dtype(DType dt) const { return make(op, dt, src(), arg); }
  UOpRef with_arg(Arg a) const { return make(op, dtype, src(), std::move(a)); }

  // ALU nodes; the result dtype follows the op (comparisons give bool)
  UOpRef alu(Op op, const UOpRef& b) const;
  UOpRef alu(Op op) const;
  UOpRef where(const UOpRef& a, const UOpRef& b) const;  // this is the condition
  UOpRef cast(DType dt) const;
  UOpRef bitcast(DType dt) const;
  UOpRef lt(const UOpRef& b) const { return alu(Op::CMPLT, b); }
  UOpRef ne(const UOpRef& b) const { return alu(Op::CMPNE, b); }
  UOpRef eq(const UOpRef& b) const { return alu(Op::CMPEQ, b); }
  UOpRef lt(int64_t b) const { return lt(const_like_int(b)); }
  UOpRef ne(int64_t b) const { return ne(const_like_int(b)); }
  UOpRef eq(int64_t b) const { return eq(const_like_int(b)); }
  UOpRef maximum(const UOpRef& b) const { return alu(Op::MAX, b); }
  UOpRef logical_not() const { return ne(cnst_bool(true)); }

  // ---- queries
  bool is_const() const { return op == Op::CONST; }
  bool is_const(double v) const { return op == Op::CONST && arg.is_number() && arg.to_double() == v; }
  // all nodes reachable from this one, sources before users (no recursion)
  std::vector<const UOp*> toposort() const;
  // number of nodes of the expression as a tree (shared subtrees counted at each use)
  int64_t tree_size() const;
  // one line: "ADD int32 (x, 3)"; str() prints the whole graph, one numbered node per line
  std::string line() const;
  std::string str() const;
  // the expression as C-like text: "((x*4)+(y//2))"
  std::string expr() const;

  // live nodes in the process (for tests of garbage collection)
  static size_t live_count();
  // nodes ever built (interning misses), for benchmarks
  static size_t created_count();

 private:
  friend class UOpRef;
  friend struct InternTable;
  UOp(Op op, DType dtype, Arg arg, std::span<const UOpRef> src, uint64_t h);
  ~UOp();
  static void release(UOp* p);

  mutable std::atomic<uint32_t> refs_{0};
  uint32_t nsrc_;
  uint64_t hash_;
  int64_t vmin_ = 0, vmax_ = 0;
  UOpRef* srcs_;  // points into the same allocation, right after the node
  mutable UOpRef realized_;              // guarded by a striped lock (uop.cc)
  mutable std::shared_ptr<void> payload_;
};

inline void UOpRef::inc() const {
  if (p_) p_->refs_.fetch_add(1, std::memory_order_relaxed);
}
inline void UOpRef::dec() {
  if (p_) {
    if (p_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) UOp::release(p_);
    p_ = nullptr;
  }
}

// Operators build ALU nodes; a plain number becomes a constant of the other side's dtype.
// There is no SUB or NEG op: a-b is a+b*-1, so one canonical form serves every rule.
UOpRef operator+(const UOpRef& a, const UOpRef& b);
UOpRef operator*(const UOpRef& a, const UOpRef& b);
UOpRef operator-(const UOpRef& a, const UOpRef& b);
UOpRef operator-(const UOpRef& a);
UOpRef operator%(const UOpRef& a, const UOpRef& b);
UOpRef idiv(const UOpRef& a, const UOpRef& b);
UOpRef operator+(const UOpRef& a, int64_t b);
UOpRef operator*(const UOpRef& a, int64_t b);
UOpRef operator-(const UOpRef& a, int64_t b);
UOpRef operator%(const UOpRef& a, int64_t b);
UOpRef idiv(const UOpRef& a, int64_t b);
UOpRef operator&(const UOpRef& a, const UOpRef& b);
UOpRef operator|(const UOpRef& a, const UOpRef& b);
UOpRef operator^(const UOpRef& a, const UOpRef& b);

// bounds of a new node from its op, dtype, sources and arg (ir/bounds.cc)
void compute_bounds(Op op, DType dtype, std::span<const UOpRef> src, const Arg& arg, int64_t* vmin,
                    int64_t* vmax);

}  // namespace fg

template <>
struct std::hash<fg::UOpRef> {
  size_t operator()(const fg::UOpRef& r) const { return std::hash<const void*>()(r.get()); }
};
