// Python values -> C++ arguments (common.h says what each accepts). The fast paths (exact Python
// ints, floats, tuples, Tensors) come first: they run on every op call.
#include <limits>
#include <unordered_set>

#include "common.h"
#include "femtograd/runtime/device.h"

namespace fgpy {

[[noreturn]] void type_error(const std::string& msg) {
  PyErr_SetString(PyExc_TypeError, msg.c_str());
  throw nb::python_error();
}
[[noreturn]] void value_error(const std::string& msg) {
  PyErr_SetString(PyExc_ValueError, msg.c_str());
  throw nb::python_error();
}

std::string py_type_name(nb::handle h) { return nb::type_name(h.type()).c_str(); }

namespace {
// numpy scalars and 0-d arrays (anything with dtype and ndim == 0 that is not a Tensor), read with
// .item(): a Python bool, int or float
bool numpy_scalar(nb::handle h, Scalar& out) {
  if (nb::isinstance<Tensor>(h) || !nb::hasattr(h, "dtype") || !nb::hasattr(h, "item")) return false;
  if (nb::hasattr(h, "ndim") && nb::cast<int64_t>(h.attr("ndim")) != 0) return false;
  nb::object v = h.attr("item")();
  PyObject* o = v.ptr();
  if (!PyBool_Check(o) && !PyLong_Check(o) && !PyFloat_Check(o)) return false;
  return as_scalar(v, out);
}
}  // namespace

bool as_scalar(nb::handle h, Scalar& out) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) {
    out = Scalar(o == Py_True);
    return true;
  }
  if (PyFloat_Check(o)) {
    out = Scalar(PyFloat_AS_DOUBLE(o));
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) {
      out = Scalar(static_cast<int64_t>(v));
      return true;
    }
    // past int64: uint64 values keep their bits (as the C++ API takes them); larger ones are an error
    unsigned long long u = PyLong_AsUnsignedLongLong(o);
    if (PyErr_Occurred()) {
      PyErr_Clear();
      value_error("integer " + nb::cast<std::string>(nb::str(h)) + " does not fit in 64 bits");
    }
    out = Scalar(static_cast<int64_t>(u));
    return true;
  }
  return numpy_scalar(h, out);
}

Scalar to_scalar(nb::handle h, const char* op) {
  Scalar s(0);
  if (!as_scalar(h, s)) type_error(std::string(op) + ": expected a number, got " + py_type_name(h));
  return s;
}

int64_t to_int(nb::handle h, const char* op) {
  PyObject* o = h.ptr();
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) value_error(std::string(op) + ": integer does not fit in int64");
    return v;
  }
  if (!PyFloat_Check(o) && PyIndex_Check(o)) {  // numpy integers
    nb::object i = nb::steal(PyNumber_Index(o));
    if (!i.is_valid()) throw nb::python_error();
    return to_int(i, op);
  }
  type_error(std::string(op) + ": expected an integer, got " + py_type_name(h));
}

Shape to_shape(nb::handle h, const char* op) {
  if (PyTuple_Check(h.ptr()) || PyList_Check(h.ptr())) {
    nb::sequence seq = nb::borrow<nb::sequence>(h);
    Shape s;
    s.reserve(nb::len(seq));
    for (nb::handle e : seq) s.push_back(to_int(e, op));
    return s;
  }
  if (PyLong_Check(h.ptr()) || (PyIndex_Check(h.ptr()) && !PyFloat_Check(h.ptr()))) return {to_int(h, op)};
  type_error(std::string(op) + ": expected a shape (a tuple of ints), got " + py_type_name(h));
}

std::vector<int64_t> ints_from_args(const nb::args& a, const char* op) {
  if (a.size() == 1 && (PyTuple_Check(a[0].ptr()) || PyList_Check(a[0].ptr()))) return to_shape(a[0], op);
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (nb::handle e : a) out.push_back(to_int(e, op));
  return out;
}

std::vector<int64_t> to_axes(nb::handle h, const char* op) {
  if (h.is_none()) return {};
  return to_shape(h, op);
}

std::optional<DType> to_dtype(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  if (nb::isinstance<DType>(h)) return nb::cast<DType>(h);
  if (PyUnicode_Check(h.ptr())) return fg::dtypes::from_name(nb::cast<std::string>(h));
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) return fg::dtypes::default_float;
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) return fg::dtypes::bool_;
  if (h.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) return fg::dtypes::default_int;
  // numpy dtypes and scalar types (np.float32, np.dtype("int64")), torch dtypes by their name
  nb::object np;
  try {
    np = nb::module_::import_("numpy");
  } catch (nb::python_error&) {
    type_error("dtype: expected a femtograd dtype or its name, got " + py_type_name(h));
  }
  nb::object npdt;
  try {
    npdt = np.attr("dtype")(h);
  } catch (nb::python_error&) {
    type_error("dtype: expected a femtograd dtype or its name, got " + py_type_name(h));
  }
  return fg::dtypes::from_name(nb::cast<std::string>(npdt.attr("name")));
}

DType to_dtype_or(nb::handle h, DType dflt) {
  auto d = to_dtype(h);
  return d ? *d : dflt;
}

std::string to_device(nb::handle h) {
  if (h.is_none()) return "";
  if (PyUnicode_Check(h.ptr())) return fg::canonical_device(nb::cast<std::string>(h));
  type_error("device: expected a device name such as \"CPU\", got " + py_type_name(h));
}

DType dtype_of_scalar(const Scalar& s) {
  switch (s.kind) {
    case Scalar::Kind::Bool: return fg::dtypes::bool_;
    case Scalar::Kind::Int:
      return s.i >= std::numeric_limits<int32_t>::min() && s.i <= std::numeric_limits<int32_t>::max()
                 ? fg::dtypes::default_int
                 : fg::dtypes::int64;
    case Scalar::Kind::Float: return fg::dtypes::default_float;
  }
  return fg::dtypes::default_float;
}

std::optional<Tensor> operand(const Tensor& self, nb::handle h) {
  if (nb::isinstance<Tensor>(h)) return *nb::inst_ptr<Tensor>(h);
  Scalar s(0);
  if (as_scalar(h, s)) return self.scalar_like(s);
  return std::nullopt;
}

Tensor operand_or_throw(const Tensor& self, nb::handle h, const char* op) {
  auto t = operand(self, h);
  if (!t) type_error(std::string(op) + ": expected a Tensor or a number, got " + py_type_name(h));
  return *t;
}

fg::UOpRef direct_buffer(const Tensor& t) {
  const fg::UOp* u = t.uop().get();
  while (true) {
    if (u->op == fg::Op::BUFFER) return u->ref();
    if (fg::UOpRef r = u->realized()) return r;
    if (u->op != fg::Op::RESHAPE) return nullptr;
    u = u->src(0).get();
  }
}

void set_py_requires_grad(nb::handle obj, nb::handle requires_grad) {
  if (requires_grad.is_none()) return;
  nb::setattr(obj, "_requires_grad", nb::bool_(nb::cast<bool>(requires_grad)));
}

bool is_py_leaf(nb::handle obj) { return nb::getattr(obj, "_requires_grad", nb::none()).ptr() == Py_True; }

namespace {
// Whether value reads target's buffer other than elementwise at the same index (through a
// permute, expand, pad, shrink, flip or reduce): writing that buffer in place while reading it
// would then race, so such a value is stored first.
bool reads_shifted(const fg::UOp* value, const fg::UOp* target) {
  std::unordered_set<const fg::UOp*> reaches;
  for (const fg::UOp* n : value->toposort()) {
    bool r = n == target || n->realized().get() == target;
    for (const fg::UOpRef& s : n->src()) r = r || reaches.count(s.get());
    if (!r) continue;
    switch (n->op) {
      case fg::Op::PERMUTE: case fg::Op::EXPAND: case fg::Op::PAD: case fg::Op::SHRINK: case fg::Op::FLIP:
      case fg::Op::REDUCE_AXIS: return true;
      default: break;
    }
    reaches.insert(n);
  }
  return false;
}
}  // namespace

void replace_tensor(nb::handle self_obj, const Tensor& value, const char* op) {
  Tensor& self = *nb::inst_ptr<Tensor>(self_obj);
  FG_CHECK(value.shape() == self.shape(), fg::ErrorKind::Value, op, "cannot assign a tensor of shape ",
           fg::shape_str(value.shape()), " to one of shape ", fg::shape_str(self.shape()));
  FG_CHECK(value.dtype() == self.dtype(), fg::ErrorKind::Type, op, "cannot assign a ", value.dtype().name(),
           " tensor to a ", self.dtype().name(), " tensor");
  FG_CHECK(value.device() == self.device(), fg::ErrorKind::Value, op, "cannot assign a tensor on ",
           value.device(), " to a tensor on ", self.device());
  if (value.uop() == self.uop()) return;
  bool leaf = self.dtype().is_float() && is_py_leaf(self_obj);
  Tensor grad = self.grad();
  Tensor fresh;
  if (fg::UOpRef buf = direct_buffer(self)) {
    // in place (tinygrad's assign): an ASSIGN writes the value into self's own buffer when realized,
    // so the buffer, and everything that captured it (TinyJit), stays the same
    Tensor v = reads_shifted(value.uop().get(), buf.get()) ? value.contiguous() : value;
    fresh = Tensor(fg::UOp::make(fg::Op::ASSIGN, self.dtype(), {self.uop(), v.uop()}), self.shape(), self.device());
  } else {
    // self holds no buffer (a lazy value or a constant): it simply becomes the value; a fresh state,
    // so the value's other handles do not become leaves or share our gradient
    fresh = Tensor(value.uop(), value.shape(), value.device());
  }
  if (leaf) fresh.requires_grad_(true);
  if (grad.defined()) fresh.set_grad(grad);
  self = fresh;
}

}  // namespace fgpy
