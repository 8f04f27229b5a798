// Random tensors from a counter-based generator, following tinygrad's Tensor.rand design: one
// global seed, one counter per device, element i of a call is threefry2x32(counter + i, key).
// Guarantees: the numbers depend only on the seed and the calls made before on the same device
// (not on the device kind), and a call's kernel does not depend on the seed or the counter, so
// repeated calls of one shape reuse one compiled kernel.
// The key and the counter live in a device buffer that kernels read and advance (tinygrad's
// Tensor._device_rng_counters): each call runs two small kernels at once, one advancing the
// counter and one writing the counter's value before the call into a buffer of the call's own,
// which the call's random kernel reads (so realizing calls out of order cannot mix their numbers). A TinyJit captures those kernels with the rest, so every replay draws new numbers;
// the increment comes from a buffer the call writes once, so the kernels do not depend on its size.
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>

#include "femtograd/base/error.h"
#include "femtograd/engine/realize.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/metadata.h"
#include "femtograd/tensor/ops_internal.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"

namespace fg {
namespace {

struct RngState {
  std::mutex mu;
  uint64_t seed = 0;
  std::map<std::string, Tensor> states;  // device -> uint64 (2,) buffer: key, next counter
};
RngState& rng() {
  static RngState* s = new RngState();  // never destroyed: its buffers must not outlive the devices
  return *s;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string dev_name(const std::string& d) { return canonical_device(d.empty() ? default_device() : d); }

// writes (key of the seed, counter 0) into a device's state buffer from the host
void reset_state(const Tensor& state, uint64_t seed, const std::string& device) {
  uint64_t v[2] = {splitmix64(seed), 0};
  UOpRef node = buffer_of_tensor(state);
  FG_ASSERT(node && node->op == Op::BUFFER, "rand: the RNG state of ", device, " lost its buffer");
  auto b = buffer_of(node);
  b->ensure_allocated();
  get_device(device).synchronize();
  b->copy_in(v, sizeof(v));
}

// n random 64-bit words (uint64, shape (n,)) for the next n counters of the device
Tensor random_bits(int64_t n, const std::string& device) {
  Tensor p;  // (key, first counter of this call), in a buffer of this call's own
  {
    RngState& s = rng();
    std::lock_guard lock(s.mu);
    auto it = s.states.find(device);
    if (it == s.states.end()) {
      uint64_t v[2] = {splitmix64(s.seed), 0};
      it = s.states.emplace(device, Tensor::from_data(v, dtypes::uint64, {2}, device)).first;
    }
    Tensor state = it->second;
    Tensor inc = Tensor::from_vector(std::vector<uint64_t>{0, static_cast<uint64_t>(n)}, {2}, device);
    assign_to(state, state.add(inc));
    p = state.sub(inc).contiguous();  // the counter before this call, read after the kernel advanced it
    Tensor::realize_all({&p, &state});
  }
  Tensor k = p.shrink({{0, 1}}).reshape({}), b = p.shrink({{1, 2}}).reshape({});
  Tensor ctr = ops::iota(n, dtypes::uint64, device).add(b);
  auto [x, kk] = Tensor::broadcast(ctr, k, "rand");
  return Tensor(x.uop()->alu(Op::THREEFRY, kk.uop()), x.shape(), device);
}

// mantissa bits and the bits of 1.0 for each float type
struct FloatBits {
  int mant;
  uint64_t one;
  DType uint;
};
FloatBits float_bits(DType dt) {
  switch (dt.scalar) {
    case ScalarType::Float64: return {52, 0x3FF0000000000000ull, dtypes::uint64};
    case ScalarType::Float32: return {23, 0x3F800000ull, dtypes::uint32};
    case ScalarType::Float16: return {10, 0x3C00ull, dtypes::uint16};
    case ScalarType::BFloat16: return {7, 0x3F80ull, dtypes::uint16};
    case ScalarType::FP8E4M3: return {3, 0x38ull, dtypes::uint8};
    case ScalarType::FP8E5M2: return {2, 0x3Cull, dtypes::uint8};
    default: fail(ErrorKind::Type, "rand", "needs a float dtype, got ", dt.name());
  }
}

void check_shape(const Shape& shape, const char* op) {
  for (int64_t s : shape)
    FG_CHECK(s >= 0, ErrorKind::Value, op, "negative dimension in shape ", shape_str(shape));
}

void check_float(DType dt, const char* op) {
  FG_CHECK(dt.is_float(), ErrorKind::Type, op, "needs a float dtype, got ", dt.name());
}

int64_t fan_in(const Shape& shape) {
  int64_t f = 1;
  for (size_t i = 1; i < shape.size(); i++) f *= shape[i];
  return f;
}

}  // namespace

void Tensor::manual_seed(uint64_t seed) {
  RngState& s = rng();
  std::lock_guard lock(s.mu);
  s.seed = seed;
  // written in place, so kernels a TinyJit captured before start over from the new seed too
  for (auto& [dev, state] : s.states) reset_state(state, seed, dev);
}

Tensor Tensor::rand(const Shape& shape, DType dtype, const std::string& device) {
  OpScope scope("rand", std::string());  // names the kernels (tensor/metadata.h)
  check_float(dtype, "rand");
  check_shape(shape, "rand");
  std::string dev = dev_name(device);
  int64_t n = fg::prod(shape);
  if (n == 0) return zeros(shape, dtype, dev);
  FloatBits fb = float_bits(dtype);
  // the top mantissa bits under the exponent of 1.0 give a float in [1, 2); minus 1 is exact
  Tensor bits = random_bits(n, dev).rshift(Tensor::const_(64 - fb.mant, dtypes::uint64, {}, dev)).cast(fb.uint);
  Tensor one = Tensor::const_(static_cast<int64_t>(fb.one), fb.uint, {}, dev);
  Tensor f = bits.bitwise_or(one).bitcast(dtype);
  return f.sub(Tensor::const_(1.0, dtype, {}, dev)).reshape(shape);
}

Tensor Tensor::randn(const Shape& shape, DType dtype, const std::string& device) {
  OpScope scope("randn", std::string());  // names the kernels (tensor/metadata.h)
  check_float(dtype, "randn");
  check_shape(shape, "randn");
  std::string dev = dev_name(device);
  int64_t n = fg::prod(shape);
  if (n == 0) return zeros(shape, dtype, dev);
  // Box-Muller on two uniforms in float32 (float64 keeps its precision)
  DType work = dtype.scalar == ScalarType::Float64 ? dtypes::float64 : dtypes::float32;
  Tensor u = rand({2, n}, work, dev);
  Tensor u1 = u.shrink({{0, 1}, {0, n}}).reshape({n}), u2 = u.shrink({{1, 2}, {0, n}}).reshape({n});
  Tensor r = Tensor::const_(1.0, work, {}, dev).sub(u1).log().mul(-2.0).sqrt();
  return u2.mul(2 * std::numbers::pi).cos().mul(r).cast(dtype).reshape(shape);
}

Tensor Tensor::randint(const Shape& shape, int64_t low, int64_t high, DType dtype, const std::string& device) {
  OpScope scope("randint", std::string());  // names the kernels (tensor/metadata.h)
  FG_CHECK(dtype.is_int(), ErrorKind::Type, "randint", "needs an integer dtype, got ", dtype.name());
  FG_CHECK(low < high, ErrorKind::Value, "randint", "low (", low, ") must be smaller than high (", high, ")");
  FG_CHECK(low >= dtype.int_min() && high - 1 <= dtype.int_max(), ErrorKind::Value, "randint", "range [", low, ", ",
           high, ") does not fit ", dtype.name());
  check_shape(shape, "randint");
  std::string dev = dev_name(device);
  int64_t n = fg::prod(shape);
  if (n == 0) return zeros(shape, dtype, dev);
  uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  Tensor r = Tensor(random_bits(n, dev).uop()->alu(Op::MOD, UOp::cnst_int(dtypes::uint64, static_cast<int64_t>(range))),
                    {n}, dev);
  // low + r, computed with wrapping uint64 then reinterpreted: exact for every int64 range
  Tensor v = r.add(Tensor::const_(low, dtypes::uint64, {}, dev));
  return v.bitcast(dtypes::int64).cast(dtype).reshape(shape);
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, DType dtype, const std::string& device) {
  OpScope scope("uniform", std::string());  // names the kernels (tensor/metadata.h)
  check_float(dtype, "uniform");
  FG_CHECK(low <= high, ErrorKind::Value, "uniform", "low (", low, ") must not exceed high (", high, ")");
  return rand(shape, dtype, device).mul(high - low).add(low).cast(dtype);
}

Tensor Tensor::normal(const Shape& shape, double mean, double std, DType dtype, const std::string& device) {
  OpScope scope("normal", std::string());  // names the kernels (tensor/metadata.h)
  check_float(dtype, "normal");
  FG_CHECK(std >= 0, ErrorKind::Value, "normal", "std must be non-negative, got ", std);
  return randn(shape, dtype, device).mul(std).add(mean).cast(dtype);
}

Tensor Tensor::randperm(int64_t n, DType dtype, const std::string& device) {
  OpScope scope("randperm", std::string());  // names the kernels (tensor/metadata.h)
  FG_CHECK(n >= 0, ErrorKind::Value, "randperm", "n must be non-negative, got ", n);
  FG_CHECK(dtype.is_int(), ErrorKind::Type, "randperm", "needs an integer dtype, got ", dtype.name());
  if (n == 0) return zeros({0}, dtype, device);
  // random 64-bit keys: ties are practically impossible, and the sort is stable anyway
  return Tensor(random_bits(n, dev_name(device))).argsort(0).cast(dtype);
}

Tensor Tensor::kaiming_uniform(const Shape& shape, double a, DType dtype, const std::string& device) {
  OpScope scope("kaiming_uniform", std::string());  // names the kernels (tensor/metadata.h)
  check_shape(shape, "kaiming_uniform");
  double bound = std::sqrt(3.0) * std::sqrt(2.0 / (1 + a * a)) / std::sqrt(static_cast<double>(fan_in(shape)));
  return uniform(shape, -bound, bound, dtype, device);
}

Tensor Tensor::kaiming_normal(const Shape& shape, double a, DType dtype, const std::string& device) {
  OpScope scope("kaiming_normal", std::string());  // names the kernels (tensor/metadata.h)
  check_shape(shape, "kaiming_normal");
  double std = std::sqrt(2.0 / (1 + a * a)) / std::sqrt(static_cast<double>(fan_in(shape)));
  return normal(shape, 0, std, dtype, device);
}

Tensor Tensor::glorot_uniform(const Shape& shape, DType dtype, const std::string& device) {
  OpScope scope("glorot_uniform", std::string());  // names the kernels (tensor/metadata.h)
  check_shape(shape, "glorot_uniform");
  double lim = std::sqrt(6.0 / static_cast<double>((shape.empty() ? 1 : shape[0]) + fan_in(shape)));
  return uniform(shape, -lim, lim, dtype, device);
}

Tensor Tensor::scaled_uniform(const Shape& shape, DType dtype, const std::string& device) {
  OpScope scope("scaled_uniform", std::string());  // names the kernels (tensor/metadata.h)
  check_shape(shape, "scaled_uniform");
  double s = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fg::prod(shape), 1)));
  return uniform(shape, -s, s, dtype, device);
}

Tensor Tensor::rand_like(std::optional<DType> dt) const { return rand(shape(), dt.value_or(dtype()), device()); }
Tensor Tensor::randn_like(std::optional<DType> dt) const { return randn(shape(), dt.value_or(dtype()), device()); }
Tensor Tensor::empty_like(std::optional<DType> dt) const { return empty(shape(), dt.value_or(dtype()), device()); }

}  // namespace fg
