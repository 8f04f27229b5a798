// Elementwise ops beyond the core set (activations, erf, inverse trig and hyperbolics, logical
// ops, NaN/inf tests), linear and einsum. Each is written with the core ops, so it fuses and has a
// gradient wherever those do. Transcendentals use the approximations tinygrad uses: erf from
// Abramowitz-Stegun 7.1.26 (|error| <= 1.5e-7), asin from 4.4.46 (|error| <= 2e-8).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>

#include "femtograd/base/error.h"
#include "femtograd/tensor/ops_internal.h"
#include "femtograd/tensor/tensor.h"

namespace fg {
namespace {
Tensor as_float(const Tensor& t) { return t.cast(least_upper_float(t.dtype())); }
Tensor fconst(const Tensor& like, double v) { return Tensor::const_(v, like.dtype(), {}, like.device()); }
Tensor as_bool(const Tensor& t) { return t.dtype().is_bool() ? t : t.ne(Tensor::const_(0, t.dtype(), {}, t.device())); }
// c0 + x*(c1 + x*(c2 + ...)) with coefficients from the highest power down (Horner)
Tensor poly(const Tensor& x, const std::vector<double>& coef_high_first) {
  Tensor r = fconst(x, coef_high_first[0]);
  for (size_t i = 1; i < coef_high_first.size(); i++) r = r.mul(x).add(fconst(x, coef_high_first[i]));
  return r;
}
}  // namespace

// ---------------------------------------------------------------- activations

Tensor Tensor::erf() const {
  Tensor x = as_float(*this);
  Tensor a = x.abs();
  Tensor t = fconst(x, 1.0).div(a.mul(0.3275911).add(1.0));
  Tensor p = poly(t, {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592}).mul(t);
  Tensor y = fconst(x, 1.0).sub(p.mul(a.mul(a).neg().exp()));
  return x.sign().mul(y);
}

Tensor Tensor::gelu() const {
  Tensor x = as_float(*this);
  Tensor inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(std::sqrt(2.0 / std::numbers::pi));
  return x.mul(0.5).mul(inner.tanh().add(1.0));
}
Tensor Tensor::gelu_exact() const {
  Tensor x = as_float(*this);
  return x.mul(0.5).mul(x.mul(1.0 / std::numbers::sqrt2).erf().add(1.0));
}
Tensor Tensor::quick_gelu() const { return as_float(*this).mul(as_float(*this).mul(1.702).sigmoid()); }
Tensor Tensor::silu() const { return as_float(*this).mul(as_float(*this).sigmoid()); }
Tensor Tensor::softplus(double beta) const {
  FG_CHECK(beta != 0, ErrorKind::Value, "softplus", "beta must not be zero");
  // log(1 + exp(bx)) = max(bx, 0) + log(1 + exp(-|bx|)): no overflow for large |bx|
  Tensor bx = as_float(*this).mul(beta);
  return bx.relu().add(bx.abs().neg().exp().add(1.0).log()).mul(1.0 / beta);
}
Tensor Tensor::mish() const { return as_float(*this).mul(softplus().tanh()); }
Tensor Tensor::elu(double alpha) const {
  Tensor x = as_float(*this);
  return x.gt(0.0).where(x, x.expm1().mul(alpha));
}
Tensor Tensor::celu(double alpha) const {
  FG_CHECK(alpha != 0, ErrorKind::Value, "celu", "alpha must not be zero");
  Tensor x = as_float(*this);
  return x.gt(0.0).where(x, x.mul(1.0 / alpha).expm1().mul(alpha));
}
Tensor Tensor::selu() const {
  constexpr double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  return elu(alpha).mul(scale);
}
Tensor Tensor::leaky_relu(double neg_slope) const {
  Tensor x = as_float(*this);
  return x.lt(0.0).where(x.mul(neg_slope), x);
}
Tensor Tensor::relu6() const { return relu().minimum(6); }
Tensor Tensor::hardsigmoid() const { return as_float(*this).add(3.0).relu6().div(6.0); }
Tensor Tensor::hardswish() const { return as_float(*this).mul(hardsigmoid()); }
Tensor Tensor::hardtanh(double lo, double hi) const {
  FG_CHECK(lo <= hi, ErrorKind::Value, "hardtanh", "min (", lo, ") must not exceed max (", hi, ")");
  return as_float(*this).clip(lo, hi);
}
Tensor Tensor::softsign() const { return as_float(*this).div(as_float(*this).abs().add(1.0)); }
Tensor Tensor::logsigmoid() const { return as_float(*this).neg().softplus().neg(); }

// ---------------------------------------------------------------- hyperbolic and inverse trig

Tensor Tensor::sinh() const {
  Tensor x = as_float(*this);
  return x.exp().sub(x.neg().exp()).mul(0.5);
}
Tensor Tensor::cosh() const {
  Tensor x = as_float(*this);
  return x.exp().add(x.neg().exp()).mul(0.5);
}
Tensor Tensor::asin() const {
  Tensor x = as_float(*this);
  Tensor a = x.abs();
  Tensor p = poly(a, {-0.0012624911, 0.0066700901, -0.0170881256, 0.0308918810, -0.0501743046, 0.0889789874,
                      -0.2145988016, 1.5707963050});
  Tensor y = fconst(x, std::numbers::pi / 2).sub(fconst(x, 1.0).sub(a).sqrt().mul(p));
  return x.sign().mul(y);
}
Tensor Tensor::acos() const { return fconst(as_float(*this), std::numbers::pi / 2).sub(asin()); }
Tensor Tensor::atan() const {
  Tensor x = as_float(*this);
  // asin(x / sqrt(1 + x^2)) loses precision near |x| = inf; use pi/2 - atan(1/x) there
  Tensor big = x.abs().gt(1.0);
  Tensor inv = fconst(x, 1.0).div(x);
  Tensor small = x.div(x.mul(x).add(1.0).sqrt()).asin();
  Tensor large = x.sign().mul(std::numbers::pi / 2).sub(inv.div(inv.mul(inv).add(1.0).sqrt()).asin());
  return big.where(large, small);
}
Tensor Tensor::asinh() const {
  Tensor x = as_float(*this);
  Tensor a = x.abs();
  return x.sign().mul(a.add(a.mul(a).add(1.0).sqrt()).log());
}
Tensor Tensor::acosh() const {
  Tensor x = as_float(*this);
  return x.add(x.mul(x).sub(1.0).sqrt()).log();
}
Tensor Tensor::atanh() const {
  Tensor x = as_float(*this);
  return fconst(x, 1.0).add(x).div(fconst(x, 1.0).sub(x)).log().mul(0.5);
}
Tensor Tensor::log10() const { return log2().mul(std::numbers::ln2 / std::numbers::ln10); }
Tensor Tensor::log1p() const {
  // Kahan: log(u) * x / (u - 1) with u = 1 + x cancels the rounding of u
  Tensor x = as_float(*this);
  Tensor u = x.add(1.0);
  Tensor d = u.sub(1.0);
  Tensor r = d.eq(0.0).where(x, u.log().mul(x.div(d)));
  return u.eq(std::numeric_limits<double>::infinity()).where(u, r);
}
Tensor Tensor::expm1() const {
  // Kahan: (u - 1) * x / log(u) with u = exp(x)
  Tensor x = as_float(*this);
  Tensor u = x.exp();
  Tensor d = u.sub(1.0);
  Tensor r = d.mul(x.div(u.log()));
  return u.eq(1.0).where(x, d.eq(-1.0).where(d, u.eq(std::numeric_limits<double>::infinity()).where(u, r)));
}

// ---------------------------------------------------------------- tests and logic

Tensor Tensor::isnan() const {
  if (!dtype().is_float()) return full(shape(), false, dtypes::bool_, device());
  return ne(*this);
}
Tensor Tensor::isinf(bool detect_positive, bool detect_negative) const {
  if (!dtype().is_float() || (!detect_positive && !detect_negative)) return full(shape(), false, dtypes::bool_, device());
  double inf = std::numeric_limits<double>::infinity();
  Tensor pos = eq(inf), neg_ = eq(-inf);
  if (detect_positive && detect_negative) return pos.bitwise_or(neg_);
  return detect_positive ? pos : neg_;
}
Tensor Tensor::isfinite() const {
  if (!dtype().is_float()) return full(shape(), true, dtypes::bool_, device());
  return isnan().bitwise_or(isinf()).logical_not();
}
Tensor Tensor::logical_and(const Tensor& o) const { return as_bool(*this).bitwise_and(as_bool(o)); }
Tensor Tensor::logical_or(const Tensor& o) const { return as_bool(*this).bitwise_or(as_bool(o)); }
Tensor Tensor::logical_xor(const Tensor& o) const { return as_bool(*this).bitwise_xor(as_bool(o)); }

Tensor Tensor::lerp(const Tensor& end, const Tensor& weight) const {
  auto [a, b] = broadcast(*this, end, "lerp");
  FG_CHECK(a.dtype().is_float(), ErrorKind::Type, "lerp", "needs float tensors, got ", a.dtype().name());
  return a.add(weight.cast(a.dtype()).mul(b.sub(a)));
}
Tensor Tensor::lerp(const Tensor& end, double weight) const {
  return lerp(end, Tensor::const_(weight, promote(dtype(), end.dtype()), {}, device()));
}
Tensor Tensor::clip(const Tensor& lo, const Tensor& hi) const { return maximum(lo).minimum(hi); }

Tensor Tensor::copysign(const Tensor& o) const {
  auto [a, b] = broadcast(as_float(*this), as_float(o), "copysign");
  // on the bits: the magnitude of a with the sign bit of b (exact for -0.0 and NaN)
  int bytes = a.dtype().itemsize();
  DType ut = bytes == 8 ? dtypes::uint64 : bytes == 4 ? dtypes::uint32 : bytes == 2 ? dtypes::uint16 : dtypes::uint8;
  uint64_t sign = uint64_t{1} << (8 * bytes - 1);
  Tensor sb = Tensor::const_(static_cast<int64_t>(sign), ut, {}, a.device());
  Tensor mb = Tensor::const_(static_cast<int64_t>(sign - 1), ut, {}, a.device());
  return a.bitcast(ut).bitwise_and(mb).bitwise_or(b.bitcast(ut).bitwise_and(sb)).bitcast(a.dtype());
}

Tensor Tensor::where(const Tensor& a, Scalar b) const { return where(a, a.scalar_like(b)); }
Tensor Tensor::where(Scalar a, const Tensor& b) const { return where(b.scalar_like(a), b); }
Tensor Tensor::where(Scalar a, Scalar b) const {
  Tensor ta = full({}, a, {}, device()), tb = full({}, b, {}, device());
  return where(ta, tb);
}

// ---------------------------------------------------------------- linear and einsum

Tensor Tensor::linear(const Tensor& weight, std::optional<Tensor> bias) const {
  Tensor x = weight.ndim() == 1 ? mul(weight) : matmul(weight);
  return bias ? x.add(*bias) : x;
}

namespace {
// axis labels of one einsum operand: letters, ellipsis axes as kEll + position from the right
constexpr int kEll = 1000;

std::vector<int> parse_operand(const std::string& spec, int64_t ndim, int64_t* ell_dims, const char* what) {
  std::vector<int> labels;
  size_t dots = spec.find("...");
  int letters = 0;
  for (size_t i = 0; i < spec.size(); i++) {
    if (dots != std::string::npos && i >= dots && i < dots + 3) continue;
    char c = spec[i];
    FG_CHECK(std::isalpha(static_cast<unsigned char>(c)), ErrorKind::Value, "einsum", "invalid character '", c,
             "' in ", what, " '", spec, "'");
    letters++;
  }
  FG_CHECK(dots == std::string::npos || spec.find("...", dots + 1) == std::string::npos, ErrorKind::Value, "einsum",
           "more than one ellipsis in ", what, " '", spec, "'");
  int64_t e = ndim - letters;
  if (ndim >= 0) {
    FG_CHECK(dots != std::string::npos ? e >= 0 : e == 0, ErrorKind::Value, "einsum", what, " '", spec, "' names ",
             letters, " axes, the operand has ", ndim);
  }
  *ell_dims = dots == std::string::npos ? 0 : e;
  for (size_t i = 0; i < spec.size(); i++) {
    if (dots != std::string::npos && i == dots) {
      for (int64_t k = e; k-- > 0;) labels.push_back(kEll + static_cast<int>(k));  // counted from the right
      i += 2;
      continue;
    }
    labels.push_back(spec[i]);
  }
  return labels;
}

// the diagonal of axes a and b (a < b, equal sizes): b is removed
Tensor take_diagonal(const Tensor& t, int64_t a, int64_t b) {
  int64_t n = t.shape()[a];
  std::vector<int64_t> order;
  for (int64_t i = 0; i < t.ndim(); i++)
    if (i != a && i != b) order.push_back(i);
  order.push_back(a);
  order.push_back(b);
  Tensor x = t.permute(order);  // (..., n, n)
  Shape lead(x.shape().begin(), x.shape().end() - 2);
  Shape f = lead;
  f.push_back(n * n);
  std::vector<std::pair<int64_t, int64_t>> pad(lead.size() + 1, {0, 0});
  pad.back() = {0, n};
  Shape w = lead;
  w.push_back(n);
  w.push_back(n + 1);
  Tensor d = x.reshape(f).pad(pad).reshape(w);  // element (i, 0) is x[i][i]
  std::vector<std::pair<int64_t, int64_t>> cut;
  for (int64_t i = 0; i < d.ndim(); i++) cut.push_back({0, i == d.ndim() - 1 ? 1 : d.shape()[i]});
  d = d.shrink(cut).reshape(Shape(x.shape().begin(), x.shape().end() - 1));  // (..., n): axis a last
  // put axis a back where it was (it is now last among the kept ones)
  std::vector<int64_t> back;
  int64_t m = d.ndim();
  for (int64_t i = 0, k = 0; i < m; i++) back.push_back(i == a ? m - 1 : k++);
  return d.permute(back);
}
}  // namespace

Tensor Tensor::einsum(const std::string& formula, const std::vector<Tensor>& operands) {
  std::string f;
  for (char c : formula)
    if (c != ' ') f += c;
  FG_CHECK(!operands.empty(), ErrorKind::Value, "einsum", "needs at least one operand");
  size_t arrow = f.find("->");
  std::string lhs = arrow == std::string::npos ? f : f.substr(0, arrow);
  std::vector<std::string> specs;
  for (size_t b = 0;;) {
    size_t c = lhs.find(',', b);
    specs.push_back(lhs.substr(b, c == std::string::npos ? std::string::npos : c - b));
    if (c == std::string::npos) break;
    b = c + 1;
  }
  FG_CHECK(specs.size() == operands.size(), ErrorKind::Value, "einsum", "formula '", formula, "' has ", specs.size(),
           " operands, ", operands.size(), " were given");
  // labels per operand, diagonals taken for repeated labels
  std::vector<Tensor> xs;
  std::vector<std::vector<int>> labs;
  std::map<int, int64_t> size;
  std::map<int, int> count;
  int64_t max_ell = 0;
  for (size_t k = 0; k < operands.size(); k++) {
    ops::check_device(operands[0], operands[k], "einsum");
    int64_t ell;
    std::vector<int> l = parse_operand(specs[k], operands[k].ndim(), &ell, "operand");
    max_ell = std::max(max_ell, ell);
    for (int lab : l) count[lab]++;  // counted before diagonals: "ii" sums the diagonal
    Tensor x = operands[k];
    for (size_t i = 0; i < l.size(); i++)
      for (size_t j = i + 1; j < l.size(); j++)
        if (l[i] == l[j]) {
          FG_CHECK(x.shape()[i] == x.shape()[j], ErrorKind::Value, "einsum", "label '", static_cast<char>(l[i]),
                   "' repeats in operand ", k, " over axes of sizes ", x.shape()[i], " and ", x.shape()[j]);
          x = take_diagonal(x, static_cast<int64_t>(i), static_cast<int64_t>(j));
          l.erase(l.begin() + static_cast<long>(j));
          j--;
        }
    for (size_t i = 0; i < l.size(); i++) {
      int64_t s = x.shape()[i];
      auto it = size.find(l[i]);
      if (it == size.end()) {
        size[l[i]] = s;
      } else if (l[i] >= kEll) {  // ellipsis axes broadcast
        FG_CHECK(s == 1 || it->second == 1 || s == it->second, ErrorKind::Value, "einsum", "an ellipsis axis has "
                 "size ", it->second, " in one operand and ", s, " in operand ", k);
        if (it->second == 1) it->second = s;
      } else {
        FG_CHECK(it->second == s, ErrorKind::Value, "einsum", "label '", static_cast<char>(l[i]), "' has size ",
                 it->second, " in one operand and ", s, " in operand ", k);
      }
    }
    xs.push_back(x);
    labs.push_back(l);
  }
  // output labels
  std::vector<int> out;
  if (arrow != std::string::npos) {
    int64_t ell;
    out = parse_operand(f.substr(arrow + 2), -1, &ell, "output");
    if (f.find("...", arrow) != std::string::npos) {
      // expand the output's ellipsis to every ellipsis axis
      std::vector<int> o2;
      for (int l : out)
        if (l < kEll) o2.push_back(l);
      size_t pos = f.substr(arrow + 2).find("...");
      size_t letters_before = 0;
      for (size_t i = 0; i < pos; i++) letters_before++;
      std::vector<int> ells;
      for (int64_t k = max_ell; k-- > 0;) ells.push_back(kEll + static_cast<int>(k));
      o2.insert(o2.begin() + static_cast<long>(letters_before), ells.begin(), ells.end());
      out = o2;
    }
    for (size_t i = 0; i < out.size(); i++) {
      FG_CHECK(out[i] >= kEll || size.count(out[i]), ErrorKind::Value, "einsum", "output label '",
               static_cast<char>(out[i]), "' does not appear in any operand");
      FG_CHECK(std::count(out.begin(), out.end(), out[i]) == 1, ErrorKind::Value, "einsum", "output label '",
               static_cast<char>(out[i]), "' repeats");
    }
  } else {
    // implicit: ellipsis axes, then the letters used once, in alphabetical order
    for (int64_t k = max_ell; k-- > 0;) out.push_back(kEll + static_cast<int>(k));
    for (auto [l, c] : count)
      if (l < kEll && c == 1) out.push_back(l);
  }
  // every label: output first, then the summed ones
  std::vector<int> all = out;
  for (auto [l, s] : size)
    if (std::find(all.begin(), all.end(), l) == all.end()) all.push_back(l);
  Shape full;
  for (int l : all) full.push_back(size[l]);
  DType dt = xs[0].dtype();
  for (const Tensor& x : xs) dt = promote(dt, x.dtype());
  Tensor prod_;
  for (size_t k = 0; k < xs.size(); k++) {
    // permute to `all` order, size 1 for absent labels, then broadcast
    std::vector<int64_t> order;
    Shape s;
    for (int l : all) {
      auto it = std::find(labs[k].begin(), labs[k].end(), l);
      if (it != labs[k].end()) {
        order.push_back(it - labs[k].begin());
        s.push_back(xs[k].shape()[it - labs[k].begin()]);
      } else {
        s.push_back(1);
      }
    }
    Tensor x = xs[k].cast(dt).permute(order).reshape(s).broadcast_to(full);
    prod_ = prod_.defined() ? prod_.mul(x) : x;
  }
  std::vector<int64_t> summed;
  for (size_t i = out.size(); i < all.size(); i++) summed.push_back(static_cast<int64_t>(i));
  if (summed.empty()) return prod_;
  return prod_.sum(summed, false, dt.is_float() ? std::optional<DType>() : std::optional<DType>(dt)).cast(dt);
}

}  // namespace fg
