// A monotonic clock for timing compiles and kernel launches: never jumps with wall-clock changes.
#pragma once
#include <chrono>

namespace fg {

// seconds since an arbitrary fixed point; only differences mean anything
inline double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Starts at construction; elapsed() reads seconds since then (or since the last reset()).
class Timer {
 public:
  Timer() : start_(now_seconds()) {}
  void reset() { start_ = now_seconds(); }
  double elapsed() const { return now_seconds() - start_; }
  double elapsed_ms() const { return elapsed() * 1e3; }

 private:
  double start_;
};

}  // namespace fg
