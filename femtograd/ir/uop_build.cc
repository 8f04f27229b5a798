// Constructors for common nodes and the ALU operators on UOpRef.
#include <cmath>
#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/ir/uop.h"

namespace fg {

UOpRef UOp::cnst(DType dtype, double v) {
  if (dtype.count > 1) {
    UOpRef s = cnst(dtype.scalar_type(), v);
    std::vector<UOpRef> lanes(dtype.count, s);
    return make(Op::VECTORIZE, dtype, lanes);
  }
  if (dtype.is_bool()) return make(Op::CONST, dtype, {}, Arg(v != 0.0));
  if (dtype.is_int()) {
    FG_CHECK(std::isfinite(v), ErrorKind::Value, "const", "cannot make a ", dtype.name(), " constant of ", v);
    if (dtype.scalar == ScalarType::UInt64 && v >= 9223372036854775808.0)
      return make(Op::CONST, dtype, {}, Arg(static_cast<uint64_t>(v)));
    return make(Op::CONST, dtype, {}, Arg(static_cast<int64_t>(v)));
  }
  return make(Op::CONST, dtype, {}, Arg(v));
}

UOpRef UOp::cnst_int(DType dtype, int64_t v) {
  if (dtype.count > 1 || dtype.is_float()) return cnst(dtype, static_cast<double>(v));
  if (dtype.is_bool()) return make(Op::CONST, dtype, {}, Arg(v != 0));
  return make(Op::CONST, dtype, {}, Arg(v));
}

UOpRef UOp::var(const std::string& name, int64_t min, int64_t max, DType dt) {
  FG_CHECK(min <= max, ErrorKind::Value, "var", "variable ", name, " has min ", min, " > max ", max);
  return make(Op::DEFINE_VAR, dt, {}, Arg(VarArg{name, min, max}));
}

UOpRef UOp::range(const UOpRef& end, int64_t axis_id, int64_t axis_type) {
  return make(Op::RANGE, end->dtype, {end}, Arg({axis_id, axis_type}));
}

UOpRef UOp::alu(Op o, const UOpRef& b) const {
  FG_ASSERT(is_binary(o), "alu with two operands needs a binary op, got ", op_name(o));
  FG_ASSERT(dtype == b->dtype, op_name(o), " of ", dtype.name(), " and ", b->dtype.name());
  DType out = is_comparison(o) ? dtypes::bool_.vec(dtype.count) : dtype;
  UOpRef self = ref();
  return make(o, out, {self, b});
}

UOpRef UOp::alu(Op o) const {
  FG_ASSERT(is_unary(o), "alu with one operand needs a unary op, got ", op_name(o));
  return make(o, dtype, {ref()});
}

UOpRef UOp::where(const UOpRef& a, const UOpRef& b) const {
  FG_ASSERT(dtype.scalar == ScalarType::Bool, "where condition must be bool, got ", dtype.name());
  FG_ASSERT(a->dtype == b->dtype, "where branches differ: ", a->dtype.name(), " and ", b->dtype.name());
  return make(Op::WHERE, a->dtype, {ref(), a, b});
}

UOpRef UOp::cast(DType dt) const {
  if (dt == dtype) return ref();
  return make(Op::CAST, dt, {ref()});
}

UOpRef UOp::bitcast(DType dt) const {
  FG_CHECK(dt.itemsize() == dtype.itemsize(), ErrorKind::Type, "bitcast", "cannot bitcast ",
           dtype.name(), " to ", dt.name(), ": sizes differ");
  if (dt == dtype) return ref();
  return make(Op::BITCAST, dt, {ref()});
}

UOpRef operator+(const UOpRef& a, const UOpRef& b) { return a->alu(Op::ADD, b); }
UOpRef operator*(const UOpRef& a, const UOpRef& b) { return a->alu(Op::MUL, b); }
UOpRef operator-(const UOpRef& a) { return a * a->const_like_int(-1); }
UOpRef operator-(const UOpRef& a, const UOpRef& b) { return a + (-b); }
UOpRef operator%(const UOpRef& a, const UOpRef& b) { return a->alu(Op::MOD, b); }
UOpRef idiv(const UOpRef& a, const UOpRef& b) { return a->alu(Op::IDIV, b); }
UOpRef operator+(const UOpRef& a, int64_t b) { return a + a->const_like_int(b); }
UOpRef operator*(const UOpRef& a, int64_t b) { return a * a->const_like_int(b); }
UOpRef operator-(const UOpRef& a, int64_t b) { return a + a->const_like_int(-b); }
UOpRef operator%(const UOpRef& a, int64_t b) { return a % a->const_like_int(b); }
UOpRef idiv(const UOpRef& a, int64_t b) { return idiv(a, a->const_like_int(b)); }
UOpRef operator&(const UOpRef& a, const UOpRef& b) { return a->alu(Op::AND, b); }
UOpRef operator|(const UOpRef& a, const UOpRef& b) { return a->alu(Op::OR, b); }
UOpRef operator^(const UOpRef& a, const UOpRef& b) { return a->alu(Op::XOR, b); }

namespace {
// The visited set of toposort, one per thread and reused: clearing it is a generation bump, so a
// walk of n nodes costs O(n) with no allocation once the table has grown to the graphs in use.
class VisitSet {
 public:
  void begin() {
    // a table left large by one huge graph goes back to a small one when walks are small again
    if (slots_.size() > 65536 && last_size_ * 16 < slots_.size()) slots_.clear();
    if (slots_.empty()) slots_.assign(256, Slot{});
    if (++gen_ == 0) {  // the generation wrapped: old stamps could read as current
      for (Slot& s : slots_) s.gen = 0;
      gen_ = 1;
    }
    last_size_ = size_;
    size_ = 0;
  }
  // true when k was not in the set (it is now)
  bool insert(const void* k) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_mix(reinterpret_cast<uintptr_t>(k)) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.gen != gen_) {
        s = {k, gen_};
        size_++;
        return true;
      }
      if (s.key == k) return false;
    }
  }

 private:
  struct Slot {
    const void* key = nullptr;
    uint32_t gen = 0;
  };
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.gen != gen_) continue;
      size_t i = hash_mix(reinterpret_cast<uintptr_t>(s.key)) & mask;
      while (slots_[i].gen == gen_) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  uint32_t gen_ = 0;
  size_t size_ = 0, last_size_ = 0;
};
thread_local VisitSet t_visited;
}  // namespace

std::vector<const UOp*> UOp::toposort() const {
  // depth-first, sources in order, each node emitted after its sources
  struct Frame {
    const UOp* n;
    size_t next;  // the next source to look at
  };
  VisitSet& seen = t_visited;
  seen.begin();
  std::vector<const UOp*> order;
  std::vector<Frame> stack;
  stack.reserve(32);
  seen.insert(this);
  stack.push_back({this, 0});
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next < f.n->nsrc()) {
      const UOp* s = f.n->src(f.next++).get();
      if (seen.insert(s)) stack.push_back({s, 0});
      continue;
    }
    order.push_back(f.n);
    stack.pop_back();
  }
  return order;
}

int64_t UOp::tree_size() const {
  std::unordered_map<const UOp*, int64_t> size;
  for (const UOp* n : toposort()) {
    int64_t s = 1;
    for (const UOpRef& c : n->src()) s += size[c.get()];
    size[n] = s;
  }
  return size[this];
}

}  // namespace fg
