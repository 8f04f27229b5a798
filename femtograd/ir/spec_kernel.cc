#include "femtograd/ir/spec_kernel.h"

namespace fg {
namespace {
bool int_like(DType d) { return (d.is_int() || d.scalar == ScalarType::Index) && d.count == 1; }
}  // namespace

const PatternMatcher& spec_kernel() {
  static const UPat g = UPat(Op::DEFINE_GLOBAL).named("g"), i = UPat::var("i"), v = UPat::var("v");
  static const UPat idx = UPat(Op::INDEX).named("idx");
  static const PatternMatcher pm = spec_alu() + PatternMatcher{{
      Rule(UPat(Op::DEFINE_GLOBAL), [](const Match& m) {
         return spec_accept(m, m.root->dtype.is_ptr() && m.root->arg.is_int() && m.root->nsrc() == 0);
       }),
      Rule(UPat(Op::DEFINE_LOCAL), [](const Match& m) {
         const UOp* r = m.root;
         return spec_accept(m, r->dtype.space == AddrSpace::Local && r->dtype.size > 0 && r->arg.is_int() && r->nsrc() == 0);
       }),
      Rule(UPat(Op::INDEX, {UPat(OpSet{Op::DEFINE_GLOBAL, Op::DEFINE_LOCAL}).named("g"), i}, UPat::Srcs::Prefix),
           [](const Match& m) {
         const UOp* r = m.root;
         bool ok = r->nsrc() <= 3 && int_like(m.get(i)->dtype) && r->dtype == m.get(g)->dtype;
         if (r->nsrc() == 3) ok = ok && r->src(2)->dtype == dtypes::bool_;
         return spec_accept(m, ok);
       }),
      // (INDEX) or (INDEX, alt) when the index is gated; a read of shared memory adds (alt, BARRIER)
      Rule(UPat(Op::LOAD, {idx}, UPat::Srcs::Prefix), [](const Match& m) {
         const UOp* r = m.root;
         const UOp* ix = m.get(idx);
         bool gated = ix->nsrc() == 3, waits = r->nsrc() == 3 && r->src(2)->op == Op::BARRIER;
         bool ok = r->dtype.scalar == ix->dtype.scalar && (waits || r->nsrc() == (gated ? 2u : 1u));
         if (gated || waits) ok = ok && r->src(1)->dtype == r->dtype;
         return spec_accept(m, ok);
       }),
      // (INDEX, value), or (INDEX, value, BARRIER) for a store that must wait for one
      Rule(UPat(Op::STORE, {idx, v}, UPat::Srcs::Prefix), [](const Match& m) {
         const UOp* r = m.root;
         bool ok = r->dtype == dtypes::void_ && m.get(v)->dtype.scalar == m.get(idx)->dtype.scalar;
         ok = ok && (r->nsrc() == 2 || (r->nsrc() == 3 && r->src(2)->op == Op::BARRIER));
         return spec_accept(m, ok);
       }),
      Rule(UPat(Op::BARRIER), [](const Match& m) { return spec_accept(m, m.root->dtype == dtypes::void_); }),
      Rule(UPat(Op::SINK), [](const Match& m) {
         bool ok = true;
         for (const UOpRef& s : m.root->src()) ok = ok && s->op == Op::STORE;
         return spec_accept(m, ok);
       }),
      Rule(UPat(Op::REDUCE), [](const Match& m) {
         const UOp* r = m.root;
         bool ok = r->nsrc() >= 1 && r->arg.value().index() == 6 && r->dtype.scalar == r->src(0)->dtype.scalar;
         for (size_t k = 1; k < r->nsrc(); k++) ok = ok && r->src(k)->op == Op::RANGE;
         return spec_accept(m, ok);
       }),
      Rule(UPat(Op::VECTORIZE), [](const Match& m) {
         const UOp* r = m.root;
         bool ok = r->nsrc() == r->dtype.count;
         for (const UOpRef& s : r->src()) ok = ok && s->dtype == r->dtype.scalar_type();
         return spec_accept(m, ok);
       }),
      Rule(UPat(Op::VCONST), [](const Match& m) {
         return spec_accept(m, m.root->arg.is_ints() && (int64_t)m.root->arg.as_ints().size() == m.root->dtype.count);
       }),
      Rule(UPat(Op::GEP, {v}), [](const Match& m) {
         const UOp* r = m.root;
         return spec_accept(m, r->arg.is_ints() && r->dtype == m.get(v)->dtype.scalar_type().vec(r->arg.as_ints().size()));
       }),
      // GPU: a thread or block index (gidx0..2, lidx0..2) of a constant extent
      Rule(UPat(Op::SPECIAL, {v}), [](const Match& m) {
         const UOp* r = m.root;
         bool ok = r->dtype == dtypes::index && m.get(v)->op == Op::CONST && r->arg.is_str() &&
                   r->arg.as_str().size() == 5 && (r->arg.as_str()[0] == 'g' || r->arg.as_str()[0] == 'l');
         return spec_accept(m, ok);
       }),
      // GPU: a renderer expression over its sources (the group reduce)
      Rule(UPat(Op::CUSTOMI), [](const Match& m) { return spec_accept(m, m.root->arg.is_str()); }),
  }};
  return pm;
}

const PatternMatcher& spec_program() {
  static const UPat acc = UPat(Op::DEFINE_REG).named("acc"), v = UPat::var("v");
  static const PatternMatcher pm = PatternMatcher{{
      Rule(UPat(Op::DEFINE_REG, {v}), [](const Match& m) { return spec_accept(m, m.get(v)->dtype == m.root->dtype); }),
      Rule(UPat(Op::STORE, {acc, v}), [](const Match& m) { return spec_accept(m, m.get(acc)->dtype == m.get(v)->dtype); }),
      Rule(UPat(Op::END, {UPat(Op::RANGE)}), [](const Match& m) { return spec_accept(m, true); }),
  }} + spec_kernel();
  return pm;
}

}  // namespace fg
