// Bindings of the C++ TinyJit (tensor/jit.h): femtograd.TinyJit wraps it. The Python function is
// called back through the GIL the caller holds (a TinyJit call never releases it around the
// function), with lists of tensors in and out.
#include <functional>

#include <nanobind/stl/function.h>

#include "common.h"

#if __has_include("femtograd/tensor/jit.h")
#include "femtograd/tensor/jit.h"
#define FG_HAVE_JIT 1
#endif

namespace fgpy {

void init_jit(nb::module_& m) {
#ifdef FG_HAVE_JIT
  nb::class_<fg::TinyJit>(m, "TinyJit",
                          "The C++ JIT: runs fn on the first call, captures the kernels of the second, replays "
                          "them on the new inputs' buffers from the third on.")
      .def("__init__", [](fg::TinyJit* self, nb::callable fn) {
        new (self) fg::TinyJit([fn](const std::vector<Tensor>& inputs) {
          return nb::cast<std::vector<Tensor>>(fn(inputs));
        });
      }, "fn"_a, "fn takes a list of Tensors and returns a list of Tensors.")
      .def("__call__", [](fg::TinyJit& j, const std::vector<Tensor>& inputs) { return j(inputs); }, "inputs"_a,
           "Runs (or replays) the function on the inputs; returns its output tensors.")
      .def_prop_ro("calls", &fg::TinyJit::calls, "How many times it ran (counting stops at 2).")
      .def_prop_ro("captured", &fg::TinyJit::captured, "Whether the kernels are captured (replays from now on).")
      .def_prop_ro("kernel_count", &fg::TinyJit::kernel_count, "The number of captured kernels.")
      .def("reset", &fg::TinyJit::reset, "Forgets the capture: the next call runs the function again.");
  m.attr("HAVE_JIT") = true;
#else
  m.attr("HAVE_JIT") = false;
#endif
}

}  // namespace fgpy
