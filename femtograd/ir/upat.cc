#include "femtograd/ir/upat.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include "femtograd/base/error.h"

namespace fg {
namespace {
struct SlotRegistry {
  std::mutex mu;
  std::unordered_map<std::string, int> ids;
  std::vector<std::string> names;
};
SlotRegistry& registry() {
  static SlotRegistry* r = new SlotRegistry();
  return *r;
}
}  // namespace

int capture_slot(std::string_view name) {
  SlotRegistry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.ids.find(std::string(name));
  if (it != r.ids.end()) return it->second;
  int id = static_cast<int>(r.names.size());
  FG_CHECK(id < kMaxCaptureSlots, ErrorKind::Internal, "UPat", "more than ", kMaxCaptureSlots,
           " distinct capture names (adding '", name, "')");
  r.ids.emplace(std::string(name), id);
  r.names.emplace_back(name);
  return id;
}

std::string_view capture_name(int slot) {
  SlotRegistry& r = registry();
  std::lock_guard lock(r.mu);
  return r.names.at(slot);
}

const UOp* Match::get(const UPat& p) const {
  int s = p.slot();
  FG_ASSERT(s >= 0, "Match::get on a pattern without a name");
  FG_ASSERT(has(s), "capture '", capture_name(s), "' was not bound by this match");
  return slots_[s];
}

UPat UPat::alu(Op op, const UPat& b) const {
  return UPat(op, {*this, b}, is_commutative(op) ? Srcs::Commutative : Srcs::Exact);
}
UPat UPat::alu(Op op) const { return UPat(op, {*this}); }

OpSet UPat::required_src_ops() const {
  OpSet req;
  const Node& nd = node();
  if (nd.mode == Srcs::Ignore || nd.mode == Srcs::Repeat) return req;
  for (const UPat& s : nd.src)
    if (s.node().ops.count() == 1) req = req | s.node().ops;
  return req;
}

UPat operator+(const UPat& a, const UPat& b) { return a.alu(Op::ADD, b); }
UPat operator*(const UPat& a, const UPat& b) { return a.alu(Op::MUL, b); }
UPat operator-(const UPat& a) { return a * UPat::cnst(-1); }
UPat operator-(const UPat& a, const UPat& b) { return a + (-b); }
UPat operator%(const UPat& a, const UPat& b) { return a.alu(Op::MOD, b); }
UPat operator&(const UPat& a, const UPat& b) { return a.alu(Op::AND, b); }
UPat operator|(const UPat& a, const UPat& b) { return a.alu(Op::OR, b); }
UPat operator^(const UPat& a, const UPat& b) { return a.alu(Op::XOR, b); }
UPat idiv(const UPat& a, const UPat& b) { return a.alu(Op::IDIV, b); }
UPat fdiv(const UPat& a, const UPat& b) { return a.alu(Op::FDIV, b); }

namespace {
bool dtype_ok(DTypeClass c, const DType& dt) {
  switch (c) {
    case DTypeClass::Any: return true;
    case DTypeClass::Int: return dt.is_int();
    case DTypeClass::Float: return dt.is_float();
    case DTypeClass::Bool: return dt.is_bool();
    case DTypeClass::IntOrBool: return dt.is_int() || dt.is_bool();
    case DTypeClass::NotPtr: return !dt.is_ptr();
  }
  return false;
}
}  // namespace

bool match(const UPat& p, const UOp* n, Match& m) {
  const UPat::Node& nd = p.node();
  if (!nd.ops.empty() && !nd.ops.has(n->op)) return false;
  if (nd.dclass != DTypeClass::Any && !dtype_ok(nd.dclass, n->dtype)) return false;
  if (nd.dtype && !(*nd.dtype == n->dtype)) return false;
  if (nd.const_value && !(n->arg.is_number() && n->arg.to_double() == *nd.const_value)) return false;
  if (nd.arg && !(*nd.arg == n->arg)) return false;
  if (nd.pred && !nd.pred(*n)) return false;
  size_t mark = m.mark();
  if (nd.slot >= 0 && !m.bind(nd.slot, n)) return false;
  auto fail = [&] { m.undo(mark); return false; };
  auto srcs = n->src();
  switch (nd.mode) {
    case UPat::Srcs::Ignore: return true;
    case UPat::Srcs::Exact:
    case UPat::Srcs::Prefix:
      if (nd.mode == UPat::Srcs::Exact ? srcs.size() != nd.src.size() : srcs.size() < nd.src.size())
        return fail();
      for (size_t i = 0; i < nd.src.size(); i++)
        if (!match(nd.src[i], srcs[i].get(), m)) return fail();
      return true;
    case UPat::Srcs::Commutative: {
      if (srcs.size() != 2) return fail();
      size_t inner = m.mark();
      if (match(nd.src[0], srcs[0].get(), m) && match(nd.src[1], srcs[1].get(), m)) return true;
      m.undo(inner);
      if (match(nd.src[0], srcs[1].get(), m) && match(nd.src[1], srcs[0].get(), m)) return true;
      return fail();
    }
    case UPat::Srcs::Repeat:
      if (srcs.empty()) return fail();
      for (const UOpRef& s : srcs)
        if (!match(nd.src[0], s.get(), m)) return fail();
      return true;
  }
  return fail();
}

}  // namespace fg
