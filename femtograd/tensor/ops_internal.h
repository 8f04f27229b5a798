// Helpers shared by the op files of fg::Tensor (tensor_movement/index/random/scan/math.cc); not
// part of the public API.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "femtograd/tensor/tensor.h"

namespace fg::ops {

// [0, 1, ..., n-1] in dtype, as an ARANGE node (it lowers to the loop index: free in any kernel)
Tensor iota(int64_t n, DType dtype, const std::string& device);
// iota shaped to broadcast along `axis` of a tensor with `ndim` axes
Tensor iota_along(int64_t n, int64_t axis, int64_t ndim, DType dtype, const std::string& device);
// PyTorch's result dtype of sum/cumsum: bool and ints go to int64 (uint64 stays), floats keep theirs
DType sum_dtype(DType dt);
// the identity of a reduce op in dtype (ADD 0, MUL 1, MAX the lowest value)
Scalar reduce_identity_scalar(Op op, DType dt);
// the lowest / highest value of dtype as a Scalar (-inf / inf for floats)
Scalar lowest(DType dt);
Scalar highest(DType dt);
// the values of a tensor that is already realized (a buffer seen through reshapes), read with no
// kernel; nullopt for a lazy tensor
std::optional<std::vector<int64_t>> concrete_ints(const Tensor& t);
// t itself when it is a view of a buffer (movement ops over realized data), else t.contiguous():
// for ops that read each element many times (scans, sort, tensor indexing), so an expensive
// expression is computed once instead of once per read
Tensor materialized(const Tensor& t);
// "(3, 4) int32": a tensor's facts for error messages
std::string describe(const Tensor& t);
// checks that every tensor is on t's device
void check_device(const Tensor& t, const Tensor& o, const char* op);

}  // namespace fg::ops
