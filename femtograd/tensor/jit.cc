#include "femtograd/tensor/jit.h"

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fg {
namespace {
// the input as a realized contiguous buffer: the input's own node is realized first, so that the
// buffer is the one the function's kernels read (a lazy input, such as a copy from another device,
// would otherwise be realized twice: once here, once inside the function)
std::shared_ptr<Buffer> input_buffer(const Tensor& t) {
  Tensor c = t;
  c.realize();
  UOpRef b = buffer_of_tensor(c);
  if (!b) {
    c = t.contiguous();
    c.realize();
    b = buffer_of_tensor(c);
  }
  FG_ASSERT(b, "TinyJit: input is not a buffer after realize");
  auto buf = buffer_of(b);
  buf->ensure_allocated();
  return buf;
}

// the captured kernels as one graph of their device: null when JIT=2, when an item is a copy, when
// the items span devices, or when the device has no graphs
std::unique_ptr<DeviceGraph> make_jit_graph(const std::vector<ExecItem>& items) {
  if (items.empty() || getenv_int(Flag::JIT) >= 2) return nullptr;
  std::vector<GraphLaunch> launches;
  for (const ExecItem& it : items) {
    if (!it.kernel || it.device != items[0].device) return nullptr;
    GraphLaunch l{it.kernel->program.get(), {}, {}};
    for (const auto& b : it.bufs) l.bufs.push_back(b->ensure_allocated());
    for (int i = 0; i < 3; i++)
      l.dims.global[i] = it.kernel->prog.global_size[i], l.dims.local[i] = it.kernel->prog.local_size[i];
    launches.push_back(std::move(l));
  }
  try {
    return get_device(items[0].device).make_graph(launches);
  } catch (const Error&) {
    return nullptr;  // replay kernel by kernel
  }
}

// t read through a BUFFER node of its own over the same buffer. The capture call passes these to the
// function: nodes are interned, so with the inputs of an earlier call its graph would be that call's
// graph, already realized, and no kernel would run (and none be captured). A fresh input node makes
// every kernel that depends on an input run again.
Tensor fresh_input(const Tensor& t, const std::shared_ptr<Buffer>& buf) {
  UOpRef node = new_buffer(t.device(), t.dtype(), buf->size());
  node->set_payload(buf);
  UOpRef u = t.shape() == Shape{buf->size()} ? node : UOp::make(Op::RESHAPE, node->dtype, {node}, Arg(t.shape()));
  return Tensor(u, t.shape(), t.device());
}

std::vector<Tensor> run_and_realize(const TinyJit::Fn& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out = fn(inputs);
  for (Tensor& t : out) t = t.contiguous();
  std::vector<Tensor*> ptrs;
  for (Tensor& t : out) ptrs.push_back(&t);
  Tensor::realize_all(ptrs);
  return out;
}
}  // namespace

void TinyJit::reset() {
  calls_ = 0;
  items_.clear();
  slots_.clear();
  outputs_.clear();
  graph_.reset();
  graph_tried_ = false;
}

std::vector<Tensor> TinyJit::operator()(const std::vector<Tensor>& inputs) {
  std::vector<std::shared_ptr<Buffer>> bufs;
  for (const Tensor& t : inputs) bufs.push_back(input_buffer(t));
  if (calls_ == 0) {
    calls_ = 1;
    return run_and_realize(fn_, inputs);
  }
  if (calls_ == 1) {
    std::vector<ExecItem> captured;
    set_capture(&captured);
    std::vector<Tensor> out, fresh;
    for (size_t i = 0; i < inputs.size(); i++) fresh.push_back(fresh_input(inputs[i], bufs[i]));
    try {
      out = run_and_realize(fn_, fresh);
    } catch (...) {
      set_capture(nullptr);
      throw;
    }
    set_capture(nullptr);
    items_ = std::move(captured);
    slots_.clear();
    for (size_t i = 0; i < inputs.size(); i++) {
      InputSlot s{inputs[i].shape(), inputs[i].dtype(), inputs[i].device(), {}};
      for (size_t k = 0; k < items_.size(); k++)
        for (size_t j = 0; j < items_[k].bufs.size(); j++)
          if (items_[k].bufs[j].get() == bufs[i].get()) s.uses.push_back({k, j});
      slots_.push_back(std::move(s));
    }
    outputs_ = out;
    calls_ = 2;
    return out;
  }
  FG_CHECK(inputs.size() == slots_.size(), ErrorKind::Value, "TinyJit", "captured with ", slots_.size(),
           " inputs, called with ", inputs.size());
  for (size_t i = 0; i < inputs.size(); i++) {
    const InputSlot& s = slots_[i];
    FG_CHECK(inputs[i].shape() == s.shape, ErrorKind::Value, "TinyJit", "input ", i, " changed shape from ",
             shape_str(s.shape), " to ", shape_str(inputs[i].shape()), "; call reset() to capture again");
    FG_CHECK(inputs[i].dtype() == s.dtype, ErrorKind::Type, "TinyJit", "input ", i, " changed dtype from ",
             s.dtype.name(), " to ", inputs[i].dtype().name(), "; call reset() to capture again");
    FG_CHECK(inputs[i].device() == s.device, ErrorKind::Value, "TinyJit", "input ", i, " moved from ", s.device,
             " to ", inputs[i].device());
    for (auto [k, j] : s.uses) items_[k].bufs[j] = bufs[i];
  }
  if (!graph_tried_) {
    graph_tried_ = true;
    graph_ = make_jit_graph(items_);
  }
  if (graph_ && getenv_int(Flag::DEBUG) < 2) {
    for (size_t i = 0; i < inputs.size(); i++)
      for (auto [k, j] : slots_[i].uses) graph_->set_buffer(k, j, bufs[i]->ensure_allocated());
    graph_->replay();
    for (const ExecItem& it : items_) GlobalCounters::get().count(it.kernel->prog);
  } else {
    for (const ExecItem& it : items_) run_exec_item(it);
  }
  calls_++;
  return outputs_;
}

}  // namespace fg
