// Verifiers ("ir/spec"): what a valid node looks like at each stage, written as pattern sets.
// A spec rule matches a node's shape and its function accepts it (returns the matched node,
// m.root) or declines (returns null). verify() guarantees that every node reachable from a root is
// accepted by some rule of the spec, or throws Error(Internal) naming the stage, the node and its
// sources. Tests and SPEC=1 run these after passes.
#pragma once
#include <string_view>

#include "femtograd/ir/pattern_matcher.h"

namespace fg {

// For spec rule functions: accept the matched node when ok holds, decline otherwise.
inline UOpRef spec_accept(const Match& m, bool ok) { return ok ? UOpRef::share(m.root) : UOpRef(); }

// Throws Error(Internal, "verify", ...) at the first node (sources before users) that no rule of
// spec accepts.
void verify(const UOpRef& root, const PatternMatcher& spec, std::string_view stage);
// Whether some rule of spec accepts n; never throws for a declined node.
bool spec_accepts(const UOp* n, const PatternMatcher& spec);

// Arithmetic and its leaves, valid at every stage: ALU ops (binary sources share the result dtype,
// comparisons give bool, WHERE takes a bool condition and equal branches, IDIV/MOD/shifts/bitwise
// ops take ints or bools, G_FLOAT_ONLY ops take floats), CAST (same vector width), BITCAST (same
// size), CONST (arg kind matches the dtype), DEFINE_VAR (a VarArg on an int dtype) and RANGE (an
// int-like end).
const PatternMatcher& spec_alu();

}  // namespace fg
