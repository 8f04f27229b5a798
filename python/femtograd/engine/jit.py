"""TinyJit, as in tinygrad.engine.jit, backed by the C++ JIT (femtograd/tensor/jit.h).

The first call runs the function; the second runs it again and captures the kernels it ran; from the
third call on those kernels are replayed on the buffers of the new input tensors, without running the
Python function, building graphs, scheduling or compiling. As in tinygrad:
- the tensors passed as arguments are the inputs (their shapes and dtypes must not change; non-tensor
  arguments are fixed at capture); tensors the function reads otherwise (weights, datasets) are used
  through their buffers, so updates made with assign() (in place, like optimizer steps) are seen;
- the function's Python side effects happen only on the first two calls;
- the returned tensors are realized; on replays they are the same buffers each call (read or copy them
  before the next call).
JIT=0 in the environment runs the function on every call instead.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Generic, TypeVar

from femtograd import _C
from femtograd.helpers import getenv
from femtograd.tensor import Tensor

ReturnType = TypeVar("ReturnType")


def _flatten(x: Any, out: list) -> Any:
  """Collects the tensors of a nested tuple/list/dict into out; returns the structure with slots."""
  if isinstance(x, Tensor):
    out.append(x)
    return _Slot(len(out) - 1)
  if isinstance(x, tuple) and not hasattr(x, "_fields"): return tuple(_flatten(e, out) for e in x)
  if isinstance(x, list): return [_flatten(e, out) for e in x]
  if isinstance(x, dict): return {k: _flatten(v, out) for k, v in x.items()}
  return x


class _Slot:
  __slots__ = ("i",)
  def __init__(self, i: int): self.i = i


def _unflatten(d: Any, ts: list) -> Any:
  if isinstance(d, _Slot): return ts[d.i]
  if isinstance(d, tuple): return tuple(_unflatten(e, ts) for e in d)
  if isinstance(d, list): return [_unflatten(e, ts) for e in d]
  if isinstance(d, dict): return {k: _unflatten(v, ts) for k, v in d.items()}
  return d


class TinyJit(Generic[ReturnType]):
  """``@TinyJit`` on a step function: run, capture, then replay its kernels (see the module docstring)."""

  def __init__(self, fxn: Callable[..., ReturnType] | None, captured: Any = None, prune: bool = False,
               optimize: bool = False):
    if fxn is None: raise ValueError("TinyJit needs a function")
    self.fxn = fxn
    self._enabled = bool(getenv("JIT", 1)) and _C.HAVE_JIT
    self._jit = _C.TinyJit(self._run) if self._enabled else None
    self._call: tuple | None = None
    self._ret_def: Any = None
    self.cnt = 0
    functools.update_wrapper(self, fxn)

  def _run(self, inputs: list) -> list:
    # called by the C++ JIT on the first two calls, with the tensors to use for the current call's
    # tensor arguments (on the capturing call: the same buffers behind fresh graph nodes, so that
    # every kernel runs again even when the arguments are the previous call's tensors)
    args, kwargs = self._call
    args, kwargs = _unflatten(_flatten((args, kwargs), []), inputs)
    ret = self.fxn(*args, **kwargs)
    outs: list = []
    self._ret_def = _flatten(ret, outs)
    return outs

  @property
  def captured(self) -> bool:
    return self._jit is not None and self._jit.captured

  @property
  def kernel_count(self) -> int:
    return self._jit.kernel_count if self._jit is not None else 0

  def reset(self) -> None:
    if self._jit is not None: self._jit.reset()
    self.cnt = 0

  def __get__(self, obj, objtype=None):  # @TinyJit on a method
    return self if obj is None else functools.partial(self.__call__, obj)

  def __call__(self, *args, **kwargs) -> ReturnType:
    self.cnt += 1
    if self._jit is None:
      ret = self.fxn(*args, **kwargs)
      outs: list = []
      _flatten(ret, outs)
      if outs: Tensor.realize(*outs)
      return ret
    inputs: list = []
    _flatten((args, kwargs), inputs)
    self._call = (args, kwargs)
    try:
      outs = self._jit(inputs)
    finally:
      self._call = None
    return _unflatten(self._ret_def, outs)
