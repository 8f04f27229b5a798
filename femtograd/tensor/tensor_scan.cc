// Scans (cumsum, cumprod, cummax, cummin) and sorting (sort, argsort, topk), all lazy.
// Scans follow tinygrad: pad the axis with n-1 identities, view it as n sliding windows and reduce
// each; axes longer than kBlock are split into blocks whose totals are scanned recursively, so the
// work is O(n * kBlock). Sorting ranks every element by counting the elements that go before it
// (stable: ties keep their order), then places each element at its rank: O(n^2) per row, two
// kernels, exact for every dtype.
#include <algorithm>

#include "femtograd/base/error.h"
#include "femtograd/tensor/ops_internal.h"
#include "femtograd/tensor/tensor.h"

namespace fg {
namespace {

constexpr int64_t kBlock = 256;

Tensor id_const(Op op, DType dt, const std::string& dev) {
  return Tensor::const_(ops::reduce_identity_scalar(op, dt), dt, {}, dev);
}

// inclusive scan along the last axis, n <= kBlock: window i holds v[i .. i+n) of the padded axis
Tensor scan_window(const Tensor& x, Op op) {
  int64_t nd = x.ndim(), n = x.shape()[nd - 1], L = 2 * n - 1;
  std::vector<std::pair<int64_t, int64_t>> pad(nd, {0, 0});
  pad[nd - 1] = {n - 1, 0};
  Tensor v = x.pad(pad, ops::reduce_identity_scalar(op, x.dtype()));  // (..., L)
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  Shape s = lead;
  s.push_back(1);
  s.push_back(L);
  Shape e = lead;
  e.push_back(n);
  e.push_back(L);
  Shape flat = lead;
  flat.push_back(n * L);
  Tensor rows = v.reshape(s).expand(e).reshape(flat);
  std::vector<std::pair<int64_t, int64_t>> pad2(nd, {0, 0});
  pad2[nd - 1] = {0, n};
  Shape w = lead;
  w.push_back(n);
  w.push_back(L + 1);
  Tensor win = rows.pad(pad2).reshape(w);  // row i starts at v[i]
  std::vector<std::pair<int64_t, int64_t>> cut;
  for (int64_t a = 0; a < nd + 1; a++) cut.push_back({0, a == nd ? n : win.shape()[a]});
  return win.shrink(cut).reduce(op, {nd}, false);
}

Tensor scan_last(const Tensor& x, Op op) {
  int64_t nd = x.ndim(), n = x.shape()[nd - 1];
  if (n <= kBlock) return scan_window(x, op);
  // blocks of kBlock: scan inside each, then add the scan of the block totals before it
  int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<std::pair<int64_t, int64_t>> pad(nd, {0, 0});
  pad[nd - 1] = {0, nb * kBlock - n};
  Shape bs(x.shape().begin(), x.shape().end() - 1);
  bs.push_back(nb);
  bs.push_back(kBlock);
  Tensor inner = scan_window(x.pad(pad, ops::reduce_identity_scalar(op, x.dtype())).reshape(bs), op);
  std::vector<std::pair<int64_t, int64_t>> last;
  for (int64_t a = 0; a < nd + 1; a++) last.push_back(a == nd ? std::pair<int64_t, int64_t>{kBlock - 1, kBlock} : std::pair<int64_t, int64_t>{0, inner.shape()[a]});
  Tensor totals = inner.shrink(last).squeeze(nd);  // (..., nb)
  Tensor carry = scan_last(totals, op);
  // exclusive: shift right by one block, the identity first
  std::vector<std::pair<int64_t, int64_t>> sh(nd, {0, 0});
  sh[nd - 1] = {1, -1};
  carry = carry.pad(sh, ops::reduce_identity_scalar(op, x.dtype())).unsqueeze(-1);
  Tensor out = Tensor(inner.uop()->alu(op, carry.broadcast_to(inner.shape()).uop()), inner.shape(), inner.device());
  Shape flat(x.shape().begin(), x.shape().end() - 1);
  flat.push_back(nb * kBlock);
  std::vector<std::pair<int64_t, int64_t>> cut;
  for (int64_t a = 0; a < nd; a++) cut.push_back({0, a == nd - 1 ? n : x.shape()[a]});
  return out.reshape(flat).shrink(cut);
}

// scan along any axis in the dtype `acc`, returned as `out`
Tensor scan(const Tensor& t, int64_t axis, Op op, DType acc, DType out, const char* name) {
  if (t.ndim() == 0) return t.cast(out);
  int64_t ax = t.norm_axis(axis, name);
  if (t.shape()[ax] == 0) return t.cast(out);
  Tensor x = ops::materialized(t).cast(acc).transpose(ax, -1);
  return scan_last(x, op).transpose(ax, -1).cast(out);
}

// half types accumulate in float32 like sum()
DType acc_of(DType dt) {
  if (dt.scalar == ScalarType::Float16 || dt.scalar == ScalarType::BFloat16 || dt.is_fp8()) return dtypes::float32;
  return dt;
}

// the order-reversing map min() uses: max of the reversed values, reversed back, is the min
Tensor reverse_order(const Tensor& t) {
  if (t.dtype().is_bool()) return t.logical_not();
  if (t.dtype().is_int()) return t.bitwise_not();
  return t.neg();
}

}  // namespace

Tensor Tensor::cumsum(int64_t axis) const {
  DType out = ops::sum_dtype(dtype());
  return scan(*this, axis, Op::ADD, acc_of(out), out, "cumsum");
}
Tensor Tensor::cumprod(int64_t axis) const {
  DType out = ops::sum_dtype(dtype());
  return scan(*this, axis, Op::MUL, acc_of(out), out, "cumprod");
}
Tensor Tensor::cummax(int64_t axis) const { return scan(*this, axis, Op::MAX, dtype(), dtype(), "cummax"); }
Tensor Tensor::cummin(int64_t axis) const {
  if (ndim() > 0) norm_axis(axis, "cummin");
  return reverse_order(reverse_order(*this).cummax(axis));
}

// ---------------------------------------------------------------- sorting

namespace {
// (values, indices) of the first k ranks along the last axis
std::pair<Tensor, Tensor> sort_last(const Tensor& x, bool descending, int64_t k) {
  int64_t nd = x.ndim(), n = x.shape()[nd - 1];
  const std::string& dev = x.device();
  Tensor xi = x.unsqueeze(-1);  // (..., n_i, 1)
  Tensor xj = x.unsqueeze(-2);  // (..., 1, n_j)
  // a strict order with NaN as the largest value (all NaNs equal)
  auto less = [&](const Tensor& a, const Tensor& b) {
    Tensor l = a.lt(b);
    if (x.dtype().is_float()) l = l.bitwise_or(a.eq(a).bitwise_and(b.ne(b)));
    return l;
  };
  auto same = [&](const Tensor& a, const Tensor& b) {
    Tensor e = a.eq(b);
    if (x.dtype().is_float()) e = e.bitwise_or(a.ne(a).bitwise_and(b.ne(b)));
    return e;
  };
  Tensor ii = ops::iota_along(n, nd - 1, nd + 1, dtypes::int32, dev);  // i along axis -2
  Tensor jj = ops::iota_along(n, nd, nd + 1, dtypes::int32, dev);      // j along axis -1
  // j goes before i: it is smaller (larger when descending), or equal and earlier
  Tensor before = (descending ? less(xi, xj) : less(xj, xi)).bitwise_or(same(xj, xi).bitwise_and(jj.lt(ii)));
  Tensor rank = before.cast(dtypes::int32).reduce(Op::ADD, {nd}, false);  // (..., n)
  // place: out[r] = x[i] where rank[i] == r, for r < k
  Tensor r = ops::iota_along(k, nd - 1, nd + 1, dtypes::int32, dev);  // (..., k, 1)
  Tensor m = rank.unsqueeze(-2).eq(r);                                  // (..., k, n)
  Tensor lowest = Tensor::const_(ops::lowest(x.dtype()), x.dtype(), {}, dev);
  Tensor vals = m.where(xj, lowest).reduce(Op::MAX, {nd}, false);
  Tensor idx = m.where(jj, Tensor::const_(0, dtypes::int32, {}, dev)).reduce(Op::ADD, {nd}, false);
  return {vals, idx.cast(dtypes::int64)};
}
}  // namespace

std::pair<Tensor, Tensor> Tensor::sort(int64_t dim, bool descending) const {
  if (ndim() == 0) return {*this, zeros({}, dtypes::int64, device())};
  int64_t ax = norm_axis(dim, "sort");
  int64_t n = shape()[ax];
  if (n <= 1) return {*this, zeros(shape(), dtypes::int64, device())};
  auto [v, i] = sort_last(ops::materialized(*this).transpose(ax, -1), descending, n);
  return {v.transpose(ax, -1), i.transpose(ax, -1)};
}

Tensor Tensor::argsort(int64_t dim, bool descending) const { return sort(dim, descending).second; }

std::pair<Tensor, Tensor> Tensor::topk(int64_t k, int64_t dim, bool largest) const {
  int64_t ax = ndim() ? norm_axis(dim, "topk") : 0;
  int64_t n = ndim() ? shape()[ax] : 1;
  FG_CHECK(k >= 0 && k <= n, ErrorKind::Value, "topk", "k = ", k, " is out of range for axis ", ax, " of shape ",
           shape_str(shape()), " (size ", n, ")");
  if (ndim() == 0) return {*this, zeros({}, dtypes::int64, device())};
  if (k == 0 || n <= 1) {
    auto b = std::vector<std::pair<int64_t, int64_t>>();
    for (int64_t a = 0; a < ndim(); a++) b.push_back({0, a == ax ? k : shape()[a]});
    Tensor v = shrink(b);
    return {v, zeros(v.shape(), dtypes::int64, device())};
  }
  auto [v, i] = sort_last(ops::materialized(*this).transpose(ax, -1), largest, k);
  return {v.transpose(ax, -1), i.transpose(ax, -1)};
}

}  // namespace fg
