"""Data types, as in tinygrad.dtype: ``dtypes.float32``, ``dtypes.is_float(dt)``, ``dtypes.from_py(x)``.

A ``DType`` is the C++ ``fg::DType`` value (immutable, hashable); the defaults are fixed by the C++
core (``default_float`` is float32, ``default_int`` is int32) and cannot be reassigned.
"""
from __future__ import annotations

import math
from typing import Any, Union

from femtograd import _C

DType = _C.DType
DTypeLike = Union[str, DType]


def _dtype_by_name(name: str) -> DType:
  return _C.dtype_from_name(name)


class dtypes:
  """The named dtypes and predicates on them (tinygrad's ``dtypes`` namespace)."""
  void = _C.dtype_from_name("void")
  bool = _C.dtype_from_name("bool")
  int8 = _C.dtype_from_name("int8")
  uint8 = _C.dtype_from_name("uint8")
  int16 = _C.dtype_from_name("int16")
  uint16 = _C.dtype_from_name("uint16")
  int32 = _C.dtype_from_name("int32")
  uint32 = _C.dtype_from_name("uint32")
  int64 = _C.dtype_from_name("int64")
  uint64 = _C.dtype_from_name("uint64")
  float16 = _C.dtype_from_name("float16")
  bfloat16 = _C.dtype_from_name("bfloat16")
  float32 = _C.dtype_from_name("float32")
  float64 = _C.dtype_from_name("float64")
  fp8e4m3 = _C.dtype_from_name("fp8e4m3")
  fp8e5m2 = _C.dtype_from_name("fp8e5m2")
  index = _C.dtype_from_name("index")
  # aliases
  half, float, double = float16, float32, float64
  char, short, int, long = int8, int16, int32, int64
  uchar, ushort, uint, ulong = uint8, uint16, uint32, uint64
  default_float = float32
  default_int = int32

  floats = (fp8e4m3, fp8e5m2, float16, bfloat16, float32, float64)
  uints = (uint8, uint16, uint32, uint64)
  sints = (int8, int16, int32, int64)
  ints = uints + sints
  all = (bool,) + ints + floats

  @staticmethod
  def is_float(x: DType) -> bool: return x.is_float()
  @staticmethod
  def is_int(x: DType) -> bool: return x.is_int()
  @staticmethod
  def is_unsigned(x: DType) -> bool: return x.is_unsigned()
  @staticmethod
  def is_bool(x: DType) -> bool: return x.is_bool()

  @staticmethod
  def from_py(x: Any) -> DType:
    """The dtype tinygrad gives a Python value: float -> default_float, int -> default_int, bool -> bool;
    for lists, the widest of their elements."""
    # class attributes do not shadow builtins inside methods: float/bool/int here are Python's
    if isinstance(x, float): return dtypes.default_float
    if isinstance(x, bool): return dtypes.bool
    if isinstance(x, int): return dtypes.default_int
    if isinstance(x, (list, tuple)):
      if not x: return dtypes.default_float
      order = [dtypes.bool, dtypes.default_int, dtypes.default_float]
      return max((dtypes.from_py(e) for e in x), key=order.index)
    raise TypeError(f"dtypes.from_py: cannot infer a dtype for {type(x).__name__}")

  @staticmethod
  def as_const(val: Any, dtype: DType):
    """val converted to the Python type of dtype (bool, int or float)."""
    if dtype.is_bool(): return bool(val)
    if dtype.is_int(): return int(val)
    return float(val)

  @staticmethod
  def min(dtype: DType): return -math.inf if dtype.is_float() else dtype.min
  @staticmethod
  def max(dtype: DType): return math.inf if dtype.is_float() else dtype.max

  @staticmethod
  def finfo(dtype: DType) -> tuple:
    """(exponent bits, mantissa bits) of a float dtype."""
    table = {dtypes.float16: (5, 10), dtypes.bfloat16: (8, 7), dtypes.float32: (8, 23), dtypes.float64: (11, 52),
             dtypes.fp8e4m3: (4, 3), dtypes.fp8e5m2: (5, 2)}
    if dtype not in table: raise TypeError(f"dtypes.finfo: {dtype} is not a float dtype")
    return table[dtype]

  @staticmethod
  def fields() -> dict:
    """Every named dtype and alias by name."""
    return {k: v for k, v in vars(dtypes).items() if isinstance(v, DType)}


def to_dtype(x: DTypeLike) -> DType:
  """A DType from a DType, a name ('float32', 'half'), a numpy dtype or type, or a Python type."""
  d = _C.to_dtype(x)
  if d is None: raise TypeError("to_dtype: expected a dtype, got None")
  return d


def least_upper_dtype(*ds: DType) -> DType:
  """The dtype PyTorch's promotion gives a binary op between all of ds."""
  out = ds[0]
  for d in ds[1:]: out = _C.promote(out, d)
  return out


def least_upper_float(dt: DType) -> DType:
  return _C.least_upper_float(dt)


def _to_np_dtype(dt: DType):
  import numpy as np
  return None if dt.np_name is None else np.dtype(dt.np_name)


def _from_np_dtype(npdtype) -> DType:
  return _C.to_dtype(npdtype)
