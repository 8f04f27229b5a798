#include "femtograd/codegen/linearize.h"

#include <cmath>
#include <algorithm>
#include <limits>

#include "femtograd/base/error.h"
#include "femtograd/base/ptr_map.h"

namespace fg {

UOpRef reduce_identity(Op op, DType dt) {
  switch (op) {
    case Op::ADD: return UOp::cnst(dt, 0);
    case Op::MUL: return UOp::cnst(dt, 1);
    case Op::MAX:
      if (dt.is_float()) return UOp::cnst(dt, -std::numeric_limits<double>::infinity());
      if (dt.is_bool()) return UOp::cnst(dt, 0);
      return UOp::cnst_int(dt, dt.int_min());
    default: fail(ErrorKind::NotImplemented, "reduce", "no identity for ", op_name(op));
  }
}

namespace {

struct Block {
  const UOp* range;  // null for the kernel's top level
  std::vector<UOpRef> lines;
};

struct Linearizer {
  std::vector<Block> blocks;
  PtrMap<int> depth_of;  // emitted node -> block depth where its value lives
  std::vector<UOpRef> keep;
  int64_t next_acc = 0;

  int open_depth(const UOp* range) {
    for (size_t d = blocks.size(); d-- > 1;)
      if (blocks[d].range == range) return static_cast<int>(d);
    fail(ErrorKind::Internal, "linearize", "range ", range->line(), " is used outside its loop");
  }

  void open(const UOpRef& r) {
    blocks.push_back({r.get(), {}});
    depth_of.put(r.get(), static_cast<int>(blocks.size()) - 1);
    keep.push_back(r);
  }
  void close() {
    Block b = std::move(blocks.back());
    blocks.pop_back();
    auto& parent = blocks.back().lines;
    UOpRef r = UOpRef::share(b.range);
    parent.push_back(r);
    for (auto& l : b.lines) parent.push_back(std::move(l));
    parent.push_back(UOp::make(Op::END, dtypes::void_, {r}));
  }

  void place(const UOpRef& n, int d) {
    blocks[d].lines.push_back(n);
    depth_of.put(n.get(), d);
    keep.push_back(n);
  }

  // emits n (and what it needs); returns the node that stands for n's value and its depth
  UOpRef emit(const UOpRef& n) {
    // explicit work stack: (node, sources done?)
    std::vector<std::pair<UOpRef, bool>> stack{{n, false}};
    PtrMap<UOpRef>& rep = replaced;
    while (!stack.empty()) {
      auto [m, ready] = stack.back();
      stack.pop_back();
      if (rep.find(m.get())) continue;
      switch (m->op) {
        case Op::CONST: case Op::VCONST: case Op::DEFINE_GLOBAL: case Op::DEFINE_VAR:
          rep.put(m.get(), m);
          depth_of.put(m.get(), 0);
          keep.push_back(m);
          continue;
        case Op::RANGE:
          open_depth(m.get());  // must be open
          rep.put(m.get(), m);
          keep.push_back(m);
          continue;
        case Op::REDUCE:
          emit_reduce(m);
          continue;
        default: break;
      }
      if (!ready) {
        stack.push_back({m, true});
        for (size_t i = m->nsrc(); i-- > 0;)
          if (!rep.find(m->src(i).get())) stack.push_back({m->src(i), false});
        continue;
      }
      std::vector<UOpRef> srcs;
      int d = 0;
      bool same = true;  // every source stands for itself: m is its own line (no intern lookup)
      for (const UOpRef& s : m->src()) {
        UOpRef r = *rep.find(s.get());
        d = std::max(d, *depth_of.find(r.get()));
        same &= r.get() == s.get();
        srcs.push_back(std::move(r));
      }
      UOpRef built = same ? m : m->replace_src(srcs);
      if (const int* have = depth_of.find(built.get())) d = *have;  // already placed (shared)
      else place(built, d);
      rep.put(m.get(), built);
      keep.push_back(m);
    }
    return *rep.find(n.get());
  }

  // REDUCEs over the same loops (copies made by UPCAST and UNROLL) share one loop nest
  std::vector<std::pair<std::vector<const UOp*>, std::vector<UOpRef>>> groups;
  void group_reduces(const UOpRef& sink) {
    for (const UOp* n : sink->toposort()) {
      if (n->op != Op::REDUCE || n->nsrc() < 2) continue;
      std::vector<const UOp*> key;
      for (size_t i = 1; i < n->nsrc(); i++) key.push_back(n->src(i).get());
      bool found = false;
      for (auto& [k, members] : groups)
        if (k == key) { members.push_back(n->ref()); found = true; break; }
      if (!found) groups.push_back({key, {n->ref()}});
    }
  }

  void emit_reduce(const UOpRef& red) {
    std::vector<UOpRef> members{red};
    for (auto& [k, m] : groups)
      if (std::find(m.begin(), m.end(), red) != m.end()) {
        members.clear();
        for (const UOpRef& x : m)
          if (!replaced.find(x.get())) members.push_back(x);
      }
    int d = static_cast<int>(blocks.size()) - 1;
    std::vector<UOpRef> accs;
    for (const UOpRef& r : members) {
      DType acc_dt = r->src(0)->dtype;  // a vector when the lanes are reduced after the loop
      UOpRef init = emit(reduce_identity(r->arg.as_reduce().op, acc_dt));  // a vector identity is a line
      accs.push_back(UOp::make(Op::DEFINE_REG, acc_dt, {init}, Arg(next_acc++)));
      place(accs.back(), d);
    }
    for (size_t i = 1; i < red->nsrc(); i++) open(red->src(i));
    int inner = static_cast<int>(blocks.size()) - 1;
    for (size_t j = 0; j < members.size(); j++) {
      Op op = members[j]->arg.as_reduce().op;
      UOpRef x = emit(members[j]->src(0));
      UOpRef upd = op == Op::MAX ? accs[j]->maximum(x) : accs[j]->alu(op, x);
      place(upd, inner);  // runs every iteration, even when x does not depend on the loop
      place(UOp::make(Op::STORE, dtypes::void_, {accs[j], upd}), inner);
    }
    for (size_t i = 1; i < red->nsrc(); i++) close();
    for (size_t j = 0; j < members.size(); j++) {
      UOpRef result = accs[j];
      if (!(members[j]->dtype == accs[j]->dtype)) {  // sum the lanes of a vector accumulator
        result = UOp::make(Op::REDUCE, members[j]->dtype, {accs[j]}, members[j]->arg);
        place(result, d);
      }
      replaced.put(members[j].get(), result);
      keep.push_back(members[j]);
    }
  }

  PtrMap<UOpRef> replaced;  // original node -> the node that carries its value
};

}  // namespace

RangeDeps range_deps(const std::vector<const UOp*>& topo) {
  RangeDeps d;
  for (const UOp* n : topo) {
    uint64_t m = 0;
    if (n->op == Op::RANGE) {
      int b = static_cast<int>(d.bit.size());  // topo holds each range once
      if (b >= 64) d.ok = false, b = 63;
      d.bit.put(n, b);
      m = uint64_t(1) << b;  // a range's size is a constant
    } else {
      for (const UOpRef& s : n->src()) m |= *d.mask.find(s.get());
      if (n->op == Op::REDUCE)
        for (size_t i = 1; i < n->nsrc(); i++) m &= ~d.range_bit(n->src(i).get());
    }
    d.mask.put(n, m);
  }
  return d;
}

std::vector<UOpRef> linearize(const UOpRef& sink, const std::vector<UOpRef>& loop_order) {
  Linearizer lz;
  lz.blocks.push_back({nullptr, {}});
  lz.group_reduces(sink);
  // A reduce that does not depend on the inner output loops runs before they open, once per
  // iteration of the loops it does depend on (a softmax row's max and sum, computed once per row
  // in the kernel that normalizes the row): sources first, so a reduce inside another's body is
  // placed before the outer one reads it.
  std::vector<const UOp*> reduces;
  for (const UOp* n : sink->toposort())
    if (n->op == Op::REDUCE && n->nsrc() >= 2) reduces.push_back(n);
  RangeDeps deps = reduces.empty() ? RangeDeps{} : range_deps(sink->toposort());
  uint64_t opened = 0;  // the loops open so far
  for (size_t open = 0; deps.ok; open++) {
    for (const UOp* n : reduces)
      if (!lz.replaced.find(n) && (deps.of(n) & ~opened) == 0) lz.emit(n->ref());
    if (open == loop_order.size()) break;
    opened |= deps.range_bit(loop_order[open].get());
    lz.open(loop_order[open]);
  }
  for (size_t open = lz.blocks.size() - 1; open < loop_order.size(); open++) lz.open(loop_order[open]);
  for (const UOpRef& st : sink->src()) lz.emit(st);
  while (lz.blocks.size() > 1) lz.close();
  return std::move(lz.blocks[0].lines);
}

}  // namespace fg
