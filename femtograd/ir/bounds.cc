// Range analysis: [vmin, vmax] of every integer and bool node, computed once when it is built.
// Bounds are sound under the dtype's real semantics: when an op's exact result could leave the
// dtype's range (and so wrap), the bounds are the whole dtype range.
#include <algorithm>
#include <limits>

#include "femtograd/ir/uop.h"

namespace fg {
namespace {
using i128 = __int128;

struct Bounds {
  i128 lo, hi;
};

// Clamp exact math bounds to the dtype: if they do not fit, the value may wrap anywhere.
void fit(DType dt, i128 lo, i128 hi, int64_t* vmin, int64_t* vmax) {
  i128 dmin = dt.is_bool() ? 0 : dt.int_min(), dmax = dt.is_bool() ? 1 : dt.int_max();
  if (dt.scalar == ScalarType::UInt64) dmax = std::numeric_limits<int64_t>::max();
  if (lo < dmin || hi > dmax) {
    *vmin = static_cast<int64_t>(dmin), *vmax = static_cast<int64_t>(dmax);
    if (dt.scalar == ScalarType::UInt64 && lo >= 0) *vmin = 0;
    return;
  }
  *vmin = static_cast<int64_t>(lo), *vmax = static_cast<int64_t>(hi);
}

i128 trunc_div(i128 a, i128 b) { return a / b; }  // C++ division truncates toward zero

Bounds corners(i128 a0, i128 a1, i128 b0, i128 b1, i128 (*f)(i128, i128)) {
  i128 v[4] = {f(a0, b0), f(a0, b1), f(a1, b0), f(a1, b1)};
  return {*std::min_element(v, v + 4), *std::max_element(v, v + 4)};
}
}  // namespace

void compute_bounds(Op op, DType dtype, std::span<const UOpRef> src, const Arg& arg, int64_t* vmin,
                    int64_t* vmax) {
  if (dtype.is_ptr() || !(dtype.is_int() || dtype.is_bool())) return;
  i128 dmin = dtype.is_bool() ? 0 : dtype.int_min(), dmax = dtype.is_bool() ? 1 : dtype.int_max();
  *vmin = static_cast<int64_t>(dmin), *vmax = static_cast<int64_t>(dmax);
  auto lo = [&](int i) -> i128 { return src[i]->vmin(); };
  auto hi = [&](int i) -> i128 { return src[i]->vmax(); };
  auto known = [&](int i) { return src[i]->has_bounds(); };
  auto set = [&](i128 l, i128 h) { fit(dtype, l, h, vmin, vmax); };

  switch (op) {
    case Op::CONST:
      if (arg.is_number() && !arg.is_float()) {
        int64_t v = arg.to_int();
        if (dtype.scalar == ScalarType::UInt64 && v < 0) return;  // above int64: keep full range
        // the value the dtype holds: a uint32 CONST of -1 (as x - 1 builds) is 4294967295
        int bits = dtype.scalar == ScalarType::Index ? 64 : dtype.bits();
        if (dtype.is_bool()) {
          v = v != 0;
        } else if (bits < 64) {
          uint64_t m = (uint64_t(1) << bits) - 1, u = static_cast<uint64_t>(v) & m;
          if (!dtype.is_unsigned() && (u >> (bits - 1))) u |= ~m;
          v = static_cast<int64_t>(u);
        }
        *vmin = *vmax = v;
      }
      return;
    case Op::DEFINE_VAR:
      if (std::holds_alternative<VarArg>(arg.value())) set(arg.as_var().min, arg.as_var().max);
      return;  // a malformed variable keeps the dtype's range (the spec verifier rejects it)
    case Op::BIND: if (known(0)) set(lo(0), hi(0)); return;
    case Op::RANGE:
    case Op::SPECIAL:
      if (known(0)) set(0, std::max<i128>(hi(0) - 1, 0));
      return;
    default: break;
  }
  for (size_t i = 0; i < src.size(); i++)
    if (!src[i]->has_bounds() && !(op == Op::WHERE && i == 0) && op != Op::CAST) return;

  switch (op) {
    case Op::ADD: set(lo(0) + lo(1), hi(0) + hi(1)); return;
    case Op::MUL: {
      Bounds b = corners(lo(0), hi(0), lo(1), hi(1), [](i128 a, i128 c) { return a * c; });
      set(b.lo, b.hi);
      return;
    }
    case Op::IDIV: {
      if (lo(1) <= 0 && hi(1) >= 0) return;  // divisor may be zero
      Bounds b = corners(lo(0), hi(0), lo(1), hi(1), trunc_div);
      set(b.lo, b.hi);
      return;
    }
    case Op::MOD: {
      if (lo(1) <= 0 && hi(1) >= 0) return;
      i128 m = std::max(hi(1) < 0 ? -lo(1) : hi(1), lo(1) < 0 ? -lo(1) : lo(1)) - 1;  // |b|-1 at most
      i128 l = lo(0) >= 0 ? 0 : std::max(lo(0), -m), h = hi(0) <= 0 ? 0 : std::min(hi(0), m);
      if (lo(0) >= 0 && hi(0) <= m && lo(1) == hi(1)) l = lo(0);  // x % c is x when 0 <= x < |c|
      set(l, h);
      return;
    }
    case Op::MAX: set(std::max(lo(0), lo(1)), std::max(hi(0), hi(1))); return;
    case Op::CMPLT:
      if (hi(0) < lo(1)) set(1, 1);
      else if (lo(0) >= hi(1)) set(0, 0);
      else set(0, 1);
      return;
    case Op::CMPNE:
    case Op::CMPEQ: {
      bool disjoint = hi(0) < lo(1) || hi(1) < lo(0);
      bool same_const = lo(0) == hi(0) && lo(1) == hi(1) && lo(0) == lo(1);
      int ne = disjoint ? 1 : same_const ? 0 : -1;
      if (ne < 0) set(0, 1);
      else set(op == Op::CMPNE ? ne : 1 - ne, op == Op::CMPNE ? ne : 1 - ne);
      return;
    }
    case Op::WHERE: {
      if (!known(1) || !known(2)) return;
      if (known(0) && lo(0) == 1) set(lo(1), hi(1));
      else if (known(0) && hi(0) == 0) set(lo(2), hi(2));
      else set(std::min(lo(1), lo(2)), std::max(hi(1), hi(2)));
      return;
    }
    case Op::AND:
      if (lo(0) >= 0 && lo(1) >= 0) set(0, std::min(hi(0), hi(1)));
      else if (lo(0) >= 0) set(0, hi(0));
      else if (lo(1) >= 0) set(0, hi(1));
      return;
    case Op::OR:
    case Op::XOR:
      if (lo(0) >= 0 && lo(1) >= 0) {
        i128 m = std::max(hi(0), hi(1)), p = 1;
        while (p <= m) p <<= 1;
        set(op == Op::OR ? std::max(lo(0), lo(1)) : 0, p - 1);
      }
      return;
    case Op::SHL:
      if (lo(1) == hi(1) && lo(1) >= 0 && lo(1) < 63)
        set(lo(0) * (i128(1) << hi(1)), hi(0) * (i128(1) << hi(1)));
      return;
    case Op::SHR:
      if (lo(1) == hi(1) && lo(1) >= 0 && lo(1) < 63 && lo(0) >= 0)
        set(lo(0) >> lo(1), hi(0) >> lo(1));
      return;
    case Op::CAST:
      if (src[0]->has_bounds()) set(src[0]->dtype.is_bool() ? lo(0) : lo(0), hi(0));
      return;
    case Op::TRUNC: set(lo(0), hi(0)); return;
    case Op::MULACC: {
      Bounds b = corners(lo(0), hi(0), lo(1), hi(1), [](i128 a, i128 c) { return a * c; });
      set(b.lo + lo(2), b.hi + hi(2));
      return;
    }
    default: return;
  }
}

}  // namespace fg
