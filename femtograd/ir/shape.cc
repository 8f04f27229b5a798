#include "femtograd/ir/shape.h"

#include "femtograd/base/error.h"

namespace fg {

int64_t prod(std::span<const int64_t> s) {
  int64_t p = 1;
  for (int64_t v : s) p *= v;
  return p;
}

Shape infer_shape(const UOp& n, std::span<const Shape* const> srcs) {
  auto in = [&](size_t i) -> const Shape& { return *srcs[i]; };
  switch (n.op) {
    case Op::BUFFER: case Op::ARANGE: return {n.arg.as_int()};
    case Op::DEFINE_GLOBAL: return {n.dtype.size};
    case Op::BUFFER_VIEW: return {n.arg.as_ints()[0]};
    case Op::CONST: case Op::DEFINE_VAR: case Op::BIND: return {};
    case Op::RESHAPE: {
      const auto& s = n.arg.as_ints();
      FG_CHECK(prod(s) == prod(in(0)), ErrorKind::Value, "reshape", "cannot reshape ",
               shape_str(in(0)), " to ", shape_str(s));
      return s;
    }
    case Op::EXPAND: {
      const auto& s = n.arg.as_ints();
      FG_CHECK(s.size() == in(0).size(), ErrorKind::Value, "expand", "cannot expand ",
               shape_str(in(0)), " to ", shape_str(s), ": ranks differ");
      for (size_t i = 0; i < s.size(); i++)
        FG_CHECK(in(0)[i] == s[i] || in(0)[i] == 1, ErrorKind::Value, "expand", "cannot expand ",
                 shape_str(in(0)), " to ", shape_str(s), ": axis ", i, " is neither equal nor 1");
      return s;
    }
    case Op::PERMUTE: {
      const auto& p = n.arg.as_ints();
      FG_CHECK(p.size() == in(0).size(), ErrorKind::Value, "permute", "order ", shape_str(p),
               " does not fit shape ", shape_str(in(0)));
      Shape out(p.size());
      std::vector<bool> seen(p.size(), false);
      for (size_t i = 0; i < p.size(); i++) {
        FG_CHECK(p[i] >= 0 && p[i] < (int64_t)p.size() && !seen[p[i]], ErrorKind::Value, "permute",
                 "order ", shape_str(p), " is not a permutation of ", p.size(), " axes");
        seen[p[i]] = true;
        out[i] = in(0)[p[i]];
      }
      return out;
    }
    case Op::PAD: {
      const auto& a = n.arg.as_ints();
      FG_CHECK(a.size() == 2 * in(0).size(), ErrorKind::Value, "pad", "padding of ", a.size() / 2,
               " axes for shape ", shape_str(in(0)));
      Shape out = in(0);
      for (size_t i = 0; i < out.size(); i++) {
        FG_CHECK(a[2 * i] >= 0 && a[2 * i + 1] >= 0, ErrorKind::Value, "pad",
                 "negative padding on axis ", i, " (use shrink)");
        out[i] += a[2 * i] + a[2 * i + 1];
      }
      return out;
    }
    case Op::SHRINK: {
      const auto& a = n.arg.as_ints();
      FG_CHECK(a.size() == 2 * in(0).size(), ErrorKind::Value, "shrink", "bounds of ", a.size() / 2,
               " axes for shape ", shape_str(in(0)));
      Shape out(in(0).size());
      for (size_t i = 0; i < out.size(); i++) {
        FG_CHECK(0 <= a[2 * i] && a[2 * i] <= a[2 * i + 1] && a[2 * i + 1] <= in(0)[i],
                 ErrorKind::Value, "shrink", "bounds (", a[2 * i], ", ", a[2 * i + 1],
                 ") out of range for axis ", i, " of ", shape_str(in(0)));
        out[i] = a[2 * i + 1] - a[2 * i];
      }
      return out;
    }
    case Op::FLIP: {
      FG_CHECK(n.arg.as_ints().size() == in(0).size(), ErrorKind::Value, "flip",
               "flags for ", n.arg.as_ints().size(), " axes on shape ", shape_str(in(0)));
      return in(0);
    }
    case Op::REDUCE_AXIS: {
      Shape out = in(0);
      for (int64_t ax : n.arg.as_reduce().axes) {
        FG_CHECK(ax >= 0 && ax < (int64_t)out.size(), ErrorKind::Value, "reduce", "axis ", ax,
                 " out of range for shape ", shape_str(in(0)));
        out[ax] = 1;
      }
      return out;
    }
    case Op::WHERE: case Op::MULACC: {
      // the condition may be the only source with a shape at kernel level; take the largest rank
      const Shape* best = srcs[0];
      for (const Shape* s : srcs) if (s->size() > best->size()) best = s;
      return *best;
    }
    case Op::ASSIGN: return in(1);
    default:
      if (srcs.empty()) return {};
      return in(0);
  }
}

Shape ShapeCache::operator()(const UOp* root) {
  if (const Shape* s = memo_.find(root)) return *s;
  // sources first, descending only into nodes not yet known: asking for each node of a large
  // graph in turn stays linear in the graph's size
  std::vector<std::pair<const UOp*, bool>> stack{{root, false}};
  std::vector<const Shape*> ss;
  while (!stack.empty()) {
    auto [n, ready] = stack.back();
    stack.pop_back();
    if (memo_.find(n)) continue;
    if (!ready) {
      stack.push_back({n, true});
      for (size_t i = n->nsrc(); i-- > 0;)
        if (!memo_.find(n->src(i).get())) stack.push_back({n->src(i).get(), false});
      continue;
    }
    ss.clear();
    for (const UOpRef& s : n->src()) ss.push_back(memo_.find(s.get()));
    // sources that are not tensor-level (UNIQUE, DEVICE) have shape (); infer_shape ignores them
    Shape sh = infer_shape(*n, ss);
    memo_.put(n, std::move(sh));
    keep_.push_back(n->ref());
  }
  return *memo_.find(root);
}

}  // namespace fg
