// Division and modulo by a constant, folded with ranges.
// Guarantees: x//c and x%c are C's truncating ops on the node's dtype; a fold happens only when the
// ranges prove it exact: the numerator's sum does not wrap, and its sign is known (trunc equals
// floor for x >= 0; x <= 0 is folded as -((-x)//c)), except for exact multiples, which fold for any
// sign. A result is taken only when its tree is not bigger than the node's.

#include <algorithm>

#include "femtograd/ir/symbolic.h"

namespace fg::sym {
namespace {
constexpr i128 kBig = i128(1) << 90;

i128 fdiv(i128 a, i128 b) {
  i128 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
i128 fmod(i128 a, i128 b) { return a - fdiv(a, b) * b; }
int64_t ring(DType dt, i128 v) {
  return wrap_int(dt, static_cast<int64_t>(static_cast<uint64_t>(v)));
}
int64_t cval(const UOp* c) {
  return wrap_int(c->dtype, c->arg.is_bool() ? c->arg.as_bool() : c->arg.as_int());
}

struct Ctx {
  const UOp* n;
  DType dt;
  bool div;
  bool negate;  // the candidates are for -x (or the divisor's sign flips the quotient)
  const Linear* lin = nullptr;
  SmallVec<UOpRef, 4> keep;
  SmallVec<int64_t> bs;  // tree size of each base of lin, once needed (-1: not yet)
  int64_t ns = -1;       // the node's tree size, once needed

  int64_t base_size(const UOp* b) {
    for (size_t i = 0; i < lin->terms.size(); i++)
      if (lin->terms[i].base == b) {
        while (bs.size() <= i) bs.push_back(-1);
        if (bs[i] < 0) bs[i] = tree_size(b);
        return bs[i];
      }
    return tree_size(b);
  }
  int64_t coef_final(int64_t c) const { return negate ? ring(dt, -i128(c)) : c; }
  // tree size of the sum build_sum makes of t and konst (negated when `neg` and negate), plus
  // one more term of size `extra` when extra >= 0. Exact for terms with distinct bases.
  int64_t est(const SmallVec<Term>& t, i128 konst, int64_t extra = -1, bool neg = true) {
    int64_t s = extra >= 0 ? extra : 0;
    for (const Term& x : t)
      s += base_size(x.base) + ((neg ? coef_final(x.coef) : x.coef) != 1 ? 2 : 0);
    int64_t parts = static_cast<int64_t>(t.size()) + (konst != 0) + (extra >= 0);
    return parts == 0 ? 1 : s + (konst != 0 ? 1 : 0) + parts - 1;
  }
  int64_t term_est(int64_t base, int64_t coef) { return base + (coef_final(coef) != 1 ? 2 : 0); }
  bool fits(int64_t size) {
    if (ns < 0) ns = tree_size(n);
    return size <= ns;
  }
  // builds a candidate (negated when needed); the caller checked its size with est/fits
  UOpRef take(SmallVec<Term>& terms, i128 konst) {
    if (negate) {
      for (Term& t : terms) t.coef = ring(dt, -i128(t.coef));
      konst = -konst;
    }
    UOpRef r = build_sum(dt, terms, ring(dt, konst));
    return r.get() == n ? nullptr : r;
  }
  const UOp* hold(UOpRef r) {
    keep.push_back(std::move(r));
    return keep.back().get();
  }
};

// x//c or x%c for x = lin >= 0 and c > 0: floor semantics
UOpRef fold_nonneg(Ctx& cx, const Linear& lin, int64_t c) {
  DType dt = cx.dt;
  size_t nt = lin.terms.size();
  i128 q0 = fdiv(lin.konst, c), r0 = fmod(lin.konst, c);
  SmallVec<int64_t> rem;
  SmallVec<size_t, 8> nz;
  for (size_t i = 0; i < nt; i++) {
    rem.push_back(static_cast<int64_t>(fmod(lin.terms[i].coef, c)));
    if (rem[i]) nz.push_back(i);
  }
  // 1. congruence: with remainders r_i (each k_i mod c, or that minus c) the rest R = sum r_i*u_i +
  // r0
  //    lies in one period [m*c, (m+1)*c): x//c = (x-R)/c + m and x%c = R - m*c
  size_t combos = nz.size() <= 3 ? size_t(1) << nz.size() : 1;
  for (size_t mask = 0; mask < combos; mask++) {
    SmallVec<int64_t> r;
    for (size_t i = 0; i < nt; i++) r.push_back(rem[i]);
    for (size_t b = 0; b < nz.size(); b++) {
      size_t i = nz[b];
      bool alt = 2 * rem[i] > c;  // the smaller in magnitude first
      if ((mask >> b) & 1) alt = !alt;
      if (alt) r[i] -= c;
    }
    i128 lo = r0, hi = r0;
    for (size_t i = 0; i < nt; i++) {
      if (!r[i]) continue;
      i128 l, h;
      term_range({lin.terms[i].base, r[i]}, &l, &h);
      lo += l, hi += h;
    }
    if (lo < -kBig || hi > kBig) continue;
    i128 m = fdiv(lo, c);
    if (m != fdiv(hi, c)) continue;
    SmallVec<Term> out;
    if (cx.div) {
      for (size_t i = 0; i < nt; i++)
        if (i128 q = (i128(lin.terms[i].coef) - r[i]) / c)
          out.push_back({lin.terms[i].base, ring(dt, q)});
      if (cx.fits(cx.est(out, q0 + m)))
        if (UOpRef res = cx.take(out, q0 + m)) return res;
    } else {
      for (size_t i = 0; i < nt; i++)
        if (r[i]) out.push_back({lin.terms[i].base, ring(dt, r[i])});
      if (cx.fits(cx.est(out, r0 - m * c)))
        if (UOpRef res = cx.take(out, r0 - m * c)) return res;
    }
  }
  // 2. (a*c + b)//c -> a + b//c and (a*c + b)%c -> b%c, when b >= 0 (the % only when smaller)
  {
    SmallVec<Term> qt, rt;
    i128 lo = r0, hi = r0;
    for (size_t i = 0; i < nt; i++) {
      const Term& t = lin.terms[i];
      if (rem[i]) {
        rt.push_back({t.base, rem[i]});
        i128 l, h;
        term_range(rt.back(), &l, &h);
        lo += l, hi += h;
      }
      if (i128 q = fdiv(t.coef, c)) qt.push_back({t.base, ring(dt, q)});
    }
    if ((!qt.empty() || q0 != 0) && lo >= 0 && hi <= dmax(dt)) {
      int64_t dm_size = cx.est(rt, r0, -1, false) + 2;
      bool ok = cx.div ? cx.fits(cx.est(qt, q0, cx.term_est(dm_size, 1)))
                       : cx.fits(cx.term_est(dm_size, 1) + 1);  // strictly smaller
      if (ok) {
        UOpRef rest = build_sum(dt, rt, static_cast<int64_t>(r0));
        UOpRef dm = UOp::make(cx.div ? Op::IDIV : Op::MOD, dt, {rest, UOp::cnst_int(dt, c)});
        SmallVec<Term> out;
        if (cx.div)
          for (const Term& t : qt) out.push_back(t);
        out.push_back({cx.hold(dm), 1});
        if (UOpRef res = cx.take(out, cx.div ? q0 : 0)) return res;
      }
    }
  }
  // 3. x = g*A + B with g dividing c and B in [0, g) (the terms g does not divide, and the
  //    constant's remainder): x//c = A//(c/g) and x%c = (A%(c/g))*g + B. Largest g first.
  SmallVec<int64_t, 8> gs;
  for (const Term& t : lin.terms) {
    int64_t g = static_cast<int64_t>(gcd(c, t.coef));
    if (g > 1 && std::find(gs.begin(), gs.end(), g) == gs.end()) gs.push_back(g);
  }
  std::sort(gs.begin(), gs.end(), [](int64_t a, int64_t b) { return a > b; });
  for (int64_t g : gs) {
    SmallVec<Term> at, bt;
    i128 lo = fmod(lin.konst, g), hi = lo;
    for (const Term& t : lin.terms) {
      if (t.coef % g == 0) {
        at.push_back({t.base, t.coef / g});
      } else {
        bt.push_back(t);
        i128 l, h;
        term_range(t, &l, &h);
        lo += l, hi += h;
      }
    }
    if (at.empty() || lo < 0 || hi >= g) continue;
    int64_t cg = c / g;
    i128 ak = fdiv(lin.konst, g), bk = fmod(lin.konst, g);
    int64_t a_size = cx.est(at, ak, -1, false);
    SmallVec<Term> out;
    if (cx.div && cg == 1) {  // x//g = A
      if (!cx.fits(cx.est(at, ak))) continue;
      for (const Term& t : at) out.push_back(t);
      if (UOpRef res = cx.take(out, ak)) return res;
      continue;
    }
    int64_t extra = cg == 1 ? -1 : cx.term_est(a_size + 2, cx.div ? 1 : g);
    if (!cx.fits(cx.div ? extra : cx.est(bt, bk, extra))) continue;
    if (!cx.div)
      for (const Term& t : bt) out.push_back(t);
    if (cg > 1) {
      UOpRef a = build_sum(dt, at, static_cast<int64_t>(ak));
      UOpRef dm = UOp::make(cx.div ? Op::IDIV : Op::MOD, dt, {a, UOp::cnst_int(dt, cg)});
      out.push_back({cx.hold(dm), cx.div ? 1 : g});
    }
    if (UOpRef res = cx.take(out, cx.div ? 0 : bk)) return res;
  }
  return nullptr;
}
}  // namespace

UOpRef fold_divmod(const UOp* n) {
  DType dt = n->dtype;
  if (!ranged(dt) || dt.is_bool()) return nullptr;
  const UOp *x = n->src(0).get(), *d = n->src(1).get();
  if (d->op != Op::CONST || d->arg.is_float()) return nullptr;
  int64_t c = cval(d);
  bool div = n->op == Op::IDIV;
  if (c == 0) return nullptr;
  if (c == 1) return div ? x->ref() : UOp::cnst_int(dt, 0);
  if (c == -1 && !dt.is_unsigned())
    return div ? UOp::make(Op::MUL, dt, {x->ref(), d->ref()}) : UOp::cnst_int(dt, 0);
  // x%c == x%-c in C
  if (!div && c < 0)
    return c == dmin(dt) ? nullptr : UOp::make(Op::MOD, dt, {x->ref(), UOp::cnst_int(dt, -c)});
  i128 ac = c < 0 ? -i128(c) : i128(c);
  if (ac > INT64_MAX) return nullptr;
  // |x| < |c|: the quotient is 0
  if (x->vmin() > -ac && x->vmax() < ac) return div ? UOp::cnst_int(dt, 0) : x->ref();
  Linear lin;
  linearize(x, lin);
  if (!lin.fits) return nullptr;
  Ctx cx{n, dt, div, false, &lin, {}, {}, -1};
  // exact multiples of c divide for any sign
  bool exact = lin.konst % c == 0;
  for (const Term& t : lin.terms) exact &= t.coef % c == 0;
  if (exact) {
    if (!div) return UOp::cnst_int(dt, 0);
    SmallVec<Term> q;
    for (const Term& t : lin.terms) q.push_back({t.base, t.coef / c});
    return cx.take(q, lin.konst / c);
  }
  // the node's size: x's sum (as linearized: exact for a canonical sum, smaller otherwise) + 2
  cx.ns = cx.est(lin.terms, lin.konst, -1, false) + 2;
  bool neg = false;
  if (x->vmin() < 0) {
    if (x->vmax() > 0 || dt.is_unsigned() || -lin.lo > dmax(dt) || lin.konst == dmin(dt))
      return nullptr;
    for (const Term& t : lin.terms)
      if (t.coef == dmin(dt)) return nullptr;  // its negation wraps
    neg = true;  // fold -x instead: x//c = -((-x)//c), x%c = -((-x)%c)
    for (Term& t : lin.terms) t.coef = ring(dt, -i128(t.coef));
    lin.konst = ring(dt, -i128(lin.konst));
    i128 lo = lin.lo;
    lin.lo = -lin.hi, lin.hi = -lo;
  }
  cx.negate = neg != (div && c < 0);
  return fold_nonneg(cx, lin, static_cast<int64_t>(ac));
}

}  // namespace fg::sym
