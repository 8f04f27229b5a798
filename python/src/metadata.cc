// Kernel metadata from Python (tensor/metadata.h): the caller of an op is the innermost Python frame
// outside the femtograd package ("train.py:12"), and femtograd._C.op_scope(name) names what a
// block builds (the package's layers and optimizers use it).
#include <cstring>
#include <memory>
#include <unordered_map>

#include "common.h"
#include "femtograd/tensor/metadata.h"

namespace fgpy {

namespace {
// the folder of the femtograd package ("/.../femtograd/"), found once the package is imported
const std::string& package_dir() {
  static std::string dir;
  if (dir.empty()) {
    PyObject* name = PyUnicode_FromString("femtograd");
    PyObject* mod = name ? PyImport_GetModule(name) : nullptr;  // new ref or null
    Py_XDECREF(name);
    if (mod) {
      if (PyObject* f = PyObject_GetAttrString(mod, "__file__")) {
        if (const char* s = PyUnicode_Check(f) ? PyUnicode_AsUTF8(f) : nullptr) {
          std::string p(s);
          size_t slash = p.find_last_of('/');
          if (slash != std::string::npos) dir = p.substr(0, slash + 1);
        }
        Py_DECREF(f);
      }
      Py_DECREF(mod);
    }
    PyErr_Clear();
  }
  return dir;
}

// "file.py:line" of the innermost frame outside the package, walking out from frame f
std::string outside_caller(PyFrameObject* f) {
  const std::string& pkg = package_dir();
  Py_INCREF(f);
  std::string out;
  for (int depth = 0; f && depth < 64; depth++) {
    PyCodeObject* code = PyFrame_GetCode(f);  // new ref
    const char* file = PyUnicode_AsUTF8(code->co_filename);
    Py_DECREF(code);
    if (!file) {
      PyErr_Clear();
    } else if (pkg.empty() || std::strncmp(file, pkg.c_str(), pkg.size()) != 0) {
      const char* base = std::strrchr(file, '/');
      out = std::string(base ? base + 1 : file) + ":" + std::to_string(PyFrame_GetLineNumber(f));
      break;
    }
    PyFrameObject* back = PyFrame_GetBack(f);  // new ref or null
    Py_DECREF(f);
    f = back;
  }
  Py_XDECREF(f);
  return out;
}

struct PairHash {
  size_t operator()(const std::pair<const void*, int>& k) const {
    return std::hash<const void*>()(k.first) * 31 + static_cast<size_t>(k.second);
  }
};

// The caller of the current op, interned. Fast path: the innermost frame is user code, so (its code
// object, its instruction) decides the answer; the cache holds the code objects, so their addresses stay theirs.
std::shared_ptr<const std::string> py_caller() {
  if (!Py_IsInitialized() || !PyGILState_Check()) return nullptr;  // a C++ thread: no Python caller
  PyFrameObject* f = PyEval_GetFrame();  // borrowed
  if (!f) return nullptr;
  struct Entry {
    PyObject* code;
    std::shared_ptr<const std::string> caller;
  };
  thread_local std::unordered_map<std::pair<const void*, int>, Entry, PairHash> cache;
  PyCodeObject* code = PyFrame_GetCode(f);  // new ref
  // the instruction offset decides the line (and costs less to read than the line)
  auto key = std::make_pair(static_cast<const void*>(code), PyFrame_GetLasti(f));
  if (auto it = cache.find(key); it != cache.end()) {
    Py_DECREF(code);
    return it->second.caller;
  }
  std::string c = outside_caller(f);
  if (c.empty()) {
    Py_DECREF(code);
    return nullptr;
  }
  auto caller = std::make_shared<const std::string>(std::move(c));
  // only a frame of user code answers for itself (a package frame's caller depends on who called it)
  const char* file = PyUnicode_AsUTF8(code->co_filename);
  const std::string& pkg = package_dir();
  if (file && !pkg.empty() && std::strncmp(file, pkg.c_str(), pkg.size()) != 0) {
    if (cache.size() > 4096) {
      for (auto& [k, e] : cache) Py_DECREF(e.code);
      cache.clear();
    }
    cache.emplace(key, Entry{reinterpret_cast<PyObject*>(code), caller});  // keeps the reference
  } else {
    PyErr_Clear();
    Py_DECREF(code);
  }
  return caller;
}

// `with op_scope(name):` as a Python object
struct PyOpScope {
  std::string name;
  std::unique_ptr<fg::OpScope> scope;
};
}  // namespace

void init_metadata(nb::module_& m) {
  fg::set_caller_hook(&py_caller);
  nb::class_<PyOpScope>(m, "op_scope",
                        "with op_scope(name): the kernels of what the block builds are named `name` (with the "
                        "calling line), unless an outer scope already names them (DEBUG=2 shows it).")
      .def(nb::init<std::string>(), "name"_a)
      .def("__enter__", [](PyOpScope& s) {
        s.scope = std::make_unique<fg::OpScope>(s.name, std::string());
        return &s;
      }, nb::rv_policy::reference)
      .def("__exit__", [](PyOpScope& s, nb::handle, nb::handle, nb::handle) { s.scope.reset(); },
           "exc_type"_a.none(), "exc"_a.none(), "tb"_a.none());
  m.def("kernel_metadata", [](const fg::Tensor& t) {
    std::vector<std::string> out;
    fg::MetadataRef md = fg::metadata_of(t.uop().get());
    if (md) out.push_back(md->str());
    return out;
  }, "t"_a, "The metadata of the op that built t's node (for tests): ['relu@train.py:12'] or [].");
}

}  // namespace fgpy
