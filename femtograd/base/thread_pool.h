// A persistent pool of worker threads for CPU kernels and parallel compiles.
// Guarantees: parallel_for splits [0, n) into contiguous chunks, runs them on the workers and on
// the calling thread, and returns only when every chunk has finished; the first exception thrown
// by a chunk is rethrown to the caller (later chunks are skipped). A parallel_for called from
// inside a chunk runs serially on that thread, so nesting never deadlocks. Several threads may
// call parallel_for at once: each caller works on its own chunks, so every call makes progress.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fg {

using RangeFn = std::function<void(int64_t begin, int64_t end)>;

class ThreadPool {
 public:
  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs fn over [0, n) in `chunks` contiguous pieces (clamped to [1, n]) using at most
  // `threads` threads, the caller included. threads <= 1 or chunks == 1 runs fn(0, n) here.
  void run(int64_t n, const RangeFn& fn, int64_t chunks, int threads);

  int workers() const;  // worker threads started so far (the pool grows on demand, never shrinks)

  // the process-wide pool used by parallel_for
  static ThreadPool& global();

 private:
  struct Job;
  void ensure_workers(int n);
  void worker_loop();
  void dequeue(Job* job);

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // workers wait here for jobs
  std::condition_variable done_cv_;  // callers wait here for their job's last chunk
  std::deque<Job*> queue_;           // jobs with chunks not yet claimed
  std::atomic<int> queued_{0};       // queue_.size(), readable without mu_ by spinning workers
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

// Threads a parallel_for uses: the THREADS flag, or one per core when it is 0.
int num_threads();

// True on a pool worker and on a caller while it runs its own chunks.
bool in_parallel_region();

// Splits [0, n) into one contiguous chunk per thread (num_threads(), at most n).
void parallel_for(int64_t n, const RangeFn& fn);
// Same, with an explicit chunk count: more chunks than threads balance uneven work.
void parallel_for(int64_t n, const RangeFn& fn, int64_t chunks);

}  // namespace fg
