"""Helpers, as in tinygrad.helpers: getenv, Context, GlobalCounters, the flag variables (DEBUG, BEAM, ...)
and small utilities (prod, flatten, argfix, ...). Flags live in the C++ core (femtograd/base/flags.def),
so a Context set here is seen by the compiler and the runtime."""
from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from typing import Any, Iterable, TypeVar

from femtograd import _C

T = TypeVar("T")


def getenv(key: str, default: Any = 0) -> Any:
  """The environment variable key converted to the type of default (tinygrad's getenv). Flags that
  femtograd declares are read from the C++ core, so Context overrides apply to them."""
  if _C.is_flag(key):
    v = _C.getenv_flag(key)
    if isinstance(v, str) and v == "": return default
    return type(default)(v) if default is not None else v
  if key not in os.environ: return default
  return type(default)(os.environ[key]) if default is not None else os.environ[key]


class ContextVar:
  """A declared flag seen as tinygrad's ContextVar: ``DEBUG.value``, ``DEBUG >= 2``."""
  def __init__(self, key: str): self.key = key
  @property
  def value(self): return _C.getenv_flag(self.key)
  def __bool__(self): return bool(self.value)
  def __ge__(self, x): return self.value >= x
  def __gt__(self, x): return self.value > x
  def __lt__(self, x): return self.value < x
  def __le__(self, x): return self.value <= x
  def __eq__(self, x): return self.value == x
  def __hash__(self): return hash(self.key)
  def __int__(self): return int(self.value)
  def __repr__(self): return f"ContextVar({self.key}={self.value!r})"


DEBUG, BEAM, NOOPT, SPEC = ContextVar("DEBUG"), ContextVar("BEAM"), ContextVar("NOOPT"), ContextVar("SPEC")


class Context(contextlib.ContextDecorator):
  """Scoped flag overrides: ``with Context(DEBUG=2): ...`` or as a decorator. Unknown flags are a ValueError."""
  def __init__(self, **kwargs): self.kwargs = kwargs
  def __enter__(self):
    self._ctx = _C.Context(self.kwargs)
    return self
  def __exit__(self, *exc):
    self._ctx.close()
    del self._ctx
    return False


class _GlobalCountersMeta(type):
  @property
  def kernel_count(cls) -> int: return _C.global_counters()["kernel_count"]
  @property
  def global_ops(cls) -> int: return _C.global_counters()["global_ops"]
  @property
  def global_mem(cls) -> int: return _C.global_counters()["global_mem"]
  @property
  def time_sum_s(cls) -> float: return _C.global_counters()["time_sum_s"]
  @property
  def mem_used(cls) -> int: return sum(_C.memory_stats(d)["in_use"] for d in _opened_devices())


def _opened_devices():
  return [_C.default_device()]


class GlobalCounters(metaclass=_GlobalCountersMeta):
  """Process-wide counters of realized kernels (read live from the C++ engine):
  kernel_count, global_ops (FLOPs), global_mem (bytes), time_sum_s, mem_used (bytes held by tensors)."""
  @staticmethod
  def reset() -> None: _C.reset_global_counters()


# ---- small utilities tinygrad scripts import from helpers
def prod(x: Iterable[T]) -> T | int: return functools.reduce(lambda a, b: a * b, x, 1)
def flatten(l: Iterable[Iterable[T]]) -> list[T]: return [item for sublist in l for item in sublist]
def argfix(*x):
  if x and x[0].__class__ in (tuple, list):
    if len(x) != 1: raise ValueError(f"bad arg {x}")
    return tuple(x[0])
  return x
def all_same(items) -> bool: return all(x == items[0] for x in items)
def dedup(x: Iterable[T]) -> list[T]: return list(dict.fromkeys(x))
def round_up(num: int, amt: int) -> int: return (num + amt - 1) // amt * amt
def ceildiv(num: int, amt: int) -> int: return -(num // -amt)
def colored(st: str, color: str | None = None, background: bool = False) -> str:
  if color is None: return st
  colors = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
  return f"\u001b[{10 * background + 60 * (color.upper() == color) + 30 + colors.index(color.lower())}m{st}\u001b[0m"


class Timing(contextlib.ContextDecorator):
  """Prints the time spent in the block: ``with Timing("step "): ...``."""
  def __init__(self, prefix: str = "", on_exit=None, enabled: bool = True):
    self.prefix, self.on_exit, self.enabled = prefix, on_exit, enabled
  def __enter__(self): self.st = time.perf_counter_ns()
  def __exit__(self, *exc):
    self.et = time.perf_counter_ns() - self.st
    if self.enabled: print(f"{self.prefix}{self.et * 1e-6:6.2f} ms" + (self.on_exit(self.et) if self.on_exit else ""))


def trange(n: int, *args, **kwargs):
  """range(n) with a progress bar when tqdm is installed (tinygrad's trange)."""
  try:
    from tqdm import trange as _trange
    return _trange(n, *args, **kwargs)
  except ImportError:
    return range(n)


def tqdm(it, *args, **kwargs):
  try:
    from tqdm import tqdm as _tqdm
    return _tqdm(it, *args, **kwargs)
  except ImportError:
    return it


__all__ = ["getenv", "Context", "ContextVar", "GlobalCounters", "DEBUG", "BEAM", "NOOPT", "SPEC", "prod", "flatten",
           "argfix", "all_same", "dedup", "round_up", "ceildiv", "colored", "Timing", "trange", "tqdm"]
