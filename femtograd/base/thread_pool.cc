#include "femtograd/base/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "femtograd/base/flags.h"

namespace fg {
namespace {
thread_local bool t_in_region = false;
constexpr int kMaxWorkers = 1024;

// Waking a thread blocked on a condition variable takes tens of microseconds (more on a busy
// machine), as long as a small kernel runs. So an idle worker spins this long for the next job
// before it sleeps (a schedule launches its kernels back to back), and a caller whose own chunks
// are done spins this long for the workers' before it sleeps.
constexpr auto kWorkerSpin = std::chrono::microseconds(300);
constexpr auto kCallerSpin = std::chrono::microseconds(100);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// spins until ready() or `limit` passes; returns ready()
template <class F>
bool spin_until(F ready, std::chrono::microseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    for (int i = 0; i < 64; i++) cpu_relax();
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
  return true;
}

// [begin, end) of chunk c when n items are split into `chunks` near-equal contiguous pieces
void chunk_range(int64_t n, int64_t chunks, int64_t c, int64_t* begin, int64_t* end) {
  int64_t base = n / chunks, rem = n % chunks;
  *begin = c * base + std::min(c, rem);
  *end = *begin + base + (c < rem ? 1 : 0);
}
}  // namespace

// One parallel_for call. Lives on the caller's stack; every field but `failed` is guarded by mu_.
struct ThreadPool::Job {
  const RangeFn* fn;
  int64_t n, chunks;
  int max_helpers;           // workers allowed on this job at once (the caller is extra)
  int helpers = 0;           // workers running a chunk of it now
  int64_t next = 0;          // next unclaimed chunk
  std::atomic<int64_t> done{0};  // chunks finished (or skipped after a failure); written under mu_
  std::exception_ptr error;  // the first exception a chunk threw
  std::atomic<bool> failed{false};
};

namespace {
std::exception_ptr exec_chunk(const RangeFn& fn, int64_t n, int64_t chunks, int64_t c,
                              const std::atomic<bool>& failed) {
  if (failed.load(std::memory_order_relaxed)) return nullptr;  // skip work after a failure
  int64_t b, e;
  chunk_range(n, chunks, c, &b, &e);
  try {
    if (b < e) fn(b, e);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}
}  // namespace

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

int ThreadPool::workers() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(threads_.size());
}

void ThreadPool::ensure_workers(int n) {  // mu_ held
  n = std::min(n, kMaxWorkers);
  while (static_cast<int>(threads_.size()) < n) threads_.emplace_back([this] { worker_loop(); });
}

void ThreadPool::dequeue(Job* job) {  // mu_ held
  queue_.erase(std::find(queue_.begin(), queue_.end(), job));
  queued_.fetch_sub(1, std::memory_order_release);
}

void ThreadPool::worker_loop() {
  t_in_region = true;  // a parallel_for inside a chunk runs serially
  std::unique_lock lock(mu_);
  while (true) {
    if (stop_) return;
    Job* job = nullptr;
    for (Job* j : queue_)
      if (j->helpers < j->max_helpers) {
        job = j;
        break;
      }
    if (!job) {
      lock.unlock();
      bool work = spin_until([this] { return queued_.load(std::memory_order_acquire) > 0; }, kWorkerSpin);
      lock.lock();
      if (!work && queue_.empty() && !stop_) work_cv_.wait(lock);
      continue;
    }
    int64_t c = job->next++;
    if (job->next == job->chunks) dequeue(job);
    job->helpers++;
    lock.unlock();
    std::exception_ptr err = exec_chunk(*job->fn, job->n, job->chunks, c, job->failed);
    lock.lock();
    if (err && !job->error) {
      job->error = err;
      job->failed.store(true);
    }
    job->helpers--;
    if (++job->done == job->chunks) done_cv_.notify_all();
    // the job may be gone from here on: its caller returns once done == chunks
  }
}

void ThreadPool::run(int64_t n, const RangeFn& fn, int64_t chunks, int threads) {
  if (n <= 0) return;
  chunks = std::clamp<int64_t>(chunks, 1, n);
  if (threads <= 1 || chunks == 1 || t_in_region) {
    fn(0, n);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.chunks = chunks;
  job.max_helpers = static_cast<int>(std::min<int64_t>(threads - 1, chunks - 1));
  std::unique_lock lock(mu_);
  ensure_workers(threads - 1);
  queue_.push_back(&job);
  queued_.fetch_add(1, std::memory_order_release);
  lock.unlock();
  if (job.max_helpers == 1)
    work_cv_.notify_one();
  else
    work_cv_.notify_all();

  // the caller works on its own job too, so the job finishes even when every worker is busy
  t_in_region = true;
  lock.lock();
  while (job.next < job.chunks) {
    int64_t c = job.next++;
    if (job.next == job.chunks) dequeue(&job);
    lock.unlock();
    std::exception_ptr err = exec_chunk(fn, n, chunks, c, job.failed);
    lock.lock();
    if (err && !job.error) {
      job.error = err;
      job.failed.store(true);
    }
    ++job.done;
  }
  if (job.done != job.chunks) {
    lock.unlock();
    spin_until([&] { return job.done.load(std::memory_order_acquire) == job.chunks; }, kCallerSpin);
    lock.lock();
    done_cv_.wait(lock, [&] { return job.done == job.chunks; });
  }
  lock.unlock();
  t_in_region = false;
  if (job.error) std::rethrow_exception(job.error);
}

int num_threads() {
  int64_t t = getenv_int(Flag::THREADS);
  // hardware_concurrency() reads the affinity mask or /sys on every call (~10 us): ask once
  static const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (t <= 0) t = cores;
  return static_cast<int>(std::min<int64_t>(t, kMaxWorkers + 1));
}

bool in_parallel_region() { return t_in_region; }

void parallel_for(int64_t n, const RangeFn& fn) {
  int t = num_threads();
  ThreadPool::global().run(n, fn, t, t);
}

void parallel_for(int64_t n, const RangeFn& fn, int64_t chunks) {
  ThreadPool::global().run(n, fn, chunks, num_threads());
}

}  // namespace fg
