// The verifier walk and the ALU spec. Rules here accept or decline; they never rewrite.
#include "femtograd/ir/spec.h"

#include <string>
#include <variant>

#include "femtograd/base/error.h"

namespace fg {
namespace {

// The rules of spec whose root pattern can match a node of op `op` (an empty op set means any).
bool may_match(const Rule& r, Op op) {
  const OpSet& ops = r.pat.node().ops;
  return ops.empty() || ops.has(op);
}

// Tries every rule; `declined` gets the last rule whose pattern matched but whose function said no.
bool accepts(const UOp* n, const PatternMatcher& spec, Match& m, const Rule** declined) {
  for (const Rule& r : spec.rules()) {
    if (!may_match(r, n->op)) continue;
    m.undo(0);
    m.root = n;
    if (!match(r.pat, n, m)) continue;
    UOpRef res = r.fn(m, nullptr);
    if (res.get() == n) return true;
    if (declined) *declined = &r;
  }
  return false;
}

constexpr OpSet minus(OpSet a, OpSet b) {
  OpSet s;
  s.lo = a.lo & ~b.lo;
  s.hi = a.hi & ~b.hi;
  return s;
}

// a value (not a pointer, not void)
bool is_value(const DType& d) { return !d.is_ptr() && d.scalar != ScalarType::Void; }

// the dtypes an ALU op may compute in, from its op groups
bool alu_dtype_ok(Op op, const DType& d) {
  if (!is_value(d)) return false;
  if (op_in(op, G_FLOAT_ONLY)) return d.is_float();
  if (op_in(op, G_INT_ONLY)) return d.is_int() || d.is_bool();
  return true;
}

bool const_arg_ok(const UOp& n) {
  const DType& d = n.dtype;
  if (!is_value(d) || d.is_vec()) return false;  // vector constants are VECTORIZE or VCONST
  if (d.is_bool()) return n.arg.is_bool();
  if (d.is_int()) return n.arg.is_int();
  if (d.is_float()) return n.arg.is_float();
  return false;
}

constexpr OpSet kUnary = opgroups::Unary;
constexpr OpSet kCompare = opgroups::Comparison;
constexpr OpSet kBinaryArith = minus(minus(opgroups::Binary, kCompare), OpSet(Op::THREEFRY));

}  // namespace

bool spec_accepts(const UOp* n, const PatternMatcher& spec) {
  Match m;
  return accepts(n, spec, m, nullptr);
}

void verify(const UOpRef& root, const PatternMatcher& spec, std::string_view stage) {
  if (!root) fail(ErrorKind::Internal, "verify", "stage '", stage, "': null root");
  Match m;
  for (const UOp* n : root->toposort()) {
    const Rule* declined = nullptr;
    if (accepts(n, spec, m, &declined)) continue;
    std::string srcs;
    for (size_t i = 0; i < n->nsrc(); i++) srcs += (i ? "; " : "") + n->src(i)->line();
    std::string why = declined ? cat("declined by the rule at ", declined->where())
                               : cat("no rule of the spec matches ", op_name(n->op), " with ",
                                     n->nsrc(), " sources");
    fail(ErrorKind::Internal, "verify", "stage '", stage, "': invalid node ", n->line(),
         " with sources [", srcs, "]: ", why);
  }
}

const PatternMatcher& spec_alu() {
  static const UPat x = UPat::var("x"), y = UPat::var("y"), z = UPat::var("z"), c = UPat::var("c");
  static const PatternMatcher pm{{
      // unary ALU: same dtype in and out
      Rule(UPat(kUnary, {x}),
       [](const Match& m) {
         const UOp* r = m.root;
         return spec_accept(m, m.get(x)->dtype == r->dtype && alu_dtype_ok(r->op, r->dtype));
       }),
      // binary arithmetic and bitwise ops: both sources have the result's dtype
      Rule(UPat(kBinaryArith, {x, y}),
       [](const Match& m) {
         const UOp* r = m.root;
         return spec_accept(m, m.get(x)->dtype == r->dtype && m.get(y)->dtype == r->dtype &&
                                   alu_dtype_ok(r->op, r->dtype));
       }),
      // comparisons: equal source dtypes, bool result of the same vector width
      Rule(UPat(kCompare, {x, y}),
       [](const Match& m) {
         const DType& a = m.get(x)->dtype;
         return spec_accept(
             m, is_value(a) && a == m.get(y)->dtype && m.root->dtype == dtypes::bool_.vec(a.count));
       }),
      // THREEFRY: counter and key are uint64, and so are the random bits
      Rule(UPat(Op::THREEFRY, {x, y}),
       [](const Match& m) {
         const DType& d = m.root->dtype;
         return spec_accept(m, is_value(d) && d.scalar == ScalarType::UInt64 &&
                                   m.get(x)->dtype == d && m.get(y)->dtype == d);
       }),
      // WHERE: bool condition (scalar, or one lane per result lane), branches of the result dtype
      Rule(UPat(Op::WHERE, {c, x, y}),
       [](const Match& m) {
         const DType &cd = m.get(c)->dtype, &d = m.root->dtype;
         bool cond_ok = cd.is_bool() && (cd.count == 1 || cd.count == d.count);
         return spec_accept(m,
                            cond_ok && is_value(d) && m.get(x)->dtype == d && m.get(y)->dtype == d);
       }),
      // MULACC: a*b+c, all of the result dtype
      Rule(UPat(Op::MULACC, {x, y, z}),
       [](const Match& m) {
         const DType& d = m.root->dtype;
         return spec_accept(m, is_value(d) && !d.is_bool() && m.get(x)->dtype == d &&
                                   m.get(y)->dtype == d && m.get(z)->dtype == d);
       }),
      // CAST converts each lane: same vector width
      Rule(UPat(Op::CAST, {x}),
       [](const Match& m) {
         const DType &from = m.get(x)->dtype, &to = m.root->dtype;
         return spec_accept(m, is_value(from) && is_value(to) && from.count == to.count);
       }),
      // BITCAST reinterprets bits: same total size
      Rule(UPat(Op::BITCAST, {x}),
       [](const Match& m) {
         const DType &from = m.get(x)->dtype, &to = m.root->dtype;
         return spec_accept(m, is_value(from) && is_value(to) && from.itemsize() == to.itemsize());
       }),
      // CONST: no sources (or its DEVICE at tensor level); the arg kind follows the dtype
      Rule(UPat(Op::CONST),
       [](const Match& m) {
         const UOp* r = m.root;
         bool src_ok = r->nsrc() == 0 || (r->nsrc() == 1 && r->src(0)->op == Op::DEVICE);
         return spec_accept(m, src_ok && const_arg_ok(*r));
       }),
      // DEFINE_VAR: a named integer in [min, max], known at run time
      Rule(UPat(Op::DEFINE_VAR, std::vector<UPat>{}),
       [](const Match& m) {
         const UOp* r = m.root;
         const auto* v = std::get_if<VarArg>(&r->arg.value());
         return spec_accept(m, v && v->min <= v->max && r->dtype.is_int() && !r->dtype.is_vec());
       }),
      // RANGE: loop variable in [0, end) of an int-like end; arg holds the axis id
      Rule(UPat(Op::RANGE, {x}),
       [](const Match& m) {
         const UOp* r = m.root;
         const DType& e = m.get(x)->dtype;
         return spec_accept(m, e.is_int() && !e.is_vec() && r->dtype == e && r->arg.is_ints() &&
                                   !r->arg.as_ints().empty());
       }),
  }};
  return pm;
}

}  // namespace fg
