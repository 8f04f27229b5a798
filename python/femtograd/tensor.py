"""The Tensor class: femtograd's C++ ``fg::Tensor`` (bound in ``femtograd._C``) with tinygrad's API.

Every op of the C++ Tensor (tensor.h) and of its functional nn ops (tensor_nn.h: conv, pool, norms,
dropout, attention, losses) is bound in C++ (python/src/tensor*.cc). This module adds the training
flag, the tri-state requires_grad, iteration, numpy's ``__array__`` and tinygrad's small helpers
(sequential, isclose, allclose, mse).
"""
from __future__ import annotations

import contextlib
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


# ---------------------------------------------------------------- small helpers tinygrad has


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


for _name, _fn in {
    "train": staticmethod(_train), "test": staticmethod(_test), "__iter__": _iter, "__array__": _array,
    "sequential": sequential, "isclose": isclose, "allclose": allclose, "mse": mse}.items():
  setattr(Tensor, _name, _fn)
del _name, _fn

__all__ = ["Tensor", "no_grad"]
