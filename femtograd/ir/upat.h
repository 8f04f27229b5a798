// UPat: a pattern over UOps (op or op set, dtype, named captures, sources, arg), built with
// operators so rules read like the math they encode: `x * 1`, `idiv(x, c) * c + x % c`.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "femtograd/ir/uop.h"

namespace fg {

inline constexpr int kMaxCaptureSlots = 256;
// The capture slot of a name; names are shared by every pattern in the process.
int capture_slot(std::string_view name);
std::string_view capture_name(int slot);

enum class DTypeClass : uint8_t { Any, Int, Float, Bool, IntOrBool, NotPtr };

class UPat {
 public:
  enum class Srcs : uint8_t {
    Ignore,       // sources are not looked at
    Exact,        // the same number of sources, each matching in order
    Commutative,  // two sources, in either order
    Prefix,       // at least these sources, in order; more may follow
    Repeat,       // any number of sources (at least one), each matching the one pattern given
  };
  struct Node {
    OpSet ops;  // empty: any op
    DTypeClass dclass = DTypeClass::Any;
    std::optional<DType> dtype;
    std::vector<UPat> src;
    Srcs mode = Srcs::Ignore;
    std::optional<Arg> arg;
    std::optional<double> const_value;  // CONST whose value equals this number, any dtype
    int slot = -1;
    std::function<bool(const UOp&)> pred;
  };

  UPat() : n_(std::make_shared<Node>()) {}
  UPat(Op op) : UPat() { mut().ops = OpSet(op); }
  UPat(OpSet ops) : UPat() { mut().ops = ops; }
  UPat(Op op, std::vector<UPat> src, Srcs mode = Srcs::Exact) : UPat(op) { set_src(std::move(src), mode); }
  UPat(OpSet ops, std::vector<UPat> src, Srcs mode = Srcs::Exact) : UPat(ops) { set_src(std::move(src), mode); }
  // a plain number is a constant of that value (of any dtype)
  UPat(int v) : UPat(cnst(v)) {}
  UPat(double v) : UPat(cnst(v)) {}

  static UPat var(std::string_view name) { return UPat().named(name); }
  static UPat cvar(std::string_view name) { return UPat(Op::CONST).named(name); }
  static UPat cnst(double v) {
    UPat p(Op::CONST);
    p.mut().const_value = v;
    return p;
  }
  static UPat any() { return UPat(); }

  // builder methods return a modified copy
  UPat named(std::string_view name) const { UPat p = copy(); p.mut().slot = capture_slot(name); return p; }
  UPat with_dtype(DType dt) const { UPat p = copy(); p.mut().dtype = dt; return p; }
  UPat of(DTypeClass c) const { UPat p = copy(); p.mut().dclass = c; return p; }
  UPat with_arg(Arg a) const { UPat p = copy(); p.mut().arg = std::move(a); return p; }
  UPat with_src(std::vector<UPat> src, Srcs mode = Srcs::Exact) const {
    UPat p = copy(); p.set_src(std::move(src), mode); return p;
  }
  UPat where_pred(std::function<bool(const UOp&)> f) const { UPat p = copy(); p.mut().pred = std::move(f); return p; }

  // ALU patterns; commutative ops match their sources in either order
  UPat alu(Op op, const UPat& b) const;
  UPat alu(Op op) const;
  UPat lt(const UPat& b) const { return alu(Op::CMPLT, b); }
  UPat ne(const UPat& b) const { return alu(Op::CMPNE, b); }
  UPat eq(const UPat& b) const { return alu(Op::CMPEQ, b); }
  UPat maximum(const UPat& b) const { return alu(Op::MAX, b); }
  UPat cast() const { return UPat(Op::CAST, {*this}); }
  static UPat where(const UPat& c, const UPat& a, const UPat& b) { return UPat(Op::WHERE, {c, a, b}); }

  const Node& node() const { return *n_; }
  int slot() const { return n_->slot; }
  // ops the matched node's direct sources must include (for the matcher's early reject)
  OpSet required_src_ops() const;

 private:
  UPat copy() const { UPat p; p.n_ = std::make_shared<Node>(*n_); return p; }
  Node& mut() { return *n_; }
  void set_src(std::vector<UPat> src, Srcs mode) { mut().src = std::move(src); mut().mode = mode; }
  std::shared_ptr<Node> n_;
};

UPat operator+(const UPat& a, const UPat& b);
UPat operator*(const UPat& a, const UPat& b);
UPat operator-(const UPat& a, const UPat& b);  // a + b*-1
UPat operator-(const UPat& a);                 // a * -1
UPat operator%(const UPat& a, const UPat& b);
UPat operator&(const UPat& a, const UPat& b);
UPat operator|(const UPat& a, const UPat& b);
UPat operator^(const UPat& a, const UPat& b);
UPat idiv(const UPat& a, const UPat& b);
UPat fdiv(const UPat& a, const UPat& b);

// The captures of one successful match. m[x] is the node that pattern x (a named pattern) matched.
class Match {
 public:
  const UOp* root = nullptr;
  UOpRef operator[](const UPat& p) const { return UOpRef::share(get(p)); }
  const UOp* get(const UPat& p) const;
  const UOp* get_slot(int slot) const { return has(slot) ? slots_[slot] : nullptr; }
  bool has(int slot) const { return (set_[slot >> 6] >> (slot & 63)) & 1; }

  // used by the matcher
  size_t mark() const { return nset_; }
  void undo(size_t mark) {
    while (nset_ > mark) {
      int s = order_[--nset_];
      set_[s >> 6] &= ~(1ULL << (s & 63));
    }
  }
  bool bind(int slot, const UOp* n) {
    if (has(slot)) return slots_[slot] == n;
    slots_[slot] = n;
    set_[slot >> 6] |= 1ULL << (slot & 63);
    order_[nset_++] = static_cast<uint16_t>(slot);
    return true;
  }

 private:
  const UOp* slots_[kMaxCaptureSlots];
  uint64_t set_[kMaxCaptureSlots / 64] = {};
  uint16_t order_[kMaxCaptureSlots];
  size_t nset_ = 0;
};

// Tries p on n, binding captures into m; on failure m is left as it was.
bool match(const UPat& p, const UOp* n, Match& m);

}  // namespace fg
