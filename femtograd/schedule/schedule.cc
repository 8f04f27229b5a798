#include "femtograd/schedule/schedule.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <queue>
#include <unordered_map>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/ptr_map.h"
#include "femtograd/ir/metadata.h"

namespace fg {
namespace {

std::atomic<int64_t> g_unique{0};

bool is_leaf(const UOp* n) {
  return n->op == Op::BUFFER || n->op == Op::DEFINE_VAR || n->op == Op::BIND ||
         (n->op == Op::CONST && n->nsrc() > 0) || n->realized();
}

// nodes reachable from roots, sources first, not descending into leaves
std::vector<const UOp*> tensor_toposort(const std::vector<UOpRef>& roots) {
  std::vector<const UOp*> order;
  PtrMap<uint8_t> state;  // 1: children pushed, 2: emitted
  std::vector<std::pair<const UOp*, bool>> stack;
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) stack.push_back({it->get(), false});
  while (!stack.empty()) {
    auto [n, expanded] = stack.back();
    stack.pop_back();
    uint8_t* st = state.find(n);
    if (expanded) {
      if (*st != 2) { *st = 2; order.push_back(n); }
      continue;
    }
    if (st) continue;
    state.put(n, 1);
    stack.push_back({n, true});
    if (is_leaf(n)) continue;
    for (size_t i = n->nsrc(); i-- > 0;)
      if (!state.find(n->src(i).get())) stack.push_back({n->src(i).get(), false});
  }
  return order;
}

bool expands(const UOp* n, ShapeCache& shapes) {
  if (n->op != Op::EXPAND) return false;
  Shape in = shapes(n->src(0).get());
  const auto& out = n->arg.as_ints();
  for (size_t i = 0; i < out.size(); i++)
    if (in[i] != out[i]) return true;
  return false;
}

// Visits every node reachable from root once, without recursion. visit(n) says what to do next:
// Walk::Into (visit n's sources), Walk::Skip (not its sources) or Walk::Stop (end the walk).
enum class Walk { Into, Skip, Stop };
template <class F>
void walk(const UOp* root, F&& visit) {
  std::vector<const UOp*> stack{root};
  PtrMap<uint8_t> seen;
  while (!stack.empty()) {
    const UOp* n = stack.back();
    stack.pop_back();
    if (seen.find(n)) continue;
    seen.put(n, 1);
    Walk w = visit(n);
    if (w == Walk::Stop) return;
    if (w == Walk::Into)
      for (const UOpRef& x : n->src()) stack.push_back(x.get());
  }
}

struct Scheduler {
  ShapeCache shapes;
  PtrMap<UOpRef> stored;  // stored node -> its output BUFFER (null until made)
  std::vector<const UOp*> stored_order;

  void store(const UOp* n) {
    if (stored.find(n) || is_leaf(n)) return;
    stored.put(n, UOpRef());
  }
  bool is_stored(const UOp* n) { return stored.find(n) != nullptr; }

  // does n's kernel-local subgraph (stopping at leaves and stored nodes) hold a reduce?
  bool holds_reduce(const UOp* root) {
    bool found = false;
    walk(root, [&](const UOp* n) {
      if (n != root && (is_leaf(n) || is_stored(n))) return Walk::Skip;
      found = n->op == Op::REDUCE_AXIS;
      return found ? Walk::Stop : Walk::Into;
    });
    return found;
  }

  // Is recomputing s per broadcast element costly? It reads three or more inputs or runs a dozen
  // ops (a batchnorm-and-relu chain broadcast over conv windows would run once per window).
  bool costly(const UOp* root) {
    int inputs = 0, ops = 0;
    walk(root, [&](const UOp* n) {
      if (is_leaf(n) || (n != root && is_stored(n))) {
        inputs += n->op != Op::CONST;
        return Walk::Skip;
      }
      ops += is_alu(n->op);
      return Walk::Into;
    });
    return inputs >= 3 || ops >= 12;
  }

  // Row fusion. An expand that broadcasts a reduced value back over the trailing axes of the
  // value's consumers (softmax's max and sum, layernorm's mean and variance) need not be stored:
  // in the consumer's kernel the reduce depends only on the outer (row) loops, so it runs once per
  // row before the row's loop opens (linearize hoists it), and the row is read again from cache
  // rather than written and read back from memory. It must be read only through elementwise ops
  // of the expand's shape up to a kernel's output, or by a reduce over exactly the broadcast axes
  // (logsumexp's sum): any movement in between could put a broadcast axis outside a row loop and
  // the reduce would run once per element.
  PtrMap<std::vector<const UOp*>> parents;  // built on the first row_local call
  PtrMap<uint8_t> row_fused;                // EXPAND nodes read in place
  std::vector<const UOp*> roots;
  const std::vector<const UOp*>* topo = nullptr;

  const std::vector<const UOp*>* parents_of(const UOp* n) {
    if (parents.size() == 0)
      for (const UOp* m : *topo)
        if (!is_leaf(m))
          for (const UOpRef& x : m->src()) {
            if (auto* p = parents.find(x.get())) p->push_back(m);
            else parents.put(x.get(), {m});
          }
    return parents.find(n);
  }

  bool row_local(const UOp* expand, int64_t max_row) {
    Shape out = shapes(expand), in = shapes(expand->src(0).get());
    std::vector<int64_t> axes;  // the broadcast axes
    int64_t row = 1;
    for (size_t i = 0; i < out.size(); i++)
      if (in[i] == 1 && out[i] > 1) axes.push_back(static_cast<int64_t>(i)), row *= out[i];
    // rows up to 8x longer fuse when there are many (256+): a kernel's parallelism is its rows (a
    // language model's log-softmax over its vocabulary), a few long rows would leave cores idle
    int64_t rows = row ? prod(out) / row : 0;
    if (axes.empty() || (row > max_row && (row > 8 * max_row || rows < 256))) return false;
    for (size_t i = axes[0]; i < out.size(); i++)  // trailing: nothing but size-1 axes between
      if (out[i] > 1 && std::find(axes.begin(), axes.end(), int64_t(i)) == axes.end()) return false;
    std::vector<const UOp*> stack{expand};
    PtrMap<uint8_t> seen;
    while (!stack.empty()) {
      const UOp* m = stack.back();
      stack.pop_back();
      if (std::find(roots.begin(), roots.end(), m) != roots.end()) continue;  // a kernel's output
      const std::vector<const UOp*>* ps = parents_of(m);
      if (!ps) return false;
      for (const UOp* p : *ps) {
        if (seen.find(p)) continue;
        seen.put(p, 1);
        if (p->op == Op::CONTIGUOUS || p->op == Op::ASSIGN) continue;  // stored: the kernel's output
        if (p->op == Op::REDUCE_AXIS) {
          std::vector<int64_t> red;
          for (int64_t a : p->arg.as_reduce().axes)
            if (shapes(p->src(0).get())[a] > 1) red.push_back(a);
          std::sort(red.begin(), red.end());
          if (red != axes) return false;
          continue;  // the row is reduced: whatever reads the result sees no broadcast axis
        }
        if (!(is_alu(p->op) || p->op == Op::CAST) || shapes(p) != out) return false;
        stack.push_back(p);
      }
    }
    return true;
  }

  // the value a stored node's kernel computes
  static const UOp* stored_value(const UOp* n) {
    if (n->op == Op::CONTIGUOUS) return n->src(0).get();
    if (n->op == Op::ASSIGN) return n->src(1).get();
    return n;
  }
};

// Walks through RESHAPEs to the BUFFER an ASSIGN writes into.
UOpRef assign_target_buffer(const UOp* target) {
  const UOp* t = target;
  while (t->op == Op::RESHAPE) t = t->src(0).get();
  if (t->op == Op::BUFFER) return t->ref();
  if (UOpRef r = t->realized()) return r;
  fail(ErrorKind::Value, "assign", "the target must be a realized tensor, got ", t->line());
}

// A large reduce with few outputs runs in two kernels, so the first can use every core: split a
// reduced axis into (k, n/k), reduce n/k into k partial results (stored), then reduce those.
UOpRef split_large_reduce(const UOp* n, ShapeCache& shapes) {
  const ReduceArg& ra = n->arg.as_reduce();
  Shape in = shapes(n->src(0).get()), out = shapes(n);
  int64_t nin = prod(in), nout = prod(out);
  if (nout >= 32 || nout == 0 || nin / nout < 65536) return nullptr;
  for (int64_t d : ra.axes) {
    for (int64_t k : {256, 128, 64, 32, 16, 8}) {
      if (in[d] % k != 0 || in[d] / k < 16 || nin / nout / k < 4096) continue;
      Shape split = in;
      split[d] = in[d] / k;
      split.insert(split.begin() + d, k);
      std::vector<int64_t> inner;  // every reduced axis but the k partial sums
      for (int64_t a : ra.axes) inner.push_back(a < d ? a : a + 1);
      UOpRef x = UOp::make(Op::RESHAPE, n->dtype, {n->src(0)}, Arg(split));
      UOpRef part = UOp::make(Op::REDUCE_AXIS, n->dtype, {x}, Arg(ReduceArg{ra.op, inner}));
      UOpRef stored = UOp::make(Op::CONTIGUOUS, n->dtype, {part});
      UOpRef total = UOp::make(Op::REDUCE_AXIS, n->dtype, {stored}, Arg(ReduceArg{ra.op, {d}}));
      return UOp::make(Op::RESHAPE, n->dtype, {total}, Arg(out));
    }
  }
  return nullptr;
}

// The graph the scheduler works on: the roots' graph with large reduces split (split_large_reduce)
// and custom-gradient markers dropped (CUSTOM_GRAD(value, inputs...) is value: its inputs matter to
// autograd only). Rewritten sources first, no recursion; `replaced` maps each original node the
// rewrite changed to its replacement, so what the schedule stores can be attached to both.
struct SchedulingGraph {
  std::vector<UOpRef> roots;
  std::vector<std::pair<UOpRef, UOpRef>> replaced;  // (original, replacement)
};

SchedulingGraph prepare_graph(const std::vector<UOpRef>& user_roots, ShapeCache& shapes) {
  PtrMap<UOpRef> done;
  SchedulingGraph g;
  for (const UOp* n : tensor_toposort(user_roots)) {
    UOpRef r = n->ref();
    if (!is_leaf(n)) {
      std::vector<UOpRef> srcs;
      bool changed = false;
      for (const UOpRef& s : n->src()) {
        UOpRef* m = done.find(s.get());
        srcs.push_back(m ? *m : s);
        changed |= srcs.back().get() != s.get();
      }
      if (n->op == Op::CUSTOM_GRAD) r = srcs[0];
      else if (changed) r = n->replace_src(srcs);
      if (r->op == Op::REDUCE_AXIS)
        if (UOpRef sp = split_large_reduce(r.get(), shapes)) r = sp;
    }
    if (r.get() != n) {
      // a rebuilt node keeps its op's name (a dropped marker's value has its own)
      if (n->op != Op::CUSTOM_GRAD) set_metadata(r.get(), metadata_of(n));
      g.replaced.emplace_back(n->ref(), r);
    }
    done.put(n, r);
  }
  for (const UOpRef& r : user_roots) g.roots.push_back(*done.find(r.get()));
  return g;
}

// What a kernel reads: stored values of this schedule (it runs after their kernels) and buffers as
// they were before the schedule ran (leaves).
struct ItemReads {
  std::vector<const UOp*> stored, old_bufs;
};

// Orders the items so that every item runs after the items whose values it reads, and every read
// of a buffer's old value runs before the ASSIGN that overwrites the buffer (a write-after-read
// hazard: the loss of a training step reads the weights that the optimizer's update writes in the
// same schedule). Stable: among ready items, the earliest in the topological order goes first.
void order_items(std::vector<ScheduleItem>& items, const std::vector<ItemReads>& reads, PtrMap<size_t>& item_of) {
  size_t n = items.size();
  std::vector<std::vector<size_t>> users(n);
  std::vector<size_t> waiting(n, 0);
  auto edge = [&](size_t before, size_t after) {
    if (before == after) return;
    users[before].push_back(after);
    waiting[after]++;
  };
  PtrMap<size_t> writer;  // target BUFFER -> the ASSIGN item writing it
  for (size_t i = 0; i < n; i++) {
    for (const UOp* m : reads[i].stored)
      if (size_t* p = item_of.find(m)) edge(*p, i);
    const UOp* out = items[i].outputs.empty() ? nullptr : items[i].outputs[0].get();
    if (out && out->op == Op::ASSIGN) writer.put(items[i].bufs[0].get(), i);
  }
  for (size_t i = 0; i < n; i++)
    for (const UOp* b : reads[i].old_bufs)
      if (size_t* w = writer.find(b)) edge(i, *w);
  std::vector<size_t> order;
  std::vector<bool> done(n, false);
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;  // earliest first
  for (size_t i = 0; i < n; i++)
    if (waiting[i] == 0) ready.push(i);
  while (!ready.empty()) {
    size_t pick = ready.top();
    ready.pop();
    done[pick] = true;
    order.push_back(pick);
    for (size_t u : users[pick])
      if (--waiting[u] == 0) ready.push(u);
  }
  if (order.size() < n) {  // a cycle: name a kernel on it
    size_t stuck = 0;
    while (done[stuck]) stuck++;
    fail(ErrorKind::Value, "realize", "a kernel reads both the old value of a buffer and a value computed after an "
         "assign overwrites it; realize the old value first (", items[stuck].outputs[0]->line(), ")");
  }
  std::vector<ScheduleItem> sorted;
  sorted.reserve(n);
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
}
}  // namespace

UOpRef new_buffer(const std::string& device, DType dtype, int64_t size) {
  UOpRef uniq = UOp::make(Op::UNIQUE, dtypes::void_, {}, Arg(g_unique.fetch_add(1)));
  UOpRef dev = UOp::make(Op::DEVICE, dtypes::void_, {}, Arg(device));
  return UOp::make(Op::BUFFER, dtype.scalar_type(), {uniq, dev}, Arg(size));
}

std::string device_of(const UOp* root) {
  std::string dev;
  walk(root, [&](const UOp* n) {
    if (n->op == Op::DEVICE) dev = n->arg.as_str();
    else if (n->op == Op::COPY) dev = n->src(1)->arg.as_str();
    else if (UOpRef r = n->realized()) dev = device_of(r.get());  // a BUFFER: one level
    return dev.empty() ? Walk::Into : Walk::Stop;
  });
  return dev;
}

Schedule create_schedule(const std::vector<UOpRef>& user_roots) {
  Scheduler sc;
  SchedulingGraph graph = prepare_graph(user_roots, sc.shapes);  // one shape cache for both walks
  const std::vector<UOpRef>& roots = graph.roots;
  std::vector<const UOp*> topo = tensor_toposort(roots);

  // 1. what must be stored
  PtrMap<int> users;
  for (const UOp* n : topo)
    if (!is_leaf(n))
      for (const UOpRef& s : n->src()) {
        int* u = users.find(s.get());
        if (u) (*u)++; else users.put(s.get(), 1);
      }
  sc.topo = &topo;
  const int64_t max_row = getenv_int(Flag::FUSE_ROWS);
  // read only by elementwise ops of its own shape: every read uses the same index, so a kernel
  // computes it once however many of them read it
  auto read_elementwise = [&](const UOp* n) {
    for (const UOp* p : *sc.parents_of(n))
      if (!(is_alu(p->op) || p->op == Op::CAST) || sc.shapes(p) != sc.shapes(n)) return false;
    return true;
  };
  for (const UOpRef& r : roots) {
    const UOp* n = r.get();
    while (is_movement(n->op) && !is_leaf(n)) n = n->src(0).get();  // a view needs no kernel
    sc.store(n);
    sc.roots.push_back(n);
  }
  for (const UOp* n : topo) {
    if (is_leaf(n)) continue;
    if (n->op == Op::CONTIGUOUS || n->op == Op::ASSIGN) sc.store(n);
    if (n->op == Op::COPY) { sc.store(n); sc.store(n->src(0).get()); }
    if (n->op == Op::REDUCE_AXIS && users.find(n) && *users.find(n) > 1 && !read_elementwise(n)) sc.store(n);
    // a reduce over another reduce's values (a max pool over a conv in eval mode) stores the inner
    // one: one kernel per reduce keeps each loop nest simple enough to tile and vectorize (a row
    // reduce read through a row-fused expand is the exception: layernorm's variance of x - mean)
    if (n->op == Op::REDUCE_AXIS)
      walk(n->src(0).get(), [&](const UOp* m) {
        if (is_leaf(m) || sc.is_stored(m) || sc.row_fused.find(m)) return Walk::Skip;
        if (m->op != Op::REDUCE_AXIS) return Walk::Into;
        sc.store(m);
        return Walk::Skip;
      });
    if (expands(n, sc.shapes)) {
      const UOp* s = n->src(0).get();
      while (is_movement(s->op) && !is_leaf(s)) s = s->src(0).get();
      int64_t factor = prod(sc.shapes(n)) / std::max<int64_t>(1, prod(sc.shapes(n->src(0).get())));
      bool reduce = !is_leaf(s) && !sc.is_stored(s) && sc.holds_reduce(s);
      if (reduce && max_row > 0 && sc.row_local(n, max_row)) sc.row_fused.put(n, 1);
      else if (!is_leaf(s) && !sc.is_stored(s) && (reduce || (factor >= 4 && sc.costly(s)))) sc.store(s);
    }
  }

  // A value holding a reduce that two kernels read is stored once rather than recomputed by
  // each (a conv read by batchnorm's mean and by its normalization, a matmul read twice).
  // Stores the topmost such value, then looks again, until every reduce has one reader kernel.
  for (int round = 0; round < 10000; round++) {
    PtrMap<int> readers;
    for (const UOp* s : topo) {
      if (!sc.is_stored(s)) continue;
      walk(Scheduler::stored_value(s), [&](const UOp* m) {
        if (is_leaf(m) || (m != s && sc.is_stored(m))) return Walk::Skip;
        if (m != s) {
          if (int* c = readers.find(m)) (*c)++;
          else readers.put(m, 1);
        }
        return Walk::Into;
      });
    }
    const UOp* pick = nullptr;
    for (auto it = topo.rbegin(); it != topo.rend() && !pick; ++it) {
      const UOp* m = *it;
      const int* c = readers.find(m);
      if (c && *c >= 2 && !is_movement(m->op) && !sc.is_stored(m) && sc.holds_reduce(m)) pick = m;
    }
    if (!pick) break;
    sc.store(pick);
  }

  // 2. one kernel per stored node, in topological order
  Schedule out;
  std::vector<ItemReads> reads;  // what each item reads, for order_items
  PtrMap<size_t> item_of;        // stored node -> the item computing it
  for (const UOp* n : topo) {
    if (!sc.is_stored(n)) continue;
    Shape shape = sc.shapes(n);
    std::string device = device_of(n);
    FG_CHECK(!device.empty(), ErrorKind::Value, "realize", "cannot tell the device of ", n->line());
    UOpRef out_buf = n->op == Op::ASSIGN ? assign_target_buffer(n->src(0).get())
                                         : new_buffer(device, n->dtype, prod(shape));
    sc.stored.put(n, out_buf);
    out.stored.emplace_back(n->ref(), out_buf);
    if (prod(shape) == 0) continue;  // nothing to compute

    if (n->op == Op::COPY) {
      const UOp* src = n->src(0).get();
      UOpRef src_buf = src->op == Op::BUFFER ? src->ref() : src->realized();
      if (!src_buf) src_buf = *sc.stored.find(src);
      ScheduleItem item;
      item.kind = ScheduleItem::Kind::Copy;
      item.bufs = {out_buf, src_buf};
      item.device = device;
      item.outputs = {n->ref()};
      item_of.put(n, out.items.size());
      reads.push_back(src->op == Op::BUFFER || src->realized() ? ItemReads{{}, {src_buf.get()}} : ItemReads{{src}, {}});
      out.items.push_back(std::move(item));
      continue;
    }

    // build the AST: leaves and other stored nodes become parameters
    ScheduleItem item;
    item.device = device;
    item.outputs = {n->ref()};
    item.bufs.push_back(out_buf);
    PtrMap<int> param_of;  // BUFFER node -> parameter number
    auto param = [&](const UOpRef& buf) {
      if (int* p = param_of.find(buf.get())) return *p;
      int p = static_cast<int>(item.bufs.size());
      if (buf.get() == out_buf.get()) p = 0;
      else item.bufs.push_back(buf);
      param_of.put(buf.get(), p);
      return p;
    };
    param(out_buf);
    auto global = [&](const UOpRef& buf, const Shape& shape) {
      int p = param(buf);
      UOpRef g = UOp::make(Op::DEFINE_GLOBAL, buf->dtype.ptr(buf->arg.as_int()), {}, Arg(p));
      if (shape.size() == 1 && shape[0] == buf->arg.as_int()) return g;
      return UOp::make(Op::RESHAPE, buf->dtype, {g}, Arg(shape));
    };

    const UOp* value = Scheduler::stored_value(n);
    ItemReads rd;
    PtrMap<UOpRef> built;
    std::vector<UOpRef> keep;
    std::vector<std::pair<const UOp*, bool>> stack{{value, false}};
    while (!stack.empty()) {
      auto [m, ready] = stack.back();
      stack.pop_back();
      if (built.find(m)) continue;
      UOpRef r;
      if (m != n && sc.is_stored(m)) {
        r = global(*sc.stored.find(m), sc.shapes(m));
        rd.stored.push_back(m);
      } else if (m->op == Op::BUFFER) {
        r = global(m->ref(), {m->arg.as_int()});
        rd.old_bufs.push_back(m);
      } else if (UOpRef rb = m->realized()) {
        r = global(rb, sc.shapes(m));
        rd.old_bufs.push_back(rb.get());
      } else if (m->op == Op::CONST && m->nsrc() > 0) {
        r = UOp::make(Op::CONST, m->dtype, {}, m->arg);
      } else if ((m->op == Op::DETACH || m->op == Op::CONTIGUOUS_BACKWARD) && ready) {
        r = *built.find(m->src(0).get());  // autograd markers: the value passes through
      } else if (!ready) {
        stack.push_back({m, true});
        for (size_t i = m->nsrc(); i-- > 0;)
          if (!built.find(m->src(i).get())) stack.push_back({m->src(i).get(), false});
        continue;
      } else {
        std::vector<UOpRef> srcs;
        for (const UOpRef& s : m->src()) srcs.push_back(*built.find(s.get()));
        r = m->replace_src(srcs);
      }
      keep.push_back(m->ref());
      built.put(m, r);
    }
    UOpRef val = *built.find(value);
    if (val->dtype != n->dtype) val = val->cast(n->dtype);
    Shape vshape = sc.shapes(value);  // val is value with its inputs swapped for same-shaped parameters
    if (vshape != shape) val = UOp::make(Op::RESHAPE, val->dtype, {val}, Arg(shape));
    UOpRef g0 = UOp::make(Op::DEFINE_GLOBAL, out_buf->dtype.ptr(out_buf->arg.as_int()), {}, Arg(0));
    UOpRef store = UOp::make(Op::STORE, dtypes::void_, {g0, val});
    item.ast = UOp::make(Op::SINK, dtypes::void_, {store});
    item_of.put(n, out.items.size());
    reads.push_back(std::move(rd));
    out.items.push_back(std::move(item));
  }
  order_items(out.items, reads, item_of);
  // A node the graph rewrite replaced is realized as its replacement's buffer, as every stored node
  // of an unrewritten graph is: a later graph built from the original nodes reads the buffer rather
  // than recomputing it (the loss read after the optimizer step realized its graph: a recompute would
  // read the updated weights). A root whose replacement is a reshape of a stored value holds that
  // buffer too (same elements, same order); a root that is any other view stays a view of its base.
  for (const auto& [orig, repl] : graph.replaced) {
    const UOp* n = repl.get();
    bool root = std::find(user_roots.begin(), user_roots.end(), orig) != user_roots.end();
    while (root && n->op == Op::RESHAPE && !is_leaf(n)) n = n->src(0).get();
    if (const UOpRef* b = sc.stored.find(n)) out.stored.emplace_back(orig, *b);
  }


  return out;
}

}  // namespace fg
