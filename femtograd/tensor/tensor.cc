// The core of fg::Tensor: construction, realize and read-back, movement ops, and the primitive
// elementwise and reduce builders every other op is written with.
#include "femtograd/tensor/tensor.h"

#include <algorithm>
#include <cmath>

#include "femtograd/base/error.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/metadata.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fg {

Tensor::Tensor(UOpRef uop, Shape shape, std::string device)
    : s_(std::make_shared<State>(State{std::move(uop), std::move(shape), std::move(device)})) {
  attach_metadata(s_->uop.get());  // which user-level op built it (tensor/metadata.h)
}

const Tensor::State& Tensor::st() const {
  FG_CHECK(s_, ErrorKind::Value, "Tensor", "use of an empty Tensor handle");
  return *s_;
}

int64_t Tensor::shape(int64_t axis) const { return shape()[norm_axis(axis, "shape")]; }

namespace {
std::string dev_name(const std::string& d) { return canonical_device(d.empty() ? default_device() : d); }

void check_shape(const Shape& shape, const char* op) {
  for (int64_t s : shape)
    FG_CHECK(s >= 0, ErrorKind::Value, op, "negative dimension in shape ", shape_str(shape));
}
}  // namespace

// ---------------------------------------------------------------- creation

Tensor Tensor::from_data(const void* data, DType dtype, const Shape& shape, const std::string& device) {
  check_shape(shape, "Tensor");
  std::string dev = dev_name(device);
  int64_t n = fg::prod(shape);
  UOpRef buf = new_buffer(dev, dtype, n);
  auto b = buffer_of(buf);
  b->ensure_allocated();
  if (n) b->copy_in(data, static_cast<size_t>(n) * dtype.itemsize());
  Tensor t(buf, {n}, dev);
  return shape == Shape{n} ? t : t.reshape(shape);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, const std::string& device) {
  check_shape(shape, "empty");
  std::string dev = dev_name(device);
  int64_t n = fg::prod(shape);
  Tensor t(new_buffer(dev, dtype, n), {n}, dev);
  return shape == Shape{n} ? t : t.reshape(shape);
}

Tensor Tensor::const_(Scalar value, DType dtype, const Shape& shape, const std::string& device) {
  check_shape(shape, "full");
  std::string dev = dev_name(device);
  UOpRef d = UOp::make(Op::DEVICE, dtypes::void_, {}, Arg(dev));
  Arg a;
  if (dtype.is_bool()) a = Arg(value.kind == Scalar::Kind::Float ? value.f != 0 : value.i != 0);
  else if (dtype.is_int()) a = Arg(value.kind == Scalar::Kind::Float ? static_cast<int64_t>(value.f) : value.i);
  else a = Arg(value.kind == Scalar::Kind::Float ? value.f : static_cast<double>(value.i));
  Tensor c(UOp::make(Op::CONST, dtype, {d}, a), {}, dev);
  if (shape.empty()) return c;
  return c.reshape(Shape(shape.size(), 1)).expand(shape);
}

Tensor Tensor::full(const Shape& shape, Scalar value, std::optional<DType> dtype, const std::string& device) {
  DType dt = dtype ? *dtype
             : value.kind == Scalar::Kind::Float ? dtypes::default_float
             : value.kind == Scalar::Kind::Int   ? dtypes::int64
                                                 : dtypes::bool_;
  return const_(value, dt, shape, device);
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, const std::string& device) { return full(shape, 0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, const std::string& device) { return full(shape, 1, dtype, device); }
Tensor Tensor::full_like(Scalar value, std::optional<DType> dtype) const {
  return full(shape(), value, dtype ? dtype : std::optional<DType>(this->dtype()), device());
}

namespace {
// [0, 1, ..., n-1] as int32: an ARANGE node, which lowers to the loop index itself
Tensor iota(int64_t n, const std::string& device) {
  std::string dev = canonical_device(device.empty() ? default_device() : device);
  UOpRef d = UOp::make(Op::DEVICE, dtypes::void_, {}, Arg(dev));
  return Tensor(UOp::make(Op::ARANGE, dtypes::int32, {d}, Arg(n)), {n}, dev);
}
}  // namespace

Tensor Tensor::arange(Scalar start, std::optional<Scalar> stop, Scalar step, std::optional<DType> dtype,
                      const std::string& device) {
  if (!stop) { stop = start; start = 0; }
  bool is_float = start.kind == Scalar::Kind::Float || stop->kind == Scalar::Kind::Float || step.kind == Scalar::Kind::Float;
  DType dt = dtype ? *dtype : is_float ? dtypes::default_float : dtypes::int64;
  FG_CHECK(step.f != 0, ErrorKind::Value, "arange", "step must not be zero");
  int64_t n = static_cast<int64_t>(std::ceil((stop->f - start.f) / step.f));
  if (n < 0) n = 0;
  Tensor idx = iota(n, device);
  // idx[i] = i
  if (is_float || dt.is_float()) return idx.cast(dt).mul(Tensor::full({}, step.f, dt, device)).add(Tensor::full({}, start.f, dt, device));
  return idx.cast(dt).mul(Tensor::full({}, step.i, dt, device)).add(Tensor::full({}, start.i, dt, device));
}

Tensor Tensor::linspace(double start, double stop, int64_t steps, DType dtype, const std::string& device) {
  FG_CHECK(steps >= 0, ErrorKind::Value, "linspace", "number of steps must be non-negative, got ", steps);
  if (steps == 1) return full({1}, start, dtype, device);
  double step = (stop - start) / static_cast<double>(steps - 1);
  return arange(0, static_cast<int64_t>(steps), 1, dtypes::float64, device).mul(step).add(start).cast(dtype);
}

Tensor Tensor::eye(int64_t n, std::optional<int64_t> m, DType dtype, const std::string& device) {
  int64_t cols = m ? *m : n;
  FG_CHECK(n >= 0 && cols >= 0, ErrorKind::Value, "eye", "sizes must be non-negative, got ", n, " and ", cols);
  // row index == column index, both loop indices (no memory until realized)
  Tensor r = iota(n, device).reshape({n, 1}), c = iota(cols, device).reshape({1, cols});
  return r.eq(c).cast(dtype);
}

// ---------------------------------------------------------------- realize and read back

void Tensor::realize_all(std::vector<Tensor*> ts) {
  std::vector<UOpRef> roots;
  for (Tensor* t : ts) roots.push_back(t->uop());
  fg::realize(roots);
  for (Tensor* t : ts) {
    UOpRef r = t->uop()->realized();
    if (!r) continue;
    // a value computed from tensors that require gradients keeps its graph, so that a backward
    // through it still reaches them (its node carries the buffer: later schedules read it)
    if (!t->s_->requires_grad && t->requires_grad()) continue;
    // every handle of this tensor sees the buffer now (state is shared, like a Python object)
    const Shape& sh = t->shape();
    t->s_->uop = sh == Shape{r->arg.as_int()} ? r : UOp::make(Op::RESHAPE, r->dtype, {r}, Arg(sh));
  }
}

Tensor& Tensor::realize() {
  realize_all({this});
  return *this;
}

void Tensor::copy_to_host(void* dst, size_t bytes) const {
  size_t need = static_cast<size_t>(numel()) * dtype().itemsize();
  FG_CHECK(bytes == need, ErrorKind::Value, "copy_to_host", "tensor ", shape_str(shape()), " ", dtype().name(),
           " holds ", need, " bytes, destination has ", bytes);
  if (need == 0) return;
  UOpRef buf = buffer_of_tensor(*this);
  if (!buf) {
    Tensor c = contiguous();
    c.realize();
    buf = buffer_of_tensor(c);
    FG_ASSERT(buf, "contiguous() did not produce a buffer");
  }
  auto b = buffer_of(buf);
  get_device(device()).synchronize();
  b->copy_out(dst, need);
}

double Tensor::item() const {
  FG_CHECK(numel() == 1, ErrorKind::Value, "item", "only a tensor of one element can be read as a scalar, shape is ",
           shape_str(shape()));
  std::vector<unsigned char> raw(dtype().itemsize());
  copy_to_host(raw.data(), raw.size());
  return load_as_double(dtype(), raw.data());
}

// ---------------------------------------------------------------- movement

int64_t Tensor::norm_axis(int64_t axis, const char* op) const {
  int64_t n = std::max<int64_t>(ndim(), 1);
  FG_CHECK(axis >= -n && axis < n, ErrorKind::Index, op, "axis ", axis, " is out of range for a tensor of shape ",
           shape_str(shape()));
  return axis < 0 ? axis + n : axis;
}

std::vector<int64_t> Tensor::norm_axes(std::vector<int64_t> axes, const char* op) const {
  if (axes.empty())
    for (int64_t i = 0; i < ndim(); i++) axes.push_back(i);
  for (auto& a : axes) a = norm_axis(a, op);
  std::sort(axes.begin(), axes.end());
  FG_CHECK(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), ErrorKind::Value, op, "repeated axis in ",
           shape_str(axes));
  return axes;
}

Tensor Tensor::movement(Op op, Arg arg) const {
  UOpRef u = UOp::make(op, dtype(), {uop()}, std::move(arg));
  const Shape* in = &shape();
  Shape out = infer_shape(*u, std::span<const Shape* const>(&in, 1));
  return Tensor(u, out, device());
}

Tensor Tensor::reshape(Shape s) const {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == -1) {
      FG_CHECK(infer < 0, ErrorKind::Value, "reshape", "only one -1 allowed in ", shape_str(s));
      infer = static_cast<int>(i);
    } else {
      FG_CHECK(s[i] >= 0, ErrorKind::Value, "reshape", "negative size in ", shape_str(s));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    FG_CHECK(known != 0 && numel() % known == 0, ErrorKind::Value, "reshape", "cannot reshape ", shape_str(shape()),
             " to ", shape_str(s));
    s[infer] = numel() / known;
  }
  FG_CHECK(fg::prod(s) == numel(), ErrorKind::Value, "reshape", "cannot reshape ", shape_str(shape()), " to ", shape_str(s));
  if (s == shape()) return *this;
  return movement(Op::RESHAPE, Arg(s));
}

Tensor Tensor::permute(std::vector<int64_t> order) const {
  FG_CHECK(order.size() == shape().size(), ErrorKind::Value, "permute", "order ", shape_str(order),
           " does not fit shape ", shape_str(shape()));
  for (auto& o : order) o = norm_axis(o, "permute");
  bool identity = true;
  for (size_t i = 0; i < order.size(); i++) identity &= order[i] == static_cast<int64_t>(i);
  if (identity) return *this;
  return movement(Op::PERMUTE, Arg(order));
}

Tensor Tensor::expand(Shape s) const {
  FG_CHECK(s.size() >= shape().size(), ErrorKind::Value, "expand", "cannot expand ", shape_str(shape()), " to ",
           shape_str(s));
  Shape base(s.size() - shape().size(), 1);
  base.insert(base.end(), shape().begin(), shape().end());
  for (size_t i = 0; i < s.size(); i++)
    if (s[i] == -1) s[i] = base[i];
  Tensor t = base == shape() ? *this : reshape(base);
  if (s == base) return t;
  return t.movement(Op::EXPAND, Arg(s));
}

Tensor Tensor::pad(std::vector<std::pair<int64_t, int64_t>> padding, Scalar value) const {
  FG_CHECK(padding.size() <= shape().size(), ErrorKind::Value, "pad", "padding for ", padding.size(),
           " axes on a tensor of shape ", shape_str(shape()));
  // padding lists the last axes when shorter, like the shape
  std::vector<std::pair<int64_t, int64_t>> full(shape().size() - padding.size(), {0, 0});
  full.insert(full.end(), padding.begin(), padding.end());
  // negative padding shrinks
  std::vector<std::pair<int64_t, int64_t>> shr;
  bool any_neg = false, any_pos = false;
  for (size_t i = 0; i < full.size(); i++) {
    auto [b, e] = full[i];
    shr.push_back({b < 0 ? -b : 0, shape()[i] - (e < 0 ? -e : 0)});
    any_neg |= b < 0 || e < 0;
    any_pos |= b > 0 || e > 0;
  }
  Tensor t = any_neg ? shrink(shr) : *this;
  if (!any_pos) return t;
  std::vector<int64_t> arg;
  for (auto [b, e] : full) { arg.push_back(std::max<int64_t>(b, 0)); arg.push_back(std::max<int64_t>(e, 0)); }
  Tensor p = t.movement(Op::PAD, Arg(arg));
  bool zero = value.kind == Scalar::Kind::Float ? value.f == 0 : value.i == 0;
  if (zero) return p;
  // fill value: where(the padded region, value, x)
  Tensor mask = Tensor::full(t.shape(), true, dtypes::bool_, device()).movement(Op::PAD, Arg(arg));
  return mask.where(p, p.scalar_like(value).broadcast_to(p.shape()).cast(p.dtype()));
}

Tensor Tensor::shrink(std::vector<std::pair<int64_t, int64_t>> bounds) const {
  FG_CHECK(bounds.size() == shape().size(), ErrorKind::Value, "shrink", "bounds for ", bounds.size(),
           " axes on a tensor of shape ", shape_str(shape()));
  std::vector<int64_t> arg;
  bool identity = true;
  for (size_t i = 0; i < bounds.size(); i++) {
    arg.push_back(bounds[i].first);
    arg.push_back(bounds[i].second);
    identity &= bounds[i].first == 0 && bounds[i].second == shape()[i];
  }
  if (identity) return *this;
  return movement(Op::SHRINK, Arg(arg));
}

Tensor Tensor::flip(std::vector<int64_t> axes) const {
  std::vector<int64_t> flags(shape().size(), 0);
  for (int64_t a : axes) {
    int64_t ax = norm_axis(a, "flip");
    FG_CHECK(!flags[ax], ErrorKind::Value, "flip", "axis ", a, " given twice");
    flags[ax] = 1;
  }
  if (std::all_of(flags.begin(), flags.end(), [](int64_t f) { return !f; })) return *this;
  return movement(Op::FLIP, Arg(flags));
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(ndim());
  for (int64_t i = 0; i < ndim(); i++) order[i] = i;
  std::swap(order[norm_axis(a, "transpose")], order[norm_axis(b, "transpose")]);
  return permute(order);
}

Tensor Tensor::squeeze(std::optional<int64_t> axis) const {
  Shape s;
  if (!axis) {
    for (int64_t d : shape()) if (d != 1) s.push_back(d);
  } else {
    int64_t ax = norm_axis(*axis, "squeeze");
    for (int64_t i = 0; i < ndim(); i++) if (i != ax || shape()[i] != 1) s.push_back(shape()[i]);
  }
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  int64_t n = ndim() + 1;
  FG_CHECK(axis >= -n && axis < n, ErrorKind::Index, "unsqueeze", "axis ", axis, " out of range for ", shape_str(shape()));
  if (axis < 0) axis += n;
  Shape s = shape();
  s.insert(s.begin() + axis, 1);
  return reshape(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (ndim() == 0) return reshape({1});
  start = norm_axis(start, "flatten");
  end = norm_axis(end, "flatten");
  Shape s(shape().begin(), shape().begin() + start);
  s.push_back(fg::prod(std::span<const int64_t>(shape().data() + start, end - start + 1)));
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::contiguous() const {
  if (uop()->op == Op::CONTIGUOUS || buffer_of_tensor(*this)) return *this;
  return Tensor(UOp::make(Op::CONTIGUOUS, dtype(), {uop()}), shape(), device());
}

// ---------------------------------------------------------------- elementwise primitives

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; i++) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FG_CHECK(x == y || x == 1 || y == 1, ErrorKind::Value, op, "shapes ", shape_str(a), " and ", shape_str(b),
             " do not broadcast");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

Tensor Tensor::broadcast_to(const Shape& s) const {
  if (s == shape()) return *this;
  return expand(s);
}

std::pair<Tensor, Tensor> Tensor::broadcast(const Tensor& a, const Tensor& b, const char* op) {
  FG_CHECK(a.device() == b.device(), ErrorKind::Value, op, "tensors are on different devices: ", a.device(), " and ",
           b.device());
  Shape s = broadcast_shape(a.shape(), b.shape(), op);
  DType dt = promote(a.dtype(), b.dtype());
  return {a.cast(dt).broadcast_to(s), b.cast(dt).broadcast_to(s)};
}

Tensor Tensor::alu(Op op, const Tensor& o, const char* name) const {
  auto [a, b] = broadcast(*this, o, name);
  UOpRef u = a.uop()->alu(op, b.uop());
  return Tensor(u, a.shape(), device());
}

Tensor Tensor::alu(Op op) const { return Tensor(uop()->alu(op), shape(), device()); }

Tensor Tensor::cast(DType dt) const {
  if (dt == dtype()) return *this;
  return Tensor(uop()->cast(dt), shape(), device());
}

Tensor Tensor::bitcast(DType dt) const {
  FG_CHECK(dt.itemsize() == dtype().itemsize(), ErrorKind::Type, "bitcast", "cannot bitcast ", dtype().name(), " to ",
           dt.name(), ": element sizes differ");
  if (dt == dtype()) return *this;
  return Tensor(UOp::make(Op::BITCAST, dt, {uop()}), shape(), device());
}

Tensor Tensor::scalar_like(Scalar s) const {
  DType dt = dtype();
  if (s.kind == Scalar::Kind::Float && !dt.is_float()) dt = dtypes::default_float;
  else if (s.kind == Scalar::Kind::Int && dt.is_bool()) dt = dtypes::int64;
  return const_(s, dt, {}, device());
}

// ---------------------------------------------------------------- reduce primitive

Tensor Tensor::reduce(Op op, std::vector<int64_t> axes, bool keepdim) const {
  axes = norm_axes(std::move(axes), "reduce");
  Shape kept = shape();
  for (int64_t a : axes) kept[a] = 1;
  Tensor r = *this;
  if (!axes.empty() && ndim() > 0)
    r = Tensor(UOp::make(Op::REDUCE_AXIS, dtype(), {uop()}, Arg(ReduceArg{op, axes})), kept, device());
  if (keepdim) return r;
  Shape out;
  for (int64_t i = 0; i < ndim(); i++)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) out.push_back(shape()[i]);
  return r.reshape(out);
}

}  // namespace fg
