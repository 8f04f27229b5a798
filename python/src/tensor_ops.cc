// Bindings of fg::Tensor, part 2: every op, with tinygrad's names and argument forms (varargs
// shapes, axis=None|int|tuple, keepdim), Python's operators (reflected forms with Python scalars
// follow PyTorch's promotion: int tensor * 2 stays int, * 2.0 is float), in-place operators (which
// assign), and NumPy-style indexing. C++ names that differ: stddev -> std, float_ -> float, ...
#include <nanobind/stl/pair.h>

#include "common.h"

namespace fgpy {

namespace {
using fg::Op;

nb::object not_implemented() { return nb::borrow(Py_NotImplemented); }

// ---------------------------------------------------------------- binary ops

// a op b for a Tensor and a Tensor or a Python scalar; NotImplemented for anything else so Python
// tries the other operand's reflected method
#define FG_BINOP(PYNAME, EXPR)                                                   \
  cls.def(PYNAME, [](const T& a, nb::handle h) -> nb::object {             \
    auto ob = operand(a, h);                                                     \
    if (!ob) return not_implemented();                                           \
    const T& b = *ob;                                                       \
    return nb::cast(EXPR);                                                       \
  })
// the reflected form: h op a
#define FG_RBINOP(PYNAME, EXPR)                                                  \
  cls.def(PYNAME, [](const T& a, nb::handle h) -> nb::object {             \
    auto ob = operand(a, h);                                                     \
    if (!ob) return not_implemented();                                           \
    const T& b = *ob;                                                       \
    return nb::cast(EXPR);                                                       \
  })
// in place: self = self op h (an assign: requires_grad and .grad stay)
#define FG_IBINOP(PYNAME, EXPR)                                                  \
  cls.def(PYNAME, [](nb::handle self, nb::handle h) -> nb::object {             \
    T& a = *nb::inst_ptr<T>(self);                                     \
    auto ob = operand(a, h);                                                     \
    if (!ob) return not_implemented();                                           \
    const T& b = *ob;                                                       \
    T r = EXPR;                                                             \
    replace_tensor(self, r.dtype() == a.dtype() ? r : r.cast(a.dtype()), PYNAME);  \
    return nb::borrow(self);                                                     \
  })
// the method form: a.add(x, reverse=False)
#define FG_METHOD2(PYNAME, EXPR, DOC)                                                        \
  cls.def(PYNAME, [](const T& a, nb::handle h, bool reverse) {                         \
    T o = operand_or_throw(a, h, PYNAME);                                               \
    const T& x = reverse ? o : a;                                                       \
    const T& b = reverse ? a : o;                                                       \
    return EXPR;                                                                             \
  }, "x"_a, "reverse"_a = false, DOC)

Tensor floordiv(const Tensor& a, const Tensor& b) {
  // Python's //: floor for floats; for ints, toward -inf (C++ idiv truncates)
  if (a.dtype().is_float() || b.dtype().is_float()) return a.div(b).floor();
  Tensor q = a.idiv(b);
  if (a.dtype().is_unsigned() && b.dtype().is_unsigned()) return q;
  // truncation differs from floor when the remainder is nonzero and the signs differ
  Tensor fix = a.mod(b).ne(Tensor::const_(0, a.mod(b).dtype(), {}, a.device())).bitwise_and(
      a.lt(Tensor::const_(0, a.dtype(), {}, a.device())).ne(b.lt(Tensor::const_(0, b.dtype(), {}, b.device()))));
  return q.sub(fix.cast(q.dtype()));
}

Tensor div_mode(const Tensor& a, const Tensor& b, nb::handle rounding_mode) {
  if (rounding_mode.is_none()) return a.div(b);
  std::string m = nb::cast<std::string>(rounding_mode);
  if (m == "trunc") return a.dtype().is_float() || b.dtype().is_float() ? a.div(b).trunc() : a.idiv(b);
  if (m == "floor") return floordiv(a, b);
  value_error("div: rounding_mode must be None, 'trunc' or 'floor', got '" + m + "'");
}

Tensor where3(const Tensor& c, nb::handle x, nb::handle y) {
  bool tx = nb::isinstance<Tensor>(x), ty = nb::isinstance<Tensor>(y);
  if (tx && ty) return c.where(*nb::inst_ptr<Tensor>(x), *nb::inst_ptr<Tensor>(y));
  if (tx) {
    const Tensor& a = *nb::inst_ptr<Tensor>(x);
    return c.where(a, a.scalar_like(to_scalar(y, "where")));
  }
  if (ty) {
    const Tensor& b = *nb::inst_ptr<Tensor>(y);
    return c.where(b.scalar_like(to_scalar(x, "where")), b);
  }
  // two numbers: the wider kind of the two (bool < int < float), like PyTorch
  Scalar sx = to_scalar(x, "where"), sy = to_scalar(y, "where");
  auto rank = [](const Scalar& s) { return s.kind == Scalar::Kind::Bool ? 0 : s.kind == Scalar::Kind::Int ? 1 : 2; };
  DType dt = dtype_of_scalar(rank(sx) >= rank(sy) ? sx : sy);
  return c.where(Tensor::full({}, sx, dt, c.device()), Tensor::full({}, sy, dt, c.device()));
}

// ---------------------------------------------------------------- argument forms

// the axes of a reduce; an empty tuple means "no axes" (nullopt: nothing to reduce)
std::optional<std::vector<int64_t>> reduce_axes(const Tensor& t, nb::handle axis, const char* op) {
  if (axis.is_none()) return std::vector<int64_t>{};
  std::vector<int64_t> ax = to_shape(axis, op);
  if (ax.empty()) return std::nullopt;
  return ax;
}

// shape arguments of reshape/expand: ints, -1, and None for "keep this axis"
std::vector<int64_t> shape_with_none(const Tensor& t, const nb::args& args, const char* op, bool none_is_minus1) {
  nb::handle src = args;
  if (args.size() == 1 && (PyTuple_Check(args[0].ptr()) || PyList_Check(args[0].ptr()))) src = args[0];
  std::vector<int64_t> out;
  size_t i = 0;
  for (nb::handle e : nb::borrow<nb::sequence>(src)) {
    if (e.is_none()) {
      if (none_is_minus1) out.push_back(-1);
      else {
        FG_CHECK(i < t.shape().size(), fg::ErrorKind::Value, op, "None at axis ", i, " of a tensor of shape ",
                 fg::shape_str(t.shape()));
        out.push_back(t.shape()[i]);
      }
    } else {
      out.push_back(to_int(e, op));
    }
    i++;
  }
  return out;
}

Tensor expand_to(const Tensor& t, std::vector<int64_t> s) {
  Tensor x = t;
  size_t n = s.size();
  FG_CHECK(n >= static_cast<size_t>(t.ndim()), fg::ErrorKind::Value, "expand", "cannot expand ",
           fg::shape_str(t.shape()), " to ", fg::shape_str(s), ": fewer axes");
  if (n > static_cast<size_t>(t.ndim())) {
    Shape ns(n - t.ndim(), 1);
    ns.insert(ns.end(), t.shape().begin(), t.shape().end());
    x = x.reshape(ns);
  }
  for (size_t i = 0; i < n; i++)
    if (s[i] == -1) s[i] = x.shape()[i];
  return x.expand(s);
}

// tinygrad's pad argument: one (before, after) pair or None per axis, or a flat PyTorch-style list
// (last axis first)
std::vector<std::pair<int64_t, int64_t>> pad_arg(const Tensor& t, nb::handle padding) {
  std::vector<std::pair<int64_t, int64_t>> out(t.ndim(), {0, 0});
  nb::sequence seq = nb::borrow<nb::sequence>(padding);
  size_t n = nb::len(seq);
  bool flat = n > 0;
  for (nb::handle e : seq)
    if (!(PyLong_Check(e.ptr()) || PyIndex_Check(e.ptr()))) flat = false;
  if (flat) {
    FG_CHECK(n % 2 == 0 && n / 2 <= static_cast<size_t>(t.ndim()), fg::ErrorKind::Value, "pad",
             "a flat padding needs an even number of values, at most 2 per axis; got ", n, " for shape ",
             fg::shape_str(t.shape()));
    for (size_t k = 0; k < n / 2; k++)
      out[t.ndim() - 1 - k] = {to_int(seq[2 * k], "pad"), to_int(seq[2 * k + 1], "pad")};
    return out;
  }
  FG_CHECK(n == static_cast<size_t>(t.ndim()), fg::ErrorKind::Value, "pad", "padding has ", n,
           " entries for a tensor of shape ", fg::shape_str(t.shape()));
  for (size_t i = 0; i < n; i++) {
    nb::handle e = seq[i];
    if (e.is_none()) continue;
    std::vector<int64_t> p = to_shape(e, "pad");
    FG_CHECK(p.size() == 2, fg::ErrorKind::Value, "pad", "each axis takes a (before, after) pair");
    out[i] = {p[0], p[1]};
  }
  return out;
}

std::vector<Tensor> tensors_of(nb::handle first, const nb::args& rest, const char* op) {
  std::vector<Tensor> ts;
  auto add = [&](nb::handle h) {
    if (nb::isinstance<Tensor>(h)) ts.push_back(*nb::inst_ptr<Tensor>(h));
    else if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr()))
      for (nb::handle e : nb::borrow<nb::sequence>(h)) ts.push_back(nb::cast<Tensor>(e));
    else type_error(std::string(op) + ": expected Tensors, got " + py_type_name(h));
  };
  add(first);
  for (nb::handle h : rest) add(h);
  return ts;
}

nb::tuple tuple_of(const std::vector<Tensor>& ts) {
  nb::list l;
  for (const Tensor& t : ts) l.append(nb::cast(t));
  return nb::tuple(l);
}

// ---------------------------------------------------------------- indexing

template <class T>
typename T::Idx index_entry(const T& self, nb::handle e) {
  using I = typename T::Idx;
  PyObject* o = e.ptr();
  if (o == Py_None) return I(T::newaxis);
  if (o == Py_Ellipsis) return I(T::ellipsis);
  if (PySlice_Check(o)) {
    typename T::Slice s;
    auto part = [&](const char* name) -> std::optional<int64_t> {
      nb::object v = e.attr(name);
      if (v.is_none()) return std::nullopt;
      return to_int(v, "getitem");
    };
    s.start = part("start");
    s.stop = part("stop");
    s.step = part("step");
    return I(s);
  }
  if (PyBool_Check(o)) type_error("getitem: boolean indices are not supported");
  if (PyLong_Check(o)) return I(to_int(e, "getitem"));
  if (nb::isinstance<T>(e)) return I(*nb::inst_ptr<T>(e));
  if (PyList_Check(o) || nb::hasattr(e, "__array_interface__") || nb::hasattr(e, "__dlpack__"))
    return I(make_tensor(e, self.device(), std::nullopt));
  if (PyIndex_Check(o)) return I(to_int(e, "getitem"));  // numpy integers
  type_error("getitem: unsupported index of type " + py_type_name(e) +
             " (use ints, slices, None, ..., int tensors or lists)");
}

template <class T>
std::vector<typename T::Idx> index_list(const T& self, nb::handle idx) {
  std::vector<typename T::Idx> out;
  if (PyTuple_Check(idx.ptr())) {
    for (nb::handle e : nb::borrow<nb::tuple>(idx)) out.push_back(index_entry(self, e));
  } else {
    out.push_back(index_entry(self, idx));
  }
  return out;
}

template <class T>
typename T::PadMode pad_mode(const std::string& m) {
  using P = typename T::PadMode;
  if (m == "reflect") return P::Reflect;
  if (m == "replicate") return P::Replicate;
  if (m == "circular") return P::Circular;
  if (m == "constant") return P::Constant;
  value_error("pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '" + m + "'");
}
}  // namespace

// T is fg::Tensor: a template only so that FG_HAS can skip methods the C++ Tensor does not have yet
template <class T>
void bind_ops(nb::class_<T>& cls) {

  // ---- Python operators
  FG_BINOP("__add__", a.add(b));
  FG_RBINOP("__radd__", b.add(a));
  FG_BINOP("__sub__", a.sub(b));
  FG_RBINOP("__rsub__", b.sub(a));
  FG_BINOP("__mul__", a.mul(b));
  FG_RBINOP("__rmul__", b.mul(a));
  FG_BINOP("__truediv__", a.div(b));
  FG_RBINOP("__rtruediv__", b.div(a));
  FG_BINOP("__floordiv__", floordiv(a, b));
  FG_RBINOP("__rfloordiv__", floordiv(b, a));
  FG_BINOP("__mod__", a.mod(b));
  FG_RBINOP("__rmod__", b.mod(a));
  FG_BINOP("__pow__", a.pow(b));
  FG_RBINOP("__rpow__", b.pow(a));
  FG_BINOP("__matmul__", a.matmul(b));
  FG_RBINOP("__rmatmul__", b.matmul(a));
  FG_BINOP("__and__", a.bitwise_and(b));
  FG_RBINOP("__rand__", b.bitwise_and(a));
  FG_BINOP("__or__", a.bitwise_or(b));
  FG_RBINOP("__ror__", b.bitwise_or(a));
  FG_BINOP("__xor__", a.bitwise_xor(b));
  FG_RBINOP("__rxor__", b.bitwise_xor(a));
  FG_BINOP("__lshift__", a.lshift(b));
  FG_RBINOP("__rlshift__", b.lshift(a));
  FG_BINOP("__rshift__", a.rshift(b));
  FG_RBINOP("__rrshift__", b.rshift(a));
  FG_BINOP("__lt__", a.lt(b));
  FG_BINOP("__le__", a.le(b));
  FG_BINOP("__gt__", a.gt(b));
  FG_BINOP("__ge__", a.ge(b));
  FG_BINOP("__eq__", a.eq(b));
  FG_BINOP("__ne__", a.ne(b));
  FG_IBINOP("__iadd__", a.add(b));
  FG_IBINOP("__isub__", a.sub(b));
  FG_IBINOP("__imul__", a.mul(b));
  FG_IBINOP("__itruediv__", a.div(b));
  FG_IBINOP("__ifloordiv__", floordiv(a, b));
  FG_IBINOP("__imod__", a.mod(b));
  FG_IBINOP("__ipow__", a.pow(b));
  FG_IBINOP("__imatmul__", a.matmul(b));
  FG_IBINOP("__iand__", a.bitwise_and(b));
  FG_IBINOP("__ior__", a.bitwise_or(b));
  FG_IBINOP("__ixor__", a.bitwise_xor(b));
  FG_IBINOP("__ilshift__", a.lshift(b));
  FG_IBINOP("__irshift__", a.rshift(b));
  cls.def("__neg__", &T::neg);
  cls.def("__pos__", [](const T& t) { return t; });
  cls.def("__abs__", &T::abs);
  cls.def("__invert__", &T::bitwise_not);

  // ---- binary ops as methods (x may be a T or a number; reverse swaps the operands)
  FG_METHOD2("add", x.add(b), "self + x");
  FG_METHOD2("sub", x.sub(b), "self - x");
  FG_METHOD2("mul", x.mul(b), "self * x");
  cls.def("div", [](const T& a, nb::handle h, bool reverse, nb::handle rounding_mode) {
    T o = operand_or_throw(a, h, "div");
    return reverse ? div_mode(o, a, rounding_mode) : div_mode(a, o, rounding_mode);
  }, "x"_a, "reverse"_a = false, "rounding_mode"_a = nb::none(),
     "self / x; rounding_mode 'trunc' or 'floor' rounds the quotient (ints stay ints).");
  FG_METHOD2("idiv", x.idiv(b), "Integer division rounding toward zero.");
  FG_METHOD2("mod", x.mod(b), "Remainder with the sign of the divisor (Python's %).");
  FG_METHOD2("pow", x.pow(b), "self ** x");
  FG_METHOD2("maximum", x.maximum(b), "Elementwise maximum.");
  FG_METHOD2("minimum", x.minimum(b), "Elementwise minimum.");
  FG_METHOD2("eq", x.eq(b), "self == x (bool).");
  FG_METHOD2("ne", x.ne(b), "self != x (bool).");
  FG_METHOD2("lt", x.lt(b), "self < x (bool).");
  FG_METHOD2("le", x.le(b), "self <= x (bool).");
  FG_METHOD2("gt", x.gt(b), "self > x (bool).");
  FG_METHOD2("ge", x.ge(b), "self >= x (bool).");
  FG_METHOD2("bitwise_and", x.bitwise_and(b), "self & x (ints and bool).");
  FG_METHOD2("bitwise_or", x.bitwise_or(b), "self | x (ints and bool).");
  FG_METHOD2("bitwise_xor", x.bitwise_xor(b), "self ^ x (ints and bool).");
  FG_METHOD2("xor", x.bitwise_xor(b), "self ^ x (ints and bool).");
  FG_METHOD2("lshift", x.lshift(b), "self << x (ints).");
  FG_METHOD2("rshift", x.rshift(b), "self >> x (ints).");
  FG_HAS(t.logical_and(t)) {
    FG_METHOD2("logical_and", x.logical_and(b), "Elementwise and of the truth values (bool).");
    FG_METHOD2("logical_or", x.logical_or(b), "Elementwise or of the truth values (bool).");
    FG_METHOD2("logical_xor", x.logical_xor(b), "Elementwise xor of the truth values (bool).");
  }
  FG_HAS(t.copysign(t)) FG_METHOD2("copysign", x.copysign(b), "The magnitude of self with the sign of x.");
  cls.def("matmul", [](const T& a, const T& x, bool reverse) { return reverse ? x.matmul(a) : a.matmul(x); },
          "x"_a, "reverse"_a = false, "Matrix product (batched and broadcast like numpy.matmul).");
  cls.def("dot", [](const T& a, const T& w) { return a.matmul(w); }, "w"_a, "Matrix product.");
  cls.def("linear", [](const T& a, const T& w, std::optional<T> bias) {
    if constexpr (requires { a.linear(w, bias); }) return a.linear(w, bias);
    else return bias ? a.matmul(w).add(*bias) : a.matmul(w);
  }, "weight"_a, "bias"_a = nb::none(), "self @ weight + bias, weight of shape (in, out) (tinygrad's order).");
  FG_HAS(T::einsum("", {})) cls.def_static("einsum", [](const std::string& formula, nb::args operands) {
    std::vector<T> ts;
    for (nb::handle h : operands) {
      if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr()))
        for (nb::handle e : nb::borrow<nb::sequence>(h)) ts.push_back(nb::cast<T>(e));
      else ts.push_back(nb::cast<T>(h));
    }
    return T::einsum(formula, ts);
  }, "formula"_a, "operands"_a, "Einstein summation: T.einsum('ij,jk->ik', a, b).");
  cls.def("where", [](const T& c, nb::handle x, nb::handle y) { return where3(c, x, y); }, "x"_a, "y"_a,
          "x where self is true, else y (self is the condition; x and y may be numbers).");
  FG_HAS(t.lerp(t, t)) cls.def("lerp", [](const T& a, const T& end, nb::handle weight) {
    if (nb::isinstance<T>(weight)) return a.lerp(end, *nb::inst_ptr<T>(weight));
    return a.lerp(end, to_scalar(weight, "lerp").f);
  }, "end"_a, "weight"_a, "self + weight * (end - self).");
  auto clip = [](const T& a, nb::handle lo, nb::handle hi) {
    if (nb::isinstance<T>(lo) || nb::isinstance<T>(hi)) {
      if (lo.is_none()) return a.minimum(operand_or_throw(a, hi, "clip"));
      if (hi.is_none()) return a.maximum(operand_or_throw(a, lo, "clip"));
      return a.maximum(operand_or_throw(a, lo, "clip")).minimum(operand_or_throw(a, hi, "clip"));
    }
    std::optional<Scalar> l, h;
    if (!lo.is_none()) l = to_scalar(lo, "clip");
    if (!hi.is_none()) h = to_scalar(hi, "clip");
    return a.clip(l, h);
  };
  cls.def("clip", clip, "min_"_a = nb::none(), "max_"_a = nb::none(), "Limits the values to [min_, max_].");
  cls.def("clamp", clip, "min_"_a = nb::none(), "max_"_a = nb::none(), "Limits the values to [min_, max_].");

  // ---- unary ops
#define FG_UNARY(NAME, FN, DOC) FG_HAS(t.FN()) cls.def(NAME, &T::FN, DOC)
  FG_UNARY("neg", neg, "-self");
  FG_UNARY("reciprocal", reciprocal, "1 / self");
  FG_UNARY("sqrt", sqrt, "Square root.");
  FG_UNARY("rsqrt", rsqrt, "1 / sqrt(self)");
  FG_UNARY("exp", exp, "e ** self");
  FG_UNARY("exp2", exp2, "2 ** self");
  FG_UNARY("log", log, "Natural logarithm.");
  FG_UNARY("log2", log2, "Base-2 logarithm.");
  FG_UNARY("log10", log10, "Base-10 logarithm.");
  FG_UNARY("log1p", log1p, "log(1 + self)");
  FG_UNARY("expm1", expm1, "exp(self) - 1");
  FG_UNARY("sin", sin, "Sine.");
  FG_UNARY("cos", cos, "Cosine.");
  FG_UNARY("tan", tan, "Tangent.");
  FG_UNARY("asin", asin, "Arcsine.");
  FG_UNARY("acos", acos, "Arccosine.");
  FG_UNARY("atan", atan, "Arctangent.");
  FG_UNARY("sinh", sinh, "Hyperbolic sine.");
  FG_UNARY("cosh", cosh, "Hyperbolic cosine.");
  FG_UNARY("tanh", tanh, "Hyperbolic tangent.");
  FG_UNARY("asinh", asinh, "Inverse hyperbolic sine.");
  FG_UNARY("acosh", acosh, "Inverse hyperbolic cosine.");
  FG_UNARY("atanh", atanh, "Inverse hyperbolic tangent.");
  FG_UNARY("relu", relu, "max(self, 0)");
  FG_UNARY("sigmoid", sigmoid, "1 / (1 + exp(-self))");
  FG_UNARY("abs", abs, "Absolute value.");
  FG_UNARY("sign", sign, "-1, 0 or 1 (NaN stays NaN).");
  FG_UNARY("square", square, "self * self");
  FG_UNARY("trunc", trunc, "Rounds toward zero.");
  FG_UNARY("floor", floor, "Rounds down.");
  FG_UNARY("ceil", ceil, "Rounds up.");
  FG_UNARY("round", round, "Rounds half to even.");
  FG_UNARY("erf", erf, "The error function (|error| < 2e-7 in float32).");
  FG_UNARY("gelu", gelu, "GELU, tanh approximation (tinygrad's).");
  FG_UNARY("gelu_exact", gelu_exact, "GELU through erf (PyTorch's default).");
  FG_UNARY("quick_gelu", quick_gelu, "self * sigmoid(1.702 self)");
  FG_UNARY("silu", silu, "self * sigmoid(self)");
  FG_UNARY("swish", swish, "self * sigmoid(self)");
  FG_UNARY("mish", mish, "self * tanh(softplus(self))");
  FG_UNARY("selu", selu, "Scaled ELU.");
  FG_UNARY("relu6", relu6, "min(max(self, 0), 6)");
  FG_UNARY("hardswish", hardswish, "self * relu6(self + 3) / 6");
  FG_UNARY("softsign", softsign, "self / (1 + |self|)");
  FG_UNARY("logsigmoid", logsigmoid, "log(sigmoid(self))");
  FG_UNARY("isnan", isnan, "Whether each value is NaN (bool).");
  FG_UNARY("isfinite", isfinite, "Whether each value is finite (bool).");
  FG_UNARY("logical_not", logical_not, "not self (bool).");
  FG_UNARY("bitwise_not", bitwise_not, "~self (ints and bool).");
  FG_UNARY("contiguous", contiguous, "The values laid out in order (stored when realized).");
#undef FG_UNARY
  FG_HAS(t.softplus(1.0)) {
    cls.def("softplus", &T::softplus, "beta"_a = 1.0, "log(1 + exp(beta self)) / beta");
  }
  FG_HAS(t.elu(1.0)) {
    cls.def("elu", &T::elu, "alpha"_a = 1.0, "ELU.");
  }
  FG_HAS(t.celu(1.0)) {
    cls.def("celu", &T::celu, "alpha"_a = 1.0, "CELU.");
  }
  FG_HAS(t.leaky_relu(0.1)) {
    cls.def("leaky_relu", &T::leaky_relu, "neg_slope"_a = 0.01, "self where self > 0, else neg_slope * self.");
  }
  FG_HAS(t.hardtanh(-1.0, 1.0)) {
    cls.def("hardtanh", &T::hardtanh, "min_val"_a = -1.0, "max_val"_a = 1.0, "Clips to [min_val, max_val].");
  }
  FG_HAS(t.hardsigmoid()) {
    cls.def("hardsigmoid", [](const T& t, double alpha, double beta) {
      if (alpha == 1.0 / 6 && beta == 0.5) return t.hardsigmoid();
      return t.mul(alpha).add(beta).relu().minimum(1.0);
    }, "alpha"_a = 1.0 / 6, "beta"_a = 0.5, "max(0, min(1, alpha self + beta))");
  }
  FG_HAS(t.isinf(true, true)) {
    cls.def("isinf", &T::isinf, "detect_positive"_a = true, "detect_negative"_a = true,
            "Whether each value is +inf / -inf (bool).");
  }
  cls.def("cast", [](const T& t, nb::handle dt) {
    auto d = to_dtype(dt);
    if (!d) type_error("cast: expected a dtype, got None");
    return t.cast(*d);
  }, "dtype"_a, "The values converted to dtype.");
  cls.def("bitcast", [](const T& t, nb::handle dt) {
    auto d = to_dtype(dt);
    if (!d) type_error("bitcast: expected a dtype, got None");
    return t.bitcast(*d);
  }, "dtype"_a, "The bits reinterpreted as dtype (same itemsize).");
  cls.def("float", [](const T& t) { return t.cast(fg::dtypes::float32); }, "cast(float32)");
  cls.def("half", [](const T& t) { return t.cast(fg::dtypes::float16); }, "cast(float16)");
  cls.def("double", [](const T& t) { return t.cast(fg::dtypes::float64); }, "cast(float64)");
  cls.def("int", [](const T& t) { return t.cast(fg::dtypes::int32); }, "cast(int32)");
  cls.def("long", [](const T& t) { return t.cast(fg::dtypes::int64); }, "cast(int64)");
  cls.def("bool", [](const T& t) { return t.cast(fg::dtypes::bool_); }, "cast(bool)");
  cls.def("short", [](const T& t) { return t.cast(fg::dtypes::int16); }, "cast(int16)");
  cls.def("char", [](const T& t) { return t.cast(fg::dtypes::int8); }, "cast(int8)");
  cls.def("bfloat16", [](const T& t) { return t.cast(fg::dtypes::bfloat16); }, "cast(bfloat16)");

  // ---- reductions: axis=None (all) | int | tuple; an empty tuple reduces nothing
#define FG_REDUCE(NAME, CALL, DOC)                                                    \
  cls.def(NAME, [](const T& t, nb::handle axis, bool keepdim) {                 \
    auto ax = reduce_axes(t, axis, NAME);                                             \
    if (!ax) return t;                                                                \
    return CALL;                                                                      \
  }, "axis"_a = nb::none(), "keepdim"_a = false, DOC)
  cls.def("sum", [](const T& t, nb::handle axis, bool keepdim, nb::handle acc_dtype, nb::handle dtype) {
    auto ax = reduce_axes(t, axis, "sum");
    auto acc = to_dtype(acc_dtype);
    auto out = to_dtype(dtype);
    T x = out ? t.cast(*out) : t;
    if (!ax) return x;
    return x.sum(*ax, keepdim, acc);
  }, "axis"_a = nb::none(), "keepdim"_a = false, "acc_dtype"_a = nb::none(), "dtype"_a = nb::none(),
     "Sum over the axes (ints and bool sum in int64, like PyTorch).");
  FG_REDUCE("prod", t.prod(*ax, keepdim), "Product over the axes.");
  FG_REDUCE("max", t.max(*ax, keepdim), "Maximum over the axes.");
  FG_REDUCE("min", t.min(*ax, keepdim), "Minimum over the axes.");
  FG_REDUCE("mean", t.mean(*ax, keepdim), "Mean over the axes.");
  FG_REDUCE("any", t.any(*ax, keepdim), "Whether any value is true (bool).");
  FG_REDUCE("all", t.all(*ax, keepdim), "Whether every value is true (bool).");
#undef FG_REDUCE
  cls.def("var", [](const T& t, nb::handle axis, bool keepdim, double correction) {
    auto ax = reduce_axes(t, axis, "var");
    return t.var(ax ? *ax : std::vector<int64_t>{}, keepdim, correction);
  }, "axis"_a = nb::none(), "keepdim"_a = false, "correction"_a = 1.0, "Variance (correction 1: unbiased).");
  cls.def("std", [](const T& t, nb::handle axis, bool keepdim, double correction) {
    auto ax = reduce_axes(t, axis, "std");
    return t.stddev(ax ? *ax : std::vector<int64_t>{}, keepdim, correction);
  }, "axis"_a = nb::none(), "keepdim"_a = false, "correction"_a = 1.0, "Standard deviation.");
  cls.def("var_mean", [](const T& t, nb::handle axis, bool keepdim, double correction) {
    auto ax = reduce_axes(t, axis, "var_mean");
    std::vector<int64_t> a = ax ? *ax : std::vector<int64_t>{};
    return std::make_pair(t.var(a, keepdim, correction), t.mean(a, keepdim));
  }, "axis"_a = nb::none(), "keepdim"_a = false, "correction"_a = 1.0, "(var, mean)");
  cls.def("std_mean", [](const T& t, nb::handle axis, bool keepdim, double correction) {
    auto ax = reduce_axes(t, axis, "std_mean");
    std::vector<int64_t> a = ax ? *ax : std::vector<int64_t>{};
    return std::make_pair(t.stddev(a, keepdim, correction), t.mean(a, keepdim));
  }, "axis"_a = nb::none(), "keepdim"_a = false, "correction"_a = 1.0, "(std, mean)");
  cls.def("argmax", [](const T& t, std::optional<int64_t> axis, bool keepdim) { return t.argmax(axis, keepdim); },
          "axis"_a = nb::none(), "keepdim"_a = false, "Index of the maximum (the first one); None: of the flattened tensor.");
  cls.def("argmin", [](const T& t, std::optional<int64_t> axis, bool keepdim) { return t.argmin(axis, keepdim); },
          "axis"_a = nb::none(), "keepdim"_a = false, "Index of the minimum (the first one); None: of the flattened tensor.");
  cls.def("logsumexp", [](const T& t, std::optional<int64_t> axis, bool keepdim) {
    if (axis) return t.logsumexp(*axis, keepdim);
    T r = t.flatten().logsumexp(0, false);
    return keepdim ? r.reshape(Shape(t.ndim(), 1)) : r;
  }, "axis"_a = nb::none(), "keepdim"_a = false, "log(sum(exp(self))) computed stably.");
  cls.def("softmax", [](const T& t, int64_t axis, nb::handle dtype) {
    auto d = to_dtype(dtype);
    return (d ? t.cast(*d) : t).softmax(axis);
  }, "axis"_a = -1, "dtype"_a = nb::none(), "exp(self) / sum(exp(self)) along the axis.");
  cls.def("log_softmax", [](const T& t, int64_t axis, nb::handle dtype) {
    auto d = to_dtype(dtype);
    return (d ? t.cast(*d) : t).log_softmax(axis);
  }, "axis"_a = -1, "dtype"_a = nb::none(), "log(softmax(self)) computed stably.");

  // ---- scans and sorting
  FG_HAS(t.cumsum(0)) {
    cls.def("cumsum", &T::cumsum, "axis"_a = 0, "Running sum (ints accumulate in int64).");
  }
  FG_HAS(t.cumprod(0)) {
    cls.def("cumprod", &T::cumprod, "axis"_a = 0, "Running product.");
  }
  FG_HAS(t.cummax(0)) {
    cls.def("cummax", &T::cummax, "axis"_a = 0, "Running maximum (values).");
  }
  FG_HAS(t.cummin(0)) {
    cls.def("cummin", &T::cummin, "axis"_a = 0, "Running minimum (values).");
  }
  FG_HAS(t.sort(0, false)) {
    cls.def("sort", &T::sort, "dim"_a = -1, "descending"_a = false,
            "(values, int64 indices), stable; NaN sorts as the largest.");
  }
  FG_HAS(t.argsort(0, false)) {
    cls.def("argsort", &T::argsort, "dim"_a = -1, "descending"_a = false, "Indices that sort the axis.");
  }
  FG_HAS(t.topk(1, 0, true)) {
    cls.def("topk", [](const T& t, int64_t k, int64_t dim, bool largest, bool sorted_) { return t.topk(k, dim, largest); },
            "k"_a, "dim"_a = -1, "largest"_a = true, "sorted_"_a = true, "(values, indices) of the k largest (smallest).");
  }

  // ---- movement (never copies)
  cls.def("reshape", [](const T& t, nb::args shape) { return t.reshape(shape_with_none(t, shape, "reshape", false)); },
          "shape"_a, "The same values in a new shape (one -1 is inferred; None keeps the axis).");
  cls.def("view", [](const T& t, nb::args shape) { return t.reshape(shape_with_none(t, shape, "view", false)); },
          "shape"_a, "reshape");
  cls.def("expand", [](const T& t, nb::args shape) { return expand_to(t, shape_with_none(t, shape, "expand", true)); },
          "shape"_a, "Broadcasts size-1 axes (and new leading axes) to the shape; -1 or None keeps an axis.");
  cls.def("broadcast_to", [](const T& t, nb::args shape) { return expand_to(t, shape_with_none(t, shape, "broadcast_to", true)); },
          "shape"_a, "expand (PyTorch's name): size-1 axes and new leading axes broadcast to the shape.");
  cls.def("permute", [](const T& t, nb::args order) { return t.permute(ints_from_args(order, "permute")); },
          "order"_a, "Reorders the axes.");
  cls.def("flip", [](const T& t, nb::args axis) { return t.flip(ints_from_args(axis, "flip")); }, "axis"_a,
          "Reverses the order along the axes.");
  cls.def("shrink", [](const T& t, nb::handle arg) {
    nb::sequence seq = nb::borrow<nb::sequence>(arg);
    std::vector<std::pair<int64_t, int64_t>> b;
    size_t i = 0;
    for (nb::handle e : seq) {
      if (e.is_none()) b.emplace_back(0, i < t.shape().size() ? t.shape()[i] : 0);
      else {
        std::vector<int64_t> p = to_shape(e, "shrink");
        FG_CHECK(p.size() == 2, fg::ErrorKind::Value, "shrink", "each axis takes a (start, end) pair");
        b.emplace_back(p[0], p[1]);
      }
      i++;
    }
    return t.shrink(b);
  }, "arg"_a, "The [start, end) window of each axis (None keeps the axis).");
  cls.def("pad", [](const T& t, nb::handle padding, const std::string& mode, nb::handle value) {
    auto p = pad_arg(t, padding);
    Scalar v = to_scalar(value, "pad");
    if (mode == "constant") return t.pad(p, v);
    if constexpr (requires { t.pad(p, pad_mode<T>(mode), v); }) return t.pad(p, pad_mode<T>(mode), v);
    else throw fg::Error(fg::ErrorKind::NotImplemented, "pad", "mode '" + mode + "' is not in the C++ core yet");
  }, "padding"_a, "mode"_a = "constant", "value"_a = 0.0,
     "Pads each axis: (before, after) pairs per axis (None: none), or a flat PyTorch-style list, last axis "
     "first; mode constant, reflect, replicate or circular.");
  cls.def("squeeze", [](const T& t, std::optional<int64_t> dim) { return t.squeeze(dim); }, "dim"_a = nb::none(),
          "Removes size-1 axes (or the one given).");
  cls.def("unsqueeze", &T::unsqueeze, "dim"_a, "Inserts a size-1 axis.");
  cls.def("flatten", &T::flatten, "start_dim"_a = 0, "end_dim"_a = -1, "Merges the axes start_dim..end_dim.");
  FG_HAS(t.unflatten(0, Shape{})) {
    cls.def("unflatten", [](const T& t, int64_t dim, nb::handle sizes) { return t.unflatten(dim, to_shape(sizes, "unflatten")); },
            "dim"_a, "sizes"_a, "Splits one axis into several.");
  }
  cls.def("transpose", &T::transpose, "dim0"_a = 1, "dim1"_a = 0, "Swaps two axes.");
  cls.def_prop_ro("T", &T::T, "The transpose of a 2-d tensor (axes 0 and 1 swapped).");
  FG_HAS(t.repeat(std::vector<int64_t>{})) {
    cls.def("repeat", [](const T& t, nb::args r) { return t.repeat(ints_from_args(r, "repeat")); }, "repeats"_a,
            "Tiles the tensor (repeats per axis; more repeats than axes add leading axes).");
  }
  FG_HAS(t.repeat_interleave(1, std::nullopt)) {
    cls.def("repeat_interleave", &T::repeat_interleave, "repeats"_a, "dim"_a = nb::none(),
            "Repeats each element (of the flattened tensor when dim is None).");
  }
  FG_HAS(t.roll(0, std::nullopt)) {
    cls.def("roll", [](const T& t, nb::handle shifts, nb::handle dims) {
      if (dims.is_none()) return t.roll(to_int(shifts, "roll"), std::nullopt);
      return t.roll(to_shape(shifts, "roll"), to_shape(dims, "roll"));
    }, "shifts"_a, "dims"_a = nb::none(), "Rotates the elements along axes (the flattened tensor when dims is None).");
  }
  FG_HAS(t.movedim(0, 0)) {
    cls.def("movedim", &T::movedim, "source"_a, "destination"_a, "Moves one axis to a new position.");
  }
  FG_HAS(t.movedim(0, 0)) {
    cls.def("moveaxis", &T::movedim, "source"_a, "destination"_a, "movedim");
  }
  FG_HAS(t.expand_as(t)) {
    cls.def("expand_as", &T::expand_as, "other"_a, "expand(other.shape)");
  }
  FG_HAS(t.reshape_as(t)) {
    cls.def("reshape_as", &T::reshape_as, "other"_a, "reshape(other.shape)");
  }
  FG_HAS(t.split(int64_t{1}, 0)) {
    cls.def("split", [](const T& t, nb::handle sizes, int64_t dim) {
      if (PyList_Check(sizes.ptr()) || PyTuple_Check(sizes.ptr())) return tuple_of(t.split(to_shape(sizes, "split"), dim));
      return tuple_of(t.split(to_int(sizes, "split"), dim));
    }, "sizes"_a, "dim"_a = 0, "Pieces of the given size (the last smaller) or sizes.");
  }
  FG_HAS(t.chunk(1, 0)) {
    cls.def("chunk", [](const T& t, int64_t chunks, int64_t dim) { return t.chunk(chunks, dim); }, "chunks"_a,
            "dim"_a = 0, "chunks pieces of (nearly) equal size.");
  }
  FG_HAS(t.unbind(0)) {
    cls.def("unbind", [](const T& t, int64_t dim) { return tuple_of(t.unbind(dim)); }, "dim"_a = 0,
            "The slices along an axis, that axis removed.");
  }
  FG_HAS(T::cat({}, 0)) {
    cls.def("cat", [](nb::handle self, nb::args others, int64_t dim) {
      return T::cat(tensors_of(self, others, "cat"), dim);
    }, "others"_a, "dim"_a = 0, "Concatenates along an axis: a.cat(b, c, dim=1) or T.cat(a, b).");
  }
  FG_HAS(T::stack({}, 0)) {
    cls.def("stack", [](nb::handle self, nb::args others, int64_t dim) {
      return T::stack(tensors_of(self, others, "stack"), dim);
    }, "others"_a, "dim"_a = 0, "Stacks along a new axis: a.stack(b, dim=0) or T.stack(a, b).");
  }

  // ---- indexing
  FG_HAS(t.getitem({})) {
    cls.def("__getitem__", [](const T& t, nb::handle idx) { return t.getitem(index_list<T>(t, idx)); },
            "NumPy indexing: ints, slices (negative steps too), None, ..., int tensors and lists (advanced indexing).");
  }
  FG_HAS(t.setitem({}, t)) {
    cls.def("__setitem__", [](nb::handle self, nb::handle idx, nb::handle value) {
      T& t = *nb::inst_ptr<T>(self);
      auto ix = index_list<T>(t, idx);
      T r;
      Scalar s(0);
      if (nb::isinstance<T>(value)) r = t.setitem(ix, *nb::inst_ptr<T>(value));
      else if (as_scalar(value, s)) r = t.setitem(ix, s);
      else r = t.setitem(ix, make_tensor(value, t.device(), t.dtype()));
      replace_tensor(self, r, "setitem");
    }, "t[idx] = value (ints, slices, None and ...; the tensor now holds the new values).");
  }
  FG_HAS(t.gather(0, t)) {
    cls.def("gather", &T::gather, "dim"_a, "index"_a, "out[i][j] = self[index[i][j]][j] for dim 0 (PyTorch's gather).");
  }
  FG_HAS(t.scatter(0, t, t, std::string())) {
    cls.def("scatter", [](const T& t, int64_t dim, const T& index, nb::handle src, nb::handle reduce) {
      std::string r = reduce.is_none() ? "" : nb::cast<std::string>(reduce);
      if (nb::isinstance<T>(src)) return t.scatter(dim, index, *nb::inst_ptr<T>(src), r);
      return t.scatter(dim, index, to_scalar(src, "scatter"), r);
    }, "dim"_a, "index"_a, "src"_a, "reduce"_a = nb::none(),
       "self with self[index[i][j]][j] = src[i][j] (dim 0); reduce None, 'add' or 'multiply'.");
  }
  FG_HAS(t.scatter_reduce(0, t, t, std::string(), true)) {
    cls.def("scatter_reduce", &T::scatter_reduce, "dim"_a, "index"_a, "src"_a, "reduce"_a, "include_self"_a = true,
            "scatter with a reduction: 'sum', 'prod', 'mean', 'amax' or 'amin'.");
  }
  FG_HAS(t.masked_fill(t, t)) {
    cls.def("masked_fill", [](const T& t, const T& mask, nb::handle value) {
      if (nb::isinstance<T>(value)) return t.masked_fill(mask, *nb::inst_ptr<T>(value));
      return t.masked_fill(mask, to_scalar(value, "masked_fill"));
    }, "mask"_a, "value"_a, "value where mask is true, else self.");
  }
  FG_HAS(t.one_hot(1)) {
    cls.def("one_hot", &T::one_hot, "num_classes"_a = -1, "One-hot vectors along a new last axis (int64).");
  }
  FG_HAS(t.tril(0)) {
    cls.def("tril", &T::tril, "diagonal"_a = 0, "The lower triangle (the rest zero).");
  }
  FG_HAS(t.triu(0)) {
    cls.def("triu", &T::triu, "diagonal"_a = 0, "The upper triangle (the rest zero).");
  }
}

void init_tensor_ops(nb::module_& m) {
  nb::class_<Tensor> cls = nb::borrow<nb::class_<Tensor>>(m.attr("Tensor"));
  bind_ops<Tensor>(cls);
}

}  // namespace fgpy
