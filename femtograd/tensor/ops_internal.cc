// Helpers shared by the op files (see ops_internal.h).
#include "femtograd/tensor/ops_internal.h"

#include <limits>

#include "femtograd/base/error.h"
#include "femtograd/runtime/device.h"

namespace fg::ops {

Tensor iota(int64_t n, DType dtype, const std::string& device) {
  FG_ASSERT(n >= 0);
  // an ARANGE node lowers to the loop index itself: free inside any kernel
  std::string dev = canonical_device(device.empty() ? default_device() : device);
  UOpRef d = UOp::make(Op::DEVICE, dtypes::void_, {}, Arg(dev));
  return Tensor(UOp::make(Op::ARANGE, dtype, {d}, Arg(n)), {n}, dev);
}

Tensor iota_along(int64_t n, int64_t axis, int64_t ndim, DType dtype, const std::string& device) {
  Shape s(ndim, 1);
  s[axis] = n;
  return iota(n, dtype, device).reshape(s);
}

DType sum_dtype(DType dt) {
  if (dt.is_float()) return dt;
  if (dt.scalar == ScalarType::UInt64) return dt;
  return dtypes::int64;
}

Scalar lowest(DType dt) {
  if (dt.is_bool()) return false;
  if (dt.is_float()) return -std::numeric_limits<double>::infinity();
  return dt.int_min();
}
Scalar highest(DType dt) {
  if (dt.is_bool()) return true;
  if (dt.is_float()) return std::numeric_limits<double>::infinity();
  if (dt.scalar == ScalarType::UInt64) return int64_t{-1};  // all bits set: the constant wraps
  return dt.int_max();
}

Scalar reduce_identity_scalar(Op op, DType dt) {
  switch (op) {
    case Op::ADD: return dt.is_float() ? Scalar(0.0) : Scalar(0);
    case Op::MUL: return dt.is_float() ? Scalar(1.0) : Scalar(1);
    case Op::MAX: return lowest(dt);
    default: fail(ErrorKind::Internal, "reduce", "no identity for ", op_name(op));
  }
}

std::optional<std::vector<int64_t>> concrete_ints(const Tensor& t) {
  const UOp* u = t.uop().get();
  while (true) {
    if (u->op == Op::BUFFER || u->realized()) break;
    if (u->op != Op::RESHAPE) return std::nullopt;
    u = u->src(0).get();
  }
  return t.to_vector<int64_t>();
}

Tensor materialized(const Tensor& t) {
  const UOp* u = t.uop().get();
  while (true) {
    if (u->op == Op::BUFFER || u->realized() || u->op == Op::CONTIGUOUS) return t;
    if (u->op == Op::CONST) return t;  // a broadcast constant costs nothing to recompute
    if (!is_movement(u->op)) return t.contiguous();
    u = u->src(0).get();
  }
}

std::string describe(const Tensor& t) { return shape_str(t.shape()) + " " + t.dtype().name(); }

void check_device(const Tensor& t, const Tensor& o, const char* op) {
  FG_CHECK(t.device() == o.device(), ErrorKind::Value, op, "tensors are on different devices: ", t.device(), " and ",
           o.device());
}

}  // namespace fg::ops
