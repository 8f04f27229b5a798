// Shared by the binding files of femtograd._C: how Python values become the C++ API's arguments
// (scalars, shapes, axes, dtypes, devices, the other operand of an op) and the init function of
// each binding file. Conversions raise TypeError/ValueError naming the op and the value they got.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "femtograd/base/dtype.h"
#include "femtograd/base/error.h"
#include "femtograd/tensor/tensor.h"

namespace nb = nanobind;
using namespace nb::literals;

// Binds a method only when the C++ Tensor has it. fg::Tensor's op files land at different times; a
// binding of a method that is not declared yet is skipped (its requires-expression is false) instead
// of breaking the build. Used inside templates over T = fg::Tensor, where `t` is a const T&.
#define FG_HAS(...) if constexpr (requires(const T& t) { __VA_ARGS__; })
#define FG_HAS_STATIC(...) if constexpr (requires { __VA_ARGS__; })

namespace fgpy {
using fg::DType;
using fg::Scalar;
using fg::Shape;
using fg::Tensor;

// one per binding file, called in this order by module.cc
void init_dtypes(nb::module_& m);
void init_helpers(nb::module_& m);
void init_device(nb::module_& m);
void init_tensor(nb::module_& m);
void init_tensor_ops(nb::module_& m);
void init_nn_state(nb::module_& m);
void init_jit(nb::module_& m);
void init_tensor_nn(nb::module_& m);
void init_metadata(nb::module_& m);
void init_viz(nb::module_& m);

// a Python bool, int or float (numpy scalars included) as a Scalar that keeps its kind; false for
// anything else (tensors, lists, None)
bool as_scalar(nb::handle h, Scalar& out);
Scalar to_scalar(nb::handle h, const char* op);  // TypeError unless a scalar
int64_t to_int(nb::handle h, const char* op);     // TypeError unless an integer
// (2, 3), [2, 3] or 2
Shape to_shape(nb::handle h, const char* op);
// f(2, 3), f((2, 3)) or f([2, 3]): tinygrad's argfix
std::vector<int64_t> ints_from_args(const nb::args& a, const char* op);
// None -> {} (all axes); int -> {i}; tuple or list -> its ints
std::vector<int64_t> to_axes(nb::handle h, const char* op);
// None -> nullopt; a DType; a name ("float32", "half"); a numpy dtype or type; float/int/bool
std::optional<DType> to_dtype(nb::handle h);
DType to_dtype_or(nb::handle h, DType dflt);
// None -> "" (the default device); "cpu" -> "CPU" (checked: unknown names are a ValueError)
std::string to_device(nb::handle h);

// tinygrad's dtype of a Python scalar: float -> default_float, int -> default_int (int64 when it
// does not fit int32), bool -> bool
DType dtype_of_scalar(const Scalar& s);

// the other operand of an op with `self`: a Tensor as it is, a Python scalar as a 0-d tensor of the
// dtype PyTorch gives it next to self (int tensor * 2 stays int; * 2.0 is float); nullopt otherwise
std::optional<Tensor> operand(const Tensor& self, nb::handle h);
// like operand, raising TypeError naming op for anything else
Tensor operand_or_throw(const Tensor& self, nb::handle h, const char* op);
// a Tensor from anything Tensor(...) accepts (tensor.cc)
Tensor make_tensor(nb::handle data, const std::string& device, std::optional<DType> dtype);

// the BUFFER node holding t's elements in order (a buffer or a realized value seen through
// reshapes), or null when t is lazy or a strided view
fg::UOpRef direct_buffer(const Tensor& t);
// requires_grad as set explicitly on a Python Tensor object (stored in its __dict__ as
// _requires_grad: True marks a leaf, False opts out of optimizers; absent means unset, tinygrad's None)
void set_py_requires_grad(nb::handle obj, nb::handle requires_grad);
bool is_py_leaf(nb::handle obj);

// replaces the tensor that the Python Tensor object self_obj holds (assign, __setitem__, in-place
// operators): a fresh handle to value's graph that keeps the leaf mark and the gradient
void replace_tensor(nb::handle self_obj, const Tensor& value, const char* op);

[[noreturn]] void type_error(const std::string& msg);
[[noreturn]] void value_error(const std::string& msg);
std::string py_type_name(nb::handle h);  // "list", "str", ... for messages
}  // namespace fgpy
