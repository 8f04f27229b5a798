// femtograd._C: the module definition. Every fg::Error raised under a binding becomes the Python
// exception of its kind with the same message (ValueError, TypeError, IndexError,
// NotImplementedError, RuntimeError for device failures and internal errors), so nothing aborts the
// interpreter.
#include "common.h"

namespace {
void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const fg::Error& e) {
    PyObject* type = PyExc_RuntimeError;
    switch (e.kind()) {
      case fg::ErrorKind::Value: type = PyExc_ValueError; break;
      case fg::ErrorKind::Type: type = PyExc_TypeError; break;
      case fg::ErrorKind::Index: type = PyExc_IndexError; break;
      case fg::ErrorKind::NotImplemented: type = PyExc_NotImplementedError; break;
      case fg::ErrorKind::Runtime:
      case fg::ErrorKind::Internal: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, e.what());
  }
}
}  // namespace

NB_MODULE(_C, m) {
  m.doc() = "femtograd's C++ core (nanobind bindings); use the femtograd package, not this module";
  // tensors alive at interpreter exit are normal (module globals, caches): no leak report
  nb::set_leak_warnings(false);
  nb::register_exception_translator(translate);
  fgpy::init_dtypes(m);
  fgpy::init_helpers(m);
  fgpy::init_device(m);
  fgpy::init_tensor(m);
  fgpy::init_tensor_ops(m);
  fgpy::init_tensor_nn(m);
  fgpy::init_nn_state(m);
  fgpy::init_jit(m);
  fgpy::init_metadata(m);
  fgpy::init_viz(m);
}
