// Unit tests of the symbolic rules, one group per rule family, and of exact constant folding.
// Simplified expressions are compared by pointer (interning makes that structural equality) against
// what a person would write, and by expr() text where readability is the point.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "femtograd/ir/symbolic.h"

using namespace fg;

namespace fg {
// gtest prints nodes as expressions (internal linkage: other test files may print them their way)
[[maybe_unused]] static void PrintTo(const UOpRef& u, std::ostream* os) {
  *os << (u ? u->expr() : "null");
}
}  // namespace fg

namespace {
const DType I = dtypes::index;
UOpRef v(const char* name, int64_t lo, int64_t hi, DType dt = dtypes::index) {
  return UOp::var(name, lo, hi, dt);
}
UOpRef k(int64_t x, DType dt = dtypes::index) { return UOp::cnst_int(dt, x); }
UOpRef S(const UOpRef& e) { return simplify(e); }
UOpRef T() { return UOp::cnst_bool(true); }
UOpRef F() { return UOp::cnst_bool(false); }
UOpRef ge(const UOpRef& a, int64_t b) { return a->lt(b)->logical_not(); }

Arg fold(Op op, DType dt, std::initializer_list<Arg> a) {
  std::vector<Arg> args(a);
  auto r = fold_alu(op, dt, args);
  EXPECT_TRUE(r.has_value()) << op_name(op) << " " << dt.name();
  return r ? *r : Arg();
}
bool folds(Op op, DType dt, std::initializer_list<Arg> a) {
  std::vector<Arg> args(a);
  return fold_alu(op, dt, args).has_value();
}
double f16(double x) { return round_float(dtypes::float16, x); }
}  // namespace

// ---------------------------------------------------------------- fold_alu: exact dtype semantics

TEST(SymbolicFold, IntsWrapAtTheirWidth) {
  EXPECT_EQ(fold(Op::ADD, dtypes::int8, {127, 1}).as_int(), -128);
  EXPECT_EQ(fold(Op::MUL, dtypes::int8, {64, 2}).as_int(), -128);
  EXPECT_EQ(fold(Op::ADD, dtypes::uint8, {255, 1}).as_int(), 0);
  EXPECT_EQ(fold(Op::ADD, dtypes::int16, {32767, 1}).as_int(), -32768);
  EXPECT_EQ(fold(Op::ADD, dtypes::int32, {int64_t(2147483647), 1}).as_int(), -2147483648LL);
  EXPECT_EQ(fold(Op::MUL, dtypes::uint32, {int64_t(65536), int64_t(65536)}).as_int(), 0);
  EXPECT_EQ(fold(Op::ADD, dtypes::int64, {std::numeric_limits<int64_t>::max(), 1}).as_int(),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(fold(Op::ADD, dtypes::index, {std::numeric_limits<int64_t>::max(), 1}).as_int(),
            std::numeric_limits<int64_t>::min());
  // inputs outside the dtype are wrapped first
  EXPECT_EQ(fold(Op::ADD, dtypes::int8, {200, 0}).as_int(), -56);
}

TEST(SymbolicFold, DivModTruncateLikeC) {
  EXPECT_EQ(fold(Op::IDIV, dtypes::int32, {-7, 2}).as_int(), -3);
  EXPECT_EQ(fold(Op::MOD, dtypes::int32, {-7, 2}).as_int(), -1);
  EXPECT_EQ(fold(Op::IDIV, dtypes::int32, {7, -2}).as_int(), -3);
  EXPECT_EQ(fold(Op::MOD, dtypes::int32, {7, -2}).as_int(), 1);
  EXPECT_EQ(fold(Op::IDIV, dtypes::int32, {-7, -2}).as_int(), 3);
  EXPECT_EQ(fold(Op::MOD, dtypes::int32, {-7, -2}).as_int(), -1);
  EXPECT_EQ(fold(Op::IDIV, dtypes::int8, {-128, -1}).as_int(), -128);  // wraps
  EXPECT_EQ(fold(Op::MOD, dtypes::int8, {-128, -1}).as_int(), 0);
  EXPECT_EQ(fold(Op::IDIV, dtypes::int64, {std::numeric_limits<int64_t>::min(), -1}).as_int(),
            std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(folds(Op::IDIV, dtypes::int32, {5, 0}));
  EXPECT_FALSE(folds(Op::MOD, dtypes::int32, {5, 0}));
  EXPECT_EQ(fold(Op::IDIV, dtypes::uint8, {250, 7}).as_int(), 35);
}

TEST(SymbolicFold, UInt64KeepsItsBits) {
  const int64_t big = static_cast<int64_t>(18446744073709551615ULL);  // 2^64-1
  EXPECT_EQ(fold(Op::ADD, dtypes::uint64, {big, 1}).as_int(), 0);
  EXPECT_EQ(fold(Op::IDIV, dtypes::uint64, {big, 2}).as_int(),
            static_cast<int64_t>(9223372036854775807ULL));
  EXPECT_EQ(fold(Op::MOD, dtypes::uint64, {big, 10}).as_int(), 5);
  EXPECT_TRUE(fold(Op::CMPLT, dtypes::uint64, {1, big}).as_bool());  // unsigned order
  EXPECT_EQ(fold(Op::MAX, dtypes::uint64, {1, big}).as_int(), big);
  EXPECT_EQ(fold(Op::SHR, dtypes::uint64, {big, 60}).as_int(), 15);
  EXPECT_EQ(fold(Op::SHR, dtypes::int64, {-16, 2}).as_int(), -4);  // arithmetic for signed
  EXPECT_EQ(fold(Op::SHL, dtypes::int8, {1, 7}).as_int(), -128);
  EXPECT_FALSE(folds(Op::SHL, dtypes::int32, {1, 32}));
  EXPECT_FALSE(folds(Op::SHR, dtypes::int32, {1, -1}));
  EXPECT_EQ(fold_cast(Arg(big), dtypes::uint64, dtypes::float64)->as_float(),
            18446744073709551616.0);
}

TEST(SymbolicFold, FloatsRoundInTheirPrecision) {
  EXPECT_EQ(fold(Op::ADD, dtypes::float32, {16777216.0, 1.0}).as_float(), 16777216.0);
  EXPECT_EQ(fold(Op::ADD, dtypes::float64, {16777216.0, 1.0}).as_float(), 16777217.0);
  EXPECT_EQ(fold(Op::ADD, dtypes::float32, {0.1, 0.2}).as_float(),
            static_cast<double>(0.1f + 0.2f));
  // float16: 2048 + 1 is a tie between 2048 and 2050, and goes to the even mantissa
  EXPECT_EQ(fold(Op::ADD, dtypes::float16, {2048.0, 1.0}).as_float(), 2048.0);
  EXPECT_EQ(fold(Op::ADD, dtypes::float16, {2048.0, 3.0}).as_float(), 2052.0);
  EXPECT_EQ(fold(Op::MUL, dtypes::float16, {65504.0, 2.0}).as_float(), INFINITY);
  EXPECT_EQ(f16(0.1), 0.0999755859375);
  EXPECT_EQ(f16(1e-8), 0.0);                    // below half the smallest subnormal
  EXPECT_EQ(f16(6e-8), 5.9604644775390625e-8);  // the smallest subnormal
  EXPECT_EQ(round_float(dtypes::bfloat16, 1.0 + 1.0 / 256), 1.0);  // tie to even
  EXPECT_EQ(round_float(dtypes::bfloat16, 1.0 + 3.0 / 256), 1.0 + 4.0 / 256);
  EXPECT_TRUE(std::isnan(round_float(dtypes::fp8e4m3, 1000.0)));  // no inf in e4m3
  EXPECT_EQ(round_float(dtypes::fp8e5m2, 1e6), INFINITY);
  EXPECT_TRUE(std::isinf(fold(Op::FDIV, dtypes::float32, {1.0, 0.0}).as_float()));
  EXPECT_EQ(fold(Op::SQRT, dtypes::float32, {2.0}).as_float(),
            static_cast<double>(std::sqrt(2.0f)));
  EXPECT_EQ(fold(Op::TRUNC, dtypes::float32, {-2.5}).as_float(), -2.0);
}

TEST(SymbolicFold, MaxPropagatesNaNAndComparesIEEE) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(fold(Op::MAX, dtypes::float32, {nan, 1.0}).as_float()));
  EXPECT_TRUE(std::isnan(fold(Op::MAX, dtypes::float32, {1.0, nan}).as_float()));
  EXPECT_FALSE(std::signbit(fold(Op::MAX, dtypes::float32, {-0.0, 0.0}).as_float()));
  EXPECT_FALSE(fold(Op::CMPLT, dtypes::float32, {nan, 1.0}).as_bool());
  EXPECT_TRUE(fold(Op::CMPNE, dtypes::float32, {nan, nan}).as_bool());
  EXPECT_FALSE(fold(Op::CMPEQ, dtypes::float32, {nan, nan}).as_bool());
  EXPECT_EQ(fold(Op::WHERE, dtypes::float32, {true, 1.5, 2.5}).as_float(), 1.5);
  EXPECT_EQ(fold(Op::MULACC, dtypes::int8, {16, 16, 1}).as_int(), 1);
  EXPECT_TRUE(fold(Op::AND, dtypes::bool_, {true, true}).as_bool());
  EXPECT_TRUE(fold(Op::CMPLT, dtypes::bool_, {false, true}).as_bool());
}

TEST(SymbolicFold, CastsAndBitcasts) {
  EXPECT_EQ(fold_cast(Arg(-2.7), dtypes::float32, dtypes::int32)->as_int(), -2);  // truncates
  EXPECT_FALSE(fold_cast(Arg(3e9), dtypes::float32, dtypes::int32).has_value());  // out of range
  EXPECT_FALSE(fold_cast(Arg(-1.0), dtypes::float32, dtypes::uint8).has_value());
  EXPECT_FALSE(fold_cast(Arg(NAN), dtypes::float32, dtypes::int32).has_value());
  EXPECT_EQ(fold_cast(Arg(300), dtypes::int32, dtypes::uint8)->as_int(), 44);
  EXPECT_EQ(fold_cast(Arg(-1), dtypes::int32, dtypes::uint32)->as_int(), 4294967295LL);
  EXPECT_EQ(fold_cast(Arg(16777217), dtypes::int32, dtypes::float32)->as_float(), 16777216.0);
  EXPECT_EQ(fold_cast(Arg(0.1), dtypes::float64, dtypes::float16)->as_float(), 0.0999755859375);
  EXPECT_TRUE(fold_cast(Arg(2), dtypes::int32, dtypes::bool_)->as_bool());
  EXPECT_TRUE(fold_cast(Arg(NAN), dtypes::float32, dtypes::bool_)->as_bool());
  EXPECT_EQ(fold_cast(Arg(true), dtypes::bool_, dtypes::float32)->as_float(), 1.0);
  // int -> bfloat16 rounds once: 2^24+2^16+1 is just above a tie, so it rounds up
  EXPECT_EQ(fold_cast(Arg(int64_t((1 << 24) + (1 << 16) + 1)), dtypes::int64, dtypes::bfloat16)
                ->as_float(),
            double((1 << 24) + (1 << 17)));
  EXPECT_EQ(fold_bitcast(Arg(1.0), dtypes::float32, dtypes::int32)->as_int(), 0x3f800000);
  EXPECT_EQ(fold_bitcast(Arg(int64_t(0x3c00)), dtypes::int16, dtypes::float16)->as_float(), 1.0);
  EXPECT_EQ(fold_bitcast(Arg(-2.0), dtypes::float16, dtypes::uint16)->as_int(), 0xc000);
  EXPECT_EQ(fold_bitcast(Arg(1.0), dtypes::bfloat16, dtypes::int16)->as_int(), 0x3f80);
  EXPECT_EQ(fold_bitcast(Arg(int64_t(-1)), dtypes::int32, dtypes::uint32)->as_int(), 4294967295LL);
  EXPECT_EQ(float_to_bits(dtypes::fp8e4m3, 448.0), 0x7eu);
  EXPECT_EQ(float_from_bits(dtypes::fp8e5m2, 0x7c), INFINITY);
}

TEST(SymbolicFold, ThreefryIsDeterministicBits) {
  Arg a = fold(Op::THREEFRY, dtypes::uint64, {int64_t(0), int64_t(0)});
  Arg b = fold(Op::THREEFRY, dtypes::uint64, {int64_t(1), int64_t(0)});
  EXPECT_NE(a.as_int(), b.as_int());
  // Random123's known answer for threefry2x32_20 with zero counter and key: 0x6b200159 0x99ba4efe
  EXPECT_EQ(static_cast<uint64_t>(a.as_int()), 0x99ba4efe6b200159ULL);
}

// ---------------------------------------------------------------- constant folding in graphs

TEST(SymbolicConst, NodesOfConstantsFold) {
  EXPECT_EQ(S(k(3) + k(4)), k(7));
  EXPECT_EQ(S(k(100, dtypes::int8) + k(100, dtypes::int8)), k(-56, dtypes::int8));
  EXPECT_EQ(S(idiv(k(-7, dtypes::int32), k(2, dtypes::int32))), k(-3, dtypes::int32));
  EXPECT_EQ(S(k(5)->lt(k(3))), F());
  EXPECT_EQ(S(UOp::cnst(dtypes::float32, 2.0)->cast(dtypes::int32)), k(2, dtypes::int32));
  // a division by zero stays for the program to do
  UOpRef z = idiv(k(5, dtypes::int32), k(0, dtypes::int32));
  EXPECT_EQ(S(z), z);
}

TEST(SymbolicConst, SingleValueRangeIsConstant) {
  UOpRef x = v("x", 0, 7), y = v("y", 0, 3);
  EXPECT_EQ(S(idiv(x, 8)), k(0));
  EXPECT_EQ(S(x->lt(8)), T());
  EXPECT_EQ(S(x->lt(0)), F());
  EXPECT_EQ(S(x->ne(9)), T());
  EXPECT_EQ(S(x->eq(-1)), F());
  EXPECT_EQ(S(x->maximum(k(7))), k(7));
  EXPECT_EQ(S((x + y)->lt(11)), T());
  EXPECT_EQ(S(x->lt(4) & x->lt(0)), F());
  EXPECT_EQ(S(x->lt(4) | ge(x, 0)), T());
}

TEST(SymbolicConst, BoundsSeeTheValueTheDtypeHolds) {
  // x - 1 on uint32 builds a CONST of -1, which the dtype holds as 4294967295
  UOpRef x = UOp::var("xu", 0, 10, dtypes::uint32), c = UOp::cnst_int(dtypes::uint32, -1);
  EXPECT_EQ(c->vmin(), 4294967295LL);
  EXPECT_EQ(x->lt(c)->vmin(), 1);
  EXPECT_EQ(S(x->lt(c)), T());
  EXPECT_EQ(S(c), k(4294967295LL, dtypes::uint32));
  EXPECT_EQ(UOp::cnst_int(dtypes::int8, 200)->vmin(), -56);
}

// ---------------------------------------------------------------- identities

TEST(SymbolicIdentity, AddMulDivMod) {
  UOpRef x = v("x", -10, 10), f = UOp::var("f", 0, 1, dtypes::int32);
  EXPECT_EQ(S(x + 0), x);
  EXPECT_EQ(S(x * 1), x);
  EXPECT_EQ(S(x * 0), k(0));
  EXPECT_EQ(S(idiv(x, 1)), x);
  EXPECT_EQ(S(x % 1), k(0));
  EXPECT_EQ(S(idiv(x, -1)), x * -1);
  EXPECT_EQ(S((x * -1) * -1), x);
  EXPECT_EQ(S(k(0) + x), x);
  EXPECT_EQ(S(k(1) * x), x);
  // floats: x*1 is exact, x*0 is not (NaN, inf), x+0 is not (-0.0)
  UOpRef g = UOp::make(Op::DEFINE_VAR, dtypes::float32, {}, Arg(VarArg{"g", 0, 1}));
  EXPECT_EQ(S(g * UOp::cnst(dtypes::float32, 1.0)), g);
  UOpRef g0 = g * UOp::cnst(dtypes::float32, 0.0);
  EXPECT_EQ(S(g0), g0);
  EXPECT_EQ(S(f + k(0, dtypes::int32)), f);
}

TEST(SymbolicIdentity, BitsBoolsAndSelfOps) {
  UOpRef x = v("x", -10, 10), b = v("b", 0, 1)->lt(1), c = v("c", 0, 3)->lt(2);
  EXPECT_EQ(S(x & x), x);
  EXPECT_EQ(S(x | x), x);
  EXPECT_EQ(S(x ^ x), k(0));
  EXPECT_EQ(S(x->maximum(x)), x);
  EXPECT_EQ(S(x->lt(x)), F());
  EXPECT_EQ(S(x->ne(x)), F());
  EXPECT_EQ(S(x->eq(x)), T());
  EXPECT_EQ(S(b & T()), b);
  EXPECT_EQ(S(b & F()), F());
  EXPECT_EQ(S(b | T()), T());
  EXPECT_EQ(S(b | F()), b);
  EXPECT_EQ(S(b->logical_not()->logical_not()), b);
  EXPECT_EQ(S(b & b->logical_not()), F());
  EXPECT_EQ(S(b | b->logical_not()), T());
  EXPECT_EQ(S(b->ne(F())), b);
  EXPECT_EQ(S(b->eq(T())), b);
  EXPECT_EQ(S((c & b) & c), S(c & b));
  UOpRef xf = UOp::make(Op::DEFINE_VAR, dtypes::float32, {}, Arg(VarArg{"xf", 0, 1}));
  EXPECT_EQ(S(xf->ne(xf)), xf->ne(xf));  // NaN != NaN
}

TEST(SymbolicIdentity, WhereFolding) {
  UOpRef x = v("x", 0, 10), y = v("y", 0, 10), b = x->lt(5), c = y->lt(3);
  EXPECT_EQ(S(b->where(x, x)), x);
  EXPECT_EQ(S(T()->where(x, y)), x);
  EXPECT_EQ(S(F()->where(x, y)), y);
  EXPECT_EQ(S(b->where(T(), F())), b);
  UOpRef p = UOp::var("p", 0, 1, dtypes::bool_);
  EXPECT_EQ(S(p->where(F(), T())), p->logical_not());
  EXPECT_EQ(S(p->logical_not()->where(x, y)), p->where(y, x));
  EXPECT_EQ(S(b->where(F(), T())), k(4)->lt(x));  // not(x<5) is 4<x
  EXPECT_EQ(S(b->where(b->where(x, y), k(3))), b->where(x, k(3)));
  EXPECT_EQ(S(b->where(c->where(x, y), y)), (b & c)->where(x, y));
  // a condition decided by ranges picks its branch
  EXPECT_EQ(S(x->lt(11)->where(x, y)), x);
}

TEST(SymbolicIdentity, Casts) {
  UOpRef a = UOp::var("a", -100, 100, dtypes::int8), w = UOp::var("w", 0, 1000, dtypes::int32);
  EXPECT_EQ(S(a->cast(dtypes::int32)->cast(dtypes::int8)), a);
  EXPECT_EQ(S(a->cast(dtypes::int32)->cast(dtypes::int64)), a->cast(dtypes::int64));
  EXPECT_EQ(S(w->cast(dtypes::int16)->cast(dtypes::int32)), w);  // w fits int16
  UOpRef narrowing = w->cast(dtypes::int8)->cast(dtypes::int32);
  EXPECT_EQ(S(narrowing), narrowing);
  UOpRef h = UOp::make(Op::DEFINE_VAR, dtypes::float16, {}, Arg(VarArg{"h", 0, 1}));
  EXPECT_EQ(S(h->cast(dtypes::float32)->cast(dtypes::float16)), h);
  UOpRef f = UOp::make(Op::DEFINE_VAR, dtypes::float32, {}, Arg(VarArg{"f32", 0, 1}));
  UOpRef lossy = f->cast(dtypes::float16)->cast(dtypes::float32);
  EXPECT_EQ(S(lossy), lossy);
  EXPECT_EQ(S(UOp::make(Op::CAST, dtypes::int32, {w})), w);
}

// ---------------------------------------------------------------- canonical sums and products

TEST(SymbolicCanonical, OrderDoesNotMatter) {
  UOpRef a = v("a", 0, 9), b = v("b", 0, 9), c = v("c", 0, 9);
  EXPECT_EQ(S(a + b), S(b + a));
  EXPECT_EQ(S((a + b) + c), S((a + c) + b));
  EXPECT_EQ(S((a + b) + c), S(a + (c + b)));
  EXPECT_EQ(S(a * b), S(b * a));
  EXPECT_EQ(S((a * b) * c), S(a * (c * b)));
  EXPECT_EQ(S(a * 3 + b * 2), S(b * 2 + a * 3));
  EXPECT_EQ(S(b + a)->expr(), "(a+b)");
  EXPECT_EQ(S((c + 4) + (b * 2 + a))->expr(), "(((a+(b*2))+c)+4)");
}

TEST(SymbolicCanonical, ConstantsGoRightAndCombine) {
  UOpRef x = v("x", 0, 9), y = v("y", 0, 9);
  EXPECT_EQ(S(k(3) + x), x + 3);
  EXPECT_EQ(S((x + 3) + 4), x + 7);
  EXPECT_EQ(S((x + 3) + y), (x + y) + 3);
  EXPECT_EQ(S((x + 3) + (y + -3)), x + y);
  EXPECT_EQ(S((x * 3) * 4), x * 12);
  EXPECT_EQ(S((x * 3) * y), (x * y) * 3);
  EXPECT_EQ(S(k(2) * x), x * 2);
}

TEST(SymbolicCanonical, LikeTermsCombine) {
  UOpRef x = v("x", 0, 9), y = v("y", 0, 9);
  EXPECT_EQ(S(x + x), x * 2);
  EXPECT_EQ(S(x * 3 + x * 4), x * 7);
  EXPECT_EQ(S(x + x * 4), x * 5);
  EXPECT_EQ(S(x * 4 + x), x * 5);
  EXPECT_EQ(S((x + y) + x), x * 2 + y);
  EXPECT_EQ(S(x - x), k(0));
  EXPECT_EQ(S((x + y) - y), x);
  EXPECT_EQ(S(x * y + y * x), (x * y) * 2);
  EXPECT_EQ(S((x * 2 + y) * 3 - y * 3), x * 6);
}

TEST(SymbolicCanonical, DistributesOnlyWhenNotBigger) {
  UOpRef x = v("x", 0, 9), y = v("y", 0, 9);
  EXPECT_EQ(S((x + 3) * 4), x * 4 + 12);
  EXPECT_EQ(S((x * 2 + y) * 3), x * 6 + y * 3);
  UOpRef two_units = (x + y) * 3;
  EXPECT_EQ(S(two_units), two_units);  // x*3+y*3 would be bigger
  EXPECT_EQ(S(-(x + 1)), x * -1 + -1);
}

TEST(SymbolicCanonical, IntsWrapSoRingRulesAreExact) {
  // int8: (x*64)*4 wraps to 0 for every x; x*2*128 is x*256 = 0 too
  UOpRef x = UOp::var("x8", -100, 100, dtypes::int8);
  EXPECT_EQ(S((x * 64) * 4), k(0, dtypes::int8));
  EXPECT_EQ(S((x + 100) + 100), x + -56);
}

// ---------------------------------------------------------------- div and mod

TEST(SymbolicDivMod, SmallNumerators) {
  UOpRef x = v("x", 0, 3), s = v("s", -3, 3);
  EXPECT_EQ(S(idiv(x, 4)), k(0));
  EXPECT_EQ(S(x % 4), x);
  EXPECT_EQ(S(s % 4), s);  // |s| < 4 for either sign
  EXPECT_EQ(S(idiv(s, 4)), k(0));
  EXPECT_EQ(S(idiv(s, -4)), k(0));
  EXPECT_EQ(S(s % -4), s);
}

TEST(SymbolicDivMod, SplitsSums) {
  UOpRef x = v("x", 0, 100), y = v("y", 0, 3), z = v("z", 0, 2);
  EXPECT_EQ(S(idiv(x * 4 + y, 4)), x);
  EXPECT_EQ(S((x * 4 + y) % 4), y);
  EXPECT_EQ(S(idiv(x * 12 + z * 4 + y, 4)), x * 3 + z);
  EXPECT_EQ(S(idiv(idiv(x * 12 + z * 4 + y, 4), 3)), x);
  EXPECT_EQ(S(idiv(x * 12 + z * 4 + y, 4) % 3), z);
  EXPECT_EQ(S((x * 12 + z * 4 + y) % 12), y + z * 4);
  EXPECT_EQ(S(idiv(x * 4 + y + 8, 4)), x + 2);
  EXPECT_EQ(S(idiv(x * 4 + 5, 4)), x + 1);
  EXPECT_EQ(S((x * 4 + 5) % 4), k(1));
  // remainder with a negative coefficient: x*4 - 1 = (x-1)*4 + 3 for x >= 1
  UOpRef p = v("p", 1, 100);
  EXPECT_EQ(S(idiv(p * 4 - 1, 4)), p - 1);
  EXPECT_EQ(S((p * 4 - 1) % 4), k(3));
}

TEST(SymbolicDivMod, FactorsAndRemainders) {
  UOpRef x = v("x", 0, 100), y = v("y", 0, 100);
  EXPECT_EQ(S(idiv(x * 4 + y * 6, 2)), x * 2 + y * 3);
  EXPECT_EQ(S((x * 4 + y * 6) % 2), k(0));
  EXPECT_EQ(S(idiv(x * 4 + y * 6, 8)), idiv(x * 2 + y * 3, 4));
  // (a*c + b)//c -> a + b//c when b >= 0
  EXPECT_EQ(S(idiv(x * 4 + y, 4)), x + idiv(y, 4));
  EXPECT_EQ(S((x * 4 + y) % 4), y % 4);
}

TEST(SymbolicDivMod, SignsMatterUnderTruncation) {
  UOpRef s = v("s", -50, 50), y = v("y", 0, 3);
  // (s*4 + y)//4 is not s for negative s (truncation): left alone
  UOpRef e = idiv(s * 4 + y, 4);
  EXPECT_EQ(S(e), e);
  // exact multiples divide for any sign
  EXPECT_EQ(S(idiv(s * 4, 4)), s);
  EXPECT_EQ(S(idiv(s * 8 + 4, 4)), s * 2 + 1);
  EXPECT_EQ(S((s * 8) % 4), k(0));
  // non-positive numerators fold through -x
  UOpRef n = v("n", -100, 0), r = v("r", 0, 3);
  EXPECT_EQ(S(idiv(n * 4 - r, 4)), n);
  EXPECT_EQ(S((n * 4 - r) % 4), r * -1);
  // negative divisors: x//-c is -(x//c), x%-c is x%c
  UOpRef x = v("x", 0, 100);
  EXPECT_EQ(S(idiv(x * 4 + y, -4)), x * -1);
  EXPECT_EQ(S((x * 4 + y) % -4), y);
}

TEST(SymbolicDivMod, NestedDivAndMod) {
  UOpRef x = v("x", 0, 1000), s = v("s", -1000, 1000);
  EXPECT_EQ(S(idiv(idiv(x, 4), 3)), idiv(x, 12));
  EXPECT_EQ(S(idiv(idiv(s, 4), -3)), idiv(s, -12));
  EXPECT_EQ(S((s % 12) % 4), s % 4);
  EXPECT_EQ(S((x % 4) % 12), x % 4);
  EXPECT_EQ(S(idiv(s % 12, 4)), idiv(s, 4) % 3);
  EXPECT_EQ(S(idiv(idiv(x, 4) + 2, 3)), idiv(x + 8, 12));
  UOpRef r = UOp::range(v("n", 1, 64), 0);
  EXPECT_EQ(S(r % r->src(0)), r);
  EXPECT_EQ(S(idiv(r, r->src(0))), k(0));
}

TEST(SymbolicDivMod, RecombinesQuotientAndRemainder) {
  UOpRef x = v("x", 0, 1000), s = v("s", -1000, 1000), y = v("y", 0, 9);
  EXPECT_EQ(S(idiv(x, 4) * 4 + x % 4), x);
  EXPECT_EQ(S(x % 4 + idiv(x, 4) * 4), x);
  EXPECT_EQ(S(idiv(s, 4) * 4 + s % 4), s);  // C's identity: any sign
  EXPECT_EQ(S(idiv(x, 4) * 8 + (x % 4) * 2), x * 2);
  EXPECT_EQ(S(y + idiv(x, 4) * 4 + x % 4), x + y);
  EXPECT_EQ(S((idiv(x, 4) % 3) * 4 + x % 4), x % 12);
  EXPECT_EQ(S(idiv(x, 12) * 12 + (idiv(x, 4) % 3) * 4 + x % 4), x);
}

TEST(SymbolicDivMod, Int32WrapBlocksRangeRules) {
  // x*65536 can wrap in int32, so (x*65536 + y)//65536 is not x
  UOpRef x = UOp::var("xw", 0, 100000, dtypes::int32), y = UOp::var("yw", 0, 3, dtypes::int32);
  UOpRef e = idiv(x * 65536 + y, k(65536, dtypes::int32));
  EXPECT_EQ(S(e), e);
  // with a range that cannot wrap it folds
  UOpRef x2 = UOp::var("xs", 0, 1000, dtypes::int32);
  EXPECT_EQ(S(idiv(x2 * 65536 + y, k(65536, dtypes::int32))), x2);
}

// ---------------------------------------------------------------- comparisons

TEST(SymbolicCmp, ConstantsMoveAndFactorsDivide) {
  UOpRef x = v("x", -100, 100), y = v("y", 0, 3), z = v("z", 0, 100);
  EXPECT_EQ(S((x + 3)->lt(10)), x->lt(7));
  EXPECT_EQ(S((x * 4)->lt(10)), x->lt(3));    // 4x < 10 <=> x <= 2
  EXPECT_EQ(S((x * 4)->lt(-10)), x->lt(-2));  // 4x < -10 <=> x <= -3
  EXPECT_EQ(S((x * -2)->lt(5)), k(-3)->lt(x));
  EXPECT_EQ(S(k(10)->lt(x * 4)), k(2)->lt(x));
  EXPECT_EQ(S((z * 4 + y)->lt(8)), z->lt(2));  // the unit term stays below the factor
  EXPECT_EQ(S((z * 4 + y * 8)->lt(12)), (y * 2 + z)->lt(3));
  EXPECT_EQ(S((x * -1)->lt(z * -1)), z->lt(x));
  EXPECT_EQ(S(idiv(z, 4)->lt(3)), z->lt(12));
  EXPECT_EQ(S(k(2)->lt(idiv(z, 4))), k(11)->lt(z));
  EXPECT_EQ(S(idiv(x, 4)->lt(0)), x->lt(-3));  // truncation: -3//4 is 0
}

TEST(SymbolicCmp, EqualityAndMerges) {
  UOpRef x = v("x", -100, 100), z = v("z", 0, 100);
  EXPECT_EQ(S((x + 3)->ne(10)), x->ne(7));
  EXPECT_EQ(S((x * 2)->ne(7)), T());
  EXPECT_EQ(S((x * 2)->eq(8)), x->eq(4));
  EXPECT_EQ(S((x * -1)->ne(5)), x->ne(-5));
  EXPECT_EQ(S(z->lt(5) & z->lt(8)), z->lt(5));
  EXPECT_EQ(S(z->lt(5) | z->lt(8)), z->lt(8));
  EXPECT_EQ(S(k(3)->lt(z) & k(5)->lt(z)), k(5)->lt(z));
  EXPECT_EQ(S(ge(z, 8) & z->lt(5)), F());
}

TEST(SymbolicCmp, Int32WrapBlocksOrderRules) {
  UOpRef x = UOp::var("xo", 0, 2000000000, dtypes::int32);
  UOpRef e = (x + k(1000000000, dtypes::int32))->lt(k(5, dtypes::int32));
  EXPECT_EQ(S(e), e);  // x + 1e9 wraps negative for large x
}

// ---------------------------------------------------------------- realistic index expressions

TEST(SymbolicIndex, ReshapeAndConvWindows) {
  // a (4, 3, 8) tensor read through a reshape to (12, 8) and back
  UOpRef a = UOp::range(k(4), 0), b = UOp::range(k(3), 1), c = UOp::range(k(8), 2);
  UOpRef lin = (a * 3 + b) * 8 + c;
  UOpRef row = idiv(lin, 8), col = lin % 8;
  EXPECT_EQ(S(idiv(row, 3) * 24 + (row % 3) * 8 + col), S(lin));
  EXPECT_EQ(S(lin)->expr(), "(((r0*24)+(r1*8))+r2)");
  // conv: ih = oh*2 + kh - 1 in [0, 16): the lower test is decided where oh >= 1
  UOpRef oh = UOp::range(k(8), 3), kh = UOp::range(k(3), 4);
  UOpRef ih = oh * 2 + kh - 1;
  EXPECT_EQ(S(ih->lt(16)), T());
  EXPECT_EQ(S(ge(ih, 0)), k(0)->lt(oh * 2 + kh));
  EXPECT_EQ(S((ih + 1)->lt(1)), S((oh * 2 + kh)->lt(1)));
}

TEST(SymbolicIndex, NeverBigger) {
  UOpRef x = v("x", 0, 100), y = v("y", 0, 100), z = v("z", 0, 7);
  std::vector<UOpRef> es = {(x + y) * 3,
                            idiv(x * 6, 4),
                            (x * 6) % 4,
                            idiv(x * 4 + y * 6 + z, 8),
                            ((x + 1) * (y + 2)) * 3,
                            idiv(x + y, 3) * 3 + (x + y) % 3};
  for (const UOpRef& e : es) EXPECT_LE(S(e)->tree_size(), e->tree_size()) << e->expr();
}
