"""The device-op conformance table: ONE list of op cases (CASES), each a lambda on a framework module F
with its input shapes, dtype and whether input gradients are checked. conformance.py runs every case on
femtograd and on a reference (PyTorch when importable, else numpy: these adapters) and compares.

A lambda calls ops through F (F.exp(x), F.sum(x, axis=1)) or with Python operators and indexing, which
the three frameworks share. F is FG (femtograd, tinygrad's method names), NP (numpy: the independent
reference implementation of each op) or TORCH (PyTorch). A new op adds its FG/NP/TORCH entries where the
default (a method of the same name) does not fit, and its cases below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# ---------------------------------------------------------------- the case record


@dataclass(frozen=True)
class Case:
  id: str                                 # unique, stable: the pytest id
  op: str                                 # the op family (coverage report)
  fn: Callable[..., Any]                  # lambda F, *inputs: ...
  shapes: tuple                           # one shape per input
  dtype: str = "float32"                  # dtype of the inputs ("int32", "bool", ...)
  grad: bool = False                      # also compare d(sum(out * w))/d(input) for float inputs
  low: float = -2.0                       # range of random float inputs
  high: float = 2.0
  ilow: int = -10                         # range of random int inputs [ilow, ihigh)
  ihigh: int = 10
  input_dtypes: tuple | None = None       # per-input dtypes when they differ (index tensors)
  special: bool = False                   # inputs mix in nan and +-inf
  tol: tuple | None = None                # (atol, rtol) instead of the dtype's
  needs: str | None = None                # a femtograd Tensor attribute the case needs (skipped without)
  torch_ok: bool = True                   # False: numpy is the reference even when torch is installed
  check_dtype: str | None = None          # the femtograd result dtype, when the case pins it
  xfail: str | None = None                # a known femtograd bug (the reason): expected to fail until fixed
  extra: dict = field(default_factory=dict, compare=False, hash=False)


# ---------------------------------------------------------------- femtograd (tinygrad's API)


class _FG:
  """femtograd as F: an op is the tensor method of the same name unless defined here."""
  name = "femtograd"

  def __getattr__(self, name):
    return lambda x, *a, **k: getattr(x, name)(*a, **k)

  @staticmethod
  def tensor(data, dtype=None):
    from femtograd import Tensor
    return Tensor(data, dtype=dtype)

  @staticmethod
  def where(c, a, b): return c.where(a, b)
  @staticmethod
  def cat(ts, dim=0): return ts[0].cat(*ts[1:], dim=dim)
  @staticmethod
  def stack(ts, dim=0): return ts[0].stack(*ts[1:], dim=dim)
  @staticmethod
  def einsum(f, *xs):
    from femtograd import Tensor
    return Tensor.einsum(f, *xs)
  @staticmethod
  def setitem(x, idx, v):
    y = x.clone()
    y[idx] = v
    return y
  @staticmethod
  def arange(*a, dtype=None):
    from femtograd import Tensor
    return Tensor.arange(*a, dtype=dtype)
  @staticmethod
  def linspace(a, b, n):
    from femtograd import Tensor
    return Tensor.linspace(a, b, n)
  @staticmethod
  def eye(n, m=None):
    from femtograd import Tensor
    return Tensor.eye(n, m)
  @staticmethod
  def full(shape, v, dtype=None):
    from femtograd import Tensor
    return Tensor.full(shape, v, dtype=dtype)
  @staticmethod
  def zeros(*s):
    from femtograd import Tensor
    return Tensor.zeros(*s)
  @staticmethod
  def ones(*s):
    from femtograd import Tensor
    return Tensor.ones(*s)
  @staticmethod
  def sort_values(x, dim=-1, descending=False): return x.sort(dim, descending)[0]
  @staticmethod
  def sort_indices(x, dim=-1, descending=False): return x.sort(dim, descending)[1]
  @staticmethod
  def topk_values(x, k, dim=-1, largest=True): return x.topk(k, dim, largest)[0]
  @staticmethod
  def topk_indices(x, k, dim=-1, largest=True): return x.topk(k, dim, largest)[1]
  @staticmethod
  def split_i(x, sizes, dim, i): return x.split(sizes, dim)[i]
  @staticmethod
  def chunk_i(x, n, dim, i): return x.chunk(n, dim)[i]
  @staticmethod
  def floordiv(a, b): return a // b
  @staticmethod
  def std(x, axis=None, keepdim=False, correction=1): return x.std(axis=axis, keepdim=keepdim, correction=correction)
  @staticmethod
  def scatter(x, dim, index, src, reduce=None): return x.scatter(dim, index, src, reduce=reduce)


FG = _FG()


# ---------------------------------------------------------------- numpy: the reference implementations


def _ax(axis):
  return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _bf16_round(x):
  # float32 -> bfloat16 (round to nearest even), returned as float32 values (numpy has no bfloat16)
  b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
  b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
  return b.astype(np.uint32).view(np.float32)


def _sigmoid(x):
  x = np.asarray(x, dtype=np.float64) if np.asarray(x).dtype == np.bool_ else x
  return 1 / (1 + np.exp(-x))
def _softplus(x, beta=1.0): return np.logaddexp(0, beta * x) / beta


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_gather(x, dim, index):
  # PyTorch's gather: index may be smaller than x on the other axes
  x = x[tuple(slice(0, n) if d != dim else slice(None) for d, n in enumerate(index.shape))]
  return np.take_along_axis(x, index.astype(np.int64), axis=dim)


def _np_scatter(x, dim, index, src, reduce=None):
  out = x.copy()
  src = np.broadcast_to(np.asarray(src, dtype=x.dtype), index.shape) if np.ndim(src) == 0 else src
  for pos in np.ndindex(*index.shape):
    dst = list(pos)
    dst[dim] = index[pos]
    dst = tuple(dst)
    if reduce is None: out[dst] = src[pos]
    elif reduce == "add": out[dst] += src[pos]
    elif reduce == "multiply": out[dst] *= src[pos]
  return out


def _np_scatter_reduce(x, dim, index, src, reduce, include_self=True):
  out = x.astype(np.float64).copy()
  groups: dict = {}
  for pos in np.ndindex(*index.shape):
    dst = list(pos)
    dst[dim] = index[pos]
    groups.setdefault(tuple(dst), []).append(src[pos])
  for dst, vals in groups.items():
    vals = ([out[dst]] if include_self else []) + vals
    if reduce == "sum": out[dst] = np.sum(vals)
    elif reduce == "prod": out[dst] = np.prod(vals)
    elif reduce == "mean": out[dst] = np.mean(vals)
    elif reduce == "amax": out[dst] = np.max(vals)
    elif reduce == "amin": out[dst] = np.min(vals)
  return out.astype(x.dtype)


def _np_pad(x, padding, mode="constant", value=0.0):
  # padding as femtograd takes it: one (before, after) pair per axis
  modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
  if mode == "constant": return np.pad(x, padding, mode="constant", constant_values=value)
  return np.pad(x, padding, mode=modes[mode])


def _np_trunc_div(a, b):
  q = np.trunc(a / b) if np.issubdtype(np.result_type(a, b), np.floating) else np.fix(np.true_divide(a, b))
  return q.astype(np.result_type(a, b))


def _np_chunk(x, n, dim):
  size = -(-x.shape[dim] // n)
  return [np.take(x, range(i, min(i + size, x.shape[dim])), axis=dim) for i in range(0, x.shape[dim], size)]


def _np_split(x, sizes, dim):
  if isinstance(sizes, int):
    idx = list(range(sizes, x.shape[dim], sizes))
  else:
    idx = list(np.cumsum(sizes)[:-1])
  return np.split(x, idx, axis=dim)


def _stable_argsort(x, dim, descending):
  if descending:
    # stable descending: sort the reversed axis ascending by -x and map the indices back
    return np.argsort(-x, axis=dim, kind="stable")
  return np.argsort(x, axis=dim, kind="stable")


def _per_axis(v, nd):
  return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _np_conv(x, w, b=None, groups=1, stride=1, dilation=1, padding=0):
  nd = w.ndim - 2
  stride, dilation = _per_axis(stride, nd), _per_axis(dilation, nd)
  k = w.shape[2:]
  if padding == "same":
    pads = []
    for i in range(nd):
      total = max((-(-x.shape[2 + i] // stride[i]) - 1) * stride[i] + dilation[i] * (k[i] - 1) + 1 - x.shape[2 + i], 0)
      pads.append((total // 2, total - total // 2))
  else:
    pads = [(p, p) for p in _per_axis(padding, nd)]
  x = np.pad(x, [(0, 0), (0, 0)] + pads)
  N, C, cout = x.shape[0], x.shape[1], w.shape[0]
  cin_g, cout_g = C // groups, cout // groups
  osz = [(x.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
  out = np.zeros((N, cout, *osz))
  for g in range(groups):
    xs, ws = x[:, g * cin_g:(g + 1) * cin_g], w[g * cout_g:(g + 1) * cout_g]
    for pos in np.ndindex(*osz):
      sl = tuple(slice(pos[i] * stride[i], pos[i] * stride[i] + dilation[i] * (k[i] - 1) + 1, dilation[i]) for i in range(nd))
      patch = xs[(slice(None), slice(None)) + sl]
      out[(slice(None), slice(g * cout_g, (g + 1) * cout_g)) + pos] = np.tensordot(patch, ws, axes=(list(range(1, nd + 2)), list(range(1, nd + 2))))
  if b is not None: out = out + b.reshape((1, -1) + (1,) * nd)
  return out


def _np_conv_transpose(x, w, b=None, groups=1, stride=1, dilation=1, padding=0, output_padding=0):
  nd = w.ndim - 2
  stride, dilation = _per_axis(stride, nd), _per_axis(dilation, nd)
  padding, output_padding = _per_axis(padding, nd), _per_axis(output_padding, nd)
  N, cin = x.shape[:2]
  cin_g, cout_g = cin // groups, w.shape[1]
  k = w.shape[2:]
  full = [(x.shape[2 + i] - 1) * stride[i] + dilation[i] * (k[i] - 1) + 1 + output_padding[i] for i in range(nd)]
  out = np.zeros((N, cout_g * groups, *full))
  for g in range(groups):
    for pos in np.ndindex(*x.shape[2:]):
      for kk in np.ndindex(*k):
        o = tuple(pos[i] * stride[i] + kk[i] * dilation[i] for i in range(nd))
        xv = x[(slice(None), slice(g * cin_g, (g + 1) * cin_g)) + pos]            # (N, cin_g)
        wv = w[(slice(g * cin_g, (g + 1) * cin_g), slice(None)) + kk]              # (cin_g, cout_g)
        out[(slice(None), slice(g * cout_g, (g + 1) * cout_g)) + o] += xv @ wv
  out = out[(slice(None), slice(None)) + tuple(slice(padding[i], full[i] - padding[i]) for i in range(nd))]
  if b is not None: out = out + b.reshape((1, -1) + (1,) * nd)
  return out


def _np_pool(x, kernel_size, stride, dilation, padding, ceil_mode, kind, count_include_pad=True):
  nd = len(kernel_size)
  k = kernel_size
  stride = _per_axis(stride if stride is not None else k, nd)
  dilation, pad = _per_axis(dilation, nd), _per_axis(padding, nd)
  lead = x.ndim - nd
  size = [x.shape[lead + i] for i in range(nd)]
  osz = []
  for i in range(nd):
    span = size[i] + 2 * pad[i] - dilation[i] * (k[i] - 1) - 1
    o = (-(-span // stride[i]) if ceil_mode else span // stride[i]) + 1
    if ceil_mode and (o - 1) * stride[i] >= size[i] + pad[i]: o -= 1  # the last window starts in the input or left pad
    osz.append(o)
  fill = -np.inf if kind == "max" else 0.0
  extra = [max(0, (osz[i] - 1) * stride[i] + dilation[i] * (k[i] - 1) + 1 - size[i] - 2 * pad[i]) for i in range(nd)]
  xp = np.pad(x.astype(np.float64), [(0, 0)] * lead + [(pad[i], pad[i] + extra[i]) for i in range(nd)], constant_values=fill)
  ones = np.pad(np.ones(size), [(pad[i], pad[i] + extra[i]) for i in range(nd)])           # real elements
  inpad = np.pad(np.ones([size[i] + 2 * pad[i] for i in range(nd)]), [(0, extra[i]) for i in range(nd)])  # or padding
  out = np.zeros(x.shape[:lead] + tuple(osz))
  for pos in np.ndindex(*osz):
    sl = tuple(slice(pos[i] * stride[i], pos[i] * stride[i] + dilation[i] * (k[i] - 1) + 1, dilation[i]) for i in range(nd))
    win = xp[(Ellipsis,) + sl]
    axes = tuple(range(lead, lead + nd))
    if kind == "max": out[(Ellipsis,) + pos] = win.max(axis=axes)
    else:
      cnt = inpad[sl].sum() if count_include_pad else ones[sl].sum()
      out[(Ellipsis,) + pos] = win.sum(axis=axes) / cnt
  return out


def _np_adaptive(x, out_size, kind):
  nd = len(out_size)
  lead = x.ndim - nd
  out = np.zeros(x.shape[:lead] + tuple(out_size))
  for pos in np.ndindex(*out_size):
    sl = tuple(slice((pos[i] * x.shape[lead + i]) // out_size[i], -(-((pos[i] + 1) * x.shape[lead + i]) // out_size[i]))
               for i in range(nd))
    win = x[(Ellipsis,) + sl]
    axes = tuple(range(lead, lead + nd))
    out[(Ellipsis,) + pos] = win.max(axis=axes) if kind == "max" else win.mean(axis=axes)
  return out


def _np_interpolate(x, size, mode="linear", align_corners=False):
  size = _per_axis(size, 1) if not isinstance(size, (tuple, list)) else tuple(size)
  nd = len(size)
  for i in range(nd):
    ax = x.ndim - nd + i
    I, O = x.shape[ax], size[i]
    o = np.arange(O)
    if mode == "nearest": src = np.minimum((o * I) // O, I - 1); x = np.take(x, src, axis=ax); continue
    if mode == "nearest-exact": src = np.minimum(np.floor((o + 0.5) * I / O).astype(int), I - 1); x = np.take(x, src, axis=ax); continue
    pos = o * (I - 1) / (O - 1) if align_corners and O > 1 else np.maximum((o + 0.5) * I / O - 0.5, 0) if not align_corners else np.zeros(O)
    lo = np.minimum(np.floor(pos).astype(int), I - 1)
    hi = np.minimum(lo + 1, I - 1)
    t = (pos - lo).reshape((-1,) + (1,) * (x.ndim - 1 - ax))
    x = np.take(x, lo, axis=ax) * (1 - t) + np.take(x, hi, axis=ax) * t
  return x


def _reduce_np(l, reduction):
  return l.mean() if reduction == "mean" else l.sum() if reduction == "sum" else l


class _NP:
  name = "numpy"
  conv2d = conv1d = staticmethod(_np_conv)
  conv_transpose2d = conv_transpose1d = staticmethod(_np_conv_transpose)
  max_pool2d = staticmethod(lambda x, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False:
                            _np_pool(x, _per_axis(kernel_size, 2), stride, dilation, padding, ceil_mode, "max"))
  max_pool1d = staticmethod(lambda x, kernel_size=2, stride=None, dilation=1, padding=0, ceil_mode=False:
                            _np_pool(x, _per_axis(kernel_size, 1), stride, dilation, padding, ceil_mode, "max"))
  avg_pool2d = staticmethod(lambda x, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False, count_include_pad=True:
                            _np_pool(x, _per_axis(kernel_size, 2), stride, dilation, padding, ceil_mode, "avg", count_include_pad))
  avg_pool1d = staticmethod(lambda x, kernel_size=2, stride=None, dilation=1, padding=0, ceil_mode=False, count_include_pad=True:
                            _np_pool(x, _per_axis(kernel_size, 1), stride, dilation, padding, ceil_mode, "avg", count_include_pad))
  adaptive_avg_pool2d = staticmethod(lambda x, s: _np_adaptive(x, _per_axis(s, 2), "avg"))
  adaptive_max_pool2d = staticmethod(lambda x, s: _np_adaptive(x, _per_axis(s, 2), "max"))
  adaptive_avg_pool1d = staticmethod(lambda x, s: _np_adaptive(x, _per_axis(s, 1), "avg"))
  interpolate = staticmethod(_np_interpolate)
  layer_norm = staticmethod(lambda x, shape, w=None, b=None, eps=1e-5: (lambda y: y * (1 if w is None else w) + (0 if b is None else b))(
      _NP.layernorm(x, tuple(range(-len(shape), 0)), eps)))
  group_norm = staticmethod(lambda x, g, w=None, b=None, eps=1e-5: (lambda y: y * (1 if w is None else w.reshape((1, -1) + (1,) * (x.ndim - 2)))
                                                                      + (0 if b is None else b.reshape((1, -1) + (1,) * (x.ndim - 2))))(
      _NP.layernorm(x.reshape(x.shape[0], g, -1), -1, eps).reshape(x.shape)))
  rms_norm = staticmethod(lambda x, shape, w=None, eps=1e-6: x / np.sqrt(np.mean(x * x, axis=tuple(range(-len(shape), 0)), keepdims=True) + eps) * (1 if w is None else w))
  batchnorm = staticmethod(lambda x, w, b, mean, invstd, axis=1: (lambda sh: (x - mean.reshape(sh)) * invstd.reshape(sh) * (1 if w is None else w.reshape(sh)) + (0 if b is None else b.reshape(sh)))(
      tuple(-1 if i == axis else 1 for i in range(x.ndim))))
  mse_loss = staticmethod(lambda x, y, reduction="mean": _reduce_np((x - y) ** 2, reduction))
  l1_loss = staticmethod(lambda x, y, reduction="mean": _reduce_np(np.abs(x - y), reduction))
  smooth_l1_loss = staticmethod(lambda x, y, beta=1.0, reduction="mean": _reduce_np(np.where(np.abs(x - y) < beta, 0.5 * (x - y) ** 2 / beta, np.abs(x - y) - 0.5 * beta), reduction))
  huber_loss = staticmethod(lambda x, y, delta=1.0, reduction="mean": _reduce_np(np.where(np.abs(x - y) < delta, 0.5 * (x - y) ** 2, delta * (np.abs(x - y) - 0.5 * delta)), reduction))

  @staticmethod
  def cross_entropy(x, y, reduction="mean", label_smoothing=0.0):
    lp = _NP.log_softmax(x, 1)
    c = x.shape[1]
    if y.shape == x.shape: t = y * (1 - label_smoothing) + label_smoothing / c
    else: t = np.moveaxis(np.eye(c)[y.astype(np.int64)], -1, 1) * (1 - label_smoothing) + label_smoothing / c
    return _reduce_np(-(lp * t).sum(1), reduction)

  @staticmethod
  def nll_loss(lp, y, reduction="mean"):
    l = -np.take_along_axis(lp, np.expand_dims(y.astype(np.int64), 1), axis=1).squeeze(1)
    return _reduce_np(l, reduction)
  # construction
  tensor = staticmethod(lambda data, dtype=None: np.array(data, dtype=dtype))
  arange = staticmethod(lambda *a, dtype=None: np.arange(*a, dtype=dtype))
  linspace = staticmethod(lambda a, b, n: np.linspace(a, b, n, dtype=np.float32))
  eye = staticmethod(lambda n, m=None: np.eye(n, m, dtype=np.float32))
  full = staticmethod(lambda shape, v, dtype=None: np.full(shape, v, dtype=dtype))
  zeros = staticmethod(lambda *s: np.zeros(s, np.float32))
  ones = staticmethod(lambda *s: np.ones(s, np.float32))
  # unary
  neg = staticmethod(lambda x: -x)
  reciprocal = staticmethod(lambda x: 1 / x)
  sqrt, exp, exp2, log, log2, log10 = np.sqrt, np.exp, np.exp2, np.log, np.log2, np.log10
  log1p, expm1, sin, cos, tan = np.log1p, np.expm1, np.sin, np.cos, np.tan
  asin, acos, atan, sinh, cosh, tanh = np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh
  asinh, acosh, atanh = np.arcsinh, np.arccosh, np.arctanh
  rsqrt = staticmethod(lambda x: 1 / np.sqrt(x))
  relu = staticmethod(lambda x: np.maximum(x, 0))
  sigmoid = staticmethod(_sigmoid)
  abs, sign, square = np.abs, np.sign, np.square
  trunc, floor, ceil = np.trunc, np.floor, np.ceil
  round = staticmethod(np.round)
  erf = staticmethod(_erf)
  gelu = staticmethod(lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
  gelu_exact = staticmethod(lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))))
  quick_gelu = staticmethod(lambda x: x * _sigmoid(1.702 * x))
  silu = swish = staticmethod(lambda x: x * _sigmoid(x))
  mish = staticmethod(lambda x: x * np.tanh(_softplus(x)))
  selu = staticmethod(lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)))
  relu6 = staticmethod(lambda x: np.clip(x, 0, 6))
  hardswish = staticmethod(lambda x: x * np.clip(x + 3, 0, 6) / 6)
  softsign = staticmethod(lambda x: x / (1 + np.abs(x)))
  logsigmoid = staticmethod(lambda x: -_softplus(-x))
  softplus = staticmethod(_softplus)
  elu = staticmethod(lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)))
  celu = staticmethod(lambda x, alpha=1.0: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)))
  leaky_relu = staticmethod(lambda x, neg_slope=0.01: np.where(x > 0, x, neg_slope * x))
  hardtanh = staticmethod(lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val))
  hardsigmoid = staticmethod(lambda x: np.clip(x / 6 + 0.5, 0, 1))
  isnan, isinf, isfinite = np.isnan, np.isinf, np.isfinite
  logical_not = np.logical_not
  bitwise_not = np.invert
  cast = staticmethod(lambda x, dt: _bf16_round(x) if dt == "bfloat16" else x.astype(dt))
  float = staticmethod(lambda x: x.astype(np.float32))
  int = staticmethod(lambda x: x.astype(np.int32))
  bool = staticmethod(lambda x: x.astype(np.bool_))
  half = staticmethod(lambda x: x.astype(np.float16))
  # binary
  maximum, minimum = np.maximum, np.minimum
  idiv = staticmethod(_np_trunc_div)
  mod = staticmethod(np.mod)
  floordiv = staticmethod(lambda a, b: np.floor_divide(a, b))
  pow = staticmethod(np.power)
  logical_and, logical_or, logical_xor = np.logical_and, np.logical_or, np.logical_xor
  bitwise_and, bitwise_or, bitwise_xor = np.bitwise_and, np.bitwise_or, np.bitwise_xor
  lshift, rshift = np.left_shift, np.right_shift
  copysign = np.copysign
  where = staticmethod(np.where)
  lerp = staticmethod(lambda a, b, w: a + w * (b - a))
  clip = staticmethod(lambda x, lo=None, hi=None: np.clip(x, lo, hi))
  matmul = staticmethod(np.matmul)
  dot = staticmethod(np.matmul)
  linear = staticmethod(lambda x, w, b=None: x @ w + (0 if b is None else b))
  einsum = staticmethod(lambda f, *xs: np.einsum(f, *xs))
  # reductions
  sum = staticmethod(lambda x, axis=None, keepdim=False: np.sum(x, axis=_ax(axis), keepdims=keepdim))
  prod = staticmethod(lambda x, axis=None, keepdim=False: np.prod(x, axis=_ax(axis), keepdims=keepdim))
  max = staticmethod(lambda x, axis=None, keepdim=False: np.max(x, axis=_ax(axis), keepdims=keepdim))
  min = staticmethod(lambda x, axis=None, keepdim=False: np.min(x, axis=_ax(axis), keepdims=keepdim))
  mean = staticmethod(lambda x, axis=None, keepdim=False: np.mean(x, axis=_ax(axis), keepdims=keepdim))
  var = staticmethod(lambda x, axis=None, keepdim=False, correction=1:
                     np.var(x, axis=_ax(axis), keepdims=keepdim, ddof=correction))
  std = staticmethod(lambda x, axis=None, keepdim=False, correction=1:
                     np.std(x, axis=_ax(axis), keepdims=keepdim, ddof=correction))
  any = staticmethod(lambda x, axis=None, keepdim=False: np.any(x, axis=_ax(axis), keepdims=keepdim))
  all = staticmethod(lambda x, axis=None, keepdim=False: np.all(x, axis=_ax(axis), keepdims=keepdim))
  argmax = staticmethod(lambda x, axis=None, keepdim=False: np.argmax(x, axis=axis, keepdims=keepdim))
  argmin = staticmethod(lambda x, axis=None, keepdim=False: np.argmin(x, axis=axis, keepdims=keepdim))

  @staticmethod
  def logsumexp(x, axis=None, keepdim=False):
    m = np.max(x, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdim else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))

  @staticmethod
  def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)

  @staticmethod
  def log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))

  cumsum = staticmethod(lambda x, axis=0: np.cumsum(x, axis=axis))
  cumprod = staticmethod(lambda x, axis=0: np.cumprod(x, axis=axis))
  cummax = staticmethod(lambda x, axis=0: np.maximum.accumulate(x, axis=axis))
  cummin = staticmethod(lambda x, axis=0: np.minimum.accumulate(x, axis=axis))
  sort_values = staticmethod(lambda x, dim=-1, descending=False:
                             np.take_along_axis(x, _stable_argsort(x, dim, descending), axis=dim))
  sort_indices = staticmethod(lambda x, dim=-1, descending=False: _stable_argsort(x, dim, descending))
  argsort = staticmethod(lambda x, dim=-1, descending=False: _stable_argsort(x, dim, descending))
  topk_values = staticmethod(lambda x, k, dim=-1, largest=True: np.take_along_axis(
      x, np.take(_stable_argsort(x, dim, largest), range(k), axis=dim), axis=dim))
  topk_indices = staticmethod(lambda x, k, dim=-1, largest=True:
                              np.take(_stable_argsort(x, dim, largest), range(k), axis=dim))
  # movement
  reshape = staticmethod(lambda x, *s: np.reshape(x, s[0] if len(s) == 1 and isinstance(s[0], tuple) else s))
  permute = staticmethod(lambda x, *o: np.transpose(x, o))
  expand = staticmethod(lambda x, *s: np.broadcast_to(x, s))
  flip = staticmethod(lambda x, *a: np.flip(x, a))
  pad = staticmethod(_np_pad)
  shrink = staticmethod(lambda x, arg: x[tuple(slice(a, b) if (a, b) != (None, None) else slice(None)
                                                for a, b in [(None, None) if p is None else p for p in arg])])
  transpose = staticmethod(lambda x, a=1, b=0: np.swapaxes(x, a, b))
  squeeze = staticmethod(lambda x, dim=None: np.squeeze(x, axis=dim) if dim is None or x.shape[dim] == 1 else x)
  unsqueeze = staticmethod(lambda x, dim: np.expand_dims(x, dim))
  flatten = staticmethod(lambda x, start_dim=0, end_dim=-1: x.reshape(
      x.shape[:start_dim] + (-1,) + x.shape[(end_dim % max(x.ndim, 1)) + 1:]) if x.ndim else x.reshape(1))
  unflatten = staticmethod(lambda x, dim, sizes: x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:]))
  repeat = staticmethod(lambda x, *r: np.tile(x, r))
  repeat_interleave = staticmethod(lambda x, r, dim=None: np.repeat(x, r, axis=dim))
  roll = staticmethod(lambda x, shifts, dims=None: np.roll(x, shifts, axis=dims))
  movedim = staticmethod(lambda x, s, d: np.moveaxis(x, s, d))
  contiguous = staticmethod(lambda x: x)
  cat = staticmethod(lambda ts, dim=0: np.concatenate(ts, axis=dim))
  stack = staticmethod(lambda ts, dim=0: np.stack(ts, axis=dim))
  split_i = staticmethod(lambda x, sizes, dim, i: _np_split(x, sizes, dim)[i])
  chunk_i = staticmethod(lambda x, n, dim, i: _np_chunk(x, n, dim)[i])
  # indexing
  gather = staticmethod(_np_gather)
  scatter = staticmethod(_np_scatter)
  scatter_reduce = staticmethod(_np_scatter_reduce)
  masked_fill = staticmethod(lambda x, m, v: np.where(m, np.asarray(v, dtype=x.dtype), x))
  one_hot = staticmethod(lambda x, n=-1: np.eye(n if n > 0 else int(x.max()) + 1, dtype=np.int64)[x])
  tril = staticmethod(lambda x, diagonal=0: np.tril(x, diagonal))
  triu = staticmethod(lambda x, diagonal=0: np.triu(x, diagonal))

  @staticmethod
  def setitem(x, idx, v):
    y = x.copy()
    y[idx] = v
    return y

  # losses and normalization (femtograd's Python composites)
  @staticmethod
  def sparse_categorical_crossentropy(x, y):
    return -np.mean(np.take_along_axis(_NP.log_softmax(x, -1), y[..., None].astype(np.int64), axis=-1))

  @staticmethod
  def binary_crossentropy(p, y): return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
  @staticmethod
  def binary_crossentropy_logits(x, y): return np.mean(-(y * -_softplus(-x) + (1 - y) * -_softplus(x)))

  @staticmethod
  def layernorm(x, axis=-1, eps=1e-5):
    m = np.mean(x, axis=axis, keepdims=True)
    return (x - m) / np.sqrt(np.var(x, axis=axis, keepdims=True) + eps)

  @staticmethod
  def scaled_dot_product_attention(q, k, v, is_causal=False):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if is_causal: s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    return _NP.softmax(s, -1) @ v


NP = _NP()


# ---------------------------------------------------------------- PyTorch (when installed)


def torch_adapter():
  """F for PyTorch: torch functions, with tinygrad's argument names mapped to PyTorch's."""
  import torch
  import torch.nn.functional as tF

  def dimkw(axis):
    return {} if axis is None else {"dim": axis}

  class _TORCH:
    name = "torch"

    def __getattr__(self, name):
      f = getattr(torch, name, None)
      if f is None: raise AttributeError(f"torch has no {name}")
      return f

    tensor = staticmethod(lambda data, dtype=None: torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None))
    neg = staticmethod(torch.neg)
    reciprocal, rsqrt, erf = staticmethod(torch.reciprocal), staticmethod(torch.rsqrt), staticmethod(torch.erf)
    relu, sigmoid = staticmethod(torch.relu), staticmethod(torch.sigmoid)
    gelu = staticmethod(lambda x: tF.gelu(x, approximate="tanh"))
    gelu_exact = staticmethod(lambda x: tF.gelu(x))
    quick_gelu = staticmethod(lambda x: x * torch.sigmoid(1.702 * x))
    silu = swish = staticmethod(tF.silu)
    mish, selu, relu6, hardswish = staticmethod(tF.mish), staticmethod(tF.selu), staticmethod(tF.relu6), staticmethod(tF.hardswish)
    softsign, logsigmoid = staticmethod(tF.softsign), staticmethod(tF.logsigmoid)
    softplus = staticmethod(lambda x, beta=1.0: tF.softplus(x, beta))
    elu = staticmethod(lambda x, alpha=1.0: tF.elu(x, alpha))
    celu = staticmethod(lambda x, alpha=1.0: tF.celu(x, alpha))
    leaky_relu = staticmethod(lambda x, neg_slope=0.01: tF.leaky_relu(x, neg_slope))
    hardtanh = staticmethod(lambda x, min_val=-1.0, max_val=1.0: tF.hardtanh(x, min_val, max_val))
    hardsigmoid = staticmethod(tF.hardsigmoid)
    idiv = staticmethod(lambda a, b: torch.div(a, b, rounding_mode="trunc"))
    mod = staticmethod(torch.remainder)
    floordiv = staticmethod(lambda a, b: torch.div(a, b, rounding_mode="floor"))
    lshift = staticmethod(torch.bitwise_left_shift)
    rshift = staticmethod(torch.bitwise_right_shift)
    lerp = staticmethod(lambda a, b, w: a + w * (b - a))
    clip = staticmethod(lambda x, lo=None, hi=None: torch.clamp(x, lo, hi))
    linear = staticmethod(lambda x, w, b=None: x @ w + (0 if b is None else b))
    cast = staticmethod(lambda x, dt: x.to(getattr(torch, dt)))
    float = staticmethod(lambda x: x.float())
    int = staticmethod(lambda x: x.int())
    bool = staticmethod(lambda x: x.bool())
    half = staticmethod(lambda x: x.half())
    sum = staticmethod(lambda x, axis=None, keepdim=False: torch.sum(x, **dimkw(axis), keepdim=keepdim) if axis is not None else torch.sum(x))
    prod = staticmethod(lambda x, axis=None, keepdim=False: torch.prod(x, dim=axis, keepdim=keepdim) if isinstance(axis, int) else torch.prod(x))
    max = staticmethod(lambda x, axis=None, keepdim=False: torch.amax(x, dim=axis, keepdim=keepdim) if axis is not None else torch.max(x))
    min = staticmethod(lambda x, axis=None, keepdim=False: torch.amin(x, dim=axis, keepdim=keepdim) if axis is not None else torch.min(x))
    mean = staticmethod(lambda x, axis=None, keepdim=False: torch.mean(x, **dimkw(axis), keepdim=keepdim) if axis is not None else torch.mean(x))
    var = staticmethod(lambda x, axis=None, keepdim=False, correction=1: torch.var(x, dim=axis, keepdim=keepdim, correction=correction))
    std = staticmethod(lambda x, axis=None, keepdim=False, correction=1: torch.std(x, dim=axis, keepdim=keepdim, correction=correction))
    any = staticmethod(lambda x, axis=None, keepdim=False: torch.any(x, dim=axis, keepdim=keepdim) if axis is not None else torch.any(x))
    all = staticmethod(lambda x, axis=None, keepdim=False: torch.all(x, dim=axis, keepdim=keepdim) if axis is not None else torch.all(x))
    argmax = staticmethod(lambda x, axis=None, keepdim=False: torch.argmax(x, dim=axis, keepdim=keepdim))
    argmin = staticmethod(lambda x, axis=None, keepdim=False: torch.argmin(x, dim=axis, keepdim=keepdim))
    logsumexp = staticmethod(lambda x, axis=None, keepdim=False: torch.logsumexp(x, dim=axis if axis is not None else tuple(range(x.ndim)), keepdim=keepdim))
    softmax = staticmethod(lambda x, axis=-1: torch.softmax(x, axis))
    log_softmax = staticmethod(lambda x, axis=-1: torch.log_softmax(x, axis))
    cumsum = staticmethod(lambda x, axis=0: torch.cumsum(x, axis))
    cumprod = staticmethod(lambda x, axis=0: torch.cumprod(x, axis))
    cummax = staticmethod(lambda x, axis=0: torch.cummax(x, axis)[0])
    cummin = staticmethod(lambda x, axis=0: torch.cummin(x, axis)[0])
    sort_values = staticmethod(lambda x, dim=-1, descending=False: torch.sort(x, dim=dim, descending=descending, stable=True)[0])
    sort_indices = staticmethod(lambda x, dim=-1, descending=False: torch.sort(x, dim=dim, descending=descending, stable=True)[1])
    argsort = staticmethod(lambda x, dim=-1, descending=False: torch.sort(x, dim=dim, descending=descending, stable=True)[1])
    topk_values = staticmethod(lambda x, k, dim=-1, largest=True: torch.topk(x, k, dim, largest)[0])
    topk_indices = staticmethod(lambda x, k, dim=-1, largest=True: torch.topk(x, k, dim, largest)[1])
    reshape = staticmethod(lambda x, *s: x.reshape(*s))
    permute = staticmethod(lambda x, *o: x.permute(*o))
    expand = staticmethod(lambda x, *s: x.expand(*s))
    flip = staticmethod(lambda x, *a: torch.flip(x, a))
    shrink = staticmethod(lambda x, arg: x[tuple(slice(None) if p is None else slice(*p) for p in arg)])
    transpose = staticmethod(lambda x, a=1, b=0: x.transpose(a, b))
    squeeze = staticmethod(lambda x, dim=None: x.squeeze() if dim is None else x.squeeze(dim))
    flatten = staticmethod(lambda x, start_dim=0, end_dim=-1: x.flatten(start_dim, end_dim))
    repeat = staticmethod(lambda x, *r: x.repeat(*r))
    roll = staticmethod(lambda x, shifts, dims=None: torch.roll(x, shifts, dims))
    contiguous = staticmethod(lambda x: x.contiguous())
    cat = staticmethod(lambda ts, dim=0: torch.cat(ts, dim))
    stack = staticmethod(lambda ts, dim=0: torch.stack(ts, dim))
    split_i = staticmethod(lambda x, sizes, dim, i: torch.split(x, sizes, dim)[i])
    chunk_i = staticmethod(lambda x, n, dim, i: torch.chunk(x, n, dim)[i])
    scatter = staticmethod(lambda x, dim, index, src, reduce=None: x.scatter(dim, index, src, **({"reduce": reduce} if reduce else {})))
    scatter_reduce = staticmethod(lambda x, dim, index, src, reduce, include_self=True: x.scatter_reduce(dim, index, src, reduce, include_self=include_self))
    masked_fill = staticmethod(lambda x, m, v: x.masked_fill(m, v))
    one_hot = staticmethod(lambda x, n=-1: tF.one_hot(x.long(), n))
    where = staticmethod(torch.where)

    @staticmethod
    def pad(x, padding, mode="constant", value=0.0):
      flat = [p for pair in reversed(padding) for p in pair]
      return tF.pad(x, flat, mode=mode, value=value) if mode == "constant" else tF.pad(x[None], flat, mode=mode)[0]

    @staticmethod
    def setitem(x, idx, v):
      y = x.clone()
      y[idx] = v
      return y

    conv2d = conv1d = staticmethod(lambda x, w, b=None, groups=1, stride=1, dilation=1, padding=0:
                                   (tF.conv2d if w.ndim == 4 else tF.conv1d)(x, w, b, stride, padding, dilation, groups))
    conv_transpose2d = conv_transpose1d = staticmethod(lambda x, w, b=None, groups=1, stride=1, dilation=1, padding=0, output_padding=0:
        (tF.conv_transpose2d if w.ndim == 4 else tF.conv_transpose1d)(x, w, b, stride, padding, output_padding, groups, dilation))
    max_pool2d = staticmethod(lambda x, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False:
                              tF.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode))
    max_pool1d = staticmethod(lambda x, kernel_size=2, stride=None, dilation=1, padding=0, ceil_mode=False:
                              tF.max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode))
    avg_pool2d = staticmethod(lambda x, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False, count_include_pad=True:
                              tF.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad) if dilation == 1 else None)
    avg_pool1d = staticmethod(lambda x, kernel_size=2, stride=None, dilation=1, padding=0, ceil_mode=False, count_include_pad=True:
                              tF.avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad) if dilation == 1 else None)
    adaptive_avg_pool2d, adaptive_max_pool2d = staticmethod(tF.adaptive_avg_pool2d), staticmethod(tF.adaptive_max_pool2d)
    adaptive_avg_pool1d = staticmethod(tF.adaptive_avg_pool1d)
    interpolate = staticmethod(lambda x, size, mode="linear", align_corners=False: tF.interpolate(
        x, size, mode={"linear": {3: "linear", 4: "bilinear", 5: "trilinear"}[x.ndim]}.get(mode, mode),
        align_corners=align_corners if mode == "linear" else None))
    layer_norm = staticmethod(lambda x, shape, w=None, b=None, eps=1e-5: tF.layer_norm(x, shape, w, b, eps))
    group_norm = staticmethod(lambda x, g, w=None, b=None, eps=1e-5: tF.group_norm(x, g, w, b, eps))
    rms_norm = staticmethod(lambda x, shape, w=None, eps=1e-6: tF.rms_norm(x, shape, w, eps))
    batchnorm = staticmethod(lambda x, w, b, mean, invstd, axis=1: tF.batch_norm(x, mean, 1 / invstd ** 2, w, b, eps=0.0))
    mse_loss = staticmethod(lambda x, y, reduction="mean": tF.mse_loss(x, y, reduction=reduction))
    l1_loss = staticmethod(lambda x, y, reduction="mean": tF.l1_loss(x, y, reduction=reduction))
    smooth_l1_loss = staticmethod(lambda x, y, beta=1.0, reduction="mean": tF.smooth_l1_loss(x, y, reduction=reduction, beta=beta))
    huber_loss = staticmethod(lambda x, y, delta=1.0, reduction="mean": tF.huber_loss(x, y, reduction=reduction, delta=delta))
    cross_entropy = staticmethod(lambda x, y, reduction="mean", label_smoothing=0.0: tF.cross_entropy(
        x, y if y.dtype.is_floating_point else y.long(), reduction=reduction, label_smoothing=label_smoothing))
    nll_loss = staticmethod(lambda lp, y, reduction="mean": tF.nll_loss(lp, y.long(), reduction=reduction))
    sparse_categorical_crossentropy = staticmethod(lambda x, y: tF.cross_entropy(x.reshape(-1, x.shape[-1]), y.reshape(-1).long()))
    binary_crossentropy = staticmethod(tF.binary_cross_entropy)
    binary_crossentropy_logits = staticmethod(tF.binary_cross_entropy_with_logits)
    layernorm = staticmethod(lambda x, axis=-1, eps=1e-5: tF.layer_norm(x, x.shape[axis:] if axis == -1 else x.shape, eps=eps))
    scaled_dot_product_attention = staticmethod(lambda q, k, v, is_causal=False: tF.scaled_dot_product_attention(q, k, v, is_causal=is_causal))

  return _TORCH()


# ---------------------------------------------------------------- the table

CASES: list[Case] = []
_seen: set = set()


def case(op: str, fn, shapes, dtype="float32", tag="", **kw) -> None:
  shapes = tuple(tuple(s) for s in shapes)
  cid = f"{op}{'-' + tag if tag else ''}[{dtype}]" + "x".join(str(s).replace(" ", "") for s in shapes)
  if kw.get("grad"): cid += "-grad"
  assert cid not in _seen, f"duplicate case id {cid}"
  _seen.add(cid)
  CASES.append(Case(cid, op, fn, shapes, dtype, **kw))


F32, F16, F64, I32, BOOL = "float32", "float16", "float64", "int32", "bool"

# -- unary float ops: (name, low, high, differentiable)
UNARY = [
    ("neg", -3, 3, True), ("reciprocal", 0.5, 3, True), ("sqrt", 0.1, 4, True), ("rsqrt", 0.2, 4, True),
    ("exp", -3, 3, True), ("exp2", -3, 3, True), ("log", 0.1, 4, True), ("log2", 0.1, 4, True),
    ("log10", 0.1, 4, True), ("log1p", -0.5, 3, True), ("expm1", -2, 2, True), ("sin", -4, 4, True),
    ("cos", -4, 4, True), ("tan", -1.2, 1.2, True), ("asin", -0.9, 0.9, True), ("acos", -0.9, 0.9, True),
    ("atan", -3, 3, True), ("sinh", -2, 2, True), ("cosh", -2, 2, True), ("tanh", -3, 3, True),
    ("asinh", -3, 3, True), ("acosh", 1.2, 4, True), ("atanh", -0.9, 0.9, True), ("relu", -2, 2, True),
    ("sigmoid", -4, 4, True), ("abs", -2, 2, True), ("square", -2, 2, True), ("erf", -2, 2, True),
    ("gelu", -3, 3, True), ("gelu_exact", -3, 3, True), ("quick_gelu", -3, 3, True), ("silu", -3, 3, True),
    ("swish", -3, 3, True), ("mish", -3, 3, True), ("selu", -2, 2, True), ("relu6", -3, 8, True),
    ("hardswish", -4, 4, True), ("softsign", -3, 3, True), ("logsigmoid", -5, 5, True), ("softplus", -5, 5, True),
    ("elu", -2, 2, True), ("celu", -2, 2, True), ("leaky_relu", -2, 2, True), ("hardtanh", -2, 2, True),
    ("hardsigmoid", -4, 4, True), ("sign", -2, 2, False), ("trunc", -4, 4, False), ("floor", -4, 4, False),
    ("ceil", -4, 4, False), ("round", -4, 4, False),
]
for name, lo, hi, diff in UNARY:
  f = (lambda n: lambda F, x: getattr(F, n)(x))(name)
  case(name, f, [(3, 5)], F32, grad=diff, low=lo, high=hi, needs=name)
  case(name, f, [(7,)], F32, low=lo, high=hi, needs=name)
  case(name, f, [()], F32, grad=diff, low=lo, high=hi, needs=name)
  case(name, f, [(0, 4)], F32, low=lo, high=hi, needs=name)
  case(name, f, [(2, 3)], F16, low=lo, high=hi, needs=name)
  case(name, f, [(5,)], F64, low=lo, high=hi, needs=name)

# unary ops with arguments
for tag, fn, lo, hi in [
    ("beta2", lambda F, x: F.softplus(x, 2.0), -3, 3), ("alpha0.5", lambda F, x: F.elu(x, 0.5), -2, 2),
    ("alpha2", lambda F, x: F.celu(x, 2.0), -2, 2), ("slope0.2", lambda F, x: F.leaky_relu(x, 0.2), -2, 2),
    ("range", lambda F, x: F.hardtanh(x, -0.5, 0.5), -2, 2)]:
  op = tag and {"beta2": "softplus", "alpha0.5": "elu", "alpha2": "celu", "slope0.2": "leaky_relu", "range": "hardtanh"}[tag]
  case(op, fn, [(4, 3)], F32, tag=tag, grad=True, low=lo, high=hi, needs=op)

# special values: nan / inf in, bool out
for name in ["isnan", "isinf", "isfinite"]:
  case(name, (lambda n: lambda F, x: getattr(F, n)(x))(name), [(4, 6)], F32, special=True, needs=name)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x))(name), [(3,)], F16, special=True, needs=name)
case("relu", lambda F, x: F.relu(x), [(4, 6)], F32, tag="nan", special=True)
case("max", lambda F, x: F.max(x, axis=1), [(4, 6)], F32, tag="nan", special=True, torch_ok=False)
case("exp", lambda F, x: F.exp(x), [(4, 6)], F32, tag="inf", special=True)

# int and bool unary
for dt in [I32, "int8", "int64", "uint8"]:
  case("neg", lambda F, x: -x, [(3, 4)], dt, ilow=0 if dt == "uint8" else -10) if dt != "uint8" else None
  case("abs", lambda F, x: F.abs(x), [(3, 4)], dt, ilow=0 if dt == "uint8" else -10)
  case("square", lambda F, x: F.square(x), [(3, 4)], dt, ilow=0 if dt == "uint8" else -10)
  case("bitwise_not", lambda F, x: ~x, [(3, 4)], dt, ilow=0 if dt == "uint8" else -10)
  case("sign", lambda F, x: F.sign(x), [(3, 4)], dt, ilow=0 if dt == "uint8" else -10, needs="sign")
case("logical_not", lambda F, x: F.logical_not(x), [(3, 4)], BOOL)
case("bitwise_not", lambda F, x: ~x, [(3, 4)], BOOL)
case("relu", lambda F, x: F.relu(x), [(3, 4)], I32)
case("sqrt", lambda F, x: F.sqrt(x), [(3, 4)], I32, ilow=0, tag="int_to_float")
case("exp", lambda F, x: F.exp(x), [(5,)], I32, ilow=-3, ihigh=3, tag="int_to_float")
case("sigmoid", lambda F, x: F.sigmoid(x), [(5,)], BOOL, tag="bool_to_float")

# -- binary ops: elementwise over broadcast shape pairs
PAIRS = [((3, 5), (3, 5)), ((3, 1), (1, 5)), ((), (4,)), ((2, 1, 3), (4, 1)), ((0, 3), (1, 3))]
BINARY = [  # name, fn, float domain (low, high) for the second input, differentiable
    ("add", lambda F, a, b: a + b, None, True), ("sub", lambda F, a, b: a - b, None, True),
    ("mul", lambda F, a, b: a * b, None, True), ("div", lambda F, a, b: a / b, (0.5, 2), True),
    ("maximum", lambda F, a, b: F.maximum(a, b), None, True), ("minimum", lambda F, a, b: F.minimum(a, b), None, True),
    ("pow", lambda F, a, b: F.pow(a, b), None, True), ("lt", lambda F, a, b: a < b, None, False),
    ("le", lambda F, a, b: a <= b, None, False), ("gt", lambda F, a, b: a > b, None, False),
    ("ge", lambda F, a, b: a >= b, None, False), ("eq", lambda F, a, b: a == b, None, False),
    ("ne", lambda F, a, b: a != b, None, False), ("copysign", lambda F, a, b: F.copysign(a, b), None, False),
    ("floordiv", lambda F, a, b: F.floordiv(a, b), (0.5, 2), False), ("mod", lambda F, a, b: a % b, (0.5, 2), False),
]
for name, fn, dom, diff in BINARY:
  lo, hi = (0.5, 2) if name == "pow" else (-2, 2)
  for i, shp in enumerate(PAIRS):
    case(name, fn, shp, F32, grad=diff and i in (0, 1), low=lo, high=hi, needs=name if name == "copysign" else None,
         extra={"low2": dom} if dom else {})
  case(name, fn, PAIRS[0], F16, low=lo, high=hi, extra={"low2": dom} if dom else {},
       needs=name if name == "copysign" else None)
  case(name, fn, PAIRS[1], F64, low=lo, high=hi, extra={"low2": dom} if dom else {},
       needs=name if name == "copysign" else None)
for name, fn in [("add", lambda F, a, b: a + b), ("sub", lambda F, a, b: a - b), ("mul", lambda F, a, b: a * b),
                 ("maximum", lambda F, a, b: F.maximum(a, b)), ("minimum", lambda F, a, b: F.minimum(a, b)),
                 ("lt", lambda F, a, b: a < b), ("eq", lambda F, a, b: a == b), ("ne", lambda F, a, b: a != b),
                 ("ge", lambda F, a, b: a >= b)]:
  for dt in [I32, "int64", "int8", "uint8"]:
    case(name, fn, PAIRS[0] if dt != "int64" else PAIRS[1], dt, ilow=0 if dt == "uint8" else -10)
for name, fn in [("idiv", lambda F, a, b: F.idiv(a, b)), ("mod", lambda F, a, b: a % b),
                 ("floordiv", lambda F, a, b: F.floordiv(a, b)), ("div", lambda F, a, b: a / b)]:
  for dt in [I32, "int64"]:
    case(name, fn, PAIRS[1], dt, tag="nonzero", extra={"nonzero2": True})
case("pow", lambda F, a, b: F.pow(a, b), PAIRS[0], I32, ilow=0, ihigh=4)
for name, fn in [("bitwise_and", lambda F, a, b: a & b), ("bitwise_or", lambda F, a, b: a | b),
                 ("bitwise_xor", lambda F, a, b: a ^ b)]:
  for dt in [I32, "uint8", BOOL]:
    case(name, fn, PAIRS[1] if dt == I32 else PAIRS[0], dt, ilow=0 if dt == "uint8" else -10)
for name, fn in [("lshift", lambda F, a, b: F.lshift(a, b)), ("rshift", lambda F, a, b: F.rshift(a, b))]:
  for dt in [I32, "uint8"]:
    case(name, fn, PAIRS[0], dt, ilow=0, ihigh=5)
for name in ["logical_and", "logical_or", "logical_xor"]:
  case(name, (lambda n: lambda F, a, b: getattr(F, n)(a, b))(name), PAIRS[0], BOOL, needs=name)
  case(name, (lambda n: lambda F, a, b: getattr(F, n)(a, b))(name), PAIRS[1], BOOL, needs=name)

# -- scalar operands (Python numbers; PyTorch's promotion pins the result dtype)
SCALAR_OPS = [
    ("add", lambda F, a: a + 2, "int32", I32), ("add", lambda F, a: a + 2.5, "float32", I32),
    ("radd", lambda F, a: 3 + a, "float32", F32), ("sub", lambda F, a: a - 1, "int32", I32),
    ("rsub", lambda F, a: 2 - a, "int32", I32), ("rsub", lambda F, a: 2.0 - a, "float32", F32),
    ("mul", lambda F, a: a * 2, "int32", I32), ("mul", lambda F, a: a * 0.5, "float32", I32),
    ("mul", lambda F, a: a * 3, "float16", F16), ("rmul", lambda F, a: 1.5 * a, "float32", F32),
    ("div", lambda F, a: a / 2, "float32", I32), ("rdiv", lambda F, a: 1 / a, "float32", F32),
    ("pow", lambda F, a: a ** 2, "float32", F32), ("pow", lambda F, a: a ** 0.5, "float32", F32),
    ("pow", lambda F, a: a ** 3, "int32", I32), ("rpow", lambda F, a: 2 ** a, "float32", F32),
    ("mod", lambda F, a: a % 3, "int32", I32), ("rmod", lambda F, a: 7 % a, "int32", I32),
    ("lt", lambda F, a: a < 0.5, "bool", F32), ("gt", lambda F, a: a > 1, "bool", I32),
    ("eq", lambda F, a: a == 2, "bool", I32), ("ne", lambda F, a: a != 0.0, "bool", F32),
    ("and", lambda F, a: a & 3, "int32", I32), ("or", lambda F, a: a | True, "bool", BOOL),
    ("xor", lambda F, a: a ^ 5, "int32", I32), ("lshift", lambda F, a: F.lshift(a, 2), "int32", I32),
    ("neg_scalar_mix", lambda F, a: -a * 2 + 1, "int32", I32), ("add", lambda F, a: a + True, "int32", I32),
    ("mul", lambda F, a: a * 2, None, BOOL), ("add", lambda F, a: a + 1, "uint8", "uint8"),
]
for i, (name, fn, out_dt, in_dt) in enumerate(SCALAR_OPS):
  kw = {"low": 0.5, "high": 2} if name in ("rdiv", "pow", "rpow") else {}
  kw.update({"ilow": 1, "ihigh": 6} if name in ("rmod", "mod", "pow") else {})
  if in_dt == "uint8": kw.update({"ilow": 0})
  case("scalar_" + name, fn, [(3, 4)], in_dt, tag=str(i), check_dtype=out_dt,
       grad=in_dt == F32 and name in ("radd", "rsub", "rmul", "rdiv", "pow", "rpow"), **kw)

# -- ternary
case("where", lambda F, c, a, b: F.where(c > 0, a, b), [(3, 5), (3, 5), (3, 5)], F32, grad=True)
case("where", lambda F, c, a, b: F.where(c > 0, a, b), [(3, 1), (1, 5), ()], F32, grad=True)
case("where", lambda F, c, a, b: F.where(c > 0, a, b), [(4,), (4,), (4,)], I32)
case("where", lambda F, c, a: F.where(c > 0, a, 0.0), [(3, 5), (3, 5)], F32, tag="scalar", grad=True)
case("where", lambda F, c: F.where(c > 0, 1.0, -1.0), [(3, 5)], F32, tag="2scalars")
case("lerp", lambda F, a, b, w: F.lerp(a, b, w), [(3, 5), (3, 5), (3, 5)], F32, grad=True, needs="lerp")
case("lerp", lambda F, a, b: F.lerp(a, b, 0.25), [(4, 1), (4, 3)], F32, tag="scalarw", grad=True, needs="lerp")
case("clip", lambda F, x: F.clip(x, -0.5, 0.5), [(3, 5)], F32, grad=True)
case("clip", lambda F, x: F.clip(x, -0.5, None), [(3, 5)], F32, tag="lo")
case("clip", lambda F, x: F.clip(x, None, 0.5), [(7,)], F32, tag="hi")
case("clip", lambda F, x: F.clip(x, -3, 3), [(3, 5)], I32)
case("clip", lambda F, x, lo, hi: F.clip(x, lo, hi - 0.0), [(3, 5), (3, 5), (1, 5)], F32, tag="tensors", grad=False)

# -- casts
CAST_PAIRS = [(F32, "int32"), (F32, "float16"), (F32, "bfloat16"), (F32, "bool"), (F32, "uint8"), (F32, "float64"),
              (I32, "float32"), (I32, "int8"), (I32, "int64"), (I32, "bool"), ("int64", "float64"),
              (BOOL, "float32"), (BOOL, "int32"), (F16, "float32"), ("uint8", "float32"), ("int8", "int32")]
for src, dst in CAST_PAIRS:
  kw = {"low": 0, "high": 200} if dst == "uint8" else {}
  case("cast", (lambda d: lambda F, x: F.cast(x, d))(dst), [(3, 4)], src, tag=dst, check_dtype=dst, torch_ok=dst != "bfloat16", **kw)
case("cast", lambda F, x: F.float(x), [(3, 4)], I32, tag="float()", check_dtype="float32")
case("cast", lambda F, x: F.int(x), [(3, 4)], F32, tag="int()", check_dtype="int32")
case("cast", lambda F, x: F.half(x), [(3, 4)], F32, tag="half()", check_dtype="float16")
case("cast", lambda F, x: F.bool(x), [(3, 4)], I32, tag="bool()", check_dtype="bool")
case("cast", lambda F, x: F.cast(x, "float64") * 2, [(3, 4)], F32, tag="grad", grad=True)

# -- reductions
RED_SHAPES = [((7,), None), ((3, 5), None), ((3, 5), 0), ((3, 5), 1), ((3, 5), -1), ((2, 3, 4), (0, 2)),
              ((1,), 0), ((4, 1, 3), 1)]
for name, diff in [("sum", True), ("mean", True), ("max", True), ("min", True), ("prod", True)]:
  for shp, ax in RED_SHAPES:
    if name == "prod" and isinstance(ax, tuple): continue
    fn = (lambda n, a: lambda F, x: getattr(F, n)(x, axis=a))(name, ax)
    case(name, fn, [shp], F32, tag=f"ax{ax}".replace(" ", ""), grad=diff, low=0.5 if name == "prod" else -2)
  fn = (lambda n: lambda F, x: getattr(F, n)(x, axis=1, keepdim=True))(name)
  case(name, fn, [(3, 5)], F32, tag="keepdim", grad=diff, low=0.5 if name == "prod" else -2)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=0))(name), [(4, 3)], I32, tag="ax0", ilow=-3, ihigh=4)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x))(name), [(3, 4)], F16, tag="all", low=0.5 if name == "prod" else -1,
       high=1.5 if name == "prod" else 1)
case("sum", lambda F, x: F.sum(x, axis=1), [(0, 3)], F32, tag="empty")
case("sum", lambda F, x: F.sum(x, axis=0), [(0, 3)], F32, tag="empty0")
case("sum", lambda F, x: F.sum(x), [(4, 5)], BOOL, tag="bool")
case("sum", lambda F, x: F.sum(x, axis=1), [(4, 5)], "uint8", tag="uint8", ilow=0)
case("prod", lambda F, x: F.prod(x, axis=1), [(0, 3)], F32, tag="empty", torch_ok=True)
case("mean", lambda F, x: F.mean(x, axis=0), [(4, 5)], I32, tag="int")
for name in ["var", "std"]:
  for shp, ax in [((7,), None), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), (0, 2))]:
    case(name, (lambda n, a: lambda F, x: getattr(F, n)(x, axis=a))(name, ax), [shp], F32, tag=f"ax{ax}".replace(" ", ""), grad=True)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=1, correction=0))(name), [(3, 5)], F32, tag="corr0", grad=True)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=1, keepdim=True))(name), [(3, 5)], F32, tag="keepdim")
for name in ["any", "all"]:
  for shp, ax in [((7,), None), ((3, 5), 0), ((3, 5), 1), ((0, 3), 0)]:
    case(name, (lambda n, a: lambda F, x: getattr(F, n)(x, axis=a))(name, ax), [shp], BOOL, tag=f"ax{ax}")
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=1))(name), [(3, 5)], I32, tag="int", ilow=0, ihigh=2)
for name in ["argmax", "argmin"]:
  for shp, ax in [((7,), None), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), -1), ((3, 5), None)]:
    case(name, (lambda n, a: lambda F, x: getattr(F, n)(x, axis=a))(name, ax), [shp], F32, tag=f"ax{ax}")
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=1, keepdim=True))(name), [(3, 5)], F32, tag="keepdim")
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, axis=0))(name), [(6, 2)], I32, tag="int", ilow=-100, ihigh=100)
for name in ["softmax", "log_softmax"]:
  for shp, ax in [((7,), -1), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)]:
    case(name, (lambda n, a: lambda F, x: getattr(F, n)(x, a))(name, ax), [shp], F32, tag=f"ax{ax}", grad=True, low=-4, high=4)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, -1))(name), [(3, 5)], F16, tag="ax-1")
for shp, ax in [((7,), None), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 2)]:
  case("logsumexp", (lambda a: lambda F, x: F.logsumexp(x, axis=a))(ax), [shp], F32, tag=f"ax{ax}", grad=True, low=-5, high=5)
case("logsumexp", lambda F, x: F.logsumexp(x, axis=1, keepdim=True), [(3, 5)], F32, tag="keepdim", grad=True)

# -- scans and sorting
for name, diff in [("cumsum", True), ("cumprod", True), ("cummax", False), ("cummin", False)]:
  for shp, ax in [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1), ((0,), 0)]:
    case(name, (lambda n, a: lambda F, x: getattr(F, n)(x, a))(name, ax), [shp], F32, tag=f"ax{ax}",
         grad=diff and shp != (0,), low=0.5 if name == "cumprod" else -2, needs=name)
  case(name, (lambda n: lambda F, x: getattr(F, n)(x, 0))(name), [(6,)], I32, tag="int", ilow=1, ihigh=4, needs=name)
for desc in [False, True]:
  for shp, ax in [((7,), -1), ((3, 5), 1), ((3, 5), 0)]:
    case("sort", (lambda a, d: lambda F, x: F.sort_values(x, a, d))(ax, desc), [shp], F32, tag=f"v{ax}{'d' if desc else ''}",
         grad=True, needs="sort")
    case("sort", (lambda a, d: lambda F, x: F.sort_indices(x, a, d))(ax, desc), [shp], F32, tag=f"i{ax}{'d' if desc else ''}",
         needs="sort")
  case("argsort", (lambda d: lambda F, x: F.argsort(x, -1, d))(desc), [(4, 6)], F32, tag=f"{'d' if desc else 'a'}", needs="argsort")
  case("argsort", (lambda d: lambda F, x: F.argsort(x, 0, d))(desc), [(9,)], I32, tag=f"int{'d' if desc else 'a'}",
       ilow=-100, ihigh=100, needs="argsort")
for k, ax, largest in [(3, -1, True), (1, 0, True), (2, 1, False), (5, -1, False)]:
  case("topk", (lambda k, a, l: lambda F, x: F.topk_values(x, k, a, l))(k, ax, largest), [(4, 6)], F32,
       tag=f"v{k}{ax}{largest}", grad=True, needs="topk")
  case("topk", (lambda k, a, l: lambda F, x: F.topk_indices(x, k, a, l))(k, ax, largest), [(4, 6)], F32,
       tag=f"i{k}{ax}{largest}", needs="topk")

# -- linear algebra
for sa, sb in [((3, 4), (4, 5)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
               ((1, 3, 4), (2, 4, 2)), ((5, 1), (1, 6)), ((0, 4), (4, 3)), ((3, 0), (0, 2))]:
  case("matmul", lambda F, a, b: a @ b, [sa, sb], F32, grad=0 not in sa + sb)
case("matmul", lambda F, a, b: a @ b, [(3, 4), (4, 5)], F16)
case("matmul", lambda F, a, b: a @ b, [(3, 4), (4, 5)], F64)
case("matmul", lambda F, a, b: a @ b, [(3, 4), (4, 5)], I32, ilow=-5, ihigh=5)
case("matmul", lambda F, a, b: F.dot(a, b), [(3, 4), (4, 2)], F32, tag="dot", grad=True)
case("linear", lambda F, x, w, b: F.linear(x, w, b), [(5, 3), (3, 4), (4,)], F32, grad=True)
case("linear", lambda F, x, w: F.linear(x, w), [(2, 5, 3), (3, 4)], F32, tag="nobias", grad=True)
for f, shapes in [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 3)]), ("ii->i", [(4, 4)]),
                  ("ii", [(4, 4)]), ("i,i->", [(5,), (5,)]), ("i,j->ij", [(3,), (4,)]), ("ij->ji", [(3, 4)]),
                  ("ij->", [(3, 4)]), ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)])]:
  case("einsum", (lambda f: lambda F, *xs: F.einsum(f, *xs))(f), shapes, F32, tag=f, grad=True, needs="einsum")

# -- movement
MOVE = [
    ("reshape", lambda F, x: F.reshape(x, (5, 3)), (3, 5), True), ("reshape", lambda F, x: F.reshape(x, (-1,)), (3, 5), False),
    ("reshape", lambda F, x: F.reshape(x, (2, 1, 3, 1)), (6,), False), ("reshape", lambda F, x: F.reshape(x, ()), (1,), False),
    ("reshape", lambda F, x: F.reshape(x, (0, 5)), (0, 5), False),
    ("permute", lambda F, x: F.permute(x, 2, 0, 1), (2, 3, 4), True), ("permute", lambda F, x: F.permute(x, 1, 0), (3, 5), False),
    ("expand", lambda F, x: F.expand(x, 4, 3, 5), (3, 1), True), ("expand", lambda F, x: F.expand(x, 3, 4), (1, 4), False),
    ("flip", lambda F, x: F.flip(x, 0), (3, 5), True), ("flip", lambda F, x: F.flip(x, 0, 2), (2, 3, 4), False),
    ("flip", lambda F, x: F.flip(x, -1), (7,), False),
    ("shrink", lambda F, x: F.shrink(x, ((1, 3), (0, 4))), (3, 5), True), ("shrink", lambda F, x: F.shrink(x, (None, (2, 3))), (3, 5), False),
    ("pad", lambda F, x: F.pad(x, ((1, 2), (0, 1))), (3, 5), True), ("pad", lambda F, x: F.pad(x, ((0, 0), (2, 2)), value=-1.0), (3, 5), False),
    ("pad", lambda F, x: F.pad(x, ((1, 1), (2, 1)), "reflect"), (3, 5), True),
    ("pad", lambda F, x: F.pad(x, ((1, 2), (1, 1)), "replicate"), (3, 5), True),
    ("pad", lambda F, x: F.pad(x, ((1, 1), (2, 3)), "circular"), (3, 5), True),
    ("pad", lambda F, x: F.pad(x, ((2, 0),), "reflect"), (4,), False),
    ("transpose", lambda F, x: F.transpose(x), (3, 5), True), ("transpose", lambda F, x: F.transpose(x, 0, 2), (2, 3, 4), False),
    ("transpose", lambda F, x: x.T, (4, 2), False),
    ("squeeze", lambda F, x: F.squeeze(x), (3, 1, 5, 1), True), ("squeeze", lambda F, x: F.squeeze(x, 1), (3, 1, 5), False),
    ("squeeze", lambda F, x: F.squeeze(x, 0), (3, 5), False),
    ("unsqueeze", lambda F, x: F.unsqueeze(x, 0), (3, 5), True), ("unsqueeze", lambda F, x: F.unsqueeze(x, -1), (3, 5), False),
    ("flatten", lambda F, x: F.flatten(x), (2, 3, 4), True), ("flatten", lambda F, x: F.flatten(x, 1), (2, 3, 4), False),
    ("flatten", lambda F, x: F.flatten(x, 0, 1), (2, 3, 4), False),
    ("unflatten", lambda F, x: F.unflatten(x, 1, (2, 2)), (3, 4), True),
    ("repeat", lambda F, x: F.repeat(x, 2, 3), (2, 3), True), ("repeat", lambda F, x: F.repeat(x, 2, 1, 2), (2, 3), False),
    ("repeat_interleave", lambda F, x: F.repeat_interleave(x, 2, 1), (2, 3), True),
    ("repeat_interleave", lambda F, x: F.repeat_interleave(x, 3), (2, 3), False),
    ("roll", lambda F, x: F.roll(x, 2, 1), (3, 5), True), ("roll", lambda F, x: F.roll(x, -1, 0), (3, 5), False),
    ("roll", lambda F, x: F.roll(x, 3), (3, 5), False), ("roll", lambda F, x: F.roll(x, (1, -2), (0, 1)), (3, 5), False),
    ("movedim", lambda F, x: F.movedim(x, 0, 2), (2, 3, 4), True), ("movedim", lambda F, x: F.movedim(x, -1, 0), (2, 3, 4), False),
    ("contiguous", lambda F, x: F.contiguous(F.permute(x, 1, 0)), (3, 5), True),
    ("split", lambda F, x: F.split_i(x, 2, 1, 2), (3, 5), True), ("split", lambda F, x: F.split_i(x, [1, 3], 1, 1), (3, 4), False),
    ("chunk", lambda F, x: F.chunk_i(x, 3, 0, 1), (7, 2), True), ("chunk", lambda F, x: F.chunk_i(x, 2, 1, 0), (3, 5), False),
]
for i, (name, fn, shp, diff) in enumerate(MOVE):
  case(name, fn, [shp], F32, tag=str(i), grad=diff, needs=name if hasattr(NP, name) and name not in ("reshape", "permute", "expand", "flip", "shrink", "transpose", "squeeze", "unsqueeze", "flatten", "contiguous") else None,
       torch_ok=name not in ("unflatten", "repeat_interleave", "movedim"))
  if i % 3 == 0: case(name, fn, [shp], I32, tag=str(i), needs=None if name in ("reshape", "permute", "expand", "flip", "shrink", "pad") else name)
for dim in [0, 1, -1]:
  case("cat", (lambda d: lambda F, a, b: F.cat([a, b], d))(dim), [(2, 3), (2, 3)], F32, tag=f"d{dim}", grad=dim == 0, needs="cat")
  case("stack", (lambda d: lambda F, a, b: F.stack([a, b], d))(dim), [(2, 3), (2, 3)], F32, tag=f"d{dim}", grad=dim == 1, needs="stack")
case("cat", lambda F, a, b, c: F.cat([a, b, c], 1), [(2, 1), (2, 3), (2, 0)], F32, tag="3", grad=False, needs="cat")
case("cat", lambda F, a, b: F.cat([a, b], 0), [(2, 3), (1, 3)], I32, tag="int", needs="cat")

# -- indexing
GETITEM = [
    (lambda F, x: x[1], (3, 5)), (lambda F, x: x[-1], (3, 5)), (lambda F, x: x[1:3], (5, 2)),
    (lambda F, x: x[::2], (7,)), (lambda F, x: x[::-1], (7,)), (lambda F, x: x[5:1:-2], (7,)),
    (lambda F, x: x[:, 1:4:2], (3, 5)), (lambda F, x: x[None, :, None], (3, 5)), (lambda F, x: x[..., 2], (2, 3, 4)),
    (lambda F, x: x[1, ..., ::-1], (2, 3, 4)), (lambda F, x: x[0, 1, 2], (2, 3, 4)), (lambda F, x: x[:0], (3, 5)),
    (lambda F, x: x[-2:, -3:], (3, 5)), (lambda F, x: x[10:], (3, 5)),
]
for i, (fn, shp) in enumerate(GETITEM):
  case("getitem", fn, [shp], F32, tag=f"basic{i}", grad=i % 2 == 0 and i != 11, torch_ok=i not in (4, 5, 9))
  if i < 4: case("getitem", fn, [shp], I32, tag=f"basic{i}")
IDX_I = "int32"
ADV = [
    (lambda F, x, i: x[i], (5, 3), (4,), (0, 5)), (lambda F, x, i: x[:, i], (3, 5), (2, 2), (0, 5)),
    (lambda F, x, i: x[i, 1:], (5, 3), (3,), (-5, 5)), (lambda F, x, i: x[1, i], (3, 5), (4,), (0, 5)),
    (lambda F, x, i: x[i, i], (4, 4), (3,), (0, 4)), (lambda F, x, i: x[..., i], (2, 3, 4), (2,), (0, 4)),
]
for i, (fn, sx, si, (lo, hi)) in enumerate(ADV):
  case("getitem", fn, [sx, si], F32, tag=f"tensor{i}", grad=i in (0, 1, 4), input_dtypes=(F32, IDX_I), ilow=lo, ihigh=hi,
       needs="gather", torch_ok=lo >= 0)
case("getitem", lambda F, x: x[F.tensor([0, 2, 2])], [(4, 3)], F32, tag="list", needs="gather")
case("getitem", lambda F, x: x[F.tensor([[0, 1], [2, 3]]), 1], [(4, 3)], F32, tag="list2d", needs="gather")
SETITEM = [
    ((1,), lambda F: 5.0), ((slice(1, 3),), lambda F: -1.0), ((slice(None), 2), lambda F: 0.0),
    ((Ellipsis, slice(0, 5, 2)), lambda F: 7.0), ((0, slice(None, None, -1)), lambda F: 3.0),
]
for i, (idx, v) in enumerate(SETITEM):
  case("setitem", (lambda idx, v: lambda F, x: F.setitem(x, idx, v(F)))(idx, v), [(3, 5)], F32, tag=str(i), needs="__setitem__",
       torch_ok=i != 4)
case("setitem", lambda F, x, v: F.setitem(x, (slice(None), 1), v), [(3, 5), (3,)], F32, tag="tensor", needs="__setitem__")
case("setitem", lambda F, x, v: F.setitem(x, 1, v), [(3, 5), (5,)], I32, tag="int", needs="__setitem__")
for dim, si in [(0, (2, 3)), (1, (3, 2)), (1, (3, 4))]:
  case("gather", (lambda d: lambda F, x, i: F.gather(x, d, i))(dim), [(3, 4), si], F32, tag=f"d{dim}{si}", grad=True,
       input_dtypes=(F32, "int64"), ilow=0, ihigh=3, needs="gather")
for reduce in [None, "add", "multiply"]:
  case("scatter", (lambda r: lambda F, x, i, s: F.scatter(x, 0, i, s, reduce=r))(reduce), [(3, 4), (2, 4), (2, 4)], F32,
       tag=str(reduce), input_dtypes=(F32, "int64", F32), ilow=0, ihigh=3, needs="scatter", extra={"unique_index0": reduce is None})
case("scatter", lambda F, x, i: F.scatter(x, 1, i, 9.0), [(3, 4), (3, 2)], F32, tag="scalar", input_dtypes=(F32, "int64"),
     ilow=0, ihigh=4, needs="scatter", torch_ok=False, extra={"unique_index1": True})
for reduce in ["sum", "prod", "mean", "amax", "amin"]:
  for incl in [True, False]:
    case("scatter_reduce", (lambda r, inc: lambda F, x, i, s: F.scatter_reduce(x, 0, i, s, r, include_self=inc))(reduce, incl),
         [(3, 4), (5, 4), (5, 4)], F32, tag=f"{reduce}{incl}", input_dtypes=(F32, "int64", F32), ilow=0, ihigh=3,
         needs="scatter_reduce")
case("masked_fill", lambda F, x, m: F.masked_fill(x, m > 0, -9.0), [(3, 5), (3, 5)], F32, grad=True, needs="masked_fill")
case("masked_fill", lambda F, x, m: F.masked_fill(x, m > 0, 1), [(3, 5), (1, 5)], I32, tag="bcast", needs="masked_fill")
case("one_hot", lambda F, x: F.one_hot(x, 5), [(6,)], "int64", ilow=0, ihigh=5, needs="one_hot")
case("one_hot", lambda F, x: F.one_hot(x, 4), [(2, 3)], I32, ilow=0, ihigh=4, needs="one_hot")
for d in [0, 1, -1]:
  case("tril", (lambda d: lambda F, x: F.tril(x, d))(d), [(4, 5)], F32, tag=str(d), grad=d == 0, needs="tril")
  case("triu", (lambda d: lambda F, x: F.triu(x, d))(d), [(4, 5)], F32, tag=str(d), grad=d == 0, needs="triu")
case("tril", lambda F, x: F.tril(x), [(2, 3, 3)], I32, tag="batch", needs="tril")

# -- creation (no inputs)
case("arange", lambda F: F.arange(7), [], I32, check_dtype="int32")
case("arange", lambda F: F.arange(2, 11, 3), [], I32, tag="step", check_dtype="int32")
case("arange", lambda F: F.arange(0.5, 3.0, 0.5), [], F32, tag="float", check_dtype="float32", torch_ok=False)
case("arange", lambda F: F.arange(5, 0, -1), [], I32, tag="neg")
case("linspace", lambda F: F.linspace(0, 1, 5), [], F32, torch_ok=False)
case("eye", lambda F: F.eye(3), [], F32, torch_ok=False)
case("eye", lambda F: F.eye(2, 4), [], F32, tag="rect", torch_ok=False)
case("full", lambda F: F.full((2, 3), 1.5), [], F32, check_dtype="float32", torch_ok=False)
case("full", lambda F: F.full((2, 3), 4), [], I32, tag="int", check_dtype="int32", torch_ok=False)
case("zeros", lambda F: F.zeros(2, 3) + 1, [], F32, torch_ok=False)
case("ones", lambda F: F.ones(3) * 2, [], F32, torch_ok=False)

# -- losses, normalization, attention (femtograd's Python composites of the ops above)
case("sparse_categorical_crossentropy", lambda F, x, y: F.sparse_categorical_crossentropy(x, y), [(6, 5), (6,)], F32,
     grad=True, input_dtypes=(F32, I32), ilow=0, ihigh=5)
case("binary_crossentropy", lambda F, p, y: F.binary_crossentropy(F.sigmoid(p), F.sigmoid(y)), [(4, 3), (4, 3)], F32, grad=True)
case("binary_crossentropy_logits", lambda F, x, y: F.binary_crossentropy_logits(x, F.sigmoid(y)), [(4, 3), (4, 3)], F32, grad=True)
case("layernorm", lambda F, x: F.layernorm(x), [(4, 6)], F32, grad=True)
case("layernorm", lambda F, x: F.layernorm(x), [(2, 3, 8)], F32, tag="3d", grad=False)
case("scaled_dot_product_attention", lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 4, 8), (2, 5, 8), (2, 5, 3)], F32, grad=True)
case("scaled_dot_product_attention", lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(1, 4, 8), (1, 4, 8), (1, 4, 3)], F32, tag="causal", grad=True)

# -- composite graphs (fusion across ops, reduce then elementwise, shared inputs)
case("composite", lambda F, x: F.sum(F.exp(x) * x, axis=1) / 3, [(4, 5)], F32, tag="expsum", grad=True)
case("composite", lambda F, x, y: F.relu(x @ y + 1).sum(), [(3, 4), (4, 2)], F32, tag="mlp", grad=True)
case("composite", lambda F, x: (x - F.mean(x, axis=0)) / (F.std(x, axis=0) + 1), [(6, 3)], F32, tag="norm", grad=True)
case("composite", lambda F, x: F.softmax(x, -1) * F.log_softmax(x, -1), [(3, 7)], F32, tag="entropy", grad=True)
case("composite", lambda F, x: F.max(x, axis=1) - F.min(x, axis=1), [(5, 4)], F32, tag="range", grad=True)
case("composite", lambda F, x: F.tanh(F.sigmoid(x) * 2 - 1) ** 2, [(2, 3, 4)], F32, tag="chain", grad=True)

# -- convolution, pooling, resampling, normalization, losses (tensor_nn.h)
CONV = [  # x, w, bias?, kwargs
    ((2, 3, 6, 6), (4, 3, 3, 3), True, {}), ((1, 2, 7, 5), (3, 2, 3, 2), False, {"stride": 2}),
    ((2, 4, 6, 6), (4, 2, 3, 3), True, {"groups": 2, "padding": 1}), ((1, 2, 7, 7), (2, 2, 3, 3), False, {"dilation": 2}),
    ((1, 2, 5, 6), (3, 2, 3, 3), True, {"padding": "same"}), ((1, 1, 5, 5), (2, 1, 2, 2), False, {"padding": (1, 0)}),
    ((2, 3, 9), (4, 3, 3), True, {"stride": 2, "padding": 1}), ((1, 4, 8), (4, 1, 3), False, {"groups": 4, "dilation": 2}),
    ((1, 3, 4, 4), (2, 3, 1, 1), True, {}),
]
for i, (sx, sw, bias, kw) in enumerate(CONV):
  nm = "conv2d" if len(sw) == 4 else "conv1d"
  if bias:
    fn = (lambda kw, nm: lambda F, x, w, b: getattr(F, nm)(x, w, b, **kw))(kw, nm)
    shapes = [sx, sw, (sw[0],)]
  else:
    fn = (lambda kw, nm: lambda F, x, w: getattr(F, nm)(x, w, **kw))(kw, nm)
    shapes = [sx, sw]
  case(nm, fn, shapes, F32, tag=str(i), grad=True, needs="conv2d", torch_ok=kw.get("padding") != "same" or True)
case("conv2d", lambda F, x, w: F.conv2d(x, w, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3)], F16, tag="f16", needs="conv2d")
CONVT = [((1, 2, 4, 4), (2, 3, 3, 3), {}), ((1, 2, 3, 3), (2, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
         ((2, 4, 3, 3), (4, 1, 2, 2), {"groups": 2, "stride": 2}), ((1, 2, 5), (2, 3, 3), {"stride": 2, "dilation": 2})]
for i, (sx, sw, kw) in enumerate(CONVT):
  nm = "conv_transpose2d" if len(sw) == 4 else "conv_transpose1d"
  case(nm, (lambda kw, nm: lambda F, x, w: getattr(F, nm)(x, w, **kw))(kw, nm), [sx, sw], F32, tag=str(i), grad=True,
       needs="conv_transpose2d")
POOLS = [  # name, x shape, kwargs
    ("max_pool2d", (2, 3, 6, 6), {}), ("max_pool2d", (1, 2, 7, 7), {"kernel_size": 3, "stride": 2}),
    ("max_pool2d", (1, 2, 6, 6), {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("max_pool2d", (1, 1, 7, 7), {"kernel_size": 2, "dilation": 2}), ("max_pool2d", (1, 2, 7, 7), {"kernel_size": 2, "ceil_mode": True}),
    ("max_pool2d", (1, 1, 5, 6), {"kernel_size": (2, 3)}), ("max_pool1d", (2, 3, 9), {"kernel_size": 3}),
    ("max_pool1d", (1, 2, 8), {"kernel_size": 2, "stride": 1}),
    ("avg_pool2d", (2, 3, 6, 6), {}), ("avg_pool2d", (1, 2, 7, 7), {"kernel_size": 3, "stride": 2}),
    ("avg_pool2d", (1, 2, 6, 6), {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("avg_pool2d", (1, 2, 6, 6), {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False}),
    ("avg_pool2d", (1, 1, 5, 6), {"kernel_size": (2, 3)}), ("avg_pool1d", (2, 3, 9), {"kernel_size": 3}),
    ("avg_pool2d", (1, 1, 7, 7), {"kernel_size": 2, "dilation": 2}),
]
for i, (nm, sx, kw) in enumerate(POOLS):
  case(nm, (lambda nm, kw: lambda F, x: getattr(F, nm)(x, **kw))(nm, kw), [sx], F32, tag=str(i), grad=True, needs=nm)
for nm, sx, out in [("adaptive_avg_pool2d", (1, 2, 7, 7), (3, 3)), ("adaptive_avg_pool2d", (2, 3, 6, 5), (2, 4)),
                    ("adaptive_max_pool2d", (1, 2, 7, 7), (3, 2)), ("adaptive_avg_pool1d", (1, 3, 10), (4,))]:
  case(nm, (lambda nm, out: lambda F, x: getattr(F, nm)(x, out))(nm, out), [sx], F32, tag=str(out).replace(" ", ""), grad=True, needs=nm)
for mode, ac, sx, size in [("nearest", False, (1, 2, 3, 4), (6, 8)), ("nearest", False, (1, 1, 5, 5), (3, 2)),
                           ("nearest-exact", False, (1, 1, 5, 5), (3, 7)), ("linear", False, (1, 2, 3, 4), (5, 7)),
                           ("linear", True, (1, 2, 3, 4), (5, 7)), ("linear", False, (1, 1, 6, 6), (3, 3)),
                           ("linear", False, (2, 3, 5), (8,))]:
  case("interpolate", (lambda m, ac, size: lambda F, x: F.interpolate(x, size, mode=m, align_corners=ac))(mode, ac, size), [sx], F32,
       tag=f"{mode}{'-ac' if ac else ''}{size}".replace(" ", ""), grad=mode == "linear", needs="interpolate")
case("layer_norm", lambda F, x, w, b: F.layer_norm(x, (4, 5), w, b), [(2, 4, 5), (4, 5), (4, 5)], F32, grad=True, needs="layer_norm")
case("group_norm", lambda F, x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3, 3), (4,), (4,)], F32, grad=True, needs="group_norm")
case("rms_norm", lambda F, x, w: F.rms_norm(x, (6,), w, 1e-6), [(3, 6), (6,)], F32, grad=True, needs="rms_norm")
case("batchnorm", lambda F, x, w, b, m, s: F.batchnorm(x, w, b, m, F.exp(s)), [(2, 3, 4, 4), (3,), (3,), (3,), (3,)], F32, grad=True)
for nm in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]:
  for red in ["mean", "sum", "none"]:
    case(nm, (lambda nm, red: lambda F, x, y: getattr(F, nm)(x, y, reduction=red))(nm, red), [(4, 5), (4, 5)], F32, tag=red,
         grad=True, needs=nm)
for red in ["mean", "sum", "none"]:
  case("cross_entropy", (lambda r: lambda F, x, y: F.cross_entropy(x, y, reduction=r))(red), [(5, 4), (5,)], F32, tag=red,
       grad=True, input_dtypes=(F32, "int64"), ilow=0, ihigh=4)
case("cross_entropy", lambda F, x, y: F.cross_entropy(x, y, label_smoothing=0.1), [(3, 4, 2), (3, 2)], F32, tag="smooth_spatial",
     grad=True, input_dtypes=(F32, "int64"), ilow=0, ihigh=4)
case("cross_entropy", lambda F, x, y: F.cross_entropy(x, F.softmax(y, 1)), [(4, 3), (4, 3)], F32, tag="probs", grad=True)
case("nll_loss", lambda F, x, y: F.nll_loss(F.log_softmax(x, 1), y), [(5, 4), (5,)], F32, grad=True, input_dtypes=(F32, "int64"),
     ilow=0, ihigh=4, needs="nll_loss")
