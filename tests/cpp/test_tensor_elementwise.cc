// Elementwise ops of fg::Tensor against naive references: every binary op on every dtype it
// supports (broadcast, non-contiguous and negative-stride operands), comparisons, the float unary
// ops and activations on every float dtype, special values (NaN, inf, -0.0, halves), casts and
// bitcasts between dtypes, type promotion and Python-style scalars.
// Results of one dtype are stacked into one tensor so each dtype costs one kernel per group.
#include <cstring>
#include <random>
#include <numbers>

#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;

namespace {

// (3, 4, 5) broadcast from a (3, 1, 5) transposed view and a (4, 5) flipped view
struct Operands {
  Arr<double> a, b;  // the views, as the tensors see them
  Tensor ta, tb;
};
Operands make_operands(DType d, double lo, double hi, double blo, double bhi, uint64_t seed) {
  Operands o;
  Arr<double> abase = rand_arr({5, 3}, d, lo, hi, seed), bbase = rand_arr({4, 5}, d, blo, bhi, seed + 1);
  o.a = abase.transpose(0, 1).reshape({3, 1, 5});
  o.b = bbase.flip(1);
  o.ta = to_tensor(abase, d).T().unsqueeze(1);
  o.tb = to_tensor(bbase, d).flip({1});
  return o;
}


// ---- integer reference semantics (values held as int64, wrapped to the dtype)
int64_t ref_idiv(int64_t a, int64_t b) { return b == 0 ? 0 : b == -1 ? -static_cast<int64_t>(static_cast<uint64_t>(a)) : a / b; }
int64_t ref_mod(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

TEST(TensorElementwise, BinaryArithmeticEveryDtype) {
  std::vector<Tensor> outs;
  std::vector<Stacked> groups;
  std::vector<std::string> labels;
  for (DType d : all_dtypes()) {
    bool is_f = d.is_float(), is_b = d.is_bool(), is_u = d.is_unsigned();
    Operands o = make_operands(d, -50, 50, -50, 50, 100 + d.itemsize());
    if (!is_f && !is_b) {
      // include zero divisors and -1
      (*o.b.data)[0] = 0;
      (*o.b.data)[1] = is_u ? 1 : -1;
      Arr<double> bbase = o.b.flip(1);
      o.tb = to_tensor(bbase, d).flip({1});
    }
    Stacked s;
    Tol tol = tol_for(d);
    auto ew = [&](auto f) { return zip(o.a, o.b, f); };
    if (is_f) {
      auto rd = [&](double v) { return round_to(d, v); };
      s.add("add", o.ta + o.tb, ew([&](double x, double y) { return rd(x + y); }), tol);
      s.add("sub", o.ta - o.tb, ew([&](double x, double y) { return rd(x - y); }), tol);
      s.add("mul", o.ta * o.tb, ew([&](double x, double y) { return rd(x * y); }), tol);
      s.add("div", o.ta / o.tb, ew([&](double x, double y) { return rd(x / y); }), tol);
      s.add("maximum", o.ta.maximum(o.tb), ew([](double x, double y) { return std::max(x, y); }), tol);
      s.add("minimum", o.ta.minimum(o.tb), ew([](double x, double y) { return std::min(x, y); }), tol);
      // each step rounds to the dtype like the kernel does, so floor sees the same quotient
      s.add("mod", o.ta % o.tb, ew([&](double x, double y) { return rd(x - rd(std::floor(rd(x / y)) * y)); }), tol);
      s.add("pow", o.ta.abs().pow(o.tb.mul(0.05)), ew([](double x, double y) { return std::pow(std::fabs(x), y * 0.05); }),
            scaled(tol, 10));
    } else if (is_b) {
      s.add("add", o.ta + o.tb, ew([](double x, double y) { return double(x || y); }), tol);
      s.add("mul", o.ta * o.tb, ew([](double x, double y) { return double(x && y); }), tol);
      s.add("maximum", o.ta.maximum(o.tb), ew([](double x, double y) { return std::max(x, y); }), tol);
      s.add("minimum", o.ta.minimum(o.tb), ew([](double x, double y) { return std::min(x, y); }), tol);
      s.add("and", o.ta & o.tb, ew([](double x, double y) { return double(x && y); }), tol);
      s.add("or", o.ta | o.tb, ew([](double x, double y) { return double(x || y); }), tol);
      s.add("xor", o.ta ^ o.tb, ew([](double x, double y) { return double(bool(x) != bool(y)); }), tol);
      s.add("not", (~o.ta).expand({3, 4, 5}), o.a.map([](double x) { return double(!x); }).expand({3, 4, 5}), tol);
    } else {
      auto w = [&](int64_t v) {
        int64_t r = wrap(d, v);
        return d == dt::uint64 ? static_cast<double>(static_cast<uint64_t>(r)) : static_cast<double>(r);
      };
      auto I = [](double v) { return static_cast<int64_t>(v); };
      auto U = [](double v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); };
      s.add("add", o.ta + o.tb, ew([&](double x, double y) { return w(static_cast<int64_t>(U(x) + U(y))); }), tol);
      s.add("sub", o.ta - o.tb, ew([&](double x, double y) { return w(static_cast<int64_t>(U(x) - U(y))); }), tol);
      s.add("mul", o.ta * o.tb, ew([&](double x, double y) { return w(static_cast<int64_t>(U(x) * U(y))); }), tol);
      s.add("maximum", o.ta.maximum(o.tb), ew([](double x, double y) { return std::max(x, y); }), tol);
      s.add("minimum", o.ta.minimum(o.tb), ew([](double x, double y) { return std::min(x, y); }), tol);
      s.add("idiv", o.ta.idiv(o.tb), ew([&](double x, double y) { return w(ref_idiv(I(x), I(y))); }), tol);
      s.add("mod", o.ta % o.tb, ew([&](double x, double y) { return w(ref_mod(I(x), I(y))); }), tol);
      s.add("and", o.ta & o.tb, ew([&](double x, double y) { return w(I(x) & I(y)); }), tol);
      s.add("or", o.ta | o.tb, ew([&](double x, double y) { return w(I(x) | I(y)); }), tol);
      s.add("xor", o.ta ^ o.tb, ew([&](double x, double y) { return w(I(x) ^ I(y)); }), tol);
      s.add("neg", (-o.ta).expand({3, 4, 5}), o.a.map([&](double x) { return w(static_cast<int64_t>(0 - U(x))); }).expand({3, 4, 5}), tol);
      s.add("not", (~o.tb).expand({3, 4, 5}), o.b.map([&](double x) { return w(~I(x)); }).expand({3, 4, 5}), tol);
      // shifts by 0 .. bits-1, the amounts from b
      int bits = d.itemsize() * 8;
      Tensor sh = o.tb.abs() % (bits - 1);
      auto amount = [&](double y) { return std::llabs(I(y)) % (bits - 1); };
      s.add("lshift", o.ta << sh, ew([&](double x, double y) { return w(static_cast<int64_t>(U(x) << amount(y))); }), tol);
      s.add("rshift", o.ta >> sh, ew([&](double x, double y) { return w(I(x) >> amount(y)); }), tol);
      s.add("lshift_scalar", (o.ta << 1).expand({3, 4, 5}), o.a.map([&](double x) { return w(static_cast<int64_t>(U(x) << 1)); }).expand({3, 4, 5}), tol);
      s.add("abs", o.tb.abs().expand({3, 4, 5}), o.b.map([&](double x) { return w(std::llabs(I(x))); }).expand({3, 4, 5}), tol);
      s.add("sign", o.tb.sign().expand({3, 4, 5}), o.b.map([](double x) { return double((x > 0) - (x < 0)); }).expand({3, 4, 5}), tol);
    }
    Stacked cmp;
    Tol exact{0, 0};
    cmp.add("lt", o.ta.lt(o.tb), ew([](double x, double y) { return double(x < y); }), exact);
    cmp.add("le", o.ta.le(o.tb), ew([](double x, double y) { return double(x <= y); }), exact);
    cmp.add("gt", o.ta.gt(o.tb), ew([](double x, double y) { return double(x > y); }), exact);
    cmp.add("ge", o.ta.ge(o.tb), ew([](double x, double y) { return double(x >= y); }), exact);
    cmp.add("eq", o.ta.eq(o.ta.flip({0})).expand({3, 4, 5}), zip(o.a, o.a.flip(0), [](double x, double y) { return double(x == y); }).expand({3, 4, 5}), exact);
    cmp.add("ne", o.ta.ne(o.tb), ew([](double x, double y) { return double(x != y); }), exact);
    cmp.add("where", o.ta.gt(o.tb).where(o.ta.cast(dt::bool_), o.tb.lt(o.ta)),
            ew([](double x, double y) { return x > y ? double(x != 0) : double(y < x); }), exact);
    outs.push_back(s.stacked());
    groups.push_back(s);
    labels.push_back(std::string("arith ") + d.name());
    outs.push_back(cmp.stacked());
    groups.push_back(cmp);
    labels.push_back(std::string("compare ") + d.name());
  }
  realize_all(outs);
  for (size_t g = 0; g < outs.size(); g++) check_stacked(outs[g], groups[g], labels[g]);
}

namespace {
struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> f;
  std::function<double(double)> ref;
  double tol_scale;  // multiples of the dtype's tolerance
  double abs_floor = 0;  // the approximation's own error (erf: 1.5e-7, asin: 2e-8), for float64
};
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0); }
double round_half_even(double x) { return std::nearbyint(x); }
}  // namespace

TEST(TensorElementwise, UnaryFloatEveryFloatDtype) {
  const double pi = std::numbers::pi;
  // domain -> cases; inputs are a (7, 11) transposed view
  struct Group {
    double lo, hi;
    std::vector<UnaryCase> cases;
  };
  std::vector<Group> groups = {
      {-5, 5,
       {{"neg", [](const Tensor& x) { return -x; }, [](double x) { return -x; }, 1},
        {"exp", [](const Tensor& x) { return x.exp(); }, [](double x) { return std::exp(x); }, 4},
        {"exp2", [](const Tensor& x) { return x.exp2(); }, [](double x) { return std::exp2(x); }, 2},
        {"sin", [](const Tensor& x) { return x.sin(); }, [](double x) { return std::sin(x); }, 2},
        {"cos", [](const Tensor& x) { return x.cos(); }, [](double x) { return std::cos(x); }, 4},
        {"relu", [](const Tensor& x) { return x.relu(); }, [](double x) { return std::max(x, 0.0); }, 1},
        {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }, sigmoid, 2},
        {"tanh", [](const Tensor& x) { return x.tanh(); }, [](double x) { return std::tanh(x); }, 4},
        {"abs", [](const Tensor& x) { return x.abs(); }, [](double x) { return std::fabs(x); }, 1},
        {"sign", [](const Tensor& x) { return x.sign(); }, [](double x) { return double((x > 0) - (x < 0)); }, 1},
        {"trunc", [](const Tensor& x) { return x.trunc(); }, [](double x) { return std::trunc(x); }, 1},
        {"floor", [](const Tensor& x) { return x.floor(); }, [](double x) { return std::floor(x); }, 1},
        {"ceil", [](const Tensor& x) { return x.ceil(); }, [](double x) { return std::ceil(x); }, 1},
        {"round", [](const Tensor& x) { return x.mul(2).round(); }, [](double x) { return round_half_even(x * 2); }, 1},
        {"square", [](const Tensor& x) { return x.square(); }, [](double x) { return x * x; }, 1},
        {"erf", [](const Tensor& x) { return x.erf(); }, [](double x) { return std::erf(x); }, 20, 3e-7},
        {"gelu", [](const Tensor& x) { return x.gelu(); },
         [pi](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x))); }, 10},
        {"gelu_exact", [](const Tensor& x) { return x.gelu_exact(); },
         [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, 20, 1e-6},
        {"quick_gelu", [](const Tensor& x) { return x.quick_gelu(); }, [](double x) { return x * sigmoid(1.702 * x); }, 4},
        {"silu", [](const Tensor& x) { return x.silu(); }, [](double x) { return x * sigmoid(x); }, 4},
        {"softplus", [](const Tensor& x) { return x.softplus(); }, softplus, 4},
        {"softplus_b2", [](const Tensor& x) { return x.softplus(2); }, [](double x) { return softplus(2 * x) / 2; }, 4},
        {"mish", [](const Tensor& x) { return x.mish(); }, [](double x) { return x * std::tanh(softplus(x)); }, 10},
        {"elu", [](const Tensor& x) { return x.elu(0.7); }, [](double x) { return x > 0 ? x : 0.7 * std::expm1(x); }, 4},
        {"celu", [](const Tensor& x) { return x.celu(1.3); }, [](double x) { return x > 0 ? x : 1.3 * std::expm1(x / 1.3); }, 4},
        {"selu", [](const Tensor& x) { return x.selu(); },
         [](double x) { return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * std::expm1(x)); }, 4},
        {"leaky_relu", [](const Tensor& x) { return x.leaky_relu(0.2); }, [](double x) { return x < 0 ? 0.2 * x : x; }, 1},
        {"relu6", [](const Tensor& x) { return x.mul(2).relu6(); }, [](double x) { return std::clamp(2 * x, 0.0, 6.0); }, 1},
        {"hardsigmoid", [](const Tensor& x) { return x.hardsigmoid(); }, [](double x) { return std::clamp(x + 3, 0.0, 6.0) / 6; }, 2},
        {"hardswish", [](const Tensor& x) { return x.hardswish(); }, [](double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; }, 2},
        {"hardtanh", [](const Tensor& x) { return x.hardtanh(-2, 1.5); }, [](double x) { return std::clamp(x, -2.0, 1.5); }, 1},
        {"softsign", [](const Tensor& x) { return x.softsign(); }, [](double x) { return x / (1 + std::fabs(x)); }, 2},
        {"logsigmoid", [](const Tensor& x) { return x.logsigmoid(); }, [](double x) { return -softplus(-x); }, 4},
        {"sinh", [](const Tensor& x) { return x.sinh(); }, [](double x) { return std::sinh(x); }, 4},
        {"cosh", [](const Tensor& x) { return x.cosh(); }, [](double x) { return std::cosh(x); }, 4},
        {"atan", [](const Tensor& x) { return x.atan(); }, [](double x) { return std::atan(x); }, 4, 1e-7},
        {"asinh", [](const Tensor& x) { return x.asinh(); }, [](double x) { return std::asinh(x); }, 4},
        {"expm1", [](const Tensor& x) { return x.mul(0.01).expm1(); }, [](double x) { return std::expm1(0.01 * x); }, 4},
        {"log1p", [](const Tensor& x) { return x.mul(0.01).log1p(); }, [](double x) { return std::log1p(0.01 * x); }, 4},
        {"clip", [](const Tensor& x) { return x.clip(-1.5, 2); }, [](double x) { return std::clamp(x, -1.5, 2.0); }, 1},
        {"clamp_lo", [](const Tensor& x) { return x.clamp(0.5, std::nullopt); }, [](double x) { return std::max(x, 0.5); }, 1},
        {"lerp", [](const Tensor& x) { return x.lerp(x.mul(x), 0.25); }, [](double x) { return x + 0.25 * (x * x - x); }, 4},
        {"copysign", [](const Tensor& x) { return x.add(7).copysign(x); }, [](double x) { return std::copysign(x + 7, x); }, 2},
        {"rsub", [](const Tensor& x) { return 2.5 - x; }, [](double x) { return 2.5 - x; }, 1},
        {"rdiv", [](const Tensor& x) { return 1.0 / x.add(10); }, [](double x) { return 1.0 / (x + 10); }, 2}}},
      {0.01, 10,
       {{"reciprocal", [](const Tensor& x) { return x.reciprocal(); }, [](double x) { return 1 / x; }, 1},
        {"sqrt", [](const Tensor& x) { return x.sqrt(); }, [](double x) { return std::sqrt(x); }, 1},
        {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }, [](double x) { return 1 / std::sqrt(x); }, 2},
        {"log", [](const Tensor& x) { return x.log(); }, [](double x) { return std::log(x); }, 4},
        {"log2", [](const Tensor& x) { return x.log2(); }, [](double x) { return std::log2(x); }, 2},
        {"log10", [](const Tensor& x) { return x.log10(); }, [](double x) { return std::log10(x); }, 4},
        {"acosh", [](const Tensor& x) { return x.add(1).acosh(); }, [](double x) { return std::acosh(x + 1); }, 20},
        {"pow", [](const Tensor& x) { return x.pow(1.7); }, [](double x) { return std::pow(x, 1.7); }, 4}}},
      {-0.99, 0.99,
       {{"asin", [](const Tensor& x) { return x.asin(); }, [](double x) { return std::asin(x); }, 20, 1e-7},
        {"acos", [](const Tensor& x) { return x.acos(); }, [](double x) { return std::acos(x); }, 20, 1e-7},
        {"atanh", [](const Tensor& x) { return x.atanh(); }, [](double x) { return std::atanh(x); }, 20},
        {"tan", [](const Tensor& x) { return x.mul(1.5).tan(); }, [](double x) { return std::tan(1.5 * x); }, 20}}},
  };
  std::vector<Tensor> outs;
  std::vector<Stacked> stacks;
  for (DType d : float_dtypes()) {
    for (size_t g = 0; g < groups.size(); g++) {
      Arr<double> base = rand_arr({11, 7}, d, groups[g].lo, groups[g].hi, 200 + g);
      Arr<double> av = base.transpose(0, 1);
      Tensor x = to_tensor(base, d).T();
      Stacked s;
      // half types compute each op in float and round, so composed ops drift more
      double drift = d == dt::float16 || d == dt::bfloat16 ? 4 : 1;
      for (const UnaryCase& c : groups[g].cases) {
        Tensor r = c.f(x);
        if (r.dtype() != d) ADD_FAILURE() << c.name << " on " << d.name() << " gives " << r.dtype().name();
        Tol t = scaled(tol_for(d), c.tol_scale * drift);
        t.atol = std::max(t.atol, c.abs_floor);
        s.add(c.name, r, av.map(c.ref), t);
      }
      outs.push_back(s.stacked());
      stacks.push_back(s);
    }
  }
  realize_all(outs);
  for (size_t k = 0; k < outs.size(); k++) check_stacked(outs[k], stacks[k], "unary");
}

// ints and bools go through the default float for float-only ops, like PyTorch
TEST(TensorElementwise, UnaryOnIntsAndBools) {
  Tensor i = Tensor::from_vector<int32_t>({-3, 0, 4, 9}, {4});
  Tensor b = Tensor::from_vector<bool>({true, false, true, true}, {4});
  std::vector<Tensor> outs{i.sqrt(), i.exp(), i.sigmoid(), b.log2(), i.abs(), i.neg(), b.logical_not(), i.logical_not(),
                           i.reciprocal(), i.floor(), i.div(Tensor::from_vector<int32_t>({2, 2, 3, 4}, {4}))};
  DType want[] = {dt::float32, dt::float32, dt::float32, dt::float32, dt::int32, dt::int32,
                  dt::bool_,   dt::bool_,   dt::float32, dt::int32,   dt::float32};
  std::vector<std::vector<double>> vals{{NAN, 0, 2, 3},
                                        {std::exp(-3.0), 1, std::exp(4.0), std::exp(9.0)},
                                        {sigmoid(-3), 0.5, sigmoid(4), sigmoid(9)},
                                        {0, -INFINITY, 0, 0},
                                        {3, 0, 4, 9},
                                        {3, 0, -4, -9},
                                        {0, 1, 0, 0},
                                        {0, 1, 0, 0},
                                        {-1.0 / 3, INFINITY, 0.25, 1.0 / 9},
                                        {-3, 0, 4, 9},
                                        {-1.5, 0, 4.0 / 3, 2.25}};
  Stacked st;
  for (size_t k = 0; k < outs.size(); k++) {
    EXPECT_EQ(outs[k].dtype(), want[k]) << "case " << k;
    st.add("case " + std::to_string(k), outs[k].cast(dt::float64), Arr<double>({4}, vals[k]), {1e-6, 3e-6});
  }
  Tensor all = st.stacked();
  all.realize();
  check_stacked(all, st, "ints and bools");
}

TEST(TensorElementwise, SpecialValues) {
  const float inf = INFINITY, nan = NAN;
  std::vector<float> v{nan, inf, -inf, 0.0f, -0.0f, 1, -1, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.7f, -3.7f, 1e-30f, 100};
  Tensor x = Tensor::from_vector<float>(v, {16});
  Tensor zero = Tensor::zeros({16});
  std::vector<Tensor> outs{x.maximum(zero),  zero.maximum(x), x.minimum(zero), zero.minimum(x), x.sign(),
                           x.round(),         x.floor(),       x.ceil(),        x.trunc(),       x.exp(),
                           x.sigmoid(),       x.tanh(),        x.erf(),         x.softplus(),    x.relu(),
                           x.abs(),           x.log(),         x.sqrt(),        x.isnan().float_(),
                           x.isinf().float_(), x.isinf(true, false).float_(), x.isfinite().float_(),
                           x.clip(-1, 1),     x.gelu(),        x.silu(),        x.atan(),        x.expm1(),
                           x.log1p(),         x.copysign(zero.sub(1))};
  auto ref = [&](std::function<double(double)> f) {
    std::vector<double> r;
    for (float a : v) r.push_back(round_to(dt::float32, f(a)));
    return Arr<double>({16}, r);
  };
  auto mx = [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); };
  auto mn = [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); };
  std::vector<Arr<double>> refs{
      ref([&](double a) { return mx(a, 0); }), ref([&](double a) { return mx(0, a); }), ref([&](double a) { return mn(a, 0); }),
      ref([&](double a) { return mn(0, a); }), ref([](double a) { return std::isnan(a) ? a : double((a > 0) - (a < 0)); }),
      ref([](double a) { return std::nearbyint(a); }), ref([](double a) { return std::floor(a); }),
      ref([](double a) { return std::ceil(a); }), ref([](double a) { return std::trunc(a); }),
      ref([](double a) { return std::exp(a); }), ref([](double a) { return 1 / (1 + std::exp(-a)); }),
      ref([](double a) { return std::tanh(a); }), ref([](double a) { return std::erf(a); }),
      ref([](double a) { return std::isinf(a) && a > 0 ? a : softplus(a); }), ref([&](double a) { return mx(a, 0); }),
      ref([](double a) { return std::fabs(a); }), ref([](double a) { return std::log(a); }),
      ref([](double a) { return std::sqrt(a); }), ref([](double a) { return double(std::isnan(a)); }),
      ref([](double a) { return double(std::isinf(a)); }), ref([](double a) { return double(std::isinf(a) && a > 0); }),
      ref([](double a) { return double(std::isfinite(a)); }), ref([&](double a) { return mn(mx(a, -1), 1); }),
      ref([](double a) { return std::isinf(a) ? (a > 0 ? a : NAN) : 0.5 * a * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (a + 0.044715 * a * a * a))); }),
      ref([](double a) { return std::isinf(a) ? (a > 0 ? a : NAN) : a / (1 + std::exp(-a)); }),
      ref([](double a) { return std::atan(a); }), ref([](double a) { return std::expm1(a); }),
      ref([](double a) { return std::log1p(a); }), ref([](double a) { return -std::fabs(a); })};
  const char* names[] = {"max(x,0)", "max(0,x)", "min(x,0)", "min(0,x)", "sign", "round", "floor", "ceil", "trunc",
                         "exp", "sigmoid", "tanh", "erf", "softplus", "relu", "abs", "log", "sqrt", "isnan", "isinf",
                         "isposinf", "isfinite", "clip", "gelu", "silu", "atan", "expm1", "log1p", "copysign"};
  Stacked st;
  for (size_t k = 0; k < outs.size(); k++) st.add(names[k], outs[k], refs[k], {2e-6, 2e-6});
  // the sign of zero survives: copysign(-0.0 -> -|x|) and floor(-0.0) are -0.0
  st.add("signbit", x.copysign(zero.sub(1)).bitcast(dt::int32).lt(0).float_(), ref([](double) { return 1.0; }), {0, 0});
  Tensor all = st.stacked();
  all.realize();
  check_stacked(all, st, "special values");
}

TEST(TensorElementwise, CastsBetweenEveryDtype) {
  std::vector<DType> ds = all_dtypes();
  std::vector<Tensor> outs;
  std::vector<Stacked> stacks;
  for (DType src : ds) {
    // values every target holds: [-100, 100] (floats with a fraction); unsigned targets get |x|
    Arr<double> base = rand_arr({6, 5}, src, -100, 100, 300 + static_cast<int>(src.scalar));
    Arr<double> absb = base.map([&](double x) { return round_to(src, std::fabs(x)); });
    Tensor x = to_tensor(base, src).T(), xa = to_tensor(absb, src).T();
    Arr<double> av = base.transpose(0, 1), aav = absb.transpose(0, 1);
    Stacked s;
    for (DType to : ds) {
      bool use_abs = src.is_float() && to.is_unsigned();
      const Arr<double>& in = use_abs ? aav : av;
      Arr<double> r = in.map([&](double v) {
        if (to.is_bool()) return double(v != 0);
        if (to.is_float()) return round_to(to, v);
        int64_t w = wrap(to, static_cast<int64_t>(std::trunc(v)));
        return to == dt::uint64 ? static_cast<double>(static_cast<uint64_t>(w)) : static_cast<double>(w);
      });
      s.add(std::string("to ") + to.name(), (use_abs ? xa : x).cast(to).cast(dt::float64), r,
            to.is_float() ? tol_for(to) : Tol{0, 0});
    }
    outs.push_back(s.stacked());
    stacks.push_back(s);
  }
  realize_all(outs);
  for (size_t k = 0; k < outs.size(); k++) check_stacked(outs[k], stacks[k], std::string("cast from ") + ds[k].name());
}

TEST(TensorElementwise, HalfTypesRoundInVectorKernels) {
  // 1024 contiguous floats make SIMD kernels on the CPU, whose half-type lanes are floats: a cast to
  // float16/bfloat16 and every op on them must still round each lane, exactly as the real type does
  std::vector<float> av(1024), bv(1024);
  std::mt19937 g(5);
  std::uniform_real_distribution<float> d(-3, 3);
  for (size_t i = 0; i < av.size(); i++) av[i] = d(g), bv[i] = d(g);
  Tensor a = Tensor::from_vector(av, {1024}), b = Tensor::from_vector(bv, {1024});
  for (DType h : {dt::float16, dt::bfloat16}) {
    std::vector<float> cast = a.cast(h).cast(dt::float32).to_vector<float>();
    std::vector<float> mul = a.cast(h).mul(b.cast(h)).cast(dt::float32).to_vector<float>();
    for (size_t i = 0; i < av.size(); i++) {
      double ra = round_to(h, av[i]), rb = round_to(h, bv[i]);
      ASSERT_EQ(cast[i], static_cast<float>(ra)) << h.name() << " cast [" << i << "]";
      ASSERT_EQ(mul[i], static_cast<float>(round_to(h, ra * rb))) << h.name() << " mul [" << i << "]";
    }
  }
}

TEST(TensorElementwise, Bitcasts) {
  std::vector<float> f{1.0f, -2.5f, 0.0f, -0.0f, INFINITY, 3.14159f};
  Tensor tf = Tensor::from_vector<float>(f, {6});
  std::vector<int16_t> h{0x3C00, -0x4000 /* 0xC000 = -2 */, 0x7BFF, 0x0001};
  Tensor th = Tensor::from_vector<int16_t>(h, {4});
  std::vector<int8_t> i8{-1, -128, 127, 0};
  std::vector<Tensor> outs{tf.bitcast(dt::int32), tf.bitcast(dt::uint32).bitcast(dt::float32).add(1),
                           th.bitcast(dt::float16).cast(dt::float32), th.bitcast(dt::bfloat16).cast(dt::float32),
                           Tensor::from_vector<int8_t>(i8, {4}).bitcast(dt::uint8),
                           Tensor::from_vector<double>({1.5, -0.0}, {2}).bitcast(dt::int64)};
  realize_all(outs);
  std::vector<int32_t> bits = outs[0].to_vector<int32_t>();
  for (size_t i = 0; i < f.size(); i++) {
    int32_t want;
    std::memcpy(&want, &f[i], 4);
    EXPECT_EQ(bits[i], want) << i;
  }
  std::vector<float> rt = outs[1].to_vector<float>();
  for (size_t i = 0; i < f.size(); i++) EXPECT_EQ(rt[i], f[i] + 1) << i;
  std::vector<float> hf = outs[2].to_vector<float>();
  EXPECT_EQ(hf[0], 1.0f);
  EXPECT_EQ(hf[1], -2.0f);
  EXPECT_EQ(hf[2], 65504.0f);
  EXPECT_EQ(hf[3], std::ldexp(1.0f, -24));
  std::vector<float> bf = outs[3].to_vector<float>();
  for (size_t i = 0; i < h.size(); i++) {
    uint32_t u = static_cast<uint32_t>(static_cast<uint16_t>(h[i])) << 16;
    float want;
    std::memcpy(&want, &u, 4);
    EXPECT_EQ(bf[i], want) << i;
  }
  EXPECT_EQ(outs[4].to_vector<int64_t>(), (std::vector<int64_t>{255, 128, 127, 0}));
  std::vector<int64_t> d = outs[5].to_vector<int64_t>();
  EXPECT_EQ(d[0], 0x3FF8000000000000LL);
  EXPECT_EQ(d[1], std::numeric_limits<int64_t>::min());
}

// result dtypes follow PyTorch (no kernel runs: dtypes are known lazily)
TEST(TensorElementwise, PromotionAndScalars) {
  auto z = [](DType d) { return Tensor::zeros({2}, d); };
  struct P {
    DType a, b, want;
  };
  std::vector<P> pairs{{dt::int8, dt::uint8, dt::int16},      {dt::uint8, dt::int32, dt::int32},
                       {dt::int32, dt::float16, dt::float16}, {dt::float16, dt::bfloat16, dt::float32},
                       {dt::bool_, dt::int8, dt::int8},       {dt::int64, dt::float32, dt::float32},
                       {dt::bool_, dt::float64, dt::float64}, {dt::uint16, dt::int16, dt::int32},
                       {dt::uint32, dt::int32, dt::int64},    {dt::float32, dt::float64, dt::float64}};
  for (const P& p : pairs) {
    EXPECT_EQ((z(p.a) + z(p.b)).dtype(), p.want) << p.a.name() << " + " << p.b.name();
    EXPECT_EQ((z(p.b) * z(p.a)).dtype(), p.want) << p.b.name() << " * " << p.a.name();
  }
  // Python scalars: an int keeps an int tensor's dtype, a float makes ints float, bools take ints
  EXPECT_EQ((z(dt::int32) * 2).dtype(), dt::int32);
  EXPECT_EQ((z(dt::uint8) + 1).dtype(), dt::uint8);
  EXPECT_EQ((z(dt::int32) * 2.5).dtype(), dt::float32);
  EXPECT_EQ((z(dt::float16) * 2.5).dtype(), dt::float16);
  EXPECT_EQ((z(dt::bool_) + 1).dtype(), dt::int64);
  EXPECT_EQ((z(dt::int8) / 2).dtype(), dt::float32);
  EXPECT_EQ(z(dt::int8).lt(1.5).dtype(), dt::bool_);
  EXPECT_EQ(z(dt::bool_).where(1, 2.5).dtype(), dt::float32);
  EXPECT_EQ(z(dt::bool_).where(z(dt::int16), 3).dtype(), dt::int16);
  // values of scalar forms on both sides
  Tensor t = Tensor::from_vector<int32_t>({7, -7, 3}, {3});
  std::vector<Tensor> outs{t * 2, 10 - t, t.idiv(2), t % 3, t & 6, t | 8, t ^ 1, t >> 1, t.pow(2),
                           t.maximum(0), t.minimum(1), t.clip(-5, 5), 1.5 * t, t.eq(3).float_(),
                           t.gt(0).where(t, 0), t.lt(0).where(-1, t)};
  std::vector<std::vector<double>> want{{14, -14, 6}, {3, 17, 7},   {3, -3, 1},       {1, 2, 0},
                                        {6, 0, 2},    {15, -7, 11}, {6, -8, 2},       {3, -4, 1},
                                        {49, 49, 9},  {7, 0, 3},    {1, -7, 1},       {5, -5, 3},
                                        {10.5, -10.5, 4.5},         {0, 0, 1},        {7, 0, 3},
                                        {7, -1, 3}};
  EXPECT_EQ(outs[0].dtype(), dt::int32);
  EXPECT_EQ(outs[12].dtype(), dt::float32);
  Stacked st;
  for (size_t k = 0; k < outs.size(); k++)
    st.add("case " + std::to_string(k), outs[k].cast(dt::float64), Arr<double>({3}, want[k]), {0, 0});
  Tensor all = st.stacked();
  all.realize();
  check_stacked(all, st, "scalars");
}

// logical ops on mixed dtypes, where with three-way broadcast, zero-size operands
TEST(TensorElementwise, LogicalWhereZeroSize) {
  Arr<double> a = rand_arr({3, 1}, dt::int32, -2, 2, 400), b = rand_arr({1, 4}, dt::float32, -1, 1, 401);
  Arr<double> c = rand_arr({4}, dt::bool_, 0, 1, 402);
  Tensor ta = to_tensor(a, dt::int32), tb = to_tensor(b, dt::float32), tc = to_tensor(c, dt::bool_);
  std::vector<Tensor> outs{ta.logical_and(tb), ta.logical_or(tc), tb.logical_xor(tc).expand({3, 4}), tc.where(ta, tb),
                           ta.gt(0).where(tb, 9.5)};
  realize_all(outs);
  auto three = [&](auto f) {
    Arr<double> r({3, 4});
    for_each_index(r.shape, [&](const std::vector<int64_t>& i) { r.at(i) = f(a.at({i[0], 0}), b.at({0, i[1]}), c.at({i[1]})); });
    return r;
  };
  EXPECT_TRUE(matches(outs[0], three([](double x, double y, double) { return double(x != 0 && y != 0); })));
  EXPECT_TRUE(matches(outs[1], three([](double x, double, double z) { return double(x != 0 || z != 0); })));
  EXPECT_TRUE(matches(outs[2], three([](double, double y, double z) { return double((y != 0) != (z != 0)); })));
  EXPECT_EQ(outs[3].dtype(), dt::float32);
  EXPECT_TRUE(matches(outs[3], three([](double x, double y, double z) { return z ? x : y; })));
  EXPECT_TRUE(matches(outs[4], three([](double x, double y, double) { return x > 0 ? y : 9.5; })));
  int64_t k0 = kernels_run();
  Tensor e = Tensor::zeros({0, 3}) + Tensor::ones({1, 3});
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_TRUE(e.exp().to_vector<float>().empty());
  EXPECT_EQ(kernels_run(), k0);
}
