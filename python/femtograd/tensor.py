"""The Tensor class: femtograd's C++ ``fg::Tensor`` (bound in ``femtograd._C``) with tinygrad's API.

Every op of the C++ Tensor (tensor.h) and of its functional nn ops (tensor_nn.h: conv, pool, norms,
dropout, attention, losses) is bound in C++ (python/src/tensor*.cc). This module adds the training
flag, iteration, numpy's ``__array__``, tinygrad's small helpers (sequential, isclose), and Python
versions of the losses/norms/indexing used only when the C++ core lacks them.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Sequence

from femtograd import _C

Tensor = _C.Tensor

# requires_grad as tinygrad has it: True, False (set explicitly), or None (unset). The C++ tensor holds the
# True mark (and answers True for values computed from marked tensors); False lives on the Python object.
_requires_grad_cpp = Tensor.requires_grad


def _get_requires_grad(self):
  v = self.__dict__.get("_requires_grad")
  if v is not None: return v
  return True if _requires_grad_cpp.fget(self) else None


def _set_requires_grad(self, v):
  _requires_grad_cpp.fset(self, v)  # records an explicit True/False on the object as well


Tensor.requires_grad = property(_get_requires_grad, _set_requires_grad,
                                doc="True, False, or None when unset (tinygrad's tri-state).")

# tinygrad's training flag: dropout is active only while Tensor.training is True
Tensor.training = False


class _TrainMode(contextlib.ContextDecorator):
  # Tensor.training is the flag tinygrad code reads and sets; the C++ core's copy follows it here
  def __init__(self, mode: bool = True): self.mode = mode
  def __enter__(self):
    self.prev, Tensor.training = Tensor.training, self.mode
    _C.set_training(self.mode)
    return self
  def __exit__(self, *exc):
    Tensor.training = self.prev
    _C.set_training(bool(self.prev))
    return False


class no_grad(contextlib.ContextDecorator):
  """Tensors built inside do not require grad (the C++ NoGrad scope of this thread)."""
  def __enter__(self):
    self._g = _C.NoGrad()
    self._g.__enter__()
    return self
  def __exit__(self, *exc):
    self._g.__exit__(None, None, None)
    return False


def _train(mode: bool = True) -> _TrainMode:
  """``with Tensor.train():`` (or ``@Tensor.train()``): Tensor.training is True inside."""
  return _TrainMode(mode)


def _test() -> _TrainMode:
  """``with Tensor.test():``: Tensor.training is False inside."""
  return _TrainMode(False)


def _iter(self) -> Iterator[Tensor]:
  if self.ndim == 0: raise TypeError("iteration over a 0-d tensor")
  return (self[i] for i in range(self.shape[0]))


def _array(self, dtype=None, copy=None):
  a = self.numpy()
  return a if dtype is None else a.astype(dtype)


# ---------------------------------------------------------------- losses and normalization


def _reduce(loss: Tensor, reduction: str) -> Tensor:
  if reduction == "none": return loss
  if reduction == "sum": return loss.sum()
  if reduction == "mean": return loss.mean()
  raise ValueError(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")


def sparse_categorical_crossentropy(self, Y: Tensor, ignore_index: int = -1, label_smoothing: float = 0.0,
                                    reduction: str = "mean") -> Tensor:
  """Cross entropy of logits self (..., classes) against integer class labels Y (...) (tinygrad's)."""
  if not 0.0 <= label_smoothing <= 1.0: raise ValueError("label_smoothing must be in [0.0, 1.0]")
  if reduction not in ("mean", "sum", "none"): raise ValueError(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
  log_probs = self.log_softmax()
  loss_mask = Y != ignore_index
  classes = Tensor.arange(self.shape[-1], device=self.device).reshape(*[1] * Y.ndim, self.shape[-1])
  y = (classes == Y.unsqueeze(-1)) * loss_mask.unsqueeze(-1)
  smoothing = label_smoothing * (log_probs.mean(-1) * loss_mask)
  unreduced = (1 - label_smoothing) * (log_probs * y).sum(-1) + smoothing
  if reduction == "mean": return -(unreduced.sum() / loss_mask.sum())
  return -(unreduced.sum() if reduction == "sum" else unreduced)


def cross_entropy(self, Y: Tensor, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
  """Cross entropy of logits self (N, C, ...) against class indices Y (N, ...) or probabilities Y (N, C, ...)."""
  if Y.ndim == self.ndim:  # probabilities
    Yp = Y * (1 - label_smoothing) + label_smoothing / self.shape[1]
    return _reduce(-(self.log_softmax(1) * Yp).sum(1), reduction)
  logits = self.movedim(1, -1) if self.ndim > 1 else self
  return sparse_categorical_crossentropy(logits, Y, label_smoothing=label_smoothing, reduction=reduction)


def binary_crossentropy(self, Y: Tensor, reduction: str = "mean") -> Tensor:
  """Binary cross entropy of probabilities self against targets Y."""
  return _reduce(-(Y * self.log() + (1 - Y) * (1 - self).log()), reduction)


def binary_crossentropy_logits(self, Y: Tensor, reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
  """Binary cross entropy of logits self against targets Y (stable: through logsigmoid)."""
  log_p, log_1mp = self.logsigmoid(), (-self).logsigmoid()
  pw = 1 if pos_weight is None else pos_weight
  return _reduce(-(pw * Y * log_p + (1 - Y) * log_1mp), reduction)


def _axes(axis) -> tuple:
  return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def layernorm(self, axis=-1, eps: float = 1e-5) -> Tensor:
  """(self - mean) / sqrt(var + eps) over the axes (no affine part)."""
  y = self - self.mean(axis=_axes(axis), keepdim=True)
  return y.mul((y * y).mean(axis=_axes(axis), keepdim=True).add(eps).rsqrt())


def batchnorm(self, weight: Tensor | None, bias: Tensor | None, mean: Tensor, invstd: Tensor,
              axis=1) -> Tensor:
  """(self - mean) * invstd * weight + bias, the statistics along the given axis/axes (tinygrad's)."""
  axes = tuple(a % self.ndim for a in _axes(axis))
  shape = tuple(s if i in axes else 1 for i, s in enumerate(self.shape))
  x = self - mean.reshape(shape)
  if weight is not None: x = x * weight.reshape(shape)
  ret = x.mul(invstd.reshape(shape) if len(invstd.shape) == len(axes) else invstd)
  return (ret + bias.reshape(shape)) if bias is not None else ret


def dropout(self, p: float = 0.5) -> Tensor:
  """Zeroes each value with probability p and scales the rest by 1/(1-p), only while Tensor.training."""
  if not 0 <= p <= 1: raise ValueError(f"dropout probability must be in [0, 1], got {p}")
  if not Tensor.training or p == 0: return self
  if p == 1: return self.zeros_like()
  keep = Tensor.rand(*self.shape, device=self.device) >= p
  return keep.where(self, 0) * (1 / (1 - p))


def scaled_dot_product_attention(self, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False) -> Tensor:
  """softmax(self @ key^T / sqrt(d) + mask) @ value (self is the query), like PyTorch's."""
  qk = self.matmul(key.transpose(-2, -1)) / math.sqrt(self.shape[-1])
  if is_causal:
    causal = Tensor.ones(qk.shape[-2], qk.shape[-1], dtype="bool", device=self.device).tril()
    attn_mask = causal if attn_mask is None else attn_mask.logical_and(causal)
  if attn_mask is not None:
    qk = attn_mask.where(qk, -math.inf) if attn_mask.dtype == _C.dtype_from_name("bool") else qk + attn_mask
  return qk.softmax(-1).dropout(dropout_p) @ value


def sequential(self, ll: Sequence[Callable]) -> Tensor:
  """Applies each callable in turn: x.sequential([l1, l2]) is l2(l1(x))."""
  x = self
  for f in ll: x = f(x)
  return x


def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
  """|self - other| <= atol + rtol * |other|, elementwise (bool)."""
  other = other if isinstance(other, Tensor) else Tensor(other, device=self.device)
  close = (self == other) | ((self - other).abs() <= atol + rtol * other.abs())
  if equal_nan: close = close | (self.isnan() & other.isnan())
  return close


def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
  return bool(isclose(self, other, rtol, atol, equal_nan).all().item())


def mse(self, other: Tensor) -> Tensor:
  """Mean squared error."""
  return (self - other).square().mean()


# ---------------------------------------------------------------- indexing without the C++ getitem


def _basic_getitem(self, idx):
  """NumPy basic indexing (ints, slices with any step, None, ...) from shrink/flip/pad/reshape; used only
  while the C++ Tensor has no getitem."""
  import operator
  idx = idx if isinstance(idx, tuple) else (idx,)
  if sum(i is Ellipsis for i in idx) > 1: raise IndexError("an index can only have a single ellipsis ('...')")
  n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
  if n_real > self.ndim: raise IndexError(f"too many indices for a tensor of dimension {self.ndim}")
  full: list = []
  for i in idx:
    if i is Ellipsis: full.extend([slice(None)] * (self.ndim - n_real))
    else: full.append(i)
  if not any(i is Ellipsis for i in idx): full.extend([slice(None)] * (self.ndim - n_real))
  bounds, flips, steps, counts, out_shape, dim = [], [], [], [], [], 0
  for i in full:
    if i is None:
      out_shape.append(1)
      continue
    size = self.shape[dim]
    if isinstance(i, slice):
      start, stop, step = i.indices(size)
      n = max(0, -((start - stop) // step) if step > 0 else -((stop - start) // -step))
      if step < 0: start, step = size - 1 - start, -step  # the same elements, counted on the flipped axis
      bounds.append((start, start + (n - 1) * step + 1) if n else (0, 0))
      flips.append(i.step is not None and i.step < 0)
      steps.append(step)
      counts.append(n)
      out_shape.append(n)
    elif isinstance(i, bool) or isinstance(i, (Tensor, list)) or not hasattr(i, "__index__"):
      raise NotImplementedError(f"getitem: index of type {type(i).__name__} needs the C++ getitem (tensor_index.cc)")
    else:
      j = operator.index(i)
      if not -size <= j < size: raise IndexError(f"index {j} is out of bounds for axis {dim} with size {size}")
      j = j + size if j < 0 else j
      bounds.append((j, j + 1))
      flips.append(False)
      steps.append(1)
      counts.append(1)
    dim += 1
  x = self
  if any(flips): x = x.flip(*[d for d, f in enumerate(flips) if f])
  x = x.shrink(tuple(bounds))
  for d, (step, n) in enumerate(zip(steps, counts)):
    if step == 1 or n == 0: continue
    pad = [(0, 0)] * x.ndim
    pad[d] = (0, step - 1)
    x = x.pad(pad)
    shp = list(x.shape)
    x = x.reshape(*shp[:d], n, step, *shp[d + 1:]).shrink(tuple((0, 1) if a == d + 1 else None for a in range(x.ndim + 1)))
    x = x.reshape(*shp[:d], n, *shp[d + 1:])
  return x.reshape(*out_shape) if tuple(out_shape) != tuple(x.shape) else x


if not hasattr(Tensor, "__getitem__"): Tensor.__getitem__ = _basic_getitem

for _name, _fn in {
    "train": staticmethod(_train), "test": staticmethod(_test), "__iter__": _iter, "__array__": _array,
    "sequential": sequential, "isclose": isclose, "allclose": allclose, "mse": mse}.items():
  setattr(Tensor, _name, _fn)
# Python versions used only while the C++ core has no such op
for _name, _fn in {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "cross_entropy": cross_entropy,
    "binary_crossentropy": binary_crossentropy, "binary_crossentropy_logits": binary_crossentropy_logits,
    "layernorm": layernorm, "batchnorm": batchnorm, "dropout": dropout,
    "scaled_dot_product_attention": scaled_dot_product_attention}.items():
  if not hasattr(Tensor, _name): setattr(Tensor, _name, _fn)
del _name, _fn

__all__ = ["Tensor", "no_grad"]
