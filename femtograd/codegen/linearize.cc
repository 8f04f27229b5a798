#include "femtograd/codegen/linearize.h"

#include <cmath>
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
      for (const UOpRef& s : m->src()) {
        UOpRef r = *rep.find(s.get());
        d = std::max(d, *depth_of.find(r.get()));
        srcs.push_back(std::move(r));
      }
      UOpRef built = m->replace_src(srcs);
      if (const int* have = depth_of.find(built.get())) d = *have;  // already placed (shared)
      else place(built, d);
      rep.put(m.get(), built);
      keep.push_back(m);
    }
    return *rep.find(n.get());
  }

  void emit_reduce(const UOpRef& red) {
    Op op = red->arg.as_reduce().op;
    int d = static_cast<int>(blocks.size()) - 1;
    UOpRef acc = UOp::make(Op::DEFINE_REG, red->dtype, {reduce_identity(op, red->dtype)}, Arg(next_acc++));
    place(acc, d);
    for (size_t i = 1; i < red->nsrc(); i++) open(red->src(i));
    UOpRef x = emit(red->src(0));
    UOpRef upd = op == Op::MAX ? acc->maximum(x) : acc->alu(op, x);
    int inner = static_cast<int>(blocks.size()) - 1;
    place(upd, inner);  // runs every iteration, even when x does not depend on the loop
    UOpRef st = UOp::make(Op::STORE, dtypes::void_, {acc, upd});
    place(st, inner);
    for (size_t i = 1; i < red->nsrc(); i++) close();
    replaced.put(red.get(), acc);
    keep.push_back(red);
  }

  PtrMap<UOpRef> replaced;  // original node -> the node that carries its value
};

}  // namespace

std::vector<UOpRef> linearize(const UOpRef& sink, const std::vector<UOpRef>& loop_order) {
  Linearizer lz;
  lz.blocks.push_back({nullptr, {}});
  for (const UOpRef& r : loop_order) lz.open(r);
  for (const UOpRef& st : sink->src()) lz.emit(st);
  while (lz.blocks.size() > 1) lz.close();
  return std::move(lz.blocks[0].lines);
}

}  // namespace fg
