// Gather folding (see gather_fold.h): REDUCE over r of WHERE(r == e & rest, v(r), identity) is
// WHERE(0 <= e < n & rest(e), v(e), identity), the loop over r gone.
#include "femtograd/codegen/gather_fold.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "femtograd/base/ptr_map.h"
#include "femtograd/codegen/linearize.h"

namespace fg {
namespace {

// the terms of an AND (or OR) chain of bools
void split_chain(const UOpRef& c, Op op, std::vector<UOpRef>& out) {
  std::vector<UOpRef> stack{c};
  while (!stack.empty()) {
    UOpRef n = std::move(stack.back());
    stack.pop_back();
    if (n->op == op && n->dtype.is_bool()) {
      stack.push_back(n->src(1));
      stack.push_back(n->src(0));
    } else {
      out.push_back(std::move(n));
    }
  }
}

bool depends_on(const UOp* e, const UOp* r) {
  for (const UOp* n : e->toposort())
    if (n == r) return true;
  return false;
}

// s is r itself, or r cast to an int dtype that holds every value of r exactly (so s == e picks
// the one r equal to e, as an index)
bool is_range_or_cast(const UOp* s, const UOp* r) {
  if (s == r) return true;
  if (s->op != Op::CAST || s->src(0).get() != r) return false;
  DType dt = s->dtype;
  if (!dt.is_int() || dt.is_bool() || dt.count != 1 || dt.scalar == ScalarType::UInt64)
    return false;
  return r->vmin() >= 0 && r->vmax() <= dt.int_max();
}

// c when s is r + c (r possibly cast as above) and the sum never wraps in its dtype: then s == e
// picks r = e - c
std::optional<int64_t> range_offset(const UOp* s, const UOp* r) {
  if (is_range_or_cast(s, r)) return 0;
  if (s->op != Op::ADD || s->src(1)->op != Op::CONST || !is_range_or_cast(s->src(0).get(), r))
    return std::nullopt;
  __int128 c = s->src(1)->arg.to_int();
  if (r->vmin() + c < s->dtype.int_min() || r->vmax() + c > s->dtype.int_max()) return std::nullopt;
  return static_cast<int64_t>(c);
}

// x with r replaced by re; every INDEX whose address depended on r gets `valid` as (part of) its
// gate, and a load through it the alternative 0, so an invalid re reads nothing
UOpRef substitute_gated(const UOpRef& x, const UOp* r, const UOpRef& re, const UOpRef& valid) {
  PtrMap<UOpRef> rep;  // only nodes that changed
  rep.put(r, re);
  std::vector<UOpRef> srcs;
  for (const UOp* n : x->toposort()) {
    if (n == r) continue;
    srcs.clear();
    bool changed = false;
    for (const UOpRef& s : n->src()) {
      UOpRef* f = rep.find(s.get());
      changed |= f != nullptr;
      srcs.push_back(f ? *f : s);
    }
    if (!changed) continue;
    UOpRef nn;
    if (n->op == Op::INDEX && srcs.size() >= 2 && !rep.find(n->src(0).get())) {
      if (srcs.size() == 2)
        srcs.push_back(valid);
      else
        srcs[2] = srcs[2] & valid;
      nn = n->replace_src(srcs);
    } else if (n->op == Op::LOAD && n->nsrc() == 1 && srcs[0]->op == Op::INDEX &&
               srcs[0]->nsrc() == 3) {
      srcs.push_back(UOp::cnst(n->dtype, 0));
      nn = n->replace_src(srcs);
    } else {
      nn = n->replace_src(srcs);
    }
    rep.put(n, std::move(nn));
  }
  UOpRef* f = rep.find(x.get());
  return f ? *f : x;
}

// The conjuncts of a WHERE's "keep v" condition c: its AND terms when v is the true branch, the
// negations of its OR terms when v is the false branch (where(a | b, id, v) is where(!a & !b, v,
// id)). eq_sides: per conjunct, the sides of an equality (a == b, or a != b negated), else nulls.
struct Keep {
  std::vector<UOpRef> conj;
  std::vector<std::pair<UOpRef, UOpRef>> eq_sides;
};

Keep keep_condition(const UOpRef& c, bool v_is_true) {
  Keep k;
  std::vector<UOpRef> terms;
  split_chain(c, v_is_true ? Op::AND : Op::OR, terms);
  for (UOpRef& t : terms) {
    bool is_eq = t->op == (v_is_true ? Op::CMPEQ : Op::CMPNE) && t->src(0)->dtype.count == 1;
    k.eq_sides.push_back(is_eq ? std::make_pair(t->src(0), t->src(1))
                               : std::make_pair(UOpRef(), UOpRef()));
    k.conj.push_back(v_is_true ? t : t->logical_not());
  }
  return k;
}

UOpRef and_all(const std::vector<UOpRef>& xs) {
  UOpRef r;
  for (const UOpRef& x : xs) r = r ? r & x : x;
  return r ? r : UOp::cnst_bool(true);
}

UOpRef fold(const UOp* red) {
  if (red->nsrc() < 2) return nullptr;
  const UOp* w = red->src(0).get();
  if (w->op != Op::WHERE || w->dtype.count != 1) return nullptr;
  Op op = red->arg.as_reduce().op;
  if (op != Op::ADD && op != Op::MAX && op != Op::MUL) return nullptr;
  UOpRef id = reduce_identity(op, red->dtype);
  auto is_id = [&](const UOp* b) { return b == id.get() || (op == Op::ADD && b->is_const(0)); };
  bool v_true = is_id(w->src(2).get());
  if (!v_true && !is_id(w->src(1).get())) return nullptr;
  UOpRef v = w->src(v_true ? 1 : 2);
  Keep k = keep_condition(w->src(0), v_true);
  for (size_t i = 0; i < k.conj.size(); i++) {
    if (!k.eq_sides[i].first) continue;
    for (size_t ri = 1; ri < red->nsrc(); ri++) {
      const UOp* r = red->src(ri).get();
      if (r->op != Op::RANGE) continue;
      const UOpRef* e = nullptr;
      const auto& [a, b] = k.eq_sides[i];
      std::optional<int64_t> c = range_offset(a.get(), r);
      if (c)
        e = &b;
      else if ((c = range_offset(b.get(), r)))
        e = &a;
      if (!e || !(*e)->dtype.is_int() || (*e)->dtype.is_bool() || depends_on(e->get(), r)) continue;
      // r := e - c as an index; valid when it lies in the range's loop
      UOpRef re = (*e)->dtype == dtypes::index ? *e : (*e)->cast(dtypes::index);
      if (*c != 0) re = re - *c;
      UOpRef valid = re->lt(0)->logical_not() & re->lt(r->src(0));
      std::vector<UOpRef> rest;
      for (size_t j = 0; j < k.conj.size(); j++)
        if (j != i) rest.push_back(k.conj[j]);
      UOpRef body = and_all(rest)->where(v, id);
      UOpRef out = valid->where(substitute_gated(body, r, re, valid), id);
      std::vector<UOpRef> srcs{out};
      for (size_t rj = 1; rj < red->nsrc(); rj++)
        if (rj != ri) srcs.push_back(red->src(rj));
      if (srcs.size() == 1) return out;
      return UOp::make(Op::REDUCE, red->dtype, srcs, red->arg);
    }
  }
  return nullptr;
}

// the AND terms of c are among those of g
bool implied_by(const UOpRef& c, const UOpRef& g) {
  std::vector<UOpRef> cs, gs;
  split_chain(c, Op::AND, cs);
  split_chain(g, Op::AND, gs);
  for (const UOpRef& x : cs)
    if (std::find(gs.begin(), gs.end(), x) == gs.end()) return false;
  return true;
}

}  // namespace

const PatternMatcher& gated_loads() {
  static const PatternMatcher pm = [] {
    UPat c = UPat::var("c"), g = UPat::var("g"), a = UPat::var("a");
    UPat load = UPat(Op::LOAD, {UPat(Op::INDEX, {UPat::any(), UPat::any(), g}), a}).named("ld");
    return PatternMatcher({
        // where(c, load gated on c (and more), a) where a is the load's value when its gate fails
        Rule(UPat::where(c, load, a),
             [c, g](const Match& m) -> UOpRef {
               return implied_by(m[c], m[g]) ? m.root->src(1) : nullptr;
             }),
    });
  }();
  return pm;
}

const PatternMatcher& gather_fold() {
  static const PatternMatcher pm({
      // a reduce that keeps the one element where its range equals an index: that element
      Rule(UPat(Op::REDUCE), [](const Match& m) { return fold(m.root); }),
  });
  return pm;
}

}  // namespace fg
