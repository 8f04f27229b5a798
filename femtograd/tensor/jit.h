// TinyJit: runs a function of tensors normally on its first call, captures the kernels it runs on
// its second, and from then on replays those kernels on the new inputs' buffers without building
// graphs, scheduling or generating code. Inputs must keep their shapes, dtypes and devices; a
// change is an error that names the input. Outputs of a replay live in the same buffers each call
// (read them before the next call, or copy them). On a device with graphs (CUDA) a replay is one
// graph launch (JIT=2: kernel by kernel); DEBUG>=2 replays kernel by kernel to time each.
#pragma once
#include <functional>
#include <vector>

#include "femtograd/engine/realize.h"
#include "femtograd/tensor/tensor.h"

namespace fg {

class TinyJit {
 public:
  using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
  explicit TinyJit(Fn fn) : fn_(std::move(fn)) {}

  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs);

  int calls() const { return calls_; }
  bool captured() const { return calls_ >= 2; }
  size_t kernel_count() const { return items_.size(); }
  // forget the capture (the next call runs normally again)
  void reset();

 private:
  struct InputSlot {
    Shape shape;
    DType dtype;
    std::string device;
    std::vector<std::pair<size_t, size_t>> uses;  // (item, buffer position) reading this input
  };
  Fn fn_;
  int calls_ = 0;
  std::vector<ExecItem> items_;
  std::vector<InputSlot> slots_;
  std::vector<Tensor> outputs_;
  std::unique_ptr<DeviceGraph> graph_;  // the captured kernels as one device graph, when possible
  bool graph_tried_ = false;
};

}  // namespace fg
