// Reductions and the ops built on them (softmax, logsumexp, argmax, matmul).
#include <algorithm>
#include <cmath>
#include <limits>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/tensor.h"

namespace fg {

namespace {
// PyTorch's result dtype of sum/prod: ints and bools accumulate in int64, floats keep their type
DType sum_dtype(DType dt) { return dt.is_float() ? dt : dt.is_unsigned() && dt.scalar == ScalarType::UInt64 ? dt : dtypes::int64; }
// half types accumulate in float32, then round once
DType acc_dtype(DType dt) {
  if (dt.scalar == ScalarType::Float16 || dt.scalar == ScalarType::BFloat16 || dt.is_fp8()) return dtypes::float32;
  return dt;
}
int64_t reduced_count(const Tensor& t, const std::vector<int64_t>& axes) {
  int64_t n = 1;
  for (int64_t a : t.norm_axes(axes, "reduce")) n *= t.shape()[a];
  return n;
}
}  // namespace

Tensor Tensor::sum(std::vector<int64_t> axes, bool keepdim, std::optional<DType> acc) const {
  DType out = acc ? *acc : sum_dtype(dtype());
  DType a = acc ? *acc : acc_dtype(out);
  return cast(a).reduce(Op::ADD, std::move(axes), keepdim).cast(out);
}
Tensor Tensor::prod(std::vector<int64_t> axes, bool keepdim) const {
  DType out = sum_dtype(dtype());
  return cast(acc_dtype(out)).reduce(Op::MUL, std::move(axes), keepdim).cast(out);
}
Tensor Tensor::max(std::vector<int64_t> axes, bool keepdim) const {
  for (int64_t a : norm_axes(axes, "max"))
    FG_CHECK(shape()[a] != 0, ErrorKind::Value, "max", "cannot reduce over the empty axis ", a, " of shape ",
             shape_str(shape()));
  return reduce(Op::MAX, std::move(axes), keepdim);
}
Tensor Tensor::min(std::vector<int64_t> axes, bool keepdim) const {
  for (int64_t a : norm_axes(axes, "min"))
    FG_CHECK(shape()[a] != 0, ErrorKind::Value, "min", "cannot reduce over the empty axis ", a, " of shape ",
             shape_str(shape()));
  if (dtype().is_bool()) return logical_not().max(std::move(axes), keepdim).logical_not();
  if (dtype().is_int()) return bitwise_not().max(std::move(axes), keepdim).bitwise_not();
  return neg().max(std::move(axes), keepdim).neg();
}
Tensor Tensor::mean(std::vector<int64_t> axes, bool keepdim) const {
  int64_t n = reduced_count(*this, axes);
  DType out = least_upper_float(dtype());
  Tensor s = cast(acc_dtype(out)).reduce(Op::ADD, axes, keepdim);
  return s.div(static_cast<double>(n)).cast(out);
}
Tensor Tensor::var(std::vector<int64_t> axes, bool keepdim, double correction) const {
  int64_t n = reduced_count(*this, axes);
  Tensor m = mean(axes, true);
  Tensor d = sub(m);
  Tensor ss = d.mul(d).sum(axes, keepdim);
  return ss.div(std::max(0.0, static_cast<double>(n) - correction));
}
Tensor Tensor::stddev(std::vector<int64_t> axes, bool keepdim, double correction) const {
  return var(std::move(axes), keepdim, correction).sqrt();
}
Tensor Tensor::any(std::vector<int64_t> axes, bool keepdim) const {
  Tensor b = dtype().is_bool() ? *this : ne(0);
  return b.reduce(Op::MAX, std::move(axes), keepdim);
}
Tensor Tensor::all(std::vector<int64_t> axes, bool keepdim) const {
  Tensor b = dtype().is_bool() ? *this : ne(0);
  return b.logical_not().any(std::move(axes), keepdim).logical_not();
}

Tensor Tensor::argmax(std::optional<int64_t> axis, bool keepdim) const {
  if (!axis) return flatten().argmax(0, false);
  int64_t ax = norm_axis(*axis, "argmax");
  int64_t n = shape()[ax];
  FG_CHECK(n > 0, ErrorKind::Value, "argmax", "cannot take argmax over the empty axis ", ax);
  // the first index of the maximum: n - max(where(x == max, n - i, 0))
  Tensor m = max({ax}, true);
  Tensor is_max = eq(m);
  if (dtype().is_float()) is_max = is_max.bitwise_or(ne(*this));  // NaN is the maximum, like PyTorch
  Shape s(ndim(), 1);
  s[ax] = n;
  Tensor rev = arange(n, 0, -1, dtypes::int32, device()).reshape(s);
  Tensor r = is_max.where(rev, Tensor::const_(0, dtypes::int32, {}, device())).max({ax}, keepdim);
  return Tensor::const_(n, dtypes::int32, {}, device()).sub(r).cast(dtypes::int64);
}
Tensor Tensor::argmin(std::optional<int64_t> axis, bool keepdim) const {
  if (dtype().is_bool()) return logical_not().argmax(axis, keepdim);
  if (dtype().is_int()) return bitwise_not().argmax(axis, keepdim);
  return neg().argmax(axis, keepdim);
}

Tensor Tensor::logsumexp(int64_t axis, bool keepdim) const {
  Tensor x = dtype().is_float() ? *this : cast(dtypes::default_float);
  Tensor m = x.max({axis}, true);
  // an all -inf row would give nan from (-inf) - (-inf): shift by 0 there
  Tensor safe = m.eq(-std::numeric_limits<double>::infinity()).where(m.zeros_like(), m);
  Tensor r = x.sub(safe).exp().sum({axis}, true).log().add(safe);
  return keepdim ? r : r.squeeze(axis);
}
Tensor Tensor::softmax(int64_t axis) const {
  Tensor x = dtype().is_float() ? *this : cast(dtypes::default_float);
  Tensor e = x.sub(x.max({axis}, true)).exp();
  return e.div(e.sum({axis}, true));
}
Tensor Tensor::log_softmax(int64_t axis) const {
  Tensor x = dtype().is_float() ? *this : cast(dtypes::default_float);
  return x.sub(x.logsumexp(axis, true));
}

namespace {
// A CPU matmul kernel keeps a register tile of `panel` columns of the right operand b (..., k, n)
// and walks it down all k rows. Row-major, that strip advances n elements a row: for power-of-two n
// every row falls into the same few L1 sets and each load misses (and at n = 2048 every row is a new
// page). Copying b into panels (..., n/panel, k, panel) first makes every strip one contiguous run;
// the copy is O(k n) against the matmul's O(m k n), so it pays from a few dozen rows of a on, once b
// is larger than L1 (smaller, it stays cached however it is laid out). The matmul reads the panels
// through a view of b's shape: the kernel's index math does the rest.
// panel = the CPU heuristic's tile width along n: two native vectors (codegen/opts.cc).
Tensor panel_packed(const Tensor& b, int64_t m) {
  if (!getenv_int(Flag::MATMUL_PACK)) return b;
  DType dt = b.dtype();
  if (!dt.is_float() || (dt.itemsize() != 4 && dt.itemsize() != 8)) return b;
  int64_t k = b.shape(-2), n = b.shape(-1);
  if (m < 32 || k < 16 || k * n * dt.itemsize() < (64 << 10)) return b;
  Target t = target_for(get_device(b.device()));
  int64_t panel = 2 * t.vector_bytes / dt.itemsize();
  if (t.gpu || n < 2 * panel || n % panel != 0) return b;
  Shape split(b.shape().begin(), b.shape().end() - 1);
  split.insert(split.end(), {n / panel, panel});  // (..., k, n/panel, panel)
  std::vector<int64_t> swap;
  for (int64_t i = 0; i < b.ndim() + 1; i++) swap.push_back(i);
  std::swap(swap[b.ndim() - 2], swap[b.ndim() - 1]);  // (..., n/panel, k, panel) and back
  return b.reshape(split).permute(swap).contiguous().permute(swap).reshape(b.shape());
}
}  // namespace

Tensor Tensor::matmul(const Tensor& o) const {
  FG_CHECK(ndim() >= 1 && o.ndim() >= 1, ErrorKind::Value, "matmul", "both operands need at least one dimension, got ",
           shape_str(shape()), " and ", shape_str(o.shape()));
  Tensor a = ndim() == 1 ? unsqueeze(0) : *this;
  Tensor b = o.ndim() == 1 ? o.unsqueeze(1) : o;
  int64_t k = a.shape(-1), kb = b.shape(-2);
  FG_CHECK(k == kb, ErrorKind::Value, "matmul", "shapes ", shape_str(shape()), " and ", shape_str(o.shape()),
           " cannot be multiplied (", k, " != ", kb, ")");
  // the batch axes must broadcast
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  for (size_t i = 1; i <= std::min(ab.size(), bb.size()); i++) {
    int64_t x = ab[ab.size() - i], y = bb[bb.size() - i];
    FG_CHECK(x == y || x == 1 || y == 1, ErrorKind::Value, "matmul", "batch axes of ", shape_str(shape()), " and ",
             shape_str(o.shape()), " do not broadcast");
  }
  // (..., n, k) x (..., k, m): broadcast (..., n, 1, k) * (..., 1, m, k), sum over k
  Shape as = a.shape(), bs = b.shape();
  as.insert(as.end() - 1, 1);
  Tensor bt = panel_packed(b, a.shape(-2)).transpose(-1, -2);
  Shape bts = bt.shape();
  bts.insert(bts.end() - 2, 1);
  Tensor x = a.reshape(as), y = bt.reshape(bts);
  // half types multiply in float32, where their products are exact (two 11-bit significands make at
  // most 22 bits), and accumulate there: one rounding at the end, as cuBLAS does
  DType out = promote(x.dtype(), y.dtype()), acc = acc_dtype(out);
  bool widen = out.is_float() && acc != out;
  Tensor prod_ = widen ? x.cast(acc).mul(y.cast(acc)) : x.mul(y);
  if (!widen) out = prod_.dtype();
  Tensor r = prod_.sum({-1}, false, acc).cast(out);
  if (ndim() == 1) r = r.squeeze(-2);
  if (o.ndim() == 1) r = r.squeeze(-1);
  return r;
}

}  // namespace fg
