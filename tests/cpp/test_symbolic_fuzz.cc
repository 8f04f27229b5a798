// Fuzzing the symbolic rules: random integer expressions over bounded variables, simplified and
// original, evaluated at random points by an evaluator written here (exact C semantics: ints wrap
// at their width, // and % truncate), must agree everywhere; the simplified tree is never bigger.
// FG_FUZZ_SEED and FG_FUZZ_N override the seed and the number of expressions.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <unordered_map>

#include "femtograd/ir/symbolic.h"

using namespace fg;

namespace {
using i128 = __int128;

struct Var {
  UOpRef node;
  int64_t lo, hi;
};

int bits_of(DType dt) {
  return dt.scalar == ScalarType::Index ? 64 : dt.is_bool() ? 1 : dt.itemsize() * 8;
}

// the value of an exact integer v in a two's complement dtype of `bits` (unsigned: 0..2^bits-1)
int64_t wrap(i128 v, int bits, bool uns = false) {
  if (bits == 1) return v != 0;
  uint64_t u = static_cast<uint64_t>(v);
  if (bits == 64) return static_cast<int64_t>(u);
  uint64_t m = (1ULL << bits) - 1;
  u &= m;
  if (!uns && (u >> (bits - 1))) u |= ~m;
  return static_cast<int64_t>(u);
}

// Evaluates an expression at one point, independently of fold_alu.
class Evaluator {
 public:
  explicit Evaluator(const UOpRef& root) : order_(root->toposort()) {
    for (size_t i = 0; i < order_.size(); i++) index_[order_[i]] = i;
    vals_.resize(order_.size());
  }
  // env: value per variable name; returns false (with a message) on an op it does not know
  bool run(const std::unordered_map<std::string, int64_t>& env, int64_t* out, std::string* err) {
    for (size_t i = 0; i < order_.size(); i++) {
      const UOp* n = order_[i];
      int b = bits_of(n->dtype);
      auto s = [&](int k) -> i128 { return vals_[index_[n->src(k).get()]]; };
      i128 r;
      switch (n->op) {
        case Op::CONST: r = n->arg.is_bool() ? n->arg.as_bool() : n->arg.as_int(); break;
        case Op::DEFINE_VAR: r = env.at(n->arg.as_var().name); break;
        case Op::ADD: r = s(0) + s(1); break;
        case Op::MUL: r = s(0) * s(1); break;
        case Op::IDIV:
        case Op::MOD:
          if (s(1) == 0) {
            *err = "division by zero";
            return false;
          }
          r = n->op == Op::IDIV ? s(0) / s(1) : s(0) % s(1);  // C++ truncates toward zero
          break;
        case Op::MAX: r = s(0) > s(1) ? s(0) : s(1); break;
        case Op::CMPLT: r = s(0) < s(1); break;
        case Op::CMPNE: r = s(0) != s(1); break;
        case Op::CMPEQ: r = s(0) == s(1); break;
        case Op::AND: r = s(0) & s(1); break;
        case Op::OR: r = s(0) | s(1); break;
        case Op::XOR: r = s(0) ^ s(1); break;
        case Op::WHERE: r = s(0) ? s(1) : s(2); break;
        case Op::CAST: r = n->dtype.is_bool() ? s(0) != 0 : s(0); break;
        default:
          *err = std::string("evaluator does not know ") + std::string(op_name(n->op));
          return false;
      }
      vals_[i] = wrap(r, b, n->dtype.is_unsigned());
    }
    *out = vals_.back();
    return true;
  }

 private:
  std::vector<const UOp*> order_;
  std::unordered_map<const UOp*, size_t> index_;
  std::vector<int64_t> vals_;
};

class Gen {
 public:
  Gen(uint64_t seed) : rng_(seed) {}
  int64_t uni(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool coin(int pct) { return uni(0, 99) < pct; }

  void reset(DType dt, int nvars) {
    dt_ = dt;
    vars_.clear();
    bool small = dt.itemsize() == 1;
    for (int i = 0; i < nvars; i++) {
      int64_t lo, hi;
      if (coin(60) || dt.is_unsigned())
        lo = 0, hi = uni(0, small ? 30 : 64);  // index-like: a range [0, n)
      else
        lo = uni(small ? -30 : -100, 10), hi = lo + uni(0, small ? 40 : 150);
      std::string name = std::string(1, static_cast<char>('a' + i)) +
                         std::to_string(lo < 0 ? -lo : lo) + "_" + std::to_string(hi);
      vars_.push_back({UOp::var(name, lo, hi, dt), lo, hi});
    }
  }
  const std::vector<Var>& vars() const { return vars_; }

  UOpRef cnst(int64_t v) { return UOp::cnst_int(dt_, v); }
  int64_t small_const() {
    if (coin(8)) return uni(-100000, 100000) * (coin(30) ? 1000 : 1);  // large: wraps in int32
    return uni(-12, 12);
  }
  int64_t divisor() {
    int64_t d = 0;
    while (d == 0) d = coin(10) ? uni(-1000, 1000) : coin(80) ? uni(1, 16) : uni(-16, -1);
    return d;
  }
  UOpRef leaf() {
    if (coin(70)) return vars_[uni(0, vars_.size() - 1)].node;
    return cnst(small_const());
  }
  // a sum of var*coef terms and a constant, the shape reshapes and strides produce
  UOpRef linear() {
    UOpRef e = cnst(uni(-5, 20));
    int nt = static_cast<int>(uni(1, 3));
    for (int i = 0; i < nt; i++) {
      int64_t c = coin(50) ? int64_t(1) << uni(0, 5) : uni(-8, 16);
      UOpRef t = coin(70) ? vars_[uni(0, vars_.size() - 1)].node : expr(1);
      e = coin(50) ? e + t * c : t * c + e;
    }
    return e;
  }
  UOpRef cmp(int depth) {
    UOpRef a = expr(depth), b = coin(60) ? cnst(uni(-20, 40)) : expr(depth);
    if (coin(50)) std::swap(a, b);
    int k = static_cast<int>(uni(0, 3));
    UOpRef r = k == 0 ? a->lt(b) : k == 1 ? a->ne(b) : k == 2 ? a->eq(b) : a->lt(b)->logical_not();
    if (coin(25)) {
      UOpRef o = expr(depth)->lt(cnst(uni(-10, 40)));
      r = coin(50) ? (r & o) : (r | o);
    }
    return r;
  }
  // a reshape of a contiguous buffer read back: sum over axes of ((lin // stride) % dim) * stride,
  // where lin linearizes the (regrouped, permuted) view over index variables; as lowering produces
  UOpRef reshape() {
    std::vector<int64_t> f;
    int nf = static_cast<int>(uni(2, 4));
    for (int i = 0; i < nf; i++) f.push_back(uni(2, 6));
    auto group = [&] {
      std::vector<int64_t> out;
      for (int64_t x : f) {
        if (!out.empty() && coin(35))
          out.back() *= x;
        else
          out.push_back(x);
      }
      return out;
    };
    std::vector<int64_t> in = group(), view = group();
    if (coin(25)) std::reverse(view.begin(), view.end());
    vars_.clear();
    for (size_t i = 0; i < view.size(); i++) {
      std::string name(1, static_cast<char>('a' + i));
      vars_.push_back({UOp::var(name, 0, view[i] - 1, dt_), 0, view[i] - 1});
    }
    std::shuffle(vars_.begin(), vars_.end(), rng_);  // a permute
    UOpRef lin = cnst(0);
    int64_t st = 1;
    for (size_t i = view.size(); i-- > 0;) lin = lin + vars_[i].node * st, st *= view[i];
    UOpRef idx = cnst(0);
    st = 1;
    for (size_t j = in.size(); j-- > 0;) idx = idx + (idiv(lin, st) % in[j]) * st, st *= in[j];
    return idx;
  }
  // a conv window read: ih = oh*s + kh - p, masked by 0 <= ih < H
  UOpRef conv() {
    int64_t H = uni(3, 12), KH = uni(1, 4), s = uni(1, 2), p = uni(0, 2);
    int64_t OH = std::max<int64_t>(1, (H + 2 * p - KH) / s + 1);
    vars_.clear();
    vars_.push_back({UOp::var("o", 0, OH * OH - 1, dt_), 0, OH * OH - 1});
    vars_.push_back({UOp::var("k", 0, KH - 1, dt_), 0, KH - 1});
    vars_.push_back({UOp::var("q", 0, KH - 1, dt_), 0, KH - 1});
    UOpRef oh = idiv(vars_[0].node, OH), ow = vars_[0].node % OH;
    UOpRef ih = oh * s + vars_[1].node - p, iw = ow * s + vars_[2].node - p;
    UOpRef valid = ih->lt(0)->logical_not() & ih->lt(H) & iw->lt(0)->logical_not() & iw->lt(H);
    return valid->where(ih * H + iw, cnst(0));
  }

  UOpRef expr(int depth) {
    if (depth <= 0 || coin(15)) return leaf();
    switch (uni(0, 13)) {
      case 0:
      case 1: return expr(depth - 1) + expr(depth - 1);
      case 2: return expr(depth - 1) * small_const();
      case 3: return expr(depth - 1) * expr(depth - 2);
      case 4: return idiv(expr(depth - 1), divisor());
      case 5: return expr(depth - 1) % divisor();
      case 6: return expr(depth - 1)->maximum(expr(depth - 1));
      case 7: return cmp(depth - 2)->where(expr(depth - 1), expr(depth - 1));
      case 8: return -expr(depth - 1);
      case 9: {  // delinearize: (lin // c1) % c2 and friends
        UOpRef l = linear();
        int64_t c1 = uni(1, 8), c2 = uni(1, 8);
        switch (uni(0, 4)) {
          case 0: return idiv(l, c1) % c2;
          case 1: return idiv(l % (c1 * c2), c1);
          case 2: return idiv(idiv(l, c1), c2);
          case 3: return idiv(l, c1) * c1 + l % c1;
          default: return (idiv(l, c1) % c2) * c1 + l % c1;
        }
      }
      case 10: return idiv(linear(), divisor());
      case 11: return linear() % divisor();
      case 12: return linear();
      default: return UOp::cnst_int(dt_, 0) + cmp(depth - 1)->where(linear(), cnst(0));
    }
  }

 private:
  std::mt19937_64 rng_;
  DType dt_ = dtypes::index;
  std::vector<Var> vars_;
};

int64_t env_int(const char* name, int64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : dflt;
}
}  // namespace

TEST(SymbolicFuzz, SimplifiedAgreesWithOriginal) {
  const int64_t n_expr = env_int("FG_FUZZ_N", 20000), seed = env_int("FG_FUZZ_SEED", 1234);
  const int points = 8;
  Gen g(static_cast<uint64_t>(seed));
  auto t0 = std::chrono::steady_clock::now();
  int64_t checked_points = 0, failures = 0, smaller = 0, nodes_in = 0, nodes_out = 0;
  for (int64_t i = 0; i < n_expr && failures < 5; i++) {
    // mostly int32 and index; some int8, int16, uint8 and uint32, where wrapping is everywhere
    // (and x-1 builds constants the unsigned dtype holds as 2^bits-1)
    int64_t pick = g.uni(0, 99);
    DType dt = pick < 42   ? dtypes::int32
               : pick < 84 ? dtypes::index
               : pick < 88 ? dtypes::int8
               : pick < 92 ? dtypes::int16
               : pick < 96 ? dtypes::uint8
                           : dtypes::uint32;
    g.reset(dt, static_cast<int>(g.uni(2, 4)));
    // realistic families (they set their own variables) and random trees
    int64_t fam = g.uni(0, 9);
    UOpRef e = fam == 0 ? g.reshape() : fam == 1 ? g.conv() : g.expr(static_cast<int>(g.uni(2, 5)));
    UOpRef s;
    try {
      s = simplify(e);
    } catch (const std::exception& ex) {
      ADD_FAILURE() << "simplify threw on " << e->expr() << ": " << ex.what();
      failures++;
      continue;
    }
    int64_t before = e->tree_size(), after = s->tree_size();
    nodes_in += before, nodes_out += after;
    smaller += after < before;
    if (after > before) {
      ADD_FAILURE() << "simplify grew the tree (" << before << " -> " << after
                    << ")\n  original:   " << e->expr() << "\n  simplified: " << s->expr();
      failures++;
      continue;
    }
    Evaluator ev_e(e), ev_s(s);
    for (int p = 0; p < points; p++) {
      std::unordered_map<std::string, int64_t> env;
      std::string point;
      for (const Var& v : g.vars()) {
        int64_t x = p == 0 ? v.lo : p == 1 ? v.hi : g.uni(v.lo, v.hi);
        env[v.node->arg.as_var().name] = x;
        point += v.node->arg.as_var().name + "=" + std::to_string(x) + " ";
      }
      int64_t a, b;
      std::string err_a, err_b;
      bool ok_a = ev_e.run(env, &a, &err_a), ok_b = ev_s.run(env, &b, &err_b);
      checked_points++;
      if (!ok_a) break;  // the original divides by zero here: any result is allowed
      if (!ok_b || a != b) {
        ADD_FAILURE() << "mismatch in " << dt.name() << " at " << point
                      << "\n  original:   " << e->expr() << " = " << a
                      << "\n  simplified: " << s->expr() << " = "
                      << (ok_b ? std::to_string(b) : err_b);
        failures++;
        break;
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "[ fuzz     ] %lld expressions, %lld points, %.2f s; trees %lld -> %lld nodes (%lld "
      "smaller)\n",
      static_cast<long long>(n_expr), static_cast<long long>(checked_points), secs,
      static_cast<long long>(nodes_in), static_cast<long long>(nodes_out),
      static_cast<long long>(smaller));
  EXPECT_EQ(failures, 0);
}

TEST(SymbolicFuzz, SimplifyIsIdempotent) {
  // a second simplify finds nothing: the rules reach a fixed point and agree on one canonical form
  Gen g(99);
  int bad = 0;
  for (int i = 0; i < 3000 && bad < 3; i++) {
    g.reset(i % 2 ? dtypes::int32 : dtypes::index, 3);
    UOpRef s = simplify(g.expr(4));
    UOpRef s2 = simplify(s);
    if (s2 != s) {
      ADD_FAILURE() << "not a fixed point:\n  " << s->expr() << "\n  " << s2->expr();
      bad++;
    }
  }
}
