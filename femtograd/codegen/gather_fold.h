// Gather folding: a reduce that picks one element of its range by an index compare becomes an
// indexed load. Tensor indexing, gather and one_hot build `where(idx == arange(n), x, 0).sum()`
// (lazy, one IR); looping over all n to keep one element costs n times a load. Guarantees:
//   REDUCE(op, WHERE(c1 & .. & (e == r) & .. & ck, v(r), identity), r, rs...)
//     -> REDUCE(op, WHERE(0 <= e < n & c1(e) & .. & ck(e), v(e), identity), rs...)
// for a reduce range r of n iterations and any e in which r does not appear; with rs empty the
// REDUCE goes. r may be compared through a cast to an int dtype that holds 0..n-1 (the arange's
// dtype), and with a constant added (r + c == e picks r = e - c). Every load in v(e) whose address
// depended on r is gated on the new validity, so an out-of-range e reads nothing and gives the
// identity, as the loop did. The results agree with the loop exactly, except that an ADD may give
// +0.0 where the loop summed -0.0 + 0.
#pragma once
#include "femtograd/ir/pattern_matcher.h"

namespace fg {

// The rule (on REDUCE nodes of a lowered kernel); it builds nodes that symbolic() then simplifies.
const PatternMatcher& gather_fold();
// where(c, LOAD(INDEX(buf, i, gate), a), a) -> the load, when gate implies c (the load already
// gives a where c fails): the where that padding and the rule above put around a gated load
const PatternMatcher& gated_loads();

}  // namespace fg
