#include <gtest/gtest.h>

#include "femtograd/base/error.h"
#include "femtograd/ir/graph_rewrite.h"

using namespace fg;

namespace {
const UPat x = UPat::var("x"), y = UPat::var("y"), c = UPat::cvar("c");
}

TEST(PatternMatcher, OneRuleReadsAsMath) {
  static const PatternMatcher pm{{
      Rule(x * 1, x),
      Rule(x + 0, x),
  }};
  UOpRef v = UOp::var("pmv", 0, 5);
  EXPECT_EQ(graph_rewrite((v * 1) + 0, pm, "test").get(), v.get());
  // commutative: 1 * x matches too
  EXPECT_EQ(graph_rewrite(UOp::cnst_int(dtypes::index, 1) * v, pm, "test").get(), v.get());
}

TEST(PatternMatcher, RepeatedNameMustBeSameNode) {
  static const PatternMatcher pm{{
      Rule(x + x, [](const Match& m) { return m[x] * 2; }),
  }};
  UOpRef a = UOp::var("pa", 0, 5), b = UOp::var("pb", 0, 5);
  EXPECT_EQ(graph_rewrite(a + a, pm, "t").get(), (a * 2).get());
  EXPECT_EQ(graph_rewrite(a + b, pm, "t").get(), (a + b).get());
}

TEST(PatternMatcher, WrongDtypeNamesPassAndRule) {
  static const PatternMatcher pm{{
      Rule(x + 0, [](const Match& m) { return m[x]->cast(dtypes::int64); }),
  }};
  UOpRef a = UOp::var("pw", 0, 5, dtypes::int32);
  try {
    graph_rewrite(a + 0, pm, "dtype pass");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("dtype pass"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_pattern_matcher.cc:"), std::string::npos) << msg;
  }
}

TEST(PatternMatcher, LoopIsReported) {
  static const PatternMatcher pm{{
      {x + y, [](const Match& m) { return m[y] + m[x]; }},  // swaps forever
  }};
  UOpRef a = UOp::var("la", 0, 5), b = UOp::var("lb", 0, 5);
  try {
    graph_rewrite(a + b, pm, "swap pass");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("swap pass"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not converge"), std::string::npos) << msg;
  }
}

TEST(PatternMatcher, ContextIsPassed) {
  struct Count { int n = 0; };
  static const PatternMatcher pm{{
      {UPat(Op::DEFINE_VAR).named("v"), [](const Match& m, Count& c) -> UOpRef {
         c.n++;
         return nullptr;
       }},
  }};
  Count cnt;
  UOpRef a = UOp::var("ca", 0, 5), b = UOp::var("cb", 0, 5);
  graph_rewrite(a * b + a, pm, cnt, "count");
  EXPECT_EQ(cnt.n, 2);  // each shared node visited once
}

TEST(PatternMatcher, TopDownAndBottomUp) {
  // rewrite (x*2)*2 -> x*4 top-down hits the outer node first
  static const PatternMatcher pm{{
      {(x * 2) * 2, [](const Match& m) { return m[x] * 4; }},
  }};
  UOpRef a = UOp::var("td", 0, 5);
  UOpRef e = ((a * 2) * 2) * 2;
  EXPECT_EQ(graph_rewrite(e, pm, "bu").get(), ((a * 4) * 2).get());
  EXPECT_EQ(graph_rewrite(e, pm, "td", Traversal::NodeFirst).get(), ((a * 2) * 4).get());
}

TEST(PatternMatcher, EachRuleKnowsItsOwnLine) {
  // rules written as Rule(...) record their own line (GCC 12 gives brace-initialized list
  // elements the line of the list's end, so rule sets here are written with Rule(...))
  static const PatternMatcher pm{{
      Rule(x * 1, x),
      Rule(x + 0, x),
  }};
  ASSERT_EQ(pm.rules().size(), 2u);
  EXPECT_EQ(pm.rules()[1].loc.line(), pm.rules()[0].loc.line() + 1);
  EXPECT_NE(pm.rules()[0].where().find("test_pattern_matcher.cc:"), std::string::npos);
}
