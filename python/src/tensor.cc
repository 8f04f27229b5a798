// Bindings of fg::Tensor, part 1: the class, construction (from Tensors, scalars, nested lists,
// bytes and numpy arrays), the creation functions, properties, reading data back (numpy without a
// copy on CPU, tolist, item), moving between devices, autograd and assign. The ops are bound in
// tensor_ops.cc. Tensors are lazy: nothing runs until realize(), numpy(), item() or tolist().
#include <cstring>
#include <memory>

#include <nanobind/ndarray.h>

#include "common.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/buffer.h"
#include "femtograd/runtime/device.h"

namespace fgpy {

namespace {
using fg::dtypes::default_float;

// ---------------------------------------------------------------- construction

// one element of a host array of dtype dt, written exactly for ints (no trip through double)
void store_scalar(DType dt, const Scalar& s, unsigned char* p) {
  using S = fg::ScalarType;
  if (s.kind != Scalar::Kind::Float && dt.is_int()) {
    int64_t v = s.i;
    switch (dt.scalar) {
      case S::Int8: { int8_t x = static_cast<int8_t>(v); std::memcpy(p, &x, 1); return; }
      case S::UInt8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(p, &x, 1); return; }
      case S::Int16: { int16_t x = static_cast<int16_t>(v); std::memcpy(p, &x, 2); return; }
      case S::UInt16: { uint16_t x = static_cast<uint16_t>(v); std::memcpy(p, &x, 2); return; }
      case S::Int32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); return; }
      case S::UInt32: { uint32_t x = static_cast<uint32_t>(v); std::memcpy(p, &x, 4); return; }
      case S::Int64:
      case S::UInt64: std::memcpy(p, &v, 8); return;
      default: break;
    }
  }
  fg::store_from_double(dt, s.kind == Scalar::Kind::Float ? s.f : static_cast<double>(s.i), p);
}

// A nested list or tuple of numbers: its shape (from the first element at each depth, then checked
// everywhere) and its leaves in row-major order.
struct NestedList {
  Shape shape;
  std::vector<Scalar> leaves;
  int kind = 0;  // 0 bool, 1 int, 2 float: the widest leaf seen

  void walk(nb::handle h, size_t depth) {
    PyObject* o = h.ptr();
    if (PyList_Check(o) || PyTuple_Check(o)) {
      if (depth >= shape.size())
        value_error("Tensor: the nested list is ragged: a list where a number was expected at depth " +
                    std::to_string(depth));
      size_t n = nb::len(h);
      if (static_cast<int64_t>(n) != shape[depth])
        value_error("Tensor: the nested list is ragged: length " + std::to_string(n) + " at depth " +
                    std::to_string(depth) + ", expected " + std::to_string(shape[depth]));
      for (nb::handle e : nb::borrow<nb::sequence>(h)) walk(e, depth + 1);
      return;
    }
    if (depth != shape.size())
      value_error("Tensor: the nested list is ragged: a number at depth " + std::to_string(depth) +
                  ", expected a list");
    Scalar s(0);
    if (!as_scalar(h, s))
      type_error("Tensor: a nested list may hold only numbers, got " + py_type_name(h));
    kind = std::max(kind, s.kind == Scalar::Kind::Bool ? 0 : s.kind == Scalar::Kind::Int ? 1 : 2);
    leaves.push_back(s);
  }
};

Tensor from_list(nb::handle data, const std::string& device, std::optional<DType> dtype) {
  NestedList nl;
  for (nb::handle h = data; PyList_Check(h.ptr()) || PyTuple_Check(h.ptr());) {
    size_t n = nb::len(h);
    nl.shape.push_back(static_cast<int64_t>(n));
    if (n == 0) break;
    h = PySequence_Fast_GET_ITEM(h.ptr(), 0);
  }
  nl.walk(data, 0);
  DType dt = dtype ? *dtype
             : nl.leaves.empty() ? default_float
             : nl.kind == 2      ? default_float
             : nl.kind == 1      ? fg::dtypes::default_int
                                 : fg::dtypes::bool_;
  if (!dtype && nl.kind == 1)
    for (const Scalar& s : nl.leaves)
      if (dtype_of_scalar(s) == fg::dtypes::int64) { dt = fg::dtypes::int64; break; }
  std::vector<unsigned char> raw(nl.leaves.size() * dt.itemsize());
  for (size_t i = 0; i < nl.leaves.size(); i++) store_scalar(dt, nl.leaves[i], raw.data() + i * dt.itemsize());
  return Tensor::from_data(raw.data(), dt, nl.shape, device);
}

using HostArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

std::optional<DType> dtype_of_dlpack(nb::dlpack::dtype d) {
  using C = nb::dlpack::dtype_code;
  if (d.lanes != 1) return std::nullopt;
  switch (static_cast<C>(d.code)) {
    case C::Bool: return d.bits == 8 ? std::optional<DType>(fg::dtypes::bool_) : std::nullopt;
    case C::Int:
      switch (d.bits) {
        case 8: return fg::dtypes::int8;
        case 16: return fg::dtypes::int16;
        case 32: return fg::dtypes::int32;
        case 64: return fg::dtypes::int64;
      }
      break;
    case C::UInt:
      switch (d.bits) {
        case 8: return fg::dtypes::uint8;
        case 16: return fg::dtypes::uint16;
        case 32: return fg::dtypes::uint32;
        case 64: return fg::dtypes::uint64;
      }
      break;
    case C::Float:
      switch (d.bits) {
        case 16: return fg::dtypes::float16;
        case 32: return fg::dtypes::float32;
        case 64: return fg::dtypes::float64;
      }
      break;
    case C::Bfloat: return d.bits == 16 ? std::optional<DType>(fg::dtypes::bfloat16) : std::nullopt;
    default: break;
  }
  return std::nullopt;
}

Tensor from_array(const HostArray& a, nb::handle src, const std::string& device, std::optional<DType> dtype) {
  auto dt = dtype_of_dlpack(a.dtype());
  if (!dt) type_error("Tensor: unsupported array dtype " + nb::cast<std::string>(nb::str(src.attr("dtype"))));
  Shape shape(a.ndim());
  for (size_t i = 0; i < a.ndim(); i++) shape[i] = static_cast<int64_t>(a.shape(i));
  if (!dtype || *dtype == *dt) return Tensor::from_data(a.data(), *dt, shape, device);
  std::vector<unsigned char> raw(a.size() * dtype->itemsize());
  fg::convert_from(*dt, a.data(), static_cast<int64_t>(a.size()), *dtype, raw.data());
  return Tensor::from_data(raw.data(), *dtype, shape, device);
}

// a copy of t on another device, through the host
Tensor to_device_copy(const Tensor& t, const std::string& device) {
  std::string dev = device.empty() ? fg::canonical_device(fg::default_device()) : device;
  if (dev == t.device()) return t;
  std::vector<unsigned char> raw(static_cast<size_t>(t.numel()) * t.dtype().itemsize());
  {
    nb::gil_scoped_release nogil;
    t.copy_to_host(raw.data(), raw.size());
  }
  return Tensor::from_data(raw.data(), t.dtype(), t.shape(), dev);
}

// a copy in memory of its own: writes to it (in-place assign) never reach the source's buffer
Tensor clone(const Tensor& t) {
  return Tensor(fg::UOp::make(fg::Op::CONTIGUOUS, t.dtype(), {t.uop()}), t.shape(), t.device());
}

Tensor post(Tensor t, nb::handle requires_grad) {
  if (!requires_grad.is_none() && nb::cast<bool>(requires_grad)) t.requires_grad_(true);
  return t;
}

// ---------------------------------------------------------------- reading back

void realize_released(Tensor& t) {
  nb::gil_scoped_release nogil;
  t.realize();
}

// Reading values realizes a separate handle of the same graph: the tensor itself stays the lazy
// graph (so backward() still reaches its inputs, as in PyTorch), while the engine remembers the
// value's buffer, so later realizes reuse it instead of computing it again.
Tensor realized_view(const Tensor& self) {
  Tensor t(self.uop(), self.shape(), self.device());
  realize_released(t);
  return t;
}

// dtypes numpy lacks are read as float32, like tinygrad
Tensor numpy_ready(const Tensor& t) {
  DType d = t.dtype();
  if (d.scalar == fg::ScalarType::BFloat16 || d.is_fp8()) return t.cast(fg::dtypes::float32);
  return t;
}

nb::dlpack::dtype dlpack_of(DType d) {
  using C = nb::dlpack::dtype_code;
  nb::dlpack::dtype r;
  r.bits = static_cast<uint8_t>(d.itemsize() * 8);
  r.lanes = 1;
  r.code = static_cast<uint8_t>(d.is_bool() ? C::Bool : d.is_float() ? C::Float : d.is_unsigned() ? C::UInt : C::Int);
  return r;
}

// A read-only numpy array of the tensor's values. On CPU it views the realized buffer itself (no
// copy; the array keeps the buffer alive); elsewhere the values are copied to host memory.
nb::object to_numpy(Tensor& self) {
  Tensor t = numpy_ready(self);
  if (t.numel() > 0 && t.device() == "CPU") t = realized_view(t);
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  nb::dlpack::dtype dl = dlpack_of(t.dtype());
  size_t nbytes = static_cast<size_t>(t.numel()) * t.dtype().itemsize();
  using RoArray = nb::ndarray<nb::numpy, nb::ro>;
  if (t.numel() > 0 && t.device() == "CPU") {
    fg::UOpRef buf = direct_buffer(t);
    if (!buf) {
      t = t.contiguous();
      realize_released(t);
      buf = direct_buffer(t);
    }
    if (buf) {
      auto keep = new std::shared_ptr<fg::Buffer>(fg::buffer_of(buf));
      if ((*keep)->ptr()) {
        nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<std::shared_ptr<fg::Buffer>*>(p); });
        return nb::cast(RoArray((*keep)->ptr(), shape.size(), shape.data(), owner, nullptr, dl));
      }
      delete keep;
    }
  }
  auto host = new std::vector<unsigned char>(std::max<size_t>(nbytes, 1));
  nb::capsule owner(host, [](void* p) noexcept { delete static_cast<std::vector<unsigned char>*>(p); });
  if (nbytes) {
    nb::gil_scoped_release nogil;
    t.copy_to_host(host->data(), nbytes);
  }
  return nb::cast(RoArray(host->data(), shape.size(), shape.data(), owner, nullptr, dl));
}

// exact Python value of one element: bool, int (every int64/uint64 value) or float
nb::object py_value(DType d, const unsigned char* p) {
  using S = fg::ScalarType;
  switch (d.scalar) {
    case S::Bool: return nb::bool_(*p != 0);
    case S::Int8: { int8_t v; std::memcpy(&v, p, 1); return nb::int_(v); }
    case S::Int16: { int16_t v; std::memcpy(&v, p, 2); return nb::int_(v); }
    case S::Int32: { int32_t v; std::memcpy(&v, p, 4); return nb::int_(v); }
    case S::Int64: { int64_t v; std::memcpy(&v, p, 8); return nb::int_(v); }
    case S::UInt8: return nb::int_(*p);
    case S::UInt16: { uint16_t v; std::memcpy(&v, p, 2); return nb::int_(v); }
    case S::UInt32: { uint32_t v; std::memcpy(&v, p, 4); return nb::int_(v); }
    case S::UInt64: { uint64_t v; std::memcpy(&v, p, 8); return nb::int_(v); }
    default: return nb::float_(fg::load_as_double(d, p));
  }
}

nb::object item(Tensor& self) {
  FG_CHECK(self.numel() == 1, fg::ErrorKind::Value, "item",
           "only a tensor of one element can be read as a scalar, shape is ", fg::shape_str(self.shape()));
  unsigned char raw[16] = {};
  Tensor t = realized_view(self);
  {
    nb::gil_scoped_release nogil;
    t.copy_to_host(raw, t.dtype().itemsize());
  }
  return py_value(self.dtype(), raw);
}

std::string repr(const Tensor& t) {
  std::string s = "<Tensor " + fg::shape_str(t.shape()) + " " + t.dtype().name() + " on " + t.device();
  s += direct_buffer(t) ? " (realized)" : " (lazy)";
  if (t.grad().defined()) s += " with grad";
  return s + ">";
}

// an explicit requires_grad is remembered on the Python object too (common.h: set_py_requires_grad)
nb::object creation(Tensor t, nb::handle requires_grad) {
  nb::object o = nb::cast(post(std::move(t), requires_grad));
  set_py_requires_grad(o, requires_grad);
  return o;
}

// tinygrad's dtype for full/arange values: float -> default_float, int -> default_int, bool -> bool
DType value_dtype(const Scalar& s) { return dtype_of_scalar(s); }
// the random creation functions and *_like forms (tensor_random.cc), bound when the C++ Tensor has them
template <class T>
void bind_random(nb::class_<T>& cls) {
#define FG_SHAPE_CTOR(NAME, EXPR, DOC)                                                                      \
  cls.def_static(NAME, [](nb::args shape, nb::handle device, nb::handle dtype, nb::handle requires_grad) { \
    Shape s = ints_from_args(shape, NAME);                                                                \
    std::string dev = to_device(device);                                                                  \
    return creation(EXPR, requires_grad);                                                                 \
  }, "shape"_a, nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(),                           \
     "requires_grad"_a = nb::none(), DOC)
  FG_HAS_STATIC(T::rand(Shape{})) {
  FG_SHAPE_CTOR("rand", T::rand(s, to_dtype_or(dtype, default_float), dev), "Uniform random numbers in [0, 1).");
  }
  FG_HAS_STATIC(T::randn(Shape{})) {
  FG_SHAPE_CTOR("randn", T::randn(s, to_dtype_or(dtype, default_float), dev), "Standard normal random numbers.");
  }
  FG_HAS_STATIC(T::scaled_uniform(Shape{})) {
  FG_SHAPE_CTOR("scaled_uniform", T::scaled_uniform(s, to_dtype_or(dtype, default_float), dev),
                  "Uniform in [-1, 1) scaled by 1/sqrt(numel) (tinygrad's initializer).");
  }
  FG_HAS_STATIC(T::glorot_uniform(Shape{})) {
  FG_SHAPE_CTOR("glorot_uniform", T::glorot_uniform(s, to_dtype_or(dtype, default_float), dev),
                  "Glorot (Xavier) uniform initialization.");
  }
  FG_HAS_STATIC(T::randint(Shape{}, 0, 1)) {
  cls.def_static("randint", [](nb::args shape, int64_t low, int64_t high, nb::handle device, nb::handle dtype,
                                 nb::handle requires_grad) {
      return creation(T::randint(ints_from_args(shape, "randint"), low, high,
                                      to_dtype_or(dtype, fg::dtypes::int32), to_device(device)), requires_grad);
    }, "shape"_a, nb::kw_only(), "low"_a = 0, "high"_a = 10, "device"_a = nb::none(), "dtype"_a = nb::none(),
       "requires_grad"_a = nb::none(), "Uniform random integers in [low, high) (int32 by default).");
  }
  FG_HAS_STATIC(T::uniform(Shape{})) {
  cls.def_static("uniform", [](nb::args shape, double low, double high, nb::handle device, nb::handle dtype,
                                 nb::handle requires_grad) {
      return creation(T::uniform(ints_from_args(shape, "uniform"), low, high, to_dtype_or(dtype, default_float),
                                      to_device(device)), requires_grad);
    }, "shape"_a, nb::kw_only(), "low"_a = 0.0, "high"_a = 1.0, "device"_a = nb::none(), "dtype"_a = nb::none(),
       "requires_grad"_a = nb::none(), "Uniform random numbers in [low, high).");
  }
  FG_HAS_STATIC(T::normal(Shape{})) {
  cls.def_static("normal", [](nb::args shape, double mean, double std, nb::handle device, nb::handle dtype,
                                nb::handle requires_grad) {
      return creation(T::normal(ints_from_args(shape, "normal"), mean, std, to_dtype_or(dtype, default_float),
                                     to_device(device)), requires_grad);
    }, "shape"_a, nb::kw_only(), "mean"_a = 0.0, "std"_a = 1.0, "device"_a = nb::none(), "dtype"_a = nb::none(),
       "requires_grad"_a = nb::none(), "Normal random numbers of the mean and standard deviation.");
  }
  FG_HAS_STATIC(T::kaiming_uniform(Shape{})) {
  cls.def_static("kaiming_uniform", [](nb::args shape, double a, nb::handle device, nb::handle dtype,
                                         nb::handle requires_grad) {
      return creation(T::kaiming_uniform(ints_from_args(shape, "kaiming_uniform"), a,
                                              to_dtype_or(dtype, default_float), to_device(device)), requires_grad);
    }, "shape"_a, nb::kw_only(), "a"_a = 0.01, "device"_a = nb::none(), "dtype"_a = nb::none(),
       "requires_grad"_a = nb::none(), "Kaiming (He) uniform initialization; fan_in is prod(shape[1:]).");
  }
  FG_HAS_STATIC(T::kaiming_normal(Shape{})) {
  cls.def_static("kaiming_normal", [](nb::args shape, double a, nb::handle device, nb::handle dtype,
                                        nb::handle requires_grad) {
      return creation(T::kaiming_normal(ints_from_args(shape, "kaiming_normal"), a,
                                             to_dtype_or(dtype, default_float), to_device(device)), requires_grad);
    }, "shape"_a, nb::kw_only(), "a"_a = 0.01, "device"_a = nb::none(), "dtype"_a = nb::none(),
       "requires_grad"_a = nb::none(), "Kaiming (He) normal initialization; fan_in is prod(shape[1:]).");
  }
  FG_HAS_STATIC(T::randperm(1)) {
  cls.def_static("randperm", [](int64_t n, nb::handle device, nb::handle dtype, nb::handle requires_grad) {
      return creation(T::randperm(n, to_dtype_or(dtype, fg::dtypes::int32), to_device(device)), requires_grad);
    }, "n"_a, nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(),
       "A random permutation of 0..n-1 (int32 by default, like tinygrad).");
  }
  FG_HAS_STATIC(T::manual_seed(0)) {
  cls.def_static("manual_seed", [](uint64_t seed) { T::manual_seed(seed); }, "seed"_a = 0,
                   "Sets the global random seed (and restarts the counters).");
  }
  FG_HAS(t.rand_like()) {
  cls.def("rand_like", [](const T& t, nb::handle dtype, nb::handle requires_grad) {
      return creation(t.rand_like(to_dtype(dtype)), requires_grad);
    }, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(), "Uniform [0, 1) of this shape.");
  }
  FG_HAS(t.randn_like()) {
  cls.def("randn_like", [](const T& t, nb::handle dtype, nb::handle requires_grad) {
      return creation(t.randn_like(to_dtype(dtype)), requires_grad);
    }, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(), "Standard normal of this shape.");
  }
  FG_HAS(t.empty_like()) {
  cls.def("empty_like", [](const T& t, nb::handle dtype) { return t.empty_like(to_dtype(dtype)); },
            nb::kw_only(), "dtype"_a = nb::none(), "An unspecified tensor of this shape.");
  }
#undef FG_SHAPE_CTOR
}

}  // namespace

Tensor make_tensor(nb::handle data, const std::string& device, std::optional<DType> dtype) {
  PyObject* o = data.ptr();
  if (nb::isinstance<Tensor>(data)) {
    const Tensor& src = *nb::inst_ptr<Tensor>(data);
    Tensor t = device.empty() || device == src.device() ? clone(src) : to_device_copy(src, device);
    return dtype && *dtype != t.dtype() ? t.cast(*dtype) : t;
  }
  if (data.is_none()) return Tensor::empty({0}, dtype ? *dtype : default_float, device);
  Scalar s(0);
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o)) {
    as_scalar(data, s);
    return Tensor::full({}, s, dtype ? *dtype : dtype_of_scalar(s), device);
  }
  if (PyList_Check(o) || PyTuple_Check(o)) return from_list(data, device, dtype);
  if (PyBytes_Check(o) || PyByteArray_Check(o)) {
    nb::bytes b(nb::steal(PyBytes_FromObject(o)));
    Tensor t = Tensor::from_data(b.c_str(), fg::dtypes::uint8, {static_cast<int64_t>(b.size())}, device);
    return dtype && *dtype != t.dtype() ? t.cast(*dtype) : t;
  }
  HostArray a;
  if (nb::try_cast(data, a, true)) return from_array(a, data, device, dtype);
  if (as_scalar(data, s)) return Tensor::full({}, s, dtype ? *dtype : dtype_of_scalar(s), device);
  type_error("Tensor: cannot make a tensor from " + py_type_name(data) +
             " (expected a Tensor, a number, a nested list, bytes or a numpy array)");
}

void init_tensor(nb::module_& m) {
  nb::class_<Tensor> cls(m, "Tensor", nb::dynamic_attr(),
                         "A lazy tensor backed by femtograd's C++ core (tinygrad's Tensor API).");

  // ---- construction
  cls.def("__init__", [](Tensor* self, nb::handle data, nb::handle device, nb::handle dtype,
                         nb::handle requires_grad) {
    Tensor t = post(make_tensor(data, to_device(device), to_dtype(dtype)), requires_grad);
    new (self) Tensor(std::move(t));
    if (!requires_grad.is_none()) set_py_requires_grad(nb::find(self), requires_grad);
  }, "data"_a = nb::none(), "device"_a = nb::none(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(),
      "Tensor(data, device=None, dtype=None, requires_grad=None): data is a Tensor, a number, a nested "
      "list, bytes or a numpy array (numpy keeps its dtype; lists infer float32, int32 or bool).");

#define FG_SHAPE_CTOR(NAME, EXPR, DOC)                                                                      \
  cls.def_static(NAME, [](nb::args shape, nb::handle device, nb::handle dtype, nb::handle requires_grad) { \
    Shape s = ints_from_args(shape, NAME);                                                                \
    std::string dev = to_device(device);                                                                  \
    return creation(EXPR, requires_grad);                                                                 \
  }, "shape"_a, nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(),                           \
     "requires_grad"_a = nb::none(), DOC)
  FG_SHAPE_CTOR("empty", Tensor::empty(s, to_dtype_or(dtype, default_float), dev),
                "A tensor of the shape whose values are unspecified (memory is taken when it is realized).");
  FG_SHAPE_CTOR("zeros", Tensor::zeros(s, to_dtype_or(dtype, default_float), dev), "Zeros of the shape (no memory).");
  FG_SHAPE_CTOR("ones", Tensor::ones(s, to_dtype_or(dtype, default_float), dev), "Ones of the shape (no memory).");
#undef FG_SHAPE_CTOR


  bind_random<Tensor>(cls);

  cls.def_static("full", [](nb::handle shape, nb::handle fill_value, nb::handle device, nb::handle dtype,
                            nb::handle requires_grad) {
    Scalar v = to_scalar(fill_value, "full");
    return creation(Tensor::full(to_shape(shape, "full"), v, to_dtype_or(dtype, value_dtype(v)), to_device(device)),
                    requires_grad);
  }, "shape"_a, "fill_value"_a, nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(),
     "requires_grad"_a = nb::none(), "A tensor of the shape filled with the value (no memory).");
  cls.def_static("arange", [](nb::handle start, nb::handle stop, nb::handle step, nb::handle device,
                              nb::handle dtype, nb::handle requires_grad) {
    Scalar a = to_scalar(start, "arange");
    std::optional<Scalar> b;
    if (!stop.is_none()) b = to_scalar(stop, "arange");
    Scalar c = to_scalar(step, "arange");
    bool is_float = a.kind == Scalar::Kind::Float || (b && b->kind == Scalar::Kind::Float) ||
                    c.kind == Scalar::Kind::Float;
    DType dflt = is_float ? default_float : fg::dtypes::default_int;
    return creation(Tensor::arange(a, b, c, to_dtype_or(dtype, dflt), to_device(device)), requires_grad);
  }, "start"_a, "stop"_a = nb::none(), "step"_a = 1, nb::kw_only(), "device"_a = nb::none(),
     "dtype"_a = nb::none(), "requires_grad"_a = nb::none(),
     "[start, start+step, ...) below stop; arange(n) is 0..n-1 (int32 unless a value is a float).");
  cls.def_static("linspace", [](double start, double stop, int64_t steps, nb::handle device, nb::handle dtype,
                                nb::handle requires_grad) {
    return creation(Tensor::linspace(start, stop, steps, to_dtype_or(dtype, default_float), to_device(device)),
                    requires_grad);
  }, "start"_a, "stop"_a, "steps"_a, nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(),
     "requires_grad"_a = nb::none(), "steps evenly spaced values from start to stop (both included).");
  cls.def_static("eye", [](int64_t n, std::optional<int64_t> m_, nb::handle device, nb::handle dtype,
                           nb::handle requires_grad) {
    return creation(Tensor::eye(n, m_, to_dtype_or(dtype, default_float), to_device(device)), requires_grad);
  }, "n"_a, "m"_a = nb::none(), nb::kw_only(), "device"_a = nb::none(), "dtype"_a = nb::none(),
     "requires_grad"_a = nb::none(), "The n x m identity matrix.");

  cls.def("full_like", [](const Tensor& t, nb::handle fill_value, nb::handle dtype, nb::handle requires_grad) {
    return creation(t.full_like(to_scalar(fill_value, "full_like"), to_dtype(dtype)), requires_grad);
  }, "fill_value"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(),
     "A tensor of this shape and device (and dtype unless given) filled with the value.");
  cls.def("zeros_like", [](const Tensor& t, nb::handle dtype, nb::handle requires_grad) {
    return creation(t.full_like(0, to_dtype(dtype)), requires_grad);
  }, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(), "Zeros of this shape.");
  cls.def("ones_like", [](const Tensor& t, nb::handle dtype, nb::handle requires_grad) {
    return creation(t.full_like(1, to_dtype(dtype)), requires_grad);
  }, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = nb::none(), "Ones of this shape.");

  // ---- properties
  cls.def_prop_ro("shape", [](const Tensor& t) {
    const Shape& s = t.shape();
    PyObject* tup = PyTuple_New(static_cast<Py_ssize_t>(s.size()));
    for (size_t i = 0; i < s.size(); i++) PyTuple_SET_ITEM(tup, i, PyLong_FromLongLong(s[i]));
    return nb::steal<nb::tuple>(tup);
  }, "The shape, a tuple of ints.");
  cls.def_prop_ro("dtype", [](const Tensor& t) { return t.dtype(); }, "The element dtype.");
  cls.def_prop_ro("device", [](const Tensor& t) { return t.device(); }, "The device name (\"CPU\").");
  cls.def_prop_ro("ndim", &Tensor::ndim, "The number of axes.");
  cls.def("numel", &Tensor::numel, "The number of elements.");
  cls.def("element_size", [](const Tensor& t) { return t.dtype().itemsize(); }, "Bytes of one element.");
  cls.def("nbytes", [](const Tensor& t) { return t.numel() * t.dtype().itemsize(); }, "Bytes of all elements.");
  cls.def("size", [](const Tensor& t, std::optional<int64_t> dim) -> nb::object {
    if (dim) return nb::int_(t.shape(*dim));
    return nb::tuple(nb::cast(t.shape()));
  }, "dim"_a = nb::none(), "The shape, or the size of one axis.");
  cls.def("is_floating_point", [](const Tensor& t) { return t.dtype().is_float(); }, "Whether the dtype is a float.");
  cls.def("__len__", [](const Tensor& t) {
    if (t.ndim() == 0) type_error("len() of a 0-d tensor");
    return t.shape()[0];
  });
  cls.def("__repr__", &repr);
  cls.def("__hash__", [](nb::handle self) { return static_cast<Py_hash_t>(reinterpret_cast<uintptr_t>(self.ptr()) >> 4); });

  // ---- realize and read back
  cls.def("realize", [](nb::handle self, nb::args others) {
    std::vector<Tensor*> ts{nb::inst_ptr<Tensor>(self)};
    for (nb::handle o : others) {
      if (!nb::isinstance<Tensor>(o)) type_error("realize: expected Tensors, got " + py_type_name(o));
      ts.push_back(nb::inst_ptr<Tensor>(o));
    }
    {
      nb::gil_scoped_release nogil;
      Tensor::realize_all(ts);
    }
    return nb::borrow(self);
  }, "others"_a, "Runs the kernels that compute this tensor (and the others, in one schedule); returns self.");
  cls.def("numpy", &to_numpy,
          "The values as a read-only numpy array. On CPU the array views the realized buffer itself "
          "(no copy); bfloat16 and fp8 are read as float32.");
  cls.def("item", &item, "The value of a one-element tensor as a Python bool, int or float.");
  cls.def("tolist", [](Tensor& t) { return to_numpy(t).attr("tolist")(); },
          "The values as nested Python lists (a number for a 0-d tensor).");
  cls.def("data", [](Tensor& t) { return nb::steal(PyMemoryView_FromObject(to_numpy(t).ptr())); },
          "The values as a read-only memoryview.");
  cls.def("__float__", [](Tensor& t) { return nb::cast<double>(nb::float_(item(t))); });
  cls.def("__int__", [](Tensor& t) { return nb::int_(item(t)); });
  cls.def("__bool__", [](Tensor& t) {
    FG_CHECK(t.numel() == 1, fg::ErrorKind::Value, "bool",
             "the truth value of a tensor with more than one element is ambiguous, shape is ",
             fg::shape_str(t.shape()));
    return PyObject_IsTrue(item(t).ptr()) == 1;
  });
  cls.def("to", [](const Tensor& t, nb::handle device) { return to_device_copy(t, to_device(device)); }, "device"_a,
          "This tensor on another device (the same tensor when it is there already).");
  cls.def("to_", [](Tensor& t, nb::handle device) {
    t = to_device_copy(t, to_device(device));
  }, "device"_a, "Moves this tensor to another device in place.");
  cls.def("clone", &clone,
          "A copy of the values in memory of its own (stored when realized); gradients flow through it.");
  cls.def("contiguous", &Tensor::contiguous, "The values laid out in order (stored when realized).");

  // ---- autograd
  cls.def_prop_rw("requires_grad", [](const Tensor& t) { return t.requires_grad(); },
                  [](nb::handle self, nb::handle v) {
                    nb::inst_ptr<Tensor>(self)->requires_grad_(!v.is_none() && nb::cast<bool>(v));
                    set_py_requires_grad(self, v);
                  },
                  "Whether backward() gives this tensor a .grad (set True on a float leaf).");
  cls.def("requires_grad_", [](nb::handle self, bool on) {
    nb::inst_ptr<Tensor>(self)->requires_grad_(on);
    set_py_requires_grad(self, nb::bool_(on));
    return nb::borrow(self);
  }, "requires_grad"_a = true, "Marks this tensor as a leaf that backward() gives a .grad; returns self.");
  cls.def_prop_rw("grad", [](const Tensor& t) -> std::optional<Tensor> {
    Tensor g = t.grad();
    if (!g.defined()) return std::nullopt;
    return g;
  }, [](Tensor& t, std::optional<Tensor> g) {
    if (g) t.set_grad(*g);
    else t.zero_grad();
  }, "The accumulated gradient (lazy), or None.");
  cls.def("backward", [](nb::handle self, std::optional<Tensor> gradient) {
    nb::inst_ptr<Tensor>(self)->backward(gradient);
    return nb::borrow(self);
  }, "gradient"_a = nb::none(),
     "Accumulates d(self)/d(leaf) into the .grad of every leaf with requires_grad; returns self.");
  cls.def("gradient", [](const Tensor& t, nb::args targets, std::optional<Tensor> gradient) {
    std::vector<Tensor> wrt;
    for (nb::handle h : targets) wrt.push_back(nb::cast<Tensor>(h));
    return t.gradient(wrt, gradient);
  }, "targets"_a, nb::kw_only(), "gradient"_a = nb::none(),
     "The gradients of self with respect to the targets, without touching .grad.");
  cls.def("detach", &Tensor::detach, "This tensor's values, cut from the gradient graph.");

  // ---- assign: the Python object now holds the new value (a lazy graph until realized)
  cls.def("assign", [](nb::handle self, nb::handle x) {
    Tensor& t = *nb::inst_ptr<Tensor>(self);
    Tensor v = nb::isinstance<Tensor>(x) ? *nb::inst_ptr<Tensor>(x) : make_tensor(x, t.device(), t.dtype());
    if (v.shape() != t.shape() && v.ndim() <= t.ndim()) v = v.broadcast_to(t.shape());
    replace_tensor(self, v, "assign");
    return nb::borrow(self);
  }, "x"_a,
     "Replaces this tensor's value by x (same shape, dtype and device; numbers and lists are converted); "
     "the requires_grad mark and .grad stay. Returns self.");
  cls.def("replace", [](nb::handle self, const Tensor& x) {
    Tensor& t = *nb::inst_ptr<Tensor>(self);
    t = x;
    return nb::borrow(self);
  }, "x"_a, "Makes this Python object hold x (any shape, dtype or device); returns self.");
}

}  // namespace fgpy
