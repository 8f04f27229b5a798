// Comparisons of integer sums with constants.
// Guarantees: x<c and c<x are rewritten only when the sum x does not wrap (its exact interval fits
// the dtype), so integer order reasoning holds: the constant moves to the right side, a common
// factor of the coefficients divides out (rounding the constant the right way), an all-negative sum
// flips, and x//d<c becomes a comparison of x. x!=c and x==c move the constant and flip signs for
// any value (both are bijections mod 2^bits) and divide common factors only when the sum does not
// wrap.

#include <algorithm>

#include "femtograd/ir/symbolic.h"

namespace fg::sym {
namespace {
i128 fdiv(i128 a, i128 b) {
  i128 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
i128 cdiv(i128 a, i128 b) { return -fdiv(-a, b); }
int64_t ring(DType dt, i128 v) {
  return wrap_int(dt, static_cast<int64_t>(static_cast<uint64_t>(v)));
}
bool is_int_const(const UOp* n) { return n->op == Op::CONST && !n->arg.is_float(); }
int64_t cval(const UOp* c) {
  return wrap_int(c->dtype, c->arg.is_bool() ? c->arg.as_bool() : c->arg.as_int());
}

// exact interval of a set of terms
void terms_range(const SmallVec<Term>& t, i128* lo, i128* hi) {
  *lo = *hi = 0;
  for (const Term& x : t) {
    i128 l, h;
    term_range(x, &l, &h);
    *lo += l, *hi += h;
  }
}

// A < t (right) or t < A (left) for the sum A of `terms`, decided when A's range allows
UOpRef make_lt(const UOp* n, DType dt, SmallVec<Term>& terms, i128 t, bool right) {
  i128 lo, hi;
  terms_range(terms, &lo, &hi);
  if (lo < dmin(dt) || hi > dmax(dt)) return nullptr;
  if (right ? hi < t : t < lo) return UOp::cnst_bool(true);
  if (right ? lo >= t : t >= hi) return UOp::cnst_bool(false);
  // an all-negative sum flips: -A < t  <=>  -t < A
  bool all_neg = !terms.empty() && !dt.is_unsigned() && -hi <= dmax(dt) && -lo >= dmin(dt);
  for (const Term& x : terms) all_neg &= x.coef < 0 && x.coef != dmin(dt);
  if (all_neg) {
    for (Term& x : terms) x.coef = -x.coef;
    t = -t, right = !right;
  }
  if (t < dmin(dt) || t > dmax(dt)) return nullptr;
  UOpRef a = build_sum(dt, terms, 0), k = UOp::cnst_int(dt, static_cast<int64_t>(t));
  // never bigger: A has x's bases with coefficients divided or sign-flipped (no new *), no constant
  UOpRef r = right ? UOp::make(Op::CMPLT, dtypes::bool_, {a, k})
                   : UOp::make(Op::CMPLT, dtypes::bool_, {k, a});
  return r.get() == n ? nullptr : r;
}

// x < c (right) or c < x (left)
UOpRef lt_const(const UOp* n, const UOp* x, int64_t c, bool right) {
  DType dt = x->dtype;
  Linear lin;
  linearize(x, lin);
  if (!lin.fits || lin.terms.empty()) return nullptr;
  i128 cc = i128(c) - lin.konst;  // the constant moves across
  // x//d < c with d > 0: for c >= 1 it is x < c*d, for c <= 0 it is x < (c-1)*d + 1
  if (lin.terms.size() == 1 && lin.konst == 0 && lin.terms[0].coef == 1) {
    const UOp* b = lin.terms[0].base;
    if (b->op == Op::IDIV && is_int_const(b->src(1).get()) && cval(b->src(1).get()) > 0) {
      i128 d = cval(b->src(1).get());
      auto bound = [&](i128 k) {
        return k >= 1 ? k * d : (k - 1) * d + 1;
      };  // x//d < k  <=>  x < bound(k)
      SmallVec<Term> one;
      one.push_back({b->src(0).get(), 1});
      // c < x//d  <=>  !(x//d < c+1)  <=>  bound(c+1) - 1 < x
      return right ? make_lt(n, dt, one, bound(cc), true)
                   : make_lt(n, dt, one, bound(cc + 1) - 1, false);
    }
  }
  i128 g = 0;
  for (const Term& t : lin.terms) g = gcd(g, t.coef);
  if (g > 1) {  // g*A < c <=> A < ceil(c/g);  c < g*A <=> floor(c/g) < A
    for (Term& t : lin.terms) t.coef /= g;
    return make_lt(n, dt, lin.terms, right ? cdiv(cc, g) : fdiv(cc, g), right);
  }
  // g*A + B with B the unit terms: decided per A when every B in its range gives the same bound
  SmallVec<Term> big, unit;
  i128 gb = 0;
  for (const Term& t : lin.terms) {
    if (t.coef == 1 || t.coef == -1)
      unit.push_back(t);
    else
      big.push_back(t), gb = gcd(gb, t.coef);
  }
  if (gb > 1 && !unit.empty()) {
    i128 blo, bhi;
    terms_range(unit, &blo, &bhi);
    // g*A + B < c <=> A <= floor((c-1-B)/g);  c < g*A + B <=> A > floor((c-B)/g)
    i128 t0 = right ? fdiv(cc - 1 - bhi, gb) : fdiv(cc - bhi, gb);
    i128 t1 = right ? fdiv(cc - 1 - blo, gb) : fdiv(cc - blo, gb);
    if (t0 == t1) {
      for (Term& t : big) t.coef /= gb;
      return make_lt(n, dt, big, right ? t0 + 1 : t0, right);
    }
  }
  if (lin.konst == 0 && lin.terms.size() == 1 && lin.terms[0].coef == 1) return nullptr;  // x<c
  if (lin.konst != 0 || lin.terms.size() == 1) return make_lt(n, dt, lin.terms, cc, right);
  return nullptr;
}
}  // namespace

UOpRef fold_cmplt(const UOp* n) {
  const UOp *a = n->src(0).get(), *b = n->src(1).get();
  DType dt = a->dtype;
  if (!ranged(dt) || dt.is_bool()) return nullptr;
  if (is_int_const(b) && !is_int_const(a)) return lt_const(n, a, cval(b), true);
  if (is_int_const(a) && !is_int_const(b)) return lt_const(n, b, cval(a), false);
  return nullptr;
}

UOpRef fold_cmpeq(const UOp* n) {
  const UOp *x = n->src(0).get(), *cn = n->src(1).get();
  DType dt = x->dtype;
  if (!dt.is_int() || dt.count != 1 || !is_int_const(cn) || is_int_const(x)) return nullptr;
  bool ne = n->op == Op::CMPNE;
  Linear lin;
  linearize(x, lin);
  if (lin.terms.empty()) return nullptr;
  i128 c =
      i128(cval(cn)) - lin.konst;  // x + k == c <=> x == c - k (mod 2^bits; exactly when x fits)
  bool neg = !dt.is_unsigned();
  for (const Term& t : lin.terms) neg &= t.coef < 0 && t.coef != dmin(dt);
  if (neg) {  // -A == c <=> A == -c (mod 2^bits; exactly when x fits)
    for (Term& t : lin.terms) t.coef = -t.coef;
    c = -c;
  }
  i128 g = 0;
  for (const Term& t : lin.terms) g = gcd(g, t.coef);
  if (g > 1 && lin.fits) {  // x fits, so g*A == c in the integers: no solution unless g divides c
    if (c % g != 0) return UOp::cnst_bool(ne);
    for (Term& t : lin.terms) t.coef /= g;
    c /= g;
    i128 lo, hi;
    terms_range(lin.terms, &lo, &hi);
    if (lo < dmin(dt) || hi > dmax(dt)) return nullptr;
    if (c < lo || c > hi) return UOp::cnst_bool(ne);
  }
  // never bigger, as in make_lt
  UOpRef r = UOp::make(n->op, dtypes::bool_,
                       {build_sum(dt, lin.terms, 0), UOp::cnst_int(dt, ring(dt, c))});
  return r.get() == n ? nullptr : r;
}

}  // namespace fg::sym

namespace fg::sym {
namespace {
// X < c is X <= c-1 (upper); c < X is X >= c+1 (lower)
struct Bound {
  const UOp* x = nullptr;
  bool upper = false;
  i128 v = 0;
};
Bound parse_bound(const UOp* e) {
  if (e->op != Op::CMPLT) return {};
  const UOp *a = e->src(0).get(), *b = e->src(1).get();
  if (!ranged(a) || a->dtype.is_bool()) return {};
  if (is_int_const(b) && !is_int_const(a)) return {a, true, i128(cval(b)) - 1};
  if (is_int_const(a) && !is_int_const(b)) return {b, false, i128(cval(a)) + 1};
  return {};
}
// order of the elements of a &/| chain: grouped by what they test (a bound's x), a lower bound
// before an upper one, so masks read 0<x & x<n & 0<y & y<m
int elem_cmp(const UOp* a, const UOp* b) {
  if (a == b) return 0;
  Bound ba = parse_bound(a), bb = parse_bound(b);
  const UOp *sa = ba.x ? ba.x : a, *sb = bb.x ? bb.x : b;
  if (int c = node_cmp(sa, sb)) return c;
  if (ba.x && bb.x && ba.upper != bb.upper) return ba.upper ? 1 : -1;
  if (!ba.x != !bb.x) return ba.x ? 1 : -1;
  return node_cmp(a, b);
}
}  // namespace

UOpRef fold_andor(const UOp* n) {
  DType dt = n->dtype;
  Op op = n->op;
  if (dt.count != 1 || !(dt.is_bool() || dt.is_int())) return nullptr;
  const UOp *L = n->src(0).get(), *R = n->src(1).get();
  // already canonical: a sorted chain, R a new last element that is no bound on an int
  if (R->op != op && L->op != Op::CONST && R->op != Op::CONST && parse_bound(R).x == nullptr) {
    const UOp* last = L->op == op ? L->src(1).get() : L;
    bool complement = false;  // R and not-R in one bool chain
    for (const UOp* s = L; dt.is_bool() && !complement; s = s->src(0).get()) {
      const UOp* el = s->op == op ? s->src(1).get() : s;
      complement = (R->op == Op::CMPNE && R->src(0).get() == el) ||
                   (el->op == Op::CMPNE && el->src(0).get() == R);
      if (s->op != op) break;
    }
    if (last->op != Op::CONST && !complement && elem_cmp(last, R) < 0) return nullptr;
  }
  bool is_and = op == Op::AND;
  SmallVec<const UOp*, 16> e, stack;
  SmallVec<UOpRef, 4> keep;
  std::optional<Arg> konst;
  stack.push_back(n);
  while (!stack.empty()) {
    const UOp* x = stack.back();
    stack.pop_back();
    if (x->op == op) {
      stack.push_back(x->src(1).get());
      stack.push_back(x->src(0).get());
    } else if (x->op == Op::CONST && !x->arg.is_float()) {
      Arg args[2] = {konst ? *konst : x->arg, x->arg};
      konst = fold_alu(op, dt, args);
      if (!konst) return nullptr;
    } else {
      e.push_back(x);
    }
  }
  SmallVec<const UOp*, 16> orig;  // the chain as it is, to see whether anything changes
  for (const UOp* x : e) orig.push_back(x);
  bool had_const = konst.has_value();
  auto decided = [&](bool v) { return UOp::cnst_bool(v); };
  if (konst) {
    int64_t kv = wrap_int(dt, konst->is_bool() ? konst->as_bool() : konst->as_int());
    if (is_and ? kv == 0 : (dt.is_bool() ? kv == 1 : kv == -1))
      return UOp::cnst_int(dt, kv);                                             // absorbs
    if (is_and ? (dt.is_bool() ? kv == 1 : kv == -1) : kv == 0) konst.reset();  // neutral
  }
  for (size_t i = 1; i < e.size(); i++) {
    const UOp* v = e[i];
    size_t j = i;
    while (j > 0 && elem_cmp(e[j - 1], v) > 0) {
      e[j] = e[j - 1];
      j--;
    }
    e[j] = v;
  }
  size_t out = 0;
  for (size_t i = 0; i < e.size(); i++)
    if (out == 0 || e[out - 1] != e[i]) e[out++] = e[i];
  e.resize_down(out);
  if (dt.is_bool()) {
    // x and not-x: x&!x is false, x|!x is true
    for (const UOp* a : e)
      if (a->op == Op::CMPNE && a->src(1)->op == Op::CONST && a->src(1)->arg.to_double() == 1)
        for (const UOp* b : e)
          if (b == a->src(0).get()) return decided(!is_and);
    // bounds on the same X: & keeps the tightest and sees contradictions, | keeps the loosest and
    // sees when together they cover everything
    for (size_t i = 0; i < e.size(); i++) {
      if (!e[i]) continue;
      Bound bi = parse_bound(e[i]);
      if (!bi.x) continue;
      for (size_t j = 0; j < e.size(); j++) {
        if (i == j || !e[j]) continue;
        Bound bj = parse_bound(e[j]);
        if (bj.x != bi.x) continue;
        if (bj.upper == bi.upper) {
          bool i_tighter = bi.upper ? bi.v < bj.v : bi.v > bj.v;
          if (bi.v == bj.v) i_tighter = i < j;
          if (i_tighter == is_and)
            e[j] = nullptr;  // drop j
          else {
            e[i] = nullptr;
            break;
          }
        } else {
          i128 lo = bi.upper ? bj.v : bi.v, hi = bi.upper ? bi.v : bj.v;
          if (is_and && lo > hi) return decided(false);
          if (!is_and && lo <= hi + 1) return decided(true);
        }
      }
    }
    out = 0;
    for (size_t i = 0; i < e.size(); i++)
      if (e[i]) e[out++] = e[i];
    e.resize_down(out);
  }
  if (!had_const && !konst && e.size() == orig.size() &&
      std::equal(e.begin(), e.end(), orig.begin()))
    return nullptr;
  UOpRef acc;
  for (const UOp* x : e) acc = acc ? UOp::make(op, dt, {acc, x->ref()}) : x->ref();
  if (konst) {
    UOpRef kc = UOp::make(Op::CONST, dt, {}, canonical_const(dt, *konst));
    acc = acc ? UOp::make(op, dt, {acc, kc}) : kc;
  }
  if (!acc) return decided(is_and);
  return acc.get() == n ? nullptr : acc;  // the same elements or fewer: never bigger
}

}  // namespace fg::sym
