// Gather folding (codegen/gather_fold.cc): tensor indexing, gather, Embedding and a loss's label
// pick lose their loop over the indexed axis. Each case checks the kernel's structure (no REDUCE
// over the indexed axis), the values against a naive loop, and the same kernels generated with the
// fold off (FOLD_GATHER=0). Indices include negative ones, broadcast shapes, two tensors, awkward
// sizes (1, primes) and out-of-range values of a lazy index (which select nothing).
#include "femtograd/base/flags.h"
#include "femtograd/codegen/codegen.h"
#include "femtograd/nn/layers.h"
#include "femtograd/render/render.h"
#include "femtograd/runtime/device.h"
#include "femtograd/schedule/schedule.h"
#include "femtograd/tensor/tensor_nn.h"
#include "tensor_ref.h"

using namespace fgt;
using fg::Context;
using fg::Op;
using fg::UOpRef;
using S = Tensor::Slice;

namespace {

// the kernels that compute t; its inputs are realized first, so these are t's own kernels
std::vector<fg::ScheduleItem> kernels_of(const Tensor& t) {
  auto s = fg::create_schedule({t.uop()});
  std::vector<fg::ScheduleItem> out;
  for (auto& it : s.items)
    if (it.kind == fg::ScheduleItem::Kind::Kernel) out.push_back(it);
  return out;
}

// trip counts of the reduces left in a kernel after lowering and simplification (no opts)
std::vector<int64_t> reduce_loops(const UOpRef& ast, bool fold = true) {
  Context ctx{{"FOLD_GATHER", fold ? 1 : 0}};
  std::vector<fg::Opt> none;
  fg::OptimizedKernel ok = fg::optimize_kernel(ast, fg::Target{}, &none);
  std::vector<int64_t> trips;
  for (const fg::UOp* n : ok.sink->toposort())
    if (n->op == Op::REDUCE)
      for (size_t i = 1; i < n->nsrc(); i++) trips.push_back(n->src(i)->src(0)->arg.to_int());
  return trips;
}
int64_t count(const std::vector<int64_t>& v, int64_t x) {
  return std::count(v.begin(), v.end(), x);
}

// runs the kernels of t (in order, on its buffers) generated with the fold on or off, returning
// the bytes of the last kernel's output
std::vector<unsigned char> run_kernels(const Tensor& t, bool fold, bool noopt = false) {
  Context ctx{{"FOLD_GATHER", fold ? 1 : 0}, {"NOOPT", noopt ? 1 : 0}};
  std::vector<unsigned char> out;
  for (const fg::ScheduleItem& it : kernels_of(t)) {
    fg::Device& dev = fg::get_device(it.device);
    fg::KernelProgram k = fg::codegen(it.ast, fg::target_for(dev));
    std::string src = fg::render(dev.renderer(), k);
    auto prog = dev.load(k.name, fg::compile_cached(dev, src, k.name));
    std::vector<void*> ptrs;
    std::vector<std::shared_ptr<fg::Buffer>> bufs;
    for (const UOpRef& b : it.bufs) {
      bufs.push_back(fg::buffer_of(b));
      ptrs.push_back(bufs.back()->ensure_allocated());
    }
    fg::LaunchDims d;
    for (int i = 0; i < 3; i++) d.global[i] = k.global_size[i], d.local[i] = k.local_size[i];
    prog->run(ptrs, {}, d, false);
    out.assign(bufs[0]->nbytes(), 0);
    bufs[0]->copy_out(out.data(), out.size());
  }
  return out;
}

// t (one kernel over realized inputs) folds away every loop of n iterations, agrees bit for bit
// with the kernel made without the fold (and with the fold but no opts), and matches ref
void check_folded(const Tensor& t, int64_t n, const Arr<double>& ref, const std::string& what) {
  SCOPED_TRACE(what);
  auto ks = kernels_of(t);
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_GE(count(reduce_loops(ks[0].ast, false), n), 1)
      << "the unfolded kernel loops over the indexed axis";
  EXPECT_EQ(count(reduce_loops(ks[0].ast, true), n), 0) << "a loop over the indexed axis is left";
  std::vector<unsigned char> unfolded = run_kernels(t, false);
  EXPECT_EQ(run_kernels(t, true), unfolded);
  EXPECT_EQ(run_kernels(t, true, true), unfolded);
  EXPECT_TRUE(matches(t, ref));
}

int64_t norm(int64_t v, int64_t n) { return v < 0 ? v + n : v; }

// random indices in [-n, n)
Arr<int64_t> rand_index(const Shape& s, int64_t n, uint64_t seed) {
  return Arr<int64_t>(s, rand_ints(numel(s), -n, n - 1, seed));
}

}  // namespace

TEST(GatherFold, GetitemOneTensorIndex) {
  // awkward sizes: 1, primes; index shapes of 0-4 axes; negative indices
  struct Case {
    Shape x, idx;
    DType dt, it;
  };
  const std::vector<Case> cases = {
      {{1}, {5}, dt::float32, dt::int32},       {{13, 1}, {2, 3}, dt::float32, dt::int64},
      {{1, 17}, {1}, dt::int32, dt::int8},      {{31, 7, 3}, {4, 1, 5}, dt::float32, dt::int16},
      {{97, 11}, {23}, dt::float16, dt::uint8}, {{29, 2}, {3, 1, 2, 1}, dt::bool_, dt::int32},
      {{13, 5}, {}, dt::float32, dt::int64},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    Arr<double> a = rand_arr(c.x, c.dt, -10, 10, seed++);
    Tensor x = to_tensor(a, c.dt);
    int64_t n = c.x[0];
    bool uns = c.it.is_unsigned();
    Arr<int64_t> ia = uns ? Arr<int64_t>(c.idx, rand_ints(numel(c.idx), 0, n - 1, seed++))
                          : rand_index(c.idx, n, seed++);
    Tensor idx = to_tensor_i(ia, c.it);
    Shape rs = c.idx;
    rs.insert(rs.end(), c.x.begin() + 1, c.x.end());
    Arr<double> r(rs);
    for_each_index(rs, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> ii(o.begin(), o.begin() + c.idx.size()), src{norm(ia.at(ii), n)};
      src.insert(src.end(), o.begin() + c.idx.size(), o.end());
      r.at(o) = a.at(src);
    });
    std::string what = "x" + fg::shape_str(c.x) + "[idx" + fg::shape_str(c.idx) + "]";
    if (n == 1)
      EXPECT_TRUE(matches(x.getitem({idx}), r)) << what;  // a size-1 axis has no loop
    else
      check_folded(x.getitem({idx}), n, r, what);
  }
  // size-1 indexed axes (no loop at all) still give the right values
  Tensor one = Tensor::from_vector<float>({4.5f}, {1, 1});
  Tensor i1 = Tensor::from_vector<int32_t>({0, -1, 0}, {3});
  EXPECT_EQ(one.getitem({S{}, i1}).to_vector<float>(), (std::vector<float>{4.5f, 4.5f, 4.5f}));
}

TEST(GatherFold, GetitemTwoTensorIndices) {
  Arr<double> a = rand_arr({7, 11, 13}, dt::float32, -10, 10, 7);
  Tensor x = to_tensor(a, dt::float32);
  Arr<int64_t> i1 = rand_index({2, 3}, 11, 8), i2 = rand_index({3}, 13, 9),
               i0 = rand_index({2, 1}, 7, 10);
  Tensor t1 = to_tensor_i(i1, dt::int32), t2 = to_tensor_i(i2, dt::int64),
         t0 = to_tensor_i(i0, dt::int16);
  {  // adjacent: x[:, t1, t2] is (7, 2, 3); both loops (11 and 13) go
    Arr<double> r({7, 2, 3});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) = a.at({o[0], norm(i1.at({o[1], o[2]}), 11), norm(i2.at({o[2]}), 13)});
    });
    Tensor g = x.getitem({S{}, t1, t2});
    check_folded(g, 11, r, "x[:, t1, t2]");
    EXPECT_EQ(count(reduce_loops(kernels_of(g)[0].ast), 13), 0);
  }
  {  // separated by a slice: x[t0, :, t2] is (2, 3, 11)
    Arr<double> r({2, 3, 11});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) = a.at({norm(i0.at({o[0], 0}), 7), o[2], norm(i2.at({o[1]}), 13)});
    });
    Tensor g = x.getitem({t0, S{}, t2});
    check_folded(g, 7, r, "x[t0, :, t2]");
    EXPECT_TRUE(reduce_loops(kernels_of(g)[0].ast).empty());
  }
  {  // three tensor indices: a scalar per index
    Arr<double> r({2, 3});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) =
          a.at({norm(i0.at({o[0], 0}), 7), norm(i1.at({o[0], o[1]}), 11), norm(i2.at({o[1]}), 13)});
    });
    Tensor g = x.getitem({t0, t1, t2});
    check_folded(g, 13, r, "x[t0, t1, t2]");
    EXPECT_TRUE(reduce_loops(kernels_of(g)[0].ast).empty());
  }
}

TEST(GatherFold, GatherEmbeddingAndLossPick) {
  Arr<double> a = rand_arr({6, 19}, dt::float32, -10, 10, 21);
  Tensor x = to_tensor(a, dt::float32);
  {  // gather along the last axis
    Arr<int64_t> g({6, 4}, rand_ints(24, 0, 18, 22));
    Arr<double> r(g.shape);
    for_each_index(r.shape, [&](const std::vector<int64_t>& i) {
      r.at(i) = a.at({i[0], g.at(i)});
    });
    check_folded(x.gather(1, to_tensor_i(g, dt::int32)), 19, r, "gather(1)");
  }
  {  // an Embedding lookup: the one-hot select over the vocabulary is a row load
    fg::nn::Embedding emb(19, 5);
    emb.weight.realize();
    Arr<int64_t> ids({2, 3}, rand_ints(6, 0, 18, 23));
    Tensor e = emb(to_tensor_i(ids, dt::int32));
    std::vector<float> w = emb.weight.to_vector<float>();
    Arr<double> r({2, 3, 5});
    for_each_index(r.shape, [&](const std::vector<int64_t>& o) {
      r.at(o) = w[ids.at({o[0], o[1]}) * 5 + o[2]];
    });
    check_folded(e, 19, r, "Embedding");
  }
  {  // the label pick of the loss: one loop of 19 (the log-softmax's) fewer
    Arr<int64_t> y({6}, rand_ints(6, 0, 18, 24));
    Tensor loss = fg::sparse_categorical_crossentropy(x, to_tensor_i(y, dt::int32));
    size_t on = 0, off = 0;
    for (const auto& k : kernels_of(loss)) {
      on += count(reduce_loops(k.ast, true), 19);
      off += count(reduce_loops(k.ast, false), 19);
    }
    EXPECT_LT(on, off);
    double want = 0;
    for (int64_t i = 0; i < 6; i++) {
      double m = -INFINITY, s = 0;
      for (int64_t c = 0; c < 19; c++) m = std::max(m, a.at({i, c}));
      for (int64_t c = 0; c < 19; c++) s += std::exp(a.at({i, c}) - m);
      want -= a.at({i, y.at({i})}) - m - std::log(s);
    }
    EXPECT_NEAR(loss.item(), want / 6, 1e-4 * (1 + std::fabs(want)));
  }
}

TEST(GatherFold, LazyOutOfRangeIndexSelectsNothing) {
  // a computed index is not checked: values outside the axis give 0, and nothing is read there
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor i = Tensor::from_vector<int32_t>({0, 1, 2, 3, -1}, {5}).mul(3).sub(2);  // -2, 1, 4, 7, -5
  Tensor g = x.getitem({i});
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{3, 4, 3, 4, 0, 0, 0, 0, 0, 0}));
  Tensor b =
      Tensor::from_vector<bool>({true, false, true}, {3}).getitem({i.add(1)});  // -1, 2, 5, 8, -4
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{true, true, false, false, false}));
}

TEST(GatherFold, BatchFromALargeTableIsOneLoadPerElement) {
  // the python demo's X_train[samples]: 64 rows of a 60000 x 784 uint8 table. Unfolded, this is a
  // reduce of 64 x 784 x 60000; folded, a load per output element.
  const int64_t N = 60000, D = 784, B = 64;
  std::vector<uint8_t> host(static_cast<size_t>(N * D));
  for (size_t k = 0; k < host.size(); k++) host[k] = static_cast<uint8_t>((k * 7 + k / D) % 251);
  Tensor X = Tensor::from_vector(host, {N, D}).realize();
  std::vector<int32_t> rows;
  for (int64_t b = 0; b < B; b++) rows.push_back(static_cast<int32_t>((b * 937 + 11) % N));
  rows[3] = -1;  // the last row
  Tensor idx = Tensor::from_vector(rows, {B}).realize();
  Tensor g = X.getitem({idx});
  auto ks = kernels_of(g);
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_TRUE(reduce_loops(ks[0].ast).empty());
  fg::KernelProgram k = fg::codegen(ks[0].ast, fg::Target{});
  int64_t loads = 0;
  for (const UOpRef& l : k.lines) loads += l->op == Op::LOAD;
  EXPECT_LE(loads, 4);  // the index and the row element (vectorized loads count once per line)
  for (const UOpRef& l : k.lines)
    if (l->op == Op::RANGE)
      EXPECT_LE(l->src(0)->arg.to_int(), B * D) << "a loop longer than the output";
  std::vector<uint8_t> got = g.to_vector<uint8_t>();
  ASSERT_EQ(got.size(), static_cast<size_t>(B * D));
  for (int64_t b = 0; b < B; b++) {
    int64_t r = norm(rows[b], N);
    for (int64_t d = 0; d < D; d += 97)
      ASSERT_EQ(got[b * D + d], host[r * D + d]) << b << ", " << d;
  }
}

TEST(GatherFold, SelectsWrittenOtherWays) {
  // the rule is not tied to getitem: != with the branches swapped, MAX with -inf, MUL with 1, the
  // range with an offset, an extra condition on the range (kept, at the picked index)
  Arr<double> a = rand_arr({5, 23}, dt::float32, -10, 10, 31);
  Tensor x = to_tensor(a, dt::float32);
  Arr<int64_t> ia({5}, rand_ints(5, 0, 22, 32));
  ia.at({1}) = 22;
  Tensor i = to_tensor_i(ia, dt::int32).unsqueeze(-1);
  Tensor ar = Tensor::arange(0, 23, 1, dt::int32);
  Tensor zero = Tensor::const_(0, dt::float32, {}, x.device());
  auto ref = [&](const std::function<double(int64_t, int64_t)>& f) {
    Arr<double> r({5});
    for (int64_t b = 0; b < 5; b++) r.at({b}) = f(b, ia.at({b}));
    return r;
  };
  auto pick = [&](int64_t b, int64_t k) { return a.at({b, k}); };
  check_folded(i.ne(ar).where(zero, x).sum({1}), 23, ref(pick), "where(i != r, 0, x).sum()");
  Tensor ninf = Tensor::const_(-INFINITY, dt::float32, {}, x.device());
  check_folded(ar.eq(i).where(x, ninf).max({1}), 23, ref(pick), "where(r == i, x, -inf).max()");
  Tensor one = Tensor::const_(1.0, dt::float32, {}, x.device());
  check_folded(i.eq(ar).where(x, one).reduce(Op::MUL, {1}, false), 23, ref(pick),
               "where(i == r, x, 1).prod()");
  Tensor ar1 = ar.add(Tensor::const_(1, dt::int32, {}, x.device()));
  check_folded(ar1.eq(i).where(x, zero).sum({1}), 23,
               ref([&](int64_t b, int64_t k) { return k >= 1 ? pick(b, k - 1) : 0.0; }),
               "where(r + 1 == i, x, 0).sum()");
  Tensor low = ar.lt(Tensor::const_(11, dt::int32, {}, x.device()));
  check_folded(i.eq(ar).bitwise_and(low).where(x, zero).sum({1}), 23,
               ref([&](int64_t b, int64_t k) { return k < 11 ? pick(b, k) : 0.0; }),
               "where(i == r & r < 11, x, 0).sum()");
}
