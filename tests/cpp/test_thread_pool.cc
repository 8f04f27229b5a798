#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/thread_pool.h"

using namespace fg;

namespace {
// runs parallel_for and returns the chunks it was called with, sorted
std::vector<std::pair<int64_t, int64_t>> chunks_of(int64_t n) {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  parallel_for(n, [&](int64_t b, int64_t e) {
    std::lock_guard lock(mu);
    chunks.emplace_back(b, e);
  });
  std::sort(chunks.begin(), chunks.end());
  return chunks;
}
}  // namespace

TEST(ThreadPool, CoversTheRangeOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 4, 7}) {
    Context ctx{{"THREADS", threads}};
    for (int64_t n : {1, 2, 3, 5, 7, 64, 1000, 1001}) {
      auto chunks = chunks_of(n);
      ASSERT_EQ(static_cast<int64_t>(chunks.size()),
                std::min<int64_t>(threads == 1 ? 1 : threads, n))
          << "threads " << threads << " n " << n;
      int64_t next = 0, smallest = n, largest = 0;
      for (auto [b, e] : chunks) {
        EXPECT_EQ(b, next);
        EXPECT_LT(b, e);
        smallest = std::min(smallest, e - b);
        largest = std::max(largest, e - b);
        next = e;
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1) << "chunks should be near-equal";
    }
  }
}

TEST(ThreadPool, EmptyRangeCallsNothing) {
  Context ctx{{"THREADS", 4}};
  bool called = false;
  parallel_for(0, [&](int64_t, int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, SerialWithOneThreadRunsOnTheCaller) {
  Context ctx{{"THREADS", 1}};
  std::thread::id id;
  int calls = 0;
  parallel_for(100, [&](int64_t b, int64_t e) {
    id = std::this_thread::get_id();
    calls++;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 100);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(ThreadPool, UsesSeveralThreads) {
  Context ctx{{"THREADS", 4}};
  std::mutex mu;
  std::set<std::thread::id> ids;
  parallel_for(4, [&](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::lock_guard lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GE(ids.size(), 2u);
  EXPECT_GE(ThreadPool::global().workers(), 3);
}

TEST(ThreadPool, FirstExceptionPropagatesAndPoolStaysUsable) {
  Context ctx{{"THREADS", 4}};
  try {
    parallel_for(8, [&](int64_t b, int64_t) {
      if (b >= 4) fail(ErrorKind::Value, "chunk", "chunk at ", b, " failed");
    });
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos);
  }
  EXPECT_THROW(parallel_for(4, [](int64_t, int64_t) { throw std::runtime_error("x"); }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  parallel_for(1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) sum += i;
  });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  EXPECT_FALSE(in_parallel_region());
}

TEST(ThreadPool, NestedCallsRunSeriallyWithoutDeadlock) {
  Context ctx{{"THREADS", 3}};
  std::atomic<int64_t> total{0};
  std::atomic<int> inner_calls{0};
  parallel_for(6, [&](int64_t b, int64_t e) {
    EXPECT_TRUE(in_parallel_region());
    for (int64_t i = b; i < e; i++)
      parallel_for(100, [&](int64_t ib, int64_t ie) {
        inner_calls++;
        for (int64_t j = ib; j < ie; j++) total += j;
      });
  });
  EXPECT_EQ(total.load(), 6 * (99 * 100 / 2));
  EXPECT_EQ(inner_calls.load(), 6);  // serial: one call over the whole inner range
  EXPECT_FALSE(in_parallel_region());
}

TEST(ThreadPool, ConcurrentCallersAllFinish) {
  Context ctx{{"THREADS", 4}};
  std::vector<std::thread> callers;
  std::atomic<int64_t> total{0};
  for (int t = 0; t < 6; t++)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; rep++)
        parallel_for(257, [&](int64_t b, int64_t e) { total += e - b; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 6 * 50 * 257);
}

TEST(ThreadPool, MoreChunksThanThreadsBalance) {
  Context ctx{{"THREADS", 2}};
  std::vector<std::atomic<int>> hits(37);
  std::atomic<int> calls{0};
  parallel_for(
      37,
      [&](int64_t b, int64_t e) {
        calls++;
        for (int64_t i = b; i < e; i++) hits[i]++;
      },
      37);
  EXPECT_EQ(calls.load(), 37);
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}
