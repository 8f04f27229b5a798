// Bindings of the helpers: environment flags (getenv, the flag table), scoped overrides (Context),
// the profiling counters (GlobalCounters, compile statistics) and the no-grad scope.
#include <memory>

#include <nanobind/stl/unique_ptr.h>

#include "common.h"
#include "femtograd/base/flags.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/autograd.h"

namespace fgpy {

namespace {
// A Context over settings known only at run time: fg::Context takes an initializer list, so each
// setting gets one nested fg::Context; close() undoes them in reverse order.
class PyContext {
 public:
  explicit PyContext(const nb::dict& settings) {
    for (auto [k, v] : settings) fg::flag_by_name(nb::cast<std::string>(k));  // all valid first
    for (auto [k, v] : settings) {
      std::string name = nb::cast<std::string>(k);
      PyObject* o = v.ptr();
      if (PyUnicode_Check(o)) {
        scopes_.push_back(std::make_unique<fg::Context>(
            std::initializer_list<fg::Context::Setting>{{name, nb::cast<std::string>(v)}}));
      } else if (PyLong_Check(o)) {  // bools too
        scopes_.push_back(std::make_unique<fg::Context>(
            std::initializer_list<fg::Context::Setting>{{name, to_int(v, "Context")}}));
      } else {
        type_error("Context: flag " + name + " takes an int or a str, got " + py_type_name(v));
      }
    }
  }
  ~PyContext() { close(); }
  PyContext(const PyContext&) = delete;
  PyContext& operator=(const PyContext&) = delete;
  void close() {
    while (!scopes_.empty()) scopes_.pop_back();
  }

 private:
  std::vector<std::unique_ptr<fg::Context>> scopes_;
};

class PyNoGrad {
 public:
  PyNoGrad() = default;
  PyNoGrad(const PyNoGrad&) = delete;
  PyNoGrad& operator=(const PyNoGrad&) = delete;
  void enter() { guard_ = std::make_unique<fg::NoGrad>(); }
  void exit() { guard_.reset(); }

 private:
  std::unique_ptr<fg::NoGrad> guard_;
};
}  // namespace

void init_helpers(nb::module_& m) {
  m.def("flags", []() {
    int n = 0;
    const fg::FlagInfo* t = fg::flag_table(&n);
    nb::list out;
    for (int i = 0; i < n; i++)
      out.append(nb::make_tuple(t[i].name, t[i].is_string, t[i].default_text, t[i].help));
    return out;
  }, "Every environment flag femtograd reads: (name, is_string, default, help) tuples.");
  m.def("is_flag", [](const std::string& name) {
    int n = 0;
    const fg::FlagInfo* t = fg::flag_table(&n);
    for (int i = 0; i < n; i++)
      if (name == t[i].name) return true;
    return false;
  }, "name"_a, "Whether femtograd declares a flag of this name (base/flags.def).");
  m.def("getenv_flag", [](const std::string& name) -> nb::object {
    fg::Flag f = fg::flag_by_name(name);
    int n = 0;
    const fg::FlagInfo* t = fg::flag_table(&n);
    if (t[static_cast<int>(f)].is_string) return nb::str(fg::getenv_str(f).c_str());
    return nb::int_(fg::getenv_int(f));
  }, "name"_a, "The current value of a declared flag (Context overrides included): int or str.");

  nb::class_<PyContext>(m, "Context", "Scoped flag overrides; use femtograd.Context(DEBUG=2).")
      .def(nb::init<const nb::dict&>(), "settings"_a,
           "Sets each flag (name -> int or str) until close(); unknown names are a ValueError.")
      .def("close", &PyContext::close, "Restores the flags' previous values.");

  nb::class_<PyNoGrad>(m, "NoGrad", "While entered, tensors built on this thread do not require grad.")
      .def(nb::init<>())
      .def("__enter__", [](PyNoGrad& g) { g.enter(); return &g; }, nb::rv_policy::reference)
      .def("__exit__", [](PyNoGrad& g, nb::args) { g.exit(); return false; });
  m.def("grad_enabled", &Tensor::grad_enabled, "False inside a NoGrad scope of this thread.");

  m.def("global_counters", []() {
    const fg::GlobalCounters& g = fg::GlobalCounters::get();
    nb::dict d;
    d["kernel_count"] = g.kernel_count;
    d["global_ops"] = g.global_ops;
    d["global_mem"] = g.global_mem;
    d["time_sum_s"] = g.time_sum_s;
    return d;
  }, "The process-wide counters of realized kernels: kernel_count, global_ops (FLOPs), global_mem "
     "(bytes), time_sum_s.");
  m.def("reset_global_counters", []() { fg::GlobalCounters::get().reset(); },
        "Sets every GlobalCounters value to 0.");
  m.def("compile_stats", []() {
    fg::CompileStats s = fg::compile_stats();
    nb::dict d;
    d["compiles"] = s.compiles;
    d["cache_hits"] = s.cache_hits;
    d["compile_seconds"] = s.compile_seconds;
    return d;
  }, "Kernel compiler counters: compiles, cache_hits (disk cache), compile_seconds.");
}

}  // namespace fgpy
