// Bad input raises fg::Error of the right kind, whose message names the op and the facts, before
// any kernel runs (EXPECT_FG_ERROR checks all three). Errors of indexing, reductions and random
// ops are tested beside those ops (test_tensor_index/reduce/random.cc).
#include "tensor_ref.h"

using namespace fgt;
using fg::ErrorKind;
using P = std::vector<std::pair<int64_t, int64_t>>;

TEST(TensorErrors, Creation) {
  EXPECT_FG_ERROR(Tensor::zeros({2, -1}), ErrorKind::Value, "negative dimension in shape (2, -1)");
  EXPECT_FG_ERROR(Tensor::empty({-3}), ErrorKind::Value, "negative dimension");
  float x = 1;
  EXPECT_FG_ERROR(Tensor::from_data(&x, dt::float32, {-1}), ErrorKind::Value, "negative dimension");
  EXPECT_FG_ERROR(Tensor::arange(0, 5, 0), ErrorKind::Value, "arange: step must not be zero");
  EXPECT_FG_ERROR(Tensor::linspace(0, 1, -2), ErrorKind::Value, "linspace: number of steps must be non-negative");
  EXPECT_FG_ERROR(Tensor::eye(-1), ErrorKind::Value, "eye: sizes must be non-negative");
  EXPECT_FG_ERROR(Tensor().shape(), ErrorKind::Value, "empty Tensor handle");
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_FG_ERROR(t.item(), ErrorKind::Value, "item: only a tensor of one element");
  float buf[5];
  EXPECT_FG_ERROR(t.copy_to_host(buf, sizeof buf), ErrorKind::Value, "holds 24 bytes, destination has 20");
  EXPECT_FG_ERROR(t.shape(2), ErrorKind::Index, "axis 2 is out of range");
}

TEST(TensorErrors, Movement) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_FG_ERROR(t.reshape({5, 5}), ErrorKind::Value, "reshape: cannot reshape (2, 3, 4) to (5, 5)");
  EXPECT_FG_ERROR(t.reshape({-1, -1}), ErrorKind::Value, "only one -1");
  EXPECT_FG_ERROR(t.reshape({-1, 5}), ErrorKind::Value, "cannot reshape");
  EXPECT_FG_ERROR(t.permute({0, 1}), ErrorKind::Value, "permute: order (0, 1) does not fit shape (2, 3, 4)");
  EXPECT_FG_ERROR(t.permute({0, 0, 1}), ErrorKind::Value, "is not a permutation");
  EXPECT_FG_ERROR(t.expand({2, 5, 4}), ErrorKind::Value, "expand: cannot expand (2, 3, 4) to (2, 5, 4)");
  EXPECT_FG_ERROR(t.expand({3, 4}), ErrorKind::Value, "cannot expand");
  EXPECT_FG_ERROR(t.pad(P{{1, 1}, {1, 1}, {1, 1}, {1, 1}}), ErrorKind::Value, "pad: padding for 4 axes");
  EXPECT_FG_ERROR(t.pad(P{{4, 0}}, Tensor::PadMode::Reflect), ErrorKind::Value,
                  "pad (reflect): padding (4, 0) must be smaller than the size 4 of axis 2");
  EXPECT_FG_ERROR(t.pad(P{{0, 5}}, Tensor::PadMode::Circular), ErrorKind::Value,
                  "pad (circular): padding (0, 5) must not exceed the size 4 of axis 2");
  EXPECT_FG_ERROR(t.pad(P{{-1, 0}}, Tensor::PadMode::Replicate), ErrorKind::Value, "negative padding");
  EXPECT_FG_ERROR(Tensor::zeros({0, 2}).pad(P{{1, 0}, {0, 0}}, Tensor::PadMode::Replicate), ErrorKind::Value,
                  "cannot pad the empty axis 0");
  EXPECT_FG_ERROR(t.shrink({{0, 2}, {1, 4}, {0, 4}}), ErrorKind::Value, "shrink: bounds (1, 4) out of range for axis 1");
  EXPECT_FG_ERROR(t.shrink({{0, 2}}), ErrorKind::Value, "shrink: bounds for 1 axes");
  EXPECT_FG_ERROR(t.flip({1, -2}), ErrorKind::Value, "flip: axis -2 given twice");
  EXPECT_FG_ERROR(t.flip({3}), ErrorKind::Index, "axis 3 is out of range");
  EXPECT_FG_ERROR(t.transpose(0, 3), ErrorKind::Index, "transpose: axis 3 is out of range");
  EXPECT_FG_ERROR(t.squeeze(-4), ErrorKind::Index, "squeeze: axis -4");
  EXPECT_FG_ERROR(t.unsqueeze(4), ErrorKind::Index, "unsqueeze: axis 4 out of range");
  EXPECT_FG_ERROR(t.flatten(1, 5), ErrorKind::Index, "flatten: axis 5");
  EXPECT_FG_ERROR(t.unflatten(1, {2, 2}), ErrorKind::Value, "unflatten: sizes (2, 2) multiply to 4, axis 1 of (2, 3, 4) has 3");
  EXPECT_FG_ERROR(t.unflatten(2, {-1, 3}), ErrorKind::Value, "do not fit axis 2");
  EXPECT_FG_ERROR(t.movedim(0, 3), ErrorKind::Index, "movedim: axis 3");
  EXPECT_FG_ERROR(Tensor::cat({}), ErrorKind::Value, "cat: needs at least one tensor");
  EXPECT_FG_ERROR(Tensor::cat({t, Tensor::zeros({2, 3})}), ErrorKind::Value, "ranks differ");
  EXPECT_FG_ERROR(Tensor::cat({t, Tensor::zeros({2, 4, 4})}, 0), ErrorKind::Value,
                  "tensor 1 has shape (2, 4, 4), tensor 0 has shape (2, 3, 4): sizes differ on axis 1");
  EXPECT_FG_ERROR(Tensor::cat({Tensor::zeros({}), Tensor::zeros({})}), ErrorKind::Value, "zero-dimensional");
  EXPECT_FG_ERROR(Tensor::cat({t, t}, 3), ErrorKind::Index, "axis 3 is out of range");
  EXPECT_FG_ERROR(Tensor::stack({t, Tensor::zeros({2, 3, 5})}), ErrorKind::Value, "stack: tensor 1 has shape (2, 3, 5)");
  EXPECT_FG_ERROR(Tensor::stack({t}, 4), ErrorKind::Index, "stack: dim 4 is out of range");
  EXPECT_FG_ERROR(t.split(0, 1), ErrorKind::Value, "split size must be positive");
  EXPECT_FG_ERROR(t.split(std::vector<int64_t>{1, 1}, 1), ErrorKind::Value, "sizes (1, 1) add up to 2, axis 1 of (2, 3, 4) has 3");
  EXPECT_FG_ERROR(t.chunk(0), ErrorKind::Value, "number of chunks must be positive");
  EXPECT_FG_ERROR(t.repeat({2, 2}), ErrorKind::Value, "repeat: repeats (2, 2) has fewer entries");
  EXPECT_FG_ERROR(t.repeat({1, -1, 1}), ErrorKind::Value, "negative count");
  EXPECT_FG_ERROR(t.repeat_interleave(-1), ErrorKind::Value, "repeats must be non-negative");
  EXPECT_FG_ERROR(t.roll({1, 2}, {0}), ErrorKind::Value, "roll: shifts (1, 2) and dims (0,) differ in length");
  EXPECT_FG_ERROR(t.roll(1, 3), ErrorKind::Index, "roll: axis 3");
}

TEST(TensorErrors, Elementwise) {
  Tensor f = Tensor::zeros({2, 3}), i = Tensor::zeros({2, 3}, dt::int32), b = Tensor::zeros({2, 3}, dt::bool_);
  EXPECT_FG_ERROR(f + Tensor::zeros({3, 2}), ErrorKind::Value, "add: shapes (2, 3) and (3, 2) do not broadcast");
  EXPECT_FG_ERROR(f.maximum(Tensor::zeros({4})), ErrorKind::Value, "maximum: shapes");
  EXPECT_FG_ERROR(f.where(f, Tensor::zeros({5})), ErrorKind::Value, "where: shapes");
  EXPECT_FG_ERROR(f & f, ErrorKind::Type, "bitwise_and: needs an integer or bool tensor, got float32");
  EXPECT_FG_ERROR(f | i, ErrorKind::Type, "bitwise_or: needs an integer or bool tensor, got float32");
  EXPECT_FG_ERROR(f << 1, ErrorKind::Type, "lshift: needs an integer");
  EXPECT_FG_ERROR(f >> i, ErrorKind::Type, "rshift: needs an integer");
  EXPECT_FG_ERROR(~f, ErrorKind::Type, "bitwise_not");
  EXPECT_FG_ERROR(f.idiv(f), ErrorKind::Type, "idiv: needs an integer");
  EXPECT_FG_ERROR(b.idiv(b), ErrorKind::Type, "idiv: not supported for bool");
  EXPECT_FG_ERROR(b % b, ErrorKind::Type, "mod: not supported for bool");
  EXPECT_FG_ERROR(b - b, ErrorKind::Type, "sub: subtraction of bool tensors");
  EXPECT_FG_ERROR(f.bitcast(dt::int16), ErrorKind::Type, "bitcast: cannot bitcast float32 to int16");
  EXPECT_FG_ERROR(i.lerp(i, 0.5), ErrorKind::Type, "lerp: needs float tensors");
  EXPECT_FG_ERROR(f.softplus(0), ErrorKind::Value, "softplus: beta must not be zero");
  EXPECT_FG_ERROR(f.hardtanh(1, -1), ErrorKind::Value, "hardtanh: min (1) must not exceed max (-1)");
  EXPECT_FG_ERROR(f.linear(Tensor::zeros({4, 2})), ErrorKind::Value, "matmul");
  // tensors on different devices
  Tensor n = Tensor::zeros({2, 3}, dt::float32, "NULL");
  EXPECT_FG_ERROR(f + n, ErrorKind::Value, "add: tensors are on different devices");
  EXPECT_FG_ERROR(Tensor::cat({f, n}), ErrorKind::Value, "cat: tensors are on different devices");
  EXPECT_FG_ERROR(f.masked_fill(b.cast(dt::bool_), n), ErrorKind::Value, "different devices");
}
