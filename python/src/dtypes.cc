// Bindings of fg::DType: the DType value class (femtograd.dtype.DType) and the table of named
// dtypes that femtograd.dtype.dtypes is built from.
#include <nanobind/operators.h>
#include <nanobind/stl/tuple.h>

#include "common.h"

namespace fgpy {

namespace {
// numpy's name for a dtype numpy has ("float32", "bool", ...), else None (bfloat16, fp8, index)
nb::object np_name(const DType& d) {
  if (d.is_vec() || d.is_ptr()) return nb::none();
  switch (d.scalar) {
    case fg::ScalarType::BFloat16:
    case fg::ScalarType::FP8E4M3:
    case fg::ScalarType::FP8E5M2:
    case fg::ScalarType::Index:
    case fg::ScalarType::Void: return nb::none();
    default: return nb::str(d.name().c_str());
  }
}
// the struct module's format character (tinygrad's DType.fmt), or None
nb::object fmt(const DType& d) {
  using S = fg::ScalarType;
  if (d.is_vec() || d.is_ptr()) return nb::none();
  switch (d.scalar) {
    case S::Bool: return nb::str("?");
    case S::Int8: return nb::str("b");
    case S::Int16: return nb::str("h");
    case S::Int32: return nb::str("i");
    case S::Int64: return nb::str("q");
    case S::UInt8: return nb::str("B");
    case S::UInt16: return nb::str("H");
    case S::UInt32: return nb::str("I");
    case S::UInt64: return nb::str("Q");
    case S::Float16: return nb::str("e");
    case S::Float32: return nb::str("f");
    case S::Float64: return nb::str("d");
    default: return nb::none();
  }
}
}  // namespace

void init_dtypes(nb::module_& m) {
  nb::class_<DType>(m, "DType",
                    "A data type: a scalar kind with an optional vector width (immutable, hashable). "
                    "Get them from femtograd.dtypes (dtypes.float32, dtypes.int8, ...).")
      .def_prop_ro("name", &DType::name, "the dtype's name: 'float32', 'int8', 'float32.vec(4)'")
      .def_prop_ro("itemsize", &DType::itemsize, "bytes of one element")
      .def_prop_ro("bitsize", [](const DType& d) { return d.itemsize() * 8; }, "bits of one element")
      .def_prop_ro("count", [](const DType& d) { return d.count; }, "vector width (1 for scalars)")
      .def_prop_ro("fmt", &fmt, "the struct module's format character, or None")
      .def_prop_ro("np_name", &np_name, "numpy's name for this dtype, or None when numpy has none")
      .def_prop_ro("min", [](const DType& d) -> nb::object {
            if (d.is_float()) return nb::float_(d.min_value());
            if (d.is_bool()) return nb::bool_(false);
            return nb::int_(d.int_min());
          }, "the lowest finite value")
      .def_prop_ro("max", [](const DType& d) -> nb::object {
            if (d.is_float()) return nb::float_(d.max_value());
            if (d.is_bool()) return nb::bool_(true);
            if (d.scalar == fg::ScalarType::UInt64) return nb::int_(~uint64_t{0});
            return nb::int_(d.int_max());
          }, "the highest finite value")
      .def("is_float", &DType::is_float, "floating point (float16/bfloat16/float32/float64/fp8)")
      .def("is_int", &DType::is_int, "signed or unsigned integer (not bool)")
      .def("is_unsigned", &DType::is_unsigned, "unsigned integer")
      .def("is_bool", &DType::is_bool, "bool")
      .def("vec", [](const DType& d, int n) { return d.vec(n); }, "n"_a, "the vector type of n lanes")
      .def("scalar", &DType::scalar_type, "the scalar type of a vector type")
      .def(nb::self == nb::self)
      .def(nb::self != nb::self)
      .def("__eq__", [](const DType&, nb::handle) { return false; })
      .def("__ne__", [](const DType&, nb::handle) { return true; })
      .def("__hash__", [](const DType& d) { return static_cast<Py_hash_t>(d.hash() >> 1); })
      .def("__repr__", [](const DType& d) { return "dtypes." + d.name(); })
      .def("__reduce__", [](const DType& d) {
        return nb::make_tuple(nb::module_::import_("femtograd.dtype").attr("_dtype_by_name"),
                              nb::make_tuple(d.name()));
      });

  m.def("dtype_from_name", &fg::dtypes::from_name, "name"_a,
        "The dtype of a name: 'float32', 'float', 'half', 'bf16', 'int', 'long', 'bool', ...");
  m.def("to_dtype", [](nb::handle h) { return to_dtype(h); }, "x"_a,
        "A dtype from a DType, a name, a numpy dtype or type, or a Python type; None stays None.");
  m.def("promote", &fg::promote, "a"_a, "b"_a, "PyTorch's result dtype of a binary op between a and b.");
  m.def("least_upper_float", &fg::least_upper_float, "dt"_a,
        "The float dtype an op like exp computes in: floats stay, ints and bool give float32.");
  m.def("storable_dtypes", []() {
    int n = 0;
    const DType* all = fg::dtypes::all_storable(&n);
    return std::vector<DType>(all, all + n);
  }, "Every dtype a tensor can hold.");
}

}  // namespace fgpy
