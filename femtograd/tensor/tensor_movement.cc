// Movement ops built from the core's (reshape, permute, expand, pad, shrink, flip): cat, stack,
// split, chunk, repeat, roll and the pad modes. None of them copies: each is a view, and cat joins
// padded views with where(), so every dtype keeps its exact bits.
#include <algorithm>
#include <numeric>

#include "femtograd/base/error.h"
#include "femtograd/tensor/ops_internal.h"
#include "femtograd/tensor/tensor.h"

namespace fg {
namespace {

// bounds that keep every axis except `axis`, which keeps [b, e)
std::vector<std::pair<int64_t, int64_t>> axis_bounds(const Shape& s, int64_t axis, int64_t b, int64_t e) {
  std::vector<std::pair<int64_t, int64_t>> r;
  for (size_t i = 0; i < s.size(); i++) r.push_back(static_cast<int64_t>(i) == axis ? std::pair{b, e} : std::pair{int64_t{0}, s[i]});
  return r;
}

// padding (b, e) on `axis` only
std::vector<std::pair<int64_t, int64_t>> axis_pad(size_t ndim, int64_t axis, int64_t b, int64_t e) {
  std::vector<std::pair<int64_t, int64_t>> r(ndim, {0, 0});
  r[axis] = {b, e};
  return r;
}

Tensor slice_axis(const Tensor& t, int64_t axis, int64_t b, int64_t e) { return t.shrink(axis_bounds(t.shape(), axis, b, e)); }

// `times` copies of t along axis, one after the other (a view: reshape, expand, reshape)
Tensor tile_axis(const Tensor& t, int64_t axis, int64_t times) {
  Shape s = t.shape();
  Shape s1 = s, s2 = s, out = s;
  s1.insert(s1.begin() + axis, 1);
  s2.insert(s2.begin() + axis, times);
  out[axis] *= times;
  return t.reshape(s1).expand(s2).reshape(out);
}

}  // namespace

// ---------------------------------------------------------------- cat and stack

Tensor Tensor::cat(const std::vector<Tensor>& ts, int64_t dim) {
  FG_CHECK(!ts.empty(), ErrorKind::Value, "cat", "needs at least one tensor");
  const Tensor& first = ts[0];
  FG_CHECK(first.ndim() > 0, ErrorKind::Value, "cat", "zero-dimensional tensors cannot be concatenated");
  int64_t ax = first.norm_axis(dim, "cat");
  DType dt = first.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < ts.size(); i++) {
    const Tensor& t = ts[i];
    ops::check_device(first, t, "cat");
    FG_CHECK(t.ndim() == first.ndim(), ErrorKind::Value, "cat", "tensor ", i, " has shape ", shape_str(t.shape()),
             ", tensor 0 has shape ", shape_str(first.shape()), ": ranks differ");
    for (int64_t a = 0; a < t.ndim(); a++)
      FG_CHECK(a == ax || t.shape()[a] == first.shape()[a], ErrorKind::Value, "cat", "tensor ", i, " has shape ",
               shape_str(t.shape()), ", tensor 0 has shape ", shape_str(first.shape()), ": sizes differ on axis ", a);
    dt = promote(dt, t.dtype());
    total += t.shape()[ax];
  }
  std::vector<Tensor> parts;
  for (const Tensor& t : ts)
    if (t.shape()[ax] > 0) parts.push_back(t.cast(dt));
  if (parts.empty()) return first.cast(dt);
  if (parts.size() == 1) return parts[0];
  // each part padded to the full length; where() picks the part that owns each position
  Tensor out;
  int64_t off = total;
  for (size_t i = parts.size(); i-- > 0;) {
    int64_t n = parts[i].shape()[ax];
    off -= n;
    auto pad = axis_pad(first.ndim(), ax, off, total - off - n);
    Tensor p = parts[i].pad(pad);
    if (!out.defined()) { out = p; continue; }
    Tensor mask = Tensor::full(parts[i].shape(), true, dtypes::bool_, first.device()).pad(pad);
    out = mask.where(p, out);
  }
  return out;
}

Tensor Tensor::stack(const std::vector<Tensor>& ts, int64_t dim) {
  FG_CHECK(!ts.empty(), ErrorKind::Value, "stack", "needs at least one tensor");
  int64_t n = ts[0].ndim() + 1;
  FG_CHECK(dim >= -n && dim < n, ErrorKind::Index, "stack", "dim ", dim, " is out of range for ", n,
           " dimensions");
  if (dim < 0) dim += n;
  for (size_t i = 1; i < ts.size(); i++)
    FG_CHECK(ts[i].shape() == ts[0].shape(), ErrorKind::Value, "stack", "tensor ", i, " has shape ",
             shape_str(ts[i].shape()), ", tensor 0 has shape ", shape_str(ts[0].shape()), ": all must be equal");
  std::vector<Tensor> us;
  for (const Tensor& t : ts) us.push_back(t.unsqueeze(dim));
  return cat(us, dim);
}

// ---------------------------------------------------------------- split, chunk, unbind

std::vector<Tensor> Tensor::split(int64_t size, int64_t dim) const {
  int64_t ax = norm_axis(dim, "split");
  int64_t n = shape()[ax];
  FG_CHECK(size > 0 || (size == 0 && n == 0), ErrorKind::Value, "split", "split size must be positive, got ", size);
  std::vector<Tensor> out;
  if (n == 0) return {*this};
  for (int64_t b = 0; b < n; b += size) out.push_back(slice_axis(*this, ax, b, std::min(n, b + size)));
  return out;
}

std::vector<Tensor> Tensor::split(const std::vector<int64_t>& sizes, int64_t dim) const {
  int64_t ax = norm_axis(dim, "split");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    FG_CHECK(s >= 0, ErrorKind::Value, "split", "sizes ", shape_str(sizes), " hold a negative size");
    sum += s;
  }
  FG_CHECK(sum == shape()[ax], ErrorKind::Value, "split", "sizes ", shape_str(sizes), " add up to ", sum,
           ", axis ", ax, " of ", shape_str(shape()), " has ", shape()[ax]);
  std::vector<Tensor> out;
  int64_t b = 0;
  for (int64_t s : sizes) {
    out.push_back(slice_axis(*this, ax, b, b + s));
    b += s;
  }
  return out;
}

std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const {
  FG_CHECK(chunks > 0, ErrorKind::Value, "chunk", "number of chunks must be positive, got ", chunks);
  int64_t ax = norm_axis(dim, "chunk");
  int64_t n = shape()[ax];
  if (n == 0) return std::vector<Tensor>(chunks, *this);
  return split((n + chunks - 1) / chunks, ax);
}

std::vector<Tensor> Tensor::unbind(int64_t dim) const {
  int64_t ax = norm_axis(dim, "unbind");
  std::vector<Tensor> out;
  for (int64_t i = 0; i < shape()[ax]; i++) out.push_back(slice_axis(*this, ax, i, i + 1).squeeze(ax));
  return out;
}

// ---------------------------------------------------------------- repeat, roll

Tensor Tensor::repeat(std::vector<int64_t> repeats) const {
  FG_CHECK(repeats.size() >= shape().size(), ErrorKind::Value, "repeat", "repeats ", shape_str(repeats),
           " has fewer entries than the tensor has axes ", shape_str(shape()));
  for (int64_t r : repeats)
    FG_CHECK(r >= 0, ErrorKind::Value, "repeat", "repeats ", shape_str(repeats), " hold a negative count");
  Shape base(repeats.size() - shape().size(), 1);
  base.insert(base.end(), shape().begin(), shape().end());
  // (1, s0, 1, s1, ...) -> (r0, s0, r1, s1, ...) -> (r0*s0, r1*s1, ...)
  Shape inter, expanded, out;
  for (size_t i = 0; i < base.size(); i++) {
    inter.push_back(1);
    inter.push_back(base[i]);
    expanded.push_back(repeats[i]);
    expanded.push_back(base[i]);
    out.push_back(repeats[i] * base[i]);
  }
  return reshape(inter).expand(expanded).reshape(out);
}

Tensor Tensor::repeat_interleave(int64_t repeats, std::optional<int64_t> dim) const {
  FG_CHECK(repeats >= 0, ErrorKind::Value, "repeat_interleave", "repeats must be non-negative, got ", repeats);
  Tensor x = dim ? *this : flatten();
  int64_t ax = x.norm_axis(dim ? *dim : 0, "repeat_interleave");
  Shape s1 = x.shape(), s2 = x.shape(), out = x.shape();
  s1.insert(s1.begin() + ax + 1, 1);
  s2.insert(s2.begin() + ax + 1, repeats);
  out[ax] *= repeats;
  return x.reshape(s1).expand(s2).reshape(out);
}

Tensor Tensor::roll(std::vector<int64_t> shifts, std::vector<int64_t> dims) const {
  FG_CHECK(shifts.size() == dims.size(), ErrorKind::Value, "roll", "shifts ", shape_str(shifts), " and dims ",
           shape_str(dims), " differ in length");
  Tensor x = *this;
  for (size_t i = 0; i < dims.size(); i++) {
    int64_t ax = norm_axis(dims[i], "roll");
    int64_t n = shape()[ax];
    if (n == 0) continue;
    int64_t s = ((shifts[i] % n) + n) % n;
    if (s == 0) continue;
    // two copies side by side; the window [n - s, 2n - s) is the rolled axis
    x = slice_axis(tile_axis(x, ax, 2), ax, n - s, 2 * n - s);
  }
  return x;
}

Tensor Tensor::roll(int64_t shift, std::optional<int64_t> dim) const {
  if (dim) return roll(std::vector<int64_t>{shift}, std::vector<int64_t>{*dim});
  if (ndim() == 0) return *this;
  return flatten().roll(std::vector<int64_t>{shift}, std::vector<int64_t>{0}).reshape(shape());
}

// ---------------------------------------------------------------- reshapes

Tensor Tensor::unflatten(int64_t dim, Shape sizes) const {
  int64_t ax = norm_axis(dim, "unflatten");
  FG_CHECK(!sizes.empty(), ErrorKind::Value, "unflatten", "sizes must not be empty");
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < sizes.size(); i++) {
    if (sizes[i] == -1) {
      FG_CHECK(infer < 0, ErrorKind::Value, "unflatten", "only one -1 allowed in ", shape_str(sizes));
      infer = static_cast<int64_t>(i);
      continue;
    }
    FG_CHECK(sizes[i] >= 0, ErrorKind::Value, "unflatten", "negative size in ", shape_str(sizes));
    known *= sizes[i];
  }
  int64_t n = shape()[ax];
  if (infer >= 0) {
    FG_CHECK(known != 0 && n % known == 0, ErrorKind::Value, "unflatten", "sizes ", shape_str(sizes),
             " do not fit axis ", ax, " of ", shape_str(shape()));
    sizes[infer] = n / known;
    known *= sizes[infer];
  }
  FG_CHECK(known == n, ErrorKind::Value, "unflatten", "sizes ", shape_str(sizes), " multiply to ", known, ", axis ",
           ax, " of ", shape_str(shape()), " has ", n);
  Shape s(shape().begin(), shape().begin() + ax);
  s.insert(s.end(), sizes.begin(), sizes.end());
  s.insert(s.end(), shape().begin() + ax + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::movedim(int64_t source, int64_t destination) const {
  int64_t s = norm_axis(source, "movedim"), d = norm_axis(destination, "movedim");
  std::vector<int64_t> order;
  for (int64_t i = 0; i < ndim(); i++)
    if (i != s) order.push_back(i);
  order.insert(order.begin() + d, s);
  return permute(order);
}

// ---------------------------------------------------------------- pad modes

Tensor Tensor::pad(std::vector<std::pair<int64_t, int64_t>> padding, PadMode mode, Scalar value) const {
  if (mode == PadMode::Constant) return pad(std::move(padding), value);
  const char* name = mode == PadMode::Reflect ? "pad (reflect)" : mode == PadMode::Replicate ? "pad (replicate)" : "pad (circular)";
  FG_CHECK(padding.size() <= shape().size(), ErrorKind::Value, name, "padding for ", padding.size(),
           " axes on a tensor of shape ", shape_str(shape()));
  size_t first = shape().size() - padding.size();
  // check every axis before building anything
  for (size_t i = 0; i < padding.size(); i++) {
    auto [b, e] = padding[i];
    int64_t ax = static_cast<int64_t>(first + i), n = shape()[ax];
    FG_CHECK(b >= 0 && e >= 0, ErrorKind::Value, name, "negative padding (", b, ", ", e, ") on axis ", ax,
             " (only constant mode shrinks)");
    if (b == 0 && e == 0) continue;
    if (mode == PadMode::Reflect)
      FG_CHECK(b < n && e < n, ErrorKind::Value, name, "padding (", b, ", ", e, ") must be smaller than the size ", n,
               " of axis ", ax, " of ", shape_str(shape()));
    if (mode == PadMode::Circular)
      FG_CHECK(b <= n && e <= n, ErrorKind::Value, name, "padding (", b, ", ", e, ") must not exceed the size ", n,
               " of axis ", ax, " of ", shape_str(shape()));
    if (mode == PadMode::Replicate)
      FG_CHECK(n > 0, ErrorKind::Value, name, "cannot pad the empty axis ", ax, " of ", shape_str(shape()));
  }
  Tensor x = *this;
  for (size_t i = 0; i < padding.size(); i++) {
    auto [b, e] = padding[i];
    if (b == 0 && e == 0) continue;
    int64_t ax = static_cast<int64_t>(first + i), n = x.shape()[ax];
    if (mode == PadMode::Circular) {
      x = slice_axis(tile_axis(x, ax, 3), ax, n - b, 2 * n + e);
      continue;
    }
    std::vector<Tensor> parts;
    if (mode == PadMode::Reflect) {
      if (b) parts.push_back(slice_axis(x, ax, 1, b + 1).flip({ax}));
      parts.push_back(x);
      if (e) parts.push_back(slice_axis(x, ax, n - 1 - e, n - 1).flip({ax}));
    } else {
      auto edge = [&](int64_t at, int64_t count) {
        Shape s = x.shape();
        s[ax] = count;
        return slice_axis(x, ax, at, at + 1).expand(s);
      };
      if (b) parts.push_back(edge(0, b));
      parts.push_back(x);
      if (e) parts.push_back(edge(n - 1, e));
    }
    x = cat(parts, ax);
  }
  return x;
}

}  // namespace fg
