// DEBUG>=5 traces graph rewrites: each pass that changed something says how many rules fired;
// DEBUG>=6 names every rule that fired (file:line) with the node before and after.
#include <gtest/gtest.h>

#include <string>

#include "femtograd/base/flags.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/ir/symbolic.h"

using namespace fg;

TEST(DebugTrace, RewritesAtDebug5And6) {
  UOpRef x = UOp::var("x", 0, 9);
  UOpRef e = x * int64_t{4} + int64_t{0};
  auto run = [&](int level) {
    testing::internal::CaptureStderr();
    {
      Context ctx{{"DEBUG", level}};
      UOpRef r = graph_rewrite(e, symbolic(), "trace test");
      EXPECT_EQ(r->expr(), "(x*4)");
    }
    return testing::internal::GetCapturedStderr();
  };
  std::string quiet = run(4), five = run(5), six = run(6);
  EXPECT_EQ(quiet.find("trace test"), std::string::npos) << quiet;
  EXPECT_NE(five.find("rewrite trace test"), std::string::npos) << five;
  EXPECT_NE(five.find("rules fired"), std::string::npos) << five;
  EXPECT_EQ(five.find("symbolic"), std::string::npos) << five;  // no per-rule lines at 5
  EXPECT_NE(six.find("symbolic"), std::string::npos) << six;     // the rule's file
  EXPECT_NE(six.find("((x*4)+0)  ->  (x*4)"), std::string::npos) << six;
}
