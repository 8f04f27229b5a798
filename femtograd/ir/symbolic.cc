// The symbolic rule set. Each group says why it holds; the algorithmic rules (canonical sums and
// products, div/mod and comparison folding) live in ir/symbolic_*.cc, the exact constant
// evaluation in ir/symbolic_fold.cc.
// Guarantees: every rule is exact under C semantics of the node's dtype (ints wrap; // and %
// truncate), range-based rules use only sound bounds (ir/bounds.cc), and no rule grows the tree.
#include "femtograd/ir/symbolic.h"

#include "femtograd/ir/graph_rewrite.h"

namespace fg {
namespace {
using namespace sym;

int64_t ival(const UOp* c) {
  return wrap_int(c->dtype, c->arg.is_bool() ? c->arg.as_bool() : c->arg.to_int());
}
UOpRef zero_like(const UOp* n) { return UOp::cnst_int(n->dtype, 0); }

// a rule that folds the root through one of the sym:: functions
template <UOpRef (*F)(const UOp*)>
UOpRef on_root(const Match& m) {
  return F(m.root);
}

// an ALU node of constants is its value (fold_alu: exact in the dtype); an int or bool node whose
// range is one value is that value (bounds are sound: no uint64 anywhere)
UOpRef fold_constant(const UOp* n) {
  bool all_const = is_alu(n->op) && n->nsrc() <= 3;
  for (const UOpRef& s : n->src()) all_const &= s->op == Op::CONST;
  if (all_const) {
    Arg args[3];
    for (size_t i = 0; i < n->nsrc(); i++) args[i] = n->src(i)->arg;
    DType operand = n->src(n->nsrc() - 1)->dtype;
    if (std::optional<Arg> r = fold_alu(n->op, operand, std::span<const Arg>(args, n->nsrc())))
      return UOp::make(Op::CONST, n->dtype, {}, canonical_const(n->dtype, *r));
  }
  if (!ranged(n) || n->vmin() != n->vmax()) return nullptr;
  for (const UOpRef& s : n->src())
    if (s->dtype.scalar == ScalarType::UInt64) return nullptr;
  return UOp::cnst_int(n->dtype, n->vmin());
}

// every value of x survives a trip through dtype a
bool lossless(const UOp* x, DType a) {
  DType f = x->dtype;
  if (f == a || f.is_bool()) return true;
  if (f.is_ptr() || a.is_ptr() || f.count != 1 || a.count != 1) return false;
  if (f.is_int() && ranged(f)) {
    i128 lo = x->vmin(), hi = x->vmax();
    if (a.is_bool()) return lo >= 0 && hi <= 1;
    if (a.is_int()) return lo >= dmin(a) && hi <= dmax(a);
    int mant = a.scalar == ScalarType::Float64    ? 53
               : a.scalar == ScalarType::Float32  ? 24
               : a.scalar == ScalarType::Float16  ? 11
               : a.scalar == ScalarType::BFloat16 ? 8
               : a.scalar == ScalarType::FP8E4M3  ? 4
                                                  : 3;
    i128 lim = i128(1) << mant;
    return a.is_float() && lo >= -lim && hi <= lim;
  }
  if (f.is_float() && a.is_float()) {
    auto rank = [](ScalarType s) {  // (exponent bits, mantissa bits)
      switch (s) {
        case ScalarType::Float64: return std::pair(11, 52);
        case ScalarType::Float32: return std::pair(8, 23);
        case ScalarType::Float16: return std::pair(5, 10);
        case ScalarType::BFloat16: return std::pair(8, 7);
        case ScalarType::FP8E4M3: return std::pair(4, 3);
        default: return std::pair(5, 2);
      }
    };
    auto [fe, fm] = rank(f.scalar);
    auto [ae, am] = rank(a.scalar);
    return ae >= fe && am >= fm;
  }
  return false;
}

}  // namespace

const PatternMatcher& symbolic() {
  static const PatternMatcher pm = [] {
    const UPat x = UPat::var("x"), y = UPat::var("y"), z = UPat::var("z"), w = UPat::var("w");
    const UPat c = UPat::cvar("c"), c1 = UPat::cvar("c1"), c2 = UPat::cvar("c2"),
               c3 = UPat::cvar("c3");
    const UPat ix = x.of(DTypeClass::Int), bx = x.of(DTypeClass::Bool),
               ibx = x.of(DTypeClass::IntOrBool);
    const UPat T = UPat::cnst(1).with_dtype(dtypes::bool_),
               F = UPat::cnst(0).with_dtype(dtypes::bool_);

    return PatternMatcher({
        // ---- constants: an ALU node of constants is its value, computed exactly in its dtype;
        //      a node whose range is a single value is that value
        Rule(UPat(opgroups::ALU | OpSet(Op::CAST)), on_root<fold_constant>),
        Rule(UPat(Op::CAST, {c}),
             [c](const Match& m) -> UOpRef {
               auto r = fold_cast(m.get(c)->arg, m.get(c)->dtype, m.root->dtype);
               return r ? UOp::make(Op::CONST, m.root->dtype, {},
                                    canonical_const(m.root->dtype, *r))
                        : nullptr;
             }),
        Rule(UPat(Op::BITCAST, {c}),
             [c](const Match& m) -> UOpRef {
               auto r = fold_bitcast(m.get(c)->arg, m.get(c)->dtype, m.root->dtype);
               return r ? UOp::make(Op::CONST, m.root->dtype, {},
                                    canonical_const(m.root->dtype, *r))
                        : nullptr;
             }),
        // a constant holds its dtype's canonical value (ints wrapped, floats rounded), so equal
        // values are one node and range analysis sees the real value
        Rule(UPat(Op::CONST),
             [](const Match& m) -> UOpRef {
               const UOp* n = m.root;
               const DType& dt = n->dtype;
               if (!n->arg.is_number() || dt.is_ptr() || dt.count != 1) return nullptr;
               if (dt.is_int() && n->arg.is_int() &&
                   wrap_int(dt, n->arg.as_int()) == n->arg.as_int())
                 return nullptr;  // the common case, without building an Arg
               if (dt.is_bool() && n->arg.is_bool()) return nullptr;
               Arg a = canonical_const(dt, n->arg);
               return a == n->arg ? nullptr : UOp::make(Op::CONST, n->dtype, n->src(), a);
             }),

        // ---- identities that hold for every value (ints: mod 2^bits; x*0 not for floats: NaN,
        // inf)
        Rule(ix + 0, x),
        Rule(x * 1, x),
        Rule(ibx * 0, [](const Match& m) { return zero_like(m.root); }),
        Rule(idiv(x, 1), x),
        Rule(x % 1, [](const Match& m) { return zero_like(m.root); }),
        Rule(idiv(ix, -1), [x](const Match& m) { return -m[x]; }),
        Rule(x & x, x),
        Rule(x | x, x),
        Rule(x.maximum(x), x),
        Rule(ibx ^ x, [](const Match& m) { return zero_like(m.root); }),
        Rule(ix & 0, [](const Match& m) { return zero_like(m.root); }),
        Rule(ix | 0, x),
        Rule(ix ^ 0, x),
        Rule(ix & -1, x),
        Rule(UPat(Op::SHL, {x, UPat(0)}), x),
        Rule(UPat(Op::SHR, {x, UPat(0)}), x),
        Rule(ibx.alu(Op::TRUNC), x),
        // x<x is false for every type (NaN included); x!=x and x==x only for ints (NaN != NaN)
        Rule(x.lt(x), [](const Match&) { return UOp::cnst_bool(false); }),
        Rule(ibx.ne(x), [](const Match&) { return UOp::cnst_bool(false); }),
        Rule(ibx.eq(x), [](const Match&) { return UOp::cnst_bool(true); }),
        // bool algebra: true/false absorb or vanish, not(not x) is x, x&!x and x|!x decide
        Rule(bx & T, x),
        Rule(bx & F, [](const Match&) { return UOp::cnst_bool(false); }),
        Rule(bx | T, [](const Match&) { return UOp::cnst_bool(true); }),
        Rule(bx | F, x),
        Rule(bx ^ F, x),
        Rule(bx.ne(F), x),
        Rule(bx.eq(T), x),
        Rule(bx.eq(F), [x](const Match& m) { return m[x]->logical_not(); }),
        Rule(bx ^ T, [x](const Match& m) { return m[x]->logical_not(); }),
        Rule(bx.ne(T).ne(T), x),
        Rule(bx & bx.ne(T), [](const Match&) { return UOp::cnst_bool(false); }),
        Rule(bx | bx.ne(T), [](const Match&) { return UOp::cnst_bool(true); }),

        // ---- where: a decided condition picks its branch; equal branches need no condition
        Rule(UPat::where(x, y, y), y),
        Rule(UPat::where(c, x, y),
             [c, x, y](const Match& m) { return m.get(c)->arg.to_double() != 0 ? m[x] : m[y]; }),
        Rule(UPat::where(bx, T, F), x),
        Rule(UPat::where(bx, F, T), [x](const Match& m) { return m[x]->logical_not(); }),
        Rule(UPat::where(bx.ne(T), y, z),
             [x, y, z](const Match& m) { return m[x]->where(m[z], m[y]); }),
        // inside where(x, a, b), a second test of x is true in a and false in b
        Rule(UPat::where(x, UPat::where(x, y, z), w),
             [x, y, w](const Match& m) { return m[x]->where(m[y], m[w]); }),
        Rule(UPat::where(x, w, UPat::where(x, y, z)),
             [x, z, w](const Match& m) { return m[x]->where(m[w], m[z]); }),
        Rule(UPat::where(x, UPat::where(y, z, w), w),
             [x, y, z, w](const Match& m) { return (m[x] & m[y])->where(m[z], m[w]); }),

        // ---- max of ints whose ranges do not overlap is the larger one
        Rule(ix.maximum(y),
             [x, y](const Match& m) -> UOpRef {
               const UOp *a = m.get(x), *b = m.get(y);
               if (!ranged(a)) return nullptr;
               if (a->vmin() >= b->vmax()) return m[x];
               if (b->vmin() >= a->vmax()) return m[y];
               return nullptr;
             }),

        // ---- casts: to its own dtype is nothing; through a dtype that holds every value is one
        // cast
        Rule(UPat(Op::CAST, {x}),
             [x](const Match& m) -> UOpRef {
               return m.get(x)->dtype == m.root->dtype ? m[x] : nullptr;
             }),
        Rule(UPat(Op::CAST, {UPat(Op::CAST, {x}).named("a")}),
             [x](const Match& m) -> UOpRef {
               const UOp* xv = m.get(x);
               if (!lossless(xv, m.root->src(0)->dtype)) return nullptr;
               return xv->dtype == m.root->dtype ? m[x]
                                                 : UOp::make(Op::CAST, m.root->dtype, {m[x]});
             }),
        Rule(UPat(Op::BITCAST, {UPat(Op::BITCAST, {x})}),
             [x](const Match& m) -> UOpRef {
               return m.get(x)->dtype == m.root->dtype
                          ? m[x]
                          : UOp::make(Op::BITCAST, m.root->dtype, {m[x]});
             }),
        Rule(UPat(Op::BITCAST, {x}),
             [x](const Match& m) -> UOpRef {
               return m.get(x)->dtype == m.root->dtype ? m[x] : nullptr;
             }),

        // ---- constants to the right of commutative ops (one form for c+x and x+c)
        Rule(UPat(opgroups::Commutative, {c, x}),
             [c, x](const Match& m) -> UOpRef {
               if (m.get(x)->op == Op::CONST) return nullptr;
               return UOp::make(m.root->op, m.root->dtype, {m[x], m[c]});
             }),
        // ---- canonical sums and products of ints: sorted terms, like terms combined, constant
        //      last, (x//c)*c + x%c recombined, (x+c1)*c2 distributed when it does not grow
        Rule(UPat(Op::ADD).of(DTypeClass::Int), on_root<fold_add>),
        Rule(UPat(Op::MUL).of(DTypeClass::Int), on_root<fold_mul>),

        // ---- div and mod: nested forms (exact for every value under C truncation), then ranges
        Rule(idiv(ix, x),
             [x](const Match& m) -> UOpRef {  // x//x is 1 where x cannot be 0
               const UOp* v = m.get(x);
               return ranged(v) && (v->vmin() > 0 || v->vmax() < 0) ? UOp::cnst_int(v->dtype, 1)
                                                                    : nullptr;
             }),
        Rule(ix % x,
             [x](const Match& m) -> UOpRef {
               const UOp* v = m.get(x);
               return ranged(v) && (v->vmin() > 0 || v->vmax() < 0) ? zero_like(v) : nullptr;
             }),
        // (x//a)//b is x//(a*b): truncation composes (a, b not -1, where x//-1 may wrap)
        Rule(idiv(idiv(ix, c1), c2),
             [x, c1, c2](const Match& m) -> UOpRef {
               i128 a = ival(m.get(c1)), b = ival(m.get(c2)), ab = a * b;
               if (!ranged(m.root) || a == 0 || b == 0 || a == -1 || b == -1) return nullptr;
               if (ab < dmin(m.root->dtype) || ab > dmax(m.root->dtype)) return nullptr;
               return idiv(m[x], static_cast<int64_t>(ab));
             }),
        // (x%m)%a is x%a when a divides m: x%m differs from x by a multiple of m, keeps x's sign
        Rule((ix % c1) % c2,
             [x, c1, c2](const Match& m) -> UOpRef {
               int64_t a = ival(m.get(c1)), b = ival(m.get(c2));
               if (!ranged(m.root) || b == 0 || a == 0 || a % b != 0) return nullptr;
               return m[x] % m[c2];
             }),
        // (x%(k*c))//c is (x//c)%k for c, k > 0 (both sides are the digit of x at c, signed like x)
        Rule(idiv(ix % c1, c2),
             [x, c1, c2](const Match& m) -> UOpRef {
               int64_t a = ival(m.get(c1)), b = ival(m.get(c2));
               if (!ranged(m.root) || a <= 0 || b <= 0 || a % b != 0) return nullptr;
               return idiv(m[x], m[c2]) % (a / b);
             }),
        // (x//c + a)//d is (x + a*c)//(c*d) for c, d > 0 when both numerators are >= 0
        Rule(idiv(idiv(ix, c1) + c2, c3),
             [x, c1, c2, c3](const Match& m) -> UOpRef {
               const UOp* inner = m.root->src(0).get();
               i128 cc = ival(m.get(c1)), a = ival(m.get(c2)), d = ival(m.get(c3));
               DType dt = m.root->dtype;
               if (!ranged(m.root) || cc <= 0 || d <= 0 || m.get(x)->vmin() < 0 ||
                   inner->vmin() < 0)
                 return nullptr;
               i128 hi = i128(m.get(x)->vmax()) + a * cc;
               if (cc * d > dmax(dt) || a * cc < dmin(dt) || a * cc > dmax(dt) || hi > dmax(dt))
                 return nullptr;
               return no_bigger(
                   m.root, idiv(m[x] + static_cast<int64_t>(a * cc), static_cast<int64_t>(cc * d)));
             }),
        // a loop variable is below its end
        Rule(UPat(Op::RANGE, {x}).named("r") % x, [](const Match& m) { return m.root->src(0); }),
        Rule(idiv(UPat(Op::RANGE, {x}), x), [](const Match& m) { return zero_like(m.root); }),
        Rule(UPat({Op::IDIV, Op::MOD}).of(DTypeClass::Int), on_root<fold_divmod>),

        // ---- comparisons: ranges decide them (above); negations cancel; constants move, common
        //      factors divide out
        Rule((ix * -1).lt(y * -1),
             [x, y](const Match& m) -> UOpRef {
               const UOp *a = m.get(x), *b = m.get(y);
               if (!ranged(a) || a->dtype.is_unsigned() || a->vmin() <= dmin(a->dtype) ||
                   b->vmin() <= dmin(b->dtype))
                 return nullptr;
               return m[y]->lt(m[x]);
             }),
        Rule(UPat(Op::CMPLT), on_root<fold_cmplt>),
        Rule(UPat({Op::CMPNE, Op::CMPEQ}), on_root<fold_cmpeq>),
        // not(x<c) is c-1<x and not(c<x) is x<c+1 for ints (one form for bounds, and smaller)
        Rule(ix.lt(c).ne(T),
             [x, c](const Match& m) -> UOpRef {
               int64_t v = ival(m.get(c));
               return ranged(m.get(x)) && v > dmin(m.get(x)->dtype)
                          ? m[x]->const_like_int(v - 1)->lt(m[x])
                          : nullptr;
             }),
        Rule(c.lt(ix).ne(T),
             [x, c](const Match& m) -> UOpRef {
               int64_t v = ival(m.get(c));
               return ranged(m.get(x)) && v < dmax(m.get(x)->dtype) ? m[x]->lt(v + 1) : nullptr;
             }),
        // &/| chains: one sorted order, no repeats, x&!x, and bounds on one x merged or decided
        Rule(UPat({Op::AND, Op::OR}), on_root<fold_andor>),
    });
  }();
  return pm;
}

UOpRef simplify(const UOpRef& x) { return graph_rewrite(x, symbolic(), "symbolic"); }

}  // namespace fg
