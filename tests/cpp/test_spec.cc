// ir/spec: valid graphs pass verify(); each kind of invalid node is rejected with an error that
// names the stage, the node and its sources. Invalid nodes are built directly with UOp::make.
#include <gtest/gtest.h>

#include <string>

#include "femtograd/base/error.h"
#include "femtograd/ir/spec.h"

using namespace fg;
namespace d = fg::dtypes;

namespace {
UOpRef i32(int64_t v) { return UOp::cnst_int(d::int32, v); }
UOpRef f32(double v) { return UOp::cnst(d::float32, v); }
UOpRef mk(Op op, DType dt, std::initializer_list<UOpRef> src, Arg arg = {}) {
  return UOp::make(op, dt, src, std::move(arg));
}

// verify() must throw an Internal error naming the stage, the bad node's line() and its sources.
void expect_rejected(const UOpRef& root, const UOpRef& bad, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_FALSE(spec_accepts(bad.get(), spec_alu())) << bad->line();
  try {
    verify(root, spec_alu(), "alu test");
    ADD_FAILURE() << "verify accepted " << bad->line();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_EQ(e.op(), "verify");
    EXPECT_NE(msg.find("'alu test'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("invalid node " + bad->line()), std::string::npos) << msg;
    for (const UOpRef& s : bad->src()) EXPECT_NE(msg.find(s->line()), std::string::npos) << msg;
  }
}
void expect_rejected(const UOpRef& bad, const char* what) { expect_rejected(bad, bad, what); }
}  // namespace

TEST(Spec, ValidIndexMathPasses) {
  UOpRef r = UOp::range(UOp::cnst_int(d::index, 16), 0);
  UOpRef v = UOp::var("spec_n", 1, 8);
  UOpRef idx = idiv(r * 4 + v, UOp::cnst_int(d::index, 3)) % 5 - 1;
  UOpRef cond = idx->lt(v) & r->ne(3);
  UOpRef root = cond->where(idx, UOp::cnst_int(d::index, 0)).get()->maximum(r);
  EXPECT_NO_THROW(verify(root, spec_alu(), "alu"));
  EXPECT_TRUE(spec_accepts(root.get(), spec_alu()));
}

TEST(Spec, ValidFloatAndBitMathPasses) {
  UOpRef n = UOp::var("spec_i", 0, 100, d::int32);
  UOpRef x = n->cast(d::float32);
  UOpRef e = x->alu(Op::EXP2)->alu(Op::SQRT)->alu(Op::LOG2)->alu(Op::SIN)->alu(Op::RECIP);
  e = e->alu(Op::FDIV, x + f32(1.0))->alu(Op::POW, f32(2.0))->alu(Op::TRUNC);
  e = mk(Op::MULACC, d::float32, {e, x, f32(0.5)});
  UOpRef bits = e->bitcast(d::int32);
  UOpRef ints = (bits & i32(0xff)) | (n ^ i32(3));
  ints = ints->alu(Op::SHL, i32(2))->alu(Op::SHR, i32(1));
  UOpRef both = ints->eq(i32(4)) ^ ints->ne(i32(7));  // XOR of bools
  UOpRef root = both->where(e, x->cast(d::float16)->cast(d::float32));
  EXPECT_NO_THROW(verify(root, spec_alu(), "alu"));
}

TEST(Spec, ValidVectorsThreefryAndConstsPass) {
  UOpRef v = mk(Op::VECTORIZE, d::float32.vec(4), {f32(1), f32(2), f32(3), f32(4)});
  // VECTORIZE is not an ALU-stage op: combine spec_alu with a rule that accepts it
  static const PatternMatcher vectorize{{
      {UPat(Op::VECTORIZE), [](const Match& m) { return spec_accept(m, true); }},
  }};
  static const PatternMatcher spec = spec_alu() + vectorize;
  UOpRef sum = v + v;
  UOpRef lt = sum->lt(v);  // bool.vec(4)
  EXPECT_EQ(lt->dtype, d::bool_.vec(4));
  UOpRef w = lt->where(sum, v)->cast(d::float16.vec(4))->bitcast(d::int32.vec(2));
  EXPECT_NO_THROW(verify(w, spec, "vec"));

  UOpRef key = UOp::cnst_int(d::uint64, 42), ctr = UOp::cnst_int(d::uint64, 7);
  EXPECT_NO_THROW(verify(mk(Op::THREEFRY, d::uint64, {ctr, key}), spec_alu(), "alu"));
  for (UOpRef c : {UOp::cnst_bool(true), UOp::cnst(d::float16, 1.5), UOp::cnst_int(d::uint8, 7),
                   UOp::cnst_int(d::index, -3), UOp::cnst(d::bfloat16, -0.0)})
    EXPECT_NO_THROW(verify(c, spec_alu(), "alu")) << c->line();
  // tensor-level CONST with its DEVICE
  UOpRef dev = mk(Op::DEVICE, d::void_, {}, Arg("CPU"));
  UOpRef tc = mk(Op::CONST, d::float32, {dev}, Arg(1.0));
  EXPECT_TRUE(spec_accepts(tc.get(), spec_alu()));
}

TEST(Spec, BinarySourcesMustShareTheDtype) {
  expect_rejected(mk(Op::ADD, d::int32, {i32(1), f32(2)}), "int32 + float32");
  expect_rejected(mk(Op::MUL, d::float32, {i32(1), i32(2)}), "int32 * int32 -> float32");
  expect_rejected(mk(Op::MAX, d::float32, {f32(1), UOp::cnst(d::float64, 2)}), "max f32 f64");
  expect_rejected(mk(Op::ADD, d::int32, {i32(1)}), "ADD with one source");
  expect_rejected(mk(Op::ADD, d::int32, {i32(1), i32(2), i32(3)}), "ADD with three sources");
  expect_rejected(mk(Op::ADD, d::float32.ptr(), {f32(1), f32(2)}), "ADD producing a pointer");
}

TEST(Spec, ComparisonsProduceBool) {
  expect_rejected(mk(Op::CMPLT, d::int32, {i32(1), i32(2)}), "CMPLT giving int32");
  expect_rejected(mk(Op::CMPEQ, d::bool_, {i32(1), f32(2)}), "CMPEQ of int32 and float32");
  expect_rejected(mk(Op::CMPNE, d::bool_.vec(2), {i32(1), i32(2)}), "scalar compare, vec result");
}

TEST(Spec, WhereNeedsBoolConditionAndEqualBranches) {
  expect_rejected(mk(Op::WHERE, d::int32, {i32(1), i32(2), i32(3)}), "int32 condition");
  expect_rejected(mk(Op::WHERE, d::int32, {UOp::cnst_bool(true), i32(2), f32(3)}),
                  "branches of different dtypes");
  expect_rejected(mk(Op::WHERE, d::float32, {UOp::cnst_bool(true), i32(2), i32(3)}),
                  "result dtype differs from branches");
}

TEST(Spec, IntOnlyOpsRejectFloats) {
  for (Op op : {Op::IDIV, Op::MOD, Op::SHL, Op::SHR, Op::AND, Op::OR, Op::XOR})
    expect_rejected(mk(op, d::float32, {f32(1), f32(2)}), std::string(op_name(op)).c_str());
  // bool is fine for bitwise ops
  UOpRef t = UOp::cnst_bool(true), f = UOp::cnst_bool(false);
  EXPECT_TRUE(spec_accepts((t & f).get(), spec_alu()));
  EXPECT_TRUE(spec_accepts((t | f).get(), spec_alu()));
}

TEST(Spec, FloatOnlyOpsRejectInts) {
  for (Op op : {Op::EXP2, Op::LOG2, Op::SIN, Op::SQRT, Op::RECIP})
    expect_rejected(mk(op, d::int32, {i32(4)}), std::string(op_name(op)).c_str());
  for (Op op : {Op::FDIV, Op::POW})
    expect_rejected(mk(op, d::int32, {i32(4), i32(2)}), std::string(op_name(op)).c_str());
  expect_rejected(mk(Op::SQRT, d::float16, {f32(4)}), "SQRT changing dtype");
  // every G_FLOAT_ONLY op of ops.def is covered by the rule
  for (int i = 0; i < kNumOps; i++) {
    Op op = static_cast<Op>(i);
    if (!op_in(op, G_FLOAT_ONLY)) continue;
    UOpRef bad = is_unary(op) ? mk(op, d::int32, {i32(4)}) : mk(op, d::int32, {i32(4), i32(2)});
    EXPECT_FALSE(spec_accepts(bad.get(), spec_alu())) << op_name(op);
  }
}

TEST(Spec, ThreefryIsUint64) {
  expect_rejected(
      mk(Op::THREEFRY, d::uint32, {UOp::cnst_int(d::uint32, 1), UOp::cnst_int(d::uint32, 2)}),
      "THREEFRY on uint32");
}

TEST(Spec, CastKeepsWidthBitcastKeepsSize) {
  UOpRef v = mk(Op::VECTORIZE, d::float32.vec(4), {f32(1), f32(2), f32(3), f32(4)});
  UOpRef bad_cast = mk(Op::CAST, d::float16, {v});
  EXPECT_FALSE(spec_accepts(bad_cast.get(), spec_alu()));
  expect_rejected(mk(Op::BITCAST, d::int16, {f32(1)}), "BITCAST float32 to int16");
  expect_rejected(mk(Op::CAST, d::float32.ptr(), {f32(1)}), "CAST to a pointer");
  EXPECT_TRUE(spec_accepts(mk(Op::BITCAST, d::float16.vec(2), {f32(1)}).get(), spec_alu()));
}

TEST(Spec, ConstArgKindMatchesDtype) {
  expect_rejected(mk(Op::CONST, d::int32, {}, Arg(1.5)), "int32 const with a float arg");
  expect_rejected(mk(Op::CONST, d::float32, {}, Arg(int64_t(1))), "float32 const with an int arg");
  expect_rejected(mk(Op::CONST, d::bool_, {}, Arg(int64_t(1))), "bool const with an int arg");
  expect_rejected(mk(Op::CONST, d::int32, {}, Arg(true)), "int32 const with a bool arg");
  expect_rejected(mk(Op::CONST, d::float32, {}, Arg("one")), "float32 const with a string arg");
  expect_rejected(mk(Op::CONST, d::float32.vec(2), {}, Arg(1.0)), "vector const");
  expect_rejected(mk(Op::CONST, d::float32.ptr(), {}, Arg(1.0)), "pointer const");
  expect_rejected(mk(Op::CONST, d::float32, {f32(2)}, Arg(1.0)), "const with a value source");
}

TEST(Spec, DefineVarAndRange) {
  // (an int DEFINE_VAR without a VarArg cannot even be built: see the report on ir/bounds.cc)
  expect_rejected(mk(Op::DEFINE_VAR, d::float32, {}, Arg(VarArg{"fv", 0, 4})), "float variable");
  expect_rejected(mk(Op::DEFINE_VAR, d::float32, {}, Arg("v")), "variable without a VarArg");
  expect_rejected(mk(Op::DEFINE_VAR, d::index, {i32(1)}, Arg(VarArg{"sv", 0, 4})),
                  "variable with a source");
  expect_rejected(mk(Op::RANGE, d::float32, {f32(8)}, Arg({0, 0})), "RANGE with a float end");
  expect_rejected(mk(Op::RANGE, d::index, {i32(8)}, Arg({0, 0})), "RANGE dtype differs from end");
  expect_rejected(mk(Op::RANGE, d::int32, {i32(8)}, Arg()), "RANGE without an axis id");
  EXPECT_TRUE(spec_accepts(UOp::range(i32(8), 1).get(), spec_alu()));
}

TEST(Spec, OpsOutsideTheSpecAreRejected) {
  UOpRef sink = mk(Op::SINK, d::void_, {i32(1)});
  expect_rejected(sink, "SINK is not an ALU-stage op");
  try {
    verify(sink, spec_alu(), "alu");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no rule of the spec matches SINK"), std::string::npos)
        << e.what();
  }
}

TEST(Spec, BadNodeDeepInsideAValidGraphIsNamed) {
  UOpRef v = UOp::var("spec_deep", 0, 10, d::int32);
  UOpRef bad = mk(Op::IDIV, d::float32, {f32(1), f32(2)});
  UOpRef root = (v + 1)->lt(bad->cast(d::int32) * 3)->where(v, v * 2);
  expect_rejected(root, bad, "float IDIV under a valid WHERE");
  try {
    verify(root, spec_alu(), "deep");
  } catch (const Error& e) {
    // the message points at the rule that declined the node
    EXPECT_NE(std::string(e.what()).find("declined by the rule at ir/spec.cc:"), std::string::npos)
        << e.what();
  }
}

TEST(Spec, NullRootIsAnError) { EXPECT_THROW(verify(UOpRef(), spec_alu(), "null"), Error); }
