#include <gtest/gtest.h>

#include <thread>

#include "femtograd/ir/uop.h"

using namespace fg;

TEST(UOp, SameStructureSamePointer) {
  UOpRef x = UOp::var("x", 0, 10);
  UOpRef a = x + 3, b = x + 3;
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE((x + 4).get(), a.get());
  EXPECT_EQ(UOp::cnst(dtypes::float32, 1.0).get(), UOp::cnst(dtypes::float32, 1.0).get());
  EXPECT_NE(UOp::cnst(dtypes::float32, 0.0).get(), UOp::cnst(dtypes::float32, -0.0).get());
  EXPECT_NE(UOp::cnst(dtypes::float32, 1.0).get(), UOp::cnst(dtypes::float64, 1.0).get());
}

TEST(UOp, DroppedGraphIsFreed) {
  size_t before = UOp::live_count();
  {
    UOpRef x = UOp::var("gc_x", 0, 100);
    UOpRef e = x;
    for (int i = 0; i < 1000; i++) e = e * 3 + i;
    EXPECT_GE(UOp::live_count(), before + 2000);
  }
  EXPECT_EQ(UOp::live_count(), before);
}

TEST(UOp, DeepChainFreesWithoutRecursion) {
  size_t before = UOp::live_count();
  {
    UOpRef e = UOp::var("deep", 0, 1);
    for (int i = 0; i < 300000; i++) e = e + e;
  }
  EXPECT_EQ(UOp::live_count(), before);
}

TEST(UOp, ConcurrentInterningAgrees) {
  std::vector<const UOp*> seen(4);
  size_t before = UOp::live_count();
  {
    std::vector<std::thread> ts;
    std::vector<UOpRef> keep(4);
    for (int t = 0; t < 4; t++)
      ts.emplace_back([&, t] {
        for (int rep = 0; rep < 200; rep++) {
          UOpRef e = UOp::var("conc", 0, 7);
          for (int i = 0; i < 50; i++) e = e * 2 + i;
          if (rep == 199) keep[t] = e;
        }
      });
    for (auto& th : ts) th.join();
    for (int t = 1; t < 4; t++) EXPECT_EQ(keep[t].get(), keep[0].get());
  }
  EXPECT_EQ(UOp::live_count(), before);
}

TEST(UOp, Bounds) {
  UOpRef x = UOp::var("bx", 0, 9), y = UOp::var("by", -3, 4);
  UOpRef e = x * 4 + y;
  EXPECT_EQ(e->vmin(), -3);
  EXPECT_EQ(e->vmax(), 40);
  EXPECT_EQ(idiv(x, UOp::cnst_int(dtypes::index, 4))->vmax(), 2);
  EXPECT_EQ((x % 4)->vmin(), 0);
  EXPECT_EQ((x % 4)->vmax(), 3);
  EXPECT_EQ(x->lt(10)->vmin(), 1);
  UOpRef r = UOp::range(UOp::cnst_int(dtypes::index, 16), 0);
  EXPECT_EQ(r->vmin(), 0);
  EXPECT_EQ(r->vmax(), 15);
  UOpRef i8 = UOp::var("i8", 0, 100, dtypes::int8);
  EXPECT_EQ((i8 * 2)->vmin(), -128);  // may wrap: whole range
}
