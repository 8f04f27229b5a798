#include "femtograd/tensor/jit.h"

#include "femtograd/base/error.h"
#include "femtograd/runtime/buffer.h"

namespace fg {
namespace {
// the input as a realized contiguous buffer
std::shared_ptr<Buffer> input_buffer(const Tensor& t) {
  Tensor c = t.contiguous();
  c.realize();
  const UOp* u = c.uop().get();
  while (u->op == Op::RESHAPE) u = u->src(0).get();
  UOpRef b = u->op == Op::BUFFER ? u->ref() : u->realized();
  FG_ASSERT(b, "TinyJit: input is not a buffer after realize");
  auto buf = buffer_of(b);
  buf->ensure_allocated();
  return buf;
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
    std::vector<Tensor> out;
    try {
      out = run_and_realize(fn_, inputs);
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
  for (const ExecItem& it : items_) run_exec_item(it);
  calls_++;
  return outputs_;
}

}  // namespace fg
