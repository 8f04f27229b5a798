// Indexing: getitem (ints, slices with any step, newaxis, ellipsis, integer tensors), a functional
// setitem, masked_fill, gather, scatter, one_hot, tril/triu. Basic indices are views (shrink,
// flip, reshape); tensor indices compare against an arange and reduce, like tinygrad, so they stay
// lazy. Out-of-range values of an index tensor are checked when the index tensor is already
// realized (its buffer is read, no kernel runs); for a lazy index tensor they are undefined (they
// select nothing, giving 0).
#include <algorithm>

#include "femtograd/base/error.h"
#include "femtograd/tensor/ops_internal.h"
#include "femtograd/tensor/tensor.h"

namespace fg {
namespace {

// Python's slice.indices(n) plus the element count
struct SliceSpec {
  int64_t start, step, count;
};

SliceSpec resolve_slice(const Tensor::Slice& s, int64_t n, int64_t axis) {
  int64_t step = s.step.value_or(1);
  FG_CHECK(step != 0, ErrorKind::Value, "getitem", "slice step cannot be zero (axis ", axis, ")");
  int64_t start, stop;
  if (step > 0) {
    start = s.start.value_or(0);
    if (start < 0) start += n;
    start = std::clamp<int64_t>(start, 0, n);
    stop = s.stop.value_or(n);
    if (stop < 0) stop += n;
    stop = std::clamp<int64_t>(stop, 0, n);
  } else {
    start = s.start.value_or(n - 1);
    if (s.start && start < 0) start += n;
    start = std::clamp<int64_t>(start, -1, n - 1);
    if (s.stop) {
      stop = *s.stop;
      if (stop < 0) stop += n;
      stop = std::clamp<int64_t>(stop, -1, n - 1);
    } else {
      stop = -1;
    }
  }
  int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                           : (start > stop ? (start - stop + (-step) - 1) / (-step) : 0);
  return {start, step, count};
}

// every `step`-th element of axis (a view): pad to count*step, split into (count, step), keep column 0
Tensor stride_axis(const Tensor& t, int64_t axis, int64_t step, int64_t count) {
  if (step == 1) return t;
  int64_t n = t.shape()[axis];
  std::vector<std::pair<int64_t, int64_t>> pad(t.ndim(), {0, 0}), shr;
  pad[axis] = {0, count * step - n};
  Tensor p = t.pad(pad);
  Shape s = p.shape();
  s[axis] = count;
  s.insert(s.begin() + axis + 1, step);
  Tensor r = p.reshape(s);
  for (int64_t i = 0; i < r.ndim(); i++) shr.push_back(i == axis + 1 ? std::pair<int64_t, int64_t>{0, 1} : std::pair<int64_t, int64_t>{0, r.shape()[i]});
  Shape out = t.shape();
  out[axis] = count;
  return r.shrink(shr).reshape(out);
}

// One entry of a parsed index, with the tensor axis it reads (after ellipsis expansion).
struct Parsed {
  Parsed(Tensor::Idx::Kind k, int64_t ax) : kind(k), axis(ax) {}
  Tensor::Idx::Kind kind;
  int64_t axis = -1;  // axis of the indexed tensor; -1 for newaxis
  int64_t i = 0;      // Int: the normalized index
  SliceSpec sl{0, 1, 0};
  Tensor index;       // Tensor: the index tensor
};

std::vector<Parsed> parse_index(const Tensor& x, const std::vector<Tensor::Idx>& idx, bool allow_tensors) {
  using K = Tensor::Idx::Kind;
  int64_t consumed = 0, ellipses = 0;
  for (const auto& e : idx) {
    if (e.kind == K::Ellipsis) ellipses++;
    else if (e.kind != K::NewAxis) consumed++;
  }
  FG_CHECK(ellipses <= 1, ErrorKind::Index, "getitem", "an index can only have a single ellipsis");
  FG_CHECK(consumed <= x.ndim(), ErrorKind::Index, "getitem", "too many indices for a tensor of shape ",
           shape_str(x.shape()), ": ", consumed, " were given");
  std::vector<Parsed> out;
  int64_t axis = 0;
  auto full_slice = [&](int64_t ax) {
    Parsed p(K::Slice, ax);
    p.sl = {0, 1, x.shape()[ax]};
    return p;
  };
  for (const auto& e : idx) {
    switch (e.kind) {
      case K::Ellipsis:
        for (int64_t k = 0; k < x.ndim() - consumed; k++) out.push_back(full_slice(axis++));
        break;
      case K::NewAxis: out.push_back(Parsed(K::NewAxis, -1)); break;
      case K::Int: {
        int64_t n = x.shape()[axis];
        int64_t i = e.i < 0 ? e.i + n : e.i;
        FG_CHECK(i >= 0 && i < n, ErrorKind::Index, "getitem", "index ", e.i, " is out of bounds for axis ", axis,
                 " with size ", n);
        Parsed p(K::Int, axis++);
        p.i = i;
        out.push_back(p);
        break;
      }
      case K::Slice: {
        Parsed p(K::Slice, axis);
        p.sl = resolve_slice(e.slice, x.shape()[axis], axis);
        axis++;
        out.push_back(p);
        break;
      }
      case K::Tensor: {
        FG_CHECK(allow_tensors, ErrorKind::NotImplemented, "setitem", "tensor indices are not supported here; use "
                 "scatter or masked_fill");
        const Tensor& t = *e.tensor;
        ops::check_device(x, t, "getitem");
        FG_CHECK(!t.dtype().is_bool(), ErrorKind::NotImplemented, "getitem", "a bool mask index gives a "
                 "data-dependent shape; use where or masked_fill");
        FG_CHECK(t.dtype().is_int(), ErrorKind::Type, "getitem", "index tensors must hold integers, got ",
                 t.dtype().name());
        int64_t n = x.shape()[axis];
        if (auto vals = ops::concrete_ints(t))
          for (int64_t v : *vals)
            FG_CHECK(v >= -n && v < n, ErrorKind::Index, "getitem", "index ", v, " is out of bounds for axis ", axis,
                     " with size ", n);
        Parsed p(K::Tensor, axis++);
        p.index = t;
        out.push_back(p);
        break;
      }
    }
  }
  while (axis < x.ndim()) out.push_back(full_slice(axis++));
  return out;
}

// the basic part of an index: shrink, flip and stride per axis; ints keep a size-1 axis
Tensor apply_basic(const Tensor& x, const std::vector<Parsed>& ps) {
  using K = Tensor::Idx::Kind;
  std::vector<std::pair<int64_t, int64_t>> bounds;
  for (int64_t a = 0; a < x.ndim(); a++) bounds.push_back({0, x.shape()[a]});
  std::vector<int64_t> flips;
  for (const Parsed& p : ps) {
    if (p.kind == K::Int) bounds[p.axis] = {p.i, p.i + 1};
    if (p.kind != K::Slice) continue;
    const SliceSpec& s = p.sl;
    if (s.count == 0) {
      int64_t at = std::clamp<int64_t>(s.start, 0, x.shape()[p.axis]);
      bounds[p.axis] = {at, at};
    } else if (s.step > 0) {
      bounds[p.axis] = {s.start, s.start + (s.count - 1) * s.step + 1};
    } else {
      bounds[p.axis] = {s.start + (s.count - 1) * s.step, s.start + 1};
      flips.push_back(p.axis);
    }
  }
  Tensor r = x.shrink(bounds).flip(flips);
  for (const Parsed& p : ps)
    if (p.kind == K::Slice && p.sl.count > 0) {
      int64_t st = p.sl.step < 0 ? -p.sl.step : p.sl.step;
      r = stride_axis(r, p.axis, st, p.sl.count);
    }
  return r;
}

// the inverse of apply_basic for the placement of values: v (of the indexed shape with ints as
// size-1 axes) put where the index points, zeros (or `fill`) elsewhere, in a tensor of `shape`
Tensor place_basic(const Tensor& v, const Shape& shape, const std::vector<Parsed>& ps) {
  using K = Tensor::Idx::Kind;
  Tensor r = v;
  for (const Parsed& p : ps) {
    if (p.kind != K::Slice || p.sl.count == 0) continue;
    int64_t st = p.sl.step < 0 ? -p.sl.step : p.sl.step;
    if (st == 1) continue;
    // (count,) -> (count, 1) -> pad to (count, st) -> (count*st,) -> first (count-1)*st+1
    int64_t c = p.sl.count;
    Shape s1 = r.shape();
    s1.insert(s1.begin() + p.axis + 1, 1);
    std::vector<std::pair<int64_t, int64_t>> pad(s1.size(), {0, 0});
    pad[p.axis + 1] = {0, st - 1};
    Shape s2 = r.shape();
    s2[p.axis] = c * st;
    Tensor t = r.reshape(s1).pad(pad).reshape(s2);
    std::vector<std::pair<int64_t, int64_t>> shr;
    for (int64_t a = 0; a < t.ndim(); a++) shr.push_back({0, a == p.axis ? (c - 1) * st + 1 : t.shape()[a]});
    r = t.shrink(shr);
  }
  std::vector<int64_t> flips;
  std::vector<std::pair<int64_t, int64_t>> pad;
  for (int64_t a = 0; a < r.ndim(); a++) pad.push_back({0, 0});
  for (const Parsed& p : ps) {
    if (p.kind == K::Int) pad[p.axis] = {p.i, shape[p.axis] - p.i - 1};
    if (p.kind != K::Slice) continue;
    const SliceSpec& s = p.sl;
    int64_t lo, len = r.shape()[p.axis];
    if (s.count == 0) lo = std::clamp<int64_t>(s.start, 0, shape[p.axis]);
    else if (s.step > 0) lo = s.start;
    else { lo = s.start + (s.count - 1) * s.step; flips.push_back(p.axis); }
    pad[p.axis] = {lo, shape[p.axis] - lo - len};
  }
  return r.flip(flips).pad(pad);
}

// the output shape of the basic index: ints dropped, newaxis inserted
Shape basic_out_shape(const Tensor& r, const std::vector<Parsed>& ps) {
  using K = Tensor::Idx::Kind;
  Shape s;
  for (const Parsed& p : ps) {
    if (p.kind == K::NewAxis) s.push_back(1);
    else if (p.kind != K::Int) s.push_back(r.shape()[p.axis]);
  }
  return s;
}

// the dtype index values are compared in: wide enough for any axis size
DType cmp_dtype(DType dt) { return dt.itemsize() == 8 ? dt : dtypes::int32; }

// sum of the one selected element (ADD for numbers, MAX for bool: either keeps the value exactly)
Tensor select_reduce(const Tensor& masked, std::vector<int64_t> axes) {
  return masked.reduce(masked.dtype().is_bool() ? Op::MAX : Op::ADD, std::move(axes), false);
}

}  // namespace

Tensor Tensor::getitem(const std::vector<Idx>& idx) const {
  using K = Idx::Kind;
  std::vector<Parsed> ps = parse_index(*this, idx, true);
  Tensor r = apply_basic(*this, ps);
  // drop int axes, insert newaxis axes: positions in the result of each remaining entry
  Shape out = basic_out_shape(r, ps);
  r = r.reshape(out);
  std::vector<int64_t> tdims;  // result axes indexed by tensors
  std::vector<Tensor> tidx;
  int64_t pos = 0;
  for (const Parsed& p : ps) {
    if (p.kind == K::Int) continue;
    if (p.kind == K::Tensor) { tdims.push_back(pos); tidx.push_back(p.index); }
    pos++;
  }
  if (tdims.empty()) return r;
  // the index tensors broadcast together
  Shape b;
  for (const Tensor& t : tidx) b = broadcast_shape(b, t.shape(), "getitem");
  // numpy's rule: ints count as advanced indices next to tensors; when the advanced indices are
  // not side by side, the broadcast axes go first
  std::vector<size_t> adv;
  for (size_t q = 0; q < ps.size(); q++)
    if (ps[q].kind == K::Int || ps[q].kind == K::Tensor) adv.push_back(q);
  bool adjacent = true;
  for (size_t q = 1; q < adv.size(); q++) adjacent &= adv[q] == adv[q - 1] + 1;
  // the result's axes: the broadcast axes B replace the indexed axes in place when those are side by
  // side, else they go first (numpy's rule); the other axes O keep their order
  int64_t no = r.ndim() - static_cast<int64_t>(tdims.size()), nb = static_cast<int64_t>(b.size()),
          k = static_cast<int64_t>(tdims.size());
  int64_t bpos = adjacent ? tdims[0] : 0;  // where B starts among the result's axes
  // x: the indexed axes moved last, 1s where B goes: (O_pre.., 1.., O_post.., n1..nk)
  std::vector<int64_t> order;
  for (int64_t a = 0; a < r.ndim(); a++)
    if (std::find(tdims.begin(), tdims.end(), a) == tdims.end()) order.push_back(a);
  for (int64_t a : tdims) order.push_back(a);
  Tensor x = ops::materialized(r).permute(order);
  Shape xs(x.shape().begin(), x.shape().begin() + no);
  xs.insert(xs.begin() + bpos, nb, 1);
  xs.insert(xs.end(), x.shape().begin() + no, x.shape().end());
  x = x.reshape(xs);
  // the mask: (B..., n1..nk), each index compared with an arange along its own n
  Tensor mask;
  for (int64_t j = 0; j < k; j++) {
    int64_t n = r.shape()[tdims[j]];
    Tensor t = tidx[j].broadcast_to(b).cast(cmp_dtype(tidx[j].dtype()));
    Tensor nt = Tensor::const_(n, t.dtype(), {}, device());
    t = t.lt(Tensor::const_(0, t.dtype(), {}, device())).where(t.add(nt), t);
    Shape ts = b;
    ts.insert(ts.end(), k, 1);
    Tensor ar = ops::iota_along(n, nb + j, nb + k, t.dtype(), device());
    Tensor m = t.reshape(ts).eq(ar);  // (B..., 1.., n_j, 1..)
    mask = mask.defined() ? mask.bitwise_and(m) : m;
  }
  Shape ms(no, 1);
  ms.insert(ms.begin() + bpos, b.begin(), b.end());
  ms.insert(ms.end(), mask.shape().begin() + nb, mask.shape().end());
  mask = mask.reshape(ms);
  // the one selected element of each (n1..nk) block: the result, already in its final axis order
  Tensor sel = mask.where(x, Tensor::const_(0, dtype(), {}, device()));
  std::vector<int64_t> raxes;
  for (int64_t j = 0; j < k; j++) raxes.push_back(no + nb + j);
  return select_reduce(sel, raxes);
}

Tensor Tensor::setitem(const std::vector<Idx>& idx, const Tensor& value) const {
  std::vector<Parsed> ps = parse_index(*this, idx, false);
  ops::check_device(*this, value, "setitem");
  Tensor r = apply_basic(*this, ps);
  Shape out = basic_out_shape(r, ps);
  bool fits = value.ndim() <= static_cast<int64_t>(out.size());
  for (int64_t k = 1; fits && k <= value.ndim(); k++) {
    int64_t v = value.shape()[value.ndim() - k], o = out[out.size() - k];
    fits = v == o || v == 1;
  }
  FG_CHECK(fits, ErrorKind::Value, "setitem", "value of shape ", shape_str(value.shape()),
           " does not broadcast to the indexed shape ", shape_str(out));
  Tensor v = value.cast(dtype()).broadcast_to(out).reshape(r.shape());
  Tensor placed = place_basic(v, shape(), ps);
  Tensor mask = place_basic(Tensor::full(r.shape(), true, dtypes::bool_, device()), shape(), ps);
  return mask.where(placed, *this);
}

Tensor Tensor::setitem(const std::vector<Idx>& idx, Scalar value) const {
  return setitem(idx, Tensor::const_(value, dtype(), {}, device()));
}

Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  ops::check_device(*this, mask, "masked_fill");
  ops::check_device(*this, value, "masked_fill");
  FG_CHECK(mask.dtype().is_bool(), ErrorKind::Type, "masked_fill", "the mask must be bool, got ", mask.dtype().name());
  FG_CHECK(broadcast_shape(shape(), mask.shape(), "masked_fill") == shape(), ErrorKind::Value, "masked_fill",
           "mask of shape ", shape_str(mask.shape()), " does not broadcast to ", shape_str(shape()));
  FG_CHECK(broadcast_shape(shape(), value.shape(), "masked_fill") == shape(), ErrorKind::Value, "masked_fill",
           "value of shape ", shape_str(value.shape()), " does not broadcast to ", shape_str(shape()));
  return mask.where(value.cast(dtype()), *this);
}

Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return masked_fill(mask, Tensor::const_(value, dtype(), {}, device()));
}

// ---------------------------------------------------------------- gather and scatter

namespace {
void check_index_tensor(const Tensor& self, int64_t dim, const Tensor& index, const char* op, bool other_axes_le) {
  ops::check_device(self, index, op);
  FG_CHECK(index.dtype().is_int(), ErrorKind::Type, op, "index must hold integers, got ", index.dtype().name());
  FG_CHECK(index.ndim() == self.ndim(), ErrorKind::Value, op, "index of shape ", shape_str(index.shape()),
           " needs as many axes as the tensor of shape ", shape_str(self.shape()));
  for (int64_t a = 0; a < self.ndim(); a++)
    if (a != dim && other_axes_le)
      FG_CHECK(index.shape()[a] <= self.shape()[a], ErrorKind::Value, op, "index of shape ", shape_str(index.shape()),
               " is larger than the tensor of shape ", shape_str(self.shape()), " on axis ", a);
  int64_t n = self.ndim() ? self.shape()[dim] : 1;
  if (auto vals = ops::concrete_ints(index))
    for (int64_t v : *vals)
      FG_CHECK(v >= 0 && v < n, ErrorKind::Index, op, "index ", v, " is out of bounds for axis ", dim, " with size ", n);
}

std::vector<std::pair<int64_t, int64_t>> bounds_of(const Shape& s) {
  std::vector<std::pair<int64_t, int64_t>> b;
  for (int64_t v : s) b.push_back({0, v});
  return b;
}
}  // namespace

Tensor Tensor::gather(int64_t dim, const Tensor& index) const {
  int64_t ax = norm_axis(dim, "gather");
  check_index_tensor(*this, ax, index, "gather", true);
  if (ndim() == 0) return *this;
  int64_t n = shape()[ax];
  // this cut to the index's shape on the other axes; axis `ax` moved last, a 1 in its place
  Shape cut = index.shape();
  cut[ax] = n;
  Tensor x = ops::materialized(*this).shrink(bounds_of(cut)).unsqueeze(-1).transpose(ax, -1);
  DType ct = cmp_dtype(index.dtype());
  Tensor m = index.cast(ct).unsqueeze(-1).eq(ops::iota_along(n, ndim(), ndim() + 1, ct, device()));
  return select_reduce(m.where(x, Tensor::const_(0, dtype(), {}, device())), {ndim()});
}

namespace {
// The pieces every scatter shares, over (I with n at dim, ..., I[dim]) where I is index's shape:
// m says which source element j lands on each output position; src is broadcast to it.
struct ScatterParts {
  Tensor m, src;
  int64_t last;  // the axis of j
};

ScatterParts scatter_parts(const Tensor& self, int64_t ax, const Tensor& index, const Tensor& src, const char* op) {
  check_index_tensor(self, ax, index, op, true);
  ops::check_device(self, src, op);
  FG_CHECK(src.ndim() == index.ndim(), ErrorKind::Value, op, "src of shape ", shape_str(src.shape()),
           " needs as many axes as index of shape ", shape_str(index.shape()));
  for (int64_t a = 0; a < src.ndim(); a++)
    FG_CHECK(index.shape()[a] <= src.shape()[a], ErrorKind::Value, op, "index of shape ", shape_str(index.shape()),
             " is larger than src of shape ", shape_str(src.shape()), " on axis ", a);
  int64_t nd = self.ndim(), n = self.shape()[ax];
  DType ct = cmp_dtype(index.dtype());
  Tensor m = index.cast(ct).unsqueeze(-1).eq(ops::iota_along(n, nd, nd + 1, ct, self.device())).transpose(ax, -1);
  Tensor s = src.shrink(bounds_of(index.shape())).cast(self.dtype()).unsqueeze(-1).transpose(ax, -1);
  return {m, s, nd};
}

// a tensor of the index's extent (n at dim) padded to self's shape with `fill`
Tensor pad_to(const Tensor& t, const Shape& shape, Scalar fill) {
  std::vector<std::pair<int64_t, int64_t>> pad;
  for (int64_t a = 0; a < t.ndim(); a++) pad.push_back({0, shape[a] - t.shape()[a]});
  return t.pad(pad, fill);
}
}  // namespace

Tensor Tensor::scatter(int64_t dim, const Tensor& index, const Tensor& src, const std::string& reduce) const {
  int64_t ax = norm_axis(dim, "scatter");
  FG_CHECK(reduce.empty() || reduce == "add" || reduce == "multiply", ErrorKind::Value, "scatter", "reduce must be "
           "'add' or 'multiply' (or empty), got '", reduce, "'");
  ScatterParts sp = scatter_parts(*this, ax, index, src, "scatter");
  if (index.numel() == 0) return *this;
  if (reduce == "add") return scatter_reduce(dim, index, src, "sum", true);
  if (reduce == "multiply") return scatter_reduce(dim, index, src, "prod", true);
  // the last write wins: the largest j that lands on each position
  int64_t nj = sp.m.shape()[sp.last];
  Tensor j1 = ops::iota_along(nj, sp.last, sp.last + 1, dtypes::int32, device()).add(1);
  Tensor zero = Tensor::const_(0, dtypes::int32, {}, device());
  Tensor sel = sp.m.where(j1, zero).max({sp.last}, true);
  Tensor pick = sp.m.bitwise_and(j1.eq(sel));
  Tensor val = select_reduce(pick.where(sp.src, Tensor::const_(0, dtype(), {}, device())), {sp.last});
  Tensor hit = sel.squeeze(sp.last).gt(zero);
  return pad_to(hit, shape(), false).where(pad_to(val, shape(), 0), *this);
}

Tensor Tensor::scatter(int64_t dim, const Tensor& index, Scalar value, const std::string& reduce) const {
  return scatter(dim, index, Tensor::const_(value, dtype(), index.shape(), device()), reduce);
}

Tensor Tensor::scatter_reduce(int64_t dim, const Tensor& index, const Tensor& src, const std::string& reduce,
                              bool include_self) const {
  int64_t ax = norm_axis(dim, "scatter_reduce");
  FG_CHECK(reduce == "sum" || reduce == "prod" || reduce == "mean" || reduce == "amax" || reduce == "amin",
           ErrorKind::Value, "scatter_reduce", "reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', got '", reduce,
           "'");
  ScatterParts sp = scatter_parts(*this, ax, index, src, "scatter_reduce");
  if (index.numel() == 0) return *this;
  DType dt = dtype();
  Tensor hit = pad_to(sp.m.any({sp.last}), shape(), false);
  auto red = [&](Op op, Scalar identity) {
    Tensor v = sp.m.where(sp.src, Tensor::const_(identity, dt, {}, device())).reduce(op, {sp.last}, false);
    return pad_to(v, shape(), identity);
  };
  Tensor out;
  if (reduce == "sum" || reduce == "mean") {
    Tensor s = red(dt.is_bool() ? Op::MAX : Op::ADD, dt.is_float() ? Scalar(0.0) : Scalar(0));
    if (reduce == "sum") return include_self ? add(s) : hit.where(s, *this);
    Tensor cnt = pad_to(sp.m.cast(dtypes::int32).reduce(Op::ADD, {sp.last}, false), shape(), 0);
    if (include_self) { s = s.add(*this); cnt = cnt.add(Tensor::const_(1, dtypes::int32, {}, device())); }
    Tensor c = cnt.maximum(Tensor::const_(1, dtypes::int32, {}, device())).cast(dt);
    Tensor mean = dt.is_float() ? s.div(c) : s.idiv(c);
    return hit.where(mean.cast(dt), *this);
  }
  if (reduce == "prod") {
    Tensor p = red(Op::MUL, dt.is_float() ? Scalar(1.0) : Scalar(1));
    if (dt.is_bool()) p = sp.m.where(sp.src.logical_not(), Tensor::const_(false, dt, {}, device())).any({sp.last}).logical_not();
    if (dt.is_bool()) p = pad_to(p, shape(), true);
    return include_self ? (dt.is_bool() ? bitwise_and(p) : mul(p)) : hit.where(p, *this);
  }
  if (reduce == "amax") {
    Tensor v = red(Op::MAX, ops::lowest(dt));
    return include_self ? hit.where(maximum(v), *this) : hit.where(v, *this);
  }
  // amin: the max of the order-reversed values (like Tensor::min)
  auto flip_order = [&](const Tensor& t) { return dt.is_bool() ? t.logical_not() : dt.is_int() ? t.bitwise_not() : t.neg(); };
  Tensor fs = flip_order(sp.src);
  Tensor v = sp.m.where(fs, Tensor::const_(ops::lowest(dt), dt, {}, device())).reduce(Op::MAX, {sp.last}, false);
  v = flip_order(pad_to(v, shape(), ops::lowest(dt)));
  return include_self ? hit.where(minimum(v), *this) : hit.where(v, *this);
}

// ---------------------------------------------------------------- one_hot, tril, triu

Tensor Tensor::one_hot(int64_t num_classes) const {
  FG_CHECK(dtype().is_int(), ErrorKind::Type, "one_hot", "needs an integer tensor, got ", dtype().name());
  FG_CHECK(num_classes >= -1, ErrorKind::Value, "one_hot", "num_classes must be positive or -1, got ", num_classes);
  std::optional<std::vector<int64_t>> vals = ops::concrete_ints(*this);
  if (num_classes == -1) {
    if (numel() == 0) num_classes = 0;
    else if (vals) num_classes = *std::max_element(vals->begin(), vals->end()) + 1;
    else num_classes = static_cast<int64_t>(max().item()) + 1;  // data dependent: runs a kernel
  }
  if (vals)
    for (int64_t v : *vals)
      FG_CHECK(v >= 0 && v < num_classes, ErrorKind::Index, "one_hot", "class ", v, " is out of range for ",
               num_classes, " classes");
  DType ct = cmp_dtype(dtype());
  Tensor ar = ops::iota_along(num_classes, ndim(), ndim() + 1, ct, device());
  return cast(ct).unsqueeze(-1).eq(ar).cast(dtypes::int64);
}

namespace {
Tensor tri(const Tensor& x, int64_t k, bool lower, const char* op) {
  FG_CHECK(x.ndim() >= 2, ErrorKind::Value, op, "needs at least 2 dimensions, got shape ", shape_str(x.shape()));
  int64_t r = x.shape()[x.ndim() - 2], c = x.shape()[x.ndim() - 1];
  Tensor i = ops::iota_along(r, 0, 2, dtypes::int64, x.device());
  Tensor j = ops::iota_along(c, 1, 2, dtypes::int64, x.device());
  Tensor d = j.sub(i);  // (r, c): column - row
  Tensor kk = Tensor::const_(k, dtypes::int64, {}, x.device());
  Tensor keep = lower ? d.le(kk) : d.ge(kk);
  return keep.where(x, Tensor::const_(0, x.dtype(), {}, x.device()));
}
}  // namespace

Tensor Tensor::tril(int64_t diagonal) const { return tri(*this, diagonal, true, "tril"); }
Tensor Tensor::triu(int64_t diagonal) const { return tri(*this, diagonal, false, "triu"); }

}  // namespace fg
