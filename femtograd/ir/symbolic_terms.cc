// Canonical sums and products of integers.
// Guarantees: a sum is a left chain t1 + t2 + ... + tk + c whose terms are sorted by their base
// (the term without its constant coefficient) in node_cmp order, with no two terms sharing a base
// and the constant last and nonzero; a product is a left chain f1 * f2 * ... * c with sorted
// factors and the constant last. Every step is a ring identity mod 2^bits (ints wrap), so it holds
// for every value, and none makes the tree bigger. (x//c)*c + x%c and ((x//c)%d)*c + x%c recombine
// here.
#include <algorithm>
#include <bit>
#include <tuple>

#include "femtograd/base/ptr_map.h"
#include "femtograd/ir/symbolic.h"

namespace fg::sym {
namespace {
constexpr i128 kSat =
    i128(1) << 100;  // term bounds are clamped here: beyond it nothing fits anyway
i128 sat(i128 v) { return v > kSat ? kSat : v < -kSat ? -kSat : v; }

int rank(Op op) {
  switch (op) {
    case Op::DEFINE_VAR:
    case Op::RANGE:
    case Op::SPECIAL: return 0;
    case Op::CONST:
    case Op::VCONST: return 2;
    default: return 1;
  }
}

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : b < a ? 1 : 0;
}

int arg_cmp(const Arg& a, const Arg& b) {
  if (a.value().index() != b.value().index())
    return three_way(a.value().index(), b.value().index());
  if (a.is_bool()) return three_way(a.as_bool(), b.as_bool());
  if (a.is_int()) return three_way(a.as_int(), b.as_int());
  if (a.is_float())
    return three_way(std::bit_cast<int64_t>(a.as_float()), std::bit_cast<int64_t>(b.as_float()));
  if (a.is_str()) return a.as_str().compare(b.as_str()) < 0 ? -1 : a.as_str() == b.as_str() ? 0 : 1;
  if (a.is_ints()) return three_way(a.as_ints(), b.as_ints());
  if (const auto* va = std::get_if<VarArg>(&a.value())) {
    const VarArg& vb = b.as_var();
    if (int c = va->name.compare(vb.name)) return c < 0 ? -1 : 1;
    return three_way(std::pair(va->min, va->max), std::pair(vb.min, vb.max));
  }
  if (const auto* ra = std::get_if<ReduceArg>(&a.value())) {
    const ReduceArg& rb = b.as_reduce();
    return three_way(std::pair(ra->op, ra->axes), std::pair(rb.op, rb.axes));
  }
  if (a == b) return 0;
  if (int c = three_way(a.hash(), b.hash())) return c;
  return three_way(a.str(), b.str());
}

int dtype_cmp(const DType& a, const DType& b) {
  return three_way(std::tuple(a.scalar, a.space, a.count, a.size),
                   std::tuple(b.scalar, b.space, b.count, b.size));
}

int64_t const_int(const UOp* c) { return c->arg.is_bool() ? c->arg.as_bool() : c->arg.as_int(); }
bool is_int_const(const UOp* n) { return n->op == Op::CONST && !n->arg.is_float(); }

// splits a term node into base and coefficient
Term split_term(const UOp* t) {
  if (t->op == Op::MUL) {
    if (is_int_const(t->src(1).get()))
      return {t->src(0).get(), wrap_int(t->dtype, const_int(t->src(1).get())), t};
    if (is_int_const(t->src(0).get()))
      return {t->src(1).get(), wrap_int(t->dtype, const_int(t->src(0).get())), t};
  }
  return {t, 1, t};
}

// appends the terms of the ADD tree x (in order) and folds its constants into konst
void flatten_sum(const UOp* x, DType dt, SmallVec<Term>& terms, int64_t& konst) {
  SmallVec<const UOp*, 16> stack;
  stack.push_back(x);
  while (!stack.empty()) {
    const UOp* n = stack.back();
    stack.pop_back();
    if (n->op == Op::ADD) {
      stack.push_back(n->src(1).get());
      stack.push_back(n->src(0).get());
    } else if (is_int_const(n)) {
      konst = wrap_int(dt, static_cast<int64_t>(static_cast<uint64_t>(konst) +
                                                static_cast<uint64_t>(const_int(n))));
    } else {
      terms.push_back(split_term(n));
    }
  }
}

// sorts by base, combines like terms, drops zero terms; an ADD with coefficient 1 is opened up
void normalize(DType dt, SmallVec<Term>& t, int64_t& konst) {
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < t.size();) {
      if (t[i].coef == 1 && t[i].base->op == Op::ADD) {
        const UOp* b = t[i].base;
        t[i] = t.back();
        t.pop_back();
        flatten_sum(b, dt, t, konst);
      } else {
        i++;
      }
    }
    for (size_t i = 1; i < t.size(); i++) {  // insertion sort: the inputs are nearly sorted
      Term v = t[i];
      size_t j = i;
      while (j > 0 && node_cmp(t[j - 1].base, v.base) > 0) {
        t[j] = t[j - 1];
        j--;
      }
      t[j] = v;
    }
    size_t out = 0;
    for (size_t i = 0; i < t.size(); i++) {
      if (out > 0 && t[out - 1].base == t[i].base)
        t[out - 1].coef = wrap_int(dt, static_cast<int64_t>(static_cast<uint64_t>(t[out - 1].coef) +
                                                            static_cast<uint64_t>(t[i].coef)));
      else
        t[out++] = t[i];
    }
    t.resize_down(out);
    out = 0;
    for (size_t i = 0; i < t.size(); i++) {
      if (t[i].coef == 0) continue;
      again |= t[i].coef == 1 && t[i].base->op == Op::ADD;
      t[out++] = t[i];
    }
    t.resize_down(out);
  }
}

// m = (u%c)*k and q = (u//c)*(c*k) or ((u//c)%d)*(c*k), for c, d > 0: partners that recombine
bool partners(DType dt, const Term& m, const Term& q) {
  const UOp *mb = m.base, *qb = q.base;
  if (mb->op != Op::MOD || !is_int_const(mb->src(1).get())) return false;
  int64_t c = const_int(mb->src(1).get());
  if (c <= 0) return false;
  if (q.coef !=
      wrap_int(dt, static_cast<int64_t>(static_cast<uint64_t>(m.coef) * static_cast<uint64_t>(c))))
    return false;
  if (qb->op == Op::MOD && is_int_const(qb->src(1).get()) && const_int(qb->src(1).get()) > 0)
    qb = qb->src(0).get();
  return qb->op == Op::IDIV && qb->src(0) == mb->src(0) && is_int_const(qb->src(1).get()) &&
         const_int(qb->src(1).get()) == c;
}

// (u//c)*(c*k) + (u%c)*k -> u*k and ((u//c)%d)*(c*k) + (u%c)*k -> (u%(c*d))*k, for c, d > 0.
// Holds for every u under C truncation (and mod 2^bits). New bases are kept alive in `keep`.
bool recombine(DType dt, SmallVec<Term>& t, SmallVec<UOpRef, 4>& keep) {
  bool any = false;
  for (size_t i = 0; i < t.size(); i++) {
    for (size_t j = 0; j < t.size(); j++) {
      if (j == i || t[i].coef == 0 || t[j].coef == 0 || !partners(dt, t[i], t[j])) continue;
      const UOp *m = t[i].base, *q = t[j].base, *u = m->src(0).get();
      if (q->op == Op::IDIV) {
        t[i].base = u;
      } else {  // ((u//c)%d)*(c*k) + (u%c)*k -> (u%(c*d))*k
        i128 cd = i128(const_int(m->src(1).get())) * const_int(q->src(1).get());
        if (cd > dmax(dt)) continue;
        keep.push_back(
            UOp::make(Op::MOD, dt, {u->ref(), UOp::cnst_int(dt, static_cast<int64_t>(cd))}));
        t[i].base = keep.back().get();
      }
      t[i].node = nullptr;
      t[j].coef = 0;  // dropped by normalize
      any = true;
      break;
    }
  }
  return any;
}

// whether the new term R has a recombination partner among the terms of the canonical sum L
bool has_partner(DType dt, const UOp* L, const UOp* R) {
  Term r = split_term(R);
  const UOp* b = r.base;
  if (!(b->op == Op::MOD || b->op == Op::IDIV) || !is_int_const(b->src(1).get())) return false;
  for (const UOp* s = L;; s = s->src(0).get()) {
    Term t = split_term(s->op == Op::ADD ? s->src(1).get() : s);
    if (partners(dt, r, t) || partners(dt, t, r)) return true;
    if (s->op != Op::ADD) return false;
  }
}

// whether node tn is exactly the canonical node of term t
bool same_term(const UOp* tn, const Term& t) {
  if (t.coef == 1) return tn == t.base;
  return tn->op == Op::MUL && tn->src(0).get() == t.base && tn->src(1)->op == Op::CONST &&
         tn->src(1)->arg.is_int() && tn->src(1)->arg.as_int() == t.coef;
}

const UOp* last_term(const UOp* s) { return s->op == Op::ADD ? s->src(1).get() : s; }
const UOp* base_of(const UOp* t) { return split_term(t).base; }
}  // namespace

bool ranged(DType dt) {
  return !dt.is_ptr() && dt.count == 1 &&
         (dt.is_bool() || (dt.is_int() && dt.scalar != ScalarType::UInt64));
}
bool ranged(const UOp* n) { return ranged(n->dtype); }
i128 dmin(DType dt) { return dt.is_bool() ? 0 : dt.int_min(); }
i128 dmax(DType dt) { return dt.is_bool() ? 1 : dt.int_max(); }

int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floormod(int64_t a, int64_t b) { return a - floordiv(a, b) * b; }

int node_cmp(const UOp* a, const UOp* b) {
  while (a != b) {
    int ra = rank(a->op), rb = rank(b->op);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (a->op != b->op) return a->op < b->op ? -1 : 1;
    if (int c = dtype_cmp(a->dtype, b->dtype)) return c;
    if (int c = arg_cmp(a->arg, b->arg)) return c;
    if (a->nsrc() != b->nsrc()) return a->nsrc() < b->nsrc() ? -1 : 1;
    size_t i = 0;
    while (i < a->nsrc() && a->src(i) == b->src(i)) i++;
    if (i == a->nsrc()) return 0;  // distinct interned nodes always differ somewhere
    a = a->src(i).get(), b = b->src(i).get();
  }
  return 0;
}

namespace {
// memo of tree sizes: a small open-addressing table on the stack, a PtrMap past it
struct SizeMemo {
  static constexpr size_t kSlots = 128;  // power of two; used up to half
  const UOp* keys[kSlots] = {};
  int64_t vals[kSlots];
  size_t n = 0;
  PtrMap<int64_t>* big = nullptr;
  ~SizeMemo() { delete big; }
  static size_t slot(const UOp* k) {
    return (reinterpret_cast<uintptr_t>(k) >> 4) * 0x9E3779B97F4A7C15ULL >> 57;
  }
  const int64_t* find(const UOp* k) {
    if (big) return big->find(k);
    for (size_t i = slot(k);; i = (i + 1) & (kSlots - 1)) {
      if (keys[i] == k) return &vals[i];
      if (!keys[i]) return nullptr;
    }
  }
  void put(const UOp* k, int64_t v) {
    if (!big && n < kSlots / 2) {
      size_t i = slot(k);
      while (keys[i]) i = (i + 1) & (kSlots - 1);
      keys[i] = k, vals[i] = v, n++;
      return;
    }
    if (!big) {
      big = new PtrMap<int64_t>(2 * kSlots);
      for (size_t i = 0; i < kSlots; i++)
        if (keys[i]) big->put(keys[i], vals[i]);
    }
    big->put(k, v);
  }
};
}  // namespace

int64_t tree_size(const UOp* root) {
  constexpr int64_t kMax = int64_t(1) << 60;
  if (root->nsrc() == 0) return 1;
  SizeMemo memo;
  SmallVec<std::pair<const UOp*, bool>, 32> st;
  st.push_back({root, false});
  while (!st.empty()) {
    auto [n, expanded] = st.back();
    st.pop_back();
    if (!expanded) {
      if (memo.find(n)) continue;
      st.push_back({n, true});
      for (const UOpRef& s : n->src())
        if (s->nsrc() != 0 && !memo.find(s.get())) st.push_back({s.get(), false});
      continue;
    }
    if (memo.find(n)) continue;
    int64_t s = 1;
    for (const UOpRef& c : n->src()) {
      const int64_t* cs = c->nsrc() == 0 ? nullptr : memo.find(c.get());
      s = std::min(kMax, s + (cs ? *cs : 1));
    }
    memo.put(n, s);
  }
  return *memo.find(root);
}

UOpRef no_bigger(const UOp* n, UOpRef r) {
  if (!r || r.get() == n) return nullptr;
  return tree_size(r.get()) <= tree_size(n) ? r : nullptr;
}

void term_range(const Term& t, i128* lo, i128* hi) {
  i128 a = sat(i128(t.base->vmin()) * t.coef), b = sat(i128(t.base->vmax()) * t.coef);
  *lo = std::min(a, b), *hi = std::max(a, b);
}

void linearize(const UOp* x, Linear& out) {
  DType dt = x->dtype;
  out.terms.clear();
  out.konst = 0;
  flatten_sum(x, dt, out.terms, out.konst);
  out.lo = out.hi = out.konst;
  out.fits = ranged(dt);
  if (!out.fits) return;
  for (const Term& t : out.terms) {
    if (!t.base->has_bounds()) {
      out.fits = false;
      return;
    }
    i128 l, h;
    term_range(t, &l, &h);
    out.lo = sat(out.lo + l), out.hi = sat(out.hi + h);
  }
  out.fits = out.lo >= dmin(dt) && out.hi <= dmax(dt);
}

UOpRef term_node(DType dt, const Term& t) {
  if (t.coef == 1) return t.base->ref();
  if (t.node && same_term(t.node, t)) return t.node->ref();  // the node it came from
  return UOp::make(Op::MUL, dt, {t.base->ref(), UOp::cnst_int(dt, t.coef)});
}

int64_t sum_size(const SmallVec<Term>& terms, int64_t konst, const int64_t* base_sizes) {
  if (terms.empty()) return 1;
  int64_t s = static_cast<int64_t>(terms.size()) - 1 + (konst != 0 ? 2 : 0);
  for (size_t i = 0; i < terms.size(); i++) s += base_sizes[i] + (terms[i].coef != 1 ? 2 : 0);
  return s;
}

UOpRef build_sum(DType dt, SmallVec<Term>& terms, int64_t konst, const UOp* hint) {
  normalize(dt, terms, konst);
  if (terms.empty()) return UOp::cnst_int(dt, konst);
  UOpRef acc;
  size_t i = 0;
  if (hint) {  // reuse the longest prefix of hint's chain that has the same leading terms
    SmallVec<const UOp*, 16> spine;
    const UOp* first = hint;
    while (first->op == Op::ADD) spine.push_back(first), first = first->src(0).get();
    size_t j = 0, m = spine.size() + 1;
    while (j < m && j < terms.size() &&
           same_term(j == 0 ? first : spine[spine.size() - j]->src(1).get(), terms[j]))
      j++;
    if (j > 0) acc = (j == 1 ? first : spine[spine.size() - (j - 1)])->ref(), i = j;
  }
  if (!acc) acc = term_node(dt, terms[0]), i = 1;
  for (; i < terms.size(); i++) acc = UOp::make(Op::ADD, dt, {acc, term_node(dt, terms[i])});
  if (konst != 0) acc = UOp::make(Op::ADD, dt, {acc, UOp::cnst_int(dt, konst)});
  return acc;
}

UOpRef fold_add(const UOp* n) {
  DType dt = n->dtype;
  if (!dt.is_int() || dt.count != 1) return nullptr;
  const UOp *L = n->src(0).get(), *R = n->src(1).get();
  // already canonical: L is a canonical sum and R a term that sorts after L's last term
  if (R->op != Op::ADD && L->op != Op::CONST) {
    const UOp* last = last_term(L);
    if (last->op != Op::CONST) {
      if (R->op == Op::CONST) {
        if (R->arg.is_int() && wrap_int(dt, R->arg.as_int()) != 0 &&
            R->arg.as_int() == wrap_int(dt, R->arg.as_int()))
          return nullptr;
      } else if (node_cmp(base_of(last), base_of(R)) < 0 && !has_partner(dt, L, R)) {
        return nullptr;
      }
    }
  }
  SmallVec<Term> terms;
  int64_t konst = 0;
  flatten_sum(n, dt, terms, konst);
  SmallVec<UOpRef, 4> keep;
  normalize(dt, terms, konst);
  while (recombine(dt, terms, keep)) normalize(dt, terms, konst);
  UOpRef r = build_sum(dt, terms, konst, n);
  return r.get() == n ? nullptr : r;
}

UOpRef fold_mul(const UOp* n) {
  DType dt = n->dtype;
  if (!dt.is_int() || dt.count != 1) return nullptr;
  const UOp *L = n->src(0).get(), *R = n->src(1).get();
  if (L->op != Op::CONST && R->op != Op::MUL) {
    const UOp* last = L->op == Op::MUL ? L->src(1).get() : L;
    if (R->op == Op::CONST) {
      int64_t c = R->arg.is_int() ? R->arg.as_int() : -1;
      bool canon = R->arg.is_int() && c == wrap_int(dt, c) && c != 0 && c != 1;
      if (canon && last->op != Op::CONST && L->op != Op::ADD) return nullptr;
      // (sum)*c with two or more unit terms and no constant: nothing to distribute
      if (canon && L->op == Op::ADD && !is_int_const(L->src(1).get())) {
        int units = 0;
        for (const UOp* s = L;; s = s->src(0).get()) {
          const UOp* t = s->op == Op::ADD ? s->src(1).get() : s;
          units += split_term(t).coef == 1 && !is_int_const(t);
          if (s->op != Op::ADD || units > 1) break;
        }
        if (units > 1) return nullptr;
      }
    } else if (last->op != Op::CONST && node_cmp(last, R) <= 0) {
      return nullptr;
    }
  }
  // flatten the factors; constants multiply (mod 2^bits)
  SmallVec<const UOp*, 8> f;
  uint64_t c = 1;
  SmallVec<const UOp*, 16> stack;
  stack.push_back(n);
  while (!stack.empty()) {
    const UOp* x = stack.back();
    stack.pop_back();
    if (x->op == Op::MUL) {
      stack.push_back(x->src(1).get());
      stack.push_back(x->src(0).get());
    } else if (is_int_const(x)) {
      c *= static_cast<uint64_t>(const_int(x));
    } else {
      f.push_back(x);
    }
  }
  int64_t k = wrap_int(dt, static_cast<int64_t>(c));
  if (k == 0 || f.empty()) return UOp::cnst_int(dt, k);
  // (sum)*k distributes when at most one term has coefficient 1 (so the tree does not grow)
  if (f.size() == 1 && f[0]->op == Op::ADD && k != 1) {
    Linear lin;
    linearize(f[0], lin);
    int units = 0;
    for (const Term& t : lin.terms) units += t.coef == 1;
    int64_t kk = wrap_int(
        dt, static_cast<int64_t>(static_cast<uint64_t>(lin.konst) * static_cast<uint64_t>(k)));
    if (units <= 1) {
      for (Term& t : lin.terms)
        t.coef = wrap_int(
            dt, static_cast<int64_t>(static_cast<uint64_t>(t.coef) * static_cast<uint64_t>(k)));
      return build_sum(dt, lin.terms, kk);
    }
    // otherwise only the constant comes out: (s + c)*k -> s*k + c*k, the same size
    if (lin.konst != 0) {
      UOpRef s = build_sum(dt, lin.terms, 0);
      return UOp::make(Op::ADD, dt,
                       {UOp::make(Op::MUL, dt, {s, UOp::cnst_int(dt, k)}), UOp::cnst_int(dt, kk)});
    }
  }
  for (size_t i = 1; i < f.size(); i++) {
    const UOp* v = f[i];
    size_t j = i;
    while (j > 0 && node_cmp(f[j - 1], v) > 0) {
      f[j] = f[j - 1];
      j--;
    }
    f[j] = v;
  }
  UOpRef acc = f[0]->ref();
  for (size_t i = 1; i < f.size(); i++) acc = UOp::make(Op::MUL, dt, {acc, f[i]->ref()});
  if (k != 1) acc = UOp::make(Op::MUL, dt, {acc, UOp::cnst_int(dt, k)});
  return acc.get() == n ? nullptr : acc;
}

}  // namespace fg::sym
