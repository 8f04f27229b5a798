// Symbolic rules: the simplifier every pass runs on index math, masks and constants.
// Guarantees: every rule is sound under the node dtype's exact C semantics (ints wrap at their
// width,
// // and % truncate toward zero, floats are IEEE in their own precision); no rule makes an
// expression's tree bigger (UOp::tree_size); sums and products have one canonical form (terms in
// a fixed structural order, constant last), so a+b and b+a simplify to the same node.
#pragma once
#include <cstdint>
#include <optional>
#include <span>

#include "femtograd/ir/pattern_matcher.h"

namespace fg {

// The full rule set: constant folding, identities, canonical sums and products, div/mod folding
// with ranges, comparisons decided by ranges, where/and/or folding, cast folding.
const PatternMatcher& symbolic();
// graph_rewrite(x, symbolic(), "symbolic")
UOpRef simplify(const UOpRef& x);

// ---- exact constant evaluation (ir/symbolic_fold.cc); also the reference for CPU const evaluation
// `dtype` is the dtype of the value operands (for comparisons the result is a bool Arg; for WHERE
// srcs[0] is the bool condition). Ints are int64 Args wrapped to the dtype's width (uint64 holds
// its bits); floats are doubles holding a value of the dtype's precision. Returns nullopt where C
// leaves the result undefined (division by zero, shift out of range) or the op does not apply to
// the dtype.
std::optional<Arg> fold_alu(Op op, DType dtype, std::span<const Arg> srcs);
// value conversion; float -> int truncates, and a float out of the int's range (or NaN) gives
// nullopt
std::optional<Arg> fold_cast(const Arg& v, DType from, DType to);
// bits reinterpreted between types of the same size
std::optional<Arg> fold_bitcast(const Arg& v, DType from, DType to);
// v as the canonical Arg of a scalar dtype: ints wrapped, floats rounded (round to nearest even),
// bools
Arg canonical_const(DType dt, const Arg& v);
// an integer wrapped to the width of dt (sign-extended for signed types; Index is int64)
int64_t wrap_int(DType dt, int64_t v);
// v rounded to the precision of the float dtype dt (round to nearest even; overflow gives inf,
// or NaN for fp8e4m3 which has no inf)
double round_float(DType dt, double v);
// IEEE encodings of the small float types (half, bfloat16, fp8) and back
uint64_t float_to_bits(DType dt, double v);
double float_from_bits(DType dt, uint64_t bits);

// ---- internals shared by ir/symbolic_*.cc (not an API)
namespace sym {
using i128 = __int128;

// fixed-capacity inline vector with heap fallback, so the rule hot paths do not allocate
template <class T, int N = 12>
class SmallVec {
 public:
  SmallVec() = default;
  SmallVec(const SmallVec&) = delete;
  SmallVec& operator=(const SmallVec&) = delete;
  ~SmallVec() {
    if (heap_) delete[] heap_;
  }
  void push_back(const T& v) {
    if (n_ == cap_) grow();
    data()[n_++] = v;
  }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  void clear() { n_ = 0; }
  void resize_down(size_t n) { n_ = n; }
  T* begin() { return data(); }
  T* end() { return data() + n_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + n_; }
  T& back() { return data()[n_ - 1]; }
  void pop_back() { n_--; }

 private:
  T* data() { return heap_ ? heap_ : inl_; }
  const T* data() const { return heap_ ? heap_ : inl_; }
  void grow() {
    T* h = new T[cap_ * 2];
    for (size_t i = 0; i < n_; i++) h[i] = data()[i];
    if (heap_) delete[] heap_;
    heap_ = h;
    cap_ *= 2;
  }
  T inl_[N];
  T* heap_ = nullptr;
  size_t n_ = 0, cap_ = N;
};

// Whether range analysis is sound for n: a scalar int (not uint64, whose values above int64 do
// not fit the bounds) or bool.
bool ranged(const UOp* n);
bool ranged(DType dt);
i128 dmin(DType dt);
i128 dmax(DType dt);

// One term of a sum: coef * base (base is never a CONST or an ADD; coef is the dtype's value).
struct Term {
  const UOp* base;
  int64_t coef;
  const UOp* node = nullptr;  // the node this term came from, reused while it still matches
};
// A sum as terms in canonical order plus a constant. lo/hi: the exact (unwrapped) interval of the
// sum from the terms' bounds; fits: it lies in the dtype's range, so the node's value is that sum.
struct Linear {
  SmallVec<Term> terms;
  int64_t konst = 0;
  i128 lo = 0, hi = 0;
  bool fits = false;
};
// the terms of x (a canonical sum, a term or a constant); computes lo/hi/fits when x is ranged
void linearize(const UOp* x, Linear& out);
// interval of one term, exact
void term_range(const Term& t, i128* lo, i128* hi);
// builds the canonical sum of terms (sorted, like terms combined here) plus konst
// hint: a sum whose leading terms the result may share (its prefix nodes are reused)
UOpRef build_sum(DType dt, SmallVec<Term>& terms, int64_t konst, const UOp* hint = nullptr);
// tree size of the sum build_sum would make, from the terms' base sizes (an upper bound)
int64_t sum_size(const SmallVec<Term>& terms, int64_t konst, const int64_t* base_sizes);
// the node of one term: base, or base*coef
UOpRef term_node(DType dt, const Term& t);

// total structural order used for canonical sums and products (never by pointer: deterministic)
int node_cmp(const UOp* a, const UOp* b);
// tree size (shared subtrees counted at each use), saturating
int64_t tree_size(const UOp* n);
// r when it is not bigger than n (as a tree), else null: the guard of every rewrite that builds
UOpRef no_bigger(const UOp* n, UOpRef r);

// the algorithmic rules (one per op family); null when nothing applies
UOpRef fold_add(const UOp* n);     // canonical sum, like terms, (x//c)*c + x%c recombination
UOpRef fold_mul(const UOp* n);     // canonical product, constant distribution
UOpRef fold_divmod(const UOp* n);  // x//c and x%c from ranges
UOpRef fold_cmplt(const UOp* n);   // x<c and c<x: constants moved, common factors divided out
UOpRef fold_cmpeq(const UOp* n);   // x!=c and x==c likewise
UOpRef fold_andor(const UOp* n);   // &/| chains: sorted, deduplicated, bounds on one x merged
// the gcd of |a| and |b| (exact for INT64_MIN)
inline i128 gcd(i128 a, i128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}
int64_t floordiv(int64_t a, int64_t b);
int64_t floormod(int64_t a, int64_t b);
}  // namespace sym

}  // namespace fg
